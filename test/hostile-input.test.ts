/**
 * Hostile and careless input: sharing across credentials, names a URL parser rewrites or that
 * are property names in disguise, callers without types, unusable config.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence, PubNubConfig } from "../src/index.js"
import * as Fake from "./util/FakeHttp.js"

const failure = <R>(op: Effect.Effect<unknown, unknown, R>) =>
  Effect.flatMap(Effect.exit(op), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.dieMessage("expected a failure, got a success")
    const f = Cause.failureOption(exit.cause)
    return Option.isSome(f) ? Effect.succeed(f.value as { _tag: string; message: string }) : Effect.die(exit.cause)
  })

describe("sharing never crosses authorization", () => {
  const keyset = (secret: string, publishKey = "pub") =>
    new Keyset.Keyset({ subscribeKey: "demo", publishKey, userId: "alice", secretKey: Redacted.make(secret) })
  const right = keyset("right")
  const Live = Layer.merge(
    Emulator.layerTest({ secretKey: "right", publishKey: "pub" }),
    Keyset.layer({ default: right })
  )

  for (
    const [name, wrong] of [["a wrong secret key", keyset("wrong")], [
      "a wrong publish key",
      keyset("right", "bub")
    ]] as const
  ) {
    it.effect(`concurrent identical reads with ${name} do not share a request`, () =>
      Effect.gen(function*() {
        const [ok, refused] = yield* Effect.all([
          Effect.either(Presence.hereNow({ channels: ["lobby"], keyset: right })),
          Effect.either(Presence.hereNow({ channels: ["lobby"], keyset: wrong }))
        ], { concurrency: "unbounded" })
        assert.isTrue(ok._tag === "Right")
        assert.isTrue(refused._tag === "Left" && refused.left._tag === "AccessDeniedError")
      }).pipe(Effect.provide(Live)))

    it.effect(`a cached answer is not handed to a keyset with ${name}`, () =>
      Effect.gen(function*() {
        yield* Presence.whereNow({ keyset: right, cacheTtl: "1 minute" })
        const e = yield* failure(Presence.whereNow({ keyset: wrong, cacheTtl: "1 minute" }))
        assert.strictEqual(e._tag, "AccessDeniedError")
        yield* Presence.getState({ channels: ["a"], keyset: right, cacheTtl: "1 minute" })
        assert.strictEqual(
          (yield* failure(Presence.getState({ channels: ["a"], keyset: wrong, cacheTtl: "1 minute" })))._tag,
          "AccessDeniedError"
        )
      }).pipe(Effect.provide(Live)))
  }

  it.effect("equal secrets in separate Redacted values still share", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const twin = keyset("right")
      yield* Effect.all([
        Presence.hereNow({ channels: ["lobby"], keyset: right }),
        Presence.hereNow({ channels: ["lobby"], keyset: twin })
      ], { concurrency: "unbounded" })
      assert.strictEqual((yield* em.snapshot).stats.hereNow, 1)
    }).pipe(Effect.provide(Live)))
})

describe("names a URL parser would rewrite are refused", () => {
  const { requests, layer } = Fake.layer()
  const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown, Presence.Requirements>]> = [
    ["channel ..", Presence.hereNow({ channels: [".."] })],
    ["channel .", Presence.hereNow({ channels: ["."] })],
    ["group ..", Presence.hereNow({ channelGroups: [".."] })],
    ["heartbeat on ..", Presence.announceHeartbeat({ channels: [".."] })],
    ["leave of .", Presence.announceLeave({ channels: ["."] })],
    ["where-now of uuid ..", Presence.whereNow({ uuid: ".." })],
    ["get-state of uuid .", Presence.getState({ channels: ["a"], uuid: "." })]
  ]
  for (const [name, op] of cases) {
    it.effect(`${name}: InvalidArgumentError, nothing sent`, () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* failure(Effect.provide(op, layer)))._tag, "InvalidArgumentError")
        assert.strictEqual(requests.length, 0)
      }))
  }

  it.effect("a keyset whose subscribe key or user id is a dot segment cannot be made", () =>
    Effect.gen(function*() {
      for (const props of [{ subscribeKey: "..", userId: "u" }, { subscribeKey: "demo", userId: ".." }]) {
        assert.strictEqual((yield* Effect.flip(Keyset.make(props)))._tag, "InvalidArgumentError")
      }
    }))

  it.effect("names with dots that are not a whole segment are fine", () =>
    Effect.gen(function*() {
      yield* Effect.provide(
        Presence.hereNow({ channels: ["a.b", "...", ".x"] }),
        Fake.layer(() => Fake.ok({ payload: { channels: {}, total_channels: 0, total_occupancy: 0 } })).layer
      )
    }))
})

describe("results keep every name, __proto__ too", () => {
  const proto = new Keyset.Keyset({ subscribeKey: "demo", userId: "__proto__" })
  const Live = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: proto }))

  it.effect("here-now, get-state, where-now and the emulator's snapshot", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({
        channels: ["__proto__", "constructor", "x"],
        state: new Map([["__proto__", { k: 1 }]])
      })
      for (const stateInfo of ["all", "onlyUUIDs"] as const) {
        const many = yield* Presence.hereNow({ channels: ["__proto__", "x"], stateInfo })
        assert.deepStrictEqual([...many.channels.keys()].sort(), ["__proto__", "x"])
        assert.isTrue(many.channels.get("__proto__")?.uuids.has("__proto__"))
      }
      const one = yield* Presence.hereNow({ channels: ["__proto__"], stateInfo: "all" })
      assert.deepStrictEqual(
        Option.getOrNull(one.channels.get("__proto__")?.uuids.get("__proto__")?.state ?? Option.none()),
        { k: 1 }
      )
      const global = yield* Presence.hereNow()
      assert.deepStrictEqual([...global.channels.keys()].sort(), ["__proto__", "constructor", "x"])
      const state = yield* Presence.getState({ channels: ["__proto__", "x"] })
      assert.deepStrictEqual([...state.channels.keys()].sort(), ["__proto__", "x"])
      assert.deepStrictEqual((yield* Presence.whereNow()).channels.slice().sort(), ["__proto__", "constructor", "x"])
      const snap = yield* (yield* Emulator.Emulator).snapshot
      assert.isTrue(Object.hasOwn(snap.keys.demo.channels, "__proto__"))
      assert.isTrue(Object.hasOwn(snap.keys.demo.channels.__proto__.occupants, "__proto__"))
    }).pipe(Effect.provide(Live)))

  it.effect("a state key named __proto__ stays a key", () =>
    Effect.gen(function*() {
      const state = JSON.parse("{\"__proto__\":\"x\",\"mood\":\"y\"}") as Presence.PresenceState
      const set = yield* Presence.setState({ channels: ["a"], state })
      assert.deepStrictEqual(Object.keys(set.state).sort(), ["__proto__", "mood"])
    }).pipe(Effect.provide(Live)))
})

describe("callers without types: a typed error, never a defect", () => {
  const trap = () => {
    throw new Error("trap")
  }
  const throwing = new Proxy({}, { get: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, has: trap })
  const throwingIterable = { [Symbol.iterator]: () => ({ next: trap }) }
  const endlessIterable = {
    [Symbol.iterator]: () => {
      let i = 0
      return { next: () => ({ done: false, value: `c${i++}` }) }
    }
  }
  const u = <A>(a: unknown): A => a as A
  const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown, Presence.Requirements>]> = [
    ["hereNow(Proxy)", Presence.hereNow(u(throwing))],
    ["hereNow(42)", Presence.hereNow(u(42))],
    ["hereNow({ channels: throwing iterator })", Presence.hereNow({ channels: u(throwingIterable) })],
    ["hereNow({ channels: endless iterator })", Presence.hereNow({ channels: u(endlessIterable) })],
    ["hereNow({ channels: Proxy })", Presence.hereNow({ channels: u(throwing) })],
    ["hereNowAll(Proxy)", Presence.hereNowAll(u(throwing))],
    ["whereNow(Proxy)", Presence.whereNow(u(throwing))],
    ["whereNow({ uuid: 42 })", Presence.whereNow({ uuid: u(42) })],
    ["getState(Proxy)", Presence.getState(u(throwing))],
    ["setState({ state: Proxy })", Presence.setState({ channels: ["a"], state: u(throwing) })],
    ["setState(undefined)", Presence.setState(u(undefined))],
    ["announceHeartbeat({ state: Proxy })", Presence.announceHeartbeat({ channels: ["a"], state: u(throwing) })],
    [
      "announceHeartbeat({ state: { a: Proxy } })",
      Presence.announceHeartbeat({ channels: ["a"], state: { a: u(throwing) } })
    ],
    ["announceLeave({ channelGroups: Proxy })", Presence.announceLeave({ channelGroups: u(throwing) })],
    ["hereNow({ using: 42 })", Presence.hereNow({ using: u(42) })],
    ["hereNow({ keyset: {} })", Presence.hereNow({ keyset: u({}) })]
  ]
  for (const [name, op] of cases) {
    it.effect(`${name}: InvalidArgumentError, nothing sent`, () =>
      Effect.gen(function*() {
        const { requests, layer } = Fake.layer()
        assert.strictEqual((yield* failure(Effect.provide(op, layer)))._tag, "InvalidArgumentError")
        assert.strictEqual(requests.length, 0)
      }))
  }

  it.effect("a KeysetService whose default is not a Keyset: InvalidArgumentError per call", () =>
    Effect.gen(function*() {
      const { requests, layer } = Fake.make()
      const keys = Keyset.layer({ default: u({ subscribeKey: "demo", userId: "a", authKey: "plain" }) })
      const e = yield* failure(Presence.whereNow().pipe(Effect.provide(Layer.mergeAll(layer, keys, Fake.testConfig))))
      assert.strictEqual(e._tag, "InvalidArgumentError")
      assert.notInclude(e.message, "plain")
      assert.strictEqual(requests.length, 0)
    }))
})

describe("PubNubConfig never throws; what it cannot use fails each call", () => {
  const cases: ReadonlyArray<readonly [string, PubNubConfig.Options]> = [
    ["origin ftp://x", { origin: "ftp://x" }],
    ["origin with a path", { origin: "http://x/y" }],
    ["origin with a space", { origin: "a b" }],
    ["origin port 70000", { origin: "x:70000" }],
    ["origin says http, secure: true", { origin: "http://x", secure: true }],
    ["requestTimeout 'soon'", { requestTimeout: "soon" as unknown as number }],
    ["requestTimeout 0", { requestTimeout: 0 }],
    ["maxResponseBytes -1", { maxResponseBytes: -1 }],
    ["pnsdk ''", { pnsdk: "" }]
  ]
  for (const [name, options] of cases) {
    it.effect(`${name}: InvalidArgumentError naming it, nothing sent`, () =>
      Effect.gen(function*() {
        const { requests, layer } = Fake.make()
        const live = Layer.mergeAll(layer, Keyset.layer({ default: Fake.alice }), PubNubConfig.layer(options))
        const e = yield* failure(Effect.provide(Presence.whereNow(), live))
        assert.strictEqual(e._tag, "InvalidArgumentError")
        assert.include(e.message, "PubNubConfig.")
        assert.strictEqual(requests.length, 0)
      }))
  }

  it.effect("an origin with a scheme sets secure", () =>
    Effect.gen(function*() {
      for (
        const [origin, base] of [["http://127.0.0.1:8090", "http://127.0.0.1:8090/"], [
          "https://pn.test/",
          "https://pn.test/"
        ]]
      ) {
        const { requests, layer } = Fake.make(() => Fake.ok({ payload: { channels: [] } }))
        yield* Presence.whereNow().pipe(
          Effect.provide(Layer.mergeAll(layer, Keyset.layer({ default: Fake.alice }), PubNubConfig.layer({ origin })))
        )
        assert.isTrue(requests[0].url.href.startsWith(base), requests[0].url.href)
      }
    }))

  it("sends pnsdk as Name-Language/Version", () => {
    assert.match(PubNubConfig.SDK_NAME, /^[A-Za-z][A-Za-z0-9]*-[A-Za-z]+\/\d+\.\d+\.\d+$/)
  })
})
