/**
 * `npm run bench:roster` — a live roster of a 10,000-occupant channel receiving 200 presence events
 * per second (100 joins and 100 leaves), on loopback, against what an app would write without it.
 *
 * The socket emulator runs in its own process (Announce Max above the channel's size, so every
 * join and leave is its own event); each watcher runs in its own process, one after the other:
 *
 * - `roster`: `Presence.roster`;
 * - `second`: a here-now of every page once a second;
 * - `each`: a here-now of every page on every event (one at a time);
 * - `events`: only the event stream, keeping no list — what the long-poll itself costs.
 *
 * Reported per watcher: CPU per event (its process, measuring taken out), here-now requests sent,
 * the latency from a join's sending to the first view that shows it (p50 / p99), views produced,
 * and the heap its view holds per occupant.
 *
 * Results in bench/results/runs/roster.json (bench/results/roster.json with BENCH_RECORD=1).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { Agent } from "undici"
import { lineReader, percentile, run, startEmulatorProcess, writeResults } from "./util.js"

const OCCUPANTS = Number(process.env.BENCH_OCCUPANTS ?? 10_000)
const RATE = Number(process.env.BENCH_RATE ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const KINDS = (process.env.BENCH_KINDS ?? "roster,second,each,events").split(",")
const CHANNEL = "big"

const root = fileURLToPath(new URL("..", import.meta.url))

interface Watcher {
  readonly process: ChildProcess
  readonly line: (pattern: RegExp) => Promise<string>
}

const watcher = (kind: string, origin: string, first: number): Watcher => {
  // BENCH_CPU_PROF=<kind>: a CPU profile of that watcher in bench/results/runs
  const profile = process.env.BENCH_CPU_PROF === kind ? ["--cpu-prof", "--cpu-prof-dir=bench/results/runs"] : []
  const p = spawn(
    process.execPath,
    [...profile, "--expose-gc", "--import", "tsx", "bench/roster/watcher.ts", kind, origin, CHANNEL, String(first)],
    { cwd: root, stdio: ["pipe", "pipe", "inherit"] }
  )
  return { process: p, line: lineReader(p, kind, 180_000) }
}

run(async () => {
  const server = await startEmulatorProcess(["--announce-max", "100000"])
  const base = `http://${server.origin}`
  const agent = new Agent({ connections: 16 })
  const P = `${base}/v2/presence/sub-key/bench/channel/${CHANNEL}`
  const call = (path: string) =>
    fetch(`${P}/${path}`, { dispatcher: agent } as RequestInit).then((r) => r.arrayBuffer())
  const requestCounts = async () =>
    (await fetch(`${base}/__emulator/state`).then((r) =>
      r.json() as Promise<{ stats: { hereNow: number; subscribe: number } }>
    )).stats
  try {
    for (let i = 0; i < OCCUPANTS; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, OCCUPANTS - i) }, (_, k) => call(`heartbeat?uuid=o${i + k}&heartbeat=300`))
      )
    }
    const results: Array<Record<string, unknown>> = []
    let serial = 0
    for (const kind of KINDS) {
      const first = serial
      const sentAt: Array<number> = []
      const w = watcher(kind, server.origin, first)
      const ready = JSON.parse((await w.line(/^ready /)).slice(6)) as { occupants: number; heldBytes: number }
      const requestsBefore = await requestCounts()
      w.process.stdin?.write("start\n")
      // every tick: one join, and the leave of the join a second ago
      const tick = 1000 / (RATE / 2)
      const joined: Array<string> = []
      let events = 0
      const end = Date.now() + SECONDS * 1000
      let at = Date.now()
      while (Date.now() < end) {
        const uuid = `n${serial++}`
        sentAt.push(Date.now())
        const sends = [call(`heartbeat?uuid=${uuid}&heartbeat=300`)]
        joined.push(uuid)
        events++
        if (joined.length > RATE / 2) {
          sends.push(call(`leave?uuid=${joined.shift()}`))
          events++
        }
        await Promise.all(sends)
        at += tick
        await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())))
      }
      await new Promise((r) => setTimeout(r, 1500))
      w.process.stdin?.write("stop\n")
      const report = JSON.parse(await w.line(/^\{/)) as {
        cpuMicros: number
        views: number
        seenAt: Array<number>
      }
      const requestsAfter = await requestCounts()
      // it exits after its report (a profile, if asked for, is written then)
      await new Promise<void>((done) => {
        if (w.process.exitCode !== null) return done()
        const timer = setTimeout(() => w.process.kill(), 10_000)
        w.process.once("exit", () => {
          clearTimeout(timer)
          done()
        })
      })
      // back to OCCUPANTS for the next watcher
      await Promise.all(joined.map((u) => call(`leave?uuid=${u}`)))
      const latencies = report.seenAt.map((t, i) => t - sentAt[i]).filter(Number.isFinite)
      const row = {
        kind,
        occupants: ready.occupants,
        events,
        eventsPerSecond: Math.round(events / SECONDS),
        cpuMicrosPerEvent: Math.round(report.cpuMicros / events),
        hereNowRequests: requestsAfter.hereNow - requestsBefore.hereNow,
        subscribeRequests: requestsAfter.subscribe - requestsBefore.subscribe,
        views: report.views,
        joins: sentAt.length,
        joinsSeen: latencies.length,
        latencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) },
        heldBytesPerOccupant: Math.round(ready.heldBytes / Math.max(1, ready.occupants))
      }
      results.push(row)
      console.log(JSON.stringify(row))
    }
    writeResults("roster.json", {
      machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`,
      occupants: OCCUPANTS,
      rate: RATE,
      seconds: SECONDS,
      results
    })
  } finally {
    await agent.close()
    await server.stop()
  }
})
