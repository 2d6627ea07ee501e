/**
 * `Presence.enter`: check the options, send the first heartbeat (retried within an interval), put
 * the session into its group — or, when it fails or is interrupted after something may have been
 * announced, leave again.
 *
 * The heartbeat itself is three parts: the policy (`heartbeat/policy.ts`, pure), the timer loop
 * (`timer.ts`, one per client) and the bookkeeping (`heartbeat/membership.ts`); the groups and
 * their steps are in `heartbeat/scheduler.ts`, the handle in `heartbeat/handle.ts`.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Keyset } from "../Keyset.js"
import { InvalidArgumentError, type PresenceError } from "../PresenceError.js"
import type { EnterOptions, PresenceSession } from "../PresenceSession.js"
import { PubNubConfig, type Settings } from "../PubNubConfig.js"
import { type HeartbeatPlan, heartbeatPlan } from "./announce.js"
import { keysetKey } from "./coalesce.js"
import { Session } from "./heartbeat/handle.js"
import { type Member, Membership, type Names } from "./heartbeat/membership.js"
import { heartbeatRetries } from "./heartbeat/metrics.js"
import * as Policy from "./heartbeat/policy.js"
import {
  boundedLeave,
  close,
  type Group,
  heartbeatRequest,
  isStopped,
  type Requirements,
  schedulerFor,
  stepRetry
} from "./heartbeat/scheduler.js"
import { readOptions } from "./options.js"
import { currentShared, type Shared } from "./processState.js"
import { baseUrl } from "./request.js"
import { operation } from "./span.js"
import { nudge } from "./timer.js"

/** The shortest interval accepted: one heartbeat a second. @internal */
export const MIN_INTERVAL_SECONDS = 1

/** Sessions of one user on one client form a group: same origin and keyset identity. */
const groupKey = (shared: Shared, keyset: Keyset, config: Settings): string =>
  `${baseUrl(config)}\u0000${keysetKey(shared, keyset)}`

/**
 * The default retry schedule: jittered exponential from 1 second, never longer than the
 * interval. Schedules are immutable descriptions: one per interval serves every group.
 */
const defaultRetry = (shared: Shared, intervalMs: number): Schedule.Schedule<unknown, PresenceError> => {
  let schedule = shared.retries.get(intervalMs)
  if (schedule === undefined) {
    schedule = Schedule.exponential("1 second", 2).pipe(
      Schedule.jittered,
      Schedule.union(Schedule.spaced(Duration.millis(intervalMs)))
    )
    if (shared.retries.size < 1000) shared.retries.set(intervalMs, schedule)
  }
  return schedule
}

interface Validated {
  readonly heartbeat: number
  readonly intervalMs: number
  /** the first heartbeat: channels, groups, state and keyset, checked */
  readonly plan: HeartbeatPlan
  readonly retry: Schedule.Schedule<unknown, PresenceError> | undefined
  readonly leave: { readonly announce: boolean; readonly timeout: Duration.Duration }
}

const ENTER_KEYS = [
  "channels",
  "channelGroups",
  "keyset",
  "using",
  "heartbeat",
  "interval",
  "state",
  "retry",
  "announceLeave",
  "leaveTimeout"
] as const

const invalid = (argument: string, reason: string) => Effect.fail(new InvalidArgumentError({ argument, reason }))

const validate = (input: EnterOptions): Effect.Effect<Validated, PresenceError, Requirements> =>
  Effect.gen(function*() {
    if (typeof input !== "object" || input === null) return yield* invalid("options", "must be an object")
    const options = yield* readOptions(input, ENTER_KEYS)
    // channels, heartbeat, state and keyset are checked as for a heartbeat (it is the first one)
    const plan = yield* heartbeatPlan(options)
    const interval = options.interval ?? plan.heartbeat / 2 - 1
    if (
      typeof interval !== "number" || !Number.isFinite(interval) || interval < MIN_INTERVAL_SECONDS ||
      interval >= plan.heartbeat
    ) {
      return yield* invalid(
        "interval",
        `must be at least ${MIN_INTERVAL_SECONDS} second and less than heartbeat (${plan.heartbeat}) seconds`
      )
    }
    if (options.retry !== undefined && !Schedule.isSchedule(options.retry)) {
      return yield* invalid("retry", "must be a Schedule")
    }
    if (options.announceLeave !== undefined && typeof options.announceLeave !== "boolean") {
      return yield* invalid("announceLeave", "must be true or false")
    }
    const timeout = options.leaveTimeout === undefined
      ? Option.some(Duration.seconds(5))
      : Duration.decodeUnknown(options.leaveTimeout)
    if (Option.isNone(timeout)) return yield* invalid("leaveTimeout", "must be a Duration")
    return {
      heartbeat: plan.heartbeat,
      intervalMs: interval * 1000,
      plan,
      retry: options.retry,
      leave: { announce: options.announceLeave ?? true, timeout: timeout.value }
    }
  })

/**
 * Whether a first heartbeat may have announced presence: from the moment a request goes out until
 * its answer proves otherwise. Only a definite refusal (400, 402, 403, …) of a heartbeat that was
 * one request proves nothing was announced; a timeout, a dropped connection or a 5xx may have
 * reached the service, and of a heartbeat split over several requests some may have succeeded.
 */
interface Announced {
  maybe: boolean
}

/**
 * The first heartbeat, retried on the session's schedule while its failures are retryable (a
 * 429's `Retry-After` honoured), for at most one interval; a failure retrying cannot fix fails at
 * once.
 */
const firstHeartbeat = (
  v: Validated,
  retry: Schedule.Schedule<unknown, PresenceError>,
  announced: Announced
): Effect.Effect<number, PresenceError, Requirements> =>
  Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
    const attempt = (retryState: unknown, before: boolean): Effect.Effect<number, PresenceError, Requirements> =>
      Effect.flatMap(Clock.currentTimeMillis, (sentAt) => {
        announced.maybe = true
        return heartbeatRequest(v.plan).pipe(
          Effect.as(sentAt),
          Effect.catchAll((error) => {
            const retryable = Policy.retryableForHeartbeat(error)
            announced.maybe = before || retryable || v.plan.chunks.length > 1
            if (!retryable) return Effect.fail(error)
            return Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.flatMap(stepRetry(retry, retryState, now, error), (next) => {
                if (next.delayMs === undefined) {
                  return Effect.fail(error)
                }
                const wait = Math.max(next.delayMs, Policy.retryAfterMs(error))
                if (now + wait > startedAt + v.intervalMs) {
                  return Effect.fail(error)
                }
                return Effect.zipRight(
                  Effect.zipRight(Metric.increment(heartbeatRetries), Effect.sleep(Duration.millis(wait))),
                  attempt(next.state, announced.maybe)
                )
              }))
          })
        )
      })
    return attempt(undefined, false)
  })

/** Where a new session lives, and what it runs with. */
interface Placement {
  readonly shared: Shared
  readonly client: HttpClient.HttpClient
  readonly scope: Scope.Scope
  readonly context: Context.Context<Requirements>
  readonly key: string
  readonly retry: Schedule.Schedule<unknown, PresenceError>
}

/** Puts a new session into its group (made if needed) and its close into the caller's scope. */
const register = (v: Validated, at: Placement, firstAt: number): Effect.Effect<PresenceSession> =>
  Effect.gen(function*() {
    const member: Member = {
      channels: v.plan.target.channels,
      groups: v.plan.target.channelGroups,
      heartbeat: v.heartbeat,
      intervalMs: v.intervalMs,
      closed: false
    }
    const scheduler = yield* schedulerFor(at.shared, at.client)
    const now = yield* Clock.currentTimeMillis
    let g = scheduler.groups.get(at.key)
    if (g === undefined || isStopped(g)) {
      const fresh: Group = {
        key: at.key,
        keyset: v.plan.keyset,
        context: at.context,
        scheduler,
        membership: new Membership(),
        lock: yield* Effect.makeSemaphore(1),
        retry: at.retry,
        state: Policy.initial(firstAt, { heartbeatMs: v.heartbeat * 1000, intervalMs: v.intervalMs }),
        listeners: undefined,
        at: 0,
        heapIndex: -1
      }
      g = fresh
      scheduler.groups.set(at.key, fresh)
      fresh.membership.join(member, v.plan.states)
      scheduler.heap.put(fresh, now + v.intervalMs)
      yield* nudge(scheduler.timer, fresh.at)
    } else {
      g.membership.join(member, v.plan.states)
      // a shorter interval than the group's pending wait: heartbeat sooner
      const due = now + v.intervalMs
      if (g.state.due === "beat" && g.state.retryState === undefined && due < g.at) {
        scheduler.heap.put(g, due)
        yield* nudge(scheduler.timer, due)
      }
    }
    // Scope.addFinalizer, not Effect.addFinalizer: the latter keeps the whole current context
    // (and this span) alive for the session's lifetime; `close` provides what it needs itself
    yield* Scope.addFinalizer(at.scope, close(at.shared, at.client, g, member, v.leave))
    return new Session(g, member)
  })

/** @internal */
export const enter = operation("Presence.enter")((
  options: EnterOptions
): Effect.Effect<PresenceSession, PresenceError, Scope.Scope | Requirements> =>
  Effect.gen(function*() {
    const v = yield* validate(options)
    const config = yield* PubNubConfig
    const shared = yield* currentShared
    const at: Placement = {
      shared,
      client: yield* HttpClient.HttpClient,
      scope: yield* Effect.scope,
      // what later heartbeats and leaves run with: the caller's services, but not the caller's
      // span (the heartbeats are not part of `enter`, and keeping the span would keep it alive)
      context: Context.omit(Tracer.ParentSpan)(yield* Effect.context<Requirements>()),
      key: groupKey(shared, v.plan.keyset, config),
      retry: v.retry ?? defaultRetry(shared, v.intervalMs)
    }

    // From the first send on, presence may have been announced. Whatever ends `enter` before the
    // session is registered — a failure, an interruption — then leaves what no other session of
    // this user holds; once registered, closing the caller's scope does.
    const announced: Announced = { maybe: false }
    const cleanup = Effect.suspend(() => {
      const other = shared.sessions.get(at.client)?.groups.get(at.key)
      const names: Names = {
        channels: v.plan.target.channels.filter((c) => other?.membership.holdsChannel(c) !== true),
        channelGroups: v.plan.target.channelGroups.filter((g) => other?.membership.holdsGroup(g) !== true)
      }
      return v.leave.announce ? boundedLeave(v.plan.keyset, names, v.leave.timeout, at.context) : Effect.void
    })

    return yield* Effect.uninterruptibleMask((restore) =>
      restore(firstHeartbeat(v, at.retry, announced)).pipe(
        Effect.flatMap((firstAt) => register(v, at, firstAt)),
        Effect.onExit((exit) => (Exit.isSuccess(exit) || !announced.maybe ? Effect.void : cleanup))
      )
    )
  })
)
