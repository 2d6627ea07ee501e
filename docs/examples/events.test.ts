// The examples from docs/events.md, run by `npm test`.
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Stream, TestClock } from "effect"
import { Keyset, Presence, PresenceEvent } from "effect-pubnub-presence"
import { Emulator } from "effect-pubnub-presence/emulator"

const Local = Layer.merge(
  Emulator.layerTest(),
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" }) })
)

it.scoped("a user who stops heartbeating times out", () =>
  Effect.gen(function*() {
    const events = yield* Presence.subscribeEvents({ channels: ["lobby"] })
    const first = yield* Effect.fork(Stream.runCollect(Stream.take(events, 2)))
    yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 20 })
    yield* TestClock.adjust("21 seconds")
    const [join, timeout] = yield* Fiber.join(first)
    assert.strictEqual(join._tag, "Join")
    assert.strictEqual(timeout._tag, "Timeout")
  }).pipe(Effect.provide(Local)))

it.scoped("the watch example: one line per event, matched by $match", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const events = yield* Presence.subscribeEvents({ channels: ["lobby"] })
    const watching = yield* Effect.fork(events.pipe(
      Stream.take(3),
      Stream.runForEach((event) =>
        Effect.sync(() =>
          lines.push(PresenceEvent.$match(event, {
            Join: (e) => `${e.uuid} joined ${e.channel} (${e.occupancy} here)`,
            Leave: (e) => `${e.uuid} left ${e.channel}`,
            Timeout: (e) => `${e.uuid} timed out of ${e.channel}`,
            StateChange: (e) => `${e.uuid} is now ${JSON.stringify(Option.getOrNull(e.state))}`,
            Interval: (e) => `${e.channel}: +${e.joined.length} −${e.left.length + e.timedOut.length}`
          }))
        )
      )
    ))
    yield* Presence.announceHeartbeat({ channels: ["lobby"] })
    yield* Presence.setState({ channels: ["lobby"], state: { mood: "typing" } })
    yield* Presence.announceLeave({ channels: ["lobby"] })
    yield* Fiber.join(watching)
    assert.deepStrictEqual(lines, [
      "alice joined lobby (1 here)",
      "alice is now {\"mood\":\"typing\"}",
      "alice left lobby"
    ])
  }).pipe(Effect.provide(Local)))
