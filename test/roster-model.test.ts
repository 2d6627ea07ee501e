/**
 * The roster's convergence, model-based: random joins, leaves, timeouts and state changes over
 * several channels and a group, with random faults (dropped polls, 503 bursts, duplicate
 * deliveries, a lost resume point, failing snapshots) and interval mode switched on and off (with
 * and without deltas). Once the system has been quiet for one interval plus a poll, the roster
 * must equal here-now and the emulator's own record — every time.
 *
 * Each case runs in its own emulator under its own TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Ref, Schedule, Stream, TestClock, TestContext, TestServices } from "effect"
import * as fc from "fast-check"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence } from "../src/index.js"
import { members, plain, truth } from "./util/roster.js"

const WATCHED = ["c0", "c1", "c2", "c3"]
const ALL = [...WATCHED, "c4"] // c4 is watched by no one
const USERS = ["u0", "u1", "u2", "u3", "u4", "u5"]
const POLL = "/v2/subscribe"
// the roster's here-now (c0,c1 and the group g = c2,c3); heartbeats go to single channels
const SNAPSHOT = "/v2/presence/sub-key/demo/channel/c0,c1"

type Command =
  | {
    readonly _tag: "join"
    readonly uuid: string
    readonly channel: string
    readonly heartbeat: number
    readonly mood: string | undefined
  }
  | { readonly _tag: "leave"; readonly uuid: string; readonly channel: string }
  | { readonly _tag: "state"; readonly uuid: string; readonly channel: string; readonly mood: string }
  | { readonly _tag: "wait"; readonly seconds: number }
  | { readonly _tag: "fault"; readonly kind: "drop" | "503" | "lost" | "duplicate" | "snapshot" }
  | {
    readonly _tag: "interval"
    readonly announceMax: number
    readonly intervalSeconds: number
    readonly presenceDeltas: boolean
  }

const uuid = fc.constantFrom(...USERS)
const channel = fc.constantFrom(...ALL)
const mood = fc.constantFrom("busy", "away", "here")
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      _tag: fc.constant("join" as const),
      uuid,
      channel,
      heartbeat: fc.constantFrom(20, 300),
      mood: fc.option(mood, { nil: undefined })
    })
  },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("leave" as const), uuid, channel }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("state" as const), uuid, channel, mood }) },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 25 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("fault" as const),
      kind: fc.constantFrom("drop" as const, "503" as const, "lost" as const, "duplicate" as const, "snapshot" as const)
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("interval" as const),
      announceMax: fc.constantFrom(0, 1, 2, 1000),
      intervalSeconds: fc.constantFrom(5, 10),
      presenceDeltas: fc.boolean()
    })
  }
)

const user = (id: string) => new Keyset.Keyset({ subscribeKey: "demo", userId: id })

const run = (em: Emulator.Service, c: Command) => {
  switch (c._tag) {
    case "join":
      return Effect.ignore(Presence.announceHeartbeat({
        channels: [c.channel],
        heartbeat: c.heartbeat,
        keyset: user(c.uuid),
        ...(c.mood === undefined ? {} : { state: { [c.channel]: { mood: c.mood } } })
      }))
    case "leave":
      return Effect.ignore(Presence.announceLeave({ channels: [c.channel], keyset: user(c.uuid) }))
    case "state":
      return Effect.ignore(Presence.setState({ channels: [c.channel], state: { mood: c.mood }, keyset: user(c.uuid) }))
    case "wait":
      return TestClock.adjust(`${c.seconds} seconds`)
    case "interval":
      return em.configure({
        announceMax: c.announceMax,
        intervalSeconds: c.intervalSeconds,
        presenceDeltas: c.presenceDeltas
      })
    case "fault":
      switch (c.kind) {
        case "drop":
          return Effect.orDie(em.addFault({ path: POLL, drop: true }))
        case "503":
          return Effect.orDie(em.addFault({ path: POLL, status: 503, times: 3 }))
        case "lost":
          // an outage, and the service resumes without what it published meanwhile
          return Effect.orDie(
            Effect.zipRight(em.addFault({ path: POLL, drop: true }), em.addFault({ path: POLL, lost: true }))
          )
        case "duplicate":
          return Effect.orDie(em.addFault({ path: POLL, duplicate: true, times: 2 }))
        case "snapshot":
          return Effect.orDie(em.addFault({ path: SNAPSHOT, status: 503, times: 2 }))
      }
  }
}

/** Quiet: no fault left, nobody about to time out, then one interval plus a poll (and the retries). */
const quiesce = (em: Emulator.Service, interval: number) =>
  Effect.gen(function*() {
    yield* em.clearFaults
    const quiet = (interval + 5) * 1000
    for (;;) {
      const s = yield* em.snapshot
      let next = Number.POSITIVE_INFINITY
      for (const ch of Object.values(s.keys.demo?.channels ?? {})) {
        for (const o of Object.values(ch.occupants)) next = Math.min(next, o.expiresAt)
      }
      if (next - s.now > quiet) break
      yield* TestClock.adjust(`${next - s.now + 1000} millis`)
    }
    yield* TestClock.adjust(`${quiet} millis`)
  })

const check = (stateInfo: Presence.StateInfo, commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const em = yield* Emulator.Emulator
    yield* em.serve("GET", "/v1/channel-registration/sub-key/demo/channel-group/g?add=c2,c3")
    const options = { channels: ["c0", "c1"], channelGroups: ["g"], stateInfo }
    const roster = yield* Presence.roster({ ...options, retry: Schedule.spaced("1 second") })
    let interval = 10
    for (const c of commands) {
      if (c._tag === "interval") interval = c.intervalSeconds
      yield* run(em, c)
    }
    yield* quiesce(em, interval)
    const expected = plain(yield* Presence.hereNowAll(options))
    const last = yield* Ref.make<unknown>(undefined)
    const found = yield* roster.changes.pipe(
      Stream.tap((v) => Ref.set(last, plain(v))),
      Stream.filter((v) => JSON.stringify(plain(v)) === JSON.stringify(expected)),
      Stream.runHead,
      Effect.timeout("10 seconds"),
      TestServices.provideLive,
      Effect.option
    )
    if (Option.isNone(Option.flatten(found))) {
      assert.deepStrictEqual(yield* Ref.get(last), expected, "the roster does not equal here-now after quiet")
    }
    const view = yield* roster.get
    const record = yield* truth("demo", WATCHED)
    if (stateInfo === "none") {
      assert.deepStrictEqual(
        Object.fromEntries([...view.channels].map(([c, o]) => [c, o.count])),
        Object.fromEntries(Object.entries(record).map(([c, us]) => [c, us.length]))
      )
    } else {
      assert.deepStrictEqual(members(view), record)
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.merge(Emulator.layerTest(), Keyset.layer({ default: user("watcher") }))),
    Effect.provide(TestContext.TestContext)
  )

describe("Presence.roster converges, whatever happens", () => {
  it("random presence, faults and interval mode: after quiet, the roster equals here-now and the emulator", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Presence.StateInfo>("all", "onlyUUIDs", "none"),
        fc.array(command, { minLength: 1, maxLength: 40 }),
        (stateInfo, commands) => Effect.runPromise(check(stateInfo, commands))
      ),
      { numRuns: 100, endOnFailure: true }
    )
  })
})
