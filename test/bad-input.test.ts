import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { Keyset, Presence } from "../src/index.js"
import * as Fake from "./util/FakeHttp.js"

const cyclic: Record<string, unknown> = { a: "x" }
cyclic.self = cyclic
const long = "x".repeat(93)

// Each row: a program that must fail with `tag` before sending anything.
const table: ReadonlyArray<readonly [string, string, Effect.Effect<unknown, unknown, Presence.Requirements>]> = [
  ["empty channel name", "InvalidArgumentError", Presence.hereNow({ channels: [""] })],
  ["empty group name", "InvalidArgumentError", Presence.hereNow({ channelGroups: [""] })],
  ["comma in a channel name", "InvalidArgumentError", Presence.hereNow({ channels: ["a,b"] })],
  ["colon in a channel name", "InvalidArgumentError", Presence.announceHeartbeat({ channels: ["a:b"] })],
  ["star in a channel name", "InvalidArgumentError", Presence.announceLeave({ channels: ["a*"] })],
  ["slash in a group name", "InvalidArgumentError", Presence.announceLeave({ channelGroups: ["a/b"] })],
  ["backslash", "InvalidArgumentError", Presence.getState({ channels: ["a\\b"] })],
  ["space", "InvalidArgumentError", Presence.setState({ channels: ["a b"], state: {} })],
  ["NUL", "InvalidArgumentError", Presence.hereNow({ channels: ["a\u0000"] })],
  ["control character", "InvalidArgumentError", Presence.hereNow({ channels: ["a\u0007"] })],
  ["lone surrogate", "InvalidArgumentError", Presence.hereNow({ channels: ["a\ud800"] })],
  ["93-character name", "InvalidArgumentError", Presence.hereNow({ channels: [long] })],
  ["non-string channel", "InvalidArgumentError", Presence.hereNow({ channels: [42 as unknown as string] })],
  ["channels not iterable", "InvalidArgumentError", Presence.hereNow({ channels: 42 as unknown as Array<string> })],
  ["heartbeat with no channel or group", "InvalidArgumentError", Presence.announceHeartbeat({})],
  ["leave with no channel or group", "InvalidArgumentError", Presence.announceLeave({ channels: [] })],
  ["get state with no channel or group", "InvalidArgumentError", Presence.getState({})],
  ["set state with no channel or group", "InvalidArgumentError", Presence.setState({ state: { a: 1 } })],
  ["heartbeat 19", "InvalidArgumentError", Presence.announceHeartbeat({ channels: ["a"], heartbeat: 19 })],
  ["heartbeat 321", "InvalidArgumentError", Presence.announceHeartbeat({ channels: ["a"], heartbeat: 321 })],
  ["heartbeat 30.5", "InvalidArgumentError", Presence.announceHeartbeat({ channels: ["a"], heartbeat: 30.5 })],
  ["heartbeat NaN", "InvalidArgumentError", Presence.announceHeartbeat({ channels: ["a"], heartbeat: NaN })],
  ["limit -1", "InvalidArgumentError", Presence.hereNow({ channels: ["a"], limit: -1 })],
  ["limit 1001", "InvalidArgumentError", Presence.hereNow({ channels: ["a"], limit: 1001 })],
  ["limit 2.5", "InvalidArgumentError", Presence.hereNow({ channels: ["a"], limit: 2.5 })],
  ["offset -1", "InvalidArgumentError", Presence.hereNow({ channels: ["a"], offset: -1 })],
  ["offset 1.5", "InvalidArgumentError", Presence.hereNow({ channels: ["a"], offset: 1.5 })],
  ["unknown stateInfo", "InvalidArgumentError", Presence.hereNow({ stateInfo: "some" as Presence.StateInfo })],
  [
    "state is an array",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: [1] as unknown as Presence.PresenceState })
  ],
  [
    "state is null",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: null as unknown as Presence.PresenceState })
  ],
  [
    "state holds a function",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: { f: (() => 1) as unknown as string } })
  ],
  [
    "state holds a BigInt",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: { n: 1n as unknown as number } })
  ],
  [
    "state is cyclic",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: cyclic as Presence.PresenceState })
  ],
  [
    "state is nested",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: { a: { b: 1 } } as unknown as Presence.PresenceState })
  ],
  ["state has Infinity", "InvalidArgumentError", Presence.setState({ channels: ["a"], state: { n: Infinity } })],
  [
    "state is a Date",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: new Date() as unknown as Presence.PresenceState })
  ],
  ["state key is reserved", "InvalidArgumentError", Presence.setState({ channels: ["a"], state: { pn_x: 1 } })],
  [
    "heartbeat state for an unlisted channel",
    "InvalidArgumentError",
    Presence.announceHeartbeat({ channels: ["a"], state: { b: { x: 1 } } })
  ],
  [
    "heartbeat state that is not flat",
    "InvalidArgumentError",
    Presence.announceHeartbeat({ channels: ["a"], state: { a: [1] as unknown as Presence.PresenceState } })
  ],
  ["where-now uuid empty", "InvalidArgumentError", Presence.whereNow({ uuid: "" })],
  ["get-state uuid too long", "InvalidArgumentError", Presence.getState({ channels: ["a"], uuid: long })],
  [
    "state too large for one request",
    "InvalidArgumentError",
    Presence.setState({ channels: ["a"], state: { big: "x".repeat(40_000) } })
  ],
  ["unknown keyset name", "KeysetNotFoundError", Presence.hereNow({ using: "nope" })],
  ["keyset and using both", "InvalidArgumentError", Presence.hereNow({ using: "admin", keyset: Fake.alice })],
  [
    "keyset that is not a Keyset",
    "InvalidArgumentError",
    Presence.whereNow({ keyset: { subscribeKey: "x" } as unknown as Keyset.Keyset })
  ]
]

describe("bad input fails with a typed error and sends nothing", () => {
  for (const [name, tag, program] of table) {
    it.effect(name, () => {
      const f = Fake.layer(undefined, {
        default: Fake.alice,
        named: { admin: new Keyset.Keyset({ subscribeKey: "sub-c-admin", userId: "ops" }) }
      })
      return Effect.gen(function*() {
        const exit = yield* Effect.exit(program)
        assert.isTrue(Exit.isFailure(exit), "should fail")
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.isDie(exit.cause), "must not be a defect")
          const err = Cause.failureOption(exit.cause)
          assert.strictEqual(err._tag, "Some")
          if (err._tag === "Some") {
            assert.strictEqual((err.value as { _tag: string })._tag, tag)
            assert.isString((err.value as Error).message)
          }
        }
        assert.strictEqual(f.requests.length, 0, "no request may be sent")
      }).pipe(Effect.provide(f.layer))
    })
  }

  it.effect("a lone string is one channel, not its characters", () => {
    const f = Fake.layer(() => Fake.ok({ uuids: [], occupancy: 0 }))
    return Effect.gen(function*() {
      const r = yield* Presence.hereNow({ channels: "lobby" })
      assert.deepStrictEqual([...r.channels.keys()], ["lobby"])
      assert.include(f.requests[0].target, "/channel/lobby?")
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("duplicate names are sent once", () => {
    const f = Fake.layer(() => Fake.ok())
    return Effect.gen(function*() {
      yield* Presence.announceLeave({ channels: ["a", "b", "a"] })
      assert.include(f.requests[0].target, "/channel/a,b/leave?")
    }).pipe(Effect.provide(f.layer))
  })
})
