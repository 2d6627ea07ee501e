// Result instances are built from decoded fields without re-running the class constructors (for
// speed). They must be indistinguishable from constructed ones.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Equal, Option, Schema } from "effect"
import { Presence } from "../src/index.js"
import * as Fake from "./util/FakeHttp.js"

describe("result instances", () => {
  it.effect("equal constructed instances: Equal, instanceof, Schema.is, JSON, inspection", () => {
    const f = Fake.layer(() => Fake.ok({ uuids: ["a", { uuid: "b", state: { mood: "x" } }], occupancy: 5 }))
    return Effect.gen(function*() {
      const got = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: "all", limit: 2 })
      const lobby = got.channels.get("lobby")
      assert.isDefined(lobby)
      if (lobby === undefined) return
      const b = lobby.uuids.get("b")
      assert.isDefined(b)
      if (b === undefined) return
      const expected = new Presence.HereNowResult({
        totalChannels: 1,
        totalOccupancy: 5,
        nextOffset: Option.some(2),
        channels: new Map([[
          "lobby",
          new Presence.ChannelOccupancy({
            channelName: "lobby",
            count: 5,
            hasMore: true,
            uuids: new Map([
              ["a", new Presence.OccupantInfo({ uuid: "a", state: Option.none() })],
              ["b", new Presence.OccupantInfo({ uuid: "b", state: b.state })]
            ])
          })
        ]])
      })
      for (
        const [x, y] of [[got, expected], [lobby, expected.channels.get("lobby")], [
          b,
          expected.channels.get("lobby")?.uuids.get("b")
        ]] as const
      ) {
        assert.strictEqual(Object.getPrototypeOf(x), Object.getPrototypeOf(y))
        assert.deepStrictEqual(Object.keys(x).sort(), Object.keys(y ?? {}).sort())
        assert.strictEqual(JSON.stringify(x), JSON.stringify(y))
        assert.strictEqual(String(x), String(y))
      }
      // Equal compares fields with Equal: true for occupants (same state reference); containers hold
      // Maps, which Effect compares by reference, for constructed and built instances alike
      assert.isTrue(Equal.equals(b, new Presence.OccupantInfo({ uuid: "b", state: b.state })))
      assert.isFalse(Equal.equals(b, new Presence.OccupantInfo({ uuid: "c", state: b.state })))
      assert.isTrue(Schema.is(Presence.HereNowResult)(got))
      assert.isTrue(Schema.is(Presence.OccupantInfo)(b))
      assert.instanceOf(lobby, Presence.ChannelOccupancy)
      assert.deepStrictEqual(b.state, Option.some({ mood: "x" }))
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("results survive JSON.stringify: maps as objects, Option as value or null", () => {
    const f = Fake.layer((req) =>
      req.url.pathname.includes("/uuid/")
        ? Fake.ok({ uuid: "alice", payload: { channels: { lobby: { mood: "x" }, hall: {} } } })
        : Fake.ok({ uuids: ["a", { uuid: "b", state: { mood: "x" } }], occupancy: 5 })
    )
    return Effect.gen(function*() {
      const here = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: "all", limit: 2 })
      assert.deepStrictEqual(JSON.parse(JSON.stringify(here)), {
        totalChannels: 1,
        totalOccupancy: 5,
        nextOffset: 2,
        channels: {
          lobby: {
            channelName: "lobby",
            count: 5,
            hasMore: true,
            uuids: { a: { uuid: "a", state: null }, b: { uuid: "b", state: { mood: "x" } } }
          }
        }
      })
      const last = new Presence.HereNowResult({
        totalChannels: 0,
        totalOccupancy: 0,
        channels: new Map(),
        nextOffset: Option.none()
      })
      assert.deepStrictEqual(JSON.parse(JSON.stringify(last)), {
        totalChannels: 0,
        totalOccupancy: 0,
        channels: {},
        nextOffset: null
      })
      const state = yield* Presence.getState({ channels: ["lobby", "hall"] })
      assert.deepStrictEqual(JSON.parse(JSON.stringify(state)), {
        uuid: "alice",
        channels: { lobby: { mood: "x" }, hall: {} }
      })
    }).pipe(Effect.provide(f.layer))
  })
})
