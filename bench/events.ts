/**
 * `npm run bench:events` — presence events, on loopback.
 *
 * 1. Side by side in one run: the SDK's `Presence.events` stream and the official `pubnub`
 *    client's presence listener, each in its own process, both watching the same 100 channels on
 *    the socket emulator (its own process) while simulated users join, change state and leave.
 *    After a warm-up round (not measured), reported per watcher: CPU per event delivered, and the delivery latency from the emulator's
 *    publish timetoken to the app's callback (p50 / p99). Goals: SDK CPU ≤ official; p99 ≤ 25 ms.
 * 2. The emulator (in this process, so its heap can be weighed) holding 1,000 concurrent
 *    long-polls from another process: heap and RSS per held poll, and the latency of one event
 *    fanned out to all of them (p50 / p99 / max).
 *
 * Results in bench/results/runs/events.json (bench/results/events.json with BENCH_RECORD=1).
 */
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { Agent } from "undici"
import * as Emulator from "../src/Emulator.js"
import { decodeMessage, decodeMessageWithSchema } from "../src/internal/events/decode.js"
import { NodeEmulator } from "../src/node/index.js"
import { fullGc, lineReader, percentile, run, startEmulatorProcess, writeResults } from "./util.js"

const CHANNELS = 100
const USERS = Number(process.env.BENCH_EVENTS_USERS ?? 400)
/** each user: join, state-change, leave */
const EVENTS = USERS * 3
/** a first round, not measured: both watchers warm up (JIT) */
const WARM_USERS = 200
const POLLS = Number(process.env.BENCH_POLLS ?? 1000)
/** simulated users acting at once */
const CONCURRENCY = 4
/** between one user's actions (ms): 10 is people at a steady pace; 0 is a flood */
const PACES = [10, 0]

const root = fileURLToPath(new URL("..", import.meta.url))

interface Child {
  readonly process: ChildProcess
  /** resolves with the first stdout line matching `pattern` */
  readonly line: (pattern: RegExp) => Promise<string>
}

const child = (script: string, args: ReadonlyArray<string>): Child => {
  const profile = process.env.BENCH_CPU_PROF === args[0] ? ["--cpu-prof", "--cpu-prof-dir=bench/results/runs"] : []
  const p = spawn(process.execPath, [...profile, "--import", "tsx", script, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"]
  })
  return { process: p, line: lineReader(p, script) }
}

const ms = (n: number) => +n.toFixed(2)

interface WatcherReport {
  readonly kind: string
  readonly events: number
  readonly cpuMicros: number
  readonly wallMs: number
  readonly latencies: ReadonlyArray<number>
}

/** Part 1: the SDK and the official client watching the same users come and go. */
const sideBySide = async (pauseMs: number) => {
  const pause = () => (pauseMs > 0 ? new Promise((resolve) => setTimeout(resolve, pauseMs)) : Promise.resolve())
  const server = await startEmulatorProcess()
  const kinds = (process.env.BENCH_WATCHERS ?? "sdk,official").split(",")
  const watchers = kinds.map((kind) =>
    child("bench/events/watcher.ts", [kind, server.origin, String(CHANNELS), String(WARM_USERS * 3), String(EVENTS)])
  )
  try {
    await Promise.all(watchers.map((w) => w.line(/^ready$/)))
    const agent = new Agent({ connections: CONCURRENCY })
    const base = `http://${server.origin}`
    const call = (path: string) =>
      agent.request({ origin: base, path, method: "GET" }).then(async (r) => {
        await r.body.text()
        if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`)
      })
    const P = "/v2/presence/sub-key/bench/channel"
    const user = async (i: number) => {
      const ch = `room-${i % CHANNELS}`
      const state = encodeURIComponent(JSON.stringify({ typing: i % 2 === 0 }))
      await call(`${P}/${ch}/heartbeat?uuid=user-${i}&heartbeat=300`)
      await pause()
      await call(`${P}/${ch}/uuid/user-${i}/data?uuid=user-${i}&state=${state}`)
      await pause()
      await call(`${P}/${ch}/leave?uuid=user-${i}`)
      await pause()
    }
    const round = async (from: number, to: number) => {
      let next = from
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < to) await user(next++)
      }))
    }
    await round(0, WARM_USERS)
    await Promise.all(watchers.map((w) => w.line(/^warm$/)))
    const started = performance.now()
    await round(WARM_USERS, WARM_USERS + USERS)
    const loadSeconds = (performance.now() - started) / 1000
    const reports = await Promise.all(
      watchers.map((w) => w.line(/^\{/).then((l) => JSON.parse(l) as WatcherReport))
    )
    const stats = await fetch(`${base}/__emulator/state`).then((r) =>
      r.json() as Promise<{ stats: { subscribe: number } }>
    )
    await agent.close()
    return {
      users: USERS,
      channels: CHANNELS,
      events: EVENTS,
      eventsPerSecond: Math.round(EVENTS / loadSeconds),
      /** both watchers' polls (each gets every event: about half each) */
      polls: stats.stats.subscribe,
      warmUpUsers: WARM_USERS,
      pauseMs,
      watchers: Object.fromEntries(reports.map((r) => [r.kind, {
        events: r.events,
        cpuMicrosPerEvent: ms(r.cpuMicros / r.events),
        latencyMs: { p50: ms(percentile(r.latencies, 50)), p99: ms(percentile(r.latencies, 99)) }
      }]))
    }
  } finally {
    // a watcher that reported exits by itself (writing its profile, if asked for one)
    await Promise.all(watchers.map((w) =>
      new Promise<void>((done) => {
        if (w.process.exitCode !== null) return done()
        const timer = setTimeout(() => w.process.kill(), 10_000)
        w.process.once("exit", () => {
          clearTimeout(timer)
          done()
        })
      })
    ))
    await server.stop()
  }
}

/** Part 2: the emulator holding POLLS polls, and one event fanned out to all of them. */
const fanOut = () =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
    const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
    const em = yield* Effect.provide(Emulator.Emulator, ctx)
    fullGc()
    const before = process.memoryUsage()
    const pollers = child("bench/events/pollers.ts", [origin, String(POLLS)])
    yield* Effect.addFinalizer(() => Effect.sync(() => pollers.process.kill()))
    yield* Effect.promise(() => pollers.line(/^opened$/))
    for (let i = 0; i < 1200 && (yield* em.snapshot).holding < POLLS; i++) yield* Effect.sleep("50 millis")
    const holding = (yield* em.snapshot).holding
    fullGc()
    const after = process.memoryUsage()
    const report = pollers.line(/^\{/)
    yield* em.serve("GET", "/v2/presence/sub-key/bench/channel/fan/heartbeat?uuid=someone")
    const { latencies } = JSON.parse(yield* Effect.promise(() => report)) as { latencies: Array<number> }
    return {
      polls: POLLS,
      held: holding,
      heapBytesPerPoll: Math.round((after.heapUsed - before.heapUsed) / POLLS),
      rssBytesPerPoll: Math.round((after.rss - before.rss) / POLLS),
      fanOutMs: {
        p50: ms(percentile(latencies, 50)),
        p99: ms(percentile(latencies, 99)),
        max: ms(Math.max(...latencies))
      }
    }
  })))

/** The message decoder on its own: the hand-written path, and the schema it stands in for. */
const decoding = () => {
  const m = {
    a: "2",
    f: 0,
    p: { t: "17000000000000001", r: 1 },
    k: "bench",
    c: "room-1-pnpres",
    b: "room-1-pnpres",
    d: { action: "state-change", uuid: "user-1", timestamp: 1_700_000_000, occupancy: 3, data: { typing: true } },
    u: { pn_action: "state-change", pn_uuid: "user-1", pn_occupancy: 3, pn_ispresence: 1 }
  }
  const time = (f: (u: unknown) => unknown) => {
    for (let i = 0; i < 20_000; i++) f(m)
    const n = 200_000
    const t = performance.now()
    for (let i = 0; i < n; i++) f(m)
    return +(((performance.now() - t) * 1000) / n).toFixed(2)
  }
  return { fastMicros: time(decodeMessage), schemaMicros: time(decodeMessageWithSchema) }
}

const main = async () => {
  const runs = []
  for (const pace of PACES) runs.push(await sideBySide(pace))
  const polls = await fanOut()
  const decode = decoding()
  const results = {
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    events: runs,
    polls,
    decode
  }
  const none = { events: 0, cpuMicrosPerEvent: NaN, latencyMs: { p50: NaN, p99: NaN } }
  for (const events of runs) {
    const sdk = events.watchers.sdk ?? none
    const official = events.watchers.official ?? none
    console.log(
      `\npresence events, ${
        events.pauseMs > 0 ? `steady (${events.pauseMs} ms between a user's actions)` : "flood (no pauses)"
      }: ` +
        `${events.users} users joining, changing state and leaving on ${events.channels} channels ` +
        `(${events.events} events, ~${events.eventsPerSecond}/s; ${events.polls} polls by both)`
    )
    console.table({
      "CPU per event (µs)": {
        sdk: sdk.cpuMicrosPerEvent,
        official: official.cpuMicrosPerEvent,
        goal: "sdk ≤ official"
      },
      "latency p50 (ms)": { sdk: sdk.latencyMs.p50, official: official.latencyMs.p50, goal: "" },
      "latency p99 (ms)": { sdk: sdk.latencyMs.p99, official: official.latencyMs.p99, goal: "≤ 25" },
      "events delivered": { sdk: sdk.events, official: official.events, goal: `${events.events}` }
    })
  }
  console.log(`\ndecoding one message: ${decode.fastMicros} µs by hand, ${decode.schemaMicros} µs by the schema`)
  console.log(`\nthe emulator holding ${polls.polls} long-polls (${polls.held} held at once)`)
  console.table({
    "heap per held poll": { value: `${polls.heapBytesPerPoll} B` },
    "RSS per held poll": { value: `${polls.rssBytesPerPoll} B` },
    "one event to all: p50 / p99 / max": {
      value: `${polls.fanOutMs.p50} / ${polls.fanOutMs.p99} / ${polls.fanOutMs.max} ms`
    }
  })
  writeResults("events.json", results)
  process.exit(0)
}

run(main)
