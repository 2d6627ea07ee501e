/**
 * `Presence.roster`: subscribe, snapshot, apply what came since — and snapshot again whenever the
 * events may have missed something.
 *
 * One fiber per roster reads the stream's items batch by batch (a poll's answer is one batch),
 * applies them to the view and publishes the view when it changed. A gap (a reconnect, a full
 * answer, `here_now_refresh`), an interval report that does not say enough, counts that stop
 * matching the occupants listed, or the reconcile timer make it take a fresh snapshot; the items
 * arriving meanwhile wait in the stream's mailbox and are applied after it.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Subscribable from "effect/Subscribable"
import type { KeysetService } from "../../Keyset.js"
import type { Roster, RosterOptions } from "../../Presence.js"
import { type InvalidArgumentError, isRetryable, type PresenceError } from "../../PresenceError.js"
import type { HereNowResult } from "../../PresenceResult.js"
import { atLeastRetryAfter, type Item } from "../events/hub.js"
import { checkRetry, subscribeItems } from "../events/stream.js"
import { hereNowAll } from "../hereNow.js"
import { checkStateInfo, invalid, readOptions, TARGET_KEYS, targets } from "../options.js"
import { apply, drifted, fromSnapshot, publish, type View, type ViewConfig } from "./view.js"

/** The default time between reconciling snapshots. @internal */
export const DEFAULT_RECONCILE = Duration.minutes(5)

/** How long counts may disagree with the occupants listed before a snapshot settles it. @internal */
export const DRIFT_GRACE = Duration.seconds(1)

const ROSTER_KEYS = [...TARGET_KEYS, "stateInfo", "reconcile", "retry"] as const

const checkReconcile = (u: unknown): Either.Either<number, InvalidArgumentError> => {
  if (u === undefined) return Either.right(Duration.toMillis(DEFAULT_RECONCILE))
  const d = Duration.decodeUnknown(u)
  if (Option.isNone(d) || Duration.toMillis(d.value) < 1000) {
    return invalid("reconcile", "must be a Duration of at least 1 second (Duration.infinity turns it off)")
  }
  return Either.right(Duration.toMillis(d.value))
}

interface Checked {
  readonly config: ViewConfig
  readonly selection: Pick<RosterOptions, "keyset" | "using">
  readonly reconcileMs: number
  readonly retry: Schedule.Schedule<unknown, PresenceError>
}

const checkOptions = (input: RosterOptions) =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, ROSTER_KEYS)
    const target = yield* targets(options, true)
    const stateInfo = yield* checkStateInfo(options.stateInfo)
    const reconcileMs = yield* checkReconcile(options.reconcile)
    const retry = yield* checkRetry(options.retry)
    const checked: Checked = {
      config: { channels: target.channels, channelGroups: target.channelGroups, stateInfo },
      selection: { keyset: options.keyset, using: options.using },
      reconcileMs,
      retry
    }
    return checked
  })

/** The latest view, for every reader: each reader keeps only the newest view it has not read. */
const makeLatest = (initial: HereNowResult) =>
  Effect.gen(function*() {
    const current = yield* Ref.make(initial)
    const pubsub = yield* PubSub.sliding<HereNowResult>(1)
    const lock = yield* Effect.makeSemaphore(1)
    const set = (view: HereNowResult) =>
      lock.withPermits(1)(Effect.zipRight(Ref.set(current, view), pubsub.publish(view)))
    const changes = Stream.unwrapScoped(
      lock.withPermits(1)(
        Effect.zipWith(
          PubSub.subscribe(pubsub),
          Ref.get(current),
          (queue, now) => Stream.concat(Stream.succeed(now), Stream.fromQueue(queue))
        )
      )
    )
    return { current, set, changes }
  })

interface Loop {
  view: View
  /** since when counts have disagreed with the occupants listed */
  suspect: number | undefined
  nextReconcile: number
}

/** Notes when counts started to disagree with the occupants listed (or that they agree again). */
const checkDrift = (loop: Loop, now: number): void => {
  if (drifted(loop.view)) loop.suspect ??= now
  else loop.suspect = undefined
}

/** What one batch of items asks for: nothing more, or a snapshot (and why). */
const applyBatch = (loop: Loop, items: Iterable<Item>, now: number): string | undefined => {
  let reason: string | undefined
  for (const item of items) {
    if (item._tag === "Gap") {
      reason ??= item.reason
      continue
    }
    if (apply(loop.view, item.event) === "snapshot") reason ??= "interval"
  }
  if (reason === undefined) checkDrift(loop, now)
  return reason
}

/** Waits for the next batch (and whether the stream ended), or until a snapshot is due (`None`). */
const nextBatch = (items: Mailbox.ReadonlyMailbox<Item, PresenceError>, loop: Loop) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const drift = loop.suspect === undefined ? Infinity : loop.suspect + Duration.toMillis(DRIFT_GRACE)
    const due = Math.min(drift, loop.nextReconcile)
    const take = items.takeAll
    return due === Infinity
      ? Effect.asSome(take)
      : Effect.timeoutOption(take, Duration.millis(Math.max(0, due - now)))
  })

/** Runs the roster until its scope closes or a failure retrying cannot fix. */
const run = (
  checked: Checked,
  items: Mailbox.ReadonlyMailbox<Item, PresenceError>,
  snapshot: Effect.Effect<HereNowResult, PresenceError>,
  first: HereNowResult,
  set: (view: HereNowResult) => Effect.Effect<unknown>
) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const loop: Loop = {
      view: fromSnapshot(checked.config, first, undefined),
      suspect: undefined,
      nextReconcile: start + checked.reconcileMs
    }
    for (;;) {
      const batch = yield* nextBatch(items, loop)
      const now = yield* Clock.currentTimeMillis
      const reason = Option.isNone(batch)
        ? (loop.suspect !== undefined ? "drift" : "reconcile")
        : applyBatch(loop, batch.value[0], now)
      // the stream ends only by failing (the failure ends this loop); should it ever just end, so does the roster
      if (Option.isSome(batch) && batch.value[1]) return
      if (reason !== undefined) {
        yield* Effect.logDebug("roster: taking a fresh here-now").pipe(Effect.annotateLogs("reason", reason))
        loop.view = fromSnapshot(checked.config, yield* snapshot, loop.view.result)
        loop.suspect = undefined
        loop.nextReconcile = (yield* Clock.currentTimeMillis) + checked.reconcileMs
      }
      const published = publish(loop.view)
      if (Option.isSome(published)) yield* set(published.value)
    }
  })

/** @internal */
export const roster = (
  input: RosterOptions
): Effect.Effect<Roster, PresenceError, Scope.Scope | KeysetService | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const checked = yield* checkOptions(input)
    const { channels, channelGroups, stateInfo } = checked.config
    const { items } = yield* subscribeItems(
      { channels, channelGroups, ...checked.selection, retry: checked.retry },
      true
    )
    const walk = hereNowAll({ channels, channelGroups, stateInfo, ...checked.selection })
    const schedule = atLeastRetryAfter(checked.retry)
    const first = yield* Effect.retry(walk, { schedule, while: isRetryable })
    const context = yield* Effect.context<KeysetService | HttpClient.HttpClient>()
    const again = Effect.retry(walk, {
      schedule,
      while: (e) => isRetryable(e) || e._tag === "MalformedResponseError"
    }).pipe(Effect.provide(context))
    const latest = yield* makeLatest(first)
    const done = yield* Deferred.make<undefined, PresenceError>()
    yield* Effect.addFinalizer(() => Deferred.succeed(done, undefined))
    yield* Effect.forkScoped(
      Effect.catchAllCause(
        Effect.zipRight(run(checked, items, again, first, latest.set), Deferred.succeed(done, undefined)),
        (cause) => Deferred.failCause(done, cause)
      )
    )
    return Subscribable.make({
      get: Effect.flatMap(
        Deferred.poll(done),
        Option.match({
          onNone: () => Ref.get(latest.current),
          onSome: (end) => Effect.zipRight(end, Ref.get(latest.current))
        })
      ),
      changes: Stream.interruptWhen(latest.changes, Deferred.await(done))
    })
  })
