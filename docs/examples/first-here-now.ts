// Your first presence program: who is in "lobby"? (type-checked by `npm test`)
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { UndiciHttpClient } from "effect-pubnub-presence/undici"

const program = Effect.gen(function*() {
  const result = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: Presence.StateInfo.all })
  for (const [name, channel] of result.channels) {
    yield* Effect.log(`${name}: ${channel.count} present`, [...channel.uuids.keys()])
  }
})

// Keys from PUBNUB_SUBSCRIBE_KEY / PUBNUB_USER_ID (and optionally PUBNUB_PUBLISH_KEY,
// PUBNUB_SECRET_KEY, PUBNUB_AUTH_KEY); the HttpClient is yours to pick.
const MainLayer = Layer.mergeAll(Keyset.layerConfig(), UndiciHttpClient.layer)

program.pipe(
  Effect.catchTags({
    AccessDeniedError: (e) => Effect.logError(`not allowed: ${e.channels.join(", ")}`),
    RateLimitedError: (e) => Effect.logWarning(e.message)
  }),
  Effect.provide(MainLayer),
  NodeRuntime.runMain
)
