// Runnable examples for every operation (docs/operations/*.md), run by `npm test` against the
// in-memory emulator. Swap `Emulator.layerTest()` for UndiciHttpClient.layer (effect-pubnub-presence/node) and your keys to
// run them against PubNub.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { Emulator } from "effect-pubnub-presence/emulator"

const alice = new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" })
const bob = new Keyset.Keyset({ subscribeKey: "demo", userId: "bob" })
const Live = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: alice, named: { bob } }))

describe("docs/operations examples", () => {
  it.effect("hereNow: one channel, several, with state, counts only, global", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["lobby", "kitchen"], state: { lobby: { mood: "busy" } } })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], using: "bob" })

      const lobby = yield* Presence.hereNow({ channels: ["lobby"] })
      assert.deepStrictEqual([...(lobby.channels.get("lobby")?.uuids.keys() ?? [])], ["alice", "bob"])

      const withState = yield* Presence.hereNow({ channels: ["lobby", "kitchen"], stateInfo: Presence.StateInfo.all })
      const aliceHere = withState.channels.get("lobby")?.uuids.get("alice")
      assert.deepStrictEqual(aliceHere?.state, Option.some({ mood: "busy" }))

      const counts = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: Presence.StateInfo.none })
      assert.strictEqual(counts.channels.get("lobby")?.count, 2)
      assert.strictEqual(counts.channels.get("lobby")?.uuids.size, 0)

      const everywhere = yield* Presence.hereNow()
      assert.strictEqual(everywhere.totalOccupancy, 3)
    }).pipe(Effect.provide(Live)))

  it.effect("hereNow paging: page by page, or every page at once", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 12; i++) {
        yield* Presence.announceHeartbeat({
          channels: ["stadium"],
          keyset: new Keyset.Keyset({ subscribeKey: "demo", userId: `fan-${i}` })
        })
      }
      let offset = 0
      let seen = 0
      for (;;) {
        const page = yield* Presence.hereNow({ channels: ["stadium"], limit: 5, offset })
        seen += page.channels.get("stadium")?.uuids.size ?? 0
        if (Option.isNone(page.nextOffset)) break
        offset = page.nextOffset.value
      }
      assert.strictEqual(seen, 12)
      const everyone = yield* Presence.hereNowAll({ channels: ["stadium"], limit: 5 })
      assert.strictEqual(everyone.channels.get("stadium")?.uuids.size, 12)
    }).pipe(Effect.provide(Live)))

  it.effect("whereNow", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["lobby"], using: "bob" })
      const bobs = yield* Presence.whereNow({ uuid: "bob" })
      assert.deepStrictEqual(bobs.channels, ["lobby"])
      const mine = yield* Presence.whereNow()
      assert.deepStrictEqual(mine.channels, [])
    }).pipe(Effect.provide(Live)))

  it.effect("setState and getState", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["lobby"] })
      yield* Presence.setState({ channels: ["lobby"], state: { mood: "busy", typing: false } })
      const mood = yield* Presence.getState({ channels: ["lobby"], uuid: "alice" }).pipe(
        Effect.map((r) => r.channels.get("lobby")?.mood)
      )
      assert.strictEqual(mood, "busy")
    }).pipe(Effect.provide(Live)))

  it.effect("announceHeartbeat and announceLeave", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 60, state: { lobby: { mood: "here" } } })
      assert.deepStrictEqual((yield* Presence.whereNow()).channels, ["lobby"])
      const left = yield* Presence.announceLeave({ channels: ["lobby"] })
      assert.strictEqual(left.action, "leave")
      assert.deepStrictEqual((yield* Presence.whereNow()).channels, [])
    }).pipe(Effect.provide(Live)))

  it.effect("errors are values you can catch by tag", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: "/v2/presence", status: 403, times: 1 })
      const outcome = yield* Presence.hereNow({ channels: ["secret"] }).pipe(
        Effect.as("allowed"),
        Effect.catchTag("AccessDeniedError", () => Effect.succeed("denied"))
      )
      assert.strictEqual(outcome, "denied")
    }).pipe(Effect.provide(Live)))
})
