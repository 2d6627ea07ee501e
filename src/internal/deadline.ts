/**
 * Request timeouts without a race per request.
 *
 * `Effect.timeoutFail` forks two fibers and races them for every call. Instead each request runs
 * in one forked fiber and its deadline goes into a min-heap; one watchdog fiber per `Clock`
 * interrupts requests that are past their deadline.
 *
 * The watchdog is cheap under load: while it has deadlines it sleeps until the earliest one, but
 * never longer than `STEP` (so it notices an emptied heap soon and stops); with none it waits,
 * without any timer, for the next request to wake it. Steady traffic therefore never wakes it per
 * request, an idle program is not kept alive by it for more than `STEP`, and a deadline that is
 * earlier than every pending one (possible only with different timeouts) fires at most `STEP` late.
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
import * as Queue from "effect/Queue"
import { type HeapItem, sleepToward, TimeHeap } from "./heap.js"

const STEP_MS = 250

interface Deadline extends HeapItem {
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  fired: boolean
}

interface Watchdog {
  readonly heap: TimeHeap<Deadline>
  readonly wake: Queue.Queue<boolean>
  idle: boolean
}

const watchdogs = new WeakMap<Clock.Clock, Watchdog>()

const loop = (clock: Clock.Clock, w: Watchdog) =>
  Effect.gen(function*() {
    for (;;) {
      const now = clock.unsafeCurrentTimeMillis()
      for (let d = w.heap.popDue(now); d !== undefined; d = w.heap.popDue(now)) {
        d.fired = true
        yield* Fiber.interruptFork(d.fiber)
      }
      const next = w.heap.peek()?.at
      if (next === undefined) {
        // nothing to watch: no timer (it would keep an idle program alive) until a request comes
        w.idle = true
        yield* Queue.take(w.wake)
      } else {
        yield* sleepToward(next, now, STEP_MS)
      }
    }
  })

const startWatchdog = (clock: Clock.Clock): Effect.Effect<Watchdog> =>
  Effect.suspend(() => {
    const existing = watchdogs.get(clock)
    if (existing !== undefined) return Effect.succeed(existing)
    return Effect.gen(function*() {
      const w: Watchdog = { heap: new TimeHeap(), wake: yield* Queue.sliding<boolean>(1), idle: false }
      watchdogs.set(clock, w)
      // a daemon: it outlives the request that started it, and runs on this clock
      yield* Effect.forkDaemon(loop(clock, w))
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
    if (!w.idle) return outcome
    w.idle = false
    return Effect.zipRight(Queue.offer(w.wake, true), outcome)
  })

/**
 * Runs `effect`, failing with `onTimeout()` if it has not finished within `duration` on `clock`.
 *
 * @internal
 */
export const withDeadline = <A, E, R, E2>(
  clock: Clock.Clock,
  effect: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => {
  const w = watchdogs.get(clock)
  return w === undefined
    ? Effect.flatMap(startWatchdog(clock), (w) => guard(clock, w, effect, duration, onTimeout))
    : guard(clock, w, effect, duration, onTimeout)
}
