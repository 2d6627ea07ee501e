import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, TestClock } from "effect"
import { Keyset, Presence } from "../src/index.js"
import * as Fake from "./util/FakeHttp.js"

// a fake service that answers after 100 ms of (test) time, so concurrent calls overlap
const slow = (body: unknown, status = 200) => () => Effect.as(Effect.sleep("100 millis"), Fake.json(body, status))
const flat = { status: 200, message: "OK", service: "Presence", uuids: ["a", "b"], occupancy: 2 }
const nested = {
  status: 200,
  message: "OK",
  service: "Presence",
  payload: { channels: { lobby: { uuids: ["a"], occupancy: 1 } }, total_channels: 1, total_occupancy: 1 }
}

/** Starts `n` copies of `program` at once, lets the fake answer, and returns their exits. */
const concurrently = <A, E, R>(n: number, program: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fibers = yield* Effect.forEach(Array.from({ length: n }), () => Effect.fork(program))
    yield* TestClock.adjust("1 second")
    return yield* Effect.forEach(fibers, Fiber.await)
  })

describe("coalescing identical concurrent reads", () => {
  it.effect("100 concurrent identical here-now calls make one request", () => {
    const f = Fake.layer(slow(flat))
    return Effect.gen(function*() {
      const exits = yield* concurrently(100, Presence.hereNow({ channels: ["lobby"] }))
      assert.strictEqual(f.requests.length, 1)
      assert.isTrue(exits.every(Exit.isSuccess))
      const first = exits[0]
      for (const exit of exits) {
        if (Exit.isSuccess(exit)) {
          assert.deepStrictEqual([...(exit.value.channels.get("lobby")?.uuids.keys() ?? [])], ["a", "b"])
          // the result is built once and shared, not rebuilt per caller
          assert.strictEqual(exit.value, Exit.isSuccess(first) ? first.value : undefined)
        }
      }
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("where-now and get-state coalesce too", () => {
    const f = Fake.layer((req) =>
      req.url.pathname.includes("/uuid/") && !req.url.pathname.includes("/channel/")
        ? Effect.as(Effect.sleep("100 millis"), Fake.ok({ payload: { channels: ["lobby"] } }))
        : Effect.as(Effect.sleep("100 millis"), Fake.ok({ uuid: "bob", channel: "lobby", payload: { mood: "x" } }))
    )
    return Effect.gen(function*() {
      yield* concurrently(50, Presence.whereNow({ uuid: "bob" }))
      assert.strictEqual(f.requests.length, 1)
      const exits = yield* concurrently(50, Presence.getState({ channels: ["lobby"], uuid: "bob" }))
      assert.strictEqual(f.requests.length, 2)
      assert.isTrue(exits.every((e) => Exit.isSuccess(e) && e.value.channels.get("lobby")?.mood === "x"))
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("different options, channels, users or keysets never share", () => {
    const admin = new Keyset.Keyset({ subscribeKey: "sub-c-admin", userId: "ops" })
    const f = Fake.layer(slow(nested), { default: Fake.alice, named: { admin } })
    const variants = [
      Presence.hereNow({ channels: ["lobby"] }),
      Presence.hereNow({ channels: ["lobby"], stateInfo: "all" }),
      Presence.hereNow({ channels: ["lobby"], stateInfo: "none" }),
      Presence.hereNow({ channels: ["lobby"], limit: 10 }),
      Presence.hereNow({ channels: ["lobby"], limit: 10, offset: 10 }),
      Presence.hereNow({ channels: ["lobby", "kitchen"] }),
      Presence.hereNow({ channelGroups: ["lobby"] }),
      Presence.hereNow({ channels: ["lobby"], using: "admin" }),
      Presence.hereNow()
    ]
    return Effect.gen(function*() {
      const fibers = yield* Effect.forEach(
        variants,
        (v) => Effect.fork(Effect.all(Array.from({ length: 10 }, () => v), { concurrency: "unbounded" }))
      )
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(f.requests.length, variants.length)
      // (the fake's body is not a where-now body; only the request count matters here)
      yield* concurrently(
        10,
        Effect.all([Effect.either(Presence.whereNow({ uuid: "x" })), Effect.either(Presence.whereNow({ uuid: "y" }))], {
          concurrency: 2
        })
      )
      assert.strictEqual(f.requests.length, variants.length + 2)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("calls one after another are not cached by default", () => {
    const f = Fake.layer(() => Fake.json(flat))
    return Effect.gen(function*() {
      yield* Presence.hereNow({ channels: ["lobby"] })
      yield* Presence.hereNow({ channels: ["lobby"] })
      assert.strictEqual(f.requests.length, 2)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("cacheTtl reuses a success for that long", () => {
    const f = Fake.layer(() => Fake.json(flat))
    return Effect.gen(function*() {
      const first = yield* Presence.hereNow({ channels: ["lobby"], cacheTtl: "2 seconds" })
      yield* TestClock.adjust("1 second")
      const hit = yield* Presence.hereNow({ channels: ["lobby"], cacheTtl: "2 seconds" })
      assert.strictEqual(f.requests.length, 1)
      // a hit hands out the cached result itself
      assert.strictEqual(hit, first)
      yield* TestClock.adjust("1500 millis")
      const fresh = yield* Presence.hereNow({ channels: ["lobby"], cacheTtl: "2 seconds" })
      assert.strictEqual(f.requests.length, 2)
      assert.notStrictEqual(fresh, first)
      assert.deepStrictEqual([...(fresh.channels.get("lobby")?.uuids.keys() ?? [])], ["a", "b"])
      const bad = yield* Effect.flip(Presence.hereNow({ channels: ["lobby"], cacheTtl: "forever" as "1 second" }))
      assert.strictEqual(bad._tag, "InvalidArgumentError")
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a failure is shared by the concurrent callers, and never cached", () => {
    let n = 0
    const f = Fake.layer(() =>
      Effect.as(
        Effect.sleep("100 millis"),
        ++n === 1 ? Fake.json({ status: 503, error: 1, message: "down" }, 503) : Fake.json(flat)
      )
    )
    return Effect.gen(function*() {
      const exits = yield* concurrently(20, Presence.hereNow({ channels: ["lobby"], cacheTtl: "1 minute" }))
      assert.strictEqual(f.requests.length, 1)
      assert.isTrue(exits.every((e) => Exit.isFailure(e)))
      const again = yield* concurrently(1, Presence.hereNow({ channels: ["lobby"], cacheTtl: "1 minute" }))
      assert.isTrue(Exit.isSuccess(again[0]))
      assert.strictEqual(f.requests.length, 2)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("an interrupted leader does not take its waiters down", () => {
    const f = Fake.layer(slow(flat))
    return Effect.gen(function*() {
      const leader = yield* Effect.fork(Presence.hereNow({ channels: ["lobby"] }))
      yield* TestClock.adjust("10 millis")
      const waiters = yield* Effect.forEach(
        Array.from({ length: 5 }),
        () => Effect.fork(Presence.hereNow({ channels: ["lobby"] }))
      )
      yield* TestClock.adjust("10 millis")
      yield* Fiber.interrupt(leader)
      yield* TestClock.adjust("1 second")
      const exits = yield* Effect.forEach(waiters, Fiber.await)
      assert.isTrue(exits.every(Exit.isSuccess), "every waiter got an answer")
      assert.strictEqual(f.requests.length, 2, "the leader's request, then one retry for all waiters")
    }).pipe(Effect.provide(f.layer))
  })
})
