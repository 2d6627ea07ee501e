// The same importing Effect's modules one by one instead of the `effect` barrel.
import { Keyset, Presence, PubNubConfig } from "effect-pubnub-presence"
import { UndiciHttpClient } from "effect-pubnub-presence/undici"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const Live = Layer.mergeAll(
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "startup" }) }),
  UndiciHttpClient.layer,
  PubNubConfig.layer({ origin: `http://${process.argv[2]}` })
)
const here = await Effect.runPromise(Presence.hereNow({ channels: ["lobby"] }).pipe(Effect.provide(Live)))
process.stdout.write(JSON.stringify({ occupancy: here.totalOccupancy, maxRssKb: process.resourceUsage().maxRSS }))
