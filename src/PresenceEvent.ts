/**
 * Presence events — who joined, left, timed out or changed state, as they happen — as
 * `Presence.events` streams them: a tagged union with constructors, `$is` and `$match`.
 *
 * `S` is the type of presence state (`StateObject` unless the stream was typed with
 * `Presence.typed`).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as metrics from "./internal/events/metrics.js"
import type { StateObject } from "./PresenceResult.js"

/**
 * Why an event's state did not decode with the app's schema (`Presence.typed`); its `state` is then
 * `None`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateDecoding {
  readonly stateError: Option.Option<ParseResult.ParseError>
}

/**
 * A presence event from `Presence.typed(schema).events`: state typed by the schema, and
 * `stateError` on the events that carry state.
 *
 * @since 0.1.0
 * @category models
 */
export type TypedPresenceEvent<A> =
  | (Join<A> & StateDecoding)
  | (Leave<A> & StateDecoding)
  | (Timeout<A> & StateDecoding)
  | (StateChange<A> & StateDecoding)
  | Interval

/**
 * What every event says about where and when it happened.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventSource {
  /** the channel the change happened on */
  readonly channel: string
  /** the channel group the event came through (subscribed as `<group>-pnpres`), if any */
  readonly group: Option.Option<string>
  /** the channel's occupancy after the change, as the service counts it */
  readonly occupancy: number
  /** when it happened, Unix seconds (the service's clock) */
  readonly timestamp: number
  /** the event's publish timetoken: 17 digits, as a string; resume after it with `timetoken` */
  readonly timetoken: string
}

/**
 * A user joined a channel. `state` is what they joined with, when they had any.
 *
 * @since 0.1.0
 * @category models
 */
export interface Join<S = StateObject> extends EventSource {
  readonly _tag: "Join"
  readonly uuid: string
  readonly state: Option.Option<S>
}

/**
 * A user left a channel. `state` is what they had there, when they had any.
 *
 * @since 0.1.0
 * @category models
 */
export interface Leave<S = StateObject> extends EventSource {
  readonly _tag: "Leave"
  readonly uuid: string
  readonly state: Option.Option<S>
}

/**
 * A user's presence ran out: no heartbeat within their timeout.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timeout<S = StateObject> extends EventSource {
  readonly _tag: "Timeout"
  readonly uuid: string
  readonly state: Option.Option<S>
}

/**
 * A user's state changed (set-state): `state` is the new state.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateChange<S = StateObject> extends EventSource {
  readonly _tag: "StateChange"
  readonly uuid: string
  readonly state: Option.Option<S>
}

/**
 * A channel above the keyset's Announce Max reports every Interval instead of each change:
 * who joined, left and timed out since the last one (empty without Presence Deltas), or
 * `hereNowRefresh` when that would not fit in a message — then only a here-now tells who is there.
 *
 * @since 0.1.0
 * @category models
 */
export interface Interval extends EventSource {
  readonly _tag: "Interval"
  readonly joined: ReadonlyArray<string>
  readonly left: ReadonlyArray<string>
  readonly timedOut: ReadonlyArray<string>
  readonly hereNowRefresh: boolean
}

/**
 * A presence event.
 *
 * @since 0.1.0
 * @category models
 */
export type PresenceEvent<S = StateObject> = Join<S> | Leave<S> | Timeout<S> | StateChange<S> | Interval

/**
 * The `Data.TaggedEnum` definition behind the constructors (generic in the state type).
 *
 * @since 0.1.0
 * @category models
 */
export interface PresenceEventDefinition extends Data.TaggedEnum.WithGenerics<1> {
  readonly taggedEnum: PresenceEvent<this["A"]>
}

/**
 * Constructors, `$is` and `$match` for presence events:
 *
 * @example
 * import { Effect } from "effect"
 * import { PresenceEvent } from "effect-pubnub-presence"
 *
 * const describe = PresenceEvent.$match({
 *   Join: (e) => `${e.uuid} joined ${e.channel}`,
 *   Leave: (e) => `${e.uuid} left ${e.channel}`,
 *   Timeout: (e) => `${e.uuid} timed out of ${e.channel}`,
 *   StateChange: (e) => `${e.uuid} changed state in ${e.channel}`,
 *   Interval: (e) => `${e.channel}: ${e.occupancy} present`
 * })
 * const log = (e: PresenceEvent.PresenceEvent) => Effect.log(describe(e))
 *
 * @since 0.1.0
 * @category constructors
 */
export const PresenceEvent = Data.taggedEnum<PresenceEventDefinition>()

/**
 * Constructors and matchers, by name: `PresenceEvent.Join({...})`, `PresenceEvent.$match(...)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { $is, $match, Interval, Join, Leave, StateChange, Timeout } = PresenceEvent

/**
 * Presence messages the long-poll received (before de-duplication).
 *
 * @since 0.1.0
 * @category metrics
 */
export const eventsReceived: Metric.Metric.Counter<number> = metrics.eventsReceived

/**
 * Reconnects of the long-poll after a retryable failure.
 *
 * @since 0.1.0
 * @category metrics
 */
export const reconnects: Metric.Metric.Counter<number> = metrics.reconnects

/**
 * Messages the service delivered again, dropped.
 *
 * @since 0.1.0
 * @category metrics
 */
export const duplicatesDropped: Metric.Metric.Counter<number> = metrics.duplicatesDropped
