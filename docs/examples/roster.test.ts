// The examples from docs/roster.md, run by `npm test`.
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option, Stream, TestClock } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { Emulator } from "effect-pubnub-presence/emulator"

const Local = Layer.merge(
  Emulator.layerTest(),
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "watcher" }) })
)
const bob = new Keyset.Keyset({ subscribeKey: "demo", userId: "bob" })

/** The first view that shows `n` in the lobby. */
const until = (roster: Presence.Roster, n: number) =>
  roster.changes.pipe(Stream.filter((v) => v.totalOccupancy === n), Stream.runHead)

it.effect("the test recipe: a join, then a timeout", () =>
  Effect.gen(function*() {
    const lobby = yield* Presence.roster({ channels: ["lobby"] })
    yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 20, keyset: bob })
    const joined = yield* until(lobby, 1) // bob is in
    assert.isTrue(Option.isSome(joined) && joined.value.channels.get("lobby")?.uuids.has("bob") === true)
    yield* TestClock.adjust("21 seconds") // bob times out
    const left = yield* until(lobby, 0)
    assert.isTrue(Option.isSome(left))
  }).pipe(Effect.scoped, Effect.provide(Local)))

it.effect("the first example: get, then changes with the current view first", () =>
  Effect.gen(function*() {
    yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: bob, state: { lobby: { mood: "busy" } } })
    const lobby = yield* Presence.roster({ channels: ["lobby"], stateInfo: "all" })
    const now = yield* lobby.get
    assert.strictEqual(now.totalOccupancy, 1)
    assert.deepStrictEqual(now.channels.get("lobby")?.uuids.get("bob")?.state, Option.some({ mood: "busy" }))
    const first = yield* Stream.runHead(lobby.changes)
    assert.isTrue(Option.isSome(first) && first.value === now)
  }).pipe(Effect.scoped, Effect.provide(Local)))
