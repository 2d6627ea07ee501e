/**
 * One watcher of `npm run bench:events`, in its own process so that its CPU is its own:
 * `sdk` (one `Presence.events` stream) or `official` (the `pubnub` client's presence listener,
 * subscribed to the `-pnpres` names only, as the SDK is), over CHANNELS channels.
 *
 * Prints `ready` when live, `warm` after the warm-up round's events; then, for each event, the delivery latency — from the emulator's
 * publish timetoken (its clock, in 100 ns units) to the listener's callback (this machine's wall
 * clock, same host) — and, after EXPECTED events, one JSON line with its count, CPU and latencies.
 */
import { Effect, Stream } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import PubNub from "pubnub"
import { Keyset, Presence } from "../../src/index.js"
import { UndiciHttpClient } from "../../src/node/index.js"
import { sdkLayer } from "../util.js"

const [kind, origin, channelCount, warmText, expectedText] = process.argv.slice(2)
const channels = Array.from({ length: Number(channelCount) }, (_, i) => `room-${i}`)
/** events of the warm-up round: not measured (a long-running watcher is warm) */
const warm = Number(warmText)
const expected = Number(expectedText)

/** With BENCH_PROFILE=<kind>: a CPU profile of this watcher over the measured round. */
const profiling = process.env.BENCH_PROFILE === kind ? new Session() : undefined
const post = (method: string) =>
  new Promise<unknown>((resolve, reject) => {
    if (profiling === undefined) resolve(undefined)
    else profiling.post(method, (e, r) => (e === null ? resolve(r) : reject(e)))
  })
const profileFrom = async () => {
  profiling?.connect()
  await post("Profiler.enable")
  await post("Profiler.start")
}
const profileTo = async () => {
  if (profiling === undefined) return
  const { profile } = await post("Profiler.stop") as { profile: unknown }
  mkdirSync("bench/results/runs", { recursive: true })
  writeFileSync(`bench/results/runs/events-${kind}.cpuprofile`, JSON.stringify(profile))
}

const latencies: Array<number> = []
let warmed = 0
let cpuAtStart: NodeJS.CpuUsage | undefined
let wallAtStart = 0

const wallNow = () => performance.timeOrigin + performance.now()

/** Called once per event delivered to the app. */
const got = (timetoken: string): boolean => {
  if (warmed < warm) {
    if (++warmed === warm) {
      process.stdout.write("warm\n")
      void profileFrom()
    }
    return false
  }
  if (latencies.length === 0) {
    cpuAtStart = process.cpuUsage()
    wallAtStart = performance.now()
  }
  latencies.push(wallNow() - Number(BigInt(timetoken) / 10_000n) - Number(BigInt(timetoken) % 10_000n) / 10_000)
  if (latencies.length < expected) return false
  const cpu = process.cpuUsage(cpuAtStart)
  process.stdout.write(
    JSON.stringify({
      kind,
      events: latencies.length,
      cpuMicros: cpu.user + cpu.system,
      wallMs: performance.now() - wallAtStart,
      latencies
    }) + "\n"
  )
  return true
}

if (kind === "sdk") {
  const layer = sdkLayer(UndiciHttpClient.layer, origin, {
    default: new Keyset.Keyset({ subscribeKey: "bench", userId: "sdk-watcher" })
  })
  await Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const events = yield* Presence.subscribeEvents({ channels })
      process.stdout.write("ready\n")
      yield* Stream.runForEach(
        Stream.takeUntil(events, (e) => got(e.timetoken)),
        () => Effect.void
      )
    })).pipe(Effect.provide(layer))
  )
  await profileTo()
  process.exit(0)
} else {
  const pn = new PubNub({
    subscribeKey: "bench",
    userId: "official-watcher",
    origin,
    ssl: false,
    logLevel: PubNub.LogLevel.None,
    heartbeatInterval: 0
  })
  pn.addListener({
    status: (s) => {
      if (s.category === PubNub.CATEGORIES.PNConnectedCategory) {
        process.stdout.write("ready\n")
      }
    },
    presence: (p) => {
      if (got(p.timetoken)) {
        pn.destroy(true)
        void profileTo().then(() => process.exit(0))
      }
    }
  })
  pn.subscribe({ channels: channels.map((c) => `${c}-pnpres`) })
}
