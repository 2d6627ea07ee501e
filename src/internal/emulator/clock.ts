/**
 * The emulator's time: the Effect `Clock` plus an offset that `advance` moves. Presence (expiry,
 * event timestamps) runs on it; signatures are checked against the `Clock` alone, which is what
 * clients sign with.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/** The most one `advance` may move time: a year. @internal */
export const MAX_ADVANCE_MS = 366 * 24 * 3600 * 1000

/** @internal */
export class VirtualClock {
  private offsetMillis = 0

  /** presence time, ms */
  readonly now: Effect.Effect<number> = Effect.map(Clock.currentTimeMillis, (ms) => ms + this.offsetMillis)

  /** the clock clients sign with, ms */
  readonly realNow: Effect.Effect<number> = Clock.currentTimeMillis

  /** Why `ms` cannot be advanced by, or `undefined` when it can (then it is done). */
  advance(ms: number): string | undefined {
    if (!Number.isFinite(ms) || ms < 0) return "must be a finite duration, 0 or more"
    if (ms > MAX_ADVANCE_MS) return "must be at most a year at a time"
    this.offsetMillis += ms
    return undefined
  }

  /** The time of the `Clock` (what timers run on) at which presence time is `presenceMs`. */
  toClock(presenceMs: number): number {
    return presenceMs - this.offsetMillis
  }

  reset(): void {
    this.offsetMillis = 0
  }
}
