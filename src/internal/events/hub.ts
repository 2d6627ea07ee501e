/**
 * One subscribe long-poll per keyset, origin and `HttpClient`, shared by every event stream of
 * it: its channel list is the union of theirs, and when a stream starts or ends the poll starts
 * again with the new list from the last timetoken, so the others lose nothing. A union too long
 * for one URL is split over several polls.
 *
 * Each poll resumes from the last `t`/`r`; a retryable failure reconnects on each stream's
 * schedule from the same cursor (and tells streams that asked for it that a gap was possible);
 * a failure retrying cannot fix ends the streams it concerns with the typed error. Messages go to
 * each stream that asked for their subscription (`b`, or `c`), once: repeats are dropped.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { Keyset } from "../../Keyset.js"
import { isRetryable, type PresenceError } from "../../PresenceError.js"
import type { PresenceEvent } from "../../PresenceEvent.js"
import { PresenceEvent as Events } from "../../PresenceEvent.js"
import { encode, encodePathList } from "../encoding.js"
import { retryAfterMs } from "../heartbeat/policy.js"
import { stepRetry } from "../heartbeat/scheduler.js"
import type { Shared } from "../processState.js"
import { decodeWith, execute, type RequestFailure } from "../request.js"
import { inSpan } from "../span.js"
import { type Chunk, planCalls } from "../split.js"
import { type Cursor, decodeMessage, type Message, messageKey, PNPRES, SubscribeBody } from "./decode.js"
import { duplicatesDropped, eventsReceived, reconnects } from "./metrics.js"

/** The long-poll's own timeout: clients wait up to 310 s for the service's window to end. @internal */
export const LONG_POLL = Duration.seconds(310)

/** The service answers with at most 100 messages: a full answer may have left some out. */
const FULL = 100

/** What a stream gets: events, and — for those that ask (the roster) — when a gap was possible. @internal */
export type Item =
  | { readonly _tag: "Event"; readonly event: PresenceEvent }
  | { readonly _tag: "Gap"; readonly reason: "reconnect" | "full" | "refresh" }

const SEEN = 2048

/** The keys of the last messages a stream got, to drop repeats. */
class Recent {
  private readonly keys = new Set<string>()
  add(key: string): boolean {
    if (this.keys.has(key)) return false
    this.keys.add(key)
    if (this.keys.size > SEEN) {
      const oldest = this.keys.values().next()
      if (oldest.done !== true) this.keys.delete(oldest.value)
    }
    return true
  }
}

/** One stream on the shared poll. @internal */
export interface Subscriber {
  readonly channels: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
  /** the `-pnpres` names it listens to */
  readonly names: ReadonlySet<string>
  /** hands the stream a batch of items, waiting while it is full */
  readonly deliver: (items: ReadonlyArray<Item>) => Effect.Effect<unknown>
  readonly fail: (error: PresenceError) => Effect.Effect<unknown>
  readonly retry: Schedule.Schedule<unknown, PresenceError>
  /** events after this timetoken are delivered (set when it joins) */
  since: bigint
  retryState: unknown
  readonly seen: Recent
  readonly signals: boolean
}

/** @internal */
export const makeSubscriber = (
  options: Omit<Subscriber, "names" | "since" | "retryState" | "seen">
): Subscriber => ({
  ...options,
  names: new Set([...options.channels.map((c) => c + PNPRES), ...options.groups.map((g) => g + PNPRES)]),
  since: 0n,
  retryState: undefined,
  seen: new Recent()
})

/** @internal */
export interface Hub {
  readonly key: string
  readonly keyset: Keyset
  readonly client: HttpClient.HttpClient
  readonly context: Context.Context<HttpClient.HttpClient>
  readonly scope: Scope.CloseableScope
  readonly lock: Effect.Semaphore
  readonly subscribers: Set<Subscriber>
  /** where the polls resume: the earliest of their cursors */
  cursor: Cursor | undefined
  /** a stream joined from an older timetoken: the next polls start there */
  rewind: bigint | undefined
  /** each running poll's cursor */
  readonly cursors: Map<number, Cursor>
  loop: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** its last stream left: it is out of the registry, and a stream must find or make another */
  retired: boolean
}

const decodeSubscribe = decodeWith(SubscribeBody)

const earliest = (cursors: Iterable<Cursor>): Cursor | undefined => {
  let out: Cursor | undefined
  for (const c of cursors) if (out === undefined || BigInt(c.t) < BigInt(out.t)) out = c
  return out
}

const latest = (cursors: Iterable<Cursor>): Cursor | undefined => {
  let out: Cursor | undefined
  for (const c of cursors) if (out === undefined || BigInt(c.t) > BigInt(out.t)) out = c
  return out
}

/** One request of the long-poll (or, with `tt` 0, the handshake). */
const poll = (keyset: Keyset, chunk: Chunk, cursor: Cursor | undefined) =>
  inSpan(
    "Presence.events.poll",
    {
      channels: chunk.channels.length,
      channelGroups: chunk.channelGroups.length
    },
    execute(keyset, {
      prefix: `/v2/subscribe/${encode(keyset.subscribeKey)}`,
      path: `/${encodePathList(chunk.channels)}/0`,
      query: [
        ["tt", cursor?.t ?? "0"],
        ...(cursor === undefined ? [] : [["tr", String(cursor.r)] as const]),
        ...(chunk.channelGroups.length > 0 ? [["channel-group", chunk.channelGroups.join(",")] as const] : [])
      ],
      timeout: LONG_POLL
    }, decodeSubscribe)
  )

/** The current timetoken, from a handshake over one of the subscriber's names. */
const handshake = (keyset: Keyset, s: Subscriber): Effect.Effect<Cursor, RequestFailure, HttpClient.HttpClient> =>
  Effect.map(
    poll(keyset, {
      channels: s.channels.slice(0, 1).map((c) => c + PNPRES),
      channelGroups: s.channels.length > 0 ? [] : s.groups.slice(0, 1).map((g) => g + PNPRES)
    }, undefined),
    (b) => b.t
  )

/** A message as the event a stream gets. */
const toEvent = (m: Message): PresenceEvent => {
  const p = m.payload
  const source = {
    channel: m.channel,
    group: Option.fromNullable(m.group),
    occupancy: p.occupancy,
    timestamp: p.timestamp,
    timetoken: m.timetoken
  }
  switch (p.action) {
    case "join":
      return Events.Join({ ...source, uuid: p.uuid, state: Option.fromNullable(p.data) })
    case "leave":
      return Events.Leave({ ...source, uuid: p.uuid, state: Option.fromNullable(p.data) })
    case "timeout":
      return Events.Timeout({ ...source, uuid: p.uuid, state: Option.fromNullable(p.data) })
    case "state-change":
      return Events.StateChange({ ...source, uuid: p.uuid, state: Option.some(p.data) })
    case "interval":
      return Events.Interval({
        ...source,
        joined: p.join ?? [],
        left: p.leave ?? [],
        timedOut: p.timeout ?? [],
        hereNowRefresh: p.here_now_refresh ?? false
      })
  }
}

/**
 * Hands the messages of one answer to the streams that asked for them: sorted out synchronously,
 * then one offer per stream (a poll's answer is the unit of work, not each event).
 */
const dispatch = (hub: Hub, messages: ReadonlyArray<unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const batches = new Map<Subscriber, Array<Item>>()
    const skipped: Array<string> = []
    let duplicates = 0
    if (messages.length >= FULL) {
      for (const s of hub.subscribers) if (s.signals) batches.set(s, [{ _tag: "Gap", reason: "full" }])
    }
    for (const raw of messages) {
      const decoded = decodeMessage(raw)
      if (Either.isLeft(decoded)) {
        skipped.push(decoded.left)
        continue
      }
      const m = decoded.right
      const key = messageKey(m)
      const at = BigInt(m.timetoken)
      let event: PresenceEvent | undefined
      for (const s of hub.subscribers) {
        if (!s.names.has(m.via) || at <= s.since) continue
        if (!s.seen.add(key)) {
          duplicates++
          continue
        }
        event ??= toEvent(m)
        let batch = batches.get(s)
        if (batch === undefined) {
          batch = []
          batches.set(s, batch)
        }
        batch.push({ _tag: "Event", event })
        if (event._tag === "Interval" && event.hereNowRefresh) batch.push({ _tag: "Gap", reason: "refresh" })
      }
    }
    const offers = Effect.forEach(batches, ([s, items]) => s.deliver(items), { discard: true })
    const counted = Effect.zipRight(
      Metric.incrementBy(eventsReceived, messages.length),
      duplicates === 0 ? Effect.void : Metric.incrementBy(duplicatesDropped, duplicates)
    )
    const logged = skipped.length === 0
      ? Effect.void
      : Effect.forEach(skipped, (why) => Effect.logWarning("presence message skipped: it does not decode", why), {
        discard: true
      })
    return Effect.zipRight(Effect.zipRight(counted, logged), offers)
  })

const signal = (hub: Hub, reason: "reconnect") =>
  Effect.forEach(hub.subscribers, (s) => (s.signals ? s.deliver([{ _tag: "Gap", reason }]) : Effect.void), {
    discard: true
  })

/** Ends the streams a failure concerns, and starts the poll again for the others. */
const drop = (
  hub: Hub,
  shared: Shared,
  failed: ReadonlyArray<Subscriber>,
  error: PresenceError
): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.forEach(failed, (s) => s.fail(error), { discard: true }),
    Effect.asVoid(Effect.forkIn(leave(shared, hub, failed), hub.scope))
  )

/** The streams a refusal concerns: those asking for a refused name, or — when it names none — all. */
const refusedBy = (hub: Hub, error: PresenceError): Array<Subscriber> => {
  const all = [...hub.subscribers]
  if (error._tag !== "AccessDeniedError") return all
  const refused = new Set([...error.channels, ...error.channelGroups])
  const hit = all.filter((s) => [...s.names].some((n) => refused.has(n) || refused.has(n.slice(0, -PNPRES.length))))
  return hit.length > 0 ? hit : all
}

/** Waits before reconnecting: each stream's schedule (a finished one ends its stream), at least `Retry-After`. */
const backOff = (hub: Hub, shared: Shared, error: PresenceError): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Metric.increment(reconnects)
    const now = yield* Clock.currentTimeMillis
    const done: Array<Subscriber> = []
    let wait = Number.POSITIVE_INFINITY
    for (const s of hub.subscribers) {
      const next = yield* stepRetry(s.retry, s.retryState, now, error)
      s.retryState = next.state
      if (next.delayMs === undefined) done.push(s)
      else wait = Math.min(wait, next.delayMs)
    }
    if (done.length > 0) yield* drop(hub, shared, done, error)
    if (!Number.isFinite(wait)) return yield* Effect.never
    yield* Effect.sleep(Duration.millis(Math.max(wait, retryAfterMs(error))))
  })

/** How long a resumed poll has to fail before it counts as having reached the service. */
const RESUME_SETTLED = Duration.seconds(1)

/**
 * After a failure: whatever the service no longer had from the resume point is lost, and only a
 * fresh here-now can tell. Those that keep a view (the roster) are told once — when the resumed
 * poll answers, or when the service has held it for a second.
 */
const makeTold = (hub: Hub) => {
  let told = false
  return Effect.suspend(() => {
    if (told) return Effect.void
    told = true
    return signal(hub, "reconnect")
  })
}

/** One part of the union, polled until interrupted. */
const pollLoop = (hub: Hub, shared: Shared, index: number, chunk: Chunk, start: Cursor) =>
  Effect.gen(function*() {
    let cursor = start
    let failed = false
    hub.cursors.set(index, cursor)
    for (;;) {
      const tell = failed ? makeTold(hub) : undefined
      const settled = tell === undefined ? undefined : yield* Effect.fork(Effect.delay(tell, RESUME_SETTLED))
      const result = yield* Effect.either(poll(hub.keyset, chunk, cursor))
      if (settled !== undefined) yield* Fiber.interrupt(settled)
      if (Either.isRight(result)) {
        for (const s of hub.subscribers) s.retryState = undefined
        yield* dispatch(hub, result.right.m)
        if (tell !== undefined) yield* tell
        failed = false
        cursor = result.right.t
        hub.cursors.set(index, cursor)
        continue
      }
      const error = result.left
      if (isRetryable(error) || error._tag === "MalformedResponseError") {
        failed = true
        yield* backOff(hub, shared, error)
        continue
      }
      // retrying cannot fix it: the streams it concerns end with it
      return yield* drop(hub, shared, refusedBy(hub, error), error)
    }
  })

/** The polls over the current union, from the hub's cursor. */
const runPolls = (hub: Hub, shared: Shared, start: Cursor) =>
  Effect.gen(function*() {
    const subs = [...hub.subscribers]
    const channels = [...new Set(subs.flatMap((s) => s.channels.map((c) => c + PNPRES)))].sort()
    const groups = [...new Set(subs.flatMap((s) => s.groups.map((g) => g + PNPRES)))].sort()
    const chunks = yield* Effect.orDie(planCalls(hub.keyset, { channels, channelGroups: groups }, "/0", [
      ["tt", "00000000000000000000"],
      ["tr", "0000"]
    ]))
    hub.cursors.clear()
    yield* Effect.forEach(chunks, (chunk, i) => pollLoop(hub, shared, i, chunk, start), {
      concurrency: "unbounded",
      discard: true
    })
  })

/** Stops the running polls and starts new ones over the current union (or none). Under the lock. */
const restart = (hub: Hub, shared: Shared): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (hub.loop !== undefined) {
      yield* Fiber.interrupt(hub.loop)
      hub.loop = undefined
      hub.cursor = earliest(hub.cursors.values()) ?? hub.cursor
    }
    if (hub.rewind !== undefined && (hub.cursor === undefined || hub.rewind < BigInt(hub.cursor.t))) {
      hub.cursor = { t: String(hub.rewind), r: hub.cursor?.r ?? 0 }
    }
    hub.rewind = undefined
    if (hub.subscribers.size === 0) {
      hub.retired = true
      const hubs = shared.subscriptions.get(hub.client)
      if (hubs?.get(hub.key) === hub) hubs.delete(hub.key)
      return
    }
    const start = hub.cursor
    if (start === undefined) return
    // interruptible wherever it is started from (a stream's acquisition is not)
    hub.loop = yield* Effect.forkIn(
      Effect.interruptible(Effect.provide(runPolls(hub, shared, start), hub.context)),
      hub.scope
    )
  })

/** Where a stream of this keyset, origin and client finds its hub. @internal */
export interface Place {
  readonly shared: Shared
  readonly client: HttpClient.HttpClient
  readonly key: string
  readonly keyset: Keyset
  readonly context: Context.Context<HttpClient.HttpClient>
}

const hubFor = (place: Place): Effect.Effect<Hub> =>
  Effect.gen(function*() {
    let hubs = place.shared.subscriptions.get(place.client)
    if (hubs === undefined) {
      hubs = new Map()
      place.shared.subscriptions.set(place.client, hubs)
    }
    const existing = hubs.get(place.key)
    if (existing !== undefined) return existing
    const hub: Hub = {
      key: place.key,
      keyset: place.keyset,
      client: place.client,
      context: place.context,
      scope: yield* Scope.make(),
      lock: yield* Effect.makeSemaphore(1),
      subscribers: new Set(),
      cursor: undefined,
      rewind: undefined,
      cursors: new Map(),
      loop: undefined,
      retired: false
    }
    hubs.set(place.key, hub)
    return hub
  })

/** `schedule`, waiting at least a 429's `Retry-After` (as the polls' reconnects do). @internal */
export const atLeastRetryAfter = <Out>(
  schedule: Schedule.Schedule<Out, PresenceError>
): Schedule.Schedule<[Out, PresenceError], PresenceError> =>
  Schedule.modifyDelay(
    Schedule.intersect(schedule, Schedule.identity<PresenceError>()),
    ([, error], delay) => Duration.max(delay, Duration.millis(retryAfterMs(error)))
  )

/**
 * Adds a stream to its hub (made if needed): after the handshake (when the hub has no cursor yet)
 * it gets the events after `since` — the given timetoken, or the hub's cursor. The hub it joined.
 *
 * @internal
 */
export const join = (
  place: Place,
  s: Subscriber,
  timetoken: bigint | undefined
): Effect.Effect<Hub, RequestFailure> =>
  Effect.flatMap(
    hubFor(place),
    (hub) =>
      Effect.flatMap(
        joinHub(place.shared, hub, s, timetoken),
        (joined) => (joined ? Effect.succeed(hub) : join(place, s, timetoken))
      )
  )

const joinHub = (
  shared: Shared,
  hub: Hub,
  s: Subscriber,
  timetoken: bigint | undefined
): Effect.Effect<boolean, RequestFailure> =>
  hub.lock.withPermits(1)(Effect.gen(function*() {
    if (hub.retired) return false
    if (timetoken !== undefined) {
      s.since = timetoken
      if (hub.rewind === undefined || timetoken < hub.rewind) hub.rewind = timetoken
    } else {
      if (hub.cursor === undefined) {
        // a service that cannot be reached yet is retried on the stream's schedule, as a poll is
        // (interruptible: a stream's acquisition is not, and this may wait for a long time)
        hub.cursor = yield* Effect.provide(
          Effect.interruptible(Effect.retry(handshake(hub.keyset, s), {
            schedule: atLeastRetryAfter(s.retry),
            while: (e) => isRetryable(e) || e._tag === "MalformedResponseError"
          })),
          hub.context
        )
      }
      // the furthest any running poll got: nothing after it has been handed out yet
      s.since = BigInt((latest(hub.cursors.values()) ?? hub.cursor).t)
    }
    hub.subscribers.add(s)
    yield* restart(hub, shared)
    return true
  }))

/** Removes streams (and, with the last, the hub). @internal */
export const leave = (shared: Shared, hub: Hub, gone: Iterable<Subscriber>): Effect.Effect<void> =>
  hub.lock.withPermits(1)(Effect.suspend(() => {
    let changed = false
    for (const s of gone) changed = hub.subscribers.delete(s) || changed
    return changed ? restart(hub, shared) : Effect.void
  }))
