/**
 * The heartbeat policy on its own: a pure function, tested with plain numbers — no clock, no
 * requests, no fibers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import * as Policy from "../src/internal/heartbeat/policy.js"
import { BadRequestError, type PresenceError, RateLimitedError, ServerError } from "../src/PresenceError.js"

const timing: Policy.Timing = { heartbeatMs: 60_000, intervalMs: 29_000 }
const error503 = new ServerError({ url: "", status: 503, serverMessage: "down" })
const failed = (delayMs: number | undefined, error: PresenceError = error503): Policy.Outcome => ({
  _tag: "Failed",
  error,
  retry: { state: "next", delayMs }
})

describe("heartbeat policy", () => {
  const start = Policy.initial(0, timing)

  it("starts Present until sentAt + heartbeat", () => {
    assert.deepStrictEqual(start.status, { _tag: "Present", expiresAt: 60_000 } as typeof start.status)
    assert.strictEqual(start.lastSuccess, 0)
  })

  it("a success: Present until sentAt + heartbeat, next beat after the interval", () => {
    const d = Policy.decide(start, { _tag: "Succeeded", sentAt: 29_000 }, 29_010, timing)
    assert.strictEqual(d.state.status._tag, "Present")
    if (d.state.status._tag === "Present") assert.strictEqual(d.state.status.expiresAt, 89_000)
    assert.strictEqual(d.at, 58_010)
    assert.isUndefined(d.state.retryState)
  })

  it("a retryable failure: AtRisk with the deadline, retried after the schedule's delay", () => {
    const d = Policy.decide(start, failed(2_000), 29_000, timing)
    assert.strictEqual(d.state.status._tag, "AtRisk")
    if (d.state.status._tag === "AtRisk") {
      assert.strictEqual(d.state.status.failures, 1)
      assert.strictEqual(d.state.status.expiresAt, 60_000)
    }
    assert.strictEqual(d.at, 31_000)
    assert.strictEqual(d.state.retryState, "next")
    assert.strictEqual(d.state.due, "beat")
  })

  it("a retry that would land after the deadline becomes one last chance a second before it", () => {
    const atRisk = Policy.decide(start, failed(1_000), 29_000, timing).state
    const d = Policy.decide(atRisk, failed(40_000), 50_000, timing)
    assert.strictEqual(d.at, 60_000 - Policy.LAST_CHANCE_MS)
    assert.strictEqual(d.state.due, "beat")
    if (d.state.status._tag === "AtRisk") assert.strictEqual(d.state.status.failures, 2)
  })

  it("past the last chance: wait for the deadline, then Expired, then one try per interval", () => {
    const atRisk = Policy.decide(start, failed(1_000), 29_000, timing).state
    const last = Policy.decide(atRisk, failed(5_000), 59_000, timing)
    assert.strictEqual(last.state.due, "expire")
    assert.strictEqual(last.at, 60_000)
    const expired = Policy.decide(last.state, { _tag: "DeadlinePassed" }, 60_000, timing)
    assert.strictEqual(expired.state.status._tag, "Expired")
    if (expired.state.status._tag === "Expired") {
      assert.strictEqual(expired.state.status.since, 60_000)
      assert.strictEqual(expired.state.status.failures, 2)
    }
    assert.strictEqual(expired.at, 89_000)
    // still failing: no burst, one try per interval
    const again = Policy.decide(expired.state, failed(1_000), 89_000, timing)
    assert.strictEqual(again.state.status._tag, "Expired")
    assert.strictEqual(again.at, 118_000)
    // and a success makes it Present again
    const back = Policy.decide(again.state, { _tag: "Succeeded", sentAt: 118_000 }, 118_000, timing)
    assert.strictEqual(back.state.status._tag, "Present")
  })

  it("a 429 waits at least its Retry-After, even past a shorter schedule delay", () => {
    const limited = new RateLimitedError({ url: "", retryAfter: Option.some(Duration.seconds(10)) })
    const d = Policy.decide(start, failed(1_000, limited), 29_000, timing)
    assert.strictEqual(d.at, 39_000)
  })

  it("a Retry-After past the last chance: no last chance, wait for the deadline", () => {
    const limited = new RateLimitedError({ url: "", retryAfter: Option.some(Duration.seconds(40)) })
    const d = Policy.decide(start, failed(1_000, limited), 29_000, timing)
    assert.strictEqual(d.state.due, "expire")
  })

  it("a failure retrying cannot fix stops, with the error; a stopped group stays stopped", () => {
    const bad = new BadRequestError({ url: "", serverMessage: "no", service: "Presence" })
    const d = Policy.decide(start, failed(1_000, bad), 29_000, timing)
    assert.strictEqual(d.state.status._tag, "Stopped")
    assert.isUndefined(d.at)
    const after = Policy.decide(d.state, { _tag: "Succeeded", sentAt: 30_000 }, 30_000, timing)
    assert.strictEqual(after.state, d.state)
    assert.isUndefined(after.at)
  })

  it("a schedule that is done: no more retries but the last chance, then the deadline", () => {
    const d = Policy.decide(start, failed(undefined), 29_000, timing)
    assert.strictEqual(d.state.due, "beat")
    assert.strictEqual(d.at, 59_000)
    const last = Policy.decide(d.state, failed(undefined), 59_000, timing)
    assert.strictEqual(last.state.due, "expire")
    assert.strictEqual(last.at, 60_000)
  })

  it("is pure: the same arguments give equal decisions, and the input is not changed", () => {
    const copy = { ...start }
    const a = Policy.decide(start, failed(2_000), 29_000, timing)
    const b = Policy.decide(start, failed(2_000), 29_000, timing)
    assert.deepStrictEqual(a, b)
    assert.deepStrictEqual(start, copy)
  })
})
