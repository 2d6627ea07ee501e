/**
 * The span every public operation runs in.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * `Effect.fn(name)` for the operations, except that the span ends with `void` rather than the
 * answer (failures are recorded as they are). An ended span keeps its exit, and a span is made
 * before the request: by the time a large answer arrives, young-generation GCs have usually moved
 * the span to the old generation, and an answer stored there then survives every young GC until
 * the next full one. On a 1 MB here-now that cost 25–40% more time. (And a value kept in a span
 * is a value an exporter may print.)
 *
 * @internal
 */
export const operation = (name: string) =>
<Args extends ReadonlyArray<unknown>, A, E, R>(
  body: (...args: Args) => Effect.Effect<A, E, R>
) =>
(...args: Args): Effect.Effect<A, E, R> => inSpan(name, undefined, body(...args))

/**
 * Runs `effect` in a span named `name` that ends with `void` (see {@link operation}), without
 * capturing a stack trace (which costs more than a small request).
 *
 * @internal
 */
export const inSpan = <A, E, R>(
  name: string,
  attributes: Record<string, unknown> | undefined,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.makeSpan(
      name,
      attributes === undefined ? { captureStackTrace: false } : { captureStackTrace: false, attributes }
    ),
    (span) =>
      Effect.onExit(
        Effect.withParentSpan(effect, span),
        (exit) =>
          Effect.clockWith((clock) =>
            Effect.sync(() => span.end(clock.unsafeCurrentTimeNanos(), Exit.isSuccess(exit) ? Exit.void : exit))
          )
      )
  )
