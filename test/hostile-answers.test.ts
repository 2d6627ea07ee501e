/**
 * Hostile and broken answers end as typed errors: deeply nested bodies, bodies that never end,
 * redirects, error bodies with a 200, impossible counts, a server that pages forever — and a
 * request that times out gives its connection back.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { Keyset, Presence, PubNubConfig } from "../src/index.js"
import { UndiciHttpClient } from "../src/node/index.js"
import * as Fake from "./util/FakeHttp.js"
import { endless, eventually, testServer } from "./util/server.js"

const alice = new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" })
const Keys = Keyset.layer({ default: alice })

const DEEP = "[".repeat(5000) + "]".repeat(5000)

const everyOperation: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown, Presence.Requirements>]> = [
  ["hereNow one", Presence.hereNow({ channels: ["a"] })],
  ["hereNow many", Presence.hereNow({ channels: ["a", "b"] })],
  ["hereNowAll", Presence.hereNowAll({ channels: ["a"] })],
  ["whereNow", Presence.whereNow()],
  ["getState", Presence.getState({ channels: ["a"] })],
  ["setState", Presence.setState({ channels: ["a"], state: { k: 1 } })],
  ["announceHeartbeat", Presence.announceHeartbeat({ channels: ["a"] })],
  ["announceLeave", Presence.announceLeave({ channels: ["a"] })]
]

/** Runs `op`; its failure, which must be typed (a defect fails the test with the cause). */
const failure = <R>(op: Effect.Effect<unknown, unknown, R>) =>
  Effect.flatMap(Effect.exit(op), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.dieMessage("expected a failure, got a success")
    const f = Cause.failureOption(exit.cause)
    return Option.isSome(f) ? Effect.succeed(f.value as { _tag: string; message: string }) : Effect.die(exit.cause)
  })

describe("no defect from any answer", () => {
  for (const [name, op] of everyOperation) {
    it.effect(`${name}: a 5,000-level nested body is a MalformedResponseError with a short excerpt`, () =>
      Effect.gen(function*() {
        const { layer } = Fake.layer(() => Fake.json(DEEP))
        const e = yield* failure(Effect.provide(op, layer))
        assert.strictEqual(e._tag, "MalformedResponseError")
        assert.isBelow(e.message.length, 1000)
      }))
  }

  it.effect("nesting inside a field the schema reads is bounded too", () =>
    Effect.gen(function*() {
      const body = `{"status":200,"message":"OK","service":"Presence","payload":{"channels":${DEEP}}}`
      const { layer } = Fake.layer(() => Fake.json(body))
      const e = yield* failure(Effect.provide(Presence.whereNow(), layer))
      assert.strictEqual(e._tag, "MalformedResponseError")
      assert.isBelow(e.message.length, 1000)
    }))
})

describe("error bodies are errors, impossible counts are malformed", () => {
  for (const body of [{ error: true, message: "nope" }, { status: 200, error: 1, message: "nope" }]) {
    for (const [name, op] of everyOperation) {
      it.effect(`${name}: 200 with ${JSON.stringify(body)} fails`, () =>
        Effect.gen(function*() {
          const { layer } = Fake.layer(() => Fake.json({ service: "Presence", ...body }))
          const e = yield* failure(Effect.provide(op, layer))
          assert.strictEqual(e._tag, "UnexpectedStatusError")
          assert.include(e.message, "nope")
        }))
    }
  }

  it.effect("a 200 with `\"error\": false` (the channel registry's OK) is not an error", () =>
    Effect.gen(function*() {
      const { layer } = Fake.layer(() => Fake.json({ status: 200, message: "OK", service: "Presence", error: false }))
      yield* Effect.provide(Presence.announceHeartbeat({ channels: ["a"] }), layer)
    }))

  // the body's text: `1e400` parses to Infinity
  for (const occupancy of ["-1", "1.5", "1e400"]) {
    it.effect(`occupancy ${occupancy} is a MalformedResponseError`, () =>
      Effect.gen(function*() {
        const { layer } = Fake.layer(() =>
          Fake.json(`{"status":200,"message":"OK","service":"Presence","uuids":[],"occupancy":${occupancy}}`)
        )
        assert.strictEqual(
          (yield* failure(Effect.provide(Presence.hereNow({ channels: ["a"] }), layer)))._tag,
          "MalformedResponseError"
        )
      }))
  }

  it.effect("a negative total is a MalformedResponseError", () =>
    Effect.gen(function*() {
      const { layer } = Fake.layer(() => Fake.ok({ payload: { channels: {}, total_channels: -2, total_occupancy: 0 } }))
      const e = yield* failure(Effect.provide(Presence.hereNow({ channels: ["a", "b"] }), layer))
      assert.strictEqual(e._tag, "MalformedResponseError")
    }))
})

describe("hereNowAll ends", () => {
  // a server claiming a billion occupants and serving new uuids on every page
  const forever = () =>
    Fake.layer((req) => {
      const offset = Number(req.query.get("offset") ?? 0)
      const limit = Number(req.query.get("limit") ?? 1000)
      return Fake.ok({ uuids: Array.from({ length: limit }, (_, i) => `u${offset + i}`), occupancy: 1e9 })
    })

  it.effect("stops at maxPages with hasMore and nextOffset", () =>
    Effect.gen(function*() {
      const { requests, layer } = forever()
      const r = yield* Effect.provide(Presence.hereNowAll({ channels: ["a"], limit: 10, maxPages: 5 }), layer)
      assert.strictEqual(requests.length, 6)
      const a = r.channels.get("a")
      assert.strictEqual(a?.uuids.size, 60)
      assert.isTrue(a?.hasMore)
      assert.deepStrictEqual(r.nextOffset, Option.some(60))
    }))

  it.effect("stops at maxOccupants", () =>
    Effect.gen(function*() {
      const { requests, layer } = forever()
      const r = yield* Effect.provide(Presence.hereNowAll({ channels: ["a"], maxOccupants: 2500 }), layer)
      assert.strictEqual(requests.length, 3)
      assert.strictEqual(r.channels.get("a")?.uuids.size, 3000)
      assert.isTrue(r.channels.get("a")?.hasMore)
    }))

  it.effect("by default it stops by itself (100,000 occupants)", () =>
    Effect.gen(function*() {
      const { requests, layer } = forever()
      const r = yield* Effect.provide(Presence.hereNowAll({ channels: ["a"] }), layer)
      assert.strictEqual(requests.length, Presence.HERE_NOW_ALL_LIMITS.maxOccupants / 1000)
      assert.isTrue(r.channels.get("a")?.hasMore)
    }))

  it.effect("a walk that ends is not marked as stopped", () =>
    Effect.gen(function*() {
      const { layer } = Fake.layer((req) => {
        const offset = Number(req.query.get("offset") ?? 0)
        return Fake.ok({ uuids: offset === 0 ? ["a", "b"] : ["c"], occupancy: 3 })
      })
      const r = yield* Effect.provide(Presence.hereNowAll({ channels: ["a"], limit: 2 }), layer)
      assert.strictEqual(r.channels.get("a")?.uuids.size, 3)
      assert.isFalse(r.channels.get("a")?.hasMore)
      assert.isTrue(Option.isNone(r.nextOffset))
    }))

  it.effect("bad bounds are InvalidArgumentError", () =>
    Effect.gen(function*() {
      const { requests, layer } = forever()
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const e = yield* failure(Effect.provide(Presence.hereNowAll({ channels: ["a"], maxPages: bad }), layer))
        assert.strictEqual(e._tag, "InvalidArgumentError")
      }
      assert.strictEqual(requests.length, 0)
    }))
})

// the HTTP clients the docs recommend, on a real socket
const clients = [
  ["UndiciHttpClient", UndiciHttpClient.layer],
  ["FetchHttpClient", FetchHttpClient.layer],
  ["NodeHttpClient.layerUndici", NodeHttpClient.layerUndici]
] as const

describe("bounded answers", () => {
  for (const [name, client] of clients) {
    it.scopedLive(`${name}: an endless body fails with ResponseTooLargeError, and the connection is closed`, () =>
      Effect.gen(function*() {
        const written = { bytes: 0 }
        const server = yield* testServer((_req, res) => endless(res, "[\"x\",".repeat(2000), written))
        const config = PubNubConfig.layer({ origin: server.origin, secure: false, maxResponseBytes: 1024 * 1024 })
        // built once and kept: closing a client would close its connections and hide a leak
        const live = yield* Layer.build(Layer.mergeAll(client, Keys, config))
        const e = yield* failure(Effect.provide(Presence.hereNow({ channels: ["a"] }), live))
        assert.strictEqual(e._tag, "ResponseTooLargeError")
        assert.isTrue(yield* eventually(() => server.open() === 0), "the connection is closed")
        // the server stopped writing soon after the limit (socket buffers hold a few MB at most)
        assert.isBelow(written.bytes, 64 * 1024 * 1024)
      }))

    it.scopedLive(`${name}: a declared length over the limit fails before reading`, () =>
      Effect.gen(function*() {
        const server = yield* testServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/javascript", "content-length": String(10 * 1024 * 1024) })
          res.write("{")
        })
        const config = PubNubConfig.layer({ origin: server.origin, secure: false, maxResponseBytes: 1024 })
        const live = yield* Layer.build(Layer.mergeAll(client, Keys, config))
        const e = yield* failure(Effect.provide(Presence.whereNow(), live))
        assert.strictEqual(e._tag, "ResponseTooLargeError")
        assert.isTrue(yield* eventually(() => server.open() === 0), "the connection is closed")
      }))
  }

  it.effect("a body under the limit reads as before", () =>
    Effect.gen(function*() {
      const { layer } = Fake.layer(() => Fake.ok({ uuids: ["a"], occupancy: 1 }))
      const r = yield* Presence.hereNow({ channels: ["a"] }).pipe(
        Effect.provide(Layer.merge(layer, PubNubConfig.layer({ origin: "pn.test", maxResponseBytes: 200 })))
      )
      assert.strictEqual(r.channels.get("a")?.count, 1)
    }))
})

describe("interrupts release connections", () => {
  for (const [name, client] of clients) {
    it.scopedLive(`${name}: 10 timed-out requests whose bodies never end leave no socket open`, () =>
      Effect.gen(function*() {
        const server = yield* testServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/javascript" })
          res.write("{\"status\":200,")
          // …and the rest never comes
        })
        const config = PubNubConfig.layer({ origin: server.origin, secure: false, requestTimeout: "150 millis" })
        const live = yield* Layer.build(Layer.mergeAll(client, Keys, config))
        for (let i = 0; i < 10; i++) {
          const e = yield* failure(Effect.provide(Presence.hereNow({ channels: [`c${i}`] }), live))
          assert.strictEqual(e._tag, "RequestTimeoutError")
        }
        assert.strictEqual(server.requests.length, 10)
        assert.isTrue(yield* eventually(() => server.open() === 0), `${server.open()} sockets still open`)
      }))
  }
})

describe("redirects are never followed", () => {
  for (const [name, client] of clients) {
    for (const status of [301, 307]) {
      it.scopedLive(`${name}: a ${status} to another host is an UnexpectedStatusError`, () =>
        Effect.gen(function*() {
          const foreign = yield* testServer((_req, res) => {
            res.writeHead(200, { "content-type": "text/javascript" })
            res.end(JSON.stringify({ status: 200, message: "OK", service: "Presence", payload: { channels: ["x"] } }))
          })
          const origin = yield* testServer((req, res) => {
            res.writeHead(status, { location: `${foreign.base}${req.url}` })
            res.end()
          })
          const config = PubNubConfig.layer({ origin: origin.origin, secure: false })
          const e = yield* failure(Presence.whereNow().pipe(Effect.provide(Layer.mergeAll(client, Keys, config))))
          assert.strictEqual(e._tag, "UnexpectedStatusError")
          assert.include(e.message, String(status))
          assert.strictEqual(foreign.requests.length, 0)
        }))
    }
  }
})
