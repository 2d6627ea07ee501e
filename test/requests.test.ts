import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as fc from "fast-check"
import { createHmac } from "node:crypto"
import { Keyset, Presence } from "../src/index.js"
import { checkName } from "../src/internal/validation.js"
import * as Fake from "./util/FakeHttp.js"

const PREFIX = "/v2/presence/sub-key/sub-c-test"
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** Runs `program` against a fake that answers `answer`, returning the one request target sent. */
const sent = <A, E>(
  program: Effect.Effect<A, E, Presence.Requirements>,
  answer: Response = Fake.ok(),
  keysets?: Keyset.Options
) => {
  const f = Fake.layer(() => answer.clone(), keysets)
  return Effect.gen(function*() {
    yield* program
    assert.strictEqual(f.requests.length, 1)
    const [req] = f.requests
    const q = new URLSearchParams(req.query)
    assert.match(q.get("requestid") ?? "", UUID_V4)
    assert.strictEqual(q.get("pnsdk"), "test-sdk/1")
    q.delete("requestid")
    return { path: req.url.pathname, query: q.toString(), target: req.target, params: req.query }
  }).pipe(Effect.provide(f.layer))
}

const nested = Fake.ok({ payload: { channels: {}, total_channels: 0, total_occupancy: 0 } })
const flat = Fake.ok({ uuids: [], occupancy: 0 })

describe("request paths and queries", () => {
  it.effect("here now, one channel: flat path, no extra query", () =>
    Effect.gen(function*() {
      const r = yield* sent(Presence.hereNow({ channels: ["lobby"] }), flat)
      assert.strictEqual(r.path, `${PREFIX}/channel/lobby`)
      assert.strictEqual(r.query, "uuid=alice&pnsdk=test-sdk%2F1")
    }))

  it.effect("here now, several channels and groups, with state, limit and offset", () =>
    Effect.gen(function*() {
      const r = yield* sent(
        Presence.hereNow({
          channels: new Set(["a", "b"]),
          channelGroups: ["cg1", "cg2"],
          stateInfo: Presence.StateInfo.all,
          limit: 50,
          offset: 100
        }),
        nested
      )
      assert.strictEqual(r.path, `${PREFIX}/channel/a,b`)
      assert.include(r.target, "?state=1&limit=50&offset=100&channel-group=cg1%2Ccg2&uuid=alice&")
    }))

  it.effect("here now, groups only: the `,` placeholder", () =>
    Effect.gen(function*() {
      const r = yield* sent(Presence.hereNow({ channelGroups: ["cg1"], stateInfo: "none" }), nested)
      assert.strictEqual(r.path, `${PREFIX}/channel/,`)
      assert.include(r.target, "?disable_uuids=1&channel-group=cg1&uuid=alice")
    }))

  it.effect("global here now: nothing after the sub-key", () =>
    Effect.gen(function*() {
      const r = yield* sent(Presence.hereNow(), nested)
      assert.strictEqual(r.path, PREFIX)
      assert.strictEqual(r.query, "uuid=alice&pnsdk=test-sdk%2F1")
    }))

  it.effect("where now: own uuid by default, another encoded", () =>
    Effect.gen(function*() {
      const own = yield* sent(Presence.whereNow(), Fake.ok({ payload: { channels: [] } }))
      assert.strictEqual(own.path, `${PREFIX}/uuid/alice`)
      const other = yield* sent(Presence.whereNow({ uuid: "bob smith/1" }), Fake.ok({ payload: { channels: [] } }))
      assert.strictEqual(other.target.split("?")[0], `${PREFIX}/uuid/bob%20smith%2F1`)
    }))

  it.effect("get state", () =>
    Effect.gen(function*() {
      const r = yield* sent(
        Presence.getState({ channels: ["a"], channelGroups: ["g"], uuid: "bob" }),
        Fake.ok({ payload: { channels: {} } })
      )
      assert.strictEqual(r.path, `${PREFIX}/channel/a/uuid/bob`)
      assert.include(r.target, "?channel-group=g&uuid=alice")
    }))

  it.effect("set state: the state as JSON text, own uuid in the path", () =>
    Effect.gen(function*() {
      const r = yield* sent(
        Presence.setState({ channels: ["a", "b"], state: { mood: "busy", n: 3 } }),
        Fake.ok({ payload: { mood: "busy", n: 3 } })
      )
      assert.strictEqual(r.path, `${PREFIX}/channel/a,b/uuid/alice/data`)
      assert.include(r.target, "?state=%7B%22mood%22%3A%22busy%22%2C%22n%22%3A3%7D&uuid=alice")
    }))

  it.effect("heartbeat: heartbeat value and per-channel state map", () =>
    Effect.gen(function*() {
      const r = yield* sent(
        Presence.announceHeartbeat({ channels: ["a", "b"], heartbeat: 60, state: { a: { typing: true } } })
      )
      assert.strictEqual(r.path, `${PREFIX}/channel/a,b/heartbeat`)
      assert.strictEqual(r.params.get("heartbeat"), "60")
      assert.deepStrictEqual(JSON.parse(r.params.get("state") ?? ""), { a: { typing: true } })
      const defaulted = yield* sent(Presence.announceHeartbeat({ channelGroups: ["g"] }))
      assert.strictEqual(defaulted.path, `${PREFIX}/channel/,/heartbeat`)
      assert.strictEqual(defaulted.params.get("heartbeat"), "300")
      assert.strictEqual(defaulted.params.get("channel-group"), "g")
    }))

  it.effect("leave", () =>
    Effect.gen(function*() {
      const r = yield* sent(Presence.announceLeave({ channels: ["a"] }), Fake.ok({ action: "leave" }))
      assert.strictEqual(r.path, `${PREFIX}/channel/a/leave`)
      assert.strictEqual(r.query, "uuid=alice&pnsdk=test-sdk%2F1")
    }))

  it.effect("auth: the auth key is sent; an access token wins over it", () =>
    Effect.gen(function*() {
      const withKey = new Keyset.Keyset({ subscribeKey: "sub-c-test", userId: "alice", authKey: Redacted.make("ak") })
      const r1 = yield* sent(Presence.hereNow({ channels: ["a"] }), flat, { default: withKey })
      assert.strictEqual(r1.params.get("auth"), "ak")
      const withToken = new Keyset.Keyset({
        subscribeKey: "sub-c-test",
        userId: "alice",
        authKey: Redacted.make("ak"),
        authToken: Redacted.make("tok")
      })
      const r2 = yield* sent(Presence.hereNow({ channels: ["a"] }), flat, { default: withToken })
      assert.strictEqual(r2.params.get("auth"), "tok")
    }))

  it.effect("named keysets and overrides pick the keys and uuid sent", () =>
    Effect.gen(function*() {
      const admin = new Keyset.Keyset({ subscribeKey: "sub-c-admin", userId: "ops" })
      const other = new Keyset.Keyset({ subscribeKey: "sub-c-other", userId: "zed" })
      const keysets = { default: Fake.alice, named: { admin } }
      const r1 = yield* sent(Presence.whereNow({ using: "admin" }), Fake.ok(), keysets)
      assert.strictEqual(r1.path, "/v2/presence/sub-key/sub-c-admin/uuid/ops")
      const r2 = yield* sent(Presence.whereNow({ keyset: other }), Fake.ok(), keysets)
      assert.strictEqual(r2.path, "/v2/presence/sub-key/sub-c-other/uuid/zed")
    }))
})

describe("encoding", () => {
  it.effect("reserved characters and unicode are percent-encoded", () =>
    Effect.gen(function*() {
      const r = yield* sent(Presence.hereNow({ channels: ["channel#1", "it's(ok)!~", "café-ü_.x"] }), nested)
      assert.strictEqual(
        r.target.split("?")[0],
        `${PREFIX}/channel/channel%231,it%27s%28ok%29%21%7E,caf%C3%A9-%C3%BC_.x`
      )
    }))

  it("any valid channel name round-trips through the path and the channel-group query", async () => {
    // every name the SDK accepts (its own check: "." and ".." are refused, for one)
    const nameArb = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).filter((s) =>
      checkName(s) === undefined
    )
    await fc.assert(
      fc.asyncProperty(nameArb, nameArb, async (channel, group) => {
        const f = Fake.layer(() => nested.clone())
        await Effect.runPromise(
          Presence.hereNow({ channels: [channel, "x"], channelGroups: [group] }).pipe(Effect.provide(f.layer))
        )
        const req = f.requests[0]
        const raw = req.target.split("?")[0].split("/channel/")[1]
        const [first] = raw.split(",")
        assert.match(first, /^[A-Za-z0-9\-_.%]+$/)
        assert.strictEqual(decodeURIComponent(first), channel)
        assert.strictEqual(req.query.get("channel-group"), group)
      }),
      { numRuns: 200 }
    )
  })
})

describe("signing", () => {
  it.effect("v2 signature over the sorted query, checked with node:crypto", () =>
    Effect.gen(function*() {
      const keyset = new Keyset.Keyset({
        subscribeKey: "sub-c-test",
        publishKey: "pub-c-test",
        secretKey: Redacted.make("sec-c-secret"),
        authKey: Redacted.make("my auth"),
        userId: "alice"
      })
      const f = Fake.layer(() => nested.clone(), { default: keyset })
      yield* Presence.hereNow({ channels: ["a#b", "ü"], channelGroups: ["g1", "g2"], stateInfo: "all" }).pipe(
        Effect.provide(f.layer)
      )
      const req = f.requests[0]
      const [path, query] = req.target.split("?")
      assert.notInclude(req.target, "sec-c-secret")
      const pairs = query.split("&").map((kv) => kv.split("=") as [string, string])
      const signature = pairs.find(([k]) => k === "signature")?.[1]
      assert.strictEqual(pairs.find(([k]) => k === "timestamp")?.[1], "0") // TestClock starts at 0
      const canonical = pairs.filter(([k]) => k !== "signature").sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`).join("&")
      assert.include(canonical, "auth=my%20auth")
      const expected = "v2." + createHmac("sha256", "sec-c-secret")
        .update(`GET\npub-c-test\n${path}\n${canonical}\n`).digest("base64")
        .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
      assert.strictEqual(signature, expected)
    }))

  it.effect("no timestamp or signature without a secret key", () =>
    Effect.gen(function*() {
      const r = yield* sent(Presence.hereNow({ channels: ["a"] }), flat)
      assert.isNull(r.params.get("signature"))
      assert.isNull(r.params.get("timestamp"))
    }))
})
