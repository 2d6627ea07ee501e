/**
 * `npm run bench:emulator` — the emulator's own performance, on loopback only.
 *
 * 1. heartbeat throughput: autocannon against the socket emulator (in its own process), each
 *    request a heartbeat of a different uuid;
 * 2. here-now latency on a channel with 10,000 occupants (p50/p99);
 * 3. memory per present (uuid, channel) at 100,000 occupants, measured in-process with forced GC;
 * 4. the longest the emulator blocks its event loop: one leave over 20,000 channels (10 full
 *    channel groups), and 100,000 occupants timing out at once (expiry runs in batches).
 *
 * Goals: ≥ 8,000 heartbeats/s; here-now p99 ≤ 25 ms; ≤ 1 KB per occupant; no block over ~100 ms.
 * Results go to stdout and bench/results/emulator.json.
 */
import autocannon from "autocannon"
import { Effect } from "effect"
import { cpus, totalmem } from "node:os"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import * as Emulator from "../src/Emulator.js"
import { fullGc, run, startEmulatorProcess, writeResults } from "./util.js"

const DURATION = Number(process.env.BENCH_SECONDS ?? 10)

const cannon = (opts: autocannon.Options) =>
  new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)))
  )

const memoryPerOccupant = async (occupants: number) => {
  return Effect.runPromise(
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      fullGc()
      const before = process.memoryUsage().heapUsed
      // 10 channels per uuid, like a user in a handful of rooms
      const perUuid = 10
      for (let u = 0; u < occupants / perUuid; u++) {
        const channels = Array.from({ length: perUuid }, (_, c) => `room-${(u * 7 + c) % 5000}`).join(",")
        yield* em.serve("GET", `/v2/presence/sub-key/bench/channel/${channels}/heartbeat?uuid=user-${u}&heartbeat=300`)
      }
      fullGc()
      const after = process.memoryUsage().heapUsed
      const snap = yield* em.snapshot.pipe(Effect.map((s) => s.present))
      return { present: snap, bytesPerOccupant: (after - before) / snap }
    }).pipe(Effect.provide(Emulator.layer()), Effect.scoped)
  )
}

/** The longest event-loop block while `work` runs, and how long `work` took, in ms. */
const blocking = async (work: () => Promise<void>) => {
  const h = monitorEventLoopDelay({ resolution: 5 })
  h.enable()
  const t0 = performance.now()
  await work()
  const took = performance.now() - t0
  // let the monitor's timer fire once more: a block shows when the loop gets back to it
  await new Promise((resolve) => setTimeout(resolve, 20))
  h.disable()
  return { tookMs: Math.round(took), maxBlockMs: Math.round(h.max / 1e6) }
}

const worstBlocks = () =>
  Effect.runPromise(
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const registry = "/v1/channel-registration/sub-key/bench/channel-group"
      for (let g = 0; g < 10; g++) {
        for (let k = 0; k < 10; k++) {
          const names = Array.from({ length: 200 }, (_, i) => `g${g}-c${k * 200 + i}`).join(",")
          yield* em.serve("GET", `${registry}/group-${g}?add=${names}`)
        }
      }
      const groups = Array.from({ length: 10 }, (_, g) => `group-${g}`).join(",")
      const presence = "/v2/presence/sub-key/bench/channel/,"
      yield* em.serve("GET", `${presence}/heartbeat?uuid=wide&channel-group=${groups}`)
      const leave = yield* Effect.promise(() =>
        blocking(() =>
          Effect.runPromise(Effect.asVoid(em.serve("GET", `${presence}/leave?uuid=wide&channel-group=${groups}`)))
        )
      )
      for (let u = 0; u < 10_000; u++) {
        const channels = Array.from({ length: 10 }, (_, c) => `t-${(u * 7 + c) % 5000}`).join(",")
        yield* em.serve("GET", `/v2/presence/sub-key/bench/channel/${channels}/heartbeat?uuid=t-${u}&heartbeat=20`)
      }
      const timeouts = yield* Effect.promise(() =>
        blocking(() => Effect.runPromise(Effect.orDie(em.advance("21 seconds"))))
      )
      return { leave20kChannels: leave, timeout100kOccupants: timeouts }
    }).pipe(Effect.provide(Emulator.layer()), Effect.scoped)
  )

const main = async () => {
  const server = await startEmulatorProcess()
  const base = `http://${server.origin}`
  try {
    // 1. heartbeat throughput
    let i = 0
    const heartbeats = await cannon({
      url: base,
      connections: 64,
      pipelining: 1,
      duration: DURATION,
      requests: [{
        method: "GET",
        setupRequest: (req) => {
          const n = i++
          req.path = `/v2/presence/sub-key/bench/channel/hb-${n % 1000}/heartbeat?uuid=u-${n % 50_000}&heartbeat=300`
          return req
        }
      }]
    })

    // 2. here-now on a 10,000-occupant channel
    const fill = await cannon({
      url: base,
      connections: 32,
      amount: 10_000,
      requests: [{
        method: "GET",
        setupRequest: (req) => {
          const n = i++
          req.path = `/v2/presence/sub-key/bench/channel/stadium/heartbeat?uuid=fan-${n % 10_000}&heartbeat=300`
          return req
        }
      }]
    })
    void fill
    const occupancy = await fetch(`${base}/v2/presence/sub-key/bench/channel/stadium?disable_uuids=1`).then((r) =>
      r.json()
    )
    const hereNow = await cannon({
      url: `${base}/v2/presence/sub-key/bench/channel/stadium?uuid=watcher&state=1`,
      connections: 8,
      duration: DURATION
    })
    const body = await fetch(`${base}/v2/presence/sub-key/bench/channel/stadium?uuid=watcher&state=1`).then((r) =>
      r.text()
    )

    // 3. memory
    const memory = await memoryPerOccupant(100_000)

    // 4. the longest block
    const blocks = await worstBlocks()

    const results = {
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version
      },
      heartbeat: {
        requestsPerSecond: Math.round(heartbeats.requests.average),
        p50ms: heartbeats.latency.p50,
        p99ms: heartbeats.latency.p99,
        errors: heartbeats.errors + heartbeats.non2xx,
        goal: ">= 8000 req/s"
      },
      hereNow10k: {
        occupancy: (occupancy as { occupancy: number }).occupancy,
        responseBytes: body.length,
        requestsPerSecond: Math.round(hereNow.requests.average),
        p50ms: hereNow.latency.p50,
        p99ms: hereNow.latency.p99,
        errors: hereNow.errors + hereNow.non2xx,
        goal: "p99 <= 25 ms"
      },
      memory: { present: memory.present, bytesPerOccupant: Math.round(memory.bytesPerOccupant), goal: "<= 1024 bytes" },
      blocks: { ...blocks, goal: "no block over ~100 ms" }
    }
    console.log("\nemulator benchmark (loopback, %d s runs)", DURATION)
    console.table({
      "heartbeat throughput": {
        value: `${results.heartbeat.requestsPerSecond} req/s`,
        detail: `p50 ${results.heartbeat.p50ms} ms, p99 ${results.heartbeat.p99ms} ms`,
        goal: results.heartbeat.goal,
        met: results.heartbeat.requestsPerSecond >= 8000 && results.heartbeat.errors === 0
      },
      "here-now, 10k occupants": {
        value: `p99 ${results.hereNow10k.p99ms} ms`,
        detail:
          `p50 ${results.hereNow10k.p50ms} ms, ${results.hereNow10k.requestsPerSecond} req/s, ${results.hereNow10k.responseBytes} B`,
        goal: results.hereNow10k.goal,
        met: results.hereNow10k.p99ms <= 25 && results.hereNow10k.occupancy === 10_000
      },
      "memory at 100k occupants": {
        value: `${results.memory.bytesPerOccupant} B/occupant`,
        detail: `${results.memory.present} present`,
        goal: results.memory.goal,
        met: results.memory.bytesPerOccupant <= 1024
      },
      "leave over 20,000 channels": {
        value: `max block ${blocks.leave20kChannels.maxBlockMs} ms`,
        detail: `took ${blocks.leave20kChannels.tookMs} ms`,
        goal: "<= ~100 ms",
        met: blocks.leave20kChannels.maxBlockMs <= 110
      },
      "100,000 timeouts at once": {
        value: `max block ${blocks.timeout100kOccupants.maxBlockMs} ms`,
        detail: `took ${blocks.timeout100kOccupants.tookMs} ms (batches of 5,000)`,
        goal: "<= ~100 ms",
        met: blocks.timeout100kOccupants.maxBlockMs <= 110
      }
    })
    writeResults("emulator.json", results)
  } finally {
    await server.stop()
  }
}

run(main)
