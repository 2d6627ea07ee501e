/**
 * The emulator guarded and bounded: its admin API against web pages, DNS rebinding and the
 * network; bounded bodies, time and work; signatures under virtual time; fidelity details.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope, TestClock } from "effect"
import { request } from "node:http"
import { Agent } from "undici"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence } from "../src/index.js"
import { NodeEmulator } from "../src/node/index.js"

interface Answer {
  readonly status: number
  readonly body: string
  readonly type: string | undefined
}

/** A raw HTTP request, with whatever headers a browser or an attacker would send. */
const raw = (
  origin: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer
) =>
  Effect.async<Answer>((resume) => {
    const [host, port] = origin.split(":")
    const req = request({ host, port: Number(port), method, path, headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () =>
        resume(Effect.succeed({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          type: res.headers["content-type"]
        })))
    })
    req.on("error", (e) => resume(Effect.succeed({ status: 0, body: String(e), type: undefined })))
    req.end(body)
  })

const JSON_TYPE = { "content-type": "application/json" }

/** The socket emulator with `options`, and its `host:port`. */
const onSocket = (options: NodeEmulator.ServerOptions = {}) =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(NodeEmulator.layer({ port: 0, ...options }))
    const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
    const em = yield* Effect.provide(Emulator.Emulator, ctx)
    return { origin, em }
  })

const present = (em: Emulator.Service) => Effect.map(em.snapshot, (s) => s.present)

describe("the admin API is guarded", () => {
  it.scopedLive("curl on this machine: JSON POSTs with no Origin work", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket()
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state")).status, 200)
      assert.strictEqual((yield* raw(origin, "POST", "/__emulator/reset", JSON_TYPE)).status, 200)
      const adv = yield* raw(origin, "POST", "/__emulator/advance", JSON_TYPE, "{\"seconds\":5}")
      assert.strictEqual(adv.status, 200)
      // `localhost` and `[::1]` are loopback names too
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state", { host: "localhost:1" })).status, 200)
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state", { host: "[::1]:8090" })).status, 200)
    }))

  it.scopedLive("a cross-site POST (text/plain, foreign Origin) is refused and changes nothing", () =>
    Effect.gen(function*() {
      const { origin, em } = yield* onSocket()
      yield* raw(origin, "GET", "/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=u")
      assert.strictEqual(yield* present(em), 1)
      const plain = yield* raw(origin, "POST", "/__emulator/reset", {
        "content-type": "text/plain",
        origin: "https://evil.example"
      }, "{}")
      assert.strictEqual(plain.status, 403)
      const foreignJson = yield* raw(origin, "POST", "/__emulator/reset", {
        ...JSON_TYPE,
        origin: "https://evil.example"
      })
      assert.strictEqual(foreignJson.status, 403)
      const nullOrigin = yield* raw(origin, "POST", "/__emulator/reset", { ...JSON_TYPE, origin: "null" })
      assert.strictEqual(nullOrigin.status, 403)
      const noOriginText = yield* raw(origin, "POST", "/__emulator/reset", { "content-type": "text/plain" }, "{}")
      assert.strictEqual(noOriginText.status, 415)
      assert.strictEqual(yield* present(em), 1, "nothing was reset")
      // a page served from this machine may
      const local = yield* raw(origin, "POST", "/__emulator/reset", { ...JSON_TYPE, origin: "http://localhost:5173" })
      assert.strictEqual(local.status, 200)
      assert.strictEqual(yield* present(em), 0)
    }))

  it.scopedLive("a foreign Host (DNS rebinding) is refused unless allowed", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket()
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state", { host: "evil.example:8090" })).status, 403)
      assert.strictEqual(
        (yield* raw(origin, "GET", "/v2/presence/sub-key/demo/uuid/u", { host: "evil.example:8090" })).status,
        200,
        "the presence API itself answers any host, as the service does"
      )
      const allowed = yield* onSocket({ admin: { allowedHosts: ["emulator.internal:8090"] } })
      assert.strictEqual(
        (yield* raw(allowed.origin, "GET", "/__emulator/state", { host: "emulator.internal:8090" })).status,
        200
      )
    }))

  it.scopedLive("switched off: 404 for every admin route; presence still works", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket({ admin: false })
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state")).status, 404)
      assert.strictEqual((yield* raw(origin, "POST", "/__emulator/reset", JSON_TYPE)).status, 404)
      assert.strictEqual((yield* raw(origin, "GET", "/v2/presence/sub-key/demo/uuid/u")).status, 200)
    }))

  it.scopedLive("with a token: required from any host, accepted with it", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket({ admin: { token: "t0ken" } })
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state")).status, 401)
      assert.strictEqual((yield* raw(origin, "GET", "/__emulator/state", { authorization: "Bearer nope" })).status, 401)
      const ok = yield* raw(origin, "GET", "/__emulator/state", { authorization: "Bearer t0ken", host: "far.away:1" })
      assert.strictEqual(ok.status, 200)
    }))

  it.scopedLive("listening beyond loopback: admin needs a token", () =>
    Effect.gen(function*() {
      // bound to every interface, spoken to on loopback only
      const open = yield* onSocket({ host: "0.0.0.0" })
      const port = open.origin.split(":").pop()
      assert.strictEqual((yield* raw(`127.0.0.1:${port}`, "GET", "/__emulator/state")).status, 403)
      const withToken = yield* onSocket({ host: "0.0.0.0", admin: { token: "t" } })
      const port2 = withToken.origin.split(":").pop()
      assert.strictEqual(
        (yield* raw(`127.0.0.1:${port2}`, "GET", "/__emulator/state", { authorization: "Bearer t" })).status,
        200
      )
    }))
})

describe("bounded work and memory", () => {
  it.scopedLive("admin bodies are capped: 413, read no further", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket()
      const big = Buffer.alloc(5 * 1024 * 1024, 32)
      const declared = yield* raw(origin, "POST", "/__emulator/faults", JSON_TYPE, big)
      assert.strictEqual(declared.status, 413)
      const chunked = yield* raw(
        origin,
        "POST",
        "/__emulator/faults",
        { ...JSON_TYPE, "transfer-encoding": "chunked" },
        big
      )
      assert.strictEqual(chunked.status, 413)
    }))

  it.scopedLive("deeply nested admin JSON is a 400, not a 500", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket()
      const deep = "[".repeat(5000) + "]".repeat(5000)
      for (const path of ["faults", "advance"]) {
        const r = yield* raw(origin, "POST", `/__emulator/${path}`, JSON_TYPE, deep)
        assert.strictEqual(r.status, 400, path)
        const nested = yield* raw(origin, "POST", `/__emulator/${path}`, JSON_TYPE, `{"path":${deep}}`)
        assert.strictEqual(nested.status, 400, path)
      }
    }))

  it.scopedLive("a 300 KB URL is a JSON 414 from the socket server", () =>
    Effect.gen(function*() {
      const { origin } = yield* onSocket()
      const r = yield* raw(origin, "GET", `/v2/presence/sub-key/demo/channel/${"a,".repeat(150_000)}a`)
      assert.strictEqual(r.status, 414)
      assert.strictEqual(JSON.parse(r.body).message, "Request URI Too Long")
      assert.include(r.type ?? "", "javascript")
    }))

  it.effect("advance is bounded: 1e308 seconds, Infinity, negative are refused; time stays finite", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      for (const bad of [`${1e308} seconds`, Infinity, -5, "nope"]) {
        // @ts-expect-error: what an untyped caller may pass
        const e = yield* Effect.flip(em.advance(bad))
        assert.strictEqual(e._tag, "InvalidArgumentError")
      }
      yield* em.advance("400 days").pipe(Effect.flip)
      assert.isTrue(Number.isFinite(yield* em.now))
      assert.strictEqual(yield* em.now, 0)
      const admin = yield* em.serve("GET", "/v2/presence/sub-key/demo/uuid/u")
      assert.strictEqual(admin.status, 200)
    }).pipe(Effect.provide(Emulator.layerTest())))

  it.effect("channel groups follow the service's limits: 200 per add, 2,000 per group", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const add = (group: string, names: ReadonlyArray<string>) =>
        em.serve("GET", `/v1/channel-registration/sub-key/demo/channel-group/${group}?add=${names.join(",")}`)
      const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `c${from + i}`)
      const tooMany = yield* add("g", names(201))
      assert.strictEqual(tooMany.status, 400)
      assert.include(JSON.parse(tooMany.body).message, "200")
      for (let i = 0; i < 10; i++) assert.strictEqual((yield* add("g", names(200, i * 200))).status, 200)
      const over = yield* add("g", ["one-more"])
      assert.strictEqual(over.status, 400)
      assert.strictEqual((yield* em.snapshot).keys.demo.groups.g.length, 2000, "the refused add changed nothing")
    }).pipe(Effect.provide(Emulator.layerTest())))

  it.effect("state set for a uuid that never heartbeats shows in the snapshot and expires like presence", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* Presence.setState({ channels: ["lobby"], state: { mood: "away" } })
      const snap = yield* em.snapshot
      assert.deepStrictEqual(snap.keys.demo.absentStates.lobby.alice.state, { mood: "away" })
      assert.strictEqual(snap.keys.demo.absentStates.lobby.alice.expiresAt, 300_000)
      yield* TestClock.adjust("299 seconds")
      assert.deepStrictEqual((yield* Presence.getState({ channels: ["lobby"] })).channels.get("lobby"), {
        mood: "away"
      })
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual((yield* Presence.getState({ channels: ["lobby"] })).channels.get("lobby"), {})
      assert.deepStrictEqual((yield* em.snapshot).keys, {})
    }).pipe(Effect.provide(Layer.merge(
      Emulator.layerTest(),
      Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" }) })
    ))))

  it.effect("state set while absent joins the user's presence when they heartbeat", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* Presence.setState({ channels: ["lobby"], state: { mood: "early" } })
      yield* TestClock.adjust("100 seconds")
      yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 320 })
      yield* TestClock.adjust("300 seconds") // past the 300 s an absent state would have had
      const occupant = (yield* em.snapshot).keys.demo.channels.lobby.occupants.alice
      assert.deepStrictEqual(occupant.state, { mood: "early" }, "kept as long as the presence")
      assert.isUndefined((yield* em.snapshot).keys.demo.absentStates.lobby)
    }).pipe(Effect.provide(Layer.merge(
      Emulator.layerTest(),
      Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" }) })
    ))))
})

describe("fidelity", () => {
  it.effect("a 403 lists only the kinds refused", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const channelsOnly = JSON.parse((yield* em.serve("GET", "/v2/presence/sub-key/demo/channel/secret?auth=k")).body)
      assert.deepStrictEqual(channelsOnly.payload, { channels: ["secret"] })
      const groupsOnly = JSON.parse(
        (yield* em.serve("GET", "/v2/presence/sub-key/demo/channel/,?channel-group=g2&auth=k")).body
      )
      assert.deepStrictEqual(groupsOnly.payload, { "channel-groups": ["g2"] })
      const none = JSON.parse((yield* em.serve("GET", "/v2/presence/sub-key/demo/uuid/u?auth=nobody")).body)
      assert.strictEqual(none.status, 403)
      assert.isUndefined(none.payload)
    }).pipe(Effect.provide(Emulator.layerTest({ grants: { k: { channels: ["open"], channelGroups: ["g1"] } } }))))

  it.effect("a heartbeat value below the SDKs' 20 is honoured", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.serve("GET", "/v2/presence/sub-key/demo/channel/a/heartbeat?uuid=u&heartbeat=8")
      yield* TestClock.adjust("7 seconds")
      assert.strictEqual((yield* em.snapshot).present, 1)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* em.snapshot).present, 0)
    }).pipe(Effect.provide(Emulator.layerTest())))
})

describe("stopping the socket emulator", () => {
  it.live("ends every connection: a client that keeps asking over keep-alive, and a held poll, do not keep it serving", () =>
    Effect.gen(function*() {
      const agent = new Agent({ connections: 1, keepAliveTimeout: 60_000 })
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(NodeEmulator.layer({ port: 0 }), scope)
      const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
      const get = (path: string) =>
        fetch(`http://${origin}${path}`, { dispatcher: agent } as RequestInit).then((r) => r.text())
      // a poll held by the emulator (its window is minutes)
      const held = fetch(`http://${origin}/v2/subscribe/demo/lobby-pnpres/0?tt=10000000000000001&uuid=w`)
        .then((r) => r.text()).then(() => "answered", () => "cut")
      // and a client asking again and again over one keep-alive connection
      let asking = true
      let answers = 0
      const loop = (async () => {
        while (asking) {
          await get("/__emulator/state").then(() => answers++, () => undefined)
        }
      })()
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 300)))
      assert.isAbove(answers, 0)
      // without ending the connections, closing waited for the busy one for ever
      const closed = yield* Effect.timeout(Effect.disconnect(Scope.close(scope, Exit.void)), "20 seconds").pipe(
        Effect.option
      )
      asking = false
      assert.isTrue(closed._tag === "Some", "the emulator stopped")
      const refused = yield* Effect.promise(() =>
        fetch(`http://${origin}/__emulator/state`).then(() => false, () => true)
      )
      assert.isTrue(refused)
      assert.strictEqual(yield* Effect.promise(() => held), "cut")
      yield* Effect.promise(() => loop)
      yield* Effect.promise(() => agent.close())
    }))
})
