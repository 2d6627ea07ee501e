/**
 * `Presence.events`: a stream on the shared long-poll of its keyset, origin and client.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { KeysetService } from "../../Keyset.js"
import type { EventsOptions } from "../../Presence.js"
import type { PresenceError } from "../../PresenceError.js"
import type { PresenceEvent } from "../../PresenceEvent.js"
import { PubNubConfig } from "../../PubNubConfig.js"
import { keysetKey } from "../coalesce.js"
import { invalid, readOptions, resolveKeyset, TARGET_KEYS, targets } from "../options.js"
import { currentShared } from "../processState.js"
import { baseUrl } from "../request.js"
import { type Item, join, leave, makeSubscriber } from "./hub.js"

/** How many events a stream holds for a slow consumer before the shared poll waits for it. */
const CAPACITY = 4096

/** The default reconnect schedule: jittered exponential from 1 second, at most 30 seconds apart, for ever. @internal */
export const DEFAULT_RETRY: Schedule.Schedule<unknown, PresenceError> = Schedule.exponential("1 second", 2).pipe(
  Schedule.jittered,
  Schedule.either(Schedule.spaced(Duration.seconds(30)))
)

const checkTimetoken = (u: unknown) =>
  u === undefined
    ? Effect.succeed(undefined)
    : typeof u === "string" && /^\d{1,20}$/.test(u)
    ? Effect.succeed(BigInt(u))
    : typeof u === "bigint" && u >= 0n
    ? Effect.succeed(u)
    : invalid("timetoken", "must be a timetoken: a string of digits")

/** The `retry` option, or the default. @internal */
export const checkRetry = (retry: Schedule.Schedule<unknown, PresenceError> | undefined) =>
  retry === undefined
    ? Effect.succeed(DEFAULT_RETRY)
    : Schedule.isSchedule(retry)
    ? Effect.succeed(retry)
    : invalid("retry", "must be a Schedule")

/**
 * A stream's items, with gap signals when `signals` (the roster wants them), live when this
 * returns: everything after `since` (the hub's cursor, or `timetoken`) is in it.
 *
 * @internal
 */
export const subscribeItems = (
  input: EventsOptions,
  signals: boolean
): Effect.Effect<
  { readonly since: string; readonly items: Mailbox.ReadonlyMailbox<Item, PresenceError> },
  PresenceError,
  Scope.Scope | KeysetService | HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, [...TARGET_KEYS, "timetoken", "retry"])
    const target = yield* targets(options, true)
    const timetoken = yield* checkTimetoken(options.timetoken)
    const retry = yield* checkRetry(options.retry)
    const keyset = yield* resolveKeyset(options)
    const shared = yield* currentShared
    const config = yield* PubNubConfig
    const client = yield* HttpClient.HttpClient
    const context = Context.omit(Tracer.ParentSpan)(yield* Effect.context<HttpClient.HttpClient>())
    const mailbox = yield* Mailbox.make<Item, PresenceError>({ capacity: CAPACITY, strategy: "suspend" })
    const s = makeSubscriber({
      channels: target.channels,
      groups: target.channelGroups,
      deliver: (items) => mailbox.offerAll(items),
      fail: (error) => mailbox.fail(error),
      retry,
      signals
    })
    const place = { shared, client, key: `${baseUrl(config)}\u0000${keysetKey(shared, keyset)}`, keyset, context }
    yield* Effect.acquireRelease(join(place, s, timetoken), (hub) => leave(shared, hub, [s]))
    return { since: String(s.since), items: mailbox }
  })

const onlyEvents = (items: Stream.Stream<Item, PresenceError>): Stream.Stream<PresenceEvent, PresenceError> =>
  Stream.filterMap(items, (item) => (item._tag === "Event" ? Option.some(item.event) : Option.none()))

/** @internal */
export const subscribeEvents = (
  options: EventsOptions
): Effect.Effect<
  Stream.Stream<PresenceEvent, PresenceError>,
  PresenceError,
  Scope.Scope | KeysetService | HttpClient.HttpClient
> => Effect.map(subscribeItems(options, false), ({ items }) => onlyEvents(Mailbox.toStream(items)))

/** @internal */
export const events = (
  options: EventsOptions
): Stream.Stream<PresenceEvent, PresenceError, KeysetService | HttpClient.HttpClient> =>
  Stream.unwrapScoped(subscribeEvents(options))
