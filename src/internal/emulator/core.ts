/**
 * The emulator's working parts put together: the store, its virtual clock, the expirer (the
 * shared timer loop over the store's expiry heaps, in batches), the request log, access rules,
 * the here-now cache and the event hub — and `serve`, which answers one request with them.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
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
import * as Routes from "./routes.js"
import { Store } from "./store.js"
import type { Reply } from "./target.js"

/** Expiry runs in batches of this many, letting other requests in between. */
const EXPIRY_BATCH = 5000

/** @internal */
export interface Core {
  readonly store: Store
  readonly clock: VirtualClock
  readonly faults: Faults
  readonly log: RequestLog
  readonly access: Access
  readonly cache: HereNowCache
  readonly events: PubSub.PubSub<PresenceEvent>
  /** presence time, after expiring everything due by it */
  readonly expireNow: Effect.Effect<number>
  /** answers one request (method and path + query) without HTTP or faults */
  readonly serve: (method: string, target: string) => Effect.Effect<Reply>
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void, InvalidArgumentError>
  readonly reset: Effect.Effect<void>
}

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
    const events = yield* PubSub.sliding<PresenceEvent>(4096)

    const flushEvents = Effect.suspend(() => {
      const taken = store.takeEvents()
      return taken.length === 0 ? Effect.void : PubSub.publishAll(events, taken)
    })
    // everything due by `now`, in batches, with events published as they happen
    const expireAll = (now: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const n = store.expire(now, EXPIRY_BATCH)
        const more = n < EXPIRY_BATCH ? Effect.void : Effect.zipRight(Effect.yieldNow(), expireAll(now))
        return Effect.zipRight(flushEvents, more)
      })
    const expireNow = Effect.flatMap(clock.now, (t) => Effect.as(expireAll(t), t))

    // the expirer sleeps until the earliest expiry; a request or an `advance` that brings one
    // closer wakes it
    const timer = yield* makeTimer
    yield* Effect.forkScoped(runTimer(timer, () => Effect.asVoid(expireNow), () => store.nextExpiry()))
    const nudgeExpirer = Effect.suspend(() => {
      const next = store.nextExpiry()
      return next === undefined ? Effect.void : nudge(timer, next)
    })

    const serve = (method: string, target: string) =>
      Effect.gen(function*() {
        const now = yield* expireNow
        const realNow = yield* clock.realNow
        const h = yield* Routes.handle({ store, access, cache, now, realNow }, method, target)
        log.record(h, method, target, now)
        yield* flushEvents
        yield* nudgeExpirer
        return h.reply
      })

    const advance = (duration: Duration.DurationInput): Effect.Effect<void, InvalidArgumentError> =>
      Effect.suspend(() => {
        // a negative number would be read as zero by `Duration`: refuse it as what it is
        const d = typeof duration === "number" && !(duration >= 0) ? Option.none() : Duration.decodeUnknown(duration)
        const refused = Option.isNone(d) ? "must be a Duration, 0 or more" : clock.advance(Duration.toMillis(d.value))
        if (refused !== undefined) {
          return Effect.fail(new InvalidArgumentError({ argument: "advance", reason: refused }))
        }
        return Effect.zipRight(expireNow, nudge(timer, Number.NEGATIVE_INFINITY))
      })

    const reset = Effect.sync(() => {
      store.reset()
      faults.clear()
      cache.entries.clear()
      log.reset()
      clock.reset()
    })

    return { store, clock, faults, log, access, cache, events, expireNow, serve, advance, reset }
  })
