// The examples from docs/typed-state.md, run by `npm test`.
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { Emulator } from "effect-pubnub-presence/emulator"

const RoomId = Schema.String.pipe(Schema.pattern(/^r-\d+$/), Schema.brand("RoomId"))

const ChatState = Schema.Struct({
  typing: Schema.Boolean,
  mood: Schema.Literal("happy", "busy", "away"),
  since: Schema.optional(Schema.DateFromString), // a Date here, an ISO string on the wire
  room: Schema.optional(RoomId)
})

const Chat = Presence.typed(ChatState)

const alice = new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" })
const bob = new Keyset.Keyset({ subscribeKey: "demo", userId: "bob" })
const Local = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: alice }))

it.effect("the chat room: typed state in, typed state out, an older client's state marked", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* Presence.announceHeartbeat({ channels: ["lobby"], state: { lobby: { mood: "grumpy" } }, keyset: bob })
    yield* Effect.scoped(Effect.gen(function*() {
      const me = yield* Chat.enter({ channels: ["lobby"], state: { lobby: { typing: false, mood: "happy" } } })
      yield* me.setState({ typing: true, mood: "busy", since: new Date() })

      const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      for (const occupant of here.channels.get("lobby")?.uuids.values() ?? []) {
        const line = Option.match(occupant.state, {
          onNone: () => Option.isSome(occupant.stateError) ? "(state from an older client)" : "",
          onSome: (s) => (s.typing ? `${s.mood}, typing…` : s.mood)
        })
        lines.push(`${occupant.uuid} ${line}`)
      }
    }))
    assert.sameMembers(lines, ["alice busy, typing…", "bob (state from an older client)"])
  }).pipe(Effect.provide(Local)))

it.effect("the test recipe: alice decodes; bob has a stateError, and only bob", () =>
  Effect.gen(function*() {
    const Moods = Presence.typed(Schema.Struct({ mood: Schema.Literal("happy", "busy") }))
    yield* Moods.announceHeartbeat({ channels: ["lobby"], state: { lobby: { mood: "happy" } } })
    yield* Presence.announceHeartbeat({ channels: ["lobby"], state: { lobby: { mood: "angry" } }, keyset: bob })
    const here = yield* Moods.hereNow({ channels: ["lobby"], stateInfo: "all" })
    const occupants = here.channels.get("lobby")?.uuids
    assert.deepStrictEqual(occupants?.get("alice")?.state, Option.some({ mood: "happy" as const }))
    const aliceError = occupants?.get("alice")?.stateError
    assert.isTrue(aliceError !== undefined && Option.isNone(aliceError))
    assert.isTrue(Option.isSome(occupants?.get("bob")?.stateError ?? Option.none()))
  }).pipe(Effect.provide(Local)))
