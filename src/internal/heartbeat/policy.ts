/**
 * The heartbeat policy: what a group of sessions does next, as a pure function of where it stands,
 * what just happened and the time. No clock, no requests, no mutation: the scheduler feeds it
 * outcomes and does what it decides (`test/heartbeat-policy.test.ts` checks it without a clock).
 *
 * - A success makes the group `Present` until `sentAt + heartbeat`, next beat after `interval`.
 * - A failure retrying cannot fix (400, 402, 403, 404, 414) stops it.
 * - A retryable failure makes it `AtRisk` and is retried after the retry schedule's delay (at
 *   least a 429's `Retry-After`) while that lands before the presence deadline; one last try is
 *   made `LAST_CHANCE_MS` before it; after that the deadline is awaited and the group turns
 *   `Expired`, trying once per interval from then on (no burst).
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { isRetryable, type PresenceError } from "../../PresenceError.js"
import type { SessionStatus } from "../../PresenceSession.js"

const Status = Data.taggedEnum<SessionStatus>()

/** The last try before the deadline is made this long before it. @internal */
export const LAST_CHANCE_MS = 1000

/** The timing a group runs with. @internal */
export interface Timing {
  readonly heartbeatMs: number
  readonly intervalMs: number
}

/** What a due group does: send a heartbeat, or only note that its presence ran out. @internal */
export type Due = "beat" | "expire"

/** Where a group stands: one immutable value, replaced once per step. @internal */
export interface HeartbeatState {
  readonly status: SessionStatus
  /** when the last accepted heartbeat was sent (epoch ms) */
  readonly lastSuccess: number
  /** the retry schedule's state while retrying; `undefined` otherwise */
  readonly retryState: unknown
  readonly due: Due
}

/** What happened when the group was due. @internal */
export type Outcome =
  | { readonly _tag: "Succeeded"; readonly sentAt: number }
  | {
    readonly _tag: "Failed"
    readonly error: PresenceError
    /** the retry schedule stepped once more from `retryState` (or its initial state) */
    readonly retry: { readonly state: unknown; readonly delayMs: number | undefined }
  }
  | { readonly _tag: "DeadlinePassed" }

/** The next state, and when the group is due again (`undefined`: never, it stopped). @internal */
export interface Decision {
  readonly state: HeartbeatState
  readonly at: number | undefined
}

/** The state right after a first heartbeat sent at `sentAt` was accepted. @internal */
export const initial = (sentAt: number, timing: Timing): HeartbeatState => ({
  status: Status.Present({ expiresAt: sentAt + timing.heartbeatMs }),
  lastSuccess: sentAt,
  retryState: undefined,
  due: "beat"
})

/**
 * Worth retrying for a heartbeat: transient failures, and a body a proxy mangled (the next
 * heartbeat is harmless).
 *
 * @internal
 */
export const retryableForHeartbeat = (e: PresenceError): boolean =>
  isRetryable(e) || e._tag === "MalformedResponseError"

/** How long a 429 asked to wait. @internal */
export const retryAfterMs = (e: PresenceError): number =>
  e._tag === "RateLimitedError" ? Option.match(e.retryAfter, { onNone: () => 0, onSome: Duration.toMillis }) : 0

const failuresOf = (status: SessionStatus): number =>
  status._tag === "AtRisk" || status._tag === "Expired" ? status.failures : 0

/**
 * The policy. Pure: the same arguments always give the same decision.
 *
 * @internal
 */
export const decide = (state: HeartbeatState, outcome: Outcome, now: number, timing: Timing): Decision => {
  if (state.status._tag === "Stopped") return { state, at: undefined }
  switch (outcome._tag) {
    case "Succeeded":
      return {
        state: {
          status: Status.Present({ expiresAt: outcome.sentAt + timing.heartbeatMs }),
          lastSuccess: outcome.sentAt,
          retryState: undefined,
          due: "beat"
        },
        at: now + timing.intervalMs
      }
    case "DeadlinePassed": {
      const lastError = state.status._tag === "AtRisk" ? state.status.lastError : undefined
      return {
        state: {
          status: lastError === undefined
            ? state.status
            : Status.Expired({
              failures: failuresOf(state.status),
              lastError,
              since: state.lastSuccess + timing.heartbeatMs
            }),
          lastSuccess: state.lastSuccess,
          retryState: undefined,
          due: "beat"
        },
        at: now + timing.intervalMs
      }
    }
    case "Failed": {
      const error = outcome.error
      if (!retryableForHeartbeat(error)) {
        return { state: { ...state, status: Status.Stopped({ error: Option.some(error) }) }, at: undefined }
      }
      const failures = failuresOf(state.status) + 1
      if (state.status._tag === "Expired" && state.retryState === undefined) {
        // already timed out at the service: one try per interval, no burst of retries
        return {
          state: { ...state, status: Status.Expired({ failures, lastError: error, since: state.status.since }) },
          at: now + timing.intervalMs
        }
      }
      const expiresAt = state.lastSuccess + timing.heartbeatMs
      const atRisk: HeartbeatState = {
        status: Status.AtRisk({ failures, lastError: error, expiresAt }),
        lastSuccess: state.lastSuccess,
        retryState: outcome.retry.state,
        due: "beat"
      }
      const waitFor = retryAfterMs(error)
      const lastChance = expiresAt - LAST_CHANCE_MS
      const at = now + Math.max(outcome.retry.delayMs ?? Number.POSITIVE_INFINITY, waitFor)
      if (at <= lastChance) return { state: atRisk, at }
      if (now < lastChance && now + waitFor <= lastChance) return { state: atRisk, at: lastChance }
      return { state: { ...atRisk, due: "expire" }, at: Math.max(now, expiresAt) }
    }
  }
}
