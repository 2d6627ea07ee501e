/**
 * The subscribe long-poll's answers, decoded: the cursor to resume from, and each message — an
 * envelope whose payload is a presence event. Lenient where the service is loose (a `timestamp`
 * sent as a string); a message that does not decode is skipped, not fatal.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { decodeUnknownEither, describeIssue } from "../issue.js"
import { isJsonObject, StateObject } from "../wire.js"

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

const decodeEnvelope = decodeUnknownEither(Envelope)
const decodePayload = decodeUnknownEither(Payload)

/** The suffix of presence channels. @internal */
export const PNPRES = "-pnpres"

const isDigits = (u: unknown): u is string => typeof u === "string" && u.length <= 20 && /^\d+$/.test(u)
const isCount = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u) && u >= 0
const isUuids = (u: unknown): u is ReadonlyArray<string> | undefined =>
  u === undefined || (Array.isArray(u) && u.every((x) => typeof x === "string"))

/**
 * The common shape, checked by hand: the answer to every poll goes through here, and the schema
 * costs several times more. Anything it does not recognise (a string timestamp, a number
 * timetoken, a bad message) goes to the schema, which decides — so both always agree
 * (test/events-decode.test.ts checks it on generated messages).
 */
const fastMessage = (u: unknown): Message | undefined => {
  if (!isJsonObject(u)) return undefined
  const p = u.p
  const c = u.c
  const b = u.b
  const d = u.d
  if (!isJsonObject(p) || !isDigits(p.t) || typeof c !== "string" || !c.endsWith(PNPRES)) return undefined
  if ((b !== undefined && typeof b !== "string") || !isJsonObject(d)) return undefined
  if (typeof d.timestamp !== "number" || !Number.isFinite(d.timestamp) || !isCount(d.occupancy)) return undefined
  const action = d.action
  let payload: typeof Payload.Type
  if (action === "join" || action === "leave" || action === "timeout") {
    if (typeof d.uuid !== "string" || (d.data !== undefined && !isJsonObject(d.data))) return undefined
    payload = { action, uuid: d.uuid, timestamp: d.timestamp, occupancy: d.occupancy, data: d.data }
  } else if (action === "state-change") {
    if (typeof d.uuid !== "string" || !isJsonObject(d.data)) return undefined
    payload = { action, uuid: d.uuid, timestamp: d.timestamp, occupancy: d.occupancy, data: d.data }
  } else if (action === "interval") {
    const { join, leave, timeout, here_now_refresh } = d
    if (!isUuids(join) || !isUuids(leave) || !isUuids(timeout)) return undefined
    if (here_now_refresh !== undefined && typeof here_now_refresh !== "boolean") return undefined
    payload = { action, timestamp: d.timestamp, occupancy: d.occupancy, join, leave, timeout, here_now_refresh }
  } else {
    return undefined
  }
  const via = b ?? c
  return {
    timetoken: p.t,
    channel: c.slice(0, -PNPRES.length),
    via,
    group: via !== c && via.endsWith(PNPRES) ? via.slice(0, -PNPRES.length) : undefined,
    payload
  }
}

/** A message, or why it cannot be read. @internal */
export const decodeMessage = (u: unknown): Either.Either<Message, string> => {
  const fast = fastMessage(u)
  return fast === undefined ? decodeMessageWithSchema(u) : Either.right(fast)
}

/** The schema's reading of a message (what the fast path must agree with). @internal */
export const decodeMessageWithSchema = (u: unknown): Either.Either<Message, string> => {
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
