/**
 * The request pipeline: URL building, common query, signing, sending with a timeout, and turning
 * every outcome into a decoded value or a `PresenceError`.
 *
 * @internal
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Keyset } from "../Keyset.js"
import type { KeysetNotFoundError, PresenceError } from "../PresenceError.js"
import {
  AccessDeniedError,
  BadRequestError,
  InvalidArgumentError,
  MalformedResponseError,
  PresenceNotEnabledError,
  RateLimitedError,
  RequestTimeoutError,
  ResponseTooLargeError,
  ServerError,
  TransportError,
  UnexpectedStatusError,
  UriTooLongError
} from "../PresenceError.js"
import { PubNubConfig, type Settings } from "../PubNubConfig.js"
import { readText, TooLarge } from "./body.js"
import { withDeadline } from "./deadline.js"
import { encode, encodeQuery, parseJson } from "./encoding.js"
import { decodeUnknownEither, describeIssue } from "./issue.js"
import { type Shared, sharedOf } from "./processState.js"
import { ErrorBody } from "./wire.js"

/** Errors the pipeline itself can produce: every `PresenceError` but a missing keyset. @internal */
export type RequestFailure = Exclude<PresenceError, KeysetNotFoundError>

/**
 * The most a request target (path + `?` + query) may be. PubNub answers 414 past about 32 KiB; we
 * keep a margin below that.
 *
 * @internal
 */
export const MAX_TARGET_LENGTH = 32_000

/** Room kept for `timestamp` and `signature`, which are added after a call is planned. @internal */
export const SIGNING_RESERVE = 80

/**
 * One request to make: the path after the API's prefix (`/v2/presence/sub-key/{sub}` unless the
 * call names another), the operation's own query, and how long it may take when that is not
 * `PubNubConfig.requestTimeout` (a long-poll).
 *
 * @internal
 */
export interface Call {
  readonly path: string
  readonly query: ReadonlyArray<readonly [string, string]>
  readonly prefix?: string | undefined
  readonly timeout?: Duration.Duration | undefined
}

/** The path prefix for a subscribe key. @internal */
export const presencePrefix = (subscribeKey: string): string => `/v2/presence/sub-key/${encode(subscribeKey)}`

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const hex8 = (n: number) => HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255]

/**
 * A random v4 UUID from a `Random` service (so tests can seed it): four 32-bit draws, with the
 * version (4) and variant (10) bits set.
 *
 * @internal
 */
export const randomUuid = (random: Random.Random): Effect.Effect<string> => {
  const word = random.nextIntBetween(0, 0x1_0000_0000)
  return Effect.flatMap(word, (a) =>
    Effect.flatMap(word, (b) =>
      Effect.flatMap(word, (c) =>
        Effect.map(word, (d) => {
          const x = hex8(a) + hex8((b & 0xffff0fff) | 0x4000) + hex8((c & 0x3fffffff) | 0x80000000) + hex8(d)
          return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
        }))))
}

/**
 * `http(s)://origin` for the configured service: where requests go, and part of what keys shared
 * state (coalescing, heartbeat groups) so that two services never mix.
 *
 * @internal
 */
export const baseUrl = (config: Settings): string => `${config.secure ? "https" : "http"}://${config.origin}`

/**
 * The query parameters every request carries, in the order they are sent: the operation's own,
 * then `uuid`, `pnsdk`, `requestid`, `auth`.
 *
 * @internal
 */
export const commonQuery = (
  keyset: Keyset,
  pnsdk: string,
  requestId: string
): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = [["uuid", keyset.userId], ["pnsdk", pnsdk], ["requestid", requestId]]
  const auth = keyset.authToken ?? keyset.authKey
  if (auth !== undefined) out.push(["auth", Redacted.value(auth)])
  return out
}

/** The v2 string to sign for a GET. @internal */
export const stringToSign = (
  publishKey: string,
  path: string,
  query: ReadonlyArray<readonly [string, string]>
): string => {
  const sorted = query.filter(([k]) => k !== "signature").sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `GET\n${publishKey}\n${path}\n${encodeQuery(sorted)}\n`
}

const importKey = (
  keys: WeakMap<Redacted.Redacted<string>, Promise<CryptoKey>>,
  secret: Redacted.Redacted<string>
): Promise<CryptoKey> => {
  let key = keys.get(secret)
  if (key === undefined) {
    key = globalThis.crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(Redacted.value(secret)),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"]
    )
    keys.set(secret, key)
  }
  return key
}

/**
 * `v2.` + base64url(HMAC-SHA256(secret, input)) without padding, via Web Crypto; the imported key
 * is kept in `keys`.
 *
 * @internal
 */
export const sign = (
  keys: WeakMap<Redacted.Redacted<string>, Promise<CryptoKey>>,
  secret: Redacted.Redacted<string>,
  input: string
): Effect.Effect<string, InvalidArgumentError> =>
  Effect.tryPromise({
    try: async () => {
      const key = await importKey(keys, secret)
      const mac = await globalThis.crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input))
      return "v2." + Encoding.encodeBase64Url(new Uint8Array(mac))
    },
    catch: () => new InvalidArgumentError({ argument: "secretKey", reason: "could not be used to sign the request" })
  })

/** A prepared request: what to send, and what may be shown. @internal */
export interface Prepared {
  readonly url: string
  /** The URL with `auth` and `signature` removed: safe for spans, logs and errors. */
  readonly safeUrl: string
  /** path + `?` + query, whose length the service limits. */
  readonly target: string
  /** Replaces any secret that appears in text (a body excerpt, a transport message). */
  readonly scrub: (text: string) => string
  readonly hasSecrets: boolean
}

/**
 * Builds the full request for a call from the query as sent (common parameters and, when
 * signing, `timestamp` and `signature` included).
 */
const build = (
  config: Settings,
  path: string,
  query: ReadonlyArray<readonly [string, string]>,
  secrets: ReadonlyArray<string>
): Prepared => {
  const full = encodeQuery(query)
  const safe = encodeQuery(query.filter(([key]) => key !== "auth" && key !== "signature"))
  const target = full.length === 0 ? path : `${path}?${full}`
  const base = baseUrl(config)
  return {
    url: base + target,
    safeUrl: safe.length === 0 ? base + path : `${base}${path}?${safe}`,
    target,
    scrub: makeScrubber(secrets),
    hasSecrets: secrets.length > 0
  }
}

/**
 * Builds the full request for a call: common query, signing (the one asynchronous step, and only
 * with a secret key), URL.
 */
const prepare = (
  shared: Shared,
  config: Settings,
  clock: Clock.Clock,
  requestId: string,
  keyset: Keyset,
  call: Call
): Effect.Effect<Prepared, InvalidArgumentError> | Prepared => {
  const path = (call.prefix ?? presencePrefix(keyset.subscribeKey)) + call.path
  const query: Array<readonly [string, string]> = [...call.query, ...commonQuery(keyset, config.pnsdk, requestId)]
  const auth = keyset.authToken ?? keyset.authKey
  const secrets: Array<string> = auth === undefined ? [] : [Redacted.value(auth)]
  const secretKey = keyset.secretKey
  if (secretKey === undefined) return build(config, path, query, secrets)
  query.push(["timestamp", String(Math.floor(clock.unsafeCurrentTimeMillis() / 1000))])
  return Effect.map(
    sign(shared.signingKeys, secretKey, stringToSign(keyset.publishKey ?? "", path, query)),
    (signature) => {
      query.push(["signature", signature])
      secrets.push(signature, Redacted.value(secretKey))
      return build(config, path, query, secrets)
    }
  )
}

const makeScrubber = (secrets: ReadonlyArray<string>): (text: string) => string => {
  const needles = secrets.flatMap((s) => (s.length === 0 ? [] : s === encode(s) ? [s] : [s, encode(s)]))
  if (needles.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const needle of needles) out = out.split(needle).join("<redacted>")
    return out
  }
}

const EXCERPT_LENGTH = 200

/** The first characters of a body, whitespace folded, for error messages. @internal */
export const excerptOf = (body: string): string => {
  // fold only the start: a body may be megabytes long
  const folded = body.slice(0, 4 * EXCERPT_LENGTH).replace(/\s+/g, " ").trim()
  return folded.length > EXCERPT_LENGTH || body.length > 4 * EXCERPT_LENGTH
    ? folded.slice(0, EXCERPT_LENGTH) + "…"
    : folded
}

const htmlTitle = (body: string): string | undefined => {
  const m = /<title[^>]{0,200}>([^<]{0,200})<\/title>/i.exec(body.slice(0, 4096))
  return m === null ? undefined : m[1].trim()
}

/** The raw outcome of one HTTP exchange. @internal */
export interface RawResponse {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly location: string | undefined
  readonly body: string
}

const decodeErrorBodyEither = decodeUnknownEither(ErrorBody)
const decodeErrorBody = (u: unknown) => Either.getRight(decodeErrorBodyEither(u))

/**
 * A body that says it is an error although the HTTP status is 2xx ("false 200"): an error status
 * of its own, or `"error": true` / `1`.
 */
const looksLikeError = (json: unknown): boolean => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return false
  const body: { readonly status?: unknown; readonly error?: unknown } = json
  return (typeof body.status === "number" && body.status >= 400) || body.error === true || body.error === 1
}

/**
 * Parses `Retry-After` (seconds, or an HTTP date relative to `nowMillis`).
 *
 * @internal
 */
export const parseRetryAfter = (header: string | undefined, nowMillis: number): Option.Option<Duration.Duration> => {
  if (header === undefined) return Option.none()
  const trimmed = header.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - nowMillis)))
}

/**
 * Turns an HTTP answer into JSON to decode, or the matching error. The body's `status` wins over
 * the HTTP status ("false 200"); non-JSON bodies on error statuses (proxy HTML pages) still map by
 * HTTP status.
 *
 * @internal
 */
export const classify = (
  prepared: Prepared,
  raw: RawResponse,
  clock: Clock.Clock
): Either.Either<unknown, RequestFailure> => {
  const url = prepared.safeUrl
  const json = parseJson(raw.body)
  if (raw.status >= 200 && raw.status < 300 && Option.isSome(json) && !looksLikeError(json.value)) {
    return Either.right(json.value)
  }
  const errorBody = Option.flatMap(json, decodeErrorBody)
  const bodyStatus = Option.flatMap(errorBody, (b) => Option.fromNullable(b.status))
  const status = Option.isSome(bodyStatus) && bodyStatus.value >= 400 ? bodyStatus.value : raw.status
  if (status >= 200 && status < 300) {
    if (Option.isSome(json) && looksLikeError(json.value)) {
      // `"error": true` with no error status: a failure the protocol gives no meaning to
      const message = Option.getOrUndefined(Option.flatMap(errorBody, (b) => Option.fromNullable(b.message)))
      return Either.left(
        new UnexpectedStatusError({
          url,
          status,
          serverMessage: prepared.scrub(
            message === undefined ? `an error body: ${excerptOf(raw.body)}` : message.slice(0, 500)
          )
        })
      )
    }
    return Option.isSome(json)
      ? Either.right(json.value)
      : Either.left(
        new MalformedResponseError({
          url,
          status: raw.status,
          excerpt: prepared.scrub(excerptOf(raw.body)),
          reason: raw.body.trim().length === 0 ? "the body is empty" : "the body is not JSON (or is truncated)"
        })
      )
  }
  const body = Option.getOrUndefined(errorBody)
  const serverMessage = prepared.scrub(
    status >= 300 && status < 400
      ? `a redirect${raw.location === undefined ? "" : ` to ${excerptOf(raw.location)}`}, which is never followed`
      : body?.message?.slice(0, 500) ??
        (Option.isSome(json) ? excerptOf(raw.body) : htmlTitle(raw.body) ?? excerptOf(raw.body))
  )
  switch (status) {
    case 400:
      return Either.left(new BadRequestError({ url, serverMessage, service: body?.service ?? "unknown" }))
    case 402:
      return Either.left(new PresenceNotEnabledError({ url, serverMessage }))
    case 403:
      return Either.left(
        new AccessDeniedError({
          url,
          serverMessage,
          channels: body?.payload?.channels ?? [],
          channelGroups: body?.payload?.["channel-groups"] ?? []
        })
      )
    case 414:
      return Either.left(new UriTooLongError({ url, length: prepared.target.length }))
    case 429:
      return Either.left(
        new RateLimitedError({ url, retryAfter: parseRetryAfter(raw.retryAfter, clock.unsafeCurrentTimeMillis()) })
      )
  }
  if (status >= 500 && status < 600) return Either.left(new ServerError({ url, status, serverMessage }))
  return Either.left(new UnexpectedStatusError({ url, status, serverMessage }))
}

/** A `MalformedResponseError` for a body that decoded but does not fit the request. @internal */
export const malformed = (prepared: Prepared, raw: RawResponse, reason: string): MalformedResponseError =>
  new MalformedResponseError({
    url: prepared.safeUrl,
    status: raw.status,
    excerpt: prepared.scrub(excerptOf(raw.body)),
    reason
  })

/**
 * Decodes JSON with a wire schema, or fails with `MalformedResponseError`.
 *
 * @internal
 */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = decodeUnknownEither(schema)
  return (prepared: Prepared, raw: RawResponse, json: unknown): Either.Either<A, MalformedResponseError> =>
    Either.mapLeft(decode(json), (e) => malformed(prepared, raw, prepared.scrub(describeIssue(e.issue))))
}

/** OpenSSL's and browsers' words for a TLS handshake that met a plain-HTTP server. */
const PLAIN_HTTP_PEER = /wrong version number|ssl3_get_record|packet length too long|EPROTO|ERR_SSL_PROTOCOL_ERROR/i

/**
 * The words a `TransportError` uses when a secure request reached a plain-HTTP server.
 *
 * @internal
 */
export const PLAIN_HTTP_HINT =
  "the server does not speak TLS — for a plain-HTTP server (such as the emulator) use an http:// origin or secure: false"

const transportReason = (error: HttpClientError.HttpClientError, secure: boolean): string => {
  const cause: unknown = error.cause
  const detail = cause instanceof Error
    ? cause.message + (cause.cause instanceof Error ? ` (${cause.cause.message})` : "")
    : ""
  if (secure && PLAIN_HTTP_PEER.test(detail)) return PLAIN_HTTP_HINT
  return detail.length > 0 ? `${error.reason}: ${detail.slice(0, 300)}` : error.reason
}

// The platform client's own span records the full URL (with `auth` and `signature`) and adds
// trace headers PubNub ignores; each operation's span records the safe URL instead. One wrapper
// per client, made once.
const untraced = (shared: Shared, client: HttpClient.HttpClient): HttpClient.HttpClient => {
  let wrapped = shared.untraced.get(client)
  if (wrapped === undefined) {
    wrapped = HttpClient.withTracerDisabledWhen(client, () => true)
    shared.untraced.set(client, wrapped)
  }
  return wrapped
}

// Redirects are never followed (a redirect could hand the answer to another host): the fetch
// client follows them unless told not to, the Node clients never do.
const MANUAL_REDIRECT: RequestInit = { redirect: "manual" }
const noRedirects = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.withFiberRuntime((fiber) => {
    const init = Context.getOption(fiber.currentContext, FetchHttpClient.RequestInit)
    return Effect.provideService(
      effect,
      FetchHttpClient.RequestInit,
      Option.isSome(init) ? { ...init.value, redirect: "manual" } : MANUAL_REDIRECT
    )
  })

/**
 * Sends a prepared request and reads the whole body (at most `maxResponseBytes`), within the
 * configured timeout (a long-poll, within its own). Between the answer's arrival and the start of its read nothing can
 * interrupt, so an interrupted or timed-out request always ends its body read, which releases
 * the connection.
 *
 * @internal
 */
export const send = (
  shared: Shared,
  client: HttpClient.HttpClient,
  clock: Clock.Clock,
  config: Settings,
  prepared: Prepared,
  longPoll?: Duration.Duration
): Effect.Effect<RawResponse, TransportError | RequestTimeoutError | ResponseTooLargeError> => {
  const timeout = longPoll ?? config.requestTimeout
  const onTimeout = () => new RequestTimeoutError({ url: prepared.safeUrl, timeoutMillis: Duration.toMillis(timeout) })
  const request = noRedirects(
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        restore(client.execute(HttpClientRequest.get(prepared.url, { acceptJson: true }))),
        (response) =>
          restore(readText(response, config.maxResponseBytes)).pipe(
            Effect.map((body): RawResponse => ({
              status: response.status,
              retryAfter: response.headers["retry-after"],
              location: response.headers["location"],
              body
            })),
            Effect.mapError((e) =>
              e instanceof TooLarge
                ? new ResponseTooLargeError({
                  url: prepared.safeUrl,
                  status: response.status,
                  limitBytes: e.limitBytes
                })
                : e
            )
          )
      )
    )
  ).pipe(
    Effect.mapError((error) =>
      error._tag === "ResponseTooLargeError" ? error : transportError(prepared, error, config.secure)
    )
  )
  // a long-poll keeps its own timer: the shared watchdog, made for many short requests, would
  // look every quarter second for the minutes a poll is held
  return longPoll === undefined
    ? withDeadline(shared.watchdogs, clock, request, timeout, onTimeout)
    : Effect.timeoutFail(request, { duration: timeout, onTimeout })
}

const transportError = (prepared: Prepared, error: HttpClientError.HttpClientError, secure: boolean) =>
  new TransportError({ url: prepared.safeUrl, reason: prepared.scrub(transportReason(error, secure)) })

/**
 * One whole exchange: prepare, send, classify, decode. Every read goes through here, so it reads
 * its services from the fiber once and keeps the steps between them synchronous.
 *
 * @internal
 */
export const execute = <A>(
  keyset: Keyset,
  call: Call,
  decode: (prepared: Prepared, raw: RawResponse, json: unknown) => Either.Either<A, RequestFailure>
): Effect.Effect<A, RequestFailure, HttpClient.HttpClient> =>
  Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext
    const services = fiber.currentDefaultServices
    const config = Context.unsafeGet(context, PubNubConfig)
    const shared = sharedOf(context)
    const client = untraced(shared, Context.unsafeGet(context, HttpClient.HttpClient))
    const clock = Context.get(services, Clock.Clock)
    const span = fiber.currentSpan
    const exchange = (prepared: Prepared): Effect.Effect<A, RequestFailure> => {
      if (span?._tag === "Span") span.attribute("pubnub.url", prepared.safeUrl)
      if (prepared.target.length > MAX_TARGET_LENGTH + SIGNING_RESERVE) {
        return new InvalidArgumentError({
          argument: "request",
          reason: `would be ${prepared.target.length} characters long, over the service's limit`
        })
      }
      return Effect.flatMap(send(shared, client, clock, config, prepared, call.timeout), (raw) => {
        try {
          const json = classify(prepared, raw, clock)
          return Either.isLeft(json) ? Either.left(json.left) : decode(prepared, raw, json.right)
        } catch {
          // no answer may end in a defect: whatever the body does to a decoder is a bad body
          return Either.left(malformed(prepared, raw, "the body could not be read"))
        }
      })
    }
    if (config.invalid !== undefined) return Either.left(new InvalidArgumentError(config.invalid))
    return Effect.flatMap(randomUuid(Context.get(services, Random.Random)), (requestId) => {
      const prepared = prepare(shared, config, clock, requestId, keyset, call)
      return Effect.isEffect(prepared) ? Effect.flatMap(prepared, exchange) : exchange(prepared)
    })
  })
