/**
 * The emulator as a service and an `HttpApp`: the core (`core.ts`) behind the presence endpoints
 * with faults in front, and the guarded admin API under `/__emulator/`.
 *
 * @internal
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { DropConnection as DropConnectionType, Fault, Options, Service } from "../../Emulator.js"
import { InvalidArgumentError } from "../../PresenceError.js"
import { parseJson } from "../encoding.js"
import { decodeUnknownEither, describeIssue } from "../issue.js"
import { isJsonObject } from "../wire.js"
import { type AdminActions, adminApp, adminError, adminJson, decodeBody, makeGuard } from "./admin.js"
import { type Core, makeCore } from "./core.js"
import { FaultSpec } from "./faults.js"
import { snapshotOf } from "./snapshot.js"
import { presenceError, type Reply, targetOf } from "./target.js"

/** The content type the real service answers with. @internal */
export const CONTENT_TYPE = "text/javascript; charset=\"UTF-8\""

const toResponse = (r: Reply): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(r.body, {
    status: r.status,
    contentType: CONTENT_TYPE,
    ...(r.headers === undefined ? {} : { headers: r.headers })
  })

const defaultBody = (status: number): string =>
  JSON.stringify({
    status,
    error: 1,
    message: status === 429
      ? "Too Many Requests"
      : status === 503
      ? "Service Unavailable"
      : status >= 500
      ? "Internal Server Error"
      : "Fault injected",
    service: "Presence"
  })

const MALFORMED_BODY = "{\"status\":200,\"message\":\"OK\",\"service\":\"Presence\",\"uuids\":[\""

/** The presence endpoints, with any fault that matches the path applied first. */
const presenceApp = (
  core: Core,
  DropConnection: new(args: { readonly path: string }) => DropConnectionType
) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const target = targetOf(request.url)
    const q = target.indexOf("?")
    const fault = core.faults.match(q < 0 ? target : target.slice(0, q))
    if (fault !== undefined) {
      // interruptible: a client that goes away ends the wait (servers run handlers uninterruptibly)
      if (fault.delayMs > 0) yield* Effect.interruptible(Effect.sleep(Duration.millis(fault.delayMs)))
      switch (fault.kind) {
        case "drop":
          return yield* Effect.fail(new DropConnection({ path: target }))
        case "malformed":
          return toResponse({ status: 200, body: MALFORMED_BODY })
        case "duplicate":
          return toResponse(repeatNext(yield* core.serve(request.method, target), target))
        case "lost":
          forgetPublished(core, target)
          return toResponse(yield* core.serve(request.method, target))
        case "status":
          return toResponse({
            status: fault.status,
            body: fault.body ?? defaultBody(fault.status),
            headers: fault.retryAfter === undefined ? undefined : { "retry-after": String(fault.retryAfter) }
          })
      }
    }
    return toResponse(yield* core.serve(request.method, target))
  })

/**
 * The service loses its history: the subscribe key of a subscribe poll forgets what it published,
 * so a poll resuming from before now gets none of it.
 */
const forgetPublished = (core: Core, target: string): void => {
  const sub = /^\/v2\/subscribe\/([^/?]+)/.exec(target)?.[1]
  if (sub === undefined) return
  try {
    core.published(decodeURIComponent(sub)).buffer.length = 0
  } catch {
    // a key that does not decode has published nothing
  }
}

/**
 * A subscribe answer whose messages the next poll gets again: its timetoken is the one the poll
 * asked with, so the next poll resumes from there.
 */
const repeatNext = (r: Reply, target: string): Reply => {
  const asked = /[?&]tt=(\d+)/.exec(target)?.[1]
  if (r.status !== 200 || asked === undefined) return r
  const body = parseJson(r.body)
  if (Option.isNone(body) || !isJsonObject(body.value) || !isJsonObject(body.value.t)) return r
  return { ...r, body: JSON.stringify({ ...body.value, t: { ...body.value.t, t: asked } }) }
}

const decodeFault = decodeUnknownEither(FaultSpec)

const ConfigBody = Schema.Struct({
  subscribeKey: Schema.optionalWith(Schema.String, { exact: true }),
  announceMax: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { exact: true }),
  intervalSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 3600)), { exact: true }),
  presenceDeltas: Schema.optionalWith(Schema.Boolean, { exact: true })
})
const decodeConfig = decodeUnknownEither(ConfigBody)

/** Sets interval mode from whatever was passed. */
const configure = (core: Core) => (body: unknown): Effect.Effect<void, InvalidArgumentError> =>
  Either.match(decodeConfig(body), {
    onLeft: (e) => Effect.fail(new InvalidArgumentError({ argument: "config", reason: describeIssue(e.issue) })),
    onRight: ({ subscribeKey, ...mode }) => Effect.sync(() => core.configure(mode, subscribeKey))
  })

/** Adds a fault from whatever was passed: the admin API hands over any JSON. */
const addFault = (core: Core) => (fault: unknown): Effect.Effect<void, InvalidArgumentError> =>
  Either.match(decodeFault(fault), {
    onLeft: (e) => Effect.fail(new InvalidArgumentError({ argument: "fault", reason: describeIssue(e.issue) })),
    onRight: (spec) => Effect.sync(() => core.faults.add(spec))
  })

const decodeAdvance = decodeBody(
  Schema.Struct({ seconds: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()) })
)

const adminActions = (core: Core): AdminActions => ({
  snapshot: snapshotOf(core),
  reset: core.reset,
  advance: (body) =>
    Either.match(decodeAdvance(body, "advance takes {\"seconds\": N} with N ≥ 0"), {
      onLeft: Effect.succeed,
      onRight: ({ seconds }) =>
        Effect.match(Effect.zipRight(core.advance(Duration.seconds(seconds)), core.clock.now), {
          onFailure: (e) => adminError(400, `advance ${e.reason}`),
          onSuccess: (now) => adminJson({ status: 200, message: "OK", now })
        })
    }),
  addFault: (body) =>
    Effect.match(addFault(core)(body), {
      onFailure: (e) => adminError(400, e.message),
      onSuccess: () => adminJson({ status: 200, message: "OK" })
    }),
  faults: Effect.sync(() => core.faults.list),
  clearFaults: Effect.sync(() => core.faults.clear()),
  requests: Effect.sync(() => core.log.inOrder()),
  config: (body) =>
    Effect.match(configure(core)(body), {
      onFailure: (e) => adminError(400, e.message),
      onSuccess: () => adminJson({ status: 200, message: "OK" })
    })
})

/**
 * Builds the emulator. Its expirer (so that `timeout` events flow without requests) lives in the
 * given scope.
 *
 * @internal
 */
export const make = (
  options: Options,
  DropConnection: new(args: { readonly path: string }) => DropConnectionType
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.map(makeCore(options), (core): Service => {
    const admin = adminApp(makeGuard(options.admin), adminActions(core))
    const presence = presenceApp(core, DropConnection)
    const app = Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) => (targetOf(request.url).startsWith("/__emulator/") ? admin : presence)
    ).pipe(
      Effect.catchAllDefect(() => Effect.succeed(toResponse(presenceError(500, "Internal emulator error"))))
    )
    const fault: (fault: Fault) => Effect.Effect<void, InvalidArgumentError> = addFault(core)
    return {
      app,
      now: core.clock.now,
      advance: core.advance,
      reset: core.reset,
      snapshot: snapshotOf(core),
      addFault: fault,
      configure: (mode, subscribeKey) => configure(core)(subscribeKey === undefined ? mode : { ...mode, subscribeKey }),
      clearFaults: Effect.sync(() => core.faults.clear()),
      events: Stream.fromPubSub(core.events),
      subscribe: Effect.map(PubSub.subscribe(core.events), (queue) => Stream.fromQueue(queue)),
      requests: Effect.sync(() => core.log.inOrder()),
      serve: (method, target) => Effect.map(core.serve(method, target), (r) => ({ status: r.status, body: r.body }))
    }
  })
