/**
 * The emulator as a service and an `HttpApp`, put together from its pieces: the store (presence
 * state), the virtual clock, the expirer (the shared timer loop over the store's expiry heaps),
 * the request log, faults, the request dispatcher and the admin API.
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
import type {
  DropConnection as DropConnectionType,
  Fault,
  Options,
  PresenceEvent,
  Service,
  Snapshot
} from "../../Emulator.js"
import { InvalidArgumentError } from "../../PresenceError.js"
import { describeIssue } from "../issue.js"
import { makeTimer, nudge, runTimer } from "../timer.js"
import { makeAccess } from "./access.js"
import { adminApp, adminError, adminJson, decodeBody, makeGuard } from "./admin.js"
import { VirtualClock } from "./clock.js"
import { Faults, FaultSpec } from "./faults.js"
import { RequestLog } from "./log.js"
import type { HereNowCache } from "./presence.js"
import * as Routes from "./routes.js"
import { Store } from "./store.js"
import { presenceError, recordOf, type Reply, targetOf } from "./target.js"

/** The content type the real service answers with. @internal */
export const CONTENT_TYPE = "text/javascript; charset=\"UTF-8\""

/** Expiry runs in batches of this many, letting other requests in between. */
const EXPIRY_BATCH = 5000

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

const decodeFault = Schema.decodeUnknownEither(FaultSpec, { errors: "first" })
const AdvanceBody = Schema.Struct({ seconds: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()) })
const decodeAdvance = decodeBody(AdvanceBody)

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
  Effect.gen(function*() {
    const store = new Store()
    store.recordEvents = true
    const clock = new VirtualClock()
    const faults = new Faults()
    const log = new RequestLog()
    const access = makeAccess(options)
    const cache: HereNowCache = {
      millis: Math.max(0, (options.hereNowCacheSeconds ?? 0) * 1000),
      entries: new Map()
    }
    const pubsub = yield* PubSub.sliding<PresenceEvent>(4096)

    const flushEvents = Effect.suspend(() => {
      const events = store.takeEvents()
      return events.length === 0 ? Effect.void : PubSub.publishAll(pubsub, events)
    })

    /** Everything due by `now`, in batches, with events published as they happen. */
    const expireAll = (now: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const n = store.expire(now, EXPIRY_BATCH)
        return Effect.zipRight(
          flushEvents,
          n < EXPIRY_BATCH ? Effect.void : Effect.zipRight(Effect.yieldNow(), expireAll(now))
        )
      })
    const expireNow = Effect.flatMap(clock.now, (t) => Effect.as(expireAll(t), t))

    // the expirer sleeps until the earliest expiry; a request or an `advance` that brings one
    // closer wakes it
    const timer = yield* makeTimer
    const nudgeExpirer = Effect.suspend(() => {
      const next = store.nextExpiry()
      return next === undefined ? Effect.void : nudge(timer, next)
    })
    yield* Effect.forkScoped(runTimer(timer, () => Effect.asVoid(expireNow), () => store.nextExpiry()))

    const serve = (method: string, target: string) =>
      Effect.gen(function*() {
        const now = yield* expireNow
        const realNow = yield* clock.realNow
        const h = yield* Routes.handle({ store, access, cache, now, realNow }, method, target)
        log.record(h, method, target, now)
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
            return toResponse({ status: 200, body: MALFORMED_BODY })
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

    const snapshot: Effect.Effect<Snapshot> = Effect.map(expireNow, (now) => {
      const keys: Array<readonly [string, Snapshot["keys"][string]]> = []
      for (const [sub, ks] of store.keyspaces) {
        if (ks.channels.size === 0 && ks.groups.size === 0 && ks.states.size === 0) continue
        const channels = [...ks.channels].map(([name, occupants]) =>
          [name, {
            occupancy: occupants.size,
            occupants: recordOf([...occupants].map(([uuid, o]) => {
              const state = store.stateOf(ks, name, uuid)
              return [
                uuid,
                state === undefined
                  ? { expiresAt: o.at, timeout: o.timeout }
                  : { expiresAt: o.at, timeout: o.timeout, state }
              ] as const
            }))
          }] as const
        )
        const absentStates = [...ks.states].flatMap(([channel, byUuid]) => {
          const absent = [...byUuid].filter(([uuid]) => ks.channels.get(channel)?.has(uuid) !== true)
          return absent.length === 0 ? [] : [
            [
              channel,
              recordOf(absent.map(([uuid, e]) => [uuid, { expiresAt: e.at, state: e.state }] as const))
            ] as const
          ]
        })
        const groups = [...ks.groups].map(([g, members]) => [g, [...members]] as const)
        keys.push([sub, {
          channels: recordOf(channels),
          groups: recordOf(groups),
          absentStates: recordOf(absentStates)
        }])
      }
      return { now, present: store.presentCount, keys: recordOf(keys), stats: { ...log.stats } }
    })

    const reset = Effect.sync(() => {
      store.reset()
      faults.clear()
      cache.entries.clear()
      log.reset()
      clock.reset()
    })

    const advance = (duration: Duration.DurationInput): Effect.Effect<void, InvalidArgumentError> =>
      Effect.suspend(() => {
        // a negative number would be read as zero by `Duration`: refuse it as what it is
        const d = typeof duration === "number" && !(duration >= 0) ? Option.none() : Duration.decodeUnknown(duration)
        const refused = Option.isNone(d) ? "must be a Duration, 0 or more" : clock.advance(Duration.toMillis(d.value))
        if (refused !== undefined) {
          return Effect.fail(new InvalidArgumentError({ argument: "advance", reason: refused }))
        }
        return Effect.zipRight(expireNow, nudge(timer, Number.NEGATIVE_INFINITY))
      })

    // the admin API hands over whatever JSON it was sent; both check it the same way
    const addFaultUnknown = (fault: unknown): Effect.Effect<void, InvalidArgumentError> =>
      Either.match(decodeFault(fault), {
        onLeft: (e) => Effect.fail(new InvalidArgumentError({ argument: "fault", reason: describeIssue(e.issue) })),
        onRight: (spec) => Effect.sync(() => faults.add(spec))
      })
    const addFault: (fault: Fault) => Effect.Effect<void, InvalidArgumentError> = addFaultUnknown

    const admin = adminApp(makeGuard(options.admin), {
      snapshot,
      reset,
      advance: (body) =>
        Either.match(decodeAdvance(body, "advance takes {\"seconds\": N} with N ≥ 0"), {
          onLeft: Effect.succeed,
          onRight: ({ seconds }) =>
            Effect.match(Effect.zipRight(advance(Duration.seconds(seconds)), clock.now), {
              onFailure: (e) => adminError(400, `advance ${e.reason}`),
              onSuccess: (now) => adminJson({ status: 200, message: "OK", now })
            })
        }),
      addFault: (body) =>
        Effect.match(addFaultUnknown(body), {
          onFailure: (e) => adminError(400, e.message),
          onSuccess: () => adminJson({ status: 200, message: "OK" })
        }),
      faults: Effect.sync(() => faults.list),
      clearFaults: Effect.sync(() => faults.clear()),
      requests: Effect.sync(() => log.inOrder())
    })

    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      return targetOf(request.url).startsWith("/__emulator/") ? yield* admin : yield* presenceApp
    }).pipe(
      Effect.catchAllDefect(() => Effect.succeed(toResponse(presenceError(500, "Internal emulator error"))))
    )

    const service: Service = {
      app,
      now: clock.now,
      advance,
      reset,
      snapshot,
      addFault,
      clearFaults: Effect.sync(() => faults.clear()),
      events: Stream.fromPubSub(pubsub),
      subscribe: Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue)),
      requests: Effect.sync(() => log.inOrder()),
      serve: (method, target) => Effect.map(serve(method, target), (r) => ({ status: r.status, body: r.body }))
    }
    return service
  })
