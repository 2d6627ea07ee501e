/**
 * A local, stateful PubNub presence emulator: the presence endpoints and the channel-group
 * registry (docs/protocol.md), wire-compatible enough for the official `pubnub` client, with virtual
 * time (the Effect `Clock` plus an adjustable offset) and fault injection.
 *
 * - `Emulator.layer(options)` — the emulator as a service (no sockets).
 * - `Emulator.layerServer()` — serve it on an `HttpServer` (Node: `NodeEmulator.layer` in
 *   `effect-pubnub-presence/node`).
 * - `Emulator.layerTest(options)` — the emulator plus an in-memory `HttpClient` and a
 *   `PubNubConfig` aimed at it: presence tests with no sockets, driven by `TestClock`.
 *
 * @since 0.1.0
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/emulator/app.js"
import type { InvalidArgumentError } from "./PresenceError.js"
import * as PubNubConfig from "./PubNubConfig.js"

/**
 * What one auth key may use (see `Options.grants`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Grant {
  readonly channels?: ReadonlyArray<string> | undefined
  readonly channelGroups?: ReadonlyArray<string> | undefined
}

/**
 * Emulator options. All optional: by default every subscribe key is accepted, nothing is signed
 * and nothing is access-controlled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Only these subscribe keys; others get `400 Invalid Subscribe Key`. */
  readonly keys?: ReadonlyArray<string> | undefined
  /** Verify v2 signatures (and timestamps within 60 s) with this secret key; mismatches get 403. */
  readonly secretKey?: string | Redacted.Redacted<string> | undefined
  /** The publish key clients sign with (part of the string to sign). */
  readonly publishKey?: string | undefined
  /** Access control: auth key → what it may use. Any other auth key gets 403 listing what was refused. */
  readonly grants?: Readonly<Record<string, Grant>> | undefined
  /** Cache here-now answers for this many seconds (PubNub caches for 3). Off by default. */
  readonly hereNowCacheSeconds?: number | undefined
  /**
   * The admin API under `/__emulator/`: on (the default) for loopback callers, `false` to switch
   * it off, or settings. See {@link AdminOptions}.
   */
  readonly admin?: boolean | AdminOptions | undefined
  /**
   * Interval mode, for every subscribe key (change it per key with `configure` or
   * `POST /__emulator/config`). Defaults: `announceMax` 20, `intervalSeconds` 10 (1–3600),
   * `presenceDeltas` true; a value out of range keeps its default.
   */
  readonly presence?: Partial<IntervalMode> | undefined
  /**
   * How long a subscribe poll is held when nothing is published, in seconds: more than 0, at most
   * 300 (clients wait 310); default 280.
   */
  readonly subscribeWindowSeconds?: number | undefined
}

/**
 * Interval mode: above `announceMax` occupants a channel publishes one `interval` message every
 * `intervalSeconds` instead of each join, leave and timeout — listing them when `presenceDeltas`
 * is on (or `here_now_refresh` when the lists would pass ~32 KB).
 *
 * @since 0.1.0
 * @category models
 */
export interface IntervalMode {
  readonly announceMax: number
  readonly intervalSeconds: number
  readonly presenceDeltas: boolean
}

/**
 * Who may use the admin API. By default: requests addressed to a loopback host (`127.0.0.1`,
 * `localhost`, `[::1]`) that carry no foreign `Origin`, and POSTs with a JSON body of at most
 * 4 MiB. With a `token`, any host may use it with `Authorization: Bearer <token>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdminOptions {
  /** Require `Authorization: Bearer <token>` on every admin request. */
  readonly token?: string | Redacted.Redacted<string> | undefined
  /**
   * Refuse admin requests unless a `token` is set (`NodeEmulator.layer` sets this when it listens
   * beyond loopback).
   */
  readonly requireToken?: boolean | undefined
  /** Origins (`http://host:port`) besides loopback ones whose pages may call the admin API. */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** `Host` values besides loopback ones the admin API answers without a token. */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
}

/**
 * A fault to inject on requests whose path starts with `path`. It fires once by default, `times`
 * times, or — with `probability` and no `times` — on that share of requests (seeded by `seed`)
 * until cleared. What it does: wait `delayMs`, then drop the connection (`drop`), answer a
 * truncated body (`malformed`), answer `status` with `body` (a PubNub-style JSON error by
 * default) and `Retry-After: retryAfter`, or — with only `delayMs` — answer normally, late.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly path: string
  readonly status?: number | undefined
  readonly body?: string | undefined
  readonly retryAfter?: number | undefined
  readonly delayMs?: number | undefined
  readonly drop?: boolean | undefined
  readonly malformed?: boolean | undefined
  /**
   * On a subscribe poll: answer it, then deliver the same messages again to the next poll (the
   * service was recorded doing this).
   */
  readonly duplicate?: boolean | undefined
  /**
   * On a subscribe poll: the service has lost its history — the subscribe key forgets everything
   * it published, so this poll (and any other resuming from before now) never gets it.
   */
  readonly lost?: boolean | undefined
  readonly times?: number | undefined
  readonly probability?: number | undefined
  readonly seed?: number | undefined
}

/**
 * A presence event: what the service would publish on `<channel>-pnpres`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PresenceEvent {
  readonly action: "join" | "leave" | "timeout" | "state-change"
  readonly subscribeKey: string
  readonly channel: string
  readonly uuid: string
  /** Unix seconds of presence time */
  readonly timestamp: number
  readonly occupancy: number
  readonly state?: { readonly [key: string]: unknown } | undefined
}

/**
 * One request the emulator answered (the last 10,000 are kept).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestRecord {
  /** presence time, ms */
  readonly at: number
  readonly method: string
  readonly operation:
    | "hereNow"
    | "whereNow"
    | "getState"
    | "setState"
    | "heartbeat"
    | "leave"
    | "channelGroup"
    | "subscribe"
    | "unknown"
  readonly path: string
  readonly uuid: string | undefined
  readonly status: number
}

/**
 * Everything the emulator holds, as JSON-friendly data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** presence time, ms */
  readonly now: number
  /** how many (uuid, channel) pairs are present */
  readonly present: number
  /** how many subscribe polls are being held now */
  readonly holding: number
  readonly keys: {
    readonly [subscribeKey: string]: {
      readonly channels: {
        readonly [channel: string]: {
          readonly occupancy: number
          readonly occupants: {
            readonly [uuid: string]: {
              readonly expiresAt: number
              readonly timeout: number
              readonly state?: { readonly [key: string]: unknown }
            }
          }
        }
      }
      readonly groups: { readonly [group: string]: ReadonlyArray<string> }
      /**
       * State set for users who are not present where it was set (set-state without a
       * heartbeat): it expires as presence would, after 300 s.
       */
      readonly absentStates: {
        readonly [channel: string]: {
          readonly [uuid: string]: { readonly expiresAt: number; readonly state: { readonly [key: string]: unknown } }
        }
      }
    }
  }
  /** requests answered, by operation (fault-injected ones are not counted) */
  readonly stats: { readonly [operation in RequestRecord["operation"]]: number }
}

/**
 * The emulator's answer to a `drop` fault: the server closes the connection without answering.
 * Socket servers destroy the socket; the in-memory client turns it into a transport failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class DropConnection extends Schema.TaggedError<DropConnection>()("DropConnection", {
  path: Schema.String
}) {}

/**
 * The emulator service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The HTTP app: presence endpoints, channel-group registry, admin API. */
  readonly app: HttpApp.Default<DropConnection>
  /** Presence time in ms (the `Clock` plus every `advance`). */
  readonly now: Effect.Effect<number>
  /**
   * Moves presence time forward; occupants whose timeout passes time out. At most a year per
   * call; a negative or infinite duration is an `InvalidArgumentError`.
   */
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void, InvalidArgumentError>
  /** Forgets all occupants, state, groups, faults, cached answers, the request log and the time offset. */
  readonly reset: Effect.Effect<void>
  readonly snapshot: Effect.Effect<Snapshot>
  readonly addFault: (fault: Fault) => Effect.Effect<void, InvalidArgumentError>
  /** Sets interval mode for one subscribe key, or (without one) for every key. */
  readonly configure: (
    mode: Partial<IntervalMode>,
    subscribeKey?: string
  ) => Effect.Effect<void, InvalidArgumentError>
  readonly clearFaults: Effect.Effect<void>
  /**
   * join / leave / timeout / state-change events, from the moment the stream starts running — a
   * fiber forked to run it may start after events you cause right away. Prefer {@link subscribe}.
   */
  readonly events: Stream.Stream<PresenceEvent>
  /**
   * A subscription to the events that is live when this returns: every event after it is in the
   * stream, however late the stream is run. It ends with the scope.
   *
   * @example
   * import { Effect, Stream } from "effect"
   * import { Emulator } from "effect-pubnub-presence/emulator"
   *
   * const watch = Effect.gen(function*() {
   *   const em = yield* Emulator.Emulator
   *   const events = yield* em.subscribe // live from here
   *   yield* Effect.forkScoped(Stream.runForEach(events, (e) => Effect.log(e.action, e.uuid, e.channel)))
   * })
   */
  readonly subscribe: Effect.Effect<Stream.Stream<PresenceEvent>, never, Scope.Scope>
  /** The last 10,000 requests answered. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** Answers one request (method and path + query) without HTTP or faults. */
  readonly serve: (method: string, target: string) => Effect.Effect<{ readonly status: number; readonly body: string }>
}

/**
 * The emulator's tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Emulator extends Context.Tag("effect-pubnub-presence/Emulator")<Emulator, Service>() {}

/**
 * The emulator as a service, with no sockets.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Emulator> =>
  Layer.scoped(Emulator, internal.make(options, DropConnection))

/**
 * Serves the emulator on the `HttpServer` in context (on Node: `NodeEmulator.layer` from
 * `effect-pubnub-presence/node`, which also picks the port). `onDrop` is what a `drop` fault
 * does on this server: by default an empty 500, since closing a connection without an answer
 * is platform-specific (the Node version destroys the socket).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options?: {
    readonly onDrop?: (
      request: HttpServerRequest.HttpServerRequest
    ) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  }
): Layer.Layer<never, never, Emulator | HttpServer.HttpServer> =>
  Layer.unwrapEffect(Effect.map(Emulator, (emulator) =>
    HttpServer.serve(
      emulator.app.pipe(
        Effect.catchTag("DropConnection", () =>
          options?.onDrop === undefined
            ? Effect.succeed(HttpServerResponse.empty({ status: 500 }))
            : Effect.flatMap(HttpServerRequest.HttpServerRequest, options.onDrop))
      )
    )))

/**
 * The origin `layerTest` aims `PubNubConfig` at.
 *
 * @since 0.1.0
 * @category constants
 */
export const TEST_ORIGIN = "emulator.test"

/**
 * An `HttpClient` that answers from the emulator in memory: no sockets, same fiber, so
 * `TestClock` governs both sides. A `drop` fault becomes a transport failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const httpClient: Effect.Effect<HttpClient.HttpClient, never, Emulator> = Effect.map(
  Emulator,
  (emulator) =>
    HttpClient.make((request, url) => {
      const body = request.body
      const init: RequestInit = { method: request.method, headers: request.headers }
      if (body._tag === "Uint8Array") init.body = new TextDecoder().decode(body.body)
      else if (body._tag === "Raw" && typeof body.body === "string") init.body = body.body
      else if (body._tag !== "Empty") {
        return Effect.fail(
          new HttpClientError.RequestError({ request, reason: "Encode", cause: new Error("unsupported request body") })
        )
      }
      const serverRequest = HttpServerRequest.fromWeb(new Request(url.toString(), init))
      return emulator.app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, serverRequest),
        Effect.map((response) => HttpClientResponse.fromWeb(request, HttpServerResponse.toWeb(response))),
        Effect.catchTag("DropConnection", () =>
          Effect.fail(
            new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("connection dropped") })
          )),
        Effect.scoped
      )
    })
)

/**
 * The emulator, an in-memory `HttpClient` aimed at it, and `PubNubConfig` set to its origin: give
 * it a `KeysetService` and every presence operation runs against the emulator, deterministically
 * under `TestClock`.
 *
 * @example
 * import { it } from "@effect/vitest"
 * import { Effect, Layer } from "effect"
 * import { Keyset, Presence } from "effect-pubnub-presence"
 * import { Emulator } from "effect-pubnub-presence/emulator"
 *
 * const TestLive = Layer.merge(
 *   Emulator.layerTest(),
 *   Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "alice" }) })
 * )
 *
 * it.effect("alice is here", () =>
 *   Effect.gen(function*() {
 *     yield* Presence.announceHeartbeat({ channels: ["lobby"] })
 *     const here = yield* Presence.hereNow({ channels: ["lobby"] })
 *     // here.channels.get("lobby")?.count === 1
 *   }).pipe(Effect.provide(TestLive)))
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  options: Options = {}
): Layer.Layer<Emulator | HttpClient.HttpClient> =>
  Layer.mergeAll(
    Layer.effect(HttpClient.HttpClient, httpClient),
    PubNubConfig.layer({ origin: TEST_ORIGIN, secure: false })
  ).pipe(Layer.provideMerge(layer(options)))
