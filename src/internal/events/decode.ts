/**
 * The subscribe long-poll's answers, decoded: the cursor to resume from, and each message — an
 * envelope whose payload is a presence event. Lenient where the service is loose (a `timestamp`
 * sent as a string); a message that does not decode is skipped, not fatal.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { describeIssue } from "../issue.js"
import { StateObject } from "../wire.js"

/** A timetoken: digits, sent as a string (some proxies turn it into a number). */
const Timetoken = Schema.Union(
  Schema.String.pipe(Schema.pattern(/^\d{1,20}$/)),
  Schema.transform(Schema.Int.pipe(Schema.nonNegative()), Schema.String, {
    strict: true,
    decode: (n) => String(n),
    encode: (s) => Number(s)
  })
)

/** Where to resume: `t`, and the region `r`. @internal */
export const Cursor = Schema.Struct({
  t: Timetoken,
  r: Schema.optionalWith(Schema.Number, { default: () => 0 })
})
/** @internal */
export type Cursor = typeof Cursor.Type

/** A subscribe answer: the cursor, and the messages (decoded one by one). @internal */
export const SubscribeBody = Schema.Struct({
  t: Cursor,
  m: Schema.Array(Schema.Unknown)
})

const Envelope = Schema.Struct({
  p: Schema.Struct({ t: Timetoken }),
  c: Schema.String,
  b: Schema.optional(Schema.String),
  d: Schema.Unknown
})

/** Unix seconds, as a number or a numeric string. */
const Timestamp = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.finite())

const Count = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

const Uuids = Schema.Array(Schema.String)

const Change = Schema.Struct({
  action: Schema.Literal("join", "leave", "timeout"),
  uuid: Schema.String,
  timestamp: Timestamp,
  occupancy: Count,
  data: Schema.optional(StateObject)
})

const StateChanged = Schema.Struct({
  action: Schema.Literal("state-change"),
  uuid: Schema.String,
  timestamp: Timestamp,
  occupancy: Count,
  data: StateObject
})

const IntervalPayload = Schema.Struct({
  action: Schema.Literal("interval"),
  timestamp: Timestamp,
  occupancy: Count,
  join: Schema.optional(Uuids),
  leave: Schema.optional(Uuids),
  timeout: Schema.optional(Uuids),
  here_now_refresh: Schema.optional(Schema.Boolean)
})

const Payload = Schema.Union(Change, StateChanged, IntervalPayload)

/** A presence message, decoded. @internal */
export interface Message {
  readonly timetoken: string
  /** the channel, without `-pnpres` */
  readonly channel: string
  /** the subscription it matched (`b`, or `c` without one), with `-pnpres` */
  readonly via: string
  /** `b` when it differs from `c`: the group's `<group>-pnpres` */
  readonly group: string | undefined
  readonly payload: typeof Payload.Type
}

const decodeEnvelope = Schema.decodeUnknownEither(Envelope, { errors: "first" })
const decodePayload = Schema.decodeUnknownEither(Payload, { errors: "first" })

/** The suffix of presence channels. @internal */
export const PNPRES = "-pnpres"

/** A message, or why it cannot be read. @internal */
export const decodeMessage = (u: unknown): Either.Either<Message, string> => {
  const env = decodeEnvelope(u)
  if (Either.isLeft(env)) return Either.left(describeIssue(env.left.issue))
  const e = env.right
  if (!e.c.endsWith(PNPRES)) return Either.left(`"${e.c.slice(0, 100)}" is not a presence channel`)
  const payload = decodePayload(e.d)
  if (Either.isLeft(payload)) return Either.left(`["d"]${describeIssue(payload.left.issue)}`)
  const via = e.b ?? e.c
  return Either.right({
    timetoken: e.p.t,
    channel: e.c.slice(0, -PNPRES.length),
    via,
    group: via !== e.c && via.endsWith(PNPRES) ? via.slice(0, -PNPRES.length) : undefined,
    payload: payload.right
  })
}

/** What tells two deliveries of one event apart from two events. @internal */
export const messageKey = (m: Message): string => {
  const p = m.payload
  return `${m.timetoken}\u0000${m.channel}\u0000${m.via}\u0000${p.action}\u0000${
    "uuid" in p ? p.uuid : ""
  }\u0000${p.timestamp}`
}
