/**
 * A lean `HttpClient` for Node on undici's `Agent`, the recommended client for this SDK on Node.
 *
 * It is a complete `HttpClient` (any method, any body, streamed or buffered answers) that leaves
 * out what the platform's undici client does per request and presence calls do not need: no
 * `URL` object when the URL is already absolute and carries its query, no client span (each
 * presence operation has its own span, with secrets removed), and no `Effect.cached` fiber per
 * body read. Connections are kept alive and reused. On the benchmark's loopback here-now it takes
 * half to two thirds of the CPU per request of `NodeHttpClient.layerUndici` (`npm run bench:cpu`).
 *
 * Any other `HttpClient` works with the SDK too; this one is only faster.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { EventEmitter } from "node:events"
import type { Readable } from "node:stream"
import * as Undici from "undici"
import { BoundedText, TooLarge } from "../internal/body.js"
import { readText } from "./readText.js"

type Target = { readonly origin: string; readonly path: string }

// an origin with a plain host name, IPv4 or bracketed IPv6 address, and an optional port
const ORIGIN = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?=[/?]|$)/
// a path and query that need no escaping (no spaces, quotes, fragments or non-ASCII)
const PLAIN = /^(?:[/?][A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*)?$/

/** Origin and path, without a `URL` object when the request URL is already complete and plain. */
const targetOf = (request: HttpClientRequest.HttpClientRequest): Either.Either<Target, unknown> => {
  if (request.urlParams.length === 0 && Option.isNone(request.hash)) {
    const m = ORIGIN.exec(request.url)
    if (m !== null) {
      const rest = request.url.slice(m[0].length)
      if (PLAIN.test(rest)) return Either.right({ origin: m[0], path: rest[0] === "/" ? rest : "/" + rest })
    }
  }
  return Either.map(
    UrlParams.makeUrl(request.url, request.urlParams, request.hash),
    (url) => ({ origin: url.origin, path: url.pathname + url.search + url.hash })
  )
}

type RequestBody = string | Uint8Array | Readable | null

/** A request body as sent, with the content type when encoding chose it (a multipart boundary). */
interface Encoded {
  readonly body: RequestBody
  readonly contentType?: string | undefined
}

const NO_BODY: Encoded = { body: null }

const isReadable = (u: unknown): u is Readable =>
  typeof u === "object" && u !== null && "pipe" in u && typeof u.pipe === "function"

const bodyOf = (
  request: HttpClientRequest.HttpClientRequest
): Encoded | Effect.Effect<Encoded, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return NO_BODY
    case "Uint8Array":
      return { body: body.body }
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array || isReadable(body.body)
        ? { body: body.body }
        : Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Encode",
            cause: new TypeError("a raw body must be a string, bytes or a Node Readable")
          })
        )
    case "FormData": {
      // encoded by the runtime's own `Response`, which picks the multipart boundary
      const encoded = new globalThis.Response(body.formData)
      return Effect.tryPromise({
        try: async (): Promise<Encoded> => ({
          body: new Uint8Array(await encoded.arrayBuffer()),
          contentType: encoded.headers.get("content-type") ?? undefined
        }),
        catch: (cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause })
      })
    }
    case "Stream":
      return Effect.map(NodeStream.toReadable(body.stream), (readable): Encoded => ({ body: readable }))
  }
}

// Answers nobody reads would hold their connection: when one is garbage-collected unread, its
// body is destroyed (as the platform's clients do). Reading an answer takes it off the registry,
// which would otherwise keep the body alive until the registry's cleanup ran.
const unread = new FinalizationRegistry<Readable>((body) => {
  if (!body.readableEnded) body.destroy()
})

class Response extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  private read: Promise<Uint8Array | string> | undefined = undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly source: Undici.Dispatcher.ResponseData
  ) {
    super()
  }

  get status(): number {
    return this.source.statusCode
  }

  get headers(): Headers.Headers {
    return Headers.fromInput(this.source.headers)
  }

  get cookies(): Cookies.Cookies {
    const header = this.source.headers["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  /**
   * The whole body, read once: as text or bytes, whichever was asked for first. Text first is
   * `readText` (as undici's `body.text()`, with ASCII copied as it arrives rather than decoded at
   * the end); bytes asked for afterwards are that text encoded again, so a byte-order mark is not
   * among them. Interrupting a read that has not finished destroys the body, which closes its
   * connection instead of downloading the rest for nobody.
   */
  private whole<A, E>(
    first: (body: Undici.Dispatcher.ResponseData["body"]) => Promise<Uint8Array | string>,
    convert: (read: Uint8Array | string) => A,
    failure: (cause: unknown) => E
  ): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      if (this.read === undefined) {
        unread.unregister(this)
        this.read = first(this.source.body)
      }
      let done = false
      this.read.then(
        (read) => {
          done = true
          resume(Effect.succeed(convert(read)))
        },
        (cause) => {
          done = true
          resume(Effect.fail(failure(cause)))
        }
      )
      return Effect.sync(() => {
        if (!done && !this.source.body.destroyed) this.source.body.destroy()
      })
    })
  }

  private decodeFailure = (cause: unknown): HttpClientError.ResponseError => this.decodeError(cause)

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.whole(readText, asText, this.decodeFailure)
  }

  /** The SDK's bounded read: text, or `TooLarge` once more than `maxBytes` arrived. */
  [BoundedText](maxBytes: number): Effect.Effect<string, HttpClientError.ResponseError | TooLarge> {
    const tooLarge = new TooLarge(maxBytes)
    const declared = Number(this.source.headers["content-length"])
    if (this.read === undefined && Number.isFinite(declared) && declared > maxBytes) {
      unread.unregister(this)
      this.read = Promise.reject(tooLarge)
      this.read.catch(() => undefined)
      this.source.body.destroy()
      return Effect.fail(tooLarge)
    }
    return this.whole(
      (body) => readText(body, maxBytes, () => tooLarge),
      asText,
      (cause) => (cause === tooLarge ? tooLarge : this.decodeError(cause))
    )
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return this.whole(
      (body) => body.arrayBuffer().then((buffer) => new Uint8Array(buffer)),
      (read) => {
        const bytes = typeof read === "string" ? new TextEncoder().encode(read) : read
        const copy = new ArrayBuffer(bytes.byteLength)
        new Uint8Array(copy).set(bytes)
        return copy
      },
      this.decodeFailure
    )
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(
      this.text,
      (text) =>
        Effect.try({ try: () => (text === "" ? null : JSON.parse(text)), catch: (cause) => this.decodeError(cause) })
    )
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.decodeError(cause)
      }))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.tryPromise({
        try: () => new globalThis.Response(bytes, { headers: this.headers }).formData(),
        catch: (cause) => this.decodeError(cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    if (this.read !== undefined) {
      return Stream.fromEffect(Effect.map(this.arrayBuffer, (buffer) => new Uint8Array(buffer)))
    }
    unread.unregister(this)
    this.read = Promise.reject(new Error("the body was streamed"))
    this.read.catch(() => undefined)
    return NodeStream.fromReadable(() => this.source.body, (cause) => this.decodeError(cause))
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

const asText = (read: Uint8Array | string): string => typeof read === "string" ? read : new TextDecoder().decode(read)

const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.RequestError({ request, reason: "Transport", cause })

const send = (
  dispatcher: Undici.Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  target: Target,
  { body, contentType }: Encoded
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> =>
  Effect.async((resume) => {
    // undici takes an EventEmitter as the abort signal: ~50× cheaper per request than an
    // AbortController with its listener
    const signal = new EventEmitter()
    dispatcher.request({
      origin: target.origin,
      path: target.path,
      method: request.method,
      headers: contentType === undefined ? request.headers : { ...request.headers, "content-type": contentType },
      body,
      signal,
      // timeouts are the caller's (Effect.timeout, the SDK's request timeout)
      headersTimeout: 0,
      bodyTimeout: 0
    }, (error, data) => {
      if (error !== null) return resume(Effect.fail(transportError(request, error)))
      data.body.on("error", () => undefined)
      const response = new Response(request, data)
      unread.register(response, data.body, response)
      resume(Effect.succeed(response))
    })
    return Effect.sync(() => signal.emit("abort"))
  })

/**
 * An `HttpClient` on `dispatcher` (for instance an `undici.Agent` you configure).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dispatcher: Undici.Dispatcher): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) =>
      Effect.flatMap(effect, (request) => {
        const target = targetOf(request)
        if (Either.isLeft(target)) {
          return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: target.left }))
        }
        const body = bodyOf(request)
        return Effect.isEffect(body)
          ? Effect.flatMap(body, (b) => send(dispatcher, request, target.right, b))
          : send(dispatcher, request, target.right, body)
      }),
    Effect.succeed
  )

/**
 * The client on its own keep-alive `undici.Agent`, closed with the layer.
 *
 * @example
 * import { Effect, Layer } from "effect"
 * import { Keyset, Presence } from "effect-pubnub-presence"
 * import { UndiciHttpClient } from "effect-pubnub-presence/undici"
 *
 * const Live = Layer.mergeAll(Keyset.layerConfig(), UndiciHttpClient.layer)
 * const program = Presence.hereNow({ channels: ["lobby"] }).pipe(Effect.provide(Live))
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent()),
      (agent) => Effect.promise(() => agent.destroy())
    ),
    make
  )
)
