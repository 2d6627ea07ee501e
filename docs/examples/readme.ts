// The README's usage example, type-checked by `npm test` and run by docs/examples/readme.test.ts.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Option, Schema } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { Emulator } from "effect-pubnub-presence/emulator"

// your presence state, described once: every call below takes and gives this type
const Chat = Presence.typed(Schema.Struct({ mood: Schema.Literal("here", "typing", "away") }))

const program = Effect.gen(function*() {
  // stay present in "lobby" while this scope is open; leave is announced when it closes
  const session = yield* Chat.enter({ channels: ["lobby"], heartbeat: 60, state: { lobby: { mood: "here" } } })
  yield* session.setState({ mood: "typing" })

  const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
  for (const [uuid, occupant] of here.channels.get("lobby")?.uuids ?? []) {
    const mood = Option.match(occupant.state, { onNone: () => "no mood", onSome: (s) => s.mood })
    yield* Effect.log(`${uuid} is in the lobby: ${mood}`)
  }
}).pipe(
  Effect.scoped,
  Effect.catchTag("AccessDeniedError", (e) => Effect.logError(`refused: ${e.channels.join(", ")}`))
)

// As-is it runs on the embedded emulator: no keys, no network.
const Local = Layer.merge(
  Emulator.layerTest(),
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" }) })
)
// On PubNub itself: keys from PUBNUB_SUBSCRIBE_KEY, PUBNUB_USER_ID, … and a real HTTP client —
//   import { UndiciHttpClient } from "effect-pubnub-presence/undici"
//   const Live = Layer.merge(Keyset.layerConfig(), UndiciHttpClient.layer)

program.pipe(Effect.provide(Local), NodeRuntime.runMain)
