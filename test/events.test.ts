/**
 * Presence events, end to end: the SDK's stream on the emulator's long-poll, in memory under
 * TestClock and on a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Option, Schedule, Scope, Stream, TestClock } from "effect"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence, PresenceEvent, PubNubConfig } from "../src/index.js"
import { NodeEmulator, UndiciHttpClient } from "../src/node/index.js"

const watcher = new Keyset.Keyset({ subscribeKey: "demo", userId: "watcher" })
const user = (userId: string) => new Keyset.Keyset({ subscribeKey: "demo", userId })
const alice = user("alice")
const Live = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: watcher, named: { alice } }))

const snapshot = Effect.flatMap(Emulator.Emulator, (em) => em.snapshot)

/** The first `n` events of a stream subscribed now, collected by a fiber. */
const collect = (n: number, options: Presence.EventsOptions) =>
  Effect.gen(function*() {
    const events = yield* Presence.subscribeEvents(options)
    return yield* Effect.fork(Stream.runCollect(Stream.take(events, n)))
  })

const describeEvent = (e: PresenceEvent.PresenceEvent) =>
  PresenceEvent.$match(e, {
    Join: (j) => `join ${j.uuid}@${j.channel}`,
    Leave: (l) => `leave ${l.uuid}@${l.channel}`,
    Timeout: (t) => `timeout ${t.uuid}@${t.channel}`,
    StateChange: (s) => `state ${s.uuid}@${s.channel}`,
    Interval: (i) => `interval ${i.channel}`
  })

describe("Presence.events: every kind, with its fields", () => {
  it.scoped("join, state-change, leave, timeout", () =>
    Effect.gen(function*() {
      const fiber = yield* collect(5, { channels: ["lobby"] })
      yield* Presence.announceHeartbeat({
        channels: ["lobby"],
        heartbeat: 20,
        state: { lobby: { mood: "x" } },
        using: "alice"
      })
      yield* Presence.setState({ channels: ["lobby"], state: { mood: "y" }, using: "alice" })
      yield* Presence.announceLeave({ channels: ["lobby"], using: "alice" })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 20, using: "alice" })
      yield* TestClock.adjust("21 seconds")
      const [join, state, leave, again, timeout] = [...yield* Fiber.join(fiber)]
      assert.strictEqual(describeEvent(again), "join alice@lobby")
      assert.strictEqual(join._tag, "Join")
      if (join._tag === "Join") {
        assert.strictEqual(join.uuid, "alice")
        assert.strictEqual(join.channel, "lobby")
        assert.isTrue(Option.isNone(join.group))
        assert.strictEqual(join.occupancy, 1)
        assert.deepStrictEqual(join.state, Option.some({ mood: "x" }))
        assert.match(join.timetoken, /^\d{17}$/)
        assert.strictEqual(join.timestamp, 0)
      }
      assert.strictEqual(state._tag, "StateChange")
      if (state._tag === "StateChange") assert.deepStrictEqual(state.state, Option.some({ mood: "y" }))
      assert.strictEqual(leave._tag, "Leave")
      if (leave._tag === "Leave") {
        assert.strictEqual(leave.occupancy, 0)
        assert.deepStrictEqual(leave.state, Option.some({ mood: "y" }), "a leave carries the state the user had")
      }
      assert.strictEqual(timeout._tag, "Timeout")
      if (timeout._tag === "Timeout") {
        assert.strictEqual(timeout.timestamp, 20, "it timed out when its 20 s ran out")
        assert.strictEqual(timeout.occupancy, 0)
      }
      assert.isTrue(
        BigInt(join.timetoken) < BigInt(state.timetoken) && BigInt(leave.timetoken) < BigInt(timeout.timetoken)
      )
    }).pipe(Effect.provide(Live)))

  it.scoped("watching does not make the watcher present", () =>
    Effect.gen(function*() {
      yield* collect(1, { channels: ["lobby"] })
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* snapshot).present, 0)
      assert.deepStrictEqual((yield* Presence.whereNow({ uuid: "watcher" })).channels, [])
    }).pipe(Effect.provide(Live)))

  it.scoped("group presence: the member channel, and the group it came through", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.serve("GET", "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=a,b")
      const fiber = yield* collect(2, { channelGroups: ["rooms"] })
      yield* Presence.announceHeartbeat({ channels: ["b", "elsewhere"], using: "alice" })
      yield* Presence.announceHeartbeat({ channels: ["a"], using: "alice" })
      const got = [...yield* Fiber.join(fiber)]
      assert.deepStrictEqual(got.map(describeEvent), ["join alice@b", "join alice@a"])
      assert.deepStrictEqual(got.map((e) => Option.getOrNull(e.group)), ["rooms", "rooms"])
    }).pipe(Effect.provide(Live)))

  it.scoped("events come in order per channel, across many", () =>
    Effect.gen(function*() {
      const fiber = yield* collect(60, { channels: ["a", "b", "c"] })
      for (let i = 0; i < 10; i++) {
        for (const ch of ["a", "b", "c"]) {
          yield* Presence.announceHeartbeat({ channels: [ch], keyset: user(`u${i}`) })
          yield* Presence.announceLeave({ channels: [ch], keyset: user(`u${i}`) })
        }
      }
      const got = [...yield* Fiber.join(fiber)]
      for (const ch of ["a", "b", "c"]) {
        const mine = got.filter((e) => e.channel === ch).map(describeEvent)
        assert.deepStrictEqual(
          mine,
          Array.from({ length: 10 }, (_, i) => [`join u${i}@${ch}`, `leave u${i}@${ch}`]).flat()
        )
      }
    }).pipe(Effect.provide(Live)))

  it.scoped("resume after a timetoken: only what came after it", () =>
    Effect.gen(function*() {
      const first = yield* collect(2, { channels: ["lobby"] })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], using: "alice" })
      yield* Presence.announceLeave({ channels: ["lobby"], using: "alice" })
      const [join] = [...yield* Fiber.join(first)]
      const again = yield* collect(1, { channels: ["lobby"], timetoken: join.timetoken })
      const [next] = [...yield* Fiber.join(again)]
      assert.strictEqual(describeEvent(next), "leave alice@lobby")
    }).pipe(Effect.provide(Live)))
})

describe("Presence.events: no loss, no duplicates", () => {
  const POLL = "/v2/subscribe/demo"

  it.scoped("a dropped poll reconnects from the last timetoken: nothing lost or repeated", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const reconnects = (yield* Metric.value(PresenceEvent.reconnects)).count
      const fiber = yield* collect(6, { channels: ["lobby"] })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u1") })
      yield* TestClock.adjust("1 second")
      yield* em.addFault({ path: POLL, drop: true, times: 2 })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u2") })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u3") })
      yield* TestClock.adjust("1 minute")
      yield* em.addFault({ path: POLL, status: 503, times: 1 })
      yield* Presence.announceLeave({ channels: ["lobby"], keyset: user("u1") })
      yield* Presence.announceLeave({ channels: ["lobby"], keyset: user("u2") })
      yield* Presence.announceLeave({ channels: ["lobby"], keyset: user("u3") })
      yield* TestClock.adjust("1 minute")
      const got = [...yield* Fiber.join(fiber)].map(describeEvent)
      assert.deepStrictEqual(got, [
        "join u1@lobby",
        "join u2@lobby",
        "join u3@lobby",
        "leave u1@lobby",
        "leave u2@lobby",
        "leave u3@lobby"
      ])
      assert.isAtLeast((yield* Metric.value(PresenceEvent.reconnects)).count - reconnects, 2)
    }).pipe(Effect.provide(Live)))

  it.scoped("a batch the service delivers twice is delivered once", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const dropped = (yield* Metric.value(PresenceEvent.duplicatesDropped)).count
      const fiber = yield* collect(3, { channels: ["lobby"] })
      yield* em.addFault({ path: POLL, duplicate: true, times: 1 })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u1") })
      yield* TestClock.adjust("1 second")
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u2") })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u3") })
      const got = [...yield* Fiber.join(fiber)].map(describeEvent)
      assert.deepStrictEqual(got, ["join u1@lobby", "join u2@lobby", "join u3@lobby"])
      assert.isAtLeast((yield* Metric.value(PresenceEvent.duplicatesDropped)).count - dropped, 1)
    }).pipe(Effect.provide(Live)))

  it.scoped("a 403 fails the stream with the typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(Presence.events({ channels: ["secret"] })))
      assert.strictEqual(error._tag, "AccessDeniedError")
      if (error._tag === "AccessDeniedError") assert.deepStrictEqual(error.channels, ["secret-pnpres"])
    }).pipe(Effect.provide(Layer.merge(
      Emulator.layerTest({ grants: { open: { channels: ["open-pnpres"] } } }),
      Keyset.layer({ default: watcher })
    ))))

  it.scoped("a message that does not decode is skipped, and the stream goes on", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const fiber = yield* collect(1, { channels: ["lobby"] })
      yield* em.addFault({
        path: POLL,
        status: 200,
        times: 1,
        body: JSON.stringify({
          t: { t: "10000000000000001", r: 1 },
          m: [{ a: "1", f: 0, p: { t: "10000000000000001" }, c: "lobby-pnpres", d: { action: "teleport" } }]
        })
      })
      yield* TestClock.adjust("1 second")
      yield* Presence.announceHeartbeat({ channels: ["lobby"], using: "alice" })
      const got = [...yield* Fiber.join(fiber)].map(describeEvent)
      assert.deepStrictEqual(got, ["join alice@lobby"])
    }).pipe(Effect.provide(Live)))
})

describe("Presence.events: one long-poll per keyset, origin and client", () => {
  it.scoped("several streams share one poll; streams start and end without losing the others' events", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const a = yield* collect(3, { channels: ["a"] })
      const scope = yield* Scope.make()
      const b = yield* Scope.extend(Presence.subscribeEvents({ channels: ["b"] }), scope)
      const bFiber = yield* Effect.fork(Stream.runCollect(Stream.take(b, 1)))
      yield* Presence.announceHeartbeat({ channels: ["a", "b"], using: "alice" })
      assert.deepStrictEqual([...yield* Fiber.join(bFiber)].map(describeEvent), ["join alice@b"])
      yield* Scope.close(scope, Exit.void) // b ends
      yield* Presence.announceLeave({ channels: ["a", "b"], using: "alice" })
      const c = yield* collect(1, { channels: ["c"] })
      yield* Presence.announceHeartbeat({ channels: ["a", "c"], using: "alice" })
      assert.deepStrictEqual([...yield* Fiber.join(a)].map(describeEvent), [
        "join alice@a",
        "leave alice@a",
        "join alice@a"
      ])
      assert.deepStrictEqual([...yield* Fiber.join(c)].map(describeEvent), ["join alice@c"])
      // at any time at most one poll was held for all of them
      yield* TestClock.adjust("1 second")
      assert.isAtMost((yield* snapshot).holding, 1)
      const polled = (yield* em.requests).filter((r) => r.operation === "subscribe").map((r) => r.path)
      assert.isTrue(polled.some((p) => p.includes("a-pnpres,b-pnpres")), "the union was polled")
    }).pipe(Effect.provide(Live)))

  it.scoped("a union too long for one URL is split over several polls", () =>
    Effect.gen(function*() {
      // about 48 KB of names: more than one URL holds
      const channels = Array.from({ length: 900 }, (_, i) => `room-with-a-rather-long-name-for-splitting-${i}`)
      const fiber = yield* collect(2, { channels })
      yield* TestClock.adjust("1 second")
      assert.isAtLeast((yield* snapshot).holding, 2)
      yield* Presence.announceHeartbeat({ channels: [channels[0]], using: "alice" })
      yield* Presence.announceHeartbeat({ channels: [channels[899]], using: "alice" })
      const got = [...yield* Fiber.join(fiber)].map((e) => e.channel).sort()
      assert.deepStrictEqual(got, [channels[0], channels[899]].sort())
    }).pipe(Effect.provide(Live)))
})

describe("Presence.events: interval mode", () => {
  it.scoped("above announceMax: interval events with deltas, every interval", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 2, intervalSeconds: 10 })
      const fiber = yield* collect(3, { channels: ["hall"] })
      for (const u of ["u1", "u2", "u3", "u4"]) {
        yield* Presence.announceHeartbeat({ channels: ["hall"], keyset: user(u) })
      }
      yield* TestClock.adjust("10 seconds")
      const got = [...yield* Fiber.join(fiber)]
      assert.deepStrictEqual(got.map(describeEvent), ["join u1@hall", "join u2@hall", "interval hall"])
      const interval = got[2]
      assert.strictEqual(interval._tag, "Interval")
      if (interval._tag === "Interval") {
        assert.deepStrictEqual(interval.joined, ["u3", "u4"])
        assert.strictEqual(interval.occupancy, 4)
        assert.isFalse(interval.hereNowRefresh)
      }
    }).pipe(Effect.provide(Live)))

  it.scoped("deltas that would not fit: here_now_refresh", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 1, intervalSeconds: 5 })
      const fiber = yield* collect(2, { channels: ["stadium"] })
      yield* Effect.forEach(Array.from({ length: 1200 }, (_, i) => `fan-with-a-long-user-id-${i}`), (u) =>
        Presence.announceHeartbeat({ channels: ["stadium"], keyset: user(u) }), { discard: true })
      yield* TestClock.adjust("5 seconds")
      const [, interval] = [...yield* Fiber.join(fiber)]
      assert.strictEqual(interval._tag, "Interval")
      if (interval._tag === "Interval") {
        assert.isTrue(interval.hereNowRefresh)
        assert.deepStrictEqual(interval.joined, [])
        assert.strictEqual(interval.occupancy, 1200)
      }
    }).pipe(Effect.provide(Live)))

  it.scoped("without presence deltas: interval events carry the count only", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 0, intervalSeconds: 10, presenceDeltas: false })
      const fiber = yield* collect(1, { channels: ["hall"] })
      yield* Presence.announceHeartbeat({ channels: ["hall"], using: "alice" })
      yield* TestClock.adjust("10 seconds")
      const [interval] = [...yield* Fiber.join(fiber)]
      assert.strictEqual(interval._tag, "Interval")
      if (interval._tag === "Interval") assert.deepStrictEqual([interval.joined, interval.occupancy], [[], 1])
    }).pipe(Effect.provide(Live)))
})

describe("Presence.events on a socket", () => {
  const onSocket = Effect.gen(function*() {
    const ctx = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
    const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
    const em = yield* Effect.provide(Emulator.Emulator, ctx)
    const live = yield* Layer.build(Layer.mergeAll(
      UndiciHttpClient.layer,
      PubNubConfig.layer({ origin: `http://${origin}` }),
      Keyset.layer({ default: watcher, named: { alice } })
    ))
    return { em, live }
  })

  it.scopedLive("events arrive, and interrupting the stream ends the poll at the emulator", () =>
    Effect.gen(function*() {
      const { em, live } = yield* onSocket
      const fiber = yield* Effect.provide(collect(1, { channels: ["lobby"] }), live)
      yield* Effect.provide(Presence.announceHeartbeat({ channels: ["lobby"], using: "alice" }), live)
      assert.deepStrictEqual([...yield* Fiber.join(fiber)].map(describeEvent), ["join alice@lobby"])
      // the lobby stream's poll stays; another keyset's stream has a poll of its own
      const scope = yield* Scope.make()
      const events = yield* Effect.provide(
        Scope.extend(Presence.subscribeEvents({ channels: ["x"], keyset: user("other-watcher") }), scope),
        live
      )
      const running = yield* Effect.fork(Stream.runDrain(events))
      yield* Effect.sleep("200 millis")
      assert.strictEqual((yield* em.snapshot).holding, 2)
      yield* Fiber.interrupt(running)
      yield* Scope.close(scope, Exit.void)
      yield* Effect.sleep("200 millis")
      assert.strictEqual((yield* em.snapshot).holding, 1, "the emulator saw the poll end")
    }))

  it.scopedLive("many abandoned polls do not pile up at the emulator", () =>
    Effect.gen(function*() {
      const { em, live } = yield* onSocket
      for (let i = 0; i < 20; i++) {
        const scope = yield* Scope.make()
        const keyset = user(`w${i}`)
        const events = yield* Effect.provide(
          Scope.extend(Presence.subscribeEvents({ channels: [`c${i}`], keyset }), scope),
          live
        )
        yield* Effect.fork(Stream.runDrain(events))
        yield* Effect.sleep("20 millis")
        yield* Scope.close(scope, Exit.void)
      }
      yield* Effect.sleep("300 millis")
      assert.strictEqual((yield* em.snapshot).holding, 0)
    }))
})

describe("Presence.events: a poll that never answers", () => {
  it.scoped("times out after 310 s and reconnects from the same timetoken, losing nothing", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const reconnects = (yield* Metric.value(PresenceEvent.reconnects)).count
      const fiber = yield* collect(2, { channels: ["lobby"] })
      // the next poll hangs (longer than the client waits); events published meanwhile wait for the next one
      yield* em.addFault({ path: "/v2/subscribe/demo", delayMs: 600_000, times: 1 })
      yield* TestClock.adjust("1 second")
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u1") })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: user("u2") })
      yield* TestClock.adjust("309 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "nothing yet: the client is still waiting")
      yield* TestClock.adjust("2 seconds") // past 310 s: the poll times out
      yield* TestClock.adjust("1 minute") // the default schedule's first wait
      assert.deepStrictEqual([...yield* Fiber.join(fiber)].map(describeEvent), ["join u1@lobby", "join u2@lobby"])
      assert.isAtLeast((yield* Metric.value(PresenceEvent.reconnects)).count - reconnects, 1)
    }).pipe(Effect.provide(Live)))
})

describe("Presence.events: a service that cannot be reached at the start", () => {
  it.scoped("the handshake is retried on the stream's schedule; then events flow", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: "/v2/subscribe/demo", status: 503, times: 2 })
      const subscribing = yield* Effect.fork(Presence.subscribeEvents({ channels: ["lobby"] }))
      yield* TestClock.adjust("1 minute")
      const events = yield* Fiber.join(subscribing)
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events, 1)))
      yield* Presence.announceHeartbeat({ channels: ["lobby"], using: "alice" })
      assert.deepStrictEqual([...yield* Fiber.join(fiber)].map(describeEvent), ["join alice@lobby"])
    }).pipe(Effect.provide(Live)))

  it.scoped("a 429 on the handshake is retried no sooner than its Retry-After", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: "/v2/subscribe/demo", status: 429, retryAfter: 30, times: 1 })
      const handshakes = Effect.map(em.requests, (rs) => rs.filter((r) => r.operation === "subscribe").length)
      const subscribing = yield* Effect.fork(
        Presence.subscribeEvents({ channels: ["lobby"], retry: Schedule.spaced("1 second") })
      )
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(yield* handshakes, 0, "not before Retry-After (the 429 itself is not counted)")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(subscribing)
      assert.strictEqual(yield* handshakes, 1)
    }).pipe(Effect.provide(Live)))

  it.scoped("waiting for it can be interrupted; a schedule that gives up fails with the typed error", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.addFault({ path: "/v2/subscribe/demo", status: 503, times: 1000 })
      const waiting = yield* Effect.fork(Effect.scoped(Presence.subscribeEvents({ channels: ["lobby"] })))
      yield* TestClock.adjust("10 minutes")
      yield* Fiber.interrupt(waiting)
      const error = yield* Effect.flip(
        Stream.runDrain(Presence.events({ channels: ["lobby"], retry: Schedule.recurs(2) }))
      )
      assert.strictEqual(error._tag, "ServerError")
    }).pipe(Effect.provide(Live)))
})
