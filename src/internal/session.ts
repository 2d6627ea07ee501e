/**
 * The managed heartbeat. Sessions of one user (origin, subscribe key, user id, auth) on one
 * `HttpClient` form a group: one fiber heartbeats the union of their channels, membership is
 * reference-counted, and a channel is left only when no session holds it.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Keyset, KeysetService } from "../Keyset.js"
import type { Targets } from "../Presence.js"
import { InvalidArgumentError, isRetryable, type PresenceError } from "../PresenceError.js"
import type { AddOptions, EnterOptions, PresenceSession } from "../PresenceSession.js"
import type { SessionStatus as SessionStatusType } from "../PresenceSession.js"
import {
  heartbeatFailures,
  heartbeatRetries,
  heartbeatSuccesses,
  leaves,
  SessionRegistry,
  SessionStatus
} from "../PresenceSession.js"
import { PubNubConfig } from "../PubNubConfig.js"
import * as Ops from "./operations.js"
import { checkHeartbeat } from "./validation.js"

type Requirements = KeysetService | HttpClient.HttpClient

/** A registry of groups, per `HttpClient` (so separate clients never share). @internal */
export interface Registry {
  readonly byClient: WeakMap<HttpClient.HttpClient, Map<string, Group>>
}

/** @internal */
export const makeRegistry = (): Registry => ({ byClient: new WeakMap() })

interface Member {
  readonly channels: Set<string>
  readonly groups: Set<string>
  readonly heartbeat: number
  readonly intervalMs: number
}

/** One user's sessions on one client. @internal */
export interface Group {
  readonly key: string
  readonly keyset: Keyset
  readonly members: Set<Member>
  readonly channelRefs: Map<string, number>
  readonly groupRefs: Map<string, number>
  readonly states: Map<string, Ops.PresenceState>
  readonly status: SubscriptionRef.SubscriptionRef<SessionStatusType>
  readonly scope: Scope.CloseableScope
  readonly inFlight: Effect.Semaphore
  readonly wake: Queue.Queue<boolean>
  readonly retry: Schedule.Schedule<unknown, PresenceError>
  lastSuccess: number
  stopped: boolean
}

const LAST_CHANCE_MS = 1000

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

const defaultRetry = (intervalMs: number): Schedule.Schedule<unknown, PresenceError> =>
  Schedule.exponential("1 second", 2).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(Duration.millis(intervalMs)))
  )

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

const union = (g: Group) => ({ channels: [...g.channelRefs.keys()], channelGroups: [...g.groupRefs.keys()] })

const statesFor = (g: Group, names: ReadonlyArray<string>): Map<string, Ops.PresenceState> => {
  const out = new Map<string, Ops.PresenceState>()
  for (const n of names) {
    const s = g.states.get(n)
    if (s !== undefined) out.set(n, s)
  }
  return out
}

/** One heartbeat for `targets` (default: everything the group holds), one at a time per group. */
const beat = (g: Group, targets?: { channels: ReadonlyArray<string>; channelGroups: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const t = targets ?? union(g)
    if (t.channels.length === 0 && t.channelGroups.length === 0) return Either.right(undefined)
    const sentAt = yield* Clock.currentTimeMillis
    const heartbeat = heartbeatOf(g)
    const result = yield* Effect.either(
      Ops.announceHeartbeat({
        channels: t.channels,
        channelGroups: t.channelGroups,
        heartbeat,
        state: statesFor(g, [...t.channels, ...t.channelGroups]),
        keyset: g.keyset
      }).pipe(
        Effect.withSpan("PresenceSession.heartbeat", {
          attributes: { channels: t.channels.length, groups: t.channelGroups.length }
        })
      )
    )
    if (Either.isRight(result)) {
      yield* Metric.increment(heartbeatSuccesses)
      if (targets === undefined) {
        g.lastSuccess = sentAt
        yield* SubscriptionRef.set(g.status, SessionStatus.Present({ expiresAt: sentAt + heartbeat * 1000 }))
      }
      return Either.right(undefined)
    }
    yield* Metric.increment(heartbeatFailures)
    return Either.left(result.left)
  }).pipe(g.inFlight.withPermits(1))

const stop = (g: Group, error: PresenceError) =>
  Effect.gen(function*() {
    g.stopped = true
    yield* SubscriptionRef.set(g.status, SessionStatus.Stopped({ error: Option.some(error) }))
    yield* Effect.logWarning("presence heartbeat stopped", error.message)
  })

/** A beat at the normal interval, then retries within the presence budget when it fails. */
const beatWithRetry = (g: Group) =>
  Effect.gen(function*() {
    const first = yield* beat(g)
    if (Either.isRight(first)) return
    let lastError = first.left
    if (!retryableForSession(lastError)) return yield* stop(g, lastError)
    const current = yield* SubscriptionRef.get(g.status)
    if (current._tag === "Expired") {
      // already timed out at the service: no burst of retries, just try again next interval
      return yield* SubscriptionRef.set(
        g.status,
        SessionStatus.Expired({ failures: current.failures + 1, lastError, since: current.since })
      )
    }
    let failures = 1
    let state: unknown = g.retry.initial
    const expiresAt = () => g.lastSuccess + heartbeatOf(g) * 1000
    yield* SubscriptionRef.set(g.status, SessionStatus.AtRisk({ failures, lastError, expiresAt: expiresAt() }))
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const [next, scheduled] = yield* stepDelay(g.retry, now, lastError, state)
      state = next
      const waitFor = retryAfterMs(lastError)
      const lastChance = expiresAt() - LAST_CHANCE_MS
      let at = now + Math.max(scheduled ?? Number.POSITIVE_INFINITY, waitFor)
      if (at > lastChance) {
        if (now < lastChance && now + waitFor <= lastChance) {
          at = lastChance
        } else {
          yield* Effect.sleep(Duration.millis(Math.max(0, expiresAt() - now)))
          yield* SubscriptionRef.set(g.status, SessionStatus.Expired({ failures, lastError, since: expiresAt() }))
          return
        }
      }
      yield* Effect.sleep(Duration.millis(at - now))
      yield* Metric.increment(heartbeatRetries)
      const r = yield* beat(g)
      if (Either.isRight(r)) return
      failures++
      lastError = r.left
      if (!retryableForSession(lastError)) return yield* stop(g, lastError)
      yield* SubscriptionRef.set(g.status, SessionStatus.AtRisk({ failures, lastError, expiresAt: expiresAt() }))
    }
  })

const loop = (g: Group) =>
  Effect.gen(function*() {
    while (!g.stopped) {
      // sleep one interval, or less when a session with a shorter interval joins
      const woken = yield* Effect.raceFirst(
        Effect.as(Effect.sleep(Duration.millis(intervalOf(g))), false),
        Effect.as(Queue.take(g.wake), true)
      )
      void woken
      yield* beatWithRetry(g)
    }
  })

const groupKey = (keyset: Keyset, origin: string, secure: boolean): string => {
  const auth = keyset.authToken ?? keyset.authKey
  return JSON.stringify([
    secure,
    origin,
    keyset.subscribeKey,
    keyset.userId,
    auth === undefined ? "" : Redacted.value(auth)
  ])
}

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

/** @internal */
export const enter = (
  options: EnterOptions
): Effect.Effect<PresenceSession, PresenceError, Scope.Scope | Requirements> =>
  Effect.gen(function*() {
    const v = yield* validate(options)
    const config = yield* PubNubConfig
    const client = yield* HttpClient.HttpClient
    const registry = yield* SessionRegistry
    const context: Context.Context<Requirements> = yield* Effect.context<Requirements>()

    // the first heartbeat, before anything is registered: its failure is enter's failure
    const firstAt = yield* Clock.currentTimeMillis
    yield* Ops.announceHeartbeat({
      channels: v.target.channels,
      channelGroups: v.target.channelGroups,
      heartbeat: v.heartbeat,
      state: v.states,
      keyset: v.keyset
    }).pipe(
      Effect.tap(() => Metric.increment(heartbeatSuccesses)),
      Effect.tapError(() => Metric.increment(heartbeatFailures)),
      Effect.withSpan("PresenceSession.heartbeat")
    )

    const member: Member = {
      channels: new Set(v.target.channels),
      groups: new Set(v.target.channelGroups),
      heartbeat: v.heartbeat,
      intervalMs: v.intervalMs
    }
    const key = groupKey(v.keyset, config.origin, config.secure)
    let groups = registry.byClient.get(client)
    if (groups === undefined) {
      groups = new Map()
      registry.byClient.set(client, groups)
    }
    let g = groups.get(key)
    const shorter = g !== undefined && member.intervalMs < intervalOf(g)
    if (g === undefined || g.stopped) {
      g = {
        key,
        keyset: v.keyset,
        members: new Set(),
        channelRefs: new Map(),
        groupRefs: new Map(),
        states: new Map(),
        status: yield* SubscriptionRef.make<SessionStatusType>(
          SessionStatus.Present({ expiresAt: firstAt + v.heartbeat * 1000 })
        ),
        scope: yield* Scope.make(),
        inFlight: yield* Effect.makeSemaphore(1),
        wake: yield* Queue.sliding<boolean>(1),
        retry: options.retry ?? defaultRetry(v.intervalMs),
        lastSuccess: firstAt,
        stopped: false
      }
      groups.set(key, g)
      g.members.add(member)
      yield* Effect.forkIn(Effect.provide(loop(g), context), g.scope)
    } else {
      g.members.add(member)
      if (shorter) yield* Queue.offer(g.wake, true)
    }
    const group = g
    retain(group.channelRefs, member.channels)
    retain(group.groupRefs, member.groups)
    for (const [name, s] of v.states) group.states.set(name, s)

    const announceLeave = options.announceLeave ?? true
    const leaveTimeout = Duration.decode(options.leaveTimeout ?? Duration.seconds(5))
    const leave = (channels: ReadonlyArray<string>, channelGroups: ReadonlyArray<string>) =>
      Ops.announceLeave({ channels, channelGroups, keyset: group.keyset }).pipe(
        Effect.tap(() => Metric.increment(leaves)),
        Effect.withSpan("PresenceSession.leave")
      )

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        group.members.delete(member)
        const channels = release(group.channelRefs, member.channels)
        const channelGroups = release(group.groupRefs, member.groups)
        for (const n of [...channels, ...channelGroups]) group.states.delete(n)
        if (group.members.size === 0) {
          if (groups.get(key) === group) groups.delete(key)
          yield* Scope.close(group.scope, Exit.void)
          if (!group.stopped) yield* SubscriptionRef.set(group.status, SessionStatus.Stopped({ error: Option.none() }))
          group.stopped = true
        }
        if (!announceLeave || (channels.length === 0 && channelGroups.length === 0)) return
        yield* Effect.interruptible(leave(channels, channelGroups)).pipe(
          Effect.timeoutFail({
            duration: leaveTimeout,
            onTimeout: () => `leave did not finish within ${Duration.format(leaveTimeout)}`
          }),
          Effect.catchAll((e) => Effect.logWarning("presence leave failed", typeof e === "string" ? e : e.message))
        )
      }).pipe(Effect.provide(context))
    )

    const held = (t: Targets) =>
      Effect.gen(function*() {
        const target = yield* Ops.targets(t, true)
        for (const c of target.channels) {
          if (!member.channels.has(c)) {
            return yield* new InvalidArgumentError({
              argument: "channels",
              reason: `"${c}" is not held by this session`
            })
          }
        }
        for (const c of target.channelGroups) {
          if (!member.groups.has(c)) {
            return yield* new InvalidArgumentError({
              argument: "channelGroups",
              reason: `"${c}" is not held by this session`
            })
          }
        }
        return target
      })

    const session: PresenceSession = {
      userId: v.keyset.userId,
      status: SubscriptionRef.get(group.status),
      statusChanges: group.status.changes,
      channels: Effect.sync(() => ({ channels: [...member.channels], channelGroups: [...member.groups] })),
      add: (t: AddOptions) =>
        Effect.gen(function*() {
          const target = yield* Ops.targets(t, true)
          const states = yield* Ops.stateMap(t.state, target)
          const fresh = {
            channels: target.channels.filter((c) => !member.channels.has(c)),
            channelGroups: target.channelGroups.filter((c) => !member.groups.has(c))
          }
          for (const [name, s] of states) group.states.set(name, s)
          const r = yield* beat(group, target)
          if (Either.isLeft(r)) return yield* Effect.fail(r.left)
          for (const c of fresh.channels) member.channels.add(c)
          for (const c of fresh.channelGroups) member.groups.add(c)
          retain(group.channelRefs, fresh.channels)
          retain(group.groupRefs, fresh.channelGroups)
        }).pipe(Effect.provide(context)),
      remove: (t: Targets) =>
        Effect.gen(function*() {
          const target = yield* held(t)
          for (const c of target.channels) member.channels.delete(c)
          for (const c of target.channelGroups) member.groups.delete(c)
          const channels = release(group.channelRefs, target.channels)
          const channelGroups = release(group.groupRefs, target.channelGroups)
          for (const n of [...channels, ...channelGroups]) group.states.delete(n)
          if (channels.length > 0 || channelGroups.length > 0) yield* leave(channels, channelGroups)
        }).pipe(Effect.provide(context)),
      setState: (state, t) =>
        Effect.gen(function*() {
          const target = t === undefined
            ? { channels: [...member.channels], channelGroups: [...member.groups] }
            : yield* held(t)
          yield* Ops.setState({ ...target, state, keyset: group.keyset })
          for (const n of [...target.channels, ...target.channelGroups]) group.states.set(n, state)
        }).pipe(Effect.provide(context))
    }
    return session
  }).pipe(Effect.withSpan("Presence.enter"))
