/**
 * The subscribe endpoint as the emulator serves it (raw requests), and the SDK's reading of what
 * the service may send: lenient where it is loose, deaf to what it did not ask for, with spans
 * that carry no secrets, and held polls that go away with their clients.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Metric, Redacted, Stream, TestClock, Tracer } from "effect"
import { request as httpRequest } from "node:http"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence, PresenceEvent } from "../src/index.js"
import { NodeEmulator } from "../src/node/index.js"

const S = "/v2/subscribe/demo"
const P = "/v2/presence/sub-key/demo"

const call = (target: string) =>
  Effect.gen(function*() {
    const em = yield* Emulator.Emulator
    const r = yield* em.serve("GET", target)
    return { status: r.status, json: JSON.parse(r.body) }
  })

const handshake = (names: string, extra = "") =>
  Effect.map(call(`${S}/${names}/0?uuid=w${extra}`), (r) => {
    assert.strictEqual(r.status, 200, JSON.stringify(r.json))
    assert.deepStrictEqual(r.json.m, [])
    return r.json.t.t as string
  })

describe("emulator: the subscribe endpoint", () => {
  it.effect("handshake (no tt, tt=0, tt=000…) answers at once with the current timetoken; ee is ignored", () =>
    Effect.gen(function*() {
      const a = yield* handshake("lobby-pnpres")
      assert.match(a, /^\d{17}$/)
      assert.strictEqual(yield* handshake("lobby-pnpres", "&tt=0&ee"), a)
      assert.strictEqual(yield* handshake("lobby-pnpres", "&tt=00000000000000000"), a)
    }).pipe(Effect.provide(Emulator.layer())))

  it.effect("envelopes carry a, f, p, k, c, b (for channels too), d, u; occupancy after the change", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const t = yield* handshake("lobby-pnpres")
      const held = yield* Effect.fork(call(`${S}/lobby-pnpres/0?uuid=w&tt=${t}&tr=1`))
      yield* em.serve(
        "GET",
        `${P}/channel/lobby/heartbeat?uuid=u1&state=${encodeURIComponent("{\"lobby\":{\"a\":1}}")}`
      )
      const r = yield* Fiber.join(held)
      assert.strictEqual(r.status, 200)
      const [m] = r.json.m
      assert.deepStrictEqual(Object.keys(m).sort(), ["a", "b", "c", "d", "f", "k", "p", "u"])
      assert.strictEqual(m.c, "lobby-pnpres")
      assert.strictEqual(m.b, "lobby-pnpres")
      assert.strictEqual(m.k, "demo")
      assert.deepInclude(m.d, { action: "join", uuid: "u1", occupancy: 1, data: { a: 1 } })
      assert.strictEqual(r.json.t.t, m.p.t, "the next poll resumes after the last message")
    }).pipe(Effect.provide(Emulator.layer())))

  it.effect("subscribing to a data channel (with heartbeat and state) makes the caller present; -pnpres alone does not", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* handshake("lobby,lobby-pnpres", `&heartbeat=60&state=${encodeURIComponent("{\"lobby\":{\"b\":2}}")}`)
      yield* handshake("hall-pnpres")
      const s = yield* em.snapshot
      assert.deepStrictEqual(Object.keys(s.keys.demo.channels), ["lobby"])
      const occupant = s.keys.demo.channels.lobby.occupants.w
      assert.strictEqual(occupant.timeout, 60)
      assert.deepStrictEqual(occupant.state, { b: 2 })
    }).pipe(Effect.provide(Emulator.layer())))

  it.effect("a bad tt, no names, or a refused name: the service's errors, nothing held", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* call(`${S}/lobby-pnpres/0?uuid=w&auth=k&tt=soon`)).status, 400)
      assert.strictEqual((yield* call(`${S}/,/0?uuid=w&auth=k&tt=1`)).status, 400)
      assert.strictEqual((yield* call(`${S}/secret-pnpres/0?uuid=w&auth=k&tt=1`)).status, 403)
      assert.strictEqual((yield* Effect.flatMap(Emulator.Emulator, (em) => em.snapshot)).holding, 0)
    }).pipe(Effect.provide(Emulator.layer({ grants: { k: { channels: ["lobby-pnpres"] } } }))))

  it.effect("signing applies: an unsigned poll with a secret key set is refused", () =>
    Effect.gen(function*() {
      const r = yield* call(`${S}/lobby-pnpres/0?uuid=w`)
      assert.strictEqual(r.status, 403)
    }).pipe(Effect.provide(Emulator.layer({ secretKey: Redacted.make("s3cret"), publishKey: "pub" }))))
})

describe("the SDK reads what the service may send", () => {
  const watcher = new Keyset.Keyset({ subscribeKey: "demo", userId: "watcher" })
  const Live = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: watcher }))

  const answer = (messages: ReadonlyArray<unknown>) =>
    JSON.stringify({ t: { t: "10000000000000009", r: 1 }, m: messages })

  it.scoped("an interval event with a string timestamp; a message for a subscription not asked for is dropped", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const events = yield* Presence.subscribeEvents({ channels: ["lobby"] })
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events, 1)))
      yield* em.addFault({
        path: S,
        status: 200,
        times: 1,
        body: answer([
          {
            a: "1",
            f: 0,
            p: { t: "10000000000000008" },
            c: "other-pnpres",
            b: "other-pnpres",
            d: { action: "join", uuid: "x", timestamp: 1, occupancy: 1 }
          },
          {
            a: "1",
            f: 0,
            p: { t: "10000000000000009" },
            c: "lobby-pnpres",
            d: { action: "interval", timestamp: "1700000000", occupancy: 30, join: ["a", "b"] }
          }
        ])
      })
      yield* TestClock.adjust("1 second")
      const [e] = [...yield* Fiber.join(fiber)]
      assert.strictEqual(e._tag, "Interval")
      if (e._tag === "Interval") {
        assert.strictEqual(e.timestamp, 1_700_000_000)
        assert.strictEqual(e.timetoken, "10000000000000009")
        assert.deepStrictEqual([e.joined, e.left, e.timedOut, e.hereNowRefresh], [["a", "b"], [], [], false])
      }
    }).pipe(Effect.provide(Live)))

  it.scoped("polls are spans with no secrets; events received are counted", () =>
    Effect.gen(function*() {
      const native = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const recording = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
      const received = (yield* Metric.value(PresenceEvent.eventsReceived)).count
      const secretive = new Keyset.Keyset({
        subscribeKey: "demo",
        publishKey: "pub",
        userId: "watcher",
        secretKey: Redacted.make("sec-TOPSECRET"),
        authKey: Redacted.make("auth-TOPSECRET")
      })
      yield* Effect.gen(function*() {
        const events = yield* Presence.subscribeEvents({ channels: ["lobby"], keyset: secretive })
        const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events, 1)))
        yield* Presence.announceHeartbeat({
          channels: ["lobby"],
          keyset: new Keyset.Keyset({ ...secretive, userId: "u1" })
        })
        yield* Fiber.join(fiber)
      }).pipe(Effect.withTracer(recording))
      const polls = spans.filter((s) => s.name === "Presence.events.poll")
      assert.isAtLeast(polls.length, 2, "the handshake and the poll that got the join")
      const recorded = spans.map((s) => JSON.stringify([s.name, [...s.attributes]])).join("\n")
      assert.notInclude(recorded, "TOPSECRET")
      assert.notInclude(recorded, "signature=")
      assert.isAtLeast((yield* Metric.value(PresenceEvent.eventsReceived)).count - received, 1)
    }).pipe(Effect.provide(Layer.merge(
      Emulator.layerTest({ secretKey: Redacted.make("sec-TOPSECRET"), publishKey: "pub" }),
      Keyset.layer({ default: watcher })
    ))))
})

describe("emulator on a socket: held polls go away with their clients", () => {
  /** Opens `n` polls at once and then abandons them all: none stays held. */
  it.scopedLive("1,000 abandoned polls do not pile up", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
      const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
      const em = yield* Effect.provide(Emulator.Emulator, ctx)
      const [host, port] = origin.split(":")
      const tt = yield* Effect.map(em.serve("GET", `${S}/x-pnpres/0?uuid=w`), (r) => JSON.parse(r.body).t.t as string)
      const open = Array.from({ length: 1000 }, (_, i) => {
        const req = httpRequest({
          host,
          port: Number(port),
          path: `${S}/c${i}-pnpres/0?uuid=w${i}&tt=${tt}`,
          agent: false
        })
        req.on("error", () => {})
        req.end()
        return req
      })
      const waitFor = (n: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 600 && (yield* em.snapshot).holding !== n; i++) yield* Effect.sleep("50 millis")
          return (yield* em.snapshot).holding
        })
      assert.strictEqual(yield* waitFor(1000), 1000, "all 1,000 held")
      for (const req of open) req.destroy()
      assert.strictEqual(yield* waitFor(0), 0, "none left once their clients went away")
    }))
})
