// The example from docs/testing.md, run by `npm test`.
import { assert, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { Keyset, Presence } from "effect-pubnub-presence"
import { Emulator } from "effect-pubnub-presence/emulator"

const TestLive = Layer.merge(
  Emulator.layerTest(),
  Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" }) })
)

it.effect("a user times out after their heartbeat value", () =>
  Effect.gen(function*() {
    yield* Presence.announceHeartbeat({ channels: ["lobby"], heartbeat: 60 })
    yield* TestClock.adjust("59 seconds")
    assert.strictEqual((yield* Presence.hereNow({ channels: ["lobby"] })).channels.get("lobby")?.count, 1)
    yield* TestClock.adjust("2 seconds")
    const here = yield* Presence.hereNow({ channels: ["lobby"] })
    assert.strictEqual(here.channels.get("lobby")?.count, 0)
  }).pipe(Effect.provide(TestLive)))
