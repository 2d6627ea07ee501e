/**
 * The live roster, rule by rule, on the emulator under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Scope,
  Stream,
  TestClock,
  TestServices
} from "effect"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence } from "../src/index.js"
import { members, plain, truth } from "./util/roster.js"

const watcher = new Keyset.Keyset({ subscribeKey: "demo", userId: "watcher" })
const user = (userId: string) => new Keyset.Keyset({ subscribeKey: "demo", userId })
const live = (options?: Emulator.Options) =>
  Layer.merge(Emulator.layerTest(options), Keyset.layer({ default: watcher }))

const POLL = "/v2/subscribe"

/** How many here-now requests the emulator has answered. */
const hereNowCount = (em: Emulator.Service) =>
  Effect.map(em.requests, (rs) => rs.filter((r) => r.operation === "hereNow").length)

const join = (uuid: string, channels: ReadonlyArray<string>, state?: Record<string, string>) =>
  Presence.announceHeartbeat({
    channels,
    heartbeat: 300,
    keyset: user(uuid),
    ...(state === undefined ? {} : { state: Object.fromEntries(channels.map((c) => [c, state])) })
  })
const leave = (uuid: string, channels: ReadonlyArray<string>) =>
  Presence.announceLeave({ channels, keyset: user(uuid) })

/**
 * The first view on `changes` that `ok` accepts. Waiting is bounded by the real clock (20 s, far
 * under the test's timeout): a roster that never gets there fails the test with its last view.
 */
const until = (roster: Presence.Roster, ok: (view: Presence.HereNowResult) => boolean) =>
  Effect.gen(function*() {
    const last = yield* Ref.make<Presence.HereNowResult | undefined>(undefined)
    const found = yield* roster.changes.pipe(
      Stream.tap((v) => Ref.set(last, v)),
      Stream.filter(ok),
      Stream.runHead,
      Effect.timeout("20 seconds"),
      TestServices.provideLive,
      Effect.option
    )
    const view = Option.flatten(found)
    if (Option.isNone(view)) {
      const seen = yield* Ref.get(last)
      return assert.fail(
        `the roster never got there; last view: ${JSON.stringify(seen === undefined ? null : plain(seen))}`
      )
    }
    return view.value
  })

const has = (channel: string, ...uuids: ReadonlyArray<string>) => (v: Presence.HereNowResult) => {
  const c = v.channels.get(channel)
  return c !== undefined && c.uuids.size === uuids.length && uuids.every((u) => c.uuids.has(u))
}

/** The roster's view equals a fresh here-now of every page, and the emulator's own record. */
const assertTrue = (roster: Presence.Roster, options: Presence.HereNowAllOptions, channels: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const view = yield* roster.get
    assert.deepStrictEqual(plain(view), plain(yield* Presence.hereNowAll(options)))
    const expected = yield* truth("demo", channels)
    if (options.stateInfo === "none") {
      // counts only: compare the counts
      const counts = Object.fromEntries(Object.entries(expected).map(([c, us]) => [c, us.length]))
      assert.deepStrictEqual(Object.fromEntries([...view.channels].map(([c, o]) => [c, o.count])), counts)
    } else {
      assert.deepStrictEqual(members(view), expected)
    }
  })

describe("Presence.roster: a consistent start", () => {
  it.scoped("starts from here-now (every page) and applies what happens after", () =>
    Effect.gen(function*() {
      for (const u of ["a", "b", "c"]) yield* join(u, ["lobby"], { mood: u })
      const roster = yield* Presence.roster({ channels: ["lobby"], stateInfo: "all" })
      yield* assertTrue(roster, { channels: ["lobby"], stateInfo: "all" }, ["lobby"])
      yield* join("d", ["lobby"], { mood: "d" })
      yield* leave("a", ["lobby"])
      const view = yield* until(roster, has("lobby", "b", "c", "d"))
      assert.strictEqual(view.channels.get("lobby")?.count, 3)
      assert.deepStrictEqual(
        view.channels.get("lobby")?.uuids.get("d")?.state,
        Option.some({ mood: "d" })
      )
      yield* assertTrue(roster, { channels: ["lobby"], stateInfo: "all" }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("subscribes before it snapshots: a join while the snapshot is taken is not lost", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      // the snapshot's request waits 2 s; a join happens meanwhile, after the subscription
      yield* em.addFault({ path: "/v2/presence/sub-key/demo/channel/lobby", delayMs: 2000 })
      const fiber = yield* Effect.fork(Presence.roster({ channels: ["lobby"] }))
      yield* TestClock.adjust("1 second")
      yield* join("late", ["lobby"])
      yield* TestClock.adjust("1 second")
      const roster = yield* Fiber.join(fiber)
      yield* until(roster, has("lobby", "late"))
    }).pipe(Effect.provide(live())))

  it.scoped("walks every page of a large channel", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      for (let i = 0; i < 2500; i++) {
        yield* em.serve("GET", `/v2/presence/sub-key/demo/channel/big/heartbeat?uuid=u${i}&heartbeat=300`)
      }
      const roster = yield* Presence.roster({ channels: ["big"] })
      const view = yield* roster.get
      assert.strictEqual(view.channels.get("big")?.uuids.size, 2500)
      assert.strictEqual(view.channels.get("big")?.count, 2500)
      const pages = yield* hereNowCount(em)
      assert.strictEqual(pages, 3)
    }).pipe(Effect.provide(live({ presence: { announceMax: 10_000 } }))))
})

describe("Presence.roster: every event applied", () => {
  it.scoped("join, leave, timeout, state-change; counts from the service", () =>
    Effect.gen(function*() {
      const roster = yield* Presence.roster({ channels: ["lobby"], stateInfo: "all" })
      assert.deepStrictEqual(plain(yield* roster.get), {
        totalChannels: 1,
        totalOccupancy: 0,
        channels: [{ name: "lobby", count: 0, uuids: [], hasMore: false }]
      })
      yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 20, keyset: user("t") })
      yield* join("a", ["lobby"])
      yield* Presence.setState({ channels: ["lobby"], state: { typing: true }, keyset: user("a") })
      yield* until(roster, (v) => v.channels.get("lobby")?.uuids.get("a")?.state._tag === "Some")
      yield* TestClock.adjust("21 seconds") // t times out
      const view = yield* until(roster, has("lobby", "a"))
      assert.deepStrictEqual(plain(view).channels[0], {
        name: "lobby",
        count: 1,
        uuids: [`a=${JSON.stringify({ typing: true })}`],
        hasMore: false
      })
      yield* leave("a", ["lobby"])
      yield* until(roster, (v) => v.totalOccupancy === 0)
      yield* assertTrue(roster, { channels: ["lobby"], stateInfo: "all" }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("several channels: an empty one is not listed, as here-now does not list it", () =>
    Effect.gen(function*() {
      const roster = yield* Presence.roster({ channels: ["a", "b"] })
      yield* join("u", ["a"])
      yield* until(roster, has("a", "u"))
      assert.isFalse((yield* roster.get).channels.has("b"))
      yield* leave("u", ["a"])
      const view = yield* until(roster, (v) => v.channels.size === 0)
      assert.strictEqual(view.totalChannels, 0)
      yield* assertTrue(roster, { channels: ["a", "b"] }, ["a", "b"])
    }).pipe(Effect.provide(live())))

  it.scoped("counts only (stateInfo none): counts follow the events", () =>
    Effect.gen(function*() {
      const roster = yield* Presence.roster({ channels: ["lobby"], stateInfo: "none" })
      yield* join("a", ["lobby"])
      yield* join("b", ["lobby"])
      const view = yield* until(roster, (v) => v.totalOccupancy === 2)
      assert.strictEqual(view.channels.get("lobby")?.uuids.size, 0)
      yield* assertTrue(roster, { channels: ["lobby"], stateInfo: "none" }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("a channel group shows its member channels, and counts them as here-now does", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.serve("GET", "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=kitchen,garden,attic")
      yield* join("a", ["kitchen"])
      const roster = yield* Presence.roster({ channelGroups: ["rooms"], channels: ["hall"] })
      assert.strictEqual((yield* roster.get).totalChannels, 3)
      yield* join("b", ["garden"])
      yield* join("c", ["hall"])
      yield* until(roster, (v) => has("garden", "b")(v) && has("hall", "c")(v))
      yield* leave("a", ["kitchen"])
      const view = yield* until(roster, (v) => !v.channels.has("kitchen"))
      assert.strictEqual(view.totalChannels, 4)
      yield* assertTrue(roster, { channelGroups: ["rooms"], channels: ["hall"] }, [
        "kitchen",
        "garden",
        "attic",
        "hall"
      ])
    }).pipe(Effect.provide(live())))
})

describe("Presence.roster: snapshots when events may have missed something", () => {
  it.scoped("a reconnect: what happened while the poll was down comes after it", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const roster = yield* Presence.roster({ channels: ["lobby"], retry: Schedule.spaced("2 seconds") })
      yield* em.addFault({ path: POLL, status: 503, times: 2 })
      yield* TestClock.adjust("301 seconds") // the held poll ends; the next ones get 503
      yield* join("a", ["lobby"])
      yield* join("b", ["lobby"])
      yield* TestClock.adjust("5 seconds")
      yield* until(roster, has("lobby", "a", "b"))
      yield* assertTrue(roster, { channels: ["lobby"] }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("a lost resume point: the service forgot what it published meanwhile; a snapshot after the reconnect has it", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const roster = yield* Presence.roster({ channels: ["lobby"], retry: Schedule.spaced("2 seconds") })
      yield* em.addFault({ path: POLL, drop: true })
      yield* em.addFault({ path: POLL, lost: true })
      // x's join answers the held poll; the next poll is dropped, and the stream waits 2 s
      yield* join("x", ["lobby"])
      yield* until(roster, has("lobby", "x"))
      yield* join("a", ["lobby"])
      // the reconnect finds the service without a's join: no event will ever say it
      yield* TestClock.adjust("2 seconds")
      assert.isFalse((yield* roster.get).channels.get("lobby")?.uuids.has("a"))
      // once the service has held the resumed poll for a second, the roster takes a snapshot
      yield* TestClock.adjust("1 second")
      yield* until(roster, has("lobby", "x", "a"))
    }).pipe(Effect.provide(live())))

  it.scoped("duplicate deliveries change nothing", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      yield* em.addFault({ path: POLL, duplicate: true, times: 3 })
      yield* join("a", ["lobby"])
      yield* join("b", ["lobby"])
      yield* leave("a", ["lobby"])
      yield* until(roster, has("lobby", "b"))
      yield* assertTrue(roster, { channels: ["lobby"] }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("interval mode with deltas: the deltas are applied", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 1, intervalSeconds: 10 })
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      yield* join("a", ["lobby"])
      yield* join("b", ["lobby"])
      yield* join("c", ["lobby"])
      yield* leave("a", ["lobby"])
      yield* TestClock.adjust("10 seconds")
      yield* until(roster, has("lobby", "b", "c"))
      yield* assertTrue(roster, { channels: ["lobby"] }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("interval mode without deltas: a fresh snapshot", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 0, intervalSeconds: 10, presenceDeltas: false })
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      yield* join("a", ["lobby"])
      yield* join("b", ["lobby"])
      yield* TestClock.adjust("10 seconds")
      yield* until(roster, has("lobby", "a", "b"))
      // a join and a leave in one interval: the count does not change, the members do
      yield* join("c", ["lobby"])
      yield* leave("a", ["lobby"])
      yield* TestClock.adjust("10 seconds")
      yield* until(roster, has("lobby", "b", "c"))
      yield* assertTrue(roster, { channels: ["lobby"] }, ["lobby"])
    }).pipe(Effect.provide(live())))

  it.scoped("here_now_refresh (deltas too large for a report): a fresh snapshot", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 0, intervalSeconds: 10 })
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      const report = yield* Effect.fork(Stream.runHead(yield* Presence.subscribeEvents({ channels: ["lobby"] })))
      const before = yield* hereNowCount(em)
      // 400 joins with 90-character uuids: more than 32 KB of deltas
      const long = (i: number) => `${"u".repeat(85)}${String(i).padStart(5, "0")}`
      for (let i = 0; i < 400; i++) {
        yield* em.serve("GET", `/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=${long(i)}&heartbeat=300`)
      }
      yield* TestClock.adjust("10 seconds")
      const view = yield* until(roster, (v) => v.channels.get("lobby")?.uuids.size === 400)
      assert.strictEqual(view.channels.get("lobby")?.count, 400)
      const after = yield* hereNowCount(em)
      assert.strictEqual(after - before, 1, "one snapshot")
      const interval = Option.getOrThrow(yield* Fiber.join(report))
      assert.isTrue(interval._tag === "Interval" && interval.hereNowRefresh && interval.joined.length === 0)
    }).pipe(Effect.provide(live())))

  it.scoped("a snapshot refused with 429 is taken again no sooner than its Retry-After", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const hereNows = hereNowCount(em)
      yield* em.addFault({ path: "/v2/presence/sub-key/demo/channel/lobby", status: 429, retryAfter: 20, times: 1 })
      const starting = yield* Effect.fork(Presence.roster({ channels: ["lobby"], retry: Schedule.spaced("1 second") }))
      yield* TestClock.adjust("19 seconds")
      assert.strictEqual(yield* hereNows, 0)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(starting)
      assert.strictEqual(yield* hereNows, 1)
    }).pipe(Effect.provide(live())))

  it.scoped("counts that stop matching the occupants listed: a snapshot after a grace second", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      // above Announce Max 1 the second join waits for the interval report (in 60 s) …
      yield* em.configure({ announceMax: 1, intervalSeconds: 60 })
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      yield* join("a", ["lobby"])
      yield* until(roster, has("lobby", "a"))
      yield* join("b", ["lobby"])
      // … but a's state change carries the count, 2, with one occupant listed
      yield* Presence.setState({ channels: ["lobby"], state: { x: 1 }, keyset: user("a") })
      yield* until(roster, (v) => v.channels.get("lobby")?.count === 2)
      yield* TestClock.adjust("1 second")
      yield* until(roster, has("lobby", "a", "b"))
    }).pipe(Effect.provide(live())))

  it.scoped("reconcile: a channel added to the group shows up at the next reconcile", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.serve("GET", "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=kitchen")
      const roster = yield* Presence.roster({ channelGroups: ["rooms"], reconcile: "1 minute" })
      yield* join("a", ["cellar"])
      yield* em.serve("GET", "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=cellar")
      assert.strictEqual((yield* roster.get).totalChannels, 1)
      yield* TestClock.adjust("1 minute")
      const view = yield* until(roster, has("cellar", "a"))
      assert.strictEqual(view.totalChannels, 2)
    }).pipe(Effect.provide(live())))
})

describe("Presence.roster: emissions", () => {
  it.scoped("only when the view changed, and a burst is a few views", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      yield* em.configure({ announceMax: 1000 })
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      const views = yield* Ref.make(0)
      const counted = yield* Effect.fork(Stream.runForEach(roster.changes, () => Ref.update(views, (n) => n + 1)))
      yield* until(roster, (v) => v.totalOccupancy === 0)
      const polls = (yield* em.requests).filter((r) => r.operation === "subscribe").length
      // 100 joins in one go
      yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => `u${i}`), (u) => join(u, ["lobby"]), {
        concurrency: 100,
        discard: true
      })
      yield* until(roster, (v) => v.totalOccupancy === 100)
      // a heartbeat from someone present changes nothing: no new view
      yield* join("u1", ["lobby"])
      yield* leave("u2", ["lobby"])
      yield* until(roster, (v) => v.totalOccupancy === 99)
      yield* Fiber.interrupt(counted)
      const answered = (yield* em.requests).filter((r) => r.operation === "subscribe").length - polls
      const n = yield* Ref.get(views)
      // the first view, then at most one per poll answer
      assert.isAtMost(n, 1 + answered)
      assert.isBelow(n, 50)
    }).pipe(Effect.provide(live())))

  it.scoped("a slow reader gets the newest view, not every one", () =>
    Effect.gen(function*() {
      const roster = yield* Presence.roster({ channels: ["lobby"] })
      const seen: Array<number> = []
      // a reader that takes 10 (virtual) seconds over each view
      const reader = yield* Effect.fork(roster.changes.pipe(
        Stream.take(2),
        Stream.runForEach((v) =>
          Effect.zipRight(Effect.sync(() => seen.push(v.totalOccupancy)), Effect.sleep("10 seconds"))
        )
      ))
      yield* until(roster, () => seen.length === 1)
      for (let i = 0; i < 5; i++) {
        yield* join(`u${i}`, ["lobby"])
        yield* until(roster, (v) => v.totalOccupancy === i + 1)
      }
      yield* TestClock.adjust("10 seconds")
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(reader)
      // the first view, then the newest: the four in between were not kept for it
      assert.deepStrictEqual(seen, [0, 5])
    }).pipe(Effect.provide(live())))
})

describe("Presence.roster: its end", () => {
  it.scoped("a 403 ends changes with the typed error, and get fails with it", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Presence.roster({ channels: ["secret"] }))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(JSON.stringify(exit.cause), "AccessDeniedError")
    }).pipe(Effect.provide(live({ grants: { "": { channels: ["open", "open-pnpres"] } } }))))

  it.scoped("closing its scope stops it: changes ends, the poll is released", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const scope = yield* Scope.make()
      const roster = yield* Scope.extend(Presence.roster({ channels: ["lobby"] }), scope)
      const reader = yield* Effect.fork(Stream.runDrain(roster.changes))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* em.snapshot).holding, 1)
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(reader)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* em.snapshot).holding, 0)
    }).pipe(Effect.provide(live())))

  it.scoped("shares the long-poll with the events streams of its keyset", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const events = yield* Presence.subscribeEvents({ channels: ["lobby"] })
      const roster = yield* Presence.roster({ channels: ["lobby", "kitchen"] })
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(events, 1)))
      yield* join("a", ["lobby"])
      yield* until(roster, has("lobby", "a"))
      assert.strictEqual([...yield* Fiber.join(collected)][0]._tag, "Join")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* em.snapshot).holding, 1)
    }).pipe(Effect.provide(live())))

  it.effect("bad options are typed errors, and nothing is sent", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const bad: ReadonlyArray<unknown> = [
        {},
        { channels: [""] },
        { channels: ["a"], stateInfo: "most" },
        { channels: ["a"], reconcile: "soon" },
        { channels: ["a"], reconcile: Duration.millis(10) },
        { channels: ["a"], retry: 3 },
        { channels: ["a"], using: "nobody" },
        null
      ]
      for (const options of bad) {
        // a caller without types can pass anything
        const exit = yield* Effect.scoped(Effect.exit(Presence.roster(options as Presence.RosterOptions)))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(options))
        if (Exit.isFailure(exit)) {
          const tag = JSON.stringify(exit.cause)
          assert.match(tag, /InvalidArgumentError|KeysetNotFoundError/, JSON.stringify(options))
        }
      }
      assert.strictEqual((yield* em.requests).length, 0)
    }).pipe(Effect.provide(live())))
})
