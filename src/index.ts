/**
 * effect-pubnub-presence: PubNub Presence as Effect programs.
 *
 * @since 0.1.0
 */

/**
 * Keysets and the `KeysetService`.
 *
 * @since 0.1.0
 */
export * as Keyset from "./Keyset.js"

/**
 * The one-shot presence operations and their results.
 *
 * @since 0.1.0
 */
export * as Presence from "./Presence.js"

/**
 * Every failure, as tagged errors.
 *
 * @since 0.1.0
 */
export * as PresenceError from "./PresenceError.js"

/**
 * Where and how requests go.
 *
 * @since 0.1.0
 */
export * as PubNubConfig from "./PubNubConfig.js"

/**
 * The managed heartbeat behind `Presence.enter`: session handle, status, metrics.
 *
 * @since 0.1.0
 */
export * as PresenceSession from "./PresenceSession.js"

/**
 * What the SDK keeps between calls (coalescing, timers, sessions, caches), with one owner.
 *
 * @since 0.1.0
 */
export * as SharedState from "./SharedState.js"

/**
 * Presence events (`Presence.events`): join, leave, timeout, state change, interval.
 *
 * @since 0.1.0
 */
export * as PresenceEvent from "./PresenceEvent.js"
