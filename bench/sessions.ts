/**
 * `npm run bench:sessions` — 10,000 concurrent managed sessions (distinct uuids) in this process,
 * against the socket emulator in its own process, on loopback.
 *
 * Checks every session is present at the emulator after each of three intervals; reports heap
 * growth per session (forced GC), heartbeat requests per second, and event-loop delay.
 * Goal (issue 4): heap growth ≤ 4 KB per session. Results in bench/results/sessions.json.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import { cpus } from "node:os"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Keyset, Presence } from "../src/index.js"
import { UndiciHttpClient } from "../src/node/index.js"
import { fullGc, run, sdkLayer, startEmulatorProcess, writeResults } from "./util.js"

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000)
const HEARTBEAT = 20
const INTERVAL = 9 // seconds: three intervals take 27 s of real time
const CHANNELS = 100

const presentCount = async (origin: string) => {
  const snap = await fetch(`http://${origin}/__emulator/state`).then((r) =>
    r.json() as Promise<{
      keys: Record<string, { channels: Record<string, { occupants: Record<string, unknown> }> }>
      stats: { heartbeat: number }
    }>
  )
  const uuids = new Set<string>()
  for (const ch of Object.values(snap.keys.bench?.channels ?? {})) {
    for (const u of Object.keys(ch.occupants)) uuids.add(u)
  }
  return { present: uuids.size, heartbeats: snap.stats.heartbeat }
}

const main = async () => {
  const server = await startEmulatorProcess()
  const keysets = Array.from(
    { length: SESSIONS },
    (_, i) => new Keyset.Keyset({ subscribeKey: "bench", userId: `session-${i}` })
  )
  const layer = sdkLayer(
    process.env.CLIENT === "platform" ? NodeHttpClient.layerUndici : UndiciHttpClient.layer,
    server.origin,
    { default: keysets[0] }
  )
  try {
    const result = await Effect.runPromise(
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        // warm up the client and the code paths, then measure from a clean heap
        yield* Presence.announceHeartbeat({ channels: ["warmup"], keyset: keysets[0] })
        yield* Presence.announceLeave({ channels: ["warmup"], keyset: keysets[0] })
        fullGc()
        const heapBefore = process.memoryUsage().heapUsed
        const enterStart = performance.now()
        yield* Effect.forEach(
          keysets,
          (keyset, i) =>
            Scope.extend(
              Presence.enter({ channels: [`room-${i % CHANNELS}`], heartbeat: HEARTBEAT, interval: INTERVAL, keyset }),
              scope
            ),
          { concurrency: 256, discard: true }
        )
        const enterSeconds = (performance.now() - enterStart) / 1000
        fullGc()
        const heapAfter = process.memoryUsage().heapUsed

        const delay = monitorEventLoopDelay({ resolution: 10 })
        delay.enable()
        const start = yield* Effect.promise(() => presentCount(server.origin))
        const checks: Array<{ interval: number; present: number }> = []
        const t0 = performance.now()
        for (let k = 1; k <= 3; k++) {
          yield* Effect.sleep(`${INTERVAL} seconds`)
          const c = yield* Effect.promise(() => presentCount(server.origin))
          checks.push({ interval: k, present: c.present })
        }
        const end = yield* Effect.promise(() => presentCount(server.origin))
        const seconds = (performance.now() - t0) / 1000
        delay.disable()
        const leaveStart = performance.now()
        yield* Scope.close(scope, Exit.void)
        const leaveSeconds = (performance.now() - leaveStart) / 1000
        const afterLeave = yield* Effect.promise(() => presentCount(server.origin))
        return {
          sessions: SESSIONS,
          heartbeat: HEARTBEAT,
          interval: INTERVAL,
          enterSeconds: +enterSeconds.toFixed(2),
          heapBytesPerSession: Math.round((heapAfter - heapBefore) / SESSIONS),
          checks,
          allPresent: checks.every((c) => c.present === SESSIONS),
          heartbeatsPerSecond: Math.round((end.heartbeats - start.heartbeats) / seconds),
          eventLoopDelayMs: {
            p50: +(delay.percentile(50) / 1e6).toFixed(1),
            p99: +(delay.percentile(99) / 1e6).toFixed(1),
            max: +(delay.max / 1e6).toFixed(1)
          },
          leaveSeconds: +leaveSeconds.toFixed(2),
          presentAfterClose: afterLeave.present
        }
      }).pipe(Effect.provide(layer))
    )
    const results = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version }, ...result }
    console.log("\nmanaged sessions benchmark")
    console.table({
      "sessions entered": { value: `${result.sessions} in ${result.enterSeconds} s`, goal: "", met: true },
      "present after each of 3 intervals": {
        value: result.checks.map((c) => c.present).join(" / "),
        goal: `${SESSIONS} each time`,
        met: result.allPresent
      },
      "heap growth per session": {
        value: `${result.heapBytesPerSession} B`,
        goal: "<= 4096 B",
        met: result.heapBytesPerSession <= 4096
      },
      "heartbeat requests/s": {
        value: result.heartbeatsPerSecond,
        goal: `~${Math.round(SESSIONS / INTERVAL)}`,
        met: true
      },
      "event-loop delay": {
        value:
          `p50 ${result.eventLoopDelayMs.p50} ms, p99 ${result.eventLoopDelayMs.p99} ms, max ${result.eventLoopDelayMs.max} ms`,
        goal: "",
        met: true
      },
      "close (10,000 leaves)": {
        value: `${result.leaveSeconds} s, ${result.presentAfterClose} left present`,
        goal: "0 present",
        met: result.presentAfterClose === 0
      }
    })
    writeResults("sessions.json", results)
  } finally {
    await server.stop()
  }
}

run(main)
