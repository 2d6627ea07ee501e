/**
 * The emulator as a service and an `HttpApp`: the presence endpoints, faults, virtual time, and
 * the admin API under `/__emulator/`.
 *
 * @internal
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  DropConnection as DropConnectionType,
  Fault,
  Options,
  PresenceEvent,
  RequestRecord,
  Service,
  Snapshot
} from "../../Emulator.js"
import { InvalidArgumentError } from "../../PresenceError.js"
import { parseJson } from "../encoding.js"
import { waitUntil } from "../heap.js"
import { Faults, FaultSpec } from "./faults.js"
import { handle, type Handled, makeOptions, type Operation, presenceError, type Reply } from "./handlers.js"
import { Store } from "./store.js"

/** The content type the real service answers with. @internal */
export const CONTENT_TYPE = "text/javascript; charset=\"UTF-8\""

const LOG_SIZE = 10_000

const toResponse = (r: Reply): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(r.body, {
    status: r.status,
    contentType: CONTENT_TYPE,
    ...(r.headers === undefined ? {} : { headers: r.headers })
  })

const adminJson = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })

const adminError = (status: number, message: string) => adminJson({ status, error: true, message }, status)

/** The path and query of a request URL (absolute for web requests, relative on Node). @internal */
export const targetOf = (url: string): string => {
  const scheme = url.indexOf("://")
  if (scheme < 0 || scheme > 10) return url
  const slash = url.indexOf("/", scheme + 3)
  return slash < 0 ? "/" : url.slice(slash)
}

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

const decodeFault = Schema.decodeUnknownEither(FaultSpec)
const AdvanceBody = Schema.Struct({ seconds: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()) })
const decodeAdvance = Schema.decodeUnknownEither(AdvanceBody)

const parseBody = (text: string): unknown => text.trim().length === 0 ? {} : Option.getOrUndefined(parseJson(text))

/**
 * Builds the emulator. Its background fiber (expiring timed-out occupants once a second, so that
 * `timeout` events flow without requests) lives in the given scope.
 *
 * @internal
 */
export const make = (
  options: Options,
  DropConnection: new(args: { readonly path: string }) => DropConnectionType
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const store = new Store()
    store.recordEvents = true
    const faults = new Faults()
    const cache = new Map<string, { readonly expiresAt: number; readonly reply: Reply }>()
    const handlerOptions = makeOptions(options)
    const pubsub = yield* PubSub.sliding<PresenceEvent>(4096)
    // a ring of the last LOG_SIZE requests
    const log: Array<RequestRecord> = []
    let logNext = 0
    const noRequests = (): Record<Operation, number> => ({
      hereNow: 0,
      whereNow: 0,
      getState: 0,
      setState: 0,
      heartbeat: 0,
      leave: 0,
      channelGroup: 0,
      unknown: 0
    })
    const stats = noRequests()
    let offsetMillis = 0

    const now = Effect.map(Clock.currentTimeMillis, (ms) => ms + offsetMillis)

    const flushEvents = Effect.suspend(() => {
      const events = store.takeEvents()
      return events.length === 0 ? Effect.void : PubSub.publishAll(pubsub, events)
    })

    const expire = Effect.flatMap(now, (t) => {
      store.expire(t)
      return Effect.as(flushEvents, t)
    })

    const record = (h: Handled, method: string, target: string, at: number) => {
      stats[h.operation]++
      const q = target.indexOf("?")
      const entry: RequestRecord = {
        at,
        method,
        operation: h.operation,
        path: q < 0 ? target : target.slice(0, q),
        uuid: h.uuid,
        status: h.reply.status
      }
      if (log.length < LOG_SIZE) log.push(entry)
      else log[logNext] = entry
      logNext = (logNext + 1) % LOG_SIZE
    }
    const logInOrder = (): Array<RequestRecord> =>
      log.length < LOG_SIZE ? [...log] : [...log.slice(logNext), ...log.slice(0, logNext)]

    // The background expirer sleeps until the earliest expiry; a request or an `advance` that
    // makes an earlier one wakes it.
    const wake = yield* Queue.sliding<boolean>(1)
    let expirerWakesAt = Number.POSITIVE_INFINITY
    const nudgeExpirer = Effect.suspend(() => {
      const next = store.heap.peek()?.at ?? Number.POSITIVE_INFINITY
      return next < expirerWakesAt ? Queue.offer(wake, true) : Effect.void
    })
    const expirer = Effect.gen(function*() {
      for (;;) {
        const t = yield* expire
        const next = store.heap.peek()?.at
        expirerWakesAt = next ?? Number.POSITIVE_INFINITY
        yield* waitUntil(next, t, wake)
      }
    })

    const serve = (method: string, target: string) =>
      Effect.gen(function*() {
        const t = yield* expire
        const h = yield* handle({ store, options: handlerOptions, cache, now: t }, method, target)
        record(h, method, target, t)
        yield* flushEvents
        yield* nudgeExpirer
        return h.reply
      })

    const presenceApp = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const target = targetOf(request.url)
      const q = target.indexOf("?")
      const fault = faults.match(q < 0 ? target : target.slice(0, q))
      if (fault !== undefined) {
        if (fault.delayMs > 0) yield* Effect.sleep(Duration.millis(fault.delayMs))
        switch (fault.kind) {
          case "drop":
            return yield* Effect.fail(new DropConnection({ path: target }))
          case "malformed":
            return toResponse({
              status: 200,
              body: "{\"status\":200,\"message\":\"OK\",\"service\":\"Presence\",\"uuids\":[\""
            })
          case "status":
            return toResponse({
              status: fault.status,
              body: fault.body ?? defaultBody(fault.status),
              headers: fault.retryAfter === undefined ? undefined : { "retry-after": String(fault.retryAfter) }
            })
        }
      }
      return toResponse(yield* serve(request.method, target))
    })

    const snapshot: Effect.Effect<Snapshot> = Effect.map(expire, (t) => {
      const keys: Record<string, Snapshot["keys"][string]> = {}
      for (const [sub, ks] of store.keyspaces) {
        if (ks.channels.size === 0 && ks.groups.size === 0 && ks.states.size === 0) continue
        const channels: Record<string, Snapshot["keys"][string]["channels"][string]> = {}
        for (const [name, occupants] of ks.channels) {
          const list: Record<string, { expiresAt: number; timeout: number; state?: Record<string, unknown> }> = {}
          for (const [uuid, o] of occupants) {
            const state = ks.states.get(name)?.get(uuid)
            list[uuid] = state === undefined
              ? { expiresAt: o.at, timeout: o.timeout }
              : { expiresAt: o.at, timeout: o.timeout, state }
          }
          channels[name] = { occupancy: occupants.size, occupants: list }
        }
        const groups: Record<string, Array<string>> = {}
        for (const [g, members] of ks.groups) groups[g] = [...members]
        keys[sub] = { channels, groups }
      }
      return { now: t, present: store.presentCount, keys, stats: { ...stats } }
    })

    const reset = Effect.sync(() => {
      store.reset()
      faults.clear()
      cache.clear()
      log.length = 0
      logNext = 0
      Object.assign(stats, noRequests())
      offsetMillis = 0
    })

    const advance = (duration: Duration.DurationInput) =>
      Effect.flatMap(
        Effect.sync(() => {
          offsetMillis += Duration.toMillis(Duration.decode(duration))
        }),
        () => Effect.zipRight(expire, Queue.offer(wake, true))
      )

    // the admin API hands over whatever JSON it was sent; both check it the same way
    const addFaultUnknown = (fault: unknown): Effect.Effect<void, InvalidArgumentError> =>
      Either.match(decodeFault(fault), {
        onLeft: (e) =>
          Effect.fail(
            new InvalidArgumentError({ argument: "fault", reason: ParseResult.TreeFormatter.formatErrorSync(e) })
          ),
        onRight: (spec) => Effect.sync(() => faults.add(spec))
      })
    const addFault: (fault: Fault) => Effect.Effect<void, InvalidArgumentError> = addFaultUnknown

    const admin = HttpRouter.empty.pipe(
      HttpRouter.get("/__emulator/state", Effect.map(snapshot, (s) => adminJson(s))),
      HttpRouter.post("/__emulator/reset", Effect.as(reset, adminJson({ status: 200, message: "OK" }))),
      HttpRouter.post(
        "/__emulator/advance",
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const text = yield* Effect.orElseSucceed(request.text, () => "")
          const body = decodeAdvance(parseBody(text))
          if (Either.isLeft(body)) return adminError(400, "advance takes {\"seconds\": N} with N ≥ 0")
          yield* advance(Duration.seconds(body.right.seconds))
          return adminJson({ status: 200, message: "OK", now: yield* now })
        })
      ),
      HttpRouter.get("/__emulator/faults", Effect.sync(() => adminJson({ faults: faults.list }))),
      HttpRouter.post(
        "/__emulator/faults",
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const text = yield* Effect.orElseSucceed(request.text, () => "")
          const body = parseBody(text)
          const added = yield* Effect.either(addFaultUnknown(body))
          return Either.match(added, {
            onLeft: (e) => adminError(400, e.message),
            onRight: () => adminJson({ status: 200, message: "OK" })
          })
        })
      ),
      HttpRouter.del(
        "/__emulator/faults",
        Effect.sync(() => {
          faults.clear()
          return adminJson({ status: 200, message: "OK" })
        })
      ),
      HttpRouter.get("/__emulator/requests", Effect.sync(() => adminJson({ requests: logInOrder() })))
    )

    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (targetOf(request.url).startsWith("/__emulator/")) {
        return yield* Effect.catchTag(
          admin,
          "RouteNotFound",
          () => Effect.succeed(adminError(404, "Unknown admin route"))
        )
      }
      return yield* presenceApp
    }).pipe(
      Effect.catchAllDefect(() => Effect.succeed(toResponse(presenceError(500, "Internal emulator error"))))
    )

    // expire in the background too, so `timeout` events flow without requests
    yield* Effect.forkScoped(expirer)

    const service: Service = {
      app,
      now,
      advance,
      reset,
      snapshot,
      addFault,
      clearFaults: Effect.sync(() => faults.clear()),
      events: Stream.fromPubSub(pubsub),
      requests: Effect.sync(logInOrder),
      serve: (method, target) => Effect.map(serve(method, target), (r) => ({ status: r.status, body: r.body }))
    }
    return service
  })
