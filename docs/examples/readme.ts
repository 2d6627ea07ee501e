// The README's usage example, type-checked by `npm test`.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { UndiciHttpClient } from "effect-pubnub-presence/node"

const program = Effect.gen(function*() {
  // stay present in "lobby" while this scope is open; leave is announced when it closes
  const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60, state: { lobby: { mood: "here" } } })
  yield* session.setState({ mood: "typing" })

  const here = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: Presence.StateInfo.all })
  for (const [uuid, occupant] of here.channels.get("lobby")?.uuids ?? []) yield* Effect.log(uuid, occupant.state)
}).pipe(
  Effect.scoped,
  Effect.catchTag("AccessDeniedError", (e) => Effect.logError(`refused: ${e.channels.join(", ")}`))
)

const Keys = Keyset.layerConfig() // PUBNUB_SUBSCRIBE_KEY, PUBNUB_USER_ID, … through Effect Config
program.pipe(Effect.provide(Layer.merge(Keys, UndiciHttpClient.layer)), NodeRuntime.runMain)
