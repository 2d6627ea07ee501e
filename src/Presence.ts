/**
 * One-shot presence operations: who is here, where is a user, presence state, heartbeat, leave.
 *
 * Every operation is an `Effect` that needs `KeysetService` and an `HttpClient`, fails with a
 * typed `PresenceError`, and takes `keyset` (an override) or `using` (a registered name).
 * Channel and group lists accept any `Iterable<string>`; lists too long for one request are split.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/operations.js"
import { operation } from "./internal/span.js"
import type { KeysetSelection, KeysetService } from "./Keyset.js"
import { InvalidArgumentError, type PresenceError } from "./PresenceError.js"
import * as PresenceSession from "./PresenceSession.js"

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

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
export type PresenceState = internal.PresenceState

/**
 * Presence state as received: whatever object the service holds.
 *
 * @since 0.1.0
 * @category models
 */
export type StateObject = { readonly [key: string]: unknown }

/**
 * Channels and channel groups a call is about.
 *
 * @since 0.1.0
 * @category models
 */
export interface Targets {
  readonly channels?: Iterable<string> | undefined
  readonly channelGroups?: Iterable<string> | undefined
}

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
 * What every operation needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = KeysetService | HttpClient.HttpClient

// ---------------------------------------------------------------------------------------------
// operations
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link hereNow}. No channels and no groups asks for every channel of the keyset
 * (global here-now). `limit` (0–1000, per channel) and `offset` page through large channels.
 *
 * @since 0.1.0
 * @category models
 */
export interface HereNowOptions extends Targets, KeysetSelection, Caching {
  readonly stateInfo?: StateInfo | undefined
  readonly limit?: number | undefined
  readonly offset?: number | undefined
}

/**
 * Reads (here-now, where-now, get-state) that are identical — same keyset, options and channels —
 * and concurrent share one request. `cacheTtl` also reuses a successful answer for that long
 * (off by default; PubNub itself caches here-now for 3 seconds). Here-now callers that share a
 * request also share its result: the same (immutable) `HereNowResult`, built once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Caching {
  readonly cacheTtl?: Duration.DurationInput | undefined
}

const DEFAULT_PAGE = 1000

/**
 * An instance of a result class without running its constructor: the wire schemas have validated
 * the data already, and a large here-now answer holds tens of thousands of occupants (the
 * `Schema.Class` constructor costs ~0.2 µs each, even with validation off). The instance sits on
 * C's prototype; the caller sets its fields, which makes it the same as `new C(fields, true)`
 * (checked by test/results.test.ts). This is the SDK's one step outside the type system:
 * `Object.create` cannot say what it makes.
 */
const bare = <C extends new(...args: Array<never>) => object>(
  Class: C
): InstanceType<C> => Object.create(Class.prototype)

/** `bare` with the fields copied in. */
const fromFields = <C extends new(fields: never, ...rest: Array<never>) => object>(
  Class: C,
  fields: ConstructorParameters<C>[0]
): InstanceType<C> => Object.assign(bare(Class), fields)

// Occupants are built by the ten thousand: their two fields are set one by one on the bare
// instance, so every occupant gets the same shape without a fields object per occupant (copying
// one with `fromFields` made a 20,000-occupant answer ~15% slower).
const occupantInfo = (o: internal.RawOccupant): OccupantInfo => {
  const info: { -readonly [K in keyof OccupantInfo]: OccupantInfo[K] } = bare(OccupantInfo)
  if (typeof o === "string") {
    info.uuid = o
    info.state = Option.none()
  } else {
    info.uuid = o.uuid
    info.state = Option.fromNullable(o.state)
  }
  return info
}

const toHereNowResult = (raw: internal.RawHereNow, p: internal.HereNowPlan): HereNowResult => {
  const channels = new Map<string, ChannelOccupancy>()
  const listing = p.stateInfo !== "none" && p.limit !== 0
  let more = false
  for (const ch of raw.channels) {
    const uuids = new Map<string, OccupantInfo>()
    if (ch.uuids !== undefined) {
      for (const o of ch.uuids) {
        const info = occupantInfo(o)
        uuids.set(info.uuid, info)
      }
    }
    const hasMore = listing && ch.uuids !== undefined && p.offset + ch.uuids.length < ch.occupancy
    more ||= hasMore
    channels.set(ch.name, fromFields(ChannelOccupancy, { channelName: ch.name, count: ch.occupancy, uuids, hasMore }))
  }
  return fromFields(HereNowResult, {
    totalChannels: raw.totalChannels,
    totalOccupancy: raw.totalOccupancy,
    channels,
    nextOffset: more ? Option.some(p.offset + (p.limit ?? DEFAULT_PAGE)) : Option.none()
  })
}

// callers that share a here-now call (in flight, or cached with `cacheTtl`) share its result
const sharedHereNowResult = internal.sharedHereNow(toHereNowResult)
// hereNowAll's pages: the raw answers, merged into one result at the end
const sharedHereNowPage = internal.sharedHereNow((raw) => raw)

/**
 * Who is present: in some channels, in channel groups (listed by member channel), or — with
 * neither — in the whole keyset.
 *
 * @example
 * import { Effect } from "effect"
 * import { Presence } from "effect-pubnub-presence"
 *
 * const program = Effect.gen(function*() {
 *   const result = yield* Presence.hereNow({ channels: ["lobby"], stateInfo: Presence.StateInfo.all })
 *   for (const [name, channel] of result.channels) {
 *     yield* Effect.log(`${name}: ${channel.count} present`)
 *   }
 * })
 *
 * @since 0.1.0
 * @category operations
 */
export const hereNow: (
  options?: HereNowOptions
) => Effect.Effect<HereNowResult, PresenceError, Requirements> = operation("Presence.hereNow")(
  // the most called operation: plain steps, no generator
  (options?: HereNowOptions) =>
    Effect.flatMap(
      internal.hereNowPlan(options ?? {}),
      sharedHereNowResult
    )
)

/**
 * Options of {@link hereNowAll}: those of {@link hereNow} (`offset` is ignored), and bounds on the
 * walk, so that a channel that never ends — a server claiming a huge occupancy and serving new
 * uuids on every page — cannot page forever or fill memory. `maxPages` (default 1,000) counts
 * requests after the first; `maxOccupants` (default 100,000) counts occupants listed over all
 * channels.
 *
 * @since 0.1.0
 * @category models
 */
export interface HereNowAllOptions extends HereNowOptions {
  readonly maxPages?: number | undefined
  readonly maxOccupants?: number | undefined
}

/**
 * Default bounds of {@link hereNowAll}.
 *
 * @since 0.1.0
 * @category constants
 */
export const HERE_NOW_ALL_LIMITS: { readonly maxPages: number; readonly maxOccupants: number } = {
  maxPages: 1000,
  maxOccupants: 100_000
}

const positiveWhole = (argument: string, value: unknown, fallback: number) =>
  value === undefined
    ? Effect.succeed(fallback)
    : typeof value === "number" && Number.isSafeInteger(value) && value > 0
    ? Effect.succeed(value)
    : Effect.fail(new InvalidArgumentError({ argument, reason: "must be a whole number, more than 0" }))

/**
 * Like {@link hereNow}, but walks every page (`limit` per page, default 1000) and returns every
 * occupant of every channel. `offset` is ignored.
 *
 * The walk ends when every channel is listed, when a page brings nobody new (a server that
 * ignores `offset`), or at `maxPages` / `maxOccupants`. Stopped by a bound, the result says so as
 * a page of `hereNow` would: the channels not listed to the end have `hasMore`, and `nextOffset`
 * is where to go on with `hereNow`.
 *
 * @since 0.1.0
 * @category operations
 */
export const hereNowAll: (
  options?: HereNowAllOptions
) => Effect.Effect<HereNowResult, PresenceError, Requirements> = operation("Presence.hereNowAll")(Effect.fnUntraced(
  function*(options?: HereNowAllOptions) {
    const copy = yield* internal.readOptions(options, [
      "channels",
      "channelGroups",
      "keyset",
      "using",
      "stateInfo",
      "limit",
      "cacheTtl",
      "maxPages",
      "maxOccupants"
    ])
    const maxPages = yield* positiveWhole("maxPages", copy.maxPages, HERE_NOW_ALL_LIMITS.maxPages)
    const maxOccupants = yield* positiveWhole("maxOccupants", copy.maxOccupants, HERE_NOW_ALL_LIMITS.maxOccupants)
    const first = yield* internal.hereNowPlan({ ...copy, offset: 0 })
    const page = first.limit === undefined || first.limit === 0 ? DEFAULT_PAGE : first.limit
    let p: internal.HereNowPlan = { ...first, limit: first.limit === 0 ? 0 : page }
    const totals = yield* sharedHereNowPage(p)
    const counts = new Map<string, number>()
    const lists = new Map<string, Map<string, OccupantInfo>>()
    for (const ch of totals.channels) {
      counts.set(ch.name, ch.occupancy)
      lists.set(ch.name, new Map())
    }
    let raw = totals
    let pages = 0
    let listed = 0
    let unfinished = new Set<string>()
    for (;;) {
      let added = 0
      unfinished = new Set()
      for (const ch of raw.channels) {
        const list = lists.get(ch.name)
        if (list === undefined || ch.uuids === undefined) continue
        for (const o of ch.uuids) {
          const info = occupantInfo(o)
          if (!list.has(info.uuid)) {
            list.set(info.uuid, info)
            added++
          }
        }
        if (p.offset + ch.uuids.length < (counts.get(ch.name) ?? 0)) unfinished.add(ch.name)
      }
      listed += added
      // stop when done, or when a page brings nothing new (a server ignoring offset)
      if (unfinished.size === 0 || added === 0 || p.stateInfo === "none" || p.limit === 0) {
        unfinished = new Set()
        break
      }
      if (pages >= maxPages || listed >= maxOccupants) break
      p = { ...p, offset: p.offset + page }
      pages++
      raw = yield* sharedHereNowPage(p)
    }
    const channels = new Map<string, ChannelOccupancy>()
    for (const [name, count] of counts) {
      channels.set(
        name,
        new ChannelOccupancy({
          channelName: name,
          count,
          uuids: lists.get(name) ?? new Map(),
          hasMore: unfinished.has(name)
        }, true)
      )
    }
    return new HereNowResult({
      totalChannels: totals.totalChannels,
      totalOccupancy: totals.totalOccupancy,
      channels,
      nextOffset: unfinished.size > 0 ? Option.some(p.offset + page) : Option.none()
    }, true)
  }
))

/**
 * Options of {@link whereNow}; `uuid` defaults to the keyset's own user id.
 *
 * @since 0.1.0
 * @category models
 */
export interface WhereNowOptions extends KeysetSelection, Caching {
  readonly uuid?: string | undefined
}

/**
 * The channels a user is present in.
 *
 * @since 0.1.0
 * @category operations
 */
export const whereNow: (
  options?: WhereNowOptions
) => Effect.Effect<WhereNowResult, PresenceError, Requirements> = operation("Presence.whereNow")(Effect.fnUntraced(
  function*(options?: WhereNowOptions) {
    const raw = yield* internal.whereNow(options ?? {})
    return new WhereNowResult(raw, true)
  }
))

/**
 * Options of {@link getState}: at least one channel or group; `uuid` defaults to your own.
 *
 * @since 0.1.0
 * @category models
 */
export interface GetStateOptions extends Targets, KeysetSelection, Caching {
  readonly uuid?: string | undefined
}

/**
 * A user's presence state in channels and groups.
 *
 * @since 0.1.0
 * @category operations
 */
export const getState: (
  options: GetStateOptions
) => Effect.Effect<GetStateResult, PresenceError, Requirements> = operation("Presence.getState")(Effect.fnUntraced(
  function*(options: GetStateOptions) {
    const raw = yield* internal.getState(options ?? {})
    return new GetStateResult(raw, true)
  }
))

/**
 * Options of {@link setState}: at least one channel or group, and the state (which replaces the
 * previous state there).
 *
 * @since 0.1.0
 * @category models
 */
export interface SetStateOptions extends Targets, KeysetSelection {
  readonly state: PresenceState
}

/**
 * Sets your presence state on channels and groups.
 *
 * @example
 * import { Presence } from "effect-pubnub-presence"
 *
 * const typing = Presence.setState({ channels: ["lobby"], state: { typing: true, mood: "busy" } })
 *
 * @since 0.1.0
 * @category operations
 */
export const setState: (
  options: SetStateOptions
) => Effect.Effect<SetStateResult, PresenceError, Requirements> = operation("Presence.setState")(Effect.fnUntraced(
  function*(options: SetStateOptions) {
    const raw = yield* internal.setState(options ?? { state: undefined })
    return new SetStateResult(raw, true)
  }
))

/**
 * Options of {@link announceHeartbeat}: at least one channel or group; `heartbeat` is the presence
 * timeout in seconds (20–320, default 300); `state` maps a channel or group to your state there.
 *
 * @since 0.1.0
 * @category models
 */
export interface HeartbeatOptions extends Targets, KeysetSelection {
  readonly heartbeat?: number | undefined
  readonly state?: Readonly<Record<string, PresenceState>> | ReadonlyMap<string, PresenceState> | undefined
}

/**
 * Announces that you are present (joining if you were not), for `heartbeat` seconds. To stay
 * present, repeat it — or let {@link enter} do it for you.
 *
 * @since 0.1.0
 * @category operations
 */
export const announceHeartbeat: (
  options: HeartbeatOptions
) => Effect.Effect<HeartbeatResult, PresenceError, Requirements> = operation("Presence.announceHeartbeat")(
  (options: HeartbeatOptions) =>
    Effect.map(internal.announceHeartbeat(options ?? {}), (raw) => new HeartbeatResult(raw, true))
)

/**
 * Options of {@link announceLeave}: at least one channel or group.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaveOptions extends Targets, KeysetSelection {}

/**
 * Leaves channels and groups at once (your state there is deleted).
 *
 * @since 0.1.0
 * @category operations
 */
export const announceLeave: (
  options: LeaveOptions
) => Effect.Effect<LeaveResult, PresenceError, Requirements> = operation("Presence.announceLeave")(Effect.fnUntraced(
  function*(options: LeaveOptions) {
    const raw = yield* internal.announceLeave(options ?? {})
    return new LeaveResult({ action: "leave", ...raw }, true)
  }
))

/**
 * Enters presence and keeps it: sends the first heartbeat (so a 403 fails here), then heartbeats
 * from a fiber in your `Scope` and announces leave when the scope closes. See `PresenceSession`.
 *
 * @example
 * import { Effect } from "effect"
 * import { Presence } from "effect-pubnub-presence"
 *
 * const inLobby = Effect.scoped(
 *   Effect.gen(function*() {
 *     const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60 })
 *     yield* session.setState({ mood: "typing" })
 *     yield* Effect.sleep("10 minutes") // present all along
 *   })
 * ) // and gone from "lobby" once the scope closes
 *
 * @since 0.1.0
 * @category operations
 */
export const enter: (
  options: PresenceSession.EnterOptions
) => Effect.Effect<PresenceSession.PresenceSession, PresenceError, Scope.Scope | Requirements> = PresenceSession.enter
