/**
 * `npm run bench:emulator` — the emulator's own performance, on loopback only.
 *
 * 1. heartbeat throughput: autocannon against the socket emulator (in its own process), each
 *    request a heartbeat of a different uuid;
 * 2. here-now latency on a channel with 10,000 occupants (p50/p99);
 * 3. memory per present (uuid, channel) at 100,000 occupants, measured in-process with forced GC.
 *
 * Goals (issue 3): ≥ 8,000 heartbeats/s; here-now p99 ≤ 25 ms; ≤ 1 KB per occupant.
 * Results go to stdout and bench/results/emulator.json.
 */
import autocannon from "autocannon"
import { Effect } from "effect"
import { cpus, totalmem } from "node:os"
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
      memory: { present: memory.present, bytesPerOccupant: Math.round(memory.bytesPerOccupant), goal: "<= 1024 bytes" }
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
      }
    })
    writeResults("emulator.json", results)
  } finally {
    await server.stop()
  }
}

run(main)
