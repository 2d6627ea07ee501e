/**
 * The wire format of presence responses (docs/protocol.md, "Answers"), as Schemas. The client decodes with
 * these; the emulator builds its bodies as these types and encodes with them.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

/** A JSON object: not `null`, not an array. @internal */
export const isJsonObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A state object: a JSON object (not an array), passed through as parsed. (`Schema.Record` would
 * copy it key by key, and a key named `__proto__` would be lost in the copy.)
 *
 * @internal
 */
export const StateObject: Schema.Schema<{ readonly [key: string]: unknown }> = Schema.declare(isJsonObject, {
  identifier: "StateObject",
  description: "a JSON object"
})
/** @internal */
export type StateObject = typeof StateObject.Type

/** One occupant in a `uuids` list, as an object. @internal */
export const OccupantObject = Schema.Struct({ uuid: Schema.String, state: Schema.optional(StateObject) })

/**
 * A JSON object whose values are all `value`, decoded into a fresh object without a prototype.
 * Keys are JSON data, not property names: `Schema.Record` writes them into an ordinary object,
 * where a channel named `__proto__` sets the prototype instead of a key and vanishes.
 *
 * @internal
 */
export const JsonRecord = <A, I>(
  value: Schema.Schema<A, I>
): Schema.Schema<{ readonly [key: string]: A }, { readonly [key: string]: I }> =>
  Schema.declare([value], {
    decode: (value) => recordWith(ParseResult.decodeUnknownEither(value)),
    encode: (value) => recordWith(ParseResult.encodeUnknownEither(value))
  }, { identifier: "JsonRecord", description: "a JSON object" })

const recordWith = <B>(
  each: (u: unknown, options?: AST.ParseOptions) => Either.Either<B, ParseResult.ParseIssue>
) =>
(input: unknown, options: AST.ParseOptions, ast: AST.Declaration): Either.Either<
  { readonly [key: string]: B },
  ParseResult.ParseIssue
> => {
  if (!isJsonObject(input)) return Either.left(new ParseResult.Type(ast, input))
  const out: { [key: string]: B } = Object.create(null)
  for (const key of Object.keys(input)) {
    const r = each(input[key], options)
    if (Either.isLeft(r)) return Either.left(new ParseResult.Pointer(key, input, r.left))
    out[key] = r.right
  }
  return Either.right(out)
}

/** A count: a whole number, 0 or more. @internal */
export const Count = Schema.NonNegativeInt

// Plain `typeof` checks rather than `Predicate.hasProperty`: this runs once per occupant, and on a
// 20,000-occupant body the `in`-based checks cost ~4× as much (~250 µs per answer).
const isOccupant = (u: unknown): u is string | typeof OccupantObject.Type => {
  if (typeof u === "string") return true
  if (typeof u !== "object" || u === null) return false
  const o: { readonly uuid?: unknown; readonly state?: unknown } = u
  return typeof o.uuid === "string" && (o.state === undefined || isJsonObject(o.state))
}

/**
 * One occupant in a `uuids` list: a bare uuid, or `{uuid, state?}`. Equivalent to
 * `Schema.Union(Schema.String, OccupantObject)`, checked by one guard instead: here-now bodies
 * list up to 1,000 occupants per channel, and a union allocates a failure for every object item
 * before it tries the second member.
 *
 * @internal
 */
export const Occupant: Schema.Schema<string | typeof OccupantObject.Type> = Schema.declare(
  isOccupant,
  {
    identifier: "Occupant",
    description: "a uuid, or an object with a string `uuid` and an optional object `state`"
  }
)
/** @internal */
export type Occupant = typeof Occupant.Type

const isOccupantList = (u: unknown): u is ReadonlyArray<Occupant> => {
  if (!Array.isArray(u)) return false
  for (let i = 0; i < u.length; i++) {
    if (!isOccupant(u[i])) return false
  }
  return true
}

const checkOccupantList = (
  input: unknown,
  _options: unknown,
  ast: AST.Declaration
): Either.Either<ReadonlyArray<Occupant>, ParseResult.ParseIssue> => {
  if (isOccupantList(input)) return Either.right(input)
  if (!Array.isArray(input)) return Either.left(new ParseResult.Type(ast, input))
  const i = input.findIndex((item) => !isOccupant(item))
  return Either.left(new ParseResult.Pointer(i, input, new ParseResult.Type(Occupant.ast, input[i])))
}

/**
 * A `uuids` list: `Schema.Array(Occupant)`, checked as one declaration. Here-now bodies list up to
 * 1,000 occupants per channel, and an array schema allocates an indexed result per item; this
 * checks each item with the guard and returns the input itself. A bad item is still reported at
 * its index.
 *
 * @internal
 */
export const OccupantList: Schema.Schema<ReadonlyArray<Occupant>> = Schema.declare([], {
  decode: () => checkOccupantList,
  encode: () => checkOccupantList
}, { identifier: "OccupantList", description: "an array of occupants" })

const Envelope = {
  status: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.String),
  service: Schema.optional(Schema.String)
}

/** Here now, one channel, no group: flat. @internal */
export const HereNowFlat = Schema.Struct({
  ...Envelope,
  uuids: Schema.optional(OccupantList),
  occupancy: Count
})
/** @internal */
export type HereNowFlat = typeof HereNowFlat.Type

/** One channel inside a nested here-now payload. @internal */
export const ChannelEntry = Schema.Struct({
  uuids: Schema.optional(OccupantList),
  occupancy: Count
})
/** @internal */
export type ChannelEntry = typeof ChannelEntry.Type

/** Here now, several channels, any group, or global: nested. @internal */
export const HereNowNested = Schema.Struct({
  ...Envelope,
  payload: Schema.Struct({
    channels: JsonRecord(ChannelEntry),
    total_channels: Count,
    total_occupancy: Count
  })
})
/** @internal */
export type HereNowNested = typeof HereNowNested.Type

/** Where now (a body without `payload` means no channels). @internal */
export const WhereNow = Schema.Struct({
  ...Envelope,
  payload: Schema.optional(Schema.Struct({ channels: Schema.Array(Schema.String) }))
})
/** @internal */
export type WhereNow = typeof WhereNow.Type

/** Get state for several channels or any group. @internal */
export const GetStateMulti = Schema.Struct({
  ...Envelope,
  uuid: Schema.optional(Schema.String),
  payload: Schema.Struct({ channels: JsonRecord(StateObject) })
})
/** @internal */
export type GetStateMulti = typeof GetStateMulti.Type

/** Get state for one channel: `payload` is the state. @internal */
export const GetStateSingle = Schema.Struct({
  ...Envelope,
  uuid: Schema.optional(Schema.String),
  channel: Schema.optional(Schema.String),
  payload: StateObject
})
/** @internal */
export type GetStateSingle = typeof GetStateSingle.Type

/** Set state: the state that was set. @internal */
export const SetState = Schema.Struct({ ...Envelope, payload: StateObject })
/** @internal */
export type SetState = typeof SetState.Type

/** Heartbeat. @internal */
export const Heartbeat = Schema.Struct({ ...Envelope })
/** @internal */
export type Heartbeat = typeof Heartbeat.Type

/** Leave. @internal */
export const Leave = Schema.Struct({ ...Envelope, action: Schema.optional(Schema.Literal("leave")) })
/** @internal */
export type Leave = typeof Leave.Type

/** An error body. Every field is optional: proxies send all sorts. @internal */
export const ErrorBody = Schema.Struct({
  status: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.Unknown),
  message: Schema.optional(Schema.String),
  service: Schema.optional(Schema.String),
  payload: Schema.optional(Schema.Struct({
    channels: Schema.optional(Schema.Array(Schema.String)),
    "channel-groups": Schema.optional(Schema.Array(Schema.String))
  }))
})
/** @internal */
export type ErrorBody = typeof ErrorBody.Type

/** Channel-group registry: list. @internal */
export const ChannelGroupList = Schema.Struct({
  ...Envelope,
  error: Schema.optional(Schema.Boolean),
  payload: Schema.Struct({ group: Schema.String, channels: Schema.Array(Schema.String) })
})
/** @internal */
export type ChannelGroupList = typeof ChannelGroupList.Type
