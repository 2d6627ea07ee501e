import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { Keyset, Presence, PubNubConfig } from "../src/index.js"
import * as Fake from "./util/FakeHttp.js"

describe("Keyset", () => {
  it("validates userId and subscribeKey", () => {
    assert.throws(() => new Keyset.Keyset({ subscribeKey: "s", userId: "" }))
    assert.throws(() => new Keyset.Keyset({ subscribeKey: "s", userId: "x".repeat(93) }))
    assert.throws(() => new Keyset.Keyset({ subscribeKey: "", userId: "a" }))
    assert.throws(() => new Keyset.Keyset({ subscribeKey: "a/b", userId: "a" }))
    assert.strictEqual(new Keyset.Keyset({ subscribeKey: "s", userId: "x".repeat(92) }).userId.length, 92)
  })

  it.effect("make fails with InvalidArgumentError instead of throwing", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Keyset.make({ subscribeKey: "s", userId: "" }))
      assert.strictEqual(e._tag, "InvalidArgumentError")
      const ok = yield* Keyset.make({ subscribeKey: "s", userId: "bob" })
      assert.strictEqual(ok.userId, "bob")
    }))

  it.effect("layerConfig reads PUBNUB_* through Config, secrets redacted", () =>
    Effect.gen(function*() {
      const service = yield* Keyset.KeysetService
      assert.strictEqual(service.default.subscribeKey, "sub-c-env")
      assert.strictEqual(service.default.publishKey, "pub-c-env")
      assert.strictEqual(service.default.userId, "env-user")
      assert.isTrue(Redacted.isRedacted(service.default.secretKey))
      assert.strictEqual(Redacted.value(service.default.secretKey ?? Redacted.make("")), "sec-c-env")
      assert.isUndefined(service.default.authKey)
      assert.notInclude(String(service.default.secretKey), "sec-c-env")
    }).pipe(
      Effect.provide(
        Keyset.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["PUBNUB_SUBSCRIBE_KEY", "sub-c-env"],
            ["PUBNUB_PUBLISH_KEY", "pub-c-env"],
            ["PUBNUB_SECRET_KEY", "sec-c-env"],
            ["PUBNUB_USER_ID", "env-user"]
          ])
        ))))
      )
    ))

  it.effect("layerConfig fails with a ConfigError when keys are missing or invalid", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(
        Effect.provide(
          Keyset.KeysetService,
          Keyset.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))))
        )
      )
      assert.include(String(missing), "PUBNUB_SUBSCRIBE_KEY")
      const bad = yield* Effect.flip(
        Effect.provide(
          Keyset.KeysetService,
          Keyset.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
            new Map([["PUBNUB_SUBSCRIBE_KEY", "s"], ["PUBNUB_USER_ID", ""]])
          ))))
        )
      )
      assert.include(String(bad), "userId")
    }))
})

describe("PubNubConfig", () => {
  it.effect("defaults: ps.pndsn.com over https", () => {
    const f = Fake.make(() => Fake.ok({ payload: { channels: [] } }))
    return Effect.gen(function*() {
      yield* Presence.whereNow()
      assert.strictEqual(f.requests[0].url.origin, "https://ps.pndsn.com")
    }).pipe(Effect.provide(Layer.merge(f.layer, Keyset.layer({ default: Fake.alice }))))
  })

  it.effect("layer overrides origin and scheme", () => {
    const f = Fake.make(() => Fake.ok({ payload: { channels: [] } }))
    return Effect.gen(function*() {
      yield* Presence.whereNow()
      assert.strictEqual(f.requests[0].url.origin, "http://127.0.0.1:8090")
    }).pipe(
      Effect.provide(Layer.mergeAll(
        f.layer,
        Keyset.layer({ default: Fake.alice }),
        PubNubConfig.layer({ origin: "127.0.0.1:8090", secure: false })
      ))
    )
  })
})

describe("hereNowAll", () => {
  // a fake that pages a 2,500-occupant channel and a 3-occupant one by limit/offset
  const occupants = { big: Array.from({ length: 2500 }, (_, i) => `u${i}`), small: ["a", "b", "c"] }
  const pager = (req: Fake.Recorded) => {
    const limit = Number(req.query.get("limit") ?? 1000)
    const offset = Number(req.query.get("offset") ?? 0)
    const channels: Record<string, { uuids: Array<string>; occupancy: number }> = {}
    for (const [name, all] of Object.entries(occupants)) {
      const page = all.slice(offset, offset + limit)
      if (page.length > 0) channels[name] = { uuids: page, occupancy: all.length }
    }
    const total = Object.values(channels).reduce((n, c) => n + c.occupancy, 0)
    return Fake.ok({
      payload: { channels, total_channels: Object.keys(channels).length, total_occupancy: total }
    })
  }

  it.effect("walks every page and returns every occupant", () => {
    const f = Fake.layer(pager)
    return Effect.gen(function*() {
      const r = yield* Presence.hereNowAll({ channels: ["big", "small"] })
      assert.strictEqual(f.requests.length, 3)
      assert.deepStrictEqual(f.requests.map((q) => q.query.get("offset")), [null, "1000", "2000"])
      assert.strictEqual(r.channels.get("big")?.uuids.size, 2500)
      assert.strictEqual(r.channels.get("small")?.uuids.size, 3)
      assert.strictEqual(r.totalOccupancy, 2503)
      assert.isTrue(Option.isNone(r.nextOffset))
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("one page of hereNow reports hasMore and nextOffset", () => {
    const f = Fake.layer(pager)
    return Effect.gen(function*() {
      const r = yield* Presence.hereNow({ channels: ["big", "small"], limit: 1000 })
      assert.isTrue(r.channels.get("big")?.hasMore)
      assert.isFalse(r.channels.get("small")?.hasMore)
      assert.deepStrictEqual(r.nextOffset, Option.some(1000))
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("stops when a server ignores offset instead of looping", () => {
    const f = Fake.layer(() => Fake.ok({ uuids: ["a", "b"], occupancy: 10 }))
    return Effect.gen(function*() {
      const r = yield* Presence.hereNowAll({ channels: ["c"], limit: 2 })
      assert.strictEqual(f.requests.length, 2)
      assert.strictEqual(r.channels.get("c")?.uuids.size, 2)
    }).pipe(Effect.provide(f.layer))
  })
})
