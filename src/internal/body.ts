/**
 * Reading a response body as text with a size limit, on any `HttpClient`.
 *
 * A client may offer a bounded text read of its own under {@link BoundedText} (this SDK's
 * `UndiciHttpClient` does: it copies ASCII chunks as they arrive and destroys the body once it is
 * over the limit). Any other response is read from its `stream`, counting bytes as they arrive:
 * past the limit the stream is ended, which cancels the body (fetch) or destroys the socket's
 * readable (Node). A declared `content-length` over the limit fails before anything is read.
 *
 * @internal
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"

/**
 * The key of a bounded text read a response may offer: `(maxBytes) => Effect<string, …>`, failing
 * with {@link TooLarge} past the limit — at once when the declared `content-length` is over it —
 * and releasing the body whenever it stops early. A registered symbol, so that separate copies of this
 * module agree on it.
 *
 * @internal
 */
export const BoundedText: unique symbol = Symbol.for("effect-pubnub-presence/BoundedText")

/** The body was longer than the limit. @internal */
export class TooLarge {
  readonly _tag = "TooLarge"
  constructor(readonly limitBytes: number) {}
}

/** A response that offers a bounded text read. @internal */
export interface WithBoundedText {
  readonly [BoundedText]: (maxBytes: number) => Effect.Effect<string, HttpClientError.ResponseError | TooLarge>
}

const hasBoundedText = (u: object): u is WithBoundedText =>
  Predicate.hasProperty(u, BoundedText) && typeof u[BoundedText] === "function"

/**
 * The whole body as UTF-8 text (a leading byte-order mark dropped, as `text()` does), failing with
 * {@link TooLarge} as soon as more than `maxBytes` arrived.
 *
 * @internal
 */
export const readText = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<string, HttpClientError.ResponseError | TooLarge> => {
  if (hasBoundedText(response)) return response[BoundedText](maxBytes)
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > maxBytes) {
    // start reading and stop at once: ending the stream releases the body
    return Effect.zipRight(
      Effect.ignore(Stream.runDrain(Stream.take(response.stream, 1))),
      Effect.fail(new TooLarge(maxBytes))
    )
  }
  // a declared length within the limit bounds the body already (the HTTP parser reads no more
  // than it), so the client's own text read — cheaper than a stream — is safe
  if (Number.isFinite(declared) && declared >= 0 && response.headers["content-encoding"] === undefined) {
    return response.text
  }
  return Effect.suspend(() => {
    const decoder = new TextDecoder()
    let text = ""
    let total = 0
    return response.stream.pipe(
      Stream.runForEach((chunk) => {
        total += chunk.byteLength
        if (total > maxBytes) return Effect.fail(new TooLarge(maxBytes))
        text += decoder.decode(chunk, { stream: true })
        return Effect.void
      }),
      Effect.map(() => text + decoder.decode()),
      // a response with no body at all (204, or a HEAD) reads as empty text
      Effect.catchIf(
        (e): e is HttpClientError.ResponseError => e._tag === "ResponseError" && e.reason === "EmptyBody",
        () => Effect.succeed("")
      )
    )
  })
}
