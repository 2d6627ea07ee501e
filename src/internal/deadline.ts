/**
 * Request timeouts without a race per request.
 *
 * `Effect.timeoutFail` forks two fibers and races them for every call (~17 µs here). Instead each
 * request runs in one forked fiber, its deadline goes into a min-heap, and one watchdog fiber per
 * `Clock` sleeps until the earliest deadline and interrupts requests that are past theirs. A
 * request that finishes in time removes its deadline; the watchdog rarely wakes.
 *
 * Interruption (not an abort signal) is what stops an overdue request, so it works with any
 * Effect `HttpClient`, and with `TestClock` (each clock has its own watchdog).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { type HeapItem, TimeHeap } from "./heap.js"

interface Deadline extends HeapItem {
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  fired: boolean
}

interface Watchdog {
  readonly heap: TimeHeap<Deadline>
  readonly wake: Queue.Queue<boolean>
  wakesAt: number
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
      w.wakesAt = next ?? Number.POSITIVE_INFINITY
      // whole milliseconds, at least one: a fractional clock must not make this spin
      // nothing scheduled: wait for work without arming a timer (Effect.never would keep the
      // process alive)
      yield* next === undefined
        ? Queue.take(w.wake)
        : Effect.raceFirst(Effect.sleep(Duration.millis(Math.max(1, Math.ceil(next - now)))), Queue.take(w.wake))
    }
  })

const watchdogFor = (clock: Clock.Clock): Effect.Effect<Watchdog> =>
  Effect.suspend(() => {
    const existing = watchdogs.get(clock)
    if (existing !== undefined) return Effect.succeed(existing)
    return Effect.gen(function*() {
      const w: Watchdog = {
        heap: new TimeHeap(),
        wake: yield* Queue.sliding<boolean>(1),
        wakesAt: Number.POSITIVE_INFINITY
      }
      watchdogs.set(clock, w)
      // a daemon: it outlives the request that started it, and sleeps (on this clock) until needed
      yield* Effect.forkDaemon(loop(clock, w))
      return w
    })
  })

/**
 * Runs `effect`, failing with `onTimeout()` if it has not finished within `duration`.
 *
 * @internal
 */
export const withDeadline = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.clockWith((clock) =>
    Effect.flatMap(watchdogFor(clock), (w) =>
      Effect.flatMap(Effect.fork(effect), (fiber) => {
        const d: Deadline = {
          at: clock.unsafeCurrentTimeMillis() + Duration.toMillis(duration),
          heapIndex: -1,
          fiber,
          fired: false
        }
        w.heap.insert(d)
        const nudge = d.at < w.wakesAt ? Queue.offer(w.wake, true) : Effect.void
        return Effect.zipRight(
          nudge,
          Effect.flatMap(
            Effect.ensuring(
              Fiber.await(fiber),
              Effect.suspend(() => {
                w.heap.remove(d)
                // nothing left to watch: let the watchdog drop its timer, so that an idle program
                // is not kept alive until a stale deadline
                return w.heap.size === 0 && w.wakesAt !== Number.POSITIVE_INFINITY
                  ? Queue.offer(w.wake, true)
                  : Effect.void
              })
            ),
            (exit): Effect.Effect<A, E | E2> => (d.fired ? Effect.fail(onTimeout()) : exit)
          )
        )
      }))
  )
