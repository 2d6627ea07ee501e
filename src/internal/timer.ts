/**
 * The one timer loop: run what is due, then sleep until the next due time or until woken. The
 * request-deadline watchdog, the heartbeat scheduler and the emulator's expirer are each one of
 * these, with their own `runDue`.
 *
 * With nothing due the loop arms no timer at all — it waits on its wake queue — so an idle
 * program is never kept alive by it (`Effect.never` would be: it arms an interval). `capMs` bounds
 * every sleep, for loops that must look again soon even when nothing new is scheduled.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { sleepToward } from "./heap.js"

/** A loop's wake-up handle: schedule something earlier than it sleeps, and it wakes. @internal */
export interface Timer {
  /** when the loop will look next (`Infinity`: only when woken) */
  wakesAt: number
  readonly wake: Queue.Queue<boolean>
}

/** @internal */
export const makeTimer: Effect.Effect<Timer> = Effect.map(
  Queue.sliding<boolean>(1),
  (wake): Timer => ({ wakesAt: Number.POSITIVE_INFINITY, wake })
)

/**
 * Tells the loop that something is now due at `at`: wakes it only when it would sleep past that.
 *
 * @internal
 */
export const nudge = (timer: Timer, at: number): Effect.Effect<void> =>
  at < timer.wakesAt ? Effect.asVoid(Queue.offer(timer.wake, true)) : Effect.void

/**
 * Runs `runDue(now)` — which does what is due — then waits until `nextDue()` (at most `capMs`
 * when there is one; with none, no timer) or until nudged; forever. The next due time is read in
 * the same synchronous step that publishes `wakesAt`, so a nudge can never fall between the two.
 *
 * @internal
 */
export const runTimer = <E, R>(
  timer: Timer,
  runDue: (now: number) => Effect.Effect<void, E, R>,
  nextDue: () => number | undefined,
  capMs = Number.POSITIVE_INFINITY
): Effect.Effect<never, E, R> =>
  Effect.flatMap(Clock.clockWith(Effect.succeed), (clock) => {
    const loop: Effect.Effect<never, E, R> = Effect.suspend(() =>
      Effect.flatMap(runDue(clock.unsafeCurrentTimeMillis()), () => {
        const now = clock.unsafeCurrentTimeMillis()
        const next = nextDue()
        const at = next === undefined ? Number.POSITIVE_INFINITY : Math.min(next, now + capMs)
        timer.wakesAt = at
        const wait = Number.isFinite(at)
          ? Effect.raceFirst(sleepToward(at, now), Queue.take(timer.wake))
          : Queue.take(timer.wake)
        return Effect.flatMap(wait, () => loop)
      })
    )
    return Effect.interruptible(loop)
  })
