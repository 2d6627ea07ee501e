/**
 * The managed heartbeat, in three parts:
 *
 * - the policy (`heartbeat/policy.ts`): a pure function from where a group stands and what just
 *   happened to its next state and due time;
 * - the timer loop (`timer.ts`): one scheduler fiber per `HttpClient` sleeps until the earliest
 *   group is due (a `TimeHeap`, O(log n) per reschedule) and runs that group's step in a
 *   short-lived fiber;
 * - the bookkeeping (`heartbeat/membership.ts`): which session holds which names.
 *
 * Sessions of one user (origin, keyset identity) on one `HttpClient` form a group: one heartbeat
 * request per interval carries the union of their channels, and a channel is left only when no
 * session holds it. A session costs a few small objects, not a fiber of its own — 10,000
 * sessions fit in a few tens of megabytes. The scheduler lives while any group does.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { Keyset, KeysetService } from "../Keyset.js"
import type { Targets } from "../Presence.js"
import { InvalidArgumentError, type PresenceError, TransportError } from "../PresenceError.js"
import type { AddOptions, EnterOptions, PresenceSession, SessionStatus as Status } from "../PresenceSession.js"
import {
  heartbeatFailures,
  heartbeatRetries,
  heartbeatSuccesses,
  leaves,
  SessionRegistry,
  SessionStatus
} from "../PresenceSession.js"
import { PubNubConfig, type Settings } from "../PubNubConfig.js"
import { keysetKey } from "./coalesce.js"
import { type HeapItem, TimeHeap } from "./heap.js"
import { type Member, Membership, type Names } from "./heartbeat/membership.js"
import * as Policy from "./heartbeat/policy.js"
import * as Ops from "./operations.js"
import { baseUrl } from "./request.js"
import { operation } from "./span.js"
import { makeTimer, nudge, runTimer, type Timer } from "./timer.js"
import { readState } from "./validation.js"

type Requirements = KeysetService | HttpClient.HttpClient

/** The shortest interval accepted: one heartbeat a second. @internal */
export const MIN_INTERVAL_SECONDS = 1

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/** One user's sessions on one client; `at` is when it is due next. @internal */
interface Group extends HeapItem {
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
  listeners: Set<Queue.Queue<Status>> | undefined
}

/** One per `HttpClient`: the fiber that runs every group's heartbeat on time. */
interface Scheduler {
  readonly heap: TimeHeap<Group>
  readonly groups: Map<string, Group>
  readonly scope: Scope.CloseableScope
  readonly timer: Timer
}

/** Where sessions find their group. @internal */
export interface Registry {
  readonly byClient: WeakMap<HttpClient.HttpClient, Scheduler>
}

/** @internal */
export const makeRegistry = (): Registry => ({ byClient: new WeakMap() })

const isStopped = (g: Group): boolean => g.state.status._tag === "Stopped"

const timingOf = (g: Group): Policy.Timing => ({
  heartbeatMs: g.membership.heartbeat() * 1000,
  intervalMs: g.membership.intervalMs()
})

// Schedules are immutable descriptions: one per interval serves every group (a schedule is ~2 KB).
const defaultRetries = new Map<number, Schedule.Schedule<unknown, PresenceError>>()
const defaultRetry = (intervalMs: number): Schedule.Schedule<unknown, PresenceError> => {
  let schedule = defaultRetries.get(intervalMs)
  if (schedule === undefined) {
    schedule = Schedule.exponential("1 second", 2).pipe(
      Schedule.jittered,
      Schedule.union(Schedule.spaced(Duration.millis(intervalMs)))
    )
    if (defaultRetries.size < 1000) defaultRetries.set(intervalMs, schedule)
  }
  return schedule
}

/**
 * The retry schedule's next delay after `error`, without sleeping (the scheduler does the waiting
 * for every group at once); `undefined` when the schedule is done.
 */
const stepRetry = (
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

const publish = (g: Group, status: Status): Effect.Effect<void> => {
  const listeners = g.listeners
  return listeners === undefined || listeners.size === 0
    ? Effect.void
    : Effect.forEach(listeners, (q) => Queue.offer(q, status), { discard: true })
}

const statusChanges = (g: Group): Stream.Stream<Status> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Status>()
    const current = g.state.status
    ;(g.listeners ??= new Set()).add(queue)
    yield* Effect.addFinalizer(() => Effect.sync(() => g.listeners?.delete(queue)))
    return Stream.concat(Stream.succeed(current), Stream.fromQueue(queue))
  }))

/** Takes a decision: the new state, the next due time (or off the timeline), the news. */
const apply = (g: Group, decision: Policy.Decision): Effect.Effect<void> => {
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

// ---------------------------------------------------------------------------------------------
// heartbeats
// ---------------------------------------------------------------------------------------------

/** One heartbeat, counted in the metrics and traced: what `enter` and every beat send. */
const heartbeatRequest = (plan: Ops.HeartbeatPlan) =>
  Ops.sendHeartbeat(plan).pipe(
    Effect.tap(() => Metric.increment(heartbeatSuccesses)),
    Effect.tapError(() => Metric.increment(heartbeatFailures)),
    Effect.withSpan("PresenceSession.heartbeat", {
      attributes: { channels: plan.target.channels.length, channelGroups: plan.target.channelGroups.length }
    })
  )

/** One heartbeat for `targets`: when it was sent, or why it failed. Call under `g.lock`. */
const beat = (g: Group, targets: Names): Effect.Effect<Either.Either<number, PresenceError>, never, Requirements> =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (sentAt) =>
      targets.channels.length === 0 && targets.channelGroups.length === 0
        ? Effect.succeed(Either.right(sentAt))
        : Effect.either(Effect.as(
          Effect.flatMap(
            Ops.heartbeatPlan({
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
      return yield* apply(
        g,
        Policy.decide(g.state, { _tag: "DeadlinePassed" }, yield* Clock.currentTimeMillis, timingOf(g))
      )
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

const schedulerFor = (registry: Registry, client: HttpClient.HttpClient) =>
  Effect.gen(function*() {
    const existing = registry.byClient.get(client)
    if (existing !== undefined) return existing
    const s: Scheduler = {
      heap: new TimeHeap<Group>(),
      groups: new Map(),
      scope: yield* Scope.make(),
      timer: yield* makeTimer
    }
    registry.byClient.set(client, s)
    const runDue = (now: number) =>
      Effect.suspend(() => {
        const due: Array<Group> = []
        for (let g = s.heap.popDue(now); g !== undefined; g = s.heap.popDue(now)) due.push(g)
        return Effect.forEach(
          due,
          (g) => Effect.forkIn(Effect.provide(guardedStep(g), g.context), s.scope),
          { discard: true }
        )
      })
    // forked from the entering fiber, so it runs on the same Clock (TestClock in tests)
    yield* Effect.forkIn(runTimer(s.timer, runDue, () => s.heap.peek()?.at), s.scope)
    return s
  })

// ---------------------------------------------------------------------------------------------
// leaving
// ---------------------------------------------------------------------------------------------

const leaveRequest = (keyset: Keyset, names: Names) =>
  Ops.announceLeave({ ...names, keyset }).pipe(
    Effect.tap(() => Metric.increment(leaves)),
    Effect.withSpan("PresenceSession.leave")
  )

/** A leave that must not fail or hang whoever closes: bounded by `timeout`, failures logged. */
const boundedLeave = (
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

/** What closing a session does (as a finalizer of the caller's scope). */
const close = (
  registry: Registry,
  client: HttpClient.HttpClient,
  g: Group,
  member: Member,
  announceLeave: boolean,
  leaveTimeout: Duration.Duration
): Effect.Effect<void> =>
  // under the group's lock, so an in-flight heartbeat finishes first and cannot land after the
  // leave (requests on different connections are not ordered)
  g.lock.withPermits(1)(Effect.gen(function*() {
    member.closed = true
    const released = g.membership.part(member)
    const s = g.scheduler
    if (g.membership.isEmpty) {
      if (!isStopped(g)) {
        yield* apply(g, {
          state: { ...g.state, status: SessionStatus.Stopped({ error: Option.none() }) },
          at: undefined
        })
      }
      s.heap.remove(g)
      if (s.groups.get(g.key) === g) s.groups.delete(g.key)
      if (s.groups.size === 0 && registry.byClient.get(client) === s) {
        registry.byClient.delete(client)
        yield* Scope.close(s.scope, Exit.void)
      }
    }
    if (announceLeave) yield* boundedLeave(g.keyset, released, leaveTimeout, g.context)
  }))

// ---------------------------------------------------------------------------------------------
// the handle
// ---------------------------------------------------------------------------------------------

const closedError = () =>
  new InvalidArgumentError({ argument: "session", reason: "is closed: its scope has ended, so it can do nothing more" })

/**
 * The handle: methods on the prototype, so a session costs two references, not a dozen closures.
 * It prints as its user id, names and status — never its keyset's secrets.
 */
class Session extends Inspectable.Class implements PresenceSession {
  constructor(readonly group: Group, readonly member: Member) {
    super()
  }

  get userId(): string {
    return this.group.keyset.userId
  }

  get status(): Effect.Effect<Status> {
    return Effect.sync(() => this.group.state.status)
  }

  get statusChanges(): Stream.Stream<Status> {
    return statusChanges(this.group)
  }

  get channels(): Effect.Effect<
    { readonly channels: ReadonlyArray<string>; readonly channelGroups: ReadonlyArray<string> }
  > {
    return Effect.sync(() => ({ channels: [...this.member.channels], channelGroups: [...this.member.groups] }))
  }

  toJSON(): unknown {
    return {
      _id: "PresenceSession",
      userId: this.userId,
      channels: this.member.channels,
      channelGroups: this.member.groups,
      status: this.group.state.status._tag,
      closed: this.member.closed
    }
  }

  /** Checks that targets are held by this session. */
  private held(t: Targets): Effect.Effect<Names, InvalidArgumentError> {
    const member = this.member
    return Effect.flatMap(Ops.targets(t, true), (target) => {
      const channel = target.channels.find((c) => !member.channels.includes(c))
      if (channel !== undefined) {
        return new InvalidArgumentError({ argument: "channels", reason: `"${channel}" is not held by this session` })
      }
      const group = target.channelGroups.find((c) => !member.groups.includes(c))
      if (group !== undefined) {
        return new InvalidArgumentError({ argument: "channelGroups", reason: `"${group}" is not held by this session` })
      }
      return Effect.succeed(target)
    })
  }

  add(t: AddOptions): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    return Effect.gen(function*() {
      if (member.closed) return yield* closedError()
      const options = yield* Ops.readOptions(t, ["channels", "channelGroups", "state"])
      const target = yield* Ops.targets(options, true)
      const states = yield* Ops.stateMap(options.state, target)
      yield* group.lock.withPermits(1)(Effect.gen(function*() {
        if (member.closed) return yield* closedError()
        group.membership.putStates(states)
        const r = yield* beat(group, target)
        if (Either.isLeft(r)) return yield* Effect.fail(r.left)
        group.membership.hold(member, target)
      }))
    }).pipe(Effect.provide(group.context))
  }

  remove(t: Targets): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    if (member.closed) return Effect.fail(closedError())
    return Effect.flatMap(this.held(t), (target) =>
      group.lock.withPermits(1)(Effect.gen(function*() {
        if (member.closed) return yield* closedError()
        const released = group.membership.release(member, target)
        if (released.channels.length > 0 || released.channelGroups.length > 0) {
          yield* leaveRequest(group.keyset, released)
        }
      }))).pipe(Effect.provide(group.context))
  }

  setState(state: Ops.PresenceState, t?: Targets): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    if (member.closed) return Effect.fail(closedError())
    // checked and copied once: what is sent now is what every later heartbeat carries
    const copy = readState(state)
    if (typeof copy === "string") return Effect.fail(new InvalidArgumentError({ argument: "state", reason: copy }))
    const targets: Effect.Effect<Names, InvalidArgumentError> = t === undefined
      ? Effect.sync(() => ({ channels: [...member.channels], channelGroups: [...member.groups] }))
      : this.held(t)
    return Effect.flatMap(
      targets,
      (target) =>
        Effect.flatMap(Ops.setState({ ...target, state: copy, keyset: group.keyset }), () =>
          Effect.sync(() => {
            if (member.closed) return
            group.membership.putStates([...target.channels, ...target.channelGroups].map((n) => [n, copy] as const))
          }))
    ).pipe(Effect.provide(group.context))
  }
}

// ---------------------------------------------------------------------------------------------
// enter
// ---------------------------------------------------------------------------------------------

const groupKey = (keyset: Keyset, config: Settings): string => `${baseUrl(config)}\u0000${keysetKey(keyset)}`

interface Validated {
  readonly target: Names
  readonly heartbeat: number
  readonly intervalMs: number
  readonly states: ReadonlyMap<string, Ops.PresenceState>
  readonly keyset: Keyset
  /** the first heartbeat */
  readonly plan: Ops.HeartbeatPlan
  readonly retry: Schedule.Schedule<unknown, PresenceError>
  readonly announceLeave: boolean
  readonly leaveTimeout: Duration.Duration
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

const validate = (input: EnterOptions): Effect.Effect<Validated, PresenceError, KeysetService> =>
  Effect.gen(function*() {
    if (typeof input !== "object" || input === null) {
      return yield* new InvalidArgumentError({ argument: "options", reason: "must be an object" })
    }
    const options = yield* Ops.readOptions(input, ENTER_KEYS)
    // channels, heartbeat, state and keyset are checked as for a heartbeat (it is the first one)
    const plan = yield* Ops.heartbeatPlan(options)
    const heartbeat = plan.heartbeat
    const interval = options.interval ?? heartbeat / 2 - 1
    if (
      typeof interval !== "number" || !Number.isFinite(interval) || interval < MIN_INTERVAL_SECONDS ||
      interval >= heartbeat
    ) {
      return yield* new InvalidArgumentError({
        argument: "interval",
        reason: `must be at least ${MIN_INTERVAL_SECONDS} second and less than heartbeat (${heartbeat}) seconds`
      })
    }
    if (options.retry !== undefined && !Schedule.isSchedule(options.retry)) {
      return yield* new InvalidArgumentError({ argument: "retry", reason: "must be a Schedule" })
    }
    if (options.announceLeave !== undefined && typeof options.announceLeave !== "boolean") {
      return yield* new InvalidArgumentError({ argument: "announceLeave", reason: "must be true or false" })
    }
    const leaveTimeout = options.leaveTimeout === undefined
      ? Option.some(Duration.seconds(5))
      : Duration.decodeUnknown(options.leaveTimeout)
    if (Option.isNone(leaveTimeout)) {
      return yield* new InvalidArgumentError({ argument: "leaveTimeout", reason: "must be a Duration" })
    }
    const intervalMs = interval * 1000
    return {
      target: plan.target,
      heartbeat,
      intervalMs,
      states: plan.states,
      keyset: plan.keyset,
      plan,
      retry: options.retry ?? defaultRetry(intervalMs),
      announceLeave: options.announceLeave ?? true,
      leaveTimeout: leaveTimeout.value
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
const firstHeartbeat = (v: Validated, announced: Announced): Effect.Effect<number, PresenceError, Requirements> =>
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
            return Effect.flatMap(
              Clock.currentTimeMillis,
              (now) =>
                Effect.flatMap(stepRetry(v.retry, retryState, now, error), (next) => {
                  if (next.delayMs === undefined) return Effect.fail(error)
                  const wait = Math.max(next.delayMs, Policy.retryAfterMs(error))
                  if (now + wait > startedAt + v.intervalMs) return Effect.fail(error)
                  return Effect.zipRight(
                    Effect.zipRight(Metric.increment(heartbeatRetries), Effect.sleep(Duration.millis(wait))),
                    attempt(next.state, announced.maybe)
                  )
                })
            )
          })
        )
      })
    return attempt(undefined, false)
  })

/** @internal */
export const enter: (
  options: EnterOptions
) => Effect.Effect<PresenceSession, PresenceError, Scope.Scope | Requirements> = operation("Presence.enter")((
  options: EnterOptions
) =>
  Effect.gen(function*() {
    const v = yield* validate(options)
    const config = yield* PubNubConfig
    const client = yield* HttpClient.HttpClient
    const registry = yield* SessionRegistry
    const scope = yield* Effect.scope
    // what later heartbeats and leaves run with: the caller's services, but not the caller's span
    // (the heartbeats are not part of `enter`, and keeping the span would keep it alive)
    const context: Context.Context<Requirements> = Context.omit(Tracer.ParentSpan)(
      yield* Effect.context<Requirements>()
    )
    const key = groupKey(v.keyset, config)

    // From the first send on, presence may have been announced. Whatever ends `enter` before the
    // session is registered — a failure, an interruption — then leaves what no other session of
    // this user holds; once registered, closing the caller's scope does.
    const announced: Announced = { maybe: false }
    const cleanup = Effect.suspend(() => {
      const other = registry.byClient.get(client)?.groups.get(key)
      const names: Names = {
        channels: v.target.channels.filter((c) => other?.membership.holdsChannel(c) !== true),
        channelGroups: v.target.channelGroups.filter((g) => other?.membership.holdsGroup(g) !== true)
      }
      return v.announceLeave ? boundedLeave(v.keyset, names, v.leaveTimeout, context) : Effect.void
    })

    return yield* Effect.uninterruptibleMask((restore) =>
      restore(firstHeartbeat(v, announced)).pipe(
        Effect.flatMap((firstAt) => register(v, registry, client, scope, context, key, firstAt)),
        Effect.onExit((exit) => (Exit.isSuccess(exit) || !announced.maybe ? Effect.void : cleanup))
      )
    )
  })
)

/** Puts a new session into its group (made if needed) and its close into the caller's scope. */
const register = (
  v: Validated,
  registry: Registry,
  client: HttpClient.HttpClient,
  scope: Scope.Scope,
  context: Context.Context<Requirements>,
  key: string,
  firstAt: number
): Effect.Effect<PresenceSession> =>
  Effect.gen(function*() {
    const member: Member = {
      channels: v.target.channels,
      groups: v.target.channelGroups,
      heartbeat: v.heartbeat,
      intervalMs: v.intervalMs,
      closed: false
    }
    const scheduler = yield* schedulerFor(registry, client)
    const now = yield* Clock.currentTimeMillis
    let g = scheduler.groups.get(key)
    if (g === undefined || isStopped(g)) {
      const timing: Policy.Timing = { heartbeatMs: v.heartbeat * 1000, intervalMs: v.intervalMs }
      g = {
        key,
        keyset: v.keyset,
        context,
        scheduler,
        membership: new Membership(),
        lock: yield* Effect.makeSemaphore(1),
        retry: v.retry,
        state: Policy.initial(firstAt, timing),
        listeners: undefined,
        at: 0,
        heapIndex: -1
      }
      scheduler.groups.set(key, g)
      g.membership.join(member, v.states)
      scheduler.heap.put(g, now + v.intervalMs)
      yield* nudge(scheduler.timer, g.at)
    } else {
      g.membership.join(member, v.states)
      // a shorter interval than the group's pending wait: heartbeat sooner
      const due = now + v.intervalMs
      if (g.state.due === "beat" && g.state.retryState === undefined && due < g.at) {
        scheduler.heap.put(g, due)
        yield* nudge(scheduler.timer, due)
      }
    }
    // Scope.addFinalizer, not Effect.addFinalizer: the latter keeps the whole current context
    // (and this span) alive for the session's lifetime; `close` provides what it needs itself
    yield* Scope.addFinalizer(scope, close(registry, client, g, member, v.announceLeave, v.leaveTimeout))
    return new Session(g, member)
  })
