// The same with the platform's fetch client (no undici package to load).
import { FetchHttpClient } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Keyset, Presence, PubNubConfig } from "effect-pubnub-presence"

const Live = Layer.mergeAll(
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "startup" }) }),
  FetchHttpClient.layer,
  PubNubConfig.layer({ origin: `http://${process.argv[2]}` })
)
const here = await Effect.runPromise(Presence.hereNow({ channels: ["lobby"] }).pipe(Effect.provide(Live)))
process.stdout.write(JSON.stringify({ occupancy: here.totalOccupancy, maxRssKb: process.resourceUsage().maxRSS }))
