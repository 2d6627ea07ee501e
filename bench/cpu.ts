/**
 * `npm run bench:cpu` — where the time of one sequential here-now (100 occupants) goes: client CPU
 * and wall time per call for this SDK on two HTTP clients, those clients alone (request + body +
 * `JSON.parse`), undici's own `request`, and `fetch`. Against the socket emulator in its own process,
 * on loopback; 3,000 calls each after a warm-up. `process.cpuUsage` counts this process only.
 */
import { NodeHttpClient } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Effect, ManagedRuntime } from "effect"
import { Agent } from "undici"
import { Keyset, Presence } from "../src/index.js"
import { UndiciHttpClient } from "../src/node/index.js"
import { run, sdkLayer, startEmulatorProcess } from "./util.js"

const N = 3000

const main = async () => {
  const server = await startEmulatorProcess()
  const base = `http://${server.origin}`
  for (let i = 0; i < 100; i++) {
    await fetch(`${base}/v2/presence/sub-key/bench/channel/room-0/heartbeat?uuid=user-${i}`).then((r) => r.text())
  }
  const path = "/v2/presence/sub-key/bench/channel/room-0?uuid=bench&pnsdk=bench&requestid=x"
  const rows: Record<string, { wallMicros: number; cpuMicros: number }> = {}
  const measure = async (label: string, run: () => Promise<unknown>) => {
    await run()
    const cpu = process.cpuUsage()
    const t = performance.now()
    await run()
    const wall = performance.now() - t
    const used = process.cpuUsage(cpu)
    rows[label] = { wallMicros: Math.round((wall * 1000) / N), cpuMicros: Math.round((used.user + used.system) / N) }
  }
  for (
    const [name, client] of [
      ["UndiciHttpClient", UndiciHttpClient.layer],
      ["NodeHttpClient.layerUndici", NodeHttpClient.layerUndici]
    ] as const
  ) {
    const runtime = ManagedRuntime.make(
      sdkLayer(client, server.origin, { default: new Keyset.Keyset({ subscribeKey: "bench", userId: "bench" }) })
    )
    await measure(`sdk on ${name}`, () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let i = 0; i < N; i++) yield* Presence.hereNow({ channels: ["room-0"] })
      })))
    await measure(`${name} alone`, () =>
      runtime.runPromise(Effect.gen(function*() {
        const http = yield* HttpClient.HttpClient
        for (let i = 0; i < N; i++) {
          yield* Effect.flatMap(http.execute(HttpClientRequest.get(base + path)), (r) => Effect.map(r.text, JSON.parse))
        }
      })))
    await runtime.dispose()
  }
  const agent = new Agent()
  await measure("undici Agent.request alone", async () => {
    for (let i = 0; i < N; i++) await agent.request({ origin: base, path, method: "GET" }).then((r) => r.body.json())
  })
  await agent.close()
  await measure("fetch + JSON.parse", async () => {
    for (let i = 0; i < N; i++) await fetch(base + path).then((r) => r.json())
  })
  console.log(`\nsequential here-now, 100 occupants — µs per call, ${N} calls`)
  console.table(rows)
  await server.stop()
}

run(main)
