/**
 * The models of presence calls: how much here-now lists, presence state, and the result classes
 * every operation returns. `Presence` re-exports all of it (`Presence.HereNowResult`, …); this
 * module holds only declarations, so that the code building results can depend on it without
 * depending on the operations.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * How much of each occupant here-now lists: `all` (uuids with state), `onlyUUIDs` (the default),
 * `none` (counts only).
 *
 * @since 0.1.0
 * @category models
 */
export type StateInfo = "all" | "onlyUUIDs" | "none"

/**
 * The `StateInfo` values, as constants: `Presence.StateInfo.all`.
 *
 * @since 0.1.0
 * @category constants
 */
export const StateInfo: { readonly all: "all"; readonly onlyUUIDs: "onlyUUIDs"; readonly none: "none" } = {
  all: "all",
  onlyUUIDs: "onlyUUIDs",
  none: "none"
}

/**
 * Presence state as sent: a flat object of strings, finite numbers, booleans and nulls. Keys that
 * start with `pn` are reserved.
 *
 * @since 0.1.0
 * @category models
 */
export type PresenceState = { readonly [key: string]: string | number | boolean | null }

/**
 * Presence state as received: whatever object the service holds.
 *
 * @since 0.1.0
 * @category models
 */
export type StateObject = { readonly [key: string]: unknown }

/**
 * One occupant of a channel, with its state when here-now was asked for it.
 *
 * @since 0.1.0
 * @category models
 */
export class OccupantInfo extends Schema.Class<OccupantInfo>("effect-pubnub-presence/OccupantInfo")({
  uuid: Schema.String,
  state: Schema.OptionFromSelf(Schema.Unknown)
}) {
  /** `{ uuid, state }`, `state` `null` when there is none. */
  toJSON(): unknown {
    return { uuid: this.uuid, state: Option.getOrNull(this.state) }
  }
}

/** A map as a JSON object: own keys, whatever they are (`__proto__` too). */
const jsonObject = <A>(map: ReadonlyMap<string, A>, f: (a: A) => unknown): { [key: string]: unknown } =>
  Object.fromEntries(Array.from(map, ([k, v]) => [k, f(v)]))

/**
 * Who is in one channel. `count` is always the full occupancy; `uuids` lists the occupants of this
 * page (none when counts only were asked for). `hasMore` is true when occupants were listed and
 * some lie beyond this page.
 *
 * @since 0.1.0
 * @category models
 */
export class ChannelOccupancy extends Schema.Class<ChannelOccupancy>("effect-pubnub-presence/ChannelOccupancy")({
  channelName: Schema.String,
  count: Schema.Number,
  uuids: Schema.ReadonlyMapFromSelf({ key: Schema.String, value: OccupantInfo }),
  hasMore: Schema.Boolean
}) {
  /** `{ channelName, count, uuids: { [uuid]: { uuid, state } }, hasMore }`. */
  toJSON(): unknown {
    return {
      channelName: this.channelName,
      count: this.count,
      uuids: jsonObject(this.uuids, (o) => o.toJSON()),
      hasMore: this.hasMore
    }
  }
}

/**
 * The answer of `hereNow`. For channel groups `totalChannels` can exceed `channels.size`.
 * `nextOffset` is the `offset` of the next page when any channel `hasMore`.
 *
 * @since 0.1.0
 * @category models
 */
export class HereNowResult extends Schema.Class<HereNowResult>("effect-pubnub-presence/HereNowResult")({
  totalChannels: Schema.Number,
  totalOccupancy: Schema.Number,
  channels: Schema.ReadonlyMapFromSelf({ key: Schema.String, value: ChannelOccupancy }),
  nextOffset: Schema.OptionFromSelf(Schema.Number)
}) {
  /**
   * The obvious JSON — maps as objects, `Option`s as their value or `null` — so a result survives
   * `JSON.stringify` (`pn-presence here-now --json` prints exactly this).
   */
  toJSON(): unknown {
    return {
      totalChannels: this.totalChannels,
      totalOccupancy: this.totalOccupancy,
      channels: jsonObject(this.channels, (c) => c.toJSON()),
      nextOffset: Option.getOrNull(this.nextOffset)
    }
  }
}

/**
 * The channels a user is present in.
 *
 * @since 0.1.0
 * @category models
 */
export class WhereNowResult extends Schema.Class<WhereNowResult>("effect-pubnub-presence/WhereNowResult")({
  uuid: Schema.String,
  channels: Schema.Array(Schema.String)
}) {}

/**
 * A user's state per channel (for a group: per member channel).
 *
 * @since 0.1.0
 * @category models
 */
export class GetStateResult extends Schema.Class<GetStateResult>("effect-pubnub-presence/GetStateResult")({
  uuid: Schema.String,
  channels: Schema.ReadonlyMapFromSelf({
    key: Schema.String,
    value: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  })
}) {
  /** `{ uuid, channels: { [channel]: state } }`. */
  toJSON(): unknown {
    return { uuid: this.uuid, channels: jsonObject(this.channels, (s) => s) }
  }
}

/**
 * The state the service stored.
 *
 * @since 0.1.0
 * @category models
 */
export class SetStateResult extends Schema.Class<SetStateResult>("effect-pubnub-presence/SetStateResult")({
  state: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/**
 * A heartbeat the service accepted.
 *
 * @since 0.1.0
 * @category models
 */
export class HeartbeatResult extends Schema.Class<HeartbeatResult>("effect-pubnub-presence/HeartbeatResult")({
  channels: Schema.Array(Schema.String),
  channelGroups: Schema.Array(Schema.String),
  heartbeat: Schema.Number
}) {}

/**
 * A leave the service accepted.
 *
 * @since 0.1.0
 * @category models
 */
export class LeaveResult extends Schema.Class<LeaveResult>("effect-pubnub-presence/LeaveResult")({
  action: Schema.Literal("leave"),
  channels: Schema.Array(Schema.String),
  channelGroups: Schema.Array(Schema.String)
}) {}

/**
 * State read with the app's schema (`Presence.typed`): `state` is the decoded value, or `None` —
 * when there is none, or when it does not decode, and then `stateError` says why.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedState<A> {
  readonly state: Option.Option<A>
  readonly stateError: Option.Option<ParseResult.ParseError>
}

/**
 * One occupant, with state typed by the app's schema.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedOccupantInfo<A> extends TypedState<A> {
  readonly uuid: string
}

/**
 * {@link ChannelOccupancy} with typed occupants.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedChannelOccupancy<A> {
  readonly channelName: string
  readonly count: number
  readonly uuids: ReadonlyMap<string, TypedOccupantInfo<A>>
  readonly hasMore: boolean
}

/**
 * {@link HereNowResult} with typed occupants.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedHereNowResult<A> {
  readonly totalChannels: number
  readonly totalOccupancy: number
  readonly channels: ReadonlyMap<string, TypedChannelOccupancy<A>>
  readonly nextOffset: Option.Option<number>
}

/**
 * {@link GetStateResult} with typed state per channel.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedGetStateResult<A> {
  readonly uuid: string
  readonly channels: ReadonlyMap<string, TypedState<A>>
}
