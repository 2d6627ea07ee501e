/**
 * The managed heartbeat: `Presence.enter` keeps you present in channels from a fiber that lives
 * in your `Scope`, retries within the presence timeout, and announces leave when the scope
 * closes — normally, on failure, or on interruption.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as metrics from "./internal/heartbeat/metrics.js"
import * as internal from "./internal/session.js"
import type { KeysetSelection, KeysetService } from "./Keyset.js"
import type { Targets } from "./Presence.js"
import type { PresenceError } from "./PresenceError.js"
import type { PresenceState } from "./PresenceResult.js"
import * as SharedState from "./SharedState.js"

/**
 * Where a session stands. Times are epoch milliseconds of the `Clock`.
 *
 * - `Present` — the last heartbeat succeeded; presence lapses at `expiresAt` unless renewed.
 * - `AtRisk` — heartbeats are failing (retryably) and being retried; still present until `expiresAt`.
 * - `Expired` — the service has (by our clock) timed us out; heartbeats go on at the normal
 *   interval and the next success makes us `Present` again.
 * - `Stopped` — no more heartbeats: a failure that retrying cannot fix (400, 402, 403, …) in
 *   `error`, or the session was closed (`error` is `None`).
 *
 * @since 0.1.0
 * @category models
 */
export type SessionStatus = Data.TaggedEnum<{
  Present: { readonly expiresAt: number }
  AtRisk: { readonly failures: number; readonly lastError: PresenceError; readonly expiresAt: number }
  Expired: { readonly failures: number; readonly lastError: PresenceError; readonly since: number }
  Stopped: { readonly error: Option.Option<PresenceError> }
}>

/**
 * Constructors and matchers for `SessionStatus`: `SessionStatus.$match(status, { Present, … })`.
 *
 * @since 0.1.0
 * @category models
 */
export const SessionStatus = Data.taggedEnum<SessionStatus>()

/**
 * The handle `Presence.enter` returns. It is only valid inside the scope it was entered in.
 *
 * @since 0.1.0
 * @category models
 */
export interface PresenceSession {
  /** The user id this session keeps present. */
  readonly userId: string
  /** The current status. */
  readonly status: Effect.Effect<SessionStatus>
  /** The current status, then every change. */
  readonly statusChanges: Stream.Stream<SessionStatus>
  /** The channels and groups this session holds. */
  readonly channels: Effect.Effect<
    { readonly channels: ReadonlyArray<string>; readonly channelGroups: ReadonlyArray<string> }
  >
  /** Holds more channels or groups: heartbeats for them at once, then with the rest. */
  readonly add: (targets: AddOptions) => Effect.Effect<void, PresenceError>
  /** Lets go of channels or groups: announces leave for those no other session of this user holds. */
  readonly remove: (targets: Targets) => Effect.Effect<void, PresenceError>
  /**
   * Sets your state on the session's channels (or on `targets`, which it must hold): sent at once
   * with set-state, and with every heartbeat after.
   */
  readonly setState: (state: PresenceState, targets?: Targets) => Effect.Effect<void, PresenceError>
}

/**
 * A session from `Presence.typed(schema).enter`: its state is the schema's type, encoded before it
 * is sent (a value that does not encode is an `InvalidArgumentError`, and nothing is sent).
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedPresenceSession<A> extends Omit<PresenceSession, "add" | "setState"> {
  readonly add: (targets: TypedAddOptions<A>) => Effect.Effect<void, PresenceError>
  readonly setState: (state: A, targets?: Targets) => Effect.Effect<void, PresenceError>
}

/**
 * What a typed session's `add` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedAddOptions<A> extends Targets {
  readonly state?: Readonly<Record<string, A>> | ReadonlyMap<string, A> | undefined
}

/**
 * Options of `Presence.typed(schema).enter`: {@link EnterOptions} with typed state.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedEnterOptions<A> extends Omit<EnterOptions, "state"> {
  readonly state?: Readonly<Record<string, A>> | ReadonlyMap<string, A> | undefined
}

/**
 * What `add` takes: channels and groups, and optionally the state to send with them.
 *
 * @since 0.1.0
 * @category models
 */
export interface AddOptions extends Targets {
  readonly state?: Readonly<Record<string, PresenceState>> | ReadonlyMap<string, PresenceState> | undefined
}

/**
 * Options of `Presence.enter`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnterOptions extends Targets, KeysetSelection {
  /** Presence timeout in seconds: whole, 20–320, default 300. */
  readonly heartbeat?: number | undefined
  /** Seconds between heartbeats: at least 1, less than `heartbeat`; default `heartbeat / 2 - 1`. */
  readonly interval?: number | undefined
  /** Your state per channel or group, sent with every heartbeat. */
  readonly state?: Readonly<Record<string, PresenceState>> | ReadonlyMap<string, PresenceState> | undefined
  /**
   * How to space retries of a failed heartbeat (fed the error). Default: jittered exponential from
   * 1 second, never longer than the interval. Retries stop when presence would expire anyway, and
   * a 429's `Retry-After` is always honoured.
   */
  readonly retry?: Schedule.Schedule<unknown, PresenceError> | undefined
  /** Announce leave when the scope closes (default true). */
  readonly announceLeave?: boolean | undefined
  /** How long that leave may take before it is given up (default 5 seconds; failures are logged). */
  readonly leaveTimeout?: Duration.DurationInput | undefined
}

/**
 * Sessions of the same user (same origin, keyset identity and `HttpClient`) share one heartbeat
 * and their channels' membership. They find each other in the process's `SharedState` — this is
 * that reference, under the name it had before `SharedState` owned everything the SDK keeps:
 * provide a fresh one (`makeRegistry()`) to isolate a part of an app.
 *
 * @since 0.1.0
 * @category references
 */
export const SessionRegistry: Context.Reference<SharedState.SharedState, SharedState.SharedState> =
  SharedState.SharedState

/**
 * A fresh, empty registry (for `Effect.provideService(SessionRegistry, makeRegistry())`): a fresh
 * `SharedState`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRegistry: () => SharedState.SharedState = SharedState.make

/**
 * Heartbeats the service accepted (one per request, shared sessions included).
 *
 * @since 0.1.0
 * @category metrics
 */
export const heartbeatSuccesses: Metric.Metric.Counter<number> = metrics.heartbeatSuccesses

/**
 * Heartbeats that failed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const heartbeatFailures: Metric.Metric.Counter<number> = metrics.heartbeatFailures

/**
 * Retries of failed heartbeats.
 *
 * @since 0.1.0
 * @category metrics
 */
export const heartbeatRetries: Metric.Metric.Counter<number> = metrics.heartbeatRetries

/**
 * Leaves announced by sessions (on close or `remove`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const leaves: Metric.Metric.Counter<number> = metrics.leaves

/**
 * Enters presence: validates, sends the first heartbeat (so a 403 fails `enter` itself), then
 * heartbeats from a fiber in the caller's `Scope` every `interval` seconds until the scope
 * closes, when it announces leave. See the module docs.
 *
 * @example
 * import { Effect, Stream } from "effect"
 * import { Presence } from "effect-pubnub-presence"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const session = yield* Presence.enter({ channels: ["lobby"], heartbeat: 60, state: { lobby: { mood: "here" } } })
 *     yield* session.setState({ mood: "typing" })
 *     yield* session.statusChanges.pipe(Stream.take(3), Stream.runForEach((s) => Effect.log(s._tag)))
 *   })
 * ) // leaves "lobby" here
 *
 * @since 0.1.0
 * @category constructors
 */
export const enter: (
  options: EnterOptions
) => Effect.Effect<PresenceSession, PresenceError, Scope.Scope | KeysetService | HttpClient.HttpClient> = internal.enter
