// As sdk.mjs, but the client from effect-pubnub-presence/node, which also loads the emulator.
import { Effect, Layer } from "effect"
import { Keyset, Presence, PubNubConfig } from "effect-pubnub-presence"
import { UndiciHttpClient } from "effect-pubnub-presence/node"

const Live = Layer.mergeAll(
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "startup" }) }),
  UndiciHttpClient.layer,
  PubNubConfig.layer({ origin: `http://${process.argv[2]}` })
)
const here = await Effect.runPromise(Presence.hereNow({ channels: ["lobby"] }).pipe(Effect.provide(Live)))
process.stdout.write(JSON.stringify({ occupancy: here.totalOccupancy, maxRssKb: process.resourceUsage().maxRSS }))
