/**
 * Request coalescing: concurrent identical reads (here-now, where-now, get-state — same keyset,
 * options, channels, origin and `HttpClient`) share one request in flight; with a `cacheTtl`, a
 * success is also reused for that long.
 *
 * The first caller leads: it runs the request in its own fiber and publishes the outcome to a
 * `Deferred` that later callers await. If the leader is interrupted, the waiters are not: they
 * retry, and one of them leads.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { Keyset } from "../Keyset.js"
import { InvalidArgumentError } from "../PresenceError.js"
import { PubNubConfig } from "../PubNubConfig.js"

interface Entry {
  readonly deferred: Deferred.Deferred<unknown, unknown>
  /** until when a finished success may be reused; `Infinity` while in flight */
  expiresAt: number
}

/** In-flight (and briefly cached) reads, per `HttpClient`. @internal */
export class InFlight extends Context.Reference<InFlight>()("effect-pubnub-presence/internal/InFlight", {
  defaultValue: (): WeakMap<HttpClient.HttpClient, Map<string, Entry>> => new WeakMap()
}) {}

const MAX_CACHED = 1000

/** What identifies a keyset on the wire (the secret key only by presence: it changes signatures, not answers). */
export const keysetKey = (keyset: Keyset): string => {
  const auth = keyset.authToken ?? keyset.authKey
  return `${keyset.subscribeKey}\u0000${keyset.userId}\u0000${auth === undefined ? "" : Redacted.value(auth)}`
}

/** Checks a `cacheTtl` option: milliseconds, 0 when absent. @internal */
export const cacheTtlMillis = (input: unknown): Effect.Effect<number, InvalidArgumentError> => {
  if (input === undefined) return Effect.succeed(0)
  const d = Duration.decodeUnknown(input)
  if (Option.isNone(d) || !Duration.isFinite(d.value)) {
    return Effect.fail(new InvalidArgumentError({ argument: "cacheTtl", reason: "must be a finite Duration" }))
  }
  return Effect.succeed(Duration.toMillis(d.value))
}

/**
 * Runs `effect` once for every concurrent caller with the same `key`.
 *
 * @internal
 */
export const coalesce = <A, E, R>(
  key: string,
  ttlMillis: number,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const config = yield* PubNubConfig
    const byClient = yield* InFlight
    let entries = byClient.get(client)
    if (entries === undefined) {
      entries = new Map()
      byClient.set(client, entries)
    }
    const map = entries
    const fullKey = `${config.secure ? "https" : "http"}://${config.origin}\u0000${key}`
    const now = yield* Clock.currentTimeMillis
    const hit = map.get(fullKey)
    if (hit !== undefined && hit.expiresAt > now) {
      // the Deferred holds exactly what `effect` produced for this key
      const shared = Deferred.await(hit.deferred as Deferred.Deferred<A, E>)
      return yield* Effect.catchAllCause(shared, (cause) =>
        // the leader was interrupted: try again (and maybe lead)
        Cause.isInterruptedOnly(cause) ? coalesce(key, ttlMillis, effect) : Effect.failCause(cause))
    }
    if (hit !== undefined) map.delete(fullKey)
    const entry: Entry = { deferred: yield* Deferred.make<unknown, unknown>(), expiresAt: Number.POSITIVE_INFINITY }
    if (ttlMillis > 0 && map.size >= MAX_CACHED) {
      for (const [k, e] of map) if (e.expiresAt <= now) map.delete(k)
    }
    map.set(fullKey, entry)
    return yield* Effect.onExit(effect, (exit) =>
      Effect.flatMap(Clock.currentTimeMillis, (done) => {
        if (map.get(fullKey) === entry) {
          if (ttlMillis > 0 && Exit.isSuccess(exit)) entry.expiresAt = done + ttlMillis
          else map.delete(fullKey)
        }
        return Deferred.done(entry.deferred, exit)
      }))
  })
