/**
 * Everything the SDK keeps between calls in a process, with one owner: requests in flight and
 * cached answers (coalescing), the request-deadline watchdogs, the managed heartbeat's sessions
 * and schedulers, and memoised signing keys, secret digests and default retry schedules.
 *
 * It is a `Context.Reference`, so it never shows in an effect's requirements: by default every
 * call in the process shares one. Provide a fresh one (`make()`) to keep a part of an app apart —
 * a tenant whose requests must never be coalesced with another's, or a test.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as internal from "./internal/processState.js"

/**
 * The state itself, opaque: what it holds is the SDK's business.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharedState {
  readonly _tag: "effect-pubnub-presence/SharedState"
}

/**
 * The reference. Its default is one state for the whole process.
 *
 * @example
 * import { Effect } from "effect"
 * import { Presence, SharedState } from "effect-pubnub-presence"
 *
 * // this tenant's calls share nothing with the rest of the process
 * const isolated = Presence.hereNow({ channels: ["lobby"] }).pipe(
 *   Effect.provideService(SharedState.SharedState, SharedState.make())
 * )
 *
 * @since 0.1.0
 * @category references
 */
export const SharedState: Context.Reference<SharedState, SharedState> = internal.SharedStateRef

/**
 * A fresh, empty state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: () => SharedState = internal.make

/**
 * A fresh state for everything the layer is provided to.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Layer.sync(internal.SharedStateRef, internal.make)
