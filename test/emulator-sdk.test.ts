import { NodeHttpClient } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Stream, TestClock } from "effect"
import * as fc from "fast-check"
import { Emulator } from "../src/Emulator.js"
import * as EmulatorModule from "../src/Emulator.js"
import { Keyset, Presence, PubNubConfig } from "../src/index.js"
import { NodeEmulator, UndiciHttpClient } from "../src/node/index.js"

const alice = new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" })
const bob = new Keyset.Keyset({ subscribeKey: "demo", userId: "bob" })
const Keys = Keyset.layer({ default: alice, named: { bob } })

/** The same story, against whatever emulator layer it is given. */
const scenario = Effect.gen(function*() {
  const em = yield* Emulator
  // join with state, in a channel and through a group
  const registry = "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=kitchen,garden"
  assert.strictEqual((yield* em.serve("GET", registry)).status, 200)
  yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 60, state: { lobby: { mood: "busy" } } })
  yield* Presence.announceHeartbeat({ channelGroups: ["rooms"], channels: ["lobby"], using: "bob" })

  const lobby = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: "all" })
  assert.strictEqual(lobby.channels.get("lobby")?.count, 2)
  assert.deepStrictEqual(
    Option.getOrUndefined(lobby.channels.get("lobby")?.uuids.get("alice")?.state ?? Option.none()),
    {
      mood: "busy"
    }
  )
  const rooms = yield* Presence.hereNow({ channelGroups: ["rooms"] })
  assert.deepStrictEqual([...rooms.channels.keys()].sort(), ["garden", "kitchen"])
  const global = yield* Presence.hereNow({ stateInfo: "none" })
  assert.strictEqual(global.totalOccupancy, 4)

  // where now, state
  assert.deepStrictEqual([...(yield* Presence.whereNow({ uuid: "bob" })).channels].sort(), [
    "garden",
    "kitchen",
    "lobby"
  ])
  yield* Presence.setState({ channels: ["lobby"], state: { mood: "away", n: 2 }, using: "bob" })
  const state = yield* Presence.getState({ channels: ["lobby", "kitchen"], uuid: "bob" })
  assert.deepStrictEqual(state.channels.get("lobby"), { mood: "away", n: 2 })
  assert.deepStrictEqual(state.channels.get("kitchen"), {})
  const single = yield* Presence.getState({ channels: ["lobby"] })
  assert.deepStrictEqual(single.channels.get("lobby"), { mood: "busy" })

  // leave
  yield* Presence.announceLeave({ channelGroups: ["rooms"], using: "bob" })
  assert.deepStrictEqual((yield* Presence.whereNow({ uuid: "bob" })).channels, ["lobby"])

  // paging
  for (let i = 0; i < 25; i++) {
    const k = new Keyset.Keyset({ subscribeKey: "demo", userId: `fan-${i}` })
    yield* Presence.announceHeartbeat({ channels: ["stadium"], keyset: k })
  }
  const page = yield* Presence.hereNow({ channels: ["stadium"], limit: 10, offset: 10 })
  assert.deepStrictEqual(
    [...page.channels.get("stadium")?.uuids.keys() ?? []],
    Array.from({ length: 10 }, (_, i) => `fan-${i + 10}`)
  )
  assert.deepStrictEqual(page.nextOffset, Option.some(20))
  const all = yield* Presence.hereNowAll({ channels: ["stadium", "lobby"], limit: 10 })
  assert.strictEqual(all.channels.get("stadium")?.uuids.size, 25)
  assert.strictEqual(all.channels.get("lobby")?.uuids.size, 2)
})

describe("the SDK against the emulator", () => {
  it.effect("in memory (layerTest)", () => scenario.pipe(Effect.provide(Layer.merge(EmulatorModule.layerTest(), Keys))))

  /** The socket emulator on a free port, and the layers that aim the SDK at it with `client`. */
  const onSocket = (client: Layer.Layer<HttpClient.HttpClient>) =>
    Effect.gen(function*() {
      const server = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
      const { origin } = yield* Effect.provide(NodeEmulator.address, server)
      return Layer.mergeAll(Keys, client, PubNubConfig.layer({ origin, secure: false }), Layer.succeedContext(server))
    })

  it.scoped("on a real socket (NodeHttpServer + NodeHttpClient)", () =>
    Effect.gen(function*() {
      yield* scenario.pipe(Effect.provide(yield* onSocket(NodeHttpClient.layerUndici)))
    }))

  it.scoped("on a real socket with UndiciHttpClient, including a dropped connection", () =>
    Effect.gen(function*() {
      const live = yield* onSocket(UndiciHttpClient.layer)
      yield* scenario.pipe(Effect.provide(live))
      yield* Effect.gen(function*() {
        const em = yield* Emulator
        yield* em.addFault({ path: "/v2/presence", drop: true })
        const dropped = yield* Effect.flip(Presence.hereNow({ channels: ["lobby"] }))
        assert.strictEqual(dropped._tag, "TransportError")
        // the pool recovers: the next call gets a fresh connection
        assert.strictEqual((yield* Presence.hereNow({ channels: ["lobby"] })).channels.get("lobby")?.count, 2)
      }).pipe(Effect.provide(live))
    }))

  it.effect("a timeout under TestClock: present at 59 s, gone at 61 s", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 60 })
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* Presence.hereNow({ channels: ["lobby"] })).channels.get("lobby")?.count, 1)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Presence.hereNow({ channels: ["lobby"] })).channels.get("lobby")?.count, 0)
      assert.deepStrictEqual((yield* Presence.whereNow()).channels, [])
    }).pipe(Effect.provide(Layer.merge(EmulatorModule.layerTest(), Keys))))

  it.scoped("subscribe is live when it returns: no event is missed, with no yield in between", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      const events = yield* em.subscribe
      yield* Presence.announceHeartbeat({ channels: ["a"], heartbeat: 20 })
      yield* Presence.announceLeave({ channels: ["a"] })
      const got = yield* Stream.runCollect(Stream.take(events, 2))
      assert.deepStrictEqual([...got].map((e) => `${e.action}:${e.uuid}@${e.channel}`), [
        "join:alice@a",
        "leave:alice@a"
      ])
    }).pipe(Effect.provide(Layer.merge(EmulatorModule.layerTest(), Keys))))

  it.scoped("events: join, state-change, leave and timeout", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      const events: Array<string> = []
      yield* Effect.forkScoped(
        Stream.runForEach(em.events, (e) => Effect.sync(() => events.push(`${e.action}:${e.uuid}@${e.channel}`)))
      )
      yield* Effect.repeatN(Effect.yieldNow(), 5)
      yield* Presence.announceHeartbeat({ channels: ["a", "b"], heartbeat: 20 })
      yield* Presence.setState({ channels: ["a"], state: { k: 1 } })
      yield* Presence.announceLeave({ channels: ["a"] })
      yield* TestClock.adjust("21 seconds") // the emulator's background expiry runs each second
      yield* Effect.repeatN(Effect.yieldNow(), 5)
      assert.deepStrictEqual(events, [
        "join:alice@a",
        "join:alice@b",
        "state-change:alice@a",
        "leave:alice@a",
        "timeout:alice@b"
      ])
    }).pipe(Effect.provide(Layer.merge(EmulatorModule.layerTest(), Keys))))
})

describe("faults reach the SDK as typed errors", () => {
  const L = Layer.merge(EmulatorModule.layerTest(), Keys)
  const hn = Presence.hereNow({ channels: ["lobby"] })

  it.effect("status, Retry-After, drop, malformed, delay (timeout), once / N times / probability", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      yield* em.addFault({ path: "/v2/presence", status: 503 })
      const e503 = yield* Effect.flip(hn)
      assert.isTrue(e503._tag === "ServerError" && e503.status === 503)
      yield* hn // once only

      yield* em.addFault({ path: "/v2/presence", status: 429, retryAfter: 7 })
      const e429 = yield* Effect.flip(hn)
      assert.isTrue(e429._tag === "RateLimitedError" && Option.isSome(e429.retryAfter))
      if (e429._tag === "RateLimitedError") assert.deepStrictEqual(e429.retryAfter, Option.some(Duration.seconds(7)))

      yield* em.addFault({ path: "/v2/presence", drop: true })
      assert.strictEqual((yield* Effect.flip(hn))._tag, "TransportError")

      yield* em.addFault({ path: "/v2/presence", malformed: true })
      assert.strictEqual((yield* Effect.flip(hn))._tag, "MalformedResponseError")

      yield* em.addFault({
        path: "/v2/presence",
        status: 200,
        body: "{\"status\":402,\"error\":1,\"message\":\"off\"}"
      })
      assert.strictEqual((yield* Effect.flip(hn))._tag, "PresenceNotEnabledError")

      yield* em.addFault({ path: "/v2/presence", status: 502, body: "<html><title>Bad Gateway</title></html>" })
      const html = yield* Effect.flip(hn)
      assert.isTrue(html._tag === "ServerError" && html.serverMessage === "Bad Gateway")

      yield* em.addFault({ path: "/v2/presence", delayMs: 15_000 })
      const slow = yield* Effect.fork(Effect.flip(hn))
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual((yield* slow.await.pipe(Effect.flatten))._tag, "RequestTimeoutError")

      yield* em.addFault({ path: "/v2/presence/sub-key/demo/channel/lobby/heartbeat", status: 500, times: 2 })
      yield* hn // other paths unaffected
      const hb = Presence.announceHeartbeat({ channels: ["lobby"] })
      assert.strictEqual((yield* Effect.flip(hb))._tag, "ServerError")
      assert.strictEqual((yield* Effect.flip(hb))._tag, "ServerError")
      yield* hb

      yield* em.addFault({ path: "/v2/presence", status: 503, probability: 0.5, seed: 7 })
      let failures = 0
      for (let i = 0; i < 200; i++) if ((yield* Effect.either(hn))._tag === "Left") failures++
      assert.isAbove(failures, 60)
      assert.isBelow(failures, 140)
      yield* em.clearFaults
      yield* hn
    }).pipe(Effect.provide(L)))

  it.effect("bad fault specs are InvalidArgumentError", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      for (const bad of [{ path: "/" }, { path: "/", status: 99 }, { path: "/", status: 500, probability: 2 }]) {
        assert.strictEqual((yield* Effect.flip(em.addFault(bad)))._tag, "InvalidArgumentError")
      }
    }).pipe(Effect.provide(L)))
})

describe("admin API over HTTP", () => {
  it.effect("state, advance, faults, reset; bad bodies are 400", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const base = `http://${EmulatorModule.TEST_ORIGIN}`
      const send = (request: HttpClientRequest.HttpClientRequest) =>
        Effect.flatMap(client.execute(request), (r) =>
          Effect.map(r.text, (body) => ({
            status: r.status,
            body: JSON.parse(body) as Record<string, unknown>,
            type: r.headers["content-type"]
          })))
      yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 30 })
      const state = yield* send(HttpClientRequest.get(`${base}/__emulator/state`))
      assert.strictEqual(state.status, 200)
      assert.deepStrictEqual(Object.keys((state.body.keys as Record<string, { channels: object }>).demo.channels), [
        "lobby"
      ])

      const adv = yield* send(
        HttpClientRequest.post(`${base}/__emulator/advance`).pipe(HttpClientRequest.bodyUnsafeJson({ seconds: 31 }))
      )
      assert.strictEqual(adv.status, 200)
      assert.strictEqual((yield* Presence.hereNow({ channels: ["lobby"] })).channels.get("lobby")?.count, 0)

      const fault = yield* send(
        HttpClientRequest.post(`${base}/__emulator/faults`).pipe(
          HttpClientRequest.bodyUnsafeJson({ path: "/v2", status: 503, times: 1 })
        )
      )
      assert.strictEqual(fault.status, 200)
      assert.strictEqual((yield* Effect.flip(Presence.whereNow()))._tag, "ServerError")
      yield* send(
        HttpClientRequest.post(`${base}/__emulator/faults`).pipe(
          HttpClientRequest.bodyUnsafeJson({ path: "/v2", status: 503, times: 5 })
        )
      )
      const cleared = yield* send(HttpClientRequest.del(`${base}/__emulator/faults`))
      assert.strictEqual(cleared.status, 200)
      yield* Presence.whereNow()

      for (
        const [path, body] of [["advance", "{\"seconds\":-1}"], ["advance", "nope"], ["faults", "{\"path\":\"/\"}"], [
          "faults",
          "[]"
        ]]
      ) {
        const r = yield* send(
          HttpClientRequest.post(`${base}/__emulator/${path}`).pipe(
            HttpClientRequest.bodyText(body, "application/json")
          )
        )
        assert.strictEqual(r.status, 400, `${path} ${body}`)
      }
      // a POST that is not JSON is refused whatever it says (a cross-site form can only send text)
      const plain = yield* send(
        HttpClientRequest.post(`${base}/__emulator/reset`).pipe(HttpClientRequest.bodyText("{}"))
      )
      assert.strictEqual(plain.status, 415)
      assert.strictEqual((yield* send(HttpClientRequest.get(`${base}/__emulator/nope`))).status, 404)

      yield* Presence.announceHeartbeat({ channels: ["lobby"] })
      assert.strictEqual(
        (yield* send(HttpClientRequest.post(`${base}/__emulator/reset`).pipe(HttpClientRequest.bodyUnsafeJson({}))))
          .status,
        200
      )
      const after = yield* send(HttpClientRequest.get(`${base}/__emulator/state`))
      assert.deepStrictEqual(after.body.keys, {})

      const presence = yield* send(HttpClientRequest.get(`${base}/v2/presence/sub-key/demo/uuid/x`))
      assert.strictEqual(presence.type, "text/javascript; charset=\"UTF-8\"")
    }).pipe(Effect.provide(Layer.merge(EmulatorModule.layerTest(), Keys))))
})

describe("request log", () => {
  it.effect("keeps the last 10,000 requests, oldest first", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      for (let i = 0; i < 10_005; i++) yield* em.serve("GET", `/v2/presence/sub-key/demo/uuid/u${i}`)
      const log = yield* em.requests
      assert.strictEqual(log.length, 10_000)
      assert.strictEqual(log[0].path, "/v2/presence/sub-key/demo/uuid/u5")
      assert.strictEqual(log[9_999].path, "/v2/presence/sub-key/demo/uuid/u10004")
      assert.isTrue(log.every((r) => r.operation === "whereNow" && r.status === 200))
      assert.strictEqual((yield* em.snapshot).stats.whereNow, 10_005)
    }).pipe(Effect.provide(EmulatorModule.layer())))
})

describe("router fuzz", () => {
  const segment = fc.oneof(
    fc.constantFrom(
      "v2",
      "presence",
      "sub-key",
      "sub_key",
      "demo",
      "channel",
      "uuid",
      "data",
      "heartbeat",
      "leave",
      ",",
      "",
      "v1",
      "channel-registration",
      "channel-group",
      "remove",
      "%zz",
      "%E0%A4%A",
      "a%2Cb"
    ),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
    fc.string({ maxLength: 6 })
  )
  const queryPart = fc.oneof(
    fc.tuple(
      fc.constantFrom(
        "uuid",
        "heartbeat",
        "state",
        "channel-group",
        "limit",
        "offset",
        "disable_uuids",
        "add",
        "remove",
        "auth",
        "x"
      ),
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }).map(encodeURIComponent),
        fc.constantFrom("%", "%zz", "{", "[1]", "-1", "1e9", "{\"a\":{}}")
      )
    ).map(([k, v]) => `${k}=${v}`),
    fc.string({ maxLength: 10 })
  )
  const target = fc.tuple(
    fc.oneof(
      fc.array(segment, { maxLength: 9 }).map((s) => "/" + s.join("/")),
      fc.array(segment, { maxLength: 5 }).map((s) => "/v2/presence/sub-key/demo/" + s.join("/")),
      fc.array(segment, { maxLength: 4 }).map((s) =>
        "/v1/channel-registration/sub-key/demo/channel-group/" + s.join("/")
      )
    ),
    fc.array(queryPart, { maxLength: 6 })
  ).map(([p, q]) => (q.length === 0 ? p : `${p}?${q.join("&")}`))

  it.effect("any path and query: JSON body, 2xx or 4xx, never a crash", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      const samples = fc.sample(target, { numRuns: 3000, seed: 1234 })
      for (const t of samples) {
        const r = yield* em.serve("GET", t)
        assert.isTrue((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500), `${t} → ${r.status}`)
        assert.doesNotThrow(() => JSON.parse(r.body), t)
      }
    }).pipe(Effect.provide(EmulatorModule.layer())))
})
