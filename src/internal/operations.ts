/**
 * The one-shot presence operations: input checks, request plans, decoding and merging. Results are
 * plain data; `Presence.ts` wraps them in its result classes.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { Keyset, KeysetSelection } from "../Keyset.js"
import { KeysetService } from "../Keyset.js"
import type { KeysetNotFoundError } from "../PresenceError.js"
import type { MalformedResponseError } from "../PresenceError.js"
import { InvalidArgumentError } from "../PresenceError.js"
import { PubNubConfig } from "../PubNubConfig.js"
import { cacheTtlMillis, coalesce, keysetKey, makeFlight } from "./coalesce.js"
import { encode, encodePathList, encodeQuery } from "./encoding.js"
import type { Call, Prepared, RawResponse, RequestFailure } from "./request.js"
import {
  commonQuery,
  decodeWith,
  execute,
  malformed,
  MAX_TARGET_LENGTH,
  presencePrefix,
  SIGNING_RESERVE
} from "./request.js"
import type { Chunk } from "./split.js"
import { plan } from "./split.js"
import type { FlatState } from "./validation.js"
import { checkHeartbeat, checkLimit, checkName, checkOffset, checkUserId, readState } from "./validation.js"
import * as Wire from "./wire.js"
import { isJsonObject } from "./wire.js"

/** @internal */
export type OperationError = RequestFailure | KeysetNotFoundError

/** @internal */
export type StateInfo = "all" | "onlyUUIDs" | "none"

/** A flat presence state. @internal */
export type PresenceState = FlatState

/** @internal */
export interface Targets {
  readonly channels?: Iterable<string> | undefined
  readonly channelGroups?: Iterable<string> | undefined
}

const invalid = (argument: string, reason: string) => Either.left(new InvalidArgumentError({ argument, reason }))

/** @internal */
export const check = (argument: string, value: unknown, checker: (u: unknown) => string | undefined) => {
  const reason = checker(value)
  return reason === undefined ? Either.void : invalid(argument, reason)
}

/**
 * A plain copy of the options an operation reads. Options come from callers with and without
 * types: not an object, or reading them throws (a hostile `Proxy`), is an `InvalidArgumentError`,
 * and everything after works on the copy.
 *
 * @internal
 */
export const readOptions = <O extends object>(
  options: O | undefined,
  keys: ReadonlyArray<keyof O & string>
): Either.Either<Partial<O>, InvalidArgumentError> => {
  if (options === undefined || options === null) return Either.right({})
  if (typeof options !== "object") return invalid("options", "must be an object")
  try {
    const out: Partial<O> = {}
    for (const key of keys) {
      const value = options[key]
      if (value !== undefined) out[key] = value
    }
    return Either.right(out)
  } catch {
    return invalid("options", "could not be read (reading them threw)")
  }
}

/**
 * An iterable of names, checked and de-duplicated (order kept). A lone string is one name. An
 * iterator that throws is an `InvalidArgumentError`, not a defect.
 *
 * @internal
 */
export const names = (
  argument: "channels" | "channelGroups",
  input: Iterable<string> | undefined
): Either.Either<Array<string>, InvalidArgumentError> => {
  if (input === undefined || input === null) return Either.right([])
  const seen = new Set<string>()
  const out: Array<string> = []
  try {
    const items: Iterable<unknown> | undefined = typeof input === "string"
      ? [input]
      : typeof input === "object" && Symbol.iterator in input
      ? input
      : undefined
    if (items === undefined) return invalid(argument, "must be an iterable of names (an array or a Set)")
    for (const name of items) {
      const reason = checkName(name)
      if (typeof name !== "string" || reason !== undefined) {
        const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 100)) : String(typeof name)
        return invalid(argument, `${shown} ${reason ?? "must be a string"}`)
      }
      if (!seen.has(name)) {
        seen.add(name)
        out.push(name)
      }
      if (out.length > MAX_NAMES) return invalid(argument, `must list at most ${MAX_NAMES} names`)
    }
  } catch {
    return invalid(argument, "could not be read (iterating it threw)")
  }
  return Either.right(out)
}

/** More names than fit in any number of requests a call may sensibly make. */
const MAX_NAMES = 100_000

/** @internal */
export const targets = (
  options: Targets,
  required: boolean
): Either.Either<Chunk, InvalidArgumentError> => {
  const channels = names("channels", options.channels)
  if (Either.isLeft(channels)) return Either.left(channels.left)
  const channelGroups = names("channelGroups", options.channelGroups)
  if (Either.isLeft(channelGroups)) return Either.left(channelGroups.left)
  if (required && channels.right.length === 0 && channelGroups.right.length === 0) {
    return invalid("channels", "give at least one channel or channel group")
  }
  return Either.right({ channels: channels.right, channelGroups: channelGroups.right })
}

/** Resolves the keyset for a call. @internal */
export const resolveKeyset = (
  selection: KeysetSelection
): Effect.Effect<Keyset, InvalidArgumentError | KeysetNotFoundError, KeysetService> =>
  Effect.flatMap(KeysetService, (service) => service.resolve({ keyset: selection.keyset, using: selection.using }))

const DUMMY_REQUEST_ID = "00000000-0000-4000-8000-000000000000"

/**
 * Plans the chunks of a call over channels and groups. `fixedPath` is the path around the channel
 * list (`/channel/` + list + `suffix`); `query` is the operation's own query without
 * `channel-group`.
 *
 * @internal
 */
export const planCalls = (
  keyset: Keyset,
  target: Chunk,
  suffix: string,
  query: ReadonlyArray<readonly [string, string]>,
  extraCost?: (name: string) => number
): Effect.Effect<ReadonlyArray<Chunk>, InvalidArgumentError> => {
  // An upper bound first: percent-encoding makes a UTF-16 unit at most 9 characters. Ordinary
  // lists fit with room to spare and need no exact plan.
  let bound = suffix.length + 9 * keyset.subscribeKey.length + 9 * keyset.userId.length + 400
  for (const [k, v] of query) bound += 9 * (k.length + v.length) + 2
  for (const n of target.channels) bound += 9 * n.length + 1 + (extraCost?.(n) ?? 0)
  for (const n of target.channelGroups) bound += 9 * n.length + 3 + (extraCost?.(n) ?? 0)
  const auth = keyset.authToken ?? keyset.authKey
  if (auth !== undefined) bound += 9 * Redacted.value(auth).length + 6
  if (bound + SIGNING_RESERVE <= MAX_TARGET_LENGTH) return Either.right([target])
  return Effect.flatMap(PubNubConfig, (config) => {
    const common = commonQuery(keyset, config.pnsdk, DUMMY_REQUEST_ID)
    const baseLength = presencePrefix(keyset.subscribeKey).length + "/channel/".length + suffix.length + 1 +
      encodeQuery([...query, ...common]).length
    const budget = MAX_TARGET_LENGTH - baseLength - SIGNING_RESERVE
    const chunks = plan(target.channels, target.channelGroups, budget, extraCost)
    return chunks === undefined
      ? Either.left(
        new InvalidArgumentError({
          argument: "request",
          reason:
            "a single channel or group with its state does not fit in one request (URLs are limited to about 32 KiB)"
        })
      )
      : Either.right(chunks)
  })
}

/** The call for one chunk. @internal */
export const chunkCall = (
  chunk: Chunk,
  suffix: string,
  query: ReadonlyArray<readonly [string, string]>
): Call => ({
  path: `/channel/${encodePathList(chunk.channels)}${suffix}`,
  query: chunk.channelGroups.length > 0 ? [...query, ["channel-group", chunk.channelGroups.join(",")]] : query
})

/**
 * The channel of a chunk that is exactly one channel: the service answers such a request in its
 * flat, one-channel shape, which does not name the channel.
 */
const singleChannel = (chunk: Chunk): string | undefined =>
  chunk.channels.length === 1 && chunk.channelGroups.length === 0 ? chunk.channels[0] : undefined

const CHUNK_CONCURRENCY = 4

/** Runs one call per chunk (several at a time); a single chunk runs directly. @internal */
export const eachChunk = <A, E, R>(
  chunks: ReadonlyArray<Chunk>,
  f: (chunk: Chunk) => Effect.Effect<A, E, R>
): Effect.Effect<ReadonlyArray<A>, E, R> =>
  chunks.length === 1
    ? Effect.map(f(chunks[0]), (a) => [a])
    : Effect.forEach(chunks, f, { concurrency: CHUNK_CONCURRENCY })

// ---------------------------------------------------------------------------------------------
// here now
// ---------------------------------------------------------------------------------------------

/** One occupant as decoded: a uuid, or `{uuid, state?}`. @internal */
export type RawOccupant = Wire.Occupant

/** One channel as decoded. @internal */
export interface RawChannel {
  readonly name: string
  readonly occupancy: number
  readonly uuids: ReadonlyArray<RawOccupant> | undefined
}

/** A here-now answer as decoded and merged. @internal */
export interface RawHereNow {
  readonly totalChannels: number
  readonly totalOccupancy: number
  readonly channels: ReadonlyArray<RawChannel>
}

/** @internal */
export interface HereNowOptions extends Targets, KeysetSelection {
  readonly stateInfo?: StateInfo | undefined
  readonly limit?: number | undefined
  readonly offset?: number | undefined
  readonly cacheTtl?: unknown
}

const decodeNested = decodeWith(Wire.HereNowNested)
const decodeFlat = decodeWith(Wire.HereNowFlat)

// `payload` tells the two here-now shapes apart; deciding here, instead of decoding a union,
// spares a failed decode of the other shape on every call.
const decodeHereNow = (single: string | undefined) =>
(
  prepared: Prepared,
  raw: RawResponse,
  json: unknown
): Either.Either<RawHereNow, MalformedResponseError> => {
  if (typeof json === "object" && json !== null && "payload" in json) {
    return Either.map(decodeNested(prepared, raw, json), (body) => {
      const channels: Array<RawChannel> = []
      for (const [name, entry] of Object.entries(body.payload.channels)) {
        channels.push({ name, occupancy: entry.occupancy, uuids: entry.uuids })
      }
      return {
        totalChannels: body.payload.total_channels,
        totalOccupancy: body.payload.total_occupancy,
        channels
      }
    })
  }
  return Either.flatMap(decodeFlat(prepared, raw, json), (body) =>
    single === undefined
      ? Either.left(
        malformed(prepared, raw, "a one-channel (flat) here-now body answered a request for several channels or groups")
      )
      : Either.right({
        totalChannels: 1,
        totalOccupancy: body.occupancy,
        channels: [{ name: single, occupancy: body.occupancy, uuids: body.uuids }]
      }))
}

const mergeHereNow = (parts: ReadonlyArray<RawHereNow>): RawHereNow => {
  if (parts.length === 1) return parts[0]
  const byName = new Map<string, RawChannel>()
  let totalChannels = 0
  let duplicates = 0
  for (const part of parts) {
    totalChannels += part.totalChannels
    for (const ch of part.channels) {
      if (byName.has(ch.name)) duplicates++
      else byName.set(ch.name, ch)
    }
  }
  let totalOccupancy = 0
  for (const ch of byName.values()) totalOccupancy += ch.occupancy
  return {
    totalChannels: Math.max(byName.size, totalChannels - duplicates),
    totalOccupancy,
    channels: [...byName.values()]
  }
}

/** Validated here-now options. @internal */
export interface HereNowPlan {
  readonly keyset: Keyset
  readonly target: Chunk
  readonly stateInfo: StateInfo
  readonly limit: number | undefined
  readonly offset: number
  /** how long a success may be reused (0: only shared while in flight) */
  readonly ttlMillis: number
}

const stateInfos: ReadonlyArray<unknown> = ["all", "onlyUUIDs", "none"]

const SELECTION_KEYS = ["keyset", "using"] as const
const TARGET_KEYS = ["channels", "channelGroups", ...SELECTION_KEYS] as const
const HERE_NOW_KEYS = [...TARGET_KEYS, "stateInfo", "limit", "offset", "cacheTtl"] as const

/** Checks here-now options and resolves the keyset. @internal */
export const hereNowPlan = (
  input: HereNowOptions | undefined
): Effect.Effect<HereNowPlan, InvalidArgumentError | KeysetNotFoundError, KeysetService> => {
  const read = readOptions(input, HERE_NOW_KEYS)
  if (Either.isLeft(read)) return Either.left(read.left)
  const options = read.right
  const ttlMillis = cacheTtlMillis(options.cacheTtl)
  if (Either.isLeft(ttlMillis)) return Either.left(ttlMillis.left)
  const target = targets(options, false)
  if (Either.isLeft(target)) return Either.left(target.left)
  const stateInfo = options.stateInfo ?? "onlyUUIDs"
  if (!stateInfos.includes(stateInfo)) return invalid("stateInfo", `must be "all", "onlyUUIDs" or "none"`)
  if (options.limit !== undefined) {
    const bad = check("limit", options.limit, checkLimit)
    if (Either.isLeft(bad)) return Either.left(bad.left)
  }
  if (options.offset !== undefined) {
    const bad = check("offset", options.offset, checkOffset)
    if (Either.isLeft(bad)) return Either.left(bad.left)
  }
  return Effect.map(resolveKeyset(options), (keyset) => ({
    keyset,
    target: target.right,
    stateInfo,
    limit: options.limit,
    offset: options.offset ?? 0,
    ttlMillis: ttlMillis.right
  }))
}

// names cannot contain `,` or control characters (validation.ts), so joining them is unambiguous
const hereNowKey = (p: HereNowPlan): string =>
  `hereNow\u0000${keysetKey(p.keyset)}\u0000${p.target.channels.join(",")}\u0000${
    p.target.channelGroups.join(",")
  }\u0000${p.stateInfo}\u0000${p.limit ?? ""}\u0000${p.offset}`

/**
 * Here-now calls (split as needed) that identical calls in flight share — and, with a `cacheTtl`,
 * later ones for that long — each with what `build` makes of the answer. The result is built once
 * per request, not once per caller: a cached 20,000-occupant answer is handed out as it is instead
 * of being rebuilt (~1 ms) on every hit. `build` may depend only on what the plan's key holds.
 *
 * @internal
 */
export const sharedHereNow = <A>(build: (raw: RawHereNow, p: HereNowPlan) => A) => {
  const flight = makeFlight<A, OperationError>()
  return (p: HereNowPlan): Effect.Effect<A, OperationError, HttpClient.HttpClient | KeysetService> =>
    coalesce(flight, hereNowKey(p), p.ttlMillis, Effect.map(hereNowRequest(p), (raw) => build(raw, p)))
}

const hereNowRequest = (
  p: HereNowPlan
): Effect.Effect<RawHereNow, OperationError, HttpClient.HttpClient | KeysetService> => {
  const query: Array<readonly [string, string]> = []
  if (p.stateInfo === "none") query.push(["disable_uuids", "1"])
  if (p.stateInfo === "all") query.push(["state", "1"])
  if (p.limit !== undefined) query.push(["limit", String(p.limit)])
  if (p.offset > 0) query.push(["offset", String(p.offset)])
  if (p.target.channels.length === 0 && p.target.channelGroups.length === 0) {
    return execute(p.keyset, { path: "", query }, decodeHereNow(undefined))
  }
  const one = (chunk: Chunk) =>
    execute(
      p.keyset,
      chunkCall(chunk, "", query),
      decodeHereNow(singleChannel(chunk))
    )
  return Effect.flatMap(
    planCalls(p.keyset, p.target, "", query),
    (chunks) => Effect.map(eachChunk(chunks, one), mergeHereNow)
  )
}

// ---------------------------------------------------------------------------------------------
// where now
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface WhereNowOptions extends KeysetSelection {
  readonly uuid?: string | undefined
  readonly cacheTtl?: unknown
}

const decodeWhereNow = decodeWith(Wire.WhereNow)
const whereNowFlight = makeFlight<Wire.WhereNow, RequestFailure>()

/** @internal */
export const whereNow = (
  input: WhereNowOptions | undefined
): Effect.Effect<
  { uuid: string; channels: ReadonlyArray<string> },
  OperationError,
  HttpClient.HttpClient | KeysetService
> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, ["uuid", "cacheTtl", ...SELECTION_KEYS])
    if (options.uuid !== undefined) yield* check("uuid", options.uuid, checkUserId)
    const ttl = yield* cacheTtlMillis(options.cacheTtl)
    const keyset = yield* resolveKeyset(options)
    const uuid = options.uuid ?? keyset.userId
    const body = yield* coalesce(
      whereNowFlight,
      `whereNow\u0000${keysetKey(keyset)}\u0000${uuid}`,
      ttl,
      execute(keyset, { path: `/uuid/${encode(uuid)}`, query: [] }, decodeWhereNow)
    )
    return { uuid, channels: body.payload?.channels ?? [] }
  })

// ---------------------------------------------------------------------------------------------
// get state
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface GetStateOptions extends Targets, KeysetSelection {
  readonly uuid?: string | undefined
  readonly cacheTtl?: unknown
}

const decodeGetStateMulti = decodeWith(Wire.GetStateMulti)
const getStateFlight = makeFlight<ReadonlyArray<Map<string, Wire.StateObject>>, RequestFailure>()
const decodeGetStateSingle = decodeWith(Wire.GetStateSingle)

const decodeGetState = (single: string | undefined) =>
(
  prepared: Prepared,
  raw: RawResponse,
  json: unknown
): Either.Either<Map<string, Wire.StateObject>, MalformedResponseError> => {
  // One channel: `payload` is the state, unless the body is plainly the several-channel shape.
  const looksSingle = isJsonObject(json) && ("channel" in json ||
    !(isJsonObject(json.payload) && Object.keys(json.payload).length === 1 && isJsonObject(json.payload.channels)))
  if (looksSingle) {
    return Either.flatMap(decodeGetStateSingle(prepared, raw, json), (body) => {
      const name = body.channel ?? single
      if (name === undefined) {
        return Either.left(
          malformed(prepared, raw, "a one-channel get-state body without `channel` answered a request for several")
        )
      }
      return Either.right(new Map([[name, body.payload]]))
    })
  }
  return Either.map(decodeGetStateMulti(prepared, raw, json), (body) => new Map(Object.entries(body.payload.channels)))
}

/** @internal */
export const getState = (
  input: GetStateOptions | undefined
): Effect.Effect<
  { uuid: string; channels: ReadonlyMap<string, Wire.StateObject> },
  OperationError,
  HttpClient.HttpClient | KeysetService
> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, ["uuid", "cacheTtl", ...TARGET_KEYS])
    const target = yield* targets(options, true)
    if (options.uuid !== undefined) yield* check("uuid", options.uuid, checkUserId)
    const ttl = yield* cacheTtlMillis(options.cacheTtl)
    const keyset = yield* resolveKeyset(options)
    const uuid = options.uuid ?? keyset.userId
    const suffix = `/uuid/${encode(uuid)}`
    const chunks = yield* planCalls(keyset, target, suffix, [])
    const key = `getState\u0000${keysetKey(keyset)}\u0000${
      JSON.stringify([uuid, target.channels, target.channelGroups])
    }`
    const parts = yield* coalesce(
      getStateFlight,
      key,
      ttl,
      eachChunk(
        chunks,
        (chunk) =>
          execute(
            keyset,
            chunkCall(chunk, suffix, []),
            decodeGetState(singleChannel(chunk))
          )
      )
    )
    const channels = new Map<string, Wire.StateObject>()
    for (const part of parts) for (const [k, v] of part) channels.set(k, v)
    return { uuid, channels }
  })

// ---------------------------------------------------------------------------------------------
// set state
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface SetStateOptions extends Targets, KeysetSelection {
  readonly state: PresenceState
}

const decodeSetState = decodeWith(Wire.SetState)

/** @internal */
export const setState = (
  input: SetStateOptions | undefined
): Effect.Effect<{ state: Wire.StateObject }, OperationError, HttpClient.HttpClient | KeysetService> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, ["state", ...TARGET_KEYS])
    const target = yield* targets(options, true)
    const state = readState(options.state)
    if (typeof state === "string") return yield* invalid("state", state)
    const keyset = yield* resolveKeyset(options)
    const suffix = `/uuid/${encode(keyset.userId)}/data`
    const query: Array<readonly [string, string]> = [["state", JSON.stringify(state)]]
    const chunks = yield* planCalls(keyset, target, suffix, query)
    const parts = yield* eachChunk(chunks, (chunk) => execute(keyset, chunkCall(chunk, suffix, query), decodeSetState))
    return { state: parts[0].payload }
  })

// ---------------------------------------------------------------------------------------------
// heartbeat and leave
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface HeartbeatOptions extends Targets, KeysetSelection {
  readonly heartbeat?: number | undefined
  readonly state?: Readonly<Record<string, PresenceState>> | ReadonlyMap<string, PresenceState> | undefined
}

/** @internal */
export const DEFAULT_HEARTBEAT = 300

const decodeHeartbeat = decodeWith(Wire.Heartbeat)
const decodeLeave = decodeWith(Wire.Leave)

/**
 * Checks a per-channel state map against the channels and groups it goes with, and copies it
 * (each state read once, see `readState`).
 *
 * @internal
 */
export const stateMap = (
  state: HeartbeatOptions["state"],
  target: Chunk
): Either.Either<Map<string, PresenceState>, InvalidArgumentError> => {
  const out = new Map<string, PresenceState>()
  if (state === undefined) return Either.right(out)
  try {
    if (!isJsonObject(state) && !(state instanceof Map)) {
      return invalid("state", "must be an object or Map of channel → state")
    }
    const entries: Iterable<readonly [unknown, unknown]> = state instanceof Map
      ? state.entries()
      : Object.entries(state)
    const known = new Set([...target.channels, ...target.channelGroups])
    for (const [name, value] of entries) {
      if (typeof name !== "string" || !known.has(name)) {
        return invalid("state", `has an entry for ${describeName(name)}, which is not among the channels or groups`)
      }
      const copy = readState(value)
      if (typeof copy === "string") return invalid("state", `for "${name.slice(0, 100)}" ${copy}`)
      out.set(name, copy)
    }
  } catch {
    return invalid("state", "could not be read (reading it threw)")
  }
  return Either.right(out)
}

const describeName = (name: unknown): string =>
  typeof name === "string" ? JSON.stringify(name.slice(0, 100)) : `a ${typeof name} key`

const stateQuery = (states: ReadonlyMap<string, PresenceState>, chunk: Chunk): Array<readonly [string, string]> => {
  if (states.size === 0) return []
  const part: Array<readonly [string, PresenceState]> = []
  for (const name of [...chunk.channels, ...chunk.channelGroups]) {
    const s = states.get(name)
    if (s !== undefined) part.push([name, s])
  }
  // built with `fromEntries`: `obj[name] = …` would turn a channel named `__proto__` into a prototype
  return part.length > 0 ? [["state", JSON.stringify(Object.fromEntries(part))]] : []
}

/** A checked heartbeat, split into the requests it takes. @internal */
export interface HeartbeatPlan {
  readonly keyset: Keyset
  readonly target: Chunk
  readonly heartbeat: number
  readonly states: ReadonlyMap<string, PresenceState>
  readonly query: ReadonlyArray<readonly [string, string]>
  readonly chunks: ReadonlyArray<Chunk>
}

/** Checks heartbeat options, resolves the keyset and splits the call. @internal */
export const heartbeatPlan = (
  input: HeartbeatOptions | undefined
): Effect.Effect<HeartbeatPlan, InvalidArgumentError | KeysetNotFoundError, KeysetService> => {
  // called once per interval by every managed session: plain checks, no generator
  const read = readOptions(input, ["heartbeat", "state", ...TARGET_KEYS])
  if (Either.isLeft(read)) return Either.left(read.left)
  const options = read.right
  const target = targets(options, true)
  if (Either.isLeft(target)) return Either.left(target.left)
  const heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT
  const badHeartbeat = check("heartbeat", heartbeat, checkHeartbeat)
  if (Either.isLeft(badHeartbeat)) return Either.left(badHeartbeat.left)
  const states = stateMap(options.state, target.right)
  if (Either.isLeft(states)) return Either.left(states.left)
  const query: Array<readonly [string, string]> = [["heartbeat", String(heartbeat)]]
  // each state entry costs `"name":{…},` encoded, plus the `&state={}` around them
  const stateCost = (name: string) => {
    const s = states.right.get(name)
    return s === undefined ? 0 : encode(`${JSON.stringify(name)}:${JSON.stringify(s)},`).length + 13
  }
  return Effect.flatMap(resolveKeyset(options), (keyset) =>
    Effect.map(
      planCalls(keyset, target.right, "/heartbeat", query, stateCost),
      (chunks): HeartbeatPlan => ({ keyset, target: target.right, heartbeat, states: states.right, query, chunks })
    ))
}

/** Sends a planned heartbeat: one request per chunk. @internal */
export const sendHeartbeat = (
  p: HeartbeatPlan
): Effect.Effect<
  { channels: ReadonlyArray<string>; channelGroups: ReadonlyArray<string>; heartbeat: number },
  RequestFailure,
  HttpClient.HttpClient
> =>
  Effect.as(
    eachChunk(p.chunks, (chunk) =>
      execute(p.keyset, chunkCall(chunk, "/heartbeat", [...p.query, ...stateQuery(p.states, chunk)]), decodeHeartbeat)),
    { channels: p.target.channels, channelGroups: p.target.channelGroups, heartbeat: p.heartbeat }
  )

/** @internal */
export const announceHeartbeat = (
  input: HeartbeatOptions | undefined
): Effect.Effect<
  { channels: ReadonlyArray<string>; channelGroups: ReadonlyArray<string>; heartbeat: number },
  OperationError,
  HttpClient.HttpClient | KeysetService
> => Effect.flatMap(heartbeatPlan(input), sendHeartbeat)

/** @internal */
export interface LeaveOptions extends Targets, KeysetSelection {}

/** @internal */
export const announceLeave = (
  input: LeaveOptions | undefined
): Effect.Effect<
  { channels: ReadonlyArray<string>; channelGroups: ReadonlyArray<string> },
  OperationError,
  HttpClient.HttpClient | KeysetService
> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, TARGET_KEYS)
    const target = yield* targets(options, true)
    const keyset = yield* resolveKeyset(options)
    const chunks = yield* planCalls(keyset, target, "/leave", [])
    yield* eachChunk(chunks, (chunk) => execute(keyset, chunkCall(chunk, "/leave", []), decodeLeave))
    return { channels: target.channels, channelGroups: target.channelGroups }
  })
