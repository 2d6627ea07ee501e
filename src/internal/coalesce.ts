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
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { Keyset } from "../Keyset.js"
import { InvalidArgumentError } from "../PresenceError.js"
import { PubNubConfig } from "../PubNubConfig.js"
import { secretDigest } from "./digest.js"
import { type Entry, type Flight, type Shared, sharedOf } from "./processState.js"
import { baseUrl } from "./request.js"

const MAX_CACHED = 1000

/**
 * Everything about a keyset that changes an answer or whether it is authorized: subscribe key,
 * user id, publish key (part of every signature), auth, and secret key — the secrets only by
 * digest. Requests, cached answers and heartbeat groups are shared only between equal keys.
 *
 * @internal
 */
export const keysetKey = (shared: Shared, keyset: Keyset): string =>
  `${keyset.subscribeKey}\u0000${keyset.userId}\u0000${keyset.publishKey ?? ""}\u0000${
    secretDigest(shared.digests, keyset.authToken ?? keyset.authKey)
  }\u0000${secretDigest(shared.digests, keyset.secretKey)}`

/** Checks a `cacheTtl` option: milliseconds, 0 when absent. @internal */
export const cacheTtlMillis = (input: unknown): Either.Either<number, InvalidArgumentError> => {
  if (input === undefined) return Either.right(0)
  const d = Duration.decodeUnknown(input)
  if (Option.isNone(d) || !Duration.isFinite(d.value)) {
    return Either.left(new InvalidArgumentError({ argument: "cacheTtl", reason: "must be a finite Duration" }))
  }
  return Either.right(Duration.toMillis(d.value))
}

/**
 * Runs `effect` once for every concurrent caller with the same key: the flight `select` picks in
 * the fiber's `SharedState`, and the key `keyOf` makes (with the origin and `HttpClient` added).
 *
 * @internal
 */
export const coalesce = <A, E, R>(
  select: (shared: Shared) => Flight<A, E>,
  keyOf: (shared: Shared) => string,
  ttlMillis: number,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | HttpClient.HttpClient> =>
  // every read goes through here, so it takes as few steps as it can: one for the services and
  // the fiber id, and the clock only when caching
  Effect.withFiberRuntime((fiber) => {
    const client = Context.unsafeGet(fiber.currentContext, HttpClient.HttpClient)
    const config = Context.unsafeGet(fiber.currentContext, PubNubConfig)
    const shared = sharedOf(fiber.currentContext)
    const flight = select(shared)
    const key = keyOf(shared)
    const fiberId = fiber.id()
    let map = flight.byClient.get(client)
    if (map === undefined) {
      map = new Map()
      flight.byClient.set(client, map)
    }
    const entries = map
    const fullKey = `${baseUrl(config)}\u0000${key}`
    const run = (now: number): Effect.Effect<A, E, R | HttpClient.HttpClient> => {
      const hit = entries.get(fullKey)
      if (hit !== undefined && hit.expiresAt > now) {
        if (hit.cached !== undefined) return hit.cached
        hit.deferred ??= Deferred.unsafeMake<A, E>(fiberId)
        return Effect.catchAllCause(Deferred.await(hit.deferred), (cause) =>
          // the leader was interrupted: try again (and maybe lead)
          Cause.isInterruptedOnly(cause) ? coalesce(select, keyOf, ttlMillis, effect) : Effect.failCause(cause))
      }
      if (hit !== undefined) entries.delete(fullKey)
      if (ttlMillis > 0 && entries.size >= MAX_CACHED) {
        for (const [k, e] of entries) if (e.expiresAt <= now) entries.delete(k)
      }
      const entry: Entry<A, E> = { deferred: undefined, cached: undefined, expiresAt: Number.POSITIVE_INFINITY }
      entries.set(fullKey, entry)
      return Effect.onExit(effect, (exit) => {
        const settle = (done: number) => {
          if (entries.get(fullKey) === entry) {
            if (ttlMillis > 0 && Exit.isSuccess(exit)) {
              entry.expiresAt = done + ttlMillis
              entry.cached = exit
            } else {
              entries.delete(fullKey)
            }
          }
          return entry.deferred === undefined ? Effect.void : Deferred.done(entry.deferred, exit)
        }
        return ttlMillis > 0 ? Effect.flatMap(Clock.currentTimeMillis, settle) : settle(0)
      })
    }
    return ttlMillis > 0 ? Effect.flatMap(Clock.currentTimeMillis, run) : run(0)
  })
