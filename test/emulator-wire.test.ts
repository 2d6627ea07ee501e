import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Emulator } from "../src/Emulator.js"
import * as EmulatorModule from "../src/Emulator.js"
import { Keyset, Presence } from "../src/index.js"

const P = "/v2/presence/sub-key/demo"

const call = (target: string) =>
  Effect.gen(function*() {
    const em = yield* Emulator
    const r = yield* em.serve("GET", target)
    return { status: r.status, json: JSON.parse(r.body) as Record<string, unknown> }
  })

const ok = (target: string) =>
  Effect.flatMap(call(target), (r) => {
    assert.strictEqual(r.status, 200, `${target} → ${JSON.stringify(r.json)}`)
    return Effect.succeed(r.json)
  })

const hb = (uuid: string, channels: string, extra = "") => ok(`${P}/channel/${channels}/heartbeat?uuid=${uuid}${extra}`)

const OK = { status: 200, message: "OK", service: "Presence" }

const withEmulator = (options?: EmulatorModule.Options) => Effect.provide(EmulatorModule.layer(options))

describe("here now", () => {
  it.effect("one channel: flat, exact keys", () =>
    Effect.gen(function*() {
      yield* hb("user-a", "ch1")
      yield* hb("user-b", "ch1")
      assert.deepStrictEqual(yield* ok(`${P}/channel/ch1?uuid=x`), { ...OK, uuids: ["user-a", "user-b"], occupancy: 2 })
      assert.deepStrictEqual(yield* ok(`${P}/channel/empty?uuid=x`), { ...OK, uuids: [], occupancy: 0 })
    }).pipe(withEmulator()))

  it.effect("state=1: objects, no `state` key without state; disable_uuids=1 and limit=0: no `uuids` key", () =>
    Effect.gen(function*() {
      yield* hb("user-a", "ch1", `&state=${encodeURIComponent(JSON.stringify({ ch1: { mood: "busy" } }))}`)
      yield* hb("user-b", "ch1")
      const withState = yield* ok(`${P}/channel/ch1?state=1`)
      assert.deepStrictEqual(withState.uuids, [{ uuid: "user-a", state: { mood: "busy" } }, { uuid: "user-b" }])
      assert.notProperty((withState.uuids as Array<object>)[1], "state")
      assert.deepStrictEqual(yield* ok(`${P}/channel/ch1?disable_uuids=1`), { ...OK, occupancy: 2 })
      assert.deepStrictEqual(yield* ok(`${P}/channel/ch1?limit=0`), { ...OK, occupancy: 2 })
    }).pipe(withEmulator()))

  it.effect("several channels: nested; empty channels left out", () =>
    Effect.gen(function*() {
      yield* hb("user-a", "ch1,ch2")
      yield* hb("user-b", "ch2", `&state=${encodeURIComponent(JSON.stringify({ ch2: { age: 3 } }))}`)
      const body = yield* ok(`${P}/channel/ch1,ch2,ch3?state=1`)
      assert.deepStrictEqual(body, {
        ...OK,
        payload: {
          channels: {
            ch1: { uuids: [{ uuid: "user-a" }], occupancy: 1 },
            ch2: { uuids: [{ uuid: "user-a" }, { uuid: "user-b", state: { age: 3 } }], occupancy: 2 }
          },
          total_channels: 2,
          total_occupancy: 3
        }
      })
      const counts = yield* ok(`${P}/channel/ch1,ch2?disable_uuids=1`)
      assert.deepStrictEqual(counts.payload, {
        channels: { ch1: { occupancy: 1 }, ch2: { occupancy: 2 } },
        total_channels: 2,
        total_occupancy: 3
      })
      const none = yield* ok(`${P}/channel/x,y`)
      assert.deepStrictEqual(none.payload, { channels: {}, total_channels: 0, total_occupancy: 0 })
    }).pipe(withEmulator()))

  it.effect("global here now lists every occupied channel of the keyset only", () =>
    Effect.gen(function*() {
      yield* hb("a", "ch1")
      yield* hb("b", "ch2")
      yield* ok(`/v2/presence/sub-key/other/channel/elsewhere/heartbeat?uuid=z`)
      const body = yield* ok(P)
      assert.deepStrictEqual(body.payload, {
        channels: { ch1: { uuids: ["a"], occupancy: 1 }, ch2: { uuids: ["b"], occupancy: 1 } },
        total_channels: 2,
        total_occupancy: 2
      })
    }).pipe(withEmulator()))

  it.effect("groups: member channels as keys, never the group; total_channels counts empty members", () =>
    Effect.gen(function*() {
      yield* ok(`/v1/channel-registration/sub-key/demo/channel-group/cg1?add=m1,m2,m3`)
      yield* ok(`${P}/channel/,/heartbeat?uuid=u1&channel-group=cg1`)
      yield* ok(`${P}/channel/m1/leave?uuid=u1`)
      const body = yield* ok(`${P}/channel/,?channel-group=cg1`)
      const payload = body.payload as { channels: Record<string, unknown>; total_channels: number }
      assert.deepStrictEqual(Object.keys(payload.channels).sort(), ["m2", "m3"])
      assert.notProperty(payload.channels, "cg1")
      assert.strictEqual(payload.total_channels, 3)
      // Kotlin's `channel-group=,` for "no groups" is an empty list
      const kotlin = yield* ok(`/v2/presence/sub_key/demo/channel/m2?channel-group=,`)
      assert.strictEqual(kotlin.occupancy, 1)
    }).pipe(withEmulator()))

  it.effect("limit and offset page per channel; a page drops channels with nobody left", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 5; i++) yield* hb(`u${i}`, "big")
      yield* hb("solo", "small")
      const page = yield* ok(`${P}/channel/big?limit=2&offset=2`)
      assert.deepStrictEqual(page, { ...OK, uuids: ["u2", "u3"], occupancy: 5 })
      const multi = yield* ok(`${P}/channel/big,small?limit=2&offset=2`)
      assert.deepStrictEqual(multi.payload, {
        channels: { big: { uuids: ["u2", "u3"], occupancy: 5 } },
        total_channels: 1,
        total_occupancy: 5
      })
      for (const bad of ["limit=1001", "limit=-1", "limit=x", "offset=-1", "offset=1.5"]) {
        const r = yield* call(`${P}/channel/big?${bad}`)
        assert.strictEqual(r.status, 400, bad)
      }
    }).pipe(withEmulator()))

  it.effect("optional 3-second cache", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      yield* hb("a", "ch")
      assert.strictEqual((yield* ok(`${P}/channel/ch`)).occupancy, 1)
      yield* hb("b", "ch")
      assert.strictEqual((yield* ok(`${P}/channel/ch?uuid=other&requestid=2`)).occupancy, 1, "cached")
      yield* em.advance("3 seconds")
      assert.strictEqual((yield* ok(`${P}/channel/ch`)).occupancy, 2, "expired")
    }).pipe(withEmulator({ hereNowCacheSeconds: 3 })))
})

describe("where now, state, heartbeat, leave", () => {
  it.effect("where now", () =>
    Effect.gen(function*() {
      yield* hb("user-a", "ch1,ch2")
      assert.deepStrictEqual(yield* ok(`${P}/uuid/user-a`), { ...OK, payload: { channels: ["ch1", "ch2"] } })
      assert.deepStrictEqual(yield* ok(`${P}/uuid/ghost`), { ...OK, payload: { channels: [] } })
    }).pipe(withEmulator()))

  it.effect("get state: both shapes", () =>
    Effect.gen(function*() {
      yield* ok(`${P}/channel/ch1/uuid/user-a/data?state=${encodeURIComponent("{\"mood\":\"busy\"}")}`)
      assert.deepStrictEqual(yield* ok(`${P}/channel/ch1/uuid/user-a`), {
        ...OK,
        uuid: "user-a",
        channel: "ch1",
        payload: { mood: "busy" }
      })
      assert.deepStrictEqual(yield* ok(`${P}/channel/ch1,ch2/uuid/user-a`), {
        ...OK,
        uuid: "user-a",
        payload: { channels: { ch1: { mood: "busy" }, ch2: {} } }
      })
    }).pipe(withEmulator()))

  it.effect("set state: replaces, echoes once; missing or non-flat state is 400", () =>
    Effect.gen(function*() {
      const set = yield* ok(`${P}/channel/a,b/uuid/u/data?state=${encodeURIComponent("{\"x\":1,\"y\":\"z\"}")}`)
      assert.deepStrictEqual(set, { ...OK, payload: { x: 1, y: "z" } })
      yield* ok(`${P}/channel/a/uuid/u/data?state=${encodeURIComponent("{\"y\":2}")}`)
      assert.deepStrictEqual((yield* ok(`${P}/channel/a/uuid/u`)).payload, { y: 2 })
      const missing = yield* call(`${P}/channel/a/uuid/u/data`)
      assert.deepStrictEqual(missing, {
        status: 400,
        json: { status: 400, error: 1, message: "No state specified.", service: "Presence" }
      })
      for (const bad of ["{\"a\":{\"b\":1}}", "[1]", "nope", "{\"pn_x\":1}"]) {
        const r = yield* call(`${P}/channel/a/uuid/u/data?state=${encodeURIComponent(bad)}`)
        assert.strictEqual(r.status, 400, bad)
      }
    }).pipe(withEmulator()))

  it.effect("heartbeat joins implicitly, takes a per-channel state map, takes any whole timeout from 1 s", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      assert.deepStrictEqual(
        yield* hb("u", "a,b", "&heartbeat=60&state=" + encodeURIComponent("{\"a\":{\"k\":1}}")),
        OK
      )
      const snap = yield* em.snapshot
      assert.deepStrictEqual(snap.keys.demo.channels.a.occupants.u, { expiresAt: 60_000, timeout: 60, state: { k: 1 } })
      assert.deepStrictEqual(snap.keys.demo.channels.b.occupants.u, { expiresAt: 60_000, timeout: 60 })
      for (const bad of ["0", "-1", "86401", "abc", "30.5", ""]) {
        const r = yield* call(`${P}/channel/a/heartbeat?uuid=u&heartbeat=${bad}`)
        assert.strictEqual(r.status, 400, bad)
      }
      // the service honours values below the SDKs' 20 (it timed a user out after 8 s)
      assert.strictEqual((yield* call(`${P}/channel/c/heartbeat?uuid=w&heartbeat=8`)).status, 200)
      assert.strictEqual((yield* em.snapshot).keys.demo.channels.c.occupants.w.timeout, 8)
      assert.strictEqual((yield* call(`${P}/channel/,/heartbeat?uuid=u`)).status, 400)
      assert.strictEqual((yield* call(`${P}/channel/a/heartbeat`)).status, 400, "no uuid")
    }).pipe(withEmulator()))

  it.effect("leave removes the uuid at once and deletes its state", () =>
    Effect.gen(function*() {
      yield* hb("u", "a,b", "&state=" + encodeURIComponent("{\"a\":{\"k\":1}}"))
      assert.deepStrictEqual(yield* ok(`${P}/channel/a/leave?uuid=u`), { ...OK, action: "leave" })
      assert.deepStrictEqual((yield* ok(`${P}/uuid/u`)).payload, { channels: ["b"] })
      assert.deepStrictEqual((yield* ok(`${P}/channel/a/uuid/u`)).payload, {})
    }).pipe(withEmulator()))

  it.effect("timeouts: each occupant expires after its own heartbeat value", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      yield* hb("short", "ch", "&heartbeat=20")
      yield* hb("long", "ch", "&heartbeat=300")
      yield* em.advance("21 seconds")
      assert.deepStrictEqual((yield* ok(`${P}/channel/ch`)).uuids, ["long"])
      yield* hb("long", "ch", "&heartbeat=300") // renewed at t=21s
      yield* em.advance("299 seconds")
      assert.deepStrictEqual((yield* ok(`${P}/channel/ch`)).uuids, ["long"])
      yield* em.advance("2 seconds")
      assert.deepStrictEqual((yield* ok(`${P}/channel/ch`)).uuids, [])
    }).pipe(withEmulator()))
})

describe("channel-group registry", () => {
  const R = "/v1/channel-registration/sub-key/demo/channel-group"
  it.effect("add, list, remove, delete, list groups", () =>
    Effect.gen(function*() {
      const added = yield* ok(`${R}/cg1?add=a,b,c`)
      assert.deepStrictEqual(added, { status: 200, message: "OK", service: "channel-registry", error: false })
      assert.deepStrictEqual(yield* ok(`${R}/cg1`), {
        status: 200,
        payload: { channels: ["a", "b", "c"], group: "cg1" },
        service: "channel-registry",
        error: false
      })
      yield* ok(`${R}/cg1?remove=b`)
      assert.deepStrictEqual((yield* ok(`${R}/cg1`)).payload, { channels: ["a", "c"], group: "cg1" })
      yield* ok(`${R}/cg2?add=x`)
      assert.deepStrictEqual((yield* ok(R)).payload, { groups: ["cg1", "cg2"], sub_key: "demo" })
      yield* ok(`${R}/cg1/remove`)
      assert.deepStrictEqual((yield* ok(`${R}/cg1`)).payload, { channels: [], group: "cg1" })
      assert.strictEqual((yield* call(`${R}/cg1?add=a,b:c`)).status, 400)
    }).pipe(withEmulator()))
})

describe("protocol details", () => {
  it.effect("sub_key spelling, unknown query parameters, `+` as space, percent-decoded names", () =>
    Effect.gen(function*() {
      yield* ok(`/v2/presence/sub_key/demo/channel/caf%C3%A9%231/heartbeat?uuid=bob+smith&ee=&instanceid=1&on-demand=x`)
      assert.deepStrictEqual((yield* ok(`${P}/uuid/bob%20smith`)).payload, { channels: ["café#1"] })
    }).pipe(withEmulator()))

  it.effect("404 for unknown paths, 414 past 32 KiB, 400 for reserved characters", () =>
    Effect.gen(function*() {
      const nf = yield* call("/v2/nope")
      assert.strictEqual(nf.status, 404)
      assert.strictEqual(nf.json.error, 1)
      assert.strictEqual((yield* call(`${P}/channel/a/bogus`)).status, 404)
      const long = yield* call(`${P}/channel/${"x".repeat(33 * 1024)}`)
      assert.deepStrictEqual(long, {
        status: 414,
        json: { message: "Request URI Too Long", error: true, service: "Balancer", status: 414 }
      })
      const reserved = yield* call(`${P}/channel/a%3Ab/heartbeat?uuid=u`)
      assert.deepStrictEqual(reserved.json, {
        status: 400,
        error: 1,
        message: "Reserved character in input parameters.",
        service: "Presence"
      })
    }).pipe(withEmulator()))

  it.effect("rejected requests change nothing", () =>
    Effect.gen(function*() {
      const em = yield* Emulator
      yield* hb("u", "a", "&state=" + encodeURIComponent("{\"a\":{\"k\":1}}"))
      yield* ok("/v1/channel-registration/sub-key/demo/channel-group/g?add=a")
      const before = yield* em.snapshot
      const rejected = [
        `${P}/channel/a,b%2Cc/heartbeat?uuid=v`,
        `${P}/channel/a/heartbeat?uuid=v&heartbeat=0`,
        `${P}/channel/a/heartbeat?uuid=v&state=${encodeURIComponent("{\"a\":[1]}")}`,
        `${P}/channel/a/uuid/u/data?state=${encodeURIComponent("{\"k\":{}}")}`,
        `${P}/channel/a/uuid/u/data`,
        `${P}/channel/a/leave`,
        `${P}/channel/,/leave?uuid=u`,
        "/v1/channel-registration/sub-key/demo/channel-group/g?add=ok,bad*name",
        `${P}/channel/a/leave?uuid=u&x=%zz`
      ]
      for (const target of rejected) {
        const r = yield* call(target)
        assert.strictEqual(r.status, 400, target)
      }
      const after = yield* em.snapshot
      assert.deepStrictEqual(after.keys, before.keys)
    }).pipe(withEmulator()))
})

describe("strictness options", () => {
  it.effect("keys: other subscribe keys get Invalid Subscribe Key", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* call(`${P}/uuid/u`)).status, 200)
      const r = yield* call("/v2/presence/sub-key/intruder/uuid/u")
      assert.deepStrictEqual(r, {
        status: 400,
        json: { message: "Invalid Subscribe Key", error: true, service: "Access Manager", status: 400 }
      })
    }).pipe(withEmulator({ keys: ["demo"] })))

  it.effect("grants: 403 lists exactly what was refused", () =>
    Effect.gen(function*() {
      const allowed = yield* call(`${P}/channel/open/heartbeat?uuid=u&auth=k1`)
      assert.strictEqual(allowed.status, 200)
      const r = yield* call(`${P}/channel/open,secret/heartbeat?uuid=u&auth=k1&channel-group=cg,ok-group`)
      assert.deepStrictEqual(r, {
        status: 403,
        json: {
          message: "Forbidden",
          payload: { channels: ["secret"], "channel-groups": ["cg"] },
          error: true,
          service: "Access Manager",
          status: 403
        }
      })
      const noAuth = yield* call(`${P}/channel/open?uuid=u`)
      assert.strictEqual(noAuth.status, 403)
    }).pipe(withEmulator({ grants: { k1: { channels: ["open"], channelGroups: ["ok-group"] } } })))

  it.effect("secretKey: our signed requests pass; unsigned, tampered or stale ones get 403", () => {
    const signer = new Keyset.Keyset({
      subscribeKey: "demo",
      publishKey: "pub",
      secretKey: Redacted.make("s3cret"),
      userId: "alice"
    })
    const wrong = new Keyset.Keyset({
      subscribeKey: "demo",
      publishKey: "pub",
      secretKey: Redacted.make("nope"),
      userId: "eve"
    })
    return Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["a-b", "ü"], state: { "ü": { x: "y z" } } })
      const here = yield* Presence.hereNow({ channels: ["ü"], stateInfo: "all" })
      assert.deepStrictEqual([...here.channels.get("ü")?.uuids.keys() ?? []], ["alice"])
      const bad = yield* Effect.flip(Presence.whereNow({ keyset: wrong }))
      assert.strictEqual(bad._tag, "AccessDeniedError")
      const unsigned = yield* call(`${P}/uuid/alice?uuid=alice`)
      assert.strictEqual(unsigned.status, 403)
      const em = yield* Emulator
      // presence time moves on; signatures are still checked against the clock clients sign with
      yield* em.advance("10 minutes")
      assert.deepStrictEqual((yield* Presence.whereNow()).channels, [])
      const stale = yield* call(`${P}/uuid/alice?uuid=alice&timestamp=1000&signature=v2.x`)
      assert.strictEqual(stale.status, 403)
      assert.strictEqual(stale.json.message, "Request Expired")
      const forged = yield* call(`${P}/uuid/alice?uuid=alice&timestamp=0&signature=v2.x`)
      assert.strictEqual(forged.json.message, "Signature does not match")
    }).pipe(
      Effect.provide(Layer.merge(
        EmulatorModule.layerTest({ secretKey: "s3cret", publishKey: "pub" }),
        Keyset.layer({ default: signer })
      ))
    )
  })
})
