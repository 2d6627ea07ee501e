import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Presence } from "../src/index.js"
import * as Fake from "./util/FakeHttp.js"

const LIMIT = 32 * 1024
const channels = Array.from({ length: 3000 }, (_, i) => `room-${String(i).padStart(5, "0")}-ünïcødé`)
const groups = Array.from({ length: 1500 }, (_, i) => `group-${String(i).padStart(5, "0")}-with-a-long-name`)

const listedChannels = (req: Fake.Recorded): Array<string> => {
  const list = req.url.pathname.split("/channel/")[1].split("/")[0]
  return list === "," ? [] : list.split(",").map(decodeURIComponent)
}
const listedGroups = (req: Fake.Recorded): Array<string> =>
  (req.query.get("channel-group") ?? "").split(",").filter((g) => g.length > 0)

// A fake service that answers here-now for whatever channels (and groups, as one member each) it got.
const hereNowServer = (req: Fake.Recorded) => {
  const chs: Record<string, { uuids: Array<string>; occupancy: number }> = {}
  for (const ch of listedChannels(req)) chs[ch] = { uuids: [`u-${ch}`], occupancy: 1 + (ch.length % 3) }
  for (const g of listedGroups(req)) chs[`member-of-${g}`] = { uuids: ["g"], occupancy: 1 }
  const total = Object.values(chs).reduce((n, c) => n + c.occupancy, 0)
  return Fake.ok({ payload: { channels: chs, total_channels: Object.keys(chs).length, total_occupancy: total } })
}

describe("long channel lists are split under the URL limit", () => {
  it.effect("here now: 3,000 channels and 1,500 groups → several requests, merged", () => {
    const f = Fake.layer(hereNowServer)
    return Effect.gen(function*() {
      const r = yield* Presence.hereNow({ channels, channelGroups: groups })
      assert.isAbove(f.requests.length, 2)
      for (const req of f.requests) assert.isBelow(req.target.length, LIMIT)
      // every channel and group sent exactly once
      assert.deepStrictEqual(f.requests.flatMap(listedChannels), channels)
      assert.deepStrictEqual(f.requests.flatMap(listedGroups), groups)
      assert.strictEqual(r.channels.size, 4500)
      const expected = channels.reduce((n, ch) => n + 1 + (ch.length % 3), 0) + 1500
      assert.strictEqual(r.totalOccupancy, expected)
      assert.strictEqual(r.totalChannels, 4500)
      assert.deepStrictEqual([...(r.channels.get(channels[2999])?.uuids.keys() ?? [])], [`u-${channels[2999]}`])
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("heartbeat with per-channel state: each part carries only its own channels' state", () => {
    const f = Fake.layer(() => Fake.ok())
    const state = Object.fromEntries(channels.map((ch, i) => [ch, { seat: i, mood: "waiting" }]))
    return Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels, state, heartbeat: 60 })
      assert.isAbove(f.requests.length, 3)
      for (const req of f.requests) {
        assert.isBelow(req.target.length, LIMIT)
        const sentState = JSON.parse(req.query.get("state") ?? "{}")
        assert.deepStrictEqual(Object.keys(sentState), listedChannels(req))
      }
      assert.strictEqual(f.requests.flatMap(listedChannels).length, 3000)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("leave fails when any part fails", () => {
    let n = 0
    const f = Fake.layer(() => (++n === 2 ? Fake.json({ status: 503, error: 1, message: "down" }, 503) : Fake.ok()))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Presence.announceLeave({ channels }))
      assert.strictEqual(e._tag, "ServerError")
      assert.isAbove(f.requests.length, 1)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("get state over many channels merges the maps", () => {
    const f = Fake.layer((req) =>
      Fake.ok({ payload: { channels: Object.fromEntries(listedChannels(req).map((ch) => [ch, { at: ch }])) } })
    )
    return Effect.gen(function*() {
      const r = yield* Presence.getState({ channels })
      assert.isAbove(f.requests.length, 1)
      assert.strictEqual(r.channels.size, 3000)
      assert.deepStrictEqual(r.channels.get(channels[1234]), { at: channels[1234] })
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a short list stays one request", () => {
    const f = Fake.layer(hereNowServer)
    return Effect.gen(function*() {
      yield* Presence.hereNow({ channels: channels.slice(0, 100) })
      assert.strictEqual(f.requests.length, 1)
    }).pipe(Effect.provide(f.layer))
  })
})
