/**
 * The managed heartbeat under hostile conditions: answers that would crash a step, a first
 * heartbeat that fails once, `enter` interrupted at any moment, handles used after close,
 * options from callers without types, and printing a session.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Metric,
  Option,
  Redacted,
  Schedule,
  Scope,
  TestClock,
  Tracer
} from "effect"
import { inspect } from "node:util"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence, PresenceSession, PubNubConfig } from "../src/index.js"

const alice = new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" })
const Keys = Keyset.layer({ default: alice })
const Live = Layer.merge(Emulator.layerTest(), Keys)

const HB = "/v2/presence/sub-key/demo/channel"
const DEEP = "[".repeat(5000) + "]".repeat(5000)

const snapshot = Effect.flatMap(Emulator.Emulator, (em) => em.snapshot)
const isPresent = (channel: string, uuid = "alice") =>
  Effect.map(snapshot, (s) => s.keys.demo?.channels[channel]?.occupants[uuid] !== undefined)
const stat = (op: "heartbeat" | "leave") => Effect.map(snapshot, (s) => s.stats[op])
const count = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)

/**
 * The emulator behind a client whose answers take `delayMs` to arrive after the emulator acted on
 * the request: the window in which an interrupted caller has already been announced.
 */
const slowAnswers = (delayMs: number, options: Emulator.Options = {}) =>
  Layer.mergeAll(
    Layer.effect(
      HttpClient.HttpClient,
      Effect.map(
        Emulator.httpClient,
        (client) =>
          HttpClient.transformResponse(client, (response) =>
            Effect.tap(response, () => Effect.sleep(`${delayMs} millis`)))
      )
    ),
    PubNubConfig.layer({ origin: Emulator.TEST_ORIGIN, secure: false })
  ).pipe(Layer.provideMerge(Emulator.layer(options)), Layer.merge(Keys))

describe("a step that fails in any unexpected way never leaves the session claiming presence", () => {
  it.scoped("a deeply nested answer to a later heartbeat turns the status AtRisk, then Expired", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60 })
      yield* em.addFault({ path: HB, status: 200, body: DEEP, probability: 1 })
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* session.status)._tag, "AtRisk")
      yield* TestClock.adjust("60 seconds")
      const status = yield* session.status
      assert.strictEqual(status._tag, "Expired")
      if (status._tag === "Expired") assert.strictEqual(status.lastError._tag, "MalformedResponseError")
      yield* em.clearFaults
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* session.status)._tag, "Present", "and it recovers")
    }).pipe(Effect.provide(Live)))

  it.scoped("a client that dies on a heartbeat: AtRisk, and heartbeats go on", () => {
    let dying = false
    const attempts = { n: 0 }
    const Dying = Layer.mergeAll(
      Layer.effect(
        HttpClient.HttpClient,
        Effect.map(Emulator.httpClient, (client) =>
          HttpClient.make((request) => {
            if (request.url.includes("/heartbeat")) attempts.n++
            return dying && request.url.includes("/heartbeat")
              ? Effect.die(new Error("client bug"))
              : client.execute(request)
          }))
      ),
      PubNubConfig.layer({ origin: Emulator.TEST_ORIGIN, secure: false })
    ).pipe(Layer.provideMerge(Emulator.layer()), Layer.merge(Keys))
    return Effect.gen(function*() {
      const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60 })
      dying = true
      yield* TestClock.adjust("30 seconds")
      const status = yield* session.status
      assert.strictEqual(status._tag, "AtRisk")
      const before = attempts.n
      yield* TestClock.adjust("5 minutes")
      assert.isAbove(attempts.n, before, "it keeps trying")
      dying = false
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* session.status)._tag, "Present")
    }).pipe(Effect.provide(Dying))
  })
})

describe("no ghost after an interrupted or failed enter", () => {
  // a small seeded generator, so a failure replays
  const lcg = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648

  it.effect("100 interrupts at random moments: nobody is left present", () =>
    Effect.gen(function*() {
      const random = lcg(7)
      let interruptedAfterAnnounce = 0
      for (let i = 0; i < 100; i++) {
        const channel = `room-${i}`
        const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(
          Presence.enter({ channels: [channel], leaveTimeout: "5 seconds" }),
          Effect.never
        )))
        yield* TestClock.adjust(`${Math.floor(random() * 2500)} millis`)
        if (yield* isPresent(channel)) interruptedAfterAnnounce++
        yield* Fiber.interruptFork(fiber)
        yield* TestClock.adjust("10 seconds") // the leave, itself answered slowly
        assert.isFalse(yield* isPresent(channel), `a ghost in ${channel}`)
      }
      // the test means something only if many interrupts came after the service had acted
      assert.isAbove(interruptedAfterAnnounce, 25)
    }).pipe(Effect.provide(slowAnswers(1000))))

  it.effect("a first heartbeat that keeps timing out fails enter, and leaves (it may have been announced)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.scoped(Presence.enter({ channels: ["lobby"], heartbeat: 20 })))
      yield* TestClock.adjust("2 minutes")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.strictEqual(Option.getOrThrow(Cause.failureOption(exit.cause))._tag, "RequestTimeoutError")
      }
      assert.isFalse(yield* isPresent("lobby"))
      assert.isAbove(yield* stat("leave"), 0)
    }).pipe(
      Effect.provide(slowAnswers(15_000)),
      Effect.provide(PubNubConfig.layer({ origin: Emulator.TEST_ORIGIN, secure: false, requestTimeout: "2 seconds" }))
    ))

  it.effect("a session of the same user keeps what it holds when another enter is interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const first = yield* Effect.fork(Scope.extend(Presence.enter({ channels: ["lobby"] }), scope))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(first)
      const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(
        Presence.enter({ channels: ["lobby", "kitchen"] }),
        Effect.never
      )))
      yield* TestClock.adjust("500 millis") // announced, answer not yet back
      assert.isTrue(yield* isPresent("kitchen"))
      yield* Fiber.interruptFork(fiber)
      yield* TestClock.adjust("10 seconds")
      assert.isFalse(yield* isPresent("kitchen"), "what only the interrupted enter held is left")
      assert.isTrue(yield* isPresent("lobby"), "what the other session holds stays")
      yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("10 seconds")
      assert.isFalse(yield* isPresent("lobby"))
    }).pipe(Effect.provide(slowAnswers(1000))))
})

describe("enter and transient failures", () => {
  it.scoped("one 503 on the first heartbeat is retried: enter succeeds", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: HB, status: 503, times: 1 })
      const retries = yield* count(PresenceSession.heartbeatRetries)
      const fiber = yield* Effect.fork(Presence.enter({ channels: ["lobby"] }))
      yield* TestClock.adjust("5 seconds")
      const session = yield* Fiber.join(fiber)
      assert.strictEqual((yield* session.status)._tag, "Present")
      assert.isTrue(yield* isPresent("lobby"))
      assert.strictEqual((yield* count(PresenceSession.heartbeatRetries)) - retries, 1)
    }).pipe(Effect.provide(Live)))

  it.scoped("a 429 on the first heartbeat waits for its Retry-After", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: HB, status: 429, retryAfter: 7, times: 1 })
      const fiber = yield* Effect.fork(Presence.enter({ channels: ["lobby"] }))
      yield* TestClock.adjust("6 seconds")
      assert.isFalse(yield* isPresent("lobby"), "not before Retry-After")
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.isTrue(yield* isPresent("lobby"))
    }).pipe(Effect.provide(Live)))

  it.effect("a lasting outage fails enter within one interval, with the last error", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: HB, status: 503, probability: 1 })
      const failures = yield* count(PresenceSession.heartbeatFailures)
      const fiber = yield* Effect.fork(Effect.scoped(Presence.enter({ channels: ["lobby"], heartbeat: 60 })))
      yield* TestClock.adjust("29 seconds") // the interval
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.strictEqual(Option.getOrThrow(Cause.failureOption(exit.cause))._tag, "ServerError")
      }
      const attempts = (yield* count(PresenceSession.heartbeatFailures)) - failures
      assert.isAbove(attempts, 1)
      assert.isBelow(attempts, 10)
    }).pipe(Effect.provide(Live)))

  for (const status of [400, 402, 403]) {
    it.effect(`a ${status} fails enter at once, after one request, and nothing is left`, () =>
      Effect.gen(function*() {
        const em = yield* Emulator.Emulator
        yield* em.addFault({ path: HB, status, probability: 1 })
        const failures = yield* count(PresenceSession.heartbeatFailures)
        const exit = yield* Effect.exit(Effect.scoped(Presence.enter({ channels: ["lobby"] })))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* count(PresenceSession.heartbeatFailures)) - failures, 1)
        assert.strictEqual(yield* stat("leave"), 0, "a refused heartbeat announced nothing")
      }).pipe(Effect.provide(Live)))
  }
})

describe("closed sessions", () => {
  it.effect("after close every method fails with a typed error and sends nothing", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const session = yield* Scope.extend(Presence.enter({ channels: ["lobby"] }), scope)
      yield* Scope.close(scope, Exit.void)
      const em = yield* Emulator.Emulator
      const before = (yield* em.requests).length
      for (
        const call of [
          session.add({ channels: ["kitchen"] }),
          session.remove({ channels: ["lobby"] }),
          session.setState({ mood: "late" })
        ]
      ) {
        const e = yield* Effect.flip(call)
        assert.strictEqual(e._tag, "InvalidArgumentError")
        assert.include(e.message, "closed")
      }
      assert.strictEqual((yield* em.requests).length, before)
      yield* TestClock.adjust("1 hour")
      assert.isFalse(yield* isPresent("kitchen"))
      assert.strictEqual((yield* session.status)._tag, "Stopped")
    }).pipe(Effect.provide(Live)))
})

describe("runtime checks for callers without types", () => {
  const throwing = new Proxy({}, {
    get: () => {
      throw new Error("trap")
    },
    ownKeys: () => {
      throw new Error("trap")
    },
    getOwnPropertyDescriptor: () => {
      throw new Error("trap")
    },
    has: () => {
      throw new Error("trap")
    }
  })
  const throwingIterable: Iterable<string> = {
    [Symbol.iterator]: () => ({
      next: () => {
        throw new Error("iterator trap")
      }
    })
  }
  const cases: ReadonlyArray<readonly [string, unknown]> = [
    ["retry: 42", { channels: ["a"], retry: 42 }],
    ["retry: a function", { channels: ["a"], retry: () => 1 }],
    ["interval: 0.001", { channels: ["a"], interval: 0.001 }],
    ["interval: 0.5", { channels: ["a"], interval: 0.5 }],
    ["a throwing iterator as channels", { channels: throwingIterable }],
    ["a throwing Proxy as channels", { channels: throwing }],
    ["a throwing Proxy as state", { channels: ["a"], state: { a: throwing } }],
    ["a throwing Proxy as the state map", { channels: ["a"], state: throwing }],
    ["a throwing Proxy as options", throwing],
    ["announceLeave: 'yes'", { channels: ["a"], announceLeave: "yes" }],
    ["leaveTimeout: 'soon'", { channels: ["a"], leaveTimeout: "soon" }]
  ]
  for (const [name, options] of cases) {
    it.effect(`enter with ${name}: InvalidArgumentError, nothing sent`, () =>
      Effect.gen(function*() {
        // @ts-expect-error: what a caller without types can pass
        const exit = yield* Effect.exit(Effect.scoped(Presence.enter(options)))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.isDie(exit.cause), Cause.pretty(exit.cause))
          assert.strictEqual(Option.getOrThrow(Cause.failureOption(exit.cause))._tag, "InvalidArgumentError")
        }
        assert.strictEqual((yield* (yield* Emulator.Emulator).requests).length, 0)
      }).pipe(Effect.provide(Live)))
  }

  it.effect("interval: 1 (the floor) and a real Schedule are accepted", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Presence.enter({ channels: ["a"], interval: 1, retry: Schedule.spaced("1 second") }))
      assert.strictEqual(yield* stat("heartbeat"), 1)
    }).pipe(Effect.provide(Live)))

  it.effect("a state that changes after it was checked cannot send something unchecked", () =>
    Effect.gen(function*() {
      let reads = 0
      const shifty = {
        get mood() {
          return reads++ === 0 ? "fine" : { nested: true }
        }
      }
      // an accessor property is not plain data: refused outright
      const e = yield* Effect.flip(
        Effect.scoped(Presence.enter({ channels: ["a"], state: { a: shifty as unknown as Presence.PresenceState } }))
      )
      assert.strictEqual(e._tag, "InvalidArgumentError")
    }).pipe(Effect.provide(Live)))
})

describe("a session never prints a secret", () => {
  const AUTH = "auth-SECRET-7f3a"
  const SECRET = "sec-SECRET-91bc"
  const keyset = new Keyset.Keyset({
    subscribeKey: "demo",
    publishKey: "pub",
    userId: "alice",
    authKey: Redacted.make(AUTH),
    secretKey: Redacted.make(SECRET)
  })

  it.scoped("inspect, String, JSON, Effect.log, spans and their exits", () => {
    const logged: Array<string> = []
    const logger = Logger.make(({ message }) => logged.push(inspect(message, { depth: 10 })))
    const spans: Array<Tracer.Span> = []
    const program = Effect.gen(function*() {
      const session = yield* Presence.enter({ channels: ["lobby"], keyset })
      yield* Effect.log(session)
      yield* TestClock.adjust("5 minutes")
      const printed = [
        inspect(session, { depth: 20 }),
        String(session),
        JSON.stringify(session),
        ...logged,
        ...spans.map((s) => inspect({ name: s.name, attributes: s.attributes, status: s.status }, { depth: 20 }))
      ].join("\n")
      assert.include(printed, "alice")
      assert.notInclude(printed, AUTH)
      assert.notInclude(printed, SECRET)
      assert.isAbove(spans.length, 2)
    })
    return Effect.gen(function*() {
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = base.span(name, parent, context, links, startTime, kind, options)
          spans.push(span)
          return span
        },
        context: base.context
      })
      yield* Effect.withTracer(program, tracer)
    }).pipe(
      Effect.provide(Layer.merge(Emulator.layerTest({ secretKey: SECRET, publishKey: "pub" }), Keys)),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  })

  it("a keyset built without types, with plain-string secrets, never prints them", () => {
    // @ts-expect-error: plain strings, as a caller without types passes them
    const k = new Keyset.Keyset({ subscribeKey: "demo", userId: "u", secretKey: SECRET, authKey: AUTH })
    const printed = [inspect(k, { depth: 10 }), String(k), JSON.stringify(k)].join("\n")
    assert.notInclude(printed, SECRET)
    assert.notInclude(printed, AUTH)
    assert.strictEqual(Redacted.value(k.secretKey ?? Redacted.make("")), SECRET, "and it still signs with it")
  })

  it("a secret of the wrong kind is refused without being printed", () => {
    const odd = { toString: () => SECRET, valueOf: () => SECRET }
    // @ts-expect-error: not a string
    assert.throws(() => new Keyset.Keyset({ subscribeKey: "demo", userId: "u", secretKey: odd }), /^(?![\s\S]*SECRET)/)
    const made = Effect.runSync(Effect.flip(Keyset.make({
      subscribeKey: "demo",
      userId: "u",
      // @ts-expect-error: not a string
      authKey: odd
    })))
    assert.strictEqual(made._tag, "InvalidArgumentError")
    assert.notInclude(made.message, SECRET)
  })
})

describe("a transport failure by a defect in the request pipeline", () => {
  it.effect("HttpClient failures that are not defects stay typed", () =>
    Effect.gen(function*() {
      const Failing = Layer.succeed(
        HttpClient.HttpClient,
        HttpClient.make((request) =>
          Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("nope") }))
        )
      )
      const e = yield* Effect.flip(Presence.whereNow().pipe(Effect.provide(Layer.merge(Failing, Keys))))
      assert.strictEqual(e._tag, "TransportError")
    }))
})
