import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Either, Exit, Option, Predicate, Redacted, Schema, TestClock, Tracer } from "effect"
import * as fc from "fast-check"
import { Keyset, Presence, PresenceError } from "../src/index.js"
import * as Wire from "../src/internal/wire.js"
import * as Fake from "./util/FakeHttp.js"

const run = <A, E>(
  program: Effect.Effect<A, E, Presence.Requirements>,
  answer: Fake.Answer,
  keysets?: Keyset.Options
) => Effect.provide(program, Fake.layer(() => answer instanceof Response ? answer.clone() : answer, keysets).layer)

const fails = <A, E>(
  program: Effect.Effect<A, E, Presence.Requirements>,
  answer: Fake.Answer,
  keysets?: Keyset.Options
) => Effect.flip(run(program, answer, keysets))

const uuidsOf = (r: Presence.HereNowResult, ch: string) => [...(r.channels.get(ch)?.uuids.keys() ?? [])]
const stateOf = (r: Presence.HereNowResult, ch: string, uuid: string) =>
  r.channels.get(ch)?.uuids.get(uuid)?.state.pipe(Option.getOrUndefined)

describe("here now: flat (one channel)", () => {
  it.effect("uuids as strings", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channels: ["ch1"] }),
        Fake.json({ status: 200, message: "OK", service: "Presence", uuids: ["user-a", "user-b"], occupancy: 2 })
      )
      assert.strictEqual(r.totalChannels, 1)
      assert.strictEqual(r.totalOccupancy, 2)
      assert.deepStrictEqual(uuidsOf(r, "ch1"), ["user-a", "user-b"])
      assert.strictEqual(r.channels.get("ch1")?.count, 2)
      assert.isTrue(Option.isNone(r.nextOffset))
    }))

  it.effect("with state=1: objects, no `state` key for an occupant without state", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channels: ["ch1"], stateInfo: "all" }),
        Fake.ok({ uuids: [{ uuid: "user-a", state: { mood: "busy" } }, { uuid: "user-b" }], occupancy: 2 })
      )
      assert.deepStrictEqual(stateOf(r, "ch1", "user-a"), { mood: "busy" })
      assert.isTrue(Option.isNone(r.channels.get("ch1")?.uuids.get("user-b")?.state ?? Option.some(1)))
    }))

  it.effect("counts only: no uuids key", () =>
    Effect.gen(function*() {
      const r = yield* run(Presence.hereNow({ channels: ["ch1"], stateInfo: "none" }), Fake.ok({ occupancy: 7 }))
      assert.strictEqual(r.channels.get("ch1")?.count, 7)
      assert.strictEqual(r.channels.get("ch1")?.uuids.size, 0)
      assert.isFalse(r.channels.get("ch1")?.hasMore)
    }))

  it.effect("an empty channel", () =>
    Effect.gen(function*() {
      const r = yield* run(Presence.hereNow({ channels: ["ch1"] }), Fake.ok({ uuids: [], occupancy: 0 }))
      assert.strictEqual(r.channels.get("ch1")?.count, 0)
      assert.strictEqual(r.totalOccupancy, 0)
    }))

  it.effect("a page that lists fewer than the occupancy says so, with the next offset", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channels: ["ch1"], limit: 2, offset: 2 }),
        Fake.ok({ uuids: ["c", "d"], occupancy: 5 })
      )
      assert.isTrue(r.channels.get("ch1")?.hasMore)
      assert.deepStrictEqual(r.nextOffset, Option.some(4))
    }))

  it.effect("a nested body for a one-channel request is accepted too", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channels: ["ch1"] }),
        Fake.ok({
          payload: { channels: { ch1: { uuids: ["x"], occupancy: 1 } }, total_channels: 1, total_occupancy: 1 }
        })
      )
      assert.deepStrictEqual(uuidsOf(r, "ch1"), ["x"])
    }))
})

describe("here now: nested (several channels, groups, global)", () => {
  it.effect("mixed string and object uuids, missing uuids", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channels: ["ch1", "ch2", "ch3"], stateInfo: "all" }),
        Fake.ok({
          payload: {
            channels: {
              ch1: { uuids: ["user-a", { uuid: "user-c", state: { age: 3 } }], occupancy: 2 },
              ch2: { uuids: [{ uuid: "user-b", state: { age: 3 } }], occupancy: 1 },
              ch3: { occupancy: 4 }
            },
            total_channels: 3,
            total_occupancy: 7
          }
        })
      )
      assert.strictEqual(r.totalChannels, 3)
      assert.strictEqual(r.totalOccupancy, 7)
      assert.deepStrictEqual(uuidsOf(r, "ch1"), ["user-a", "user-c"])
      assert.deepStrictEqual(stateOf(r, "ch1", "user-c"), { age: 3 })
      assert.isUndefined(stateOf(r, "ch1", "user-a"))
      assert.strictEqual(r.channels.get("ch3")?.count, 4)
      assert.strictEqual(r.channels.get("ch3")?.uuids.size, 0)
    }))

  it.effect("empty result", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channels: ["a", "b"] }),
        Fake.ok({ payload: { channels: {}, total_channels: 0, total_occupancy: 0 } })
      )
      assert.strictEqual(r.channels.size, 0)
      assert.strictEqual(r.totalChannels, 0)
    }))

  it.effect("a group whose total_channels exceeds the keys listed", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.hereNow({ channelGroups: ["cg"] }),
        Fake.ok({
          payload: { channels: { m1: { uuids: ["u"], occupancy: 1 } }, total_channels: 3, total_occupancy: 1 }
        })
      )
      assert.strictEqual(r.totalChannels, 3)
      assert.deepStrictEqual([...r.channels.keys()], ["m1"])
    }))

  it.effect("a flat body for a several-channel request is malformed", () =>
    Effect.gen(function*() {
      const e = yield* fails(Presence.hereNow({ channels: ["a", "b"] }), Fake.ok({ uuids: [], occupancy: 0 }))
      assert.strictEqual(e._tag, "MalformedResponseError")
    }))
})

describe("where now, get state, set state, heartbeat, leave", () => {
  it.effect("where now: channels; none; no payload", () =>
    Effect.gen(function*() {
      const a = yield* run(Presence.whereNow(), Fake.ok({ payload: { channels: ["ch1", "ch2"] } }))
      assert.deepStrictEqual(a.channels, ["ch1", "ch2"])
      assert.strictEqual(a.uuid, "alice")
      const b = yield* run(Presence.whereNow({ uuid: "ghost" }), Fake.ok({ payload: { channels: [] } }))
      assert.deepStrictEqual(b.channels, [])
      const c = yield* run(Presence.whereNow(), Fake.ok())
      assert.deepStrictEqual(c.channels, [])
    }))

  it.effect("get state, one channel: payload is the state", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.getState({ channels: ["ch1"] }),
        Fake.ok({ uuid: "alice", channel: "ch1", payload: { mood: "busy" } })
      )
      assert.deepStrictEqual(r.channels.get("ch1"), { mood: "busy" })
      // a state that has a key named "channels" is still a one-channel state
      const s = yield* run(
        Presence.getState({ channels: ["ch1"] }),
        Fake.ok({ uuid: "alice", channel: "ch1", payload: { channels: "many" } })
      )
      assert.deepStrictEqual(s.channels.get("ch1"), { channels: "many" })
    }))

  it.effect("get state, several channels or a group: payload.channels", () =>
    Effect.gen(function*() {
      const r = yield* run(
        Presence.getState({ channels: ["ch1", "ch2"], uuid: "user-a" }),
        Fake.ok({ uuid: "user-a", payload: { channels: { ch1: { mood: "busy" }, ch2: {} } } })
      )
      assert.strictEqual(r.uuid, "user-a")
      assert.deepStrictEqual(Object.fromEntries(r.channels), { ch1: { mood: "busy" }, ch2: {} })
      const g = yield* run(
        Presence.getState({ channelGroups: ["cg"] }),
        Fake.ok({ uuid: "alice", payload: { channels: { m1: { a: 1 } } } })
      )
      assert.deepStrictEqual(g.channels.get("m1"), { a: 1 })
    }))

  it.effect("set state returns the stored state; heartbeat and leave", () =>
    Effect.gen(function*() {
      const s = yield* run(
        Presence.setState({ channels: ["a"], state: { mood: "busy" } }),
        Fake.ok({ payload: { mood: "busy" } })
      )
      assert.deepStrictEqual(s.state, { mood: "busy" })
      const h = yield* run(Presence.announceHeartbeat({ channels: ["a"], heartbeat: 30 }), Fake.ok())
      assert.strictEqual(h.heartbeat, 30)
      const l = yield* run(Presence.announceLeave({ channels: ["a"] }), Fake.ok({ action: "leave" }))
      assert.strictEqual(l.action, "leave")
    }))
})

describe("errors", () => {
  const hn = Presence.hereNow({ channels: ["secret"] })

  it.effect("400 invalid subscribe key", () =>
    Effect.gen(function*() {
      const e = yield* fails(
        hn,
        Fake.json({ message: "Invalid Subscribe Key", error: true, service: "Access Manager", status: 400 }, 400)
      )
      assert.strictEqual(e._tag, "BadRequestError")
      if (e._tag === "BadRequestError") {
        assert.strictEqual(e.serverMessage, "Invalid Subscribe Key")
        assert.strictEqual(e.service, "Access Manager")
      }
    }))

  it.effect("402 presence not enabled", () =>
    Effect.gen(function*() {
      const e = yield* fails(
        hn,
        Fake.json({
          status: 402,
          error: 1,
          service: "Presence",
          message: "This feature is not turned on for this account."
        }, 402)
      )
      assert.strictEqual(e._tag, "PresenceNotEnabledError")
    }))

  it.effect("403 lists the refused channels and groups", () =>
    Effect.gen(function*() {
      const e = yield* fails(
        hn,
        Fake.json({
          message: "Forbidden",
          payload: { channels: ["secret"], "channel-groups": ["cg"] },
          error: true,
          service: "Access Manager",
          status: 403
        }, 403)
      )
      assert.instanceOf(e, PresenceError.AccessDeniedError)
      if (e instanceof PresenceError.AccessDeniedError) {
        assert.deepStrictEqual(e.channels, ["secret"])
        assert.deepStrictEqual(e.channelGroups, ["cg"])
        assert.include(e.message, "secret")
      }
    }))

  it.effect("404, 414", () =>
    Effect.gen(function*() {
      const e404 = yield* fails(hn, Fake.json({ status: 404, error: 1, message: "Not found: '/v2/presence/x'" }, 404))
      assert.strictEqual(e404._tag, "UnexpectedStatusError")
      const e414 = yield* fails(
        hn,
        Fake.json({ message: "Request URI Too Long", error: true, service: "Balancer", status: 414 }, 414)
      )
      assert.strictEqual(e414._tag, "UriTooLongError")
    }))

  it.effect("429 with Retry-After", () =>
    Effect.gen(function*() {
      const e = yield* fails(
        hn,
        Fake.json({ status: 429, error: 1, message: "Too Many Requests" }, 429, { "Retry-After": "2" })
      )
      assert.instanceOf(e, PresenceError.RateLimitedError)
      if (e instanceof PresenceError.RateLimitedError) {
        assert.deepStrictEqual(e.retryAfter, Option.some(Duration.seconds(2)))
      }
      const noHeader = yield* fails(hn, Fake.json({ status: 429, error: 1, message: "Too Many Requests" }, 429))
      assert.isTrue(noHeader._tag === "RateLimitedError" && Option.isNone(noHeader.retryAfter))
    }))

  it.effect("503 JSON and an HTML 502 from a proxy are ServerErrors", () =>
    Effect.gen(function*() {
      const e503 = yield* fails(
        hn,
        Fake.json({ status: 503, message: "Service Unavailable", error: 1, service: "Presence" }, 503)
      )
      assert.isTrue(e503._tag === "ServerError" && e503.status === 503)
      const html = new Response("<html><head><title>502 Bad Gateway</title></head><body><h1>Bad</h1></body></html>", {
        status: 502,
        headers: { "content-type": "text/html" }
      })
      const e502 = yield* fails(hn, html)
      assert.isTrue(e502._tag === "ServerError" && e502.status === 502 && e502.serverMessage === "502 Bad Gateway")
    }))

  it.effect("false 200: the body's status wins", () =>
    Effect.gen(function*() {
      const e402 = yield* fails(
        hn,
        Fake.json({ status: 402, error: 1, message: "not enabled", service: "Presence" }, 200)
      )
      assert.strictEqual(e402._tag, "PresenceNotEnabledError")
      const e503 = yield* fails(hn, Fake.json({ status: 503, error: 1, message: "Service Unavailable" }, 200))
      assert.strictEqual(e503._tag, "ServerError")
    }))

  it.effect("truncated, non-JSON, empty, and wrong-shaped 200 bodies are MalformedResponseError", () =>
    Effect.gen(function*() {
      for (
        const body of [
          "{\"status\":200,\"uuids\":[\"a\"",
          "<html>oops</html>",
          "",
          "{\"uuids\":[\"a\"],\"occupancy\":\"two\"}",
          "[1,2]"
        ]
      ) {
        const e = yield* fails(hn, Fake.json(body))
        assert.strictEqual(e._tag, "MalformedResponseError", body)
        if (e._tag === "MalformedResponseError") {
          assert.strictEqual(e.status, 200)
          assert.strictEqual(e.excerpt, body.slice(0, 200))
        }
      }
      const badState = yield* fails(
        Presence.getState({ channels: ["a", "b"] }),
        Fake.ok({ payload: { channels: { a: [1, 2] } } })
      )
      assert.strictEqual(badState._tag, "MalformedResponseError")
    }))

  it("the occupant check accepts exactly what Schema.Union(String, {uuid, state?}) accepts", () => {
    // Occupant is one hand-written guard for speed; it must agree with the schema it stands for
    const union = Schema.is(Schema.Union(Schema.String, Wire.OccupantObject))
    const occupant = Schema.is(Wire.Occupant)
    const list = Schema.is(Wire.OccupantList)
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom(null, undefined, 0, true, [], {}, [1], { a: 1 }),
      fc.record({ uuid: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }),
      fc.record(
        {
          uuid: fc.oneof(fc.string(), fc.integer()),
          state: fc.oneof(
            fc.constantFrom(undefined, null, 1, "s", [], [1], {}),
            fc.dictionary(fc.string(), fc.jsonValue())
          )
        },
        { requiredKeys: [] }
      ),
      fc.jsonValue()
    )
    fc.assert(fc.property(value, (u) => occupant(u) === union(u)), { numRuns: 2000 })
    fc.assert(fc.property(fc.array(value), (us) => list(us) === us.every(union)), { numRuns: 500 })
  })

  it.effect("a bad occupant is reported at its index, in one channel or many", () =>
    Effect.gen(function*() {
      const flat = yield* fails(hn, Fake.ok({ uuids: ["a", { uuid: "b" }, 42, "d"], occupancy: 4 }))
      assert.strictEqual(flat._tag, "MalformedResponseError")
      if (flat._tag === "MalformedResponseError") {
        assert.include(flat.reason, "[2]")
        assert.include(flat.reason, "Expected Occupant, actual 42")
      }
      const nested = yield* fails(
        Presence.hereNow({ channels: ["x", "y"] }),
        Fake.ok({
          payload: {
            channels: { x: { uuids: ["a"], occupancy: 1 }, y: { uuids: [{ uuid: "b", state: [1] }], occupancy: 1 } },
            total_channels: 2,
            total_occupancy: 2
          }
        })
      )
      assert.strictEqual(nested._tag, "MalformedResponseError")
      if (nested._tag === "MalformedResponseError") {
        assert.include(nested.reason, "[\"y\"]")
        assert.include(nested.reason, "[0]")
      }
      const notList = yield* fails(hn, Fake.ok({ uuids: { a: 1 }, occupancy: 1 }))
      assert.strictEqual(notList._tag, "MalformedResponseError")
    }))

  it.effect("a dropped connection is a TransportError", () =>
    Effect.gen(function*() {
      const e = yield* fails(hn, "drop")
      assert.strictEqual(e._tag, "TransportError")
    }))

  it.effect("no answer within the request timeout is a RequestTimeoutError", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(fails(hn, Effect.never))
      yield* TestClock.adjust("11 seconds")
      const e = yield* fiber.await.pipe(Effect.flatten)
      assert.isTrue(e._tag === "RequestTimeoutError" && e.timeoutMillis === 10_000)
    }))

  it("isRetryable: transport, timeout, 429 and 5xx only", () => {
    const url = "u"
    assert.isTrue(PresenceError.isRetryable(new PresenceError.TransportError({ url, reason: "x" })))
    assert.isTrue(PresenceError.isRetryable(new PresenceError.RequestTimeoutError({ url, timeoutMillis: 1 })))
    assert.isTrue(PresenceError.isRetryable(new PresenceError.RateLimitedError({ url, retryAfter: Option.none() })))
    assert.isTrue(PresenceError.isRetryable(new PresenceError.ServerError({ url, status: 503, serverMessage: "" })))
    assert.isFalse(
      PresenceError.isRetryable(new PresenceError.BadRequestError({ url, serverMessage: "", service: "" }))
    )
    assert.isFalse(PresenceError.isRetryable(new PresenceError.PresenceNotEnabledError({ url, serverMessage: "" })))
    assert.isFalse(
      PresenceError.isRetryable(
        new PresenceError.AccessDeniedError({ url, serverMessage: "", channels: [], channelGroups: [] })
      )
    )
    assert.isFalse(PresenceError.isRetryable(new PresenceError.UriTooLongError({ url, length: 1 })))
    assert.isFalse(PresenceError.isRetryable(new PresenceError.InvalidArgumentError({ argument: "a", reason: "b" })))
    assert.isFalse(PresenceError.isRetryable("ServerError"))
  })
})

describe("secrets stay out of errors", () => {
  const keyset = new Keyset.Keyset({
    subscribeKey: "sub-c-test",
    publishKey: "pub-c-test",
    secretKey: Redacted.make("sec-c-TOPSECRET"),
    authKey: Redacted.make("auth-TOPSECRET"),
    userId: "alice"
  })

  it.effect("URL without auth and signature; an echoed auth key is scrubbed from excerpts and messages", () =>
    Effect.gen(function*() {
      const echo = new Response(`<html><title>Bad auth-TOPSECRET</title> auth=auth-TOPSECRET</html>`, { status: 200 })
      const e = yield* fails(Presence.hereNow({ channels: ["a"] }), echo, { default: keyset })
      assert.strictEqual(e._tag, "MalformedResponseError")
      const text = JSON.stringify(e) + e.message + String(e)
      assert.notInclude(text, "TOPSECRET")
      assert.include(text, "uuid=alice")
      assert.notInclude(text, "signature=")
      const e500 = yield* fails(
        Presence.hereNow({ channels: ["a"] }),
        new Response("<html><title>auth-TOPSECRET failed</title></html>", { status: 500 }),
        { default: keyset }
      )
      assert.notInclude(e500.message, "TOPSECRET")
    }))

  it.effect("spans never carry auth, signature or secrets", () =>
    Effect.gen(function*() {
      const native = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const recording = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
      const ok = Fake.layer(() => Fake.ok({ uuids: ["a"], occupancy: 1 }), { default: keyset })
      yield* Presence.hereNow({ channels: ["a"] }).pipe(Effect.provide(ok.layer), Effect.withTracer(recording))
      const down = Fake.layer(() => Fake.json({ status: 503, error: 1, message: "down" }, 503), { default: keyset })
      yield* Effect.flip(Presence.hereNow({ channels: ["a"] })).pipe(
        Effect.provide(down.layer),
        Effect.withTracer(recording)
      )
      assert.includeMembers(spans.map((s) => s.name), ["Presence.hereNow"])
      // the platform client's own span (which records the full URL) is not used
      assert.notInclude(spans.map((s) => s.name), "http.client GET")
      const recorded = spans.map((s) =>
        JSON.stringify([s.name, [...s.attributes]], (_, v) => typeof v === "bigint" ? String(v) : v) +
        String(s.status._tag === "Ended" ? s.status.exit : "")
      ).join("\n")
      assert.include(recorded, "uuid=alice")
      assert.notInclude(recorded, "TOPSECRET")
      assert.notInclude(recorded, "signature=")
      assert.notInclude(recorded, "auth=")
      // both operation spans ended: the first as a success, the second with its typed failure
      const ops = spans.filter((s) => s.name === "Presence.hereNow")
      assert.strictEqual(ops.length, 2)
      const [first, second] = ops.map((s) => s.status)
      assert.isTrue(first._tag === "Ended" && Exit.isSuccess(first.exit))
      assert.isTrue(
        second._tag === "Ended" && Exit.isFailure(second.exit) &&
          Cause.failureOption(second.exit.cause).pipe(Option.exists((e) => Predicate.isTagged(e, "ServerError")))
      )
      assert.isTrue(ops.every((s) => s.attributes.has("pubnub.url")))
    }))

  it("keysets never print their secrets", () => {
    assert.notInclude(String(keyset) + JSON.stringify(keyset) + Either.left(keyset).toString(), "TOPSECRET")
  })
})
