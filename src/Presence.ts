/**
 * One-shot presence operations: who is here, where is a user, presence state, heartbeat, leave.
 *
 * Every operation is an `Effect` that needs `KeysetService` and an `HttpClient`, fails with a
 * typed `PresenceError`, and takes `keyset` (an override) or `using` (a registered name).
 * Channel and group lists accept any `Iterable<string>`; lists too long for one request are split.
 *
 * This module declares the operations and their options; the models and result classes are in
 * `PresenceResult` (re-exported here), the implementations in `internal/`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Subscribable from "effect/Subscribable"
import * as announce from "./internal/announce.js"
import * as eventsInternal from "./internal/events/stream.js"
import * as hereNowInternal from "./internal/hereNow.js"
import * as rosterInternal from "./internal/roster/roster.js"
import * as state from "./internal/state.js"
import * as typedInternal from "./internal/typed.js"
import * as whereNowInternal from "./internal/whereNow.js"
import type { KeysetSelection, KeysetService } from "./Keyset.js"
import type { PresenceError } from "./PresenceError.js"
import type { PresenceEvent, TypedPresenceEvent } from "./PresenceEvent.js"
import type {
  GetStateResult,
  HeartbeatResult,
  HereNowResult,
  LeaveResult,
  PresenceState,
  SetStateResult,
  StateInfo,
  TypedGetStateResult,
  TypedHereNowResult,
  TypedState,
  WhereNowResult
} from "./PresenceResult.js"
import * as PresenceSession from "./PresenceSession.js"

export {
  /**
   * @since 0.1.0
   * @category models
   */
  ChannelOccupancy,
  /**
   * @since 0.1.0
   * @category models
   */
  GetStateResult,
  /**
   * @since 0.1.0
   * @category models
   */
  HeartbeatResult,
  /**
   * @since 0.1.0
   * @category models
   */
  HereNowResult,
  /**
   * @since 0.1.0
   * @category models
   */
  LeaveResult,
  /**
   * @since 0.1.0
   * @category models
   */
  OccupantInfo,
  /**
   * @since 0.1.0
   * @category models
   */
  type PresenceState,
  /**
   * @since 0.1.0
   * @category models
   */
  SetStateResult,
  /**
   * @since 0.1.0
   * @category models
   */
  StateInfo,
  /**
   * @since 0.1.0
   * @category models
   */
  type StateObject,
  /**
   * @since 0.1.0
   * @category models
   */
  WhereNowResult
} from "./PresenceResult.js"

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
 * What every operation needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = KeysetService | HttpClient.HttpClient

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
) => Effect.Effect<HereNowResult, PresenceError, Requirements> = hereNowInternal.hereNow

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
export const HERE_NOW_ALL_LIMITS: { readonly maxPages: number; readonly maxOccupants: number } =
  hereNowInternal.HERE_NOW_ALL_LIMITS

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
) => Effect.Effect<HereNowResult, PresenceError, Requirements> = hereNowInternal.hereNowAll

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
) => Effect.Effect<WhereNowResult, PresenceError, Requirements> = whereNowInternal.whereNow

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
) => Effect.Effect<GetStateResult, PresenceError, Requirements> = state.getState

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
) => Effect.Effect<SetStateResult, PresenceError, Requirements> = state.setState

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
) => Effect.Effect<HeartbeatResult, PresenceError, Requirements> = announce.announceHeartbeat

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
) => Effect.Effect<LeaveResult, PresenceError, Requirements> = announce.announceLeave

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

/**
 * Options of {@link events}: at least one channel or group; `timetoken` resumes after that
 * event's timetoken instead of starting from now; `retry` spaces reconnects after retryable
 * failures (default: jittered exponential from 1 second, at most 30 seconds apart, for ever — a
 * schedule that ends makes the stream fail with the last error).
 *
 * @since 0.1.0
 * @category models
 */
export interface EventsOptions extends Targets, KeysetSelection {
  readonly timetoken?: string | undefined
  readonly retry?: Schedule.Schedule<unknown, PresenceError> | undefined
}

/**
 * Presence events as they happen — joins, leaves, timeouts, state changes and interval reports —
 * for channels and channel groups (as `<name>-pnpres`: watching does not make you present).
 *
 * Streams of one keyset, origin and `HttpClient` share one long-poll. Each poll resumes from the
 * last timetoken, so a reconnect loses nothing; an event the service delivers twice is delivered
 * once. A 400, 402 or 403 ends the stream with the error; ending or interrupting the stream
 * aborts its poll.
 *
 * @example
 * import { Effect, Stream } from "effect"
 * import { Presence, PresenceEvent } from "effect-pubnub-presence"
 *
 * const watch = Presence.events({ channels: ["lobby"] }).pipe(
 *   Stream.runForEach((e) =>
 *     PresenceEvent.$match(e, {
 *       Join: (j) => Effect.log(`${j.uuid} joined`),
 *       Leave: (l) => Effect.log(`${l.uuid} left`),
 *       Timeout: (t) => Effect.log(`${t.uuid} timed out`),
 *       StateChange: (s) => Effect.log(`${s.uuid} is now`, s.state),
 *       Interval: (i) => Effect.log(`${i.occupancy} in ${i.channel}`)
 *     })
 *   )
 * )
 *
 * @since 0.1.0
 * @category operations
 */
export const events: (
  options: EventsOptions
) => Stream.Stream<PresenceEvent, PresenceError, Requirements> = eventsInternal.events

/**
 * {@link events}, already subscribed: every event after this returns is in the stream, however
 * late the stream is run. The subscription ends with the scope.
 *
 * @example
 * import { Effect, Stream } from "effect"
 * import { Presence } from "effect-pubnub-presence"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const events = yield* Presence.subscribeEvents({ channels: ["lobby"] })
 *   yield* Presence.announceHeartbeat({ channels: ["lobby"] }) // its join is in `events`
 *   yield* events.pipe(Stream.take(1), Stream.runForEach((e) => Effect.log(e._tag)))
 * }))
 *
 * @since 0.1.0
 * @category operations
 */
export const subscribeEvents: (
  options: EventsOptions
) => Effect.Effect<Stream.Stream<PresenceEvent, PresenceError>, PresenceError, Scope.Scope | Requirements> =
  eventsInternal.subscribeEvents

/**
 * Options of {@link roster}: at least one channel or group, and `stateInfo` as for here-now.
 * `reconcile` is how often the roster takes a fresh here-now although nothing suggested it missed
 * anything (default 5 minutes, at least 1 second; `Duration.infinity` turns it off) — it catches
 * what no event reports, such as a channel added to a group. `retry` spaces reconnects and
 * snapshot retries after retryable failures (the default of {@link events}).
 *
 * @since 0.1.0
 * @category models
 */
export interface RosterOptions extends Targets, KeysetSelection {
  readonly stateInfo?: StateInfo | undefined
  readonly reconcile?: Duration.DurationInput | undefined
  readonly retry?: Schedule.Schedule<unknown, PresenceError> | undefined
}

/**
 * Who is here now, kept current: `get` is the current view, `changes` streams every new view (the
 * current one first). A view is the `HereNowResult` here-now would answer. A reader that falls
 * behind gets the newest view, not every one in between. Once the roster stops — its scope closed,
 * or a failure retrying cannot fix (a 403) — `changes` ends (with that failure) and `get` fails
 * with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Roster extends Subscribable.Subscribable<HereNowResult, PresenceError> {}

/**
 * A live roster: one here-now snapshot (every page), then the presence events since, applied as
 * they come. It subscribes before it snapshots, so nothing falls between the two; a reconnect, a
 * full answer, `here_now_refresh`, an interval report without deltas (or, with `stateInfo: "all"`,
 * with joins) and counts that stop matching the occupants listed all make it take a fresh
 * snapshot. Counts always come from the service. It emits only when the view changed — at most
 * once per poll answer or snapshot — and shares the long-poll of {@link events}. It lives until its scope
 * closes.
 *
 * @example
 * import { Effect, Stream } from "effect"
 * import { Presence } from "effect-pubnub-presence"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const lobby = yield* Presence.roster({ channels: ["lobby"] })
 *   yield* lobby.changes.pipe(
 *     Stream.take(2),
 *     Stream.runForEach((view) => Effect.log(`${view.totalOccupancy} here`))
 *   )
 * }))
 *
 * @since 0.1.0
 * @category operations
 */
export const roster: (
  options: RosterOptions
) => Effect.Effect<Roster, PresenceError, Scope.Scope | Requirements> = rosterInternal.roster

/**
 * Options of a typed `setState`: the state is the schema's type.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedSetStateOptions<A> extends Targets, KeysetSelection {
  readonly state: A
}

/**
 * Options of a typed `announceHeartbeat`: state per channel or group, of the schema's type.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedHeartbeatOptions<A> extends Targets, KeysetSelection {
  readonly heartbeat?: number | undefined
  readonly state?: Readonly<Record<string, A>> | ReadonlyMap<string, A> | undefined
}

/**
 * A {@link Roster} whose occupants' state is typed by the app's schema.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedRoster<A> extends Subscribable.Subscribable<TypedHereNowResult<A>, PresenceError> {}

/**
 * The presence operations for one state type: what {@link typed} returns. Same options and
 * requirements as the untyped operations; state going out is the schema's type, state coming in
 * is decoded with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedPresence<A> {
  readonly hereNow: (options?: HereNowOptions) => Effect.Effect<TypedHereNowResult<A>, PresenceError, Requirements>
  readonly hereNowAll: (
    options?: HereNowAllOptions
  ) => Effect.Effect<TypedHereNowResult<A>, PresenceError, Requirements>
  readonly getState: (options: GetStateOptions) => Effect.Effect<TypedGetStateResult<A>, PresenceError, Requirements>
  /** Sets your state; succeeds with the state the service stored, decoded. */
  readonly setState: (options: TypedSetStateOptions<A>) => Effect.Effect<TypedState<A>, PresenceError, Requirements>
  readonly announceHeartbeat: (
    options: TypedHeartbeatOptions<A>
  ) => Effect.Effect<HeartbeatResult, PresenceError, Requirements>
  readonly enter: (
    options: PresenceSession.TypedEnterOptions<A>
  ) => Effect.Effect<PresenceSession.TypedPresenceSession<A>, PresenceError, Scope.Scope | Requirements>
  readonly events: (options: EventsOptions) => Stream.Stream<TypedPresenceEvent<A>, PresenceError, Requirements>
  readonly subscribeEvents: (
    options: EventsOptions
  ) => Effect.Effect<Stream.Stream<TypedPresenceEvent<A>, PresenceError>, PresenceError, Scope.Scope | Requirements>
  readonly roster: (options: RosterOptions) => Effect.Effect<TypedRoster<A>, PresenceError, Scope.Scope | Requirements>
}

/**
 * Presence with state typed by your own `Schema`: describe the state once, and every operation
 * takes and gives that type.
 *
 * Going out, state is encoded with the schema (a `Date` travels as its encoded form) and must
 * encode to a flat JSON object (PubNub's rule); a value that does not is an
 * `InvalidArgumentError` carrying the `parseError`, and nothing is sent. Coming in, state is
 * decoded with the schema; an occupant (or an event, or a channel of get-state) whose state does not
 * decode does not fail the call: its `state` is `None` and its `stateError` says why.
 *
 * @example
 * import { Effect, Option, Schema } from "effect"
 * import { Presence } from "effect-pubnub-presence"
 *
 * const ChatState = Schema.Struct({
 *   typing: Schema.Boolean,
 *   mood: Schema.Literal("happy", "busy", "away"),
 *   since: Schema.optional(Schema.DateFromString)
 * })
 * const Chat = Presence.typed(ChatState)
 *
 * const program = Effect.gen(function*() {
 *   yield* Chat.setState({ channels: ["lobby"], state: { typing: true, mood: "busy" } })
 *   const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
 *   for (const occupant of here.channels.get("lobby")?.uuids.values() ?? []) {
 *     const mood = Option.map(occupant.state, (s) => s.mood) // Option<"happy" | "busy" | "away">
 *     yield* Effect.log(occupant.uuid, Option.getOrElse(mood, () => "unknown"))
 *   }
 * })
 *
 * @since 0.1.0
 * @category constructors
 */
export const typed: <A, I>(schema: Schema.Schema<A, I>) => TypedPresence<A> = typedInternal.typed
