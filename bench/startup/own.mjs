// What the SDK's own modules cost to load, once Effect, @effect/platform and undici are loaded.
import "effect"
import "@effect/platform/HttpClient"
import "@effect/platform/HttpClientRequest"
import "@effect/platform-node/NodeStream"
import "undici"

const rss = process.memoryUsage().rss
const t0 = performance.now()
await import("effect-pubnub-presence")
await import("effect-pubnub-presence/undici")
process.stdout.write(JSON.stringify({
  occupancy: 0,
  maxRssKb: process.resourceUsage().maxRSS,
  ownMs: performance.now() - t0,
  ownMb: (process.memoryUsage().rss - rss) / 2 ** 20
}))
