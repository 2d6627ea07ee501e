/**
 * `Presence.typed(schema)`: the untyped operations, with state encoded on the way out and decoded
 * on the way in.
 *
 * Results are not copied: a typed here-now's maps are views over the untyped result's maps that
 * decode an occupant when it is first read (once per occupant instance — a roster's views share
 * their unchanged occupants, and so share their decoding).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Subscribable from "effect/Subscribable"
import type { TypedPresence } from "../Presence.js"
import { InvalidArgumentError } from "../PresenceError.js"
import type { PresenceEvent, TypedPresenceEvent } from "../PresenceEvent.js"
import type {
  ChannelOccupancy,
  GetStateResult,
  HereNowResult,
  OccupantInfo,
  PresenceState,
  TypedChannelOccupancy,
  TypedGetStateResult,
  TypedHereNowResult,
  TypedOccupantInfo,
  TypedState
} from "../PresenceResult.js"
import type { PresenceSession, TypedPresenceSession } from "../PresenceSession.js"
import * as announce from "./announce.js"
import * as events from "./events/stream.js"
import * as hereNowInternal from "./hereNow.js"
import { boundedParseError, decodeUnknownEither, describeIssue, encodeEither } from "./issue.js"
import { DerivedMap } from "./readonlyMap.js"
import { roster } from "./roster/roster.js"
import { enter } from "./session.js"
import * as state from "./state.js"
import { checkState, isPresenceState } from "./validation.js"
import { isJsonObject } from "./wire.js"

/**
 * A `ReadonlyMap` over another, its values converted when read (each conversion cached by
 * `convert`'s caller).
 *
 * @internal
 */
export class MappedMap<V extends object, W> extends DerivedMap<W> {
  constructor(
    private readonly source: ReadonlyMap<string, V>,
    private readonly convert: (v: V) => W
  ) {
    super()
  }
  get size(): number {
    return this.source.size
  }
  get(key: string): W | undefined {
    const v = this.source.get(key)
    return v === undefined ? undefined : this.convert(v)
  }
  has(key: string): boolean {
    return this.source.has(key)
  }
  *entries(): MapIterator<[string, W]> {
    for (const [k, v] of this.source) yield [k, this.convert(v)]
  }
}

/** `f`, remembered per argument (weakly: what is no longer reachable is forgotten). */
const cached = <K extends object, V>(f: (k: K) => V): (k: K) => V => {
  const memo = new WeakMap<K, V>()
  return (k) => {
    let v = memo.get(k)
    if (v === undefined) {
      v = f(k)
      memo.set(k, v)
    }
    return v
  }
}

const NO_STATE: TypedState<never> = { state: Option.none(), stateError: Option.none() }

const isEmptyObject = (u: unknown): boolean => isJsonObject(u) && Object.keys(u).length === 0

/** Reads states of one type: decoding in, encoding (and checking) out. */
const makeCodec = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = decodeUnknownEither(schema)
  const encode = encodeEither(schema)
  const decoded = (u: unknown): TypedState<A> =>
    Either.match(decode(u), {
      // get-state answers `{}` where there is no state: that is no state, not a bad one
      onLeft: (error): TypedState<A> =>
        isEmptyObject(u)
          ? NO_STATE
          : { state: Option.none(), stateError: Option.some(boundedParseError(schema.ast, error, u)) },
      onRight: (a): TypedState<A> => ({ state: Option.some(a), stateError: Option.none() })
    })
  const fromOption = (state: Option.Option<unknown>): TypedState<A> =>
    Option.isNone(state) ? NO_STATE : decoded(state.value)
  const encoded = (argument: string, a: A): Either.Either<PresenceState, InvalidArgumentError> => {
    const e = encode(a)
    if (Either.isLeft(e)) {
      return Either.left(
        new InvalidArgumentError({
          argument,
          reason: `does not encode: ${describeIssue(e.left.issue)}`,
          parseError: e.left
        })
      )
    }
    const out: unknown = e.right
    if (!isPresenceState(out)) {
      return Either.left(
        new InvalidArgumentError({
          argument,
          reason: `encodes to something that is not presence state: ${checkState(out)}`
        })
      )
    }
    return Either.right(out)
  }
  return { decoded, fromOption, encoded }
}

type Codec<A> = ReturnType<typeof makeCodec<A, unknown>>

/** Per-channel state going out: each value encoded; what is not a map of values is left to the untyped checks. */
const encodeStates = <A>(
  codec: Codec<A>,
  argument: string,
  states: Readonly<Record<string, A>> | ReadonlyMap<string, A> | undefined
): Either.Either<ReadonlyMap<string, PresenceState> | undefined, InvalidArgumentError> => {
  if (states === undefined || states === null) return Either.right(undefined)
  if (typeof states !== "object") {
    return Either.left(
      new InvalidArgumentError({ argument, reason: "must be an object or a Map of states by channel" })
    )
  }
  let entries: Array<readonly [string, A]>
  try {
    entries = states instanceof Map ? [...states] : Object.entries(states)
  } catch {
    return Either.left(new InvalidArgumentError({ argument, reason: "could not be read (reading it threw)" }))
  }
  const out = new Map<string, PresenceState>()
  for (const [name, a] of entries) {
    const e = codec.encoded(`${argument}[${JSON.stringify(name.slice(0, 100))}]`, a)
    if (Either.isLeft(e)) return Either.left(e.left)
    out.set(name, e.right)
  }
  return Either.right(out)
}

/** Typed results over untyped ones, decoding lazily and once per instance. */
const makeResults = <A>(codec: Codec<A>) => {
  const occupant = cached((o: OccupantInfo): TypedOccupantInfo<A> => ({ uuid: o.uuid, ...codec.fromOption(o.state) }))
  const channel = cached((c: ChannelOccupancy): TypedChannelOccupancy<A> => ({
    channelName: c.channelName,
    count: c.count,
    hasMore: c.hasMore,
    uuids: new MappedMap(c.uuids, occupant)
  }))
  const hereNow = cached((r: HereNowResult): TypedHereNowResult<A> => ({
    totalChannels: r.totalChannels,
    totalOccupancy: r.totalOccupancy,
    nextOffset: r.nextOffset,
    channels: new MappedMap(r.channels, channel)
  }))
  const getState = (r: GetStateResult): TypedGetStateResult<A> => {
    const channels = new Map<string, TypedState<A>>()
    for (const [name, s] of r.channels) channels.set(name, codec.decoded(s))
    return { uuid: r.uuid, channels }
  }
  const event = (e: PresenceEvent): TypedPresenceEvent<A> => {
    if (e._tag === "Interval") return e
    const s = codec.fromOption(e.state)
    return { ...e, state: s.state, stateError: s.stateError }
  }
  return { hereNow, getState, event }
}

const badSchema = Effect.fail(new InvalidArgumentError({ argument: "schema", reason: "must be an effect/Schema" }))

/** @internal */
export const typed = <A, I>(schema: Schema.Schema<A, I>): TypedPresence<A> => {
  if (!Schema.isSchema(schema)) {
    return {
      hereNow: () => badSchema,
      hereNowAll: () => badSchema,
      getState: () => badSchema,
      setState: () => badSchema,
      announceHeartbeat: () => badSchema,
      enter: () => badSchema,
      events: () => Stream.fromEffect(badSchema),
      subscribeEvents: () => badSchema,
      roster: () => badSchema
    }
  }
  const codec: Codec<A> = makeCodec(schema)
  const results = makeResults(codec)
  const session = (s: PresenceSession) => typedSession(s, codec)
  return {
    hereNow: (options) => Effect.map(hereNowInternal.hereNow(options), results.hereNow),
    hereNowAll: (options) => Effect.map(hereNowInternal.hereNowAll(options), results.hereNow),
    getState: (options) => Effect.map(state.getState(options), results.getState),
    setState: (options) =>
      Effect.flatMap(
        codec.encoded("state", options?.state),
        (encoded) => Effect.map(state.setState({ ...options, state: encoded }), (r) => codec.decoded(r.state))
      ),
    announceHeartbeat: (options) =>
      Effect.flatMap(
        encodeStates(codec, "state", options?.state),
        (encoded) => announce.announceHeartbeat({ ...options, state: encoded })
      ),
    enter: (options) =>
      Effect.flatMap(
        encodeStates(codec, "state", options?.state),
        (encoded) => Effect.map(enter({ ...options, state: encoded }), session)
      ),
    events: (options) => Stream.map(events.events(options), results.event),
    subscribeEvents: (options) =>
      Effect.map(events.subscribeEvents(options), (stream) => Stream.map(stream, results.event)),
    roster: (options) => Effect.map(roster(options), (r) => Subscribable.map(r, results.hereNow))
  }
}

const typedSession = <A>(s: PresenceSession, codec: Codec<A>): TypedPresenceSession<A> => ({
  userId: s.userId,
  status: s.status,
  statusChanges: s.statusChanges,
  channels: s.channels,
  remove: s.remove,
  add: (targets) =>
    Effect.flatMap(encodeStates(codec, "state", targets?.state), (encoded) => s.add({ ...targets, state: encoded })),
  setState: (a, targets) => Effect.flatMap(codec.encoded("state", a), (encoded) => s.setState(encoded, targets))
})
