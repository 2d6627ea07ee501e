/**
 * The one owner of what the SDK keeps between calls (see `SharedState`). Everything that used to
 * sit in module-level maps is a field here, so that a fresh state shares nothing with another.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type { PresenceError } from "../PresenceError.js"
import type { HereNowResult } from "../PresenceResult.js"
import type { SharedState } from "../SharedState.js"
import type { Watchdog } from "./deadline.js"
import type { Hub } from "./events/hub.js"
import type { Scheduler } from "./heartbeat/scheduler.js"
import type { RawHereNow } from "./hereNow.js"
import type { StatePart } from "./state.js"
import type * as Wire from "./wire.js"

/** One call in flight or cached. @internal */
export interface Entry<A, E> {
  /**
   * Made when the first follower joins. A lone call (the usual case) stores its answer nowhere
   * else: a long-lived holder of a large answer keeps it past young-generation GCs.
   */
  deferred: Deferred.Deferred<A, E> | undefined
  /** with a `cacheTtl`: the success, reused until `expiresAt` */
  cached: Exit.Exit<A, E> | undefined
  /** until when a finished success may be reused; `Infinity` while in flight */
  expiresAt: number
}

/**
 * In-flight (and briefly cached) calls of one operation, per `HttpClient`. Each operation has its
 * own, typed by what it produces, in `SharedState`.
 *
 * @internal
 */
export interface Flight<A, E> {
  readonly byClient: WeakMap<HttpClient.HttpClient, Map<string, Entry<A, E>>>
}

/** @internal */
export const makeFlight = <A, E>(): Flight<A, E> => ({ byClient: new WeakMap() })

/** @internal */
export class Shared implements SharedState {
  readonly _tag = "effect-pubnub-presence/SharedState"
  /** here-now results shared by identical calls (in flight, or cached with `cacheTtl`) */
  readonly hereNow: Flight<HereNowResult, PresenceError> = makeFlight()
  /** hereNowAll's pages */
  readonly hereNowPage: Flight<RawHereNow, PresenceError> = makeFlight()
  readonly whereNow: Flight<Wire.WhereNow, PresenceError> = makeFlight()
  readonly getState: Flight<ReadonlyArray<StatePart>, PresenceError> = makeFlight()
  /** one request-deadline watchdog per `Clock` */
  readonly watchdogs = new WeakMap<Clock.Clock, Watchdog>()
  /** the managed heartbeat: one scheduler per `HttpClient` */
  readonly sessions = new WeakMap<HttpClient.HttpClient, Scheduler>()
  /** presence events: one shared long-poll per keyset and origin, per `HttpClient` */
  readonly subscriptions = new WeakMap<HttpClient.HttpClient, Map<string, Hub>>()
  /** each `HttpClient` with its own span switched off */
  readonly untraced = new WeakMap<HttpClient.HttpClient, HttpClient.HttpClient>()
  /** imported HMAC keys, per secret */
  readonly signingKeys = new WeakMap<Redacted.Redacted<string>, Promise<CryptoKey>>()
  /** digests of secrets, for the keys of shared state */
  readonly digests = new WeakMap<Redacted.Redacted<string>, string>()
  /** the default retry schedule, per interval (a schedule is an immutable description) */
  readonly retries = new Map<number, Schedule.Schedule<unknown, PresenceError>>()
}

/** @internal */
export const make = (): Shared => new Shared()

/** @internal */
export const SharedStateRef = Context.Reference<SharedState>()("effect-pubnub-presence/SharedState", {
  defaultValue: (): SharedState => make()
})

/**
 * The state in a context. A `SharedState` not made by `make` (a stand-in from a test, say) holds
 * nothing the SDK can use: the process's default (the reference's own) stands in for it.
 *
 * @internal
 */
export const sharedOf = (context: Context.Context<never>): Shared => {
  const s = Context.get(context, SharedStateRef)
  if (s instanceof Shared) return s
  const d = Context.get(Context.empty(), SharedStateRef)
  return d instanceof Shared ? d : make()
}

/** The state of the running fiber. @internal */
export const currentShared: Effect.Effect<Shared> = Effect.contextWith(sharedOf)
