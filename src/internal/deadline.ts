/**
 * Request timeouts without a race per request.
 *
 * `Effect.timeoutFail` forks two fibers and races them for every call. Instead each request runs
 * in one forked fiber and its deadline goes into a min-heap; one watchdog fiber per `Clock`
 * interrupts requests that are past their deadline.
 *
 * The watchdog is the shared timer loop (`timer.ts`) and cheap under load: while it has deadlines
 * it sleeps until the earliest one, but never longer than `STEP` (so it notices an emptied heap
 * soon and stops); with none it waits, without any timer, for the next request to wake it. A new
 * deadline wakes it only when it is earlier than the watchdog's next look, so steady traffic never
 * wakes it per request, and an idle program is not kept alive by it for more than `STEP`.
 *
 * Interruption (not an abort signal) stops an overdue request, so it works with any Effect
 * `HttpClient`, and with `TestClock` (each clock has its own watchdog).
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { type HeapItem, TimeHeap } from "./heap.js"
import { makeTimer, nudge, runTimer, type Timer } from "./timer.js"

const STEP_MS = 250

interface Deadline extends HeapItem {
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  fired: boolean
}

/** One clock's watchdog: deadlines by time, and its timer. @internal */
export interface Watchdog {
  readonly heap: TimeHeap<Deadline>
  readonly timer: Timer
}

/** Interrupts every request past its deadline. */
const runDue = (w: Watchdog) => (now: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    const due: Array<Deadline> = []
    for (let d = w.heap.popDue(now); d !== undefined; d = w.heap.popDue(now)) {
      d.fired = true
      due.push(d)
    }
    return due.length === 0 ? Effect.void : Effect.forEach(due, (d) => Fiber.interruptFork(d.fiber), { discard: true })
  })

const startWatchdog = (watchdogs: WeakMap<Clock.Clock, Watchdog>, clock: Clock.Clock): Effect.Effect<Watchdog> =>
  Effect.suspend(() => {
    const existing = watchdogs.get(clock)
    if (existing !== undefined) return Effect.succeed(existing)
    return Effect.gen(function*() {
      const w: Watchdog = { heap: new TimeHeap(), timer: yield* makeTimer }
      watchdogs.set(clock, w)
      // a daemon: it outlives the request that started it, and runs on this clock
      yield* Effect.forkDaemon(runTimer(w.timer, runDue(w), () => w.heap.peek()?.at, STEP_MS))
      return w
    })
  })

const guard = <A, E, R, E2>(
  clock: Clock.Clock,
  w: Watchdog,
  effect: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Effect.fork(effect), (fiber) => {
    const d: Deadline = {
      at: clock.unsafeCurrentTimeMillis() + Duration.toMillis(duration),
      heapIndex: -1,
      fiber,
      fired: false
    }
    w.heap.insert(d)
    // waits on the request fiber directly (one step, instead of await + ensuring + flatMap)
    const outcome = Effect.async<A, E | E2>((resume) => {
      const observer = (exit: Exit.Exit<A, E>) => {
        w.heap.remove(d)
        resume(d.fired ? Effect.fail(onTimeout()) : exit)
      }
      fiber.addObserver(observer)
      return Effect.suspend(() => {
        fiber.removeObserver(observer)
        w.heap.remove(d)
        return Fiber.interruptFork(fiber)
      })
    })
    // steady traffic (deadlines later than the watchdog's next look) never wakes it
    return d.at < w.timer.wakesAt ? Effect.zipRight(nudge(w.timer, d.at), outcome) : outcome
  })

/**
 * Runs `effect`, failing with `onTimeout()` if it has not finished within `duration` on `clock`;
 * the clock's watchdog is kept in `watchdogs` (the `SharedState`'s).
 *
 * @internal
 */
export const withDeadline = <A, E, R, E2>(
  watchdogs: WeakMap<Clock.Clock, Watchdog>,
  clock: Clock.Clock,
  effect: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => {
  const w = watchdogs.get(clock)
  return w === undefined
    ? Effect.flatMap(startWatchdog(watchdogs, clock), (w) => guard(clock, w, effect, duration, onTimeout))
    : guard(clock, w, effect, duration, onTimeout)
}
