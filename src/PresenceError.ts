/**
 * Every way a presence call can fail, as `Schema.TaggedError` classes.
 *
 * Each class's `_tag` equals its name, so callers can `Effect.catchTag("RateLimitedError", …)`.
 * No error carries the secret key, the auth key or the request signature: URLs in errors have
 * `auth`, `signature` and `timestamp` removed.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * Bad input caught before any request was sent. `parseError` is there when a value did not
 * encode with the app's own state schema (`Presence.typed`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgumentError extends Schema.TaggedError<InvalidArgumentError>()("InvalidArgumentError", {
  argument: Schema.String,
  reason: Schema.String,
  parseError: Schema.optional(
    Schema.declare((u): u is ParseResult.ParseError => u instanceof ParseResult.ParseError, {
      identifier: "ParseError"
    })
  )
}) {
  override get message(): string {
    return `Invalid ${this.argument}: ${this.reason}`
  }
}

/**
 * `using` named a keyset that the `KeysetService` does not have.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeysetNotFoundError extends Schema.TaggedError<KeysetNotFoundError>()("KeysetNotFoundError", {
  name: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const known = this.available.length === 0 ? "none are registered" : `known: ${this.available.join(", ")}`
    return `No keyset named "${this.name}" (${known})`
  }
}

/**
 * The request never got an HTTP answer: connection refused or reset, DNS failure, a body cut off.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Transport failure for ${this.url}: ${this.reason}`
  }
}

/**
 * No answer within `PubNubConfig.requestTimeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeoutError extends Schema.TaggedError<RequestTimeoutError>()("RequestTimeoutError", {
  url: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `No response within ${this.timeoutMillis} ms for ${this.url}`
  }
}

/**
 * HTTP 400: the service rejected the arguments (or the subscribe key).
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequestError extends Schema.TaggedError<BadRequestError>()("BadRequestError", {
  url: Schema.String,
  serverMessage: Schema.String,
  service: Schema.String
}) {
  override get message(): string {
    return `Bad request (400) from ${this.service}: ${this.serverMessage}`
  }
}

/**
 * HTTP 402: the Presence add-on is not enabled for this keyset.
 *
 * @since 0.1.0
 * @category errors
 */
export class PresenceNotEnabledError extends Schema.TaggedError<PresenceNotEnabledError>()("PresenceNotEnabledError", {
  url: Schema.String,
  serverMessage: Schema.String
}) {
  override get message(): string {
    return `Presence is not enabled for this keyset (402): ${this.serverMessage}`
  }
}

/**
 * HTTP 403: Access Manager refused the request; lists what was refused when the service says.
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDeniedError extends Schema.TaggedError<AccessDeniedError>()("AccessDeniedError", {
  url: Schema.String,
  serverMessage: Schema.String,
  channels: Schema.Array(Schema.String),
  channelGroups: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const parts: Array<string> = []
    if (this.channels.length > 0) parts.push(`channels ${this.channels.join(", ")}`)
    if (this.channelGroups.length > 0) parts.push(`channel groups ${this.channelGroups.join(", ")}`)
    const what = parts.length > 0 ? ` to ${parts.join(" and ")}` : ""
    return `Access denied${what} (403): ${this.serverMessage}`
  }
}

/**
 * HTTP 414: the URL was too long. The SDK splits long channel lists, so this means the server's
 * limit is lower than expected.
 *
 * @since 0.1.0
 * @category errors
 */
export class UriTooLongError extends Schema.TaggedError<UriTooLongError>()("UriTooLongError", {
  url: Schema.String,
  length: Schema.Number
}) {
  override get message(): string {
    return `Request URI too long (414): ${this.length} characters`
  }
}

/**
 * HTTP 429: too many requests. `retryAfter` is the service's `Retry-After`, when it sent one.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimitedError extends Schema.TaggedError<RateLimitedError>()("RateLimitedError", {
  url: Schema.String,
  retryAfter: Schema.OptionFromSelf(Schema.DurationFromSelf)
}) {
  override get message(): string {
    return Option.match(this.retryAfter, {
      onNone: () => `Rate limited (429) on ${this.url}`,
      onSome: (d) => `Rate limited (429) on ${this.url}; retry after ${Duration.format(d)}`
    })
  }
}

/**
 * HTTP 5xx (or a "false 200" whose body says 5xx): a fault on the service side or a proxy.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  url: Schema.String,
  status: Schema.Number,
  serverMessage: Schema.String
}) {
  override get message(): string {
    return `Server error (${this.status}) on ${this.url}: ${this.serverMessage}`
  }
}

/**
 * Any other status the protocol does not give a meaning to (404, 3xx, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedStatusError extends Schema.TaggedError<UnexpectedStatusError>()("UnexpectedStatusError", {
  url: Schema.String,
  status: Schema.Number,
  serverMessage: Schema.String
}) {
  override get message(): string {
    return `Unexpected status ${this.status} on ${this.url}: ${this.serverMessage}`
  }
}

/**
 * A body that does not match the protocol: not JSON, truncated, or the wrong shape.
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedResponseError extends Schema.TaggedError<MalformedResponseError>()("MalformedResponseError", {
  url: Schema.String,
  status: Schema.Number,
  excerpt: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Malformed response (HTTP ${this.status}) on ${this.url}: ${this.reason}; body starts ${
      JSON.stringify(this.excerpt)
    }`
  }
}

/**
 * HTTP answer longer than `PubNubConfig.maxResponseBytes`: reading stopped there and the
 * connection was closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResponseTooLargeError extends Schema.TaggedError<ResponseTooLargeError>()("ResponseTooLargeError", {
  url: Schema.String,
  status: Schema.Number,
  limitBytes: Schema.Number
}) {
  override get message(): string {
    return `Response (HTTP ${this.status}) on ${this.url} is longer than the ${this.limitBytes}-byte limit ` +
      `(PubNubConfig.maxResponseBytes)`
  }
}

/**
 * The schema of every failure, e.g. to send errors across a worker or RPC boundary. The one list
 * of error classes: the `PresenceError` type is derived from it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PresenceError = Schema.Union(
  InvalidArgumentError,
  KeysetNotFoundError,
  TransportError,
  RequestTimeoutError,
  BadRequestError,
  PresenceNotEnabledError,
  AccessDeniedError,
  UriTooLongError,
  RateLimitedError,
  ServerError,
  UnexpectedStatusError,
  MalformedResponseError,
  ResponseTooLargeError
)

/**
 * Every failure of a presence operation.
 *
 * @since 0.1.0
 * @category models
 */
export type PresenceError = typeof PresenceError.Type

const retryableTags = new Set(["TransportError", "RequestTimeoutError", "RateLimitedError", "ServerError"])

/**
 * `true` for failures worth retrying: transport, timeout, 429 and 5xx. Never for 400, 402, 403,
 * 404, 414 or bad input.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: unknown): boolean =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && retryableTags.has(error._tag)

/**
 * `true` when `u` is one of this module's errors.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isPresenceError = (u: unknown): u is PresenceError => Schema.is(PresenceError)(u)
