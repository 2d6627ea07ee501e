// Every one-shot operation, as in docs/operations/*.md (type-checked by `npm test`).
import { Effect, Option } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"

// here now: one channel, many, groups, global; with state, uuids only, or counts only
export const lobby = Presence.hereNow({ channels: ["lobby"] })
export const withState = Presence.hereNow({ channels: ["lobby", "kitchen"], stateInfo: Presence.StateInfo.all })
export const countsOnly = Presence.hereNow({ channelGroups: ["rooms"], stateInfo: Presence.StateInfo.none })
export const everywhere = Presence.hereNow()

// paging a big channel: one page at a time, or every page at once
export const secondPage = Presence.hereNow({ channels: ["stadium"], limit: 500, offset: 500 })
export const everyone = Presence.hereNowAll({ channels: ["stadium"] })

export const pages = Effect.gen(function*() {
  let offset = 0
  for (;;) {
    const page = yield* Presence.hereNow({ channels: ["stadium"], limit: 500, offset })
    yield* Effect.log(`page at ${offset}: ${page.channels.get("stadium")?.uuids.size ?? 0} occupants`)
    if (Option.isNone(page.nextOffset)) return
    offset = page.nextOffset.value
  }
})

// where now: your own channels, or someone else's
export const mine = Presence.whereNow()
export const bobs = Presence.whereNow({ uuid: "bob" })

// state
export const setMood = Presence.setState({ channels: ["lobby"], state: { mood: "busy", typing: false } })
export const readMood = Presence.getState({ channels: ["lobby"], uuid: "bob" }).pipe(
  Effect.map((r) => r.channels.get("lobby")?.mood)
)

// heartbeat and leave (Presence.enter does both for you, on a schedule)
export const beat = Presence.announceHeartbeat({
  channels: ["lobby"],
  heartbeat: 60,
  state: { lobby: { mood: "busy" } }
})
export const bye = Presence.announceLeave({ channels: ["lobby"] })

// another keyset: registered by name, or passed for one call
declare const adminKeyset: Keyset.Keyset
export const keys = Keyset.layer({
  default: new Keyset.Keyset({ subscribeKey: "sub-c-app", userId: "alice" }),
  named: { admin: adminKeyset }
})
export const asAdmin = Presence.hereNow({ channels: ["lobby"], using: "admin" })
export const oneOff = Presence.whereNow({ keyset: adminKeyset })
