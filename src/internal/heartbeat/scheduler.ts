/**
 * Running the heartbeat: groups of sessions (one user on one `HttpClient`) on one timer loop per
 * client, each group stepped when due — heartbeat (or note the deadline), then the policy decides
 * what next — and leaving what a closing session held.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Keyset, KeysetService } from "../../Keyset.js"
import { type PresenceError, TransportError } from "../../PresenceError.js"
import type { SessionStatus } from "../../PresenceSession.js"
import { type HeartbeatPlan, heartbeatPlan, sendHeartbeat } from "../announce.js"
import * as Announce from "../announce.js"
import { type HeapItem, TimeHeap } from "../heap.js"
import type { Shared } from "../processState.js"
import { makeTimer, nudge, runTimer, type Timer } from "../timer.js"
import type { Member, Membership, Names } from "./membership.js"
import { heartbeatFailures, heartbeatRetries, heartbeatSuccesses, leaves } from "./metrics.js"
import * as Policy from "./policy.js"

/** What heartbeats run with. @internal */
export type Requirements = KeysetService | HttpClient.HttpClient

const Status = Data.taggedEnum<SessionStatus>()

/** One user's sessions on one client; `at` is when it is due next. @internal */
export interface Group extends HeapItem {
  readonly key: string
  readonly keyset: Keyset
  readonly context: Context.Context<Requirements>
  readonly scheduler: Scheduler
  readonly membership: Membership
  /** one heartbeat or leave request at a time */
  readonly lock: Effect.Semaphore
  readonly retry: Schedule.Schedule<unknown, PresenceError>
  /** where the group stands; replaced (never changed) once per step */
  state: Policy.HeartbeatState
  listeners: Set<Queue.Queue<SessionStatus>> | undefined
}

/** One per `HttpClient`: the timer loop that runs every group's heartbeat on time. @internal */
export interface Scheduler {
  readonly heap: TimeHeap<Group>
  readonly groups: Map<string, Group>
  readonly scope: Scope.CloseableScope
  readonly timer: Timer
}

/** @internal */
export const isStopped = (g: Group): boolean => g.state.status._tag === "Stopped"

const timingOf = (g: Group): Policy.Timing => ({
  heartbeatMs: g.membership.heartbeat() * 1000,
  intervalMs: g.membership.intervalMs()
})

/**
 * The retry schedule's next delay after `error`, without sleeping (the scheduler does the waiting
 * for every group at once); `undefined` when the schedule is done.
 *
 * @internal
 */
export const stepRetry = (
  schedule: Schedule.Schedule<unknown, PresenceError>,
  state: unknown,
  now: number,
  error: PresenceError
): Effect.Effect<{ readonly state: unknown; readonly delayMs: number | undefined }> =>
  Effect.map(schedule.step(now, error, state === undefined ? schedule.initial : state), ([next, _out, decision]) => ({
    state: next,
    delayMs: ScheduleDecision.isDone(decision)
      ? undefined
      : Math.max(0, ScheduleIntervals.start(decision.intervals) - now)
  }))

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

const publish = (g: Group, status: SessionStatus): Effect.Effect<void> => {
  const listeners = g.listeners
  return listeners === undefined || listeners.size === 0
    ? Effect.void
    : Effect.forEach(listeners, (q) => Queue.offer(q, status), { discard: true })
}

/** The group's status, then every change. @internal */
export const statusChanges = (g: Group): Stream.Stream<SessionStatus> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Queue.unbounded<SessionStatus>()
    const current = g.state.status
    ;(g.listeners ??= new Set()).add(queue)
    yield* Effect.addFinalizer(() => Effect.sync(() => g.listeners?.delete(queue)))
    return Stream.concat(Stream.succeed(current), Stream.fromQueue(queue))
  }))

/** Takes a decision: the new state, the next due time (or off the timeline), the news. @internal */
export const apply = (g: Group, decision: Policy.Decision): Effect.Effect<void> => {
  const before = g.state.status
  g.state = decision.state
  const s = g.scheduler
  let wake: Effect.Effect<void> = Effect.void
  if (decision.at === undefined) s.heap.remove(g)
  else {
    s.heap.put(g, decision.at)
    wake = nudge(s.timer, decision.at)
  }
  const status = decision.state.status
  if (status === before) return wake
  const log = status._tag === "Stopped" && Option.isSome(status.error)
    ? Effect.logWarning("presence heartbeat stopped", status.error.value.message)
    : Effect.void
  return Effect.zipRight(wake, Effect.zipRight(publish(g, status), log))
}

/** Stops a group for good: its last session closed. @internal */
export const stop = (g: Group): Effect.Effect<void> =>
  isStopped(g)
    ? Effect.sync(() => g.scheduler.heap.remove(g))
    : apply(g, { state: { ...g.state, status: Status.Stopped({ error: Option.none() }) }, at: undefined })

// ---------------------------------------------------------------------------------------------
// heartbeats
// ---------------------------------------------------------------------------------------------

/** One heartbeat, counted in the metrics and traced: what `enter` and every beat send. @internal */
export const heartbeatRequest = (plan: HeartbeatPlan) =>
  sendHeartbeat(plan).pipe(
    Effect.tap(() => Metric.increment(heartbeatSuccesses)),
    Effect.tapError(() => Metric.increment(heartbeatFailures)),
    Effect.withSpan("PresenceSession.heartbeat", {
      attributes: { channels: plan.target.channels.length, channelGroups: plan.target.channelGroups.length }
    })
  )

/** One heartbeat for `targets`: when it was sent, or why it failed. Call under `g.lock`. @internal */
export const beat = (
  g: Group,
  targets: Names
): Effect.Effect<Either.Either<number, PresenceError>, never, Requirements> =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (sentAt) =>
      targets.channels.length === 0 && targets.channelGroups.length === 0
        ? Effect.succeed(Either.right(sentAt))
        : Effect.either(Effect.as(
          Effect.flatMap(
            heartbeatPlan({
              ...targets,
              heartbeat: g.membership.heartbeat(),
              state: g.membership.statesFor(targets),
              keyset: g.keyset
            }),
            heartbeatRequest
          ),
          sentAt
        ))
  )

/** One step of a group, when it is due: heartbeat (or note the deadline), then let the policy decide. */
const step = (g: Group): Effect.Effect<void, never, Requirements> =>
  Effect.gen(function*() {
    if (isStopped(g)) return
    if (g.state.due === "expire") {
      const now = yield* Clock.currentTimeMillis
      return yield* apply(g, Policy.decide(g.state, { _tag: "DeadlinePassed" }, now, timingOf(g)))
    }
    if (g.state.retryState !== undefined) yield* Metric.increment(heartbeatRetries)
    const result = yield* g.lock.withPermits(1)(Effect.suspend(() => beat(g, g.membership.union())))
    if (isStopped(g)) return // closed meanwhile
    const now = yield* Clock.currentTimeMillis
    const outcome: Policy.Outcome = Either.isRight(result)
      ? { _tag: "Succeeded", sentAt: result.right }
      : { _tag: "Failed", error: result.left, retry: yield* stepRetry(g.retry, g.state.retryState, now, result.left) }
    return yield* apply(g, Policy.decide(g.state, outcome, now, timingOf(g)))
  })

/**
 * A step that failed in a way nothing expected (a defect in a client, say) must not leave the
 * session claiming presence: it counts as a retryable failure, so the status turns `AtRisk` and
 * the policy goes on retrying.
 */
const recover = (g: Group, cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (isStopped(g)) return
    const error = new TransportError({
      url: "",
      reason: `the heartbeat failed unexpectedly: ${Cause.pretty(cause).split("\n")[0].slice(0, 200)}`
    })
    const now = yield* Clock.currentTimeMillis
    const retry = yield* stepRetry(g.retry, g.state.retryState, now, error)
    yield* apply(g, Policy.decide(g.state, { _tag: "Failed", error, retry }, now, timingOf(g)))
  })

const guardedStep = (g: Group): Effect.Effect<void, never, Requirements> =>
  Effect.catchAllCause(step(g), (cause) => (Cause.isInterruptedOnly(cause) ? Effect.void : recover(g, cause)))

/**
 * The client's scheduler, started with its first group. Forked from the entering fiber, so it
 * runs on that fiber's `Clock` (`TestClock` in tests).
 *
 * @internal
 */
export const schedulerFor = (shared: Shared, client: HttpClient.HttpClient): Effect.Effect<Scheduler> =>
  Effect.gen(function*() {
    const existing = shared.sessions.get(client)
    if (existing !== undefined) return existing
    const s: Scheduler = {
      heap: new TimeHeap<Group>(),
      groups: new Map(),
      scope: yield* Scope.make(),
      timer: yield* makeTimer
    }
    shared.sessions.set(client, s)
    const runDue = (now: number) =>
      Effect.suspend(() => {
        const due: Array<Group> = []
        for (let g = s.heap.popDue(now); g !== undefined; g = s.heap.popDue(now)) due.push(g)
        return Effect.forEach(due, (g) => Effect.forkIn(Effect.provide(guardedStep(g), g.context), s.scope), {
          discard: true
        })
      })
    yield* Effect.forkIn(runTimer(s.timer, runDue, () => s.heap.peek()?.at), s.scope)
    return s
  })

/** Forgets a group whose last session closed, and the scheduler with its last group. @internal */
export const retire = (shared: Shared, client: HttpClient.HttpClient, g: Group): Effect.Effect<void> =>
  Effect.suspend(() => {
    const s = g.scheduler
    if (s.groups.get(g.key) === g) s.groups.delete(g.key)
    if (s.groups.size > 0 || shared.sessions.get(client) !== s) return Effect.void
    shared.sessions.delete(client)
    return Scope.close(s.scope, Exit.void)
  })

// ---------------------------------------------------------------------------------------------
// leaving
// ---------------------------------------------------------------------------------------------

/** A leave, counted and traced. @internal */
export const leaveRequest = (keyset: Keyset, names: Names) =>
  Announce.announceLeave({ ...names, keyset }).pipe(
    Effect.tap(() => Metric.increment(leaves)),
    Effect.withSpan("PresenceSession.leave")
  )

/** A leave that must not fail or hang whoever closes: bounded by `timeout`, failures logged. @internal */
export const boundedLeave = (
  keyset: Keyset,
  names: Names,
  timeout: Duration.Duration,
  context: Context.Context<Requirements>
): Effect.Effect<void> =>
  names.channels.length === 0 && names.channelGroups.length === 0 ? Effect.void : Effect.interruptible(
    leaveRequest(keyset, names)
  ).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => `leave did not finish within ${Duration.format(timeout)}`
    }),
    Effect.catchAllCause((cause) =>
      Effect.logWarning(
        "presence leave failed",
        Option.match(Cause.failureOption(cause), {
          onNone: () => Cause.pretty(cause).split("\n")[0],
          onSome: (e) => (typeof e === "string" ? e : e.message)
        })
      )
    ),
    Effect.provide(context)
  )

/**
 * What closing a session does (as a finalizer of the caller's scope): under the group's lock, so
 * an in-flight heartbeat finishes first and cannot land after the leave (requests on different
 * connections are not ordered).
 *
 * @internal
 */
export const close = (
  shared: Shared,
  client: HttpClient.HttpClient,
  g: Group,
  member: Member,
  leave: { readonly announce: boolean; readonly timeout: Duration.Duration }
): Effect.Effect<void> =>
  g.lock.withPermits(1)(Effect.gen(function*() {
    member.closed = true
    const released = g.membership.part(member)
    if (g.membership.isEmpty) {
      yield* stop(g)
      yield* retire(shared, client, g)
    }
    if (leave.announce) yield* boundedLeave(g.keyset, released, leave.timeout, g.context)
  }))
