/**
 * Fault injection: per path prefix, a status and body, a `Retry-After`, a delay, a dropped
 * connection or a malformed body; once, N times, or with a seeded probability.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

const NonNegative = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

/** @internal */
export const FaultSpec = Schema.Struct({
  path: Schema.String,
  status: Schema.optional(Schema.Int.pipe(Schema.between(100, 599))),
  body: Schema.optional(Schema.String),
  retryAfter: Schema.optional(NonNegative),
  delayMs: Schema.optional(NonNegative.pipe(Schema.lessThanOrEqualTo(600_000))),
  drop: Schema.optional(Schema.Boolean),
  malformed: Schema.optional(Schema.Boolean),
  duplicate: Schema.optional(Schema.Boolean),
  lost: Schema.optional(Schema.Boolean),
  times: Schema.optional(Schema.Int.pipe(Schema.positive())),
  probability: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  seed: Schema.optional(Schema.Int)
}).pipe(
  Schema.filter((f) =>
    f.status !== undefined || f.drop === true || f.malformed === true || f.duplicate === true ||
      f.lost === true || f.delayMs !== undefined
      ? true
      : "a fault needs at least one of status, drop, malformed, duplicate, lost or delayMs"
  )
)
/** @internal */
export type FaultSpec = typeof FaultSpec.Type

/** What a firing fault does to one request. @internal */
export interface FaultAction {
  readonly delayMs: number
  readonly kind: "pass" | "status" | "drop" | "malformed" | "duplicate" | "lost"
  readonly status: number
  readonly body: string | undefined
  readonly retryAfter: number | undefined
}

interface Active {
  readonly spec: FaultSpec
  remaining: number
  rng: () => number
}

/** A small seeded PRNG (mulberry32), so probabilistic faults replay exactly. @internal */
export const mulberry32 = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** @internal */
export class Faults {
  private active: Array<Active> = []

  add(spec: FaultSpec): void {
    // once by default; with a probability and no count, for as long as it is installed
    const remaining = spec.times ?? (spec.probability !== undefined ? Number.POSITIVE_INFINITY : 1)
    this.active.push({ spec, remaining, rng: mulberry32(spec.seed ?? 42) })
  }

  clear(): void {
    this.active = []
  }

  get list(): ReadonlyArray<FaultSpec & { readonly remaining: number }> {
    return this.active.map((a) => ({ ...a.spec, remaining: a.remaining }))
  }

  /** The fault that fires for this path, if any (consuming one of its `times`). */
  match(path: string): FaultAction | undefined {
    for (let i = 0; i < this.active.length; i++) {
      const a = this.active[i]
      if (!path.startsWith(a.spec.path)) continue
      if (a.spec.probability !== undefined && a.rng() >= a.spec.probability) continue
      a.remaining--
      if (a.remaining <= 0) {
        this.active.splice(i, 1)
      }
      const s = a.spec
      const kind = s.drop === true
        ? "drop"
        : s.malformed === true
        ? "malformed"
        : s.duplicate === true
        ? "duplicate"
        : s.lost === true
        ? "lost"
        : s.status !== undefined
        ? "status"
        : "pass"
      return {
        delayMs: s.delayMs ?? 0,
        kind,
        status: s.status ?? 200,
        body: s.body,
        retryAfter: s.retryAfter
      }
    }
    return undefined
  }
}
