import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Metric, Option, Schedule, Scope, Stream, TestClock } from "effect"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence, PresenceSession } from "../src/index.js"

const alice = new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" })
const Live = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: alice }))

const HB = "/v2/presence/sub-key/demo/channel"

const snapshot = Effect.flatMap(Emulator.Emulator, (em) => em.snapshot)
const isPresent = (channel: string, uuid = "alice") =>
  Effect.map(snapshot, (s) => s.keys.demo?.channels[channel]?.occupants[uuid] !== undefined)
const stat = (op: "heartbeat" | "leave") => Effect.map(snapshot, (s) => s.stats[op])
const stateAt = (channel: string, uuid = "alice") =>
  Effect.map(snapshot, (s) => s.keys.demo?.channels[channel]?.occupants[uuid]?.state)

/** Steps virtual time one second at a time, checking `check` after each step. */
const stepSeconds = <R>(seconds: number, check: Effect.Effect<void, never, R>) =>
  Effect.forEach(Array.from({ length: seconds }), () => Effect.zipRight(TestClock.adjust("1 second"), check), {
    discard: true
  })

const collect = (session: PresenceSession.PresenceSession) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    yield* Effect.forkScoped(
      Stream.runForEach(session.statusChanges, (s) =>
        Effect.sync(() => {
          if (seen[seen.length - 1] !== s._tag) seen.push(s._tag)
        }))
    )
    yield* Effect.repeatN(Effect.yieldNow(), 3)
    return seen
  })

describe("Presence.enter: steady state", () => {
  it.scoped("holds presence for 6 hours of virtual time, one heartbeat per interval exactly", () =>
    Effect.gen(function*() {
      const session = yield* Presence.enter({ channels: ["lobby"] }) // heartbeat 300, interval 149
      for (let hour = 1; hour <= 6; hour++) {
        yield* TestClock.adjust("1 hour")
        assert.isTrue(yield* isPresent("lobby"), `present after ${hour} h`)
      }
      assert.strictEqual(yield* stat("heartbeat"), 1 + Math.floor((6 * 3600) / 149))
      const status = yield* session.status
      assert.strictEqual(status._tag, "Present")
      if (status._tag === "Present") {
        assert.strictEqual(status.expiresAt, Math.floor((6 * 3600) / 149) * 149_000 + 300_000)
      }
    }).pipe(Effect.provide(Live)))

  it.scoped("honours a custom heartbeat and interval", () =>
    Effect.gen(function*() {
      yield* Presence.enter({ channels: ["lobby"], heartbeat: 30, interval: 10 })
      yield* TestClock.adjust("100 seconds")
      assert.strictEqual(yield* stat("heartbeat"), 11)
      const occupant = (yield* snapshot).keys.demo.channels.lobby.occupants.alice
      assert.strictEqual(occupant.timeout, 30)
    }).pipe(Effect.provide(Live)))

  it.scoped("counts heartbeats in its metrics", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(PresenceSession.heartbeatSuccesses)).count
      yield* Presence.enter({ channels: ["lobby"], heartbeat: 30, interval: 10 })
      yield* TestClock.adjust("30 seconds")
      const after = (yield* Metric.value(PresenceSession.heartbeatSuccesses)).count
      assert.strictEqual(after - before, 4)
    }).pipe(Effect.provide(Live)))
})

describe("Presence.enter: retries within the presence budget", () => {
  // heartbeat 60, interval 29: an outage shorter than 60 - 29 = 31 s must go unnoticed
  const faults: ReadonlyArray<readonly [string, Emulator.Fault, number]> = [
    ["a burst of 503s", { path: HB, status: 503, probability: 1 }, 30],
    ["500s", { path: HB, status: 500, probability: 1 }, 30],
    ["429 with Retry-After", { path: HB, status: 429, retryAfter: 5, probability: 1 }, 30],
    ["dropped connections", { path: HB, drop: true, probability: 1 }, 30],
    ["malformed bodies", { path: HB, malformed: true, probability: 1 }, 30],
    // a timed-out attempt holds the line for the 10 s request timeout, so less outage fits
    ["timeouts", { path: HB, delayMs: 60_000, probability: 1 }, 18]
  ]

  /** A session in "lobby" (60 s), its status changes collected, and `fault` on from 28 s in. */
  const faultedSession = (fault: Emulator.Fault) =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60 })
      const seen = yield* collect(session)
      yield* TestClock.adjust("28 seconds")
      yield* em.addFault(fault)
      return { em, session, seen }
    })

  for (const [name, fault, shortOutage] of faults) {
    it.scoped(`${name}: a ${shortOutage} s outage never shows at the emulator`, () =>
      Effect.gen(function*() {
        const { em, seen } = yield* faultedSession(fault)
        const alwaysPresent = Effect.flatMap(isPresent("lobby"), (p) => Effect.sync(() => assert.isTrue(p)))
        yield* stepSeconds(shortOutage, alwaysPresent)
        yield* em.clearFaults
        yield* stepSeconds(90, alwaysPresent)
        assert.deepStrictEqual(seen, ["Present", "AtRisk", "Present"])
      }).pipe(Effect.provide(Live)))

    it.scoped(`${name}: a long outage goes atRisk → expired → present again`, () =>
      Effect.gen(function*() {
        const { em, seen, session } = yield* faultedSession(fault)
        yield* TestClock.adjust("100 seconds")
        assert.isFalse(yield* isPresent("lobby"), "timed out at the emulator")
        const expired = yield* session.status
        assert.strictEqual(expired._tag, "Expired")
        yield* em.clearFaults
        yield* TestClock.adjust("40 seconds")
        assert.isTrue(yield* isPresent("lobby"), "back after the outage")
        assert.deepStrictEqual(seen, ["Present", "AtRisk", "Expired", "Present"])
      }).pipe(Effect.provide(Live)))
  }

  it.scoped("no burst: retries follow the schedule, stop at expiry, then one try per interval", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const failures = Effect.map(Metric.value(PresenceSession.heartbeatFailures), (c) => c.count)
      yield* Presence.enter({ channels: ["lobby"], heartbeat: 60, retry: Schedule.spaced("5 seconds") })
      yield* TestClock.adjust("28 seconds")
      yield* em.addFault({ path: HB, status: 503, probability: 1 })
      const before = yield* failures
      // tick at 29 fails; retries at 34, 39, 44, 49, 54 and a last chance at 59; expired at 60
      yield* TestClock.adjust("32 seconds")
      assert.strictEqual((yield* failures) - before, 7)
      // expired: no more retries, one attempt per 29 s interval (at 89 and 118)
      yield* TestClock.adjust("60 seconds")
      assert.strictEqual((yield* failures) - before, 9)
    }).pipe(Effect.provide(Live)))

  it.scoped("a 403 later stops the session with the error, and heartbeats stop", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60 })
      yield* em.addFault({ path: HB, status: 403, probability: 1 })
      yield* TestClock.adjust("30 seconds")
      const status = yield* session.status
      assert.strictEqual(status._tag, "Stopped")
      if (status._tag === "Stopped") {
        assert.strictEqual(Option.map(status.error, (e) => e._tag).pipe(Option.getOrNull), "AccessDeniedError")
      }
      const failures = (yield* Metric.value(PresenceSession.heartbeatFailures)).count
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* Metric.value(PresenceSession.heartbeatFailures)).count, failures, "no more attempts")
    }).pipe(Effect.provide(Live)))
})

describe("Presence.enter: first heartbeat and bad input", () => {
  it.effect("a 403 at enter fails enter, and nothing is left running", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: HB, status: 403, times: 1 })
      const e = yield* Effect.flip(Effect.scoped(Presence.enter({ channels: ["lobby"] })))
      assert.strictEqual(e._tag, "AccessDeniedError")
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* stat("heartbeat"), 0)
      assert.strictEqual(yield* stat("leave"), 0)
    }).pipe(Effect.provide(Live)))

  const bad: ReadonlyArray<readonly [string, PresenceSession.EnterOptions]> = [
    ["heartbeat 19", { channels: ["a"], heartbeat: 19 }],
    ["heartbeat 321", { channels: ["a"], heartbeat: 321 }],
    ["heartbeat 60.5", { channels: ["a"], heartbeat: 60.5 }],
    ["interval equal to heartbeat", { channels: ["a"], heartbeat: 60, interval: 60 }],
    ["interval above heartbeat", { channels: ["a"], heartbeat: 60, interval: 90 }],
    ["interval 0", { channels: ["a"], interval: 0 }],
    ["interval negative", { channels: ["a"], interval: -5 }],
    ["interval NaN", { channels: ["a"], interval: NaN }],
    ["no channels and no groups", {}],
    ["empty lists", { channels: [], channelGroups: [] }],
    ["an invalid name", { channels: ["a,b"] }],
    ["state for a channel not entered", { channels: ["a"], state: { b: { x: 1 } } }],
    ["nested state", { channels: ["a"], state: { a: { x: { y: 1 } } as unknown as Presence.PresenceState } }],
    ["unknown keyset", { channels: ["a"], using: "nope" }]
  ]
  for (const [name, options] of bad) {
    it.effect(`${name}: a typed error, no request`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(Presence.enter(options)))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.isDie(exit.cause))
          const tag = Cause.failureOption(exit.cause).pipe(Option.map((e) => e._tag), Option.getOrNull)
          assert.oneOf(tag, ["InvalidArgumentError", "KeysetNotFoundError"])
        }
        const em = yield* Emulator.Emulator
        assert.strictEqual((yield* em.requests).length, 0)
      }).pipe(Effect.provide(Live)))
  }
})

describe("Presence.enter: leave on close, however it closes", () => {
  it.effect("normal close: exactly one leave, gone at once", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(
        Effect.zipRight(Presence.enter({ channels: ["lobby", "kitchen"] }), TestClock.adjust("10 minutes"))
      )
      assert.strictEqual(yield* stat("leave"), 1)
      assert.isFalse(yield* isPresent("lobby"))
      assert.isFalse(yield* isPresent("kitchen"))
      const beats = yield* stat("heartbeat")
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* stat("heartbeat"), beats, "the fiber stopped")
    }).pipe(Effect.provide(Live)))

  it.effect("failure of the owning effect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(Effect.zipRight(Presence.enter({ channels: ["lobby"] }), Effect.fail("boom")))
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* stat("leave"), 1)
      assert.isFalse(yield* isPresent("lobby"))
    }).pipe(Effect.provide(Live)))

  it.effect("Fiber.interrupt", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.scoped(Effect.zipRight(Presence.enter({ channels: ["lobby"] }), Effect.never))
      )
      yield* TestClock.adjust("5 minutes")
      assert.isTrue(yield* isPresent("lobby"))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* stat("leave"), 1)
      assert.isFalse(yield* isPresent("lobby"))
    }).pipe(Effect.provide(Live)))

  it.effect("announceLeave: false skips it; a failing leave is logged, not rethrown", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Presence.enter({ channels: ["lobby"], announceLeave: false }))
      assert.strictEqual(yield* stat("leave"), 0)
      assert.isTrue(yield* isPresent("lobby"))
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: `${HB}/kitchen/leave`, status: 500, probability: 1 })
      const exit = yield* Effect.exit(Effect.scoped(Presence.enter({ channels: ["kitchen"] })))
      assert.isTrue(Exit.isSuccess(exit))
    }).pipe(Effect.provide(Live)))

  it.effect("a leave that hangs is bounded by leaveTimeout", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: `${HB}/lobby/leave`, delayMs: 600_000, probability: 1 })
      const fiber = yield* Effect.fork(
        Effect.scoped(Presence.enter({ channels: ["lobby"], leaveTimeout: "2 seconds" }))
      )
      yield* TestClock.adjust("3 seconds")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isSuccess(exit))
    }).pipe(Effect.provide(Live)))
})

describe("Presence.enter: sessions of one user share", () => {
  it.effect("the shared channel survives closing the first; one heartbeat per interval for both", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      yield* Scope.extend(Presence.enter({ channels: ["lobby", "a"] }), first)
      yield* Scope.extend(Presence.enter({ channels: ["lobby", "b"] }), second)
      assert.strictEqual(yield* stat("heartbeat"), 2, "each enter sends its first heartbeat")
      yield* TestClock.adjust("149 seconds")
      assert.strictEqual(yield* stat("heartbeat"), 3, "then one request for both")
      yield* TestClock.adjust("149 seconds")
      assert.strictEqual(yield* stat("heartbeat"), 4)
      yield* Scope.close(first, Exit.void)
      assert.isTrue(yield* isPresent("lobby"), "lobby is still held by the second session")
      assert.isFalse(yield* isPresent("a"), "a was left")
      assert.isTrue(yield* isPresent("b"))
      yield* TestClock.adjust("20 minutes")
      assert.isTrue(yield* isPresent("lobby"))
      yield* Scope.close(second, Exit.void)
      assert.isFalse(yield* isPresent("lobby"))
      assert.strictEqual(yield* stat("leave"), 2)
    }).pipe(Effect.provide(Live)))

  it.effect("a joining session with a shorter interval shortens the shared one", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Scope.extend(Presence.enter({ channels: ["slow"] }), scope)
      yield* Scope.extend(Presence.enter({ channels: ["fast"], heartbeat: 20 }), scope)
      yield* TestClock.adjust("5 minutes")
      assert.isTrue(yield* isPresent("fast"))
      assert.isTrue(yield* isPresent("slow"))
      assert.strictEqual((yield* snapshot).keys.demo.channels.slow.occupants.alice.timeout, 20)
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(Live)))
})

describe("PresenceSession: add, remove, setState", () => {
  it.scoped("changes are visible at the emulator", () =>
    Effect.gen(function*() {
      const session = yield* Presence.enter({ channels: ["lobby"], state: { lobby: { mood: "idle" } } })
      assert.deepStrictEqual(yield* stateAt("lobby"), { mood: "idle" })

      yield* session.add({ channels: ["kitchen"], state: { kitchen: { cooking: true } } })
      assert.isTrue(yield* isPresent("kitchen"), "add heartbeats at once")
      assert.deepStrictEqual(yield* stateAt("kitchen"), { cooking: true })
      assert.deepStrictEqual((yield* session.channels).channels, ["lobby", "kitchen"])

      yield* session.setState({ mood: "typing" }, { channels: ["lobby"] })
      assert.deepStrictEqual(yield* stateAt("lobby"), { mood: "typing" }, "set at once")
      yield* TestClock.adjust("149 seconds")
      assert.deepStrictEqual(yield* stateAt("lobby"), { mood: "typing" }, "kept by the heartbeat")

      yield* session.remove({ channels: ["kitchen"] })
      assert.isFalse(yield* isPresent("kitchen"), "remove announces leave")
      assert.strictEqual(yield* stat("leave"), 1)
      yield* TestClock.adjust("10 minutes")
      assert.isFalse(yield* isPresent("kitchen"), "and the heartbeat no longer carries it")
      assert.isTrue(yield* isPresent("lobby"))

      const notHeld = yield* Effect.flip(session.remove({ channels: ["garden"] }))
      assert.strictEqual(notHeld._tag, "InvalidArgumentError")
      const badState = yield* Effect.flip(session.setState({ a: [1] as unknown as string }))
      assert.strictEqual(badState._tag, "InvalidArgumentError")
    }).pipe(Effect.provide(Live)))
})
