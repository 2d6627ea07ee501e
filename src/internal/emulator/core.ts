/**
 * The emulator's working parts put together: the store, its virtual clock, the expirer (the
 * shared timer loop over the store's expiry heaps, in batches), the request log, access rules,
 * the here-now cache and the event hub — and `serve`, which answers one request with them.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import type { Options, PresenceEvent } from "../../Emulator.js"
import { InvalidArgumentError } from "../../PresenceError.js"
import { makeTimer, nudge, runTimer } from "../timer.js"
import { type Access, makeAccess } from "./access.js"
import { VirtualClock } from "./clock.js"
import { Faults } from "./faults.js"
import { RequestLog } from "./log.js"
import type { HereNowCache } from "./presence.js"
import {
  Channelled,
  DEFAULT_INTERVAL,
  type IntervalConfig,
  publish,
  publishIntervals,
  Timetokens
} from "./published.js"
import * as Routes from "./routes.js"
import { Store } from "./store.js"
import type { Reply } from "./target.js"

/** Expiry runs in batches of this many, letting other requests in between. */
const EXPIRY_BATCH = 5000

/** How long a subscribe poll is held by default: under the 310 s clients wait. */
const DEFAULT_WINDOW_SECONDS = 280

/**
 * Interval mode from the emulator's options, read field by field: a value that is not what it
 * should be (untyped callers) keeps the default.
 */
const intervalOptions = (given: unknown): IntervalConfig => {
  if (typeof given !== "object" || given === null) return DEFAULT_INTERVAL
  const g = given as Record<string, unknown>
  const int = (v: unknown, min: number, max: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : undefined
  return {
    announceMax: int(g.announceMax, 0, Number.MAX_SAFE_INTEGER) ?? DEFAULT_INTERVAL.announceMax,
    intervalSeconds: int(g.intervalSeconds, 1, 3600) ?? DEFAULT_INTERVAL.intervalSeconds,
    presenceDeltas: typeof g.presenceDeltas === "boolean" ? g.presenceDeltas : DEFAULT_INTERVAL.presenceDeltas
  }
}

/** The subscribe window from the options: more than 0 and at most 300 seconds, or the default. */
const windowSeconds = (given: unknown): number =>
  typeof given === "number" && given > 0 && given <= 300 ? given : DEFAULT_WINDOW_SECONDS

/** @internal */
export interface Core {
  readonly store: Store
  readonly clock: VirtualClock
  readonly faults: Faults
  readonly log: RequestLog
  readonly access: Access
  readonly cache: HereNowCache
  readonly events: PubSub.PubSub<PresenceEvent>
  /** what is published on `-pnpres` channels, per subscribe key */
  readonly published: (sub: string) => Channelled
  /** sets interval mode for one subscribe key, or (without one) the default for all */
  readonly configure: (config: Partial<IntervalConfig>, subscribeKey?: string) => void
  /** presence time, after expiring everything due by it */
  readonly expireNow: Effect.Effect<number>
  /** answers one request (method and path + query) without HTTP or faults */
  readonly serve: (method: string, target: string) => Effect.Effect<Reply>
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void, InvalidArgumentError>
  readonly reset: Effect.Effect<void>
  /** subscribe polls being held */
  readonly holding: { count: number }
}

/**
 * What the emulator publishes on `-pnpres` channels: the messages per subscribe key, interval
 * mode, the signal that wakes held polls, and the stream of events (`Emulator.events`).
 */
const makePublications = (store: Store, clock: VirtualClock, options: Options) =>
  Effect.gen(function*() {
    const events = yield* PubSub.sliding<PresenceEvent>(4096)
    const timetokens = new Timetokens()
    let defaults: IntervalConfig = intervalOptions(options.presence)
    const channelled = new Map<string, Channelled>()
    const published = (sub: string): Channelled => {
      let c = channelled.get(sub)
      if (c === undefined) {
        c = new Channelled(defaults)
        channelled.set(sub, c)
      }
      return c
    }
    const configure = (config: Partial<IntervalConfig>, subscribeKey?: string) => {
      if (subscribeKey === undefined) {
        defaults = { ...defaults, ...config }
        for (const c of channelled.values()) c.config = { ...c.config, ...config }
      } else {
        const c = published(subscribeKey)
        c.config = { ...c.config, ...config }
      }
    }

    // held polls wait for the next publication (or `advance`): one signal, replaced each time
    let changedSignal = yield* Deferred.make<boolean>()
    const signal = Effect.suspend(() => {
      const fired = changedSignal
      changedSignal = Deferred.unsafeMake<boolean>(FiberId.none)
      return Deferred.succeed(fired, true)
    })
    const changed = Effect.suspend(() => Effect.asVoid(Deferred.await(changedSignal)))

    const flushEvents = Effect.flatMap(clock.now, (now) => {
      const taken = store.takeEvents()
      if (taken.length === 0) return Effect.void
      for (const e of taken) publish(published(e.subscribeKey), e, timetokens, now)
      return Effect.zipRight(PubSub.publishAll(events, taken), signal)
    })
    const publishDue = (now: number) =>
      Effect.suspend(() => {
        let any = false
        for (const [sub, c] of channelled) {
          if (c.nextInterval === undefined || now < c.nextInterval) continue
          const ks = store.peekKeyspace(sub)
          publishIntervals(c, (channel) => ks?.channels.get(channel)?.size ?? 0, timetokens, now)
          any = true
        }
        return any ? signal : Effect.void
      })
    const nextIntervals = () => {
      let next: number | undefined
      for (const c of channelled.values()) {
        if (c.nextInterval !== undefined && (next === undefined || c.nextInterval < next)) next = c.nextInterval
      }
      return next
    }
    const resetPublications = () => {
      channelled.clear()
      timetokens.reset()
    }
    return {
      changed,
      configure,
      events,
      flushEvents,
      nextIntervals,
      publishDue,
      published,
      resetPublications,
      signal,
      timetokens
    }
  })

/**
 * Expiry: everything due by presence time, in batches, with events published as they happen; and
 * the fiber that does it on time with no traffic.
 */
const makeExpirer = (
  store: Store,
  clock: VirtualClock,
  pubs: Effect.Effect.Success<ReturnType<typeof makePublications>>
) =>
  Effect.gen(function*() {
    const { flushEvents, nextIntervals, publishDue } = pubs
    // everything due by `now`, in batches, with events published as they happen
    const expireAll = (now: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const n = store.expire(now, EXPIRY_BATCH)
        const more = n < EXPIRY_BATCH ? Effect.void : Effect.zipRight(Effect.yieldNow(), expireAll(now))
        return Effect.zipRight(flushEvents, more)
      })
    const expireNow = Effect.flatMap(clock.now, (t) => Effect.as(Effect.zipRight(expireAll(t), publishDue(t)), t))

    // the expirer sleeps until the earliest expiry or interval message (in the `Clock`'s time,
    // which `advance` does not move); a request or an `advance` that brings one closer wakes it
    const timer = yield* makeTimer
    const nextDue = () => {
      const a = store.nextExpiry()
      const b = nextIntervals()
      const next = a === undefined ? b : b === undefined ? a : Math.min(a, b)
      return next === undefined ? undefined : clock.toClock(next)
    }
    yield* Effect.forkScoped(runTimer(timer, () => Effect.asVoid(expireNow), nextDue))
    const nudgeExpirer = Effect.suspend(() => {
      const next = nextDue()
      return next === undefined ? Effect.void : nudge(timer, next)
    })
    return { expireNow, nudgeExpirer, timer }
  })

/** Moves presence time forward (refusing what is not a duration of 0 or more), then `after`. */
const advanceWith =
  (clock: VirtualClock, after: Effect.Effect<unknown>) =>
  (duration: Duration.DurationInput): Effect.Effect<void, InvalidArgumentError> =>
    Effect.suspend(() => {
      // a negative number would be read as zero by `Duration`: refuse it as what it is
      const d = typeof duration === "number" && !(duration >= 0) ? Option.none() : Duration.decodeUnknown(duration)
      const refused = Option.isNone(d) ? "must be a Duration, 0 or more" : clock.advance(Duration.toMillis(d.value))
      if (refused !== undefined) {
        return Effect.fail(new InvalidArgumentError({ argument: "advance", reason: refused }))
      }
      return Effect.asVoid(after)
    })

/** @internal */
export const makeCore = (options: Options): Effect.Effect<Core, never, Scope.Scope> =>
  Effect.gen(function*() {
    const store = new Store()
    store.recordEvents = true
    const clock = new VirtualClock()
    const log = new RequestLog()
    const faults = new Faults()
    const access = makeAccess(options)
    const cache: HereNowCache = { millis: Math.max(0, (options.hereNowCacheSeconds ?? 0) * 1000), entries: new Map() }
    const pubs = yield* makePublications(store, clock, options)
    const { changed, configure, events, flushEvents, published, resetPublications, signal, timetokens } = pubs
    const { expireNow, nudgeExpirer, timer } = yield* makeExpirer(store, clock, pubs)
    const windowMs = windowSeconds(options.subscribeWindowSeconds) * 1000
    const holding = { count: 0 }

    const serve = (method: string, target: string) =>
      Effect.gen(function*() {
        const now = yield* expireNow
        const realNow = yield* clock.realNow
        const h = yield* Routes.handle(
          {
            store,
            access,
            cache,
            now,
            realNow,
            timetokens,
            published,
            presenceNow: clock.now,
            changed,
            windowMs,
            flush: Effect.zipRight(flushEvents, nudgeExpirer),
            holding
          },
          method,
          target
        )
        log.record(h, method, target, now)
        yield* flushEvents
        yield* nudgeExpirer
        return h.reply
      })

    const advance = advanceWith(
      clock,
      Effect.zipRight(Effect.zipRight(expireNow, signal), nudge(timer, Number.NEGATIVE_INFINITY))
    )

    const reset = Effect.zipRight(
      Effect.sync(() => {
        store.reset()
        faults.clear()
        cache.entries.clear()
        log.reset()
        clock.reset()
        resetPublications()
      }),
      signal
    )

    return {
      store,
      clock,
      faults,
      log,
      access,
      cache,
      events,
      published,
      configure,
      expireNow,
      serve,
      advance,
      reset,
      holding
    }
  })
