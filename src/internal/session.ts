/**
 * The managed heartbeat.
 *
 * Sessions of one user (origin, subscribe key, user id, auth) on one `HttpClient` form a group:
 * one heartbeat request per interval carries the union of their channels, membership is
 * reference-counted, and a channel is left only when no session holds it.
 *
 * Groups are driven by one scheduler fiber per `HttpClient`: it sleeps until the earliest group is
 * due (a `TimeHeap`, O(log n) per reschedule), then runs that group's step in a short-lived fiber.
 * A session therefore costs a few small objects, not a fiber of its own — 10,000 sessions fit in a
 * few tens of megabytes. The scheduler lives while any group does and is interrupted with the last.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
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
import { InvalidArgumentError, isRetryable, type PresenceError } from "../PresenceError.js"
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
import { type HeapItem, TimeHeap, waitUntil } from "./heap.js"
import * as Ops from "./operations.js"
import { baseUrl } from "./request.js"
import { checkHeartbeat } from "./validation.js"

type Requirements = KeysetService | HttpClient.HttpClient

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

// Per-session data is kept small (arrays rather than Sets, maps allocated on first use): 10,000
// sessions must fit in a few KB each.
interface Member {
  channels: ReadonlyArray<string>
  groups: ReadonlyArray<string>
  readonly heartbeat: number
  readonly intervalMs: number
}

/** One user's sessions on one client; `at` is when its next step is due. @internal */
interface Group extends HeapItem {
  readonly key: string
  readonly keyset: Keyset
  readonly context: Context.Context<Requirements>
  readonly scheduler: Scheduler
  readonly members: Array<Member>
  readonly channelRefs: Map<string, number>
  groupRefs: Map<string, number> | undefined
  states: Map<string, Ops.PresenceState> | undefined
  /** one heartbeat or leave request at a time */
  readonly lock: Effect.Semaphore
  readonly retry: Schedule.Schedule<unknown, PresenceError>
  status: Status
  listeners: Set<Queue.Queue<Status>> | undefined
  mode: "normal" | "retry" | "expire"
  retryState: unknown
  failures: number
  lastError: PresenceError | undefined
  lastSuccess: number
  stopped: boolean
}

/** One per `HttpClient`: the fiber that runs every group's heartbeat on time. */
interface Scheduler {
  readonly heap: TimeHeap<Group>
  readonly groups: Map<string, Group>
  readonly scope: Scope.CloseableScope
  readonly wake: Queue.Queue<boolean>
  wakesAt: number
}

/** Where sessions find their group. @internal */
export interface Registry {
  readonly byClient: WeakMap<HttpClient.HttpClient, Scheduler>
}

/** @internal */
export const makeRegistry = (): Registry => ({ byClient: new WeakMap() })

const LAST_CHANCE_MS = 1000

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const heartbeatOf = (g: Group): number => {
  let hb = Number.POSITIVE_INFINITY
  for (const m of g.members) hb = Math.min(hb, m.heartbeat)
  return Number.isFinite(hb) ? hb : Ops.DEFAULT_HEARTBEAT
}

const intervalOf = (g: Group): number => {
  let ms = Number.POSITIVE_INFINITY
  for (const m of g.members) ms = Math.min(ms, m.intervalMs)
  return Number.isFinite(ms) ? ms : (Ops.DEFAULT_HEARTBEAT / 2 - 1) * 1000
}

const retain = (refs: Map<string, number>, names: Iterable<string>) => {
  for (const n of names) refs.set(n, (refs.get(n) ?? 0) + 1)
}

/** Decrements; returns the names nobody holds any more. */
const release = (refs: Map<string, number>, names: Iterable<string>): Array<string> => {
  const gone: Array<string> = []
  for (const n of names) {
    const c = (refs.get(n) ?? 0) - 1
    if (c <= 0) {
      refs.delete(n)
      gone.push(n)
    } else {
      refs.set(n, c)
    }
  }
  return gone
}

/** Worth retrying for a heartbeat: transient failures, and a body a proxy mangled. */
const retryableForSession = (e: PresenceError): boolean => isRetryable(e) || e._tag === "MalformedResponseError"

const retryAfterMs = (e: PresenceError): number =>
  e._tag === "RateLimitedError" ? Option.match(e.retryAfter, { onNone: () => 0, onSome: Duration.toMillis }) : 0

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

/** The next delay of a schedule, without sleeping; `undefined` when it is done. */
const stepDelay = (
  schedule: Schedule.Schedule<unknown, PresenceError>,
  now: number,
  input: PresenceError,
  state: unknown
): Effect.Effect<readonly [unknown, number | undefined]> =>
  Effect.map(schedule.step(now, input, state), ([next, _out, decision]) =>
    [
      next,
      ScheduleDecision.isDone(decision) ? undefined : Math.max(0, ScheduleIntervals.start(decision.intervals) - now)
    ] as const)

const union = (g: Group) => ({
  channels: [...g.channelRefs.keys()],
  channelGroups: g.groupRefs === undefined ? [] : [...g.groupRefs.keys()]
})

const statesFor = (g: Group, names: ReadonlyArray<string>): Map<string, Ops.PresenceState> => {
  const out = new Map<string, Ops.PresenceState>()
  if (g.states === undefined) return out
  for (const n of names) {
    const s = g.states.get(n)
    if (s !== undefined) out.set(n, s)
  }
  return out
}

const putStates = (g: Group, states: Iterable<readonly [string, Ops.PresenceState]>) => {
  for (const [name, s] of states) (g.states ??= new Map()).set(name, s)
}

const dropStates = (g: Group, names: Iterable<string>) => {
  if (g.states === undefined) return
  for (const n of names) g.states.delete(n)
}

const setStatus = (g: Group, status: Status): Effect.Effect<void> => {
  g.status = status
  const listeners = g.listeners
  return listeners === undefined || listeners.size === 0
    ? Effect.void
    : Effect.forEach(listeners, (q) => Queue.offer(q, status), { discard: true })
}

const statusChanges = (g: Group): Stream.Stream<Status> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Status>()
    const current = g.status
    ;(g.listeners ??= new Set()).add(queue)
    yield* Effect.addFinalizer(() => Effect.sync(() => g.listeners?.delete(queue)))
    return Stream.concat(Stream.succeed(current), Stream.fromQueue(queue))
  }))

// ---------------------------------------------------------------------------------------------
// scheduling
// ---------------------------------------------------------------------------------------------

/** Puts a group (back) on the timeline at `at`; wakes the scheduler if that is earlier. */
const scheduleAt = (g: Group, at: number): Effect.Effect<void> => {
  if (g.stopped) return Effect.void
  const s = g.scheduler
  s.heap.put(g, at)
  return at < s.wakesAt ? Effect.asVoid(Queue.offer(s.wake, true)) : Effect.void
}

const schedulerLoop = (s: Scheduler) =>
  Effect.gen(function*() {
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      for (let g = s.heap.popDue(now); g !== undefined; g = s.heap.popDue(now)) {
        const group = g
        yield* Effect.forkIn(Effect.provide(step(group), group.context), s.scope)
      }
      const next = s.heap.peek()?.at
      s.wakesAt = next ?? Number.POSITIVE_INFINITY
      yield* waitUntil(next, now, s.wake)
    }
  })

/** One heartbeat request, counted in the metrics and traced: what `enter` and every beat send. */
const heartbeatRequest = (
  keyset: Keyset,
  targets: { readonly channels: ReadonlyArray<string>; readonly channelGroups: ReadonlyArray<string> },
  heartbeat: number,
  state: ReadonlyMap<string, Ops.PresenceState>
) =>
  Ops.announceHeartbeat({ ...targets, heartbeat, state, keyset }).pipe(
    Effect.tap(() => Metric.increment(heartbeatSuccesses)),
    Effect.tapError(() => Metric.increment(heartbeatFailures)),
    Effect.withSpan("PresenceSession.heartbeat", {
      attributes: { channels: targets.channels.length, channelGroups: targets.channelGroups.length }
    })
  )

/** One heartbeat for `targets` (default: everything the group holds). Call under `g.lock`. */
const beat = (g: Group, targets?: { channels: ReadonlyArray<string>; channelGroups: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const t = targets ?? union(g)
    if (t.channels.length === 0 && t.channelGroups.length === 0) return Either.right(undefined)
    const sentAt = yield* Clock.currentTimeMillis
    const heartbeat = heartbeatOf(g)
    const result = yield* Effect.either(
      heartbeatRequest(g.keyset, t, heartbeat, statesFor(g, [...t.channels, ...t.channelGroups]))
    )
    if (Either.isRight(result) && targets === undefined) {
      g.lastSuccess = sentAt
      yield* setStatus(g, SessionStatus.Present({ expiresAt: sentAt + heartbeat * 1000 }))
    }
    return Either.isRight(result) ? Either.right(undefined) : Either.left(result.left)
  })

/**
 * One step of a group's heartbeat state machine:
 * - `normal`: heartbeat; on a retryable failure start retrying (or, if already expired, wait an interval);
 * - `retry`: retry; keep retrying on the schedule until the last chance before expiry;
 * - `expire`: the deadline passed without success — report `Expired`, back to the normal interval.
 */
const step = (g: Group): Effect.Effect<void, never, Requirements> =>
  Effect.gen(function*() {
    if (g.stopped) return
    if (g.mode === "expire") {
      g.mode = "normal"
      const lastError = g.lastError
      if (lastError !== undefined) {
        const since = g.lastSuccess + heartbeatOf(g) * 1000
        yield* setStatus(g, SessionStatus.Expired({ failures: g.failures, lastError, since }))
      }
      return yield* scheduleAt(g, (yield* Clock.currentTimeMillis) + intervalOf(g))
    }
    const retrying = g.mode === "retry"
    if (retrying) yield* Metric.increment(heartbeatRetries)
    const result = yield* g.lock.withPermits(1)(beat(g))
    if (g.stopped) return
    const now = yield* Clock.currentTimeMillis
    if (Either.isRight(result)) {
      g.mode = "normal"
      g.failures = 0
      g.lastError = undefined
      return yield* scheduleAt(g, now + intervalOf(g))
    }
    const error = result.left
    g.lastError = error
    if (!retryableForSession(error)) {
      g.stopped = true
      g.scheduler.heap.remove(g)
      yield* setStatus(g, SessionStatus.Stopped({ error: Option.some(error) }))
      return yield* Effect.logWarning("presence heartbeat stopped", error.message)
    }
    g.failures++
    if (!retrying && g.status._tag === "Expired") {
      // already timed out at the service: no burst of retries, one try per interval
      yield* setStatus(g, SessionStatus.Expired({ failures: g.failures, lastError: error, since: g.status.since }))
      return yield* scheduleAt(g, now + intervalOf(g))
    }
    if (!retrying) {
      g.mode = "retry"
      g.retryState = g.retry.initial
    }
    const expiresAt = g.lastSuccess + heartbeatOf(g) * 1000
    yield* setStatus(g, SessionStatus.AtRisk({ failures: g.failures, lastError: error, expiresAt }))
    const [next, scheduled] = yield* stepDelay(g.retry, now, error, g.retryState)
    g.retryState = next
    const waitFor = retryAfterMs(error)
    const lastChance = expiresAt - LAST_CHANCE_MS
    const at = now + Math.max(scheduled ?? Number.POSITIVE_INFINITY, waitFor)
    if (at <= lastChance) return yield* scheduleAt(g, at)
    if (now < lastChance && now + waitFor <= lastChance) return yield* scheduleAt(g, lastChance)
    g.mode = "expire"
    return yield* scheduleAt(g, Math.max(now, expiresAt))
  })

// ---------------------------------------------------------------------------------------------
// enter
// ---------------------------------------------------------------------------------------------

const groupKey = (keyset: Keyset, config: Settings): string => `${baseUrl(config)}\u0000${keysetKey(keyset)}`

interface Validated {
  readonly target: { readonly channels: ReadonlyArray<string>; readonly channelGroups: ReadonlyArray<string> }
  readonly heartbeat: number
  readonly intervalMs: number
  readonly states: Map<string, Ops.PresenceState>
  readonly keyset: Keyset
}

const validate = (options: EnterOptions): Effect.Effect<Validated, PresenceError, KeysetService> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) {
      return yield* new InvalidArgumentError({ argument: "options", reason: "must be an object" })
    }
    const target = yield* Ops.targets(options, true)
    const heartbeat = options.heartbeat ?? Ops.DEFAULT_HEARTBEAT
    yield* Ops.check("heartbeat", heartbeat, checkHeartbeat)
    const interval = options.interval ?? heartbeat / 2 - 1
    if (typeof interval !== "number" || !Number.isFinite(interval) || interval <= 0 || interval >= heartbeat) {
      return yield* new InvalidArgumentError({
        argument: "interval",
        reason: `must be more than 0 and less than heartbeat (${heartbeat}) seconds`
      })
    }
    if (options.leaveTimeout !== undefined && Option.isNone(Duration.decodeUnknown(options.leaveTimeout))) {
      return yield* new InvalidArgumentError({ argument: "leaveTimeout", reason: "must be a Duration" })
    }
    const states = yield* Ops.stateMap(options.state, target)
    const keyset = yield* Ops.resolveKeyset(options)
    return { target, heartbeat, intervalMs: interval * 1000, states, keyset }
  })

const schedulerFor = (registry: Registry, client: HttpClient.HttpClient) =>
  Effect.gen(function*() {
    const existing = registry.byClient.get(client)
    if (existing !== undefined) return existing
    const s: Scheduler = {
      heap: new TimeHeap<Group>(),
      groups: new Map(),
      scope: yield* Scope.make(),
      wake: yield* Queue.sliding<boolean>(1),
      wakesAt: Number.POSITIVE_INFINITY
    }
    registry.byClient.set(client, s)
    // forked from the entering fiber, so it runs on the same Clock (TestClock in tests)
    yield* Effect.forkIn(schedulerLoop(s), s.scope)
    return s
  })

const holds = (list: ReadonlyArray<string>, name: string) => list.includes(name)

/** Lets go of a member's names: returns what no session of the group holds any more. */
const releaseMember = (g: Group, channels: ReadonlyArray<string>, groups: ReadonlyArray<string>) => {
  const c = release(g.channelRefs, channels)
  const cg = g.groupRefs === undefined ? [] : release(g.groupRefs, groups)
  dropStates(g, c)
  dropStates(g, cg)
  return { channels: c, channelGroups: cg }
}

const leaveEffect = (g: Group, channels: ReadonlyArray<string>, channelGroups: ReadonlyArray<string>) =>
  Ops.announceLeave({ channels, channelGroups, keyset: g.keyset }).pipe(
    Effect.tap(() => Metric.increment(leaves)),
    Effect.withSpan("PresenceSession.leave")
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
    const i = g.members.indexOf(member)
    if (i >= 0) g.members.splice(i, 1)
    const released = releaseMember(g, member.channels, member.groups)
    const s = g.scheduler
    if (g.members.length === 0) {
      if (!g.stopped) yield* setStatus(g, SessionStatus.Stopped({ error: Option.none() }))
      g.stopped = true
      s.heap.remove(g)
      if (s.groups.get(g.key) === g) s.groups.delete(g.key)
      if (s.groups.size === 0 && registry.byClient.get(client) === s) {
        registry.byClient.delete(client)
        yield* Scope.close(s.scope, Exit.void)
      }
    }
    if (!announceLeave || (released.channels.length === 0 && released.channelGroups.length === 0)) return
    yield* Effect.interruptible(leaveEffect(g, released.channels, released.channelGroups)).pipe(
      Effect.timeoutFail({
        duration: leaveTimeout,
        onTimeout: () => `leave did not finish within ${Duration.format(leaveTimeout)}`
      }),
      Effect.catchAll((e) => Effect.logWarning("presence leave failed", typeof e === "string" ? e : e.message)),
      Effect.provide(g.context)
    )
  }))

/** The handle: methods on the prototype, so a session costs two references, not a dozen closures. */
class Session implements PresenceSession {
  constructor(readonly group: Group, readonly member: Member) {}

  get userId(): string {
    return this.group.keyset.userId
  }

  get status(): Effect.Effect<Status> {
    return Effect.sync(() => this.group.status)
  }

  get statusChanges(): Stream.Stream<Status> {
    return statusChanges(this.group)
  }

  get channels(): Effect.Effect<
    { readonly channels: ReadonlyArray<string>; readonly channelGroups: ReadonlyArray<string> }
  > {
    return Effect.sync(() => ({ channels: [...this.member.channels], channelGroups: [...this.member.groups] }))
  }

  private held(t: Targets) {
    const member = this.member
    return Effect.gen(function*() {
      const target = yield* Ops.targets(t, true)
      for (const c of target.channels) {
        if (!holds(member.channels, c)) {
          return yield* new InvalidArgumentError({ argument: "channels", reason: `"${c}" is not held by this session` })
        }
      }
      for (const c of target.channelGroups) {
        if (!holds(member.groups, c)) {
          return yield* new InvalidArgumentError({
            argument: "channelGroups",
            reason: `"${c}" is not held by this session`
          })
        }
      }
      return target
    })
  }

  add(t: AddOptions): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    return Effect.gen(function*() {
      const target = yield* Ops.targets(t, true)
      const states = yield* Ops.stateMap(t.state, target)
      putStates(group, states)
      const r = yield* group.lock.withPermits(1)(beat(group, target))
      if (Either.isLeft(r)) return yield* Effect.fail(r.left)
      const channels = target.channels.filter((c) => !holds(member.channels, c))
      const groups = target.channelGroups.filter((c) => !holds(member.groups, c))
      member.channels = [...member.channels, ...channels]
      member.groups = [...member.groups, ...groups]
      retain(group.channelRefs, channels)
      if (groups.length > 0) retain(group.groupRefs ??= new Map(), groups)
    }).pipe(Effect.provide(group.context))
  }

  remove(t: Targets): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    return Effect.flatMap(this.held(t), (target) =>
      group.lock.withPermits(1)(Effect.gen(function*() {
        member.channels = member.channels.filter((c) => !target.channels.includes(c))
        member.groups = member.groups.filter((c) => !target.channelGroups.includes(c))
        const released = releaseMember(group, target.channels, target.channelGroups)
        if (released.channels.length > 0 || released.channelGroups.length > 0) {
          yield* leaveEffect(group, released.channels, released.channelGroups)
        }
      }))).pipe(Effect.provide(group.context))
  }

  setState(state: Ops.PresenceState, t?: Targets): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    const targets = t === undefined
      ? Effect.succeed({ channels: [...member.channels], channelGroups: [...member.groups] })
      : this.held(t)
    return Effect.flatMap(targets, (target) =>
      Effect.tap(
        Ops.setState({ ...target, state, keyset: group.keyset }),
        () => putStates(group, [...target.channels, ...target.channelGroups].map((n) => [n, state] as const))
      )).pipe(Effect.asVoid, Effect.provide(group.context))
  }
}

/** @internal */
export const enter = (
  options: EnterOptions
): Effect.Effect<PresenceSession, PresenceError, Scope.Scope | Requirements> =>
  Effect.gen(function*() {
    const v = yield* validate(options)
    const config = yield* PubNubConfig
    const client = yield* HttpClient.HttpClient
    const registry = yield* SessionRegistry
    // what later heartbeats run with: the caller's services, but not the caller's span (the
    // heartbeats are not part of `enter`, and keeping the span would keep it alive)
    const context: Context.Context<Requirements> = Context.omit(Tracer.ParentSpan)(
      yield* Effect.context<Requirements>()
    )

    // the first heartbeat, before anything is registered: its failure is enter's failure
    const firstAt = yield* Clock.currentTimeMillis
    yield* heartbeatRequest(v.keyset, v.target, v.heartbeat, v.states)

    const member: Member = {
      channels: v.target.channels,
      groups: v.target.channelGroups,
      heartbeat: v.heartbeat,
      intervalMs: v.intervalMs
    }
    const scheduler = yield* schedulerFor(registry, client)
    const key = groupKey(v.keyset, config)
    let g = scheduler.groups.get(key)
    if (g === undefined || g.stopped) {
      g = {
        key,
        keyset: v.keyset,
        context,
        scheduler,
        members: [member],
        channelRefs: new Map(),
        groupRefs: undefined,
        states: undefined,
        lock: yield* Effect.makeSemaphore(1),
        retry: options.retry ?? defaultRetry(v.intervalMs),
        status: SessionStatus.Present({ expiresAt: firstAt + v.heartbeat * 1000 }),
        listeners: undefined,
        mode: "normal",
        retryState: undefined,
        failures: 0,
        lastError: undefined,
        lastSuccess: firstAt,
        stopped: false,
        at: 0,
        heapIndex: -1
      }
      scheduler.groups.set(key, g)
      yield* scheduleAt(g, (yield* Clock.currentTimeMillis) + v.intervalMs)
    } else {
      g.members.push(member)
      // a shorter interval than the group's pending wait: heartbeat sooner
      if (g.mode === "normal") {
        const due = (yield* Clock.currentTimeMillis) + v.intervalMs
        if (due < g.at) yield* scheduleAt(g, due)
      }
    }
    retain(g.channelRefs, member.channels)
    if (member.groups.length > 0) retain(g.groupRefs ??= new Map(), member.groups)
    if (v.states.size > 0) putStates(g, v.states)

    // Scope.addFinalizer, not Effect.addFinalizer: the latter keeps the whole current context
    // (and this span) alive for the session's lifetime; `close` provides what it needs itself
    yield* Scope.addFinalizer(
      yield* Effect.scope,
      close(
        registry,
        client,
        g,
        member,
        options.announceLeave ?? true,
        Duration.decode(options.leaveTimeout ?? "5 seconds")
      )
    )
    return new Session(g, member)
  }).pipe(Effect.withSpan("Presence.enter"))
