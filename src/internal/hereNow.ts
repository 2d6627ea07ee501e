/**
 * Here-now, one way through: options → checks → plan → requests (split as needed, identical
 * calls shared) → decoding → merging → the result.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Keyset, KeysetService } from "../Keyset.js"
import type { HereNowAllOptions, HereNowOptions } from "../Presence.js"
import type {
  InvalidArgumentError,
  KeysetNotFoundError,
  MalformedResponseError,
  PresenceError
} from "../PresenceError.js"
import { ChannelOccupancy, HereNowResult, type OccupantInfo, type StateInfo } from "../PresenceResult.js"
import { fromFields, occupantInfo } from "./build.js"
import { cacheTtlMillis, coalesce, keysetKey } from "./coalesce.js"
import { check, checkStateInfo, positiveWhole, readOptions, resolveKeyset, TARGET_KEYS, targets } from "./options.js"
import type { Shared } from "./processState.js"
import { decodeWith, execute, malformed, type Prepared, type RawResponse } from "./request.js"
import { operation } from "./span.js"
import { type Chunk, chunkCall, eachChunk, planCalls, singleChannel } from "./split.js"
import { checkLimit, checkOffset } from "./validation.js"
import * as Wire from "./wire.js"

/** What here-now needs. @internal */
export type Requirements = KeysetService | HttpClient.HttpClient

/** One channel as decoded. @internal */
export interface RawChannel {
  readonly name: string
  readonly occupancy: number
  readonly uuids: ReadonlyArray<Wire.Occupant> | undefined
}

/** A here-now answer as decoded and merged. @internal */
export interface RawHereNow {
  readonly totalChannels: number
  readonly totalOccupancy: number
  readonly channels: ReadonlyArray<RawChannel>
}

/** Checked here-now options, with the keyset. @internal */
export interface HereNowPlan {
  readonly keyset: Keyset
  readonly target: Chunk
  readonly stateInfo: StateInfo
  readonly limit: number | undefined
  readonly offset: number
  /** how long a success may be reused (0: only shared while in flight) */
  readonly ttlMillis: number
}

const DEFAULT_PAGE = 1000

const HERE_NOW_KEYS = [...TARGET_KEYS, "stateInfo", "limit", "offset", "cacheTtl"] as const

// ---------------------------------------------------------------------------------------------
// checks and plan
// ---------------------------------------------------------------------------------------------

/** The options, checked; everything but the keyset. */
const checkOptions = (
  input: HereNowOptions | undefined
): Either.Either<
  { readonly options: Partial<HereNowOptions>; readonly plan: Omit<HereNowPlan, "keyset"> },
  InvalidArgumentError
> =>
  Either.gen(function*() {
    const options = yield* readOptions(input, HERE_NOW_KEYS)
    const ttlMillis = yield* cacheTtlMillis(options.cacheTtl)
    const target = yield* targets(options, false)
    const stateInfo = yield* checkStateInfo(options.stateInfo)
    if (options.limit !== undefined) yield* check("limit", options.limit, checkLimit)
    if (options.offset !== undefined) yield* check("offset", options.offset, checkOffset)
    return {
      options,
      plan: { target, stateInfo, limit: options.limit, offset: options.offset ?? 0, ttlMillis }
    }
  })

/** Checks here-now options and resolves the keyset. @internal */
export const hereNowPlan = (
  input: HereNowOptions | undefined
): Effect.Effect<HereNowPlan, InvalidArgumentError | KeysetNotFoundError, KeysetService> =>
  Either.match(checkOptions(input), {
    onLeft: Effect.fail,
    onRight: ({ options, plan }) => Effect.map(resolveKeyset(options), (keyset) => ({ ...plan, keyset }))
  })

// ---------------------------------------------------------------------------------------------
// request and decoding
// ---------------------------------------------------------------------------------------------

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
      return { totalChannels: body.payload.total_channels, totalOccupancy: body.payload.total_occupancy, channels }
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

/** The answers of a split call as one: a channel listed by two parts counts once. */
const merge = (parts: ReadonlyArray<RawHereNow>): RawHereNow => {
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

const request = (
  p: HereNowPlan
): Effect.Effect<RawHereNow, Exclude<PresenceError, KeysetNotFoundError>, HttpClient.HttpClient> => {
  const query: Array<readonly [string, string]> = []
  if (p.stateInfo === "none") query.push(["disable_uuids", "1"])
  if (p.stateInfo === "all") query.push(["state", "1"])
  if (p.limit !== undefined) query.push(["limit", String(p.limit)])
  if (p.offset > 0) query.push(["offset", String(p.offset)])
  if (p.target.channels.length === 0 && p.target.channelGroups.length === 0) {
    return execute(p.keyset, { path: "", query }, decodeHereNow(undefined))
  }
  const one = (chunk: Chunk) => execute(p.keyset, chunkCall(chunk, "", query), decodeHereNow(singleChannel(chunk)))
  return Effect.flatMap(planCalls(p.keyset, p.target, "", query), (chunks) => Effect.map(eachChunk(chunks, one), merge))
}

// names cannot contain `,` or control characters (validation.ts), so joining them is unambiguous
const keyOf = (p: HereNowPlan) => (shared: Shared): string =>
  `${keysetKey(shared, p.keyset)}\u0000${p.target.channels.join(",")}\u0000${
    p.target.channelGroups.join(",")
  }\u0000${p.stateInfo}\u0000${p.limit ?? ""}\u0000${p.offset}`

// ---------------------------------------------------------------------------------------------
// the result
// ---------------------------------------------------------------------------------------------

/** The result of one page. @internal */
export const toResult = (raw: RawHereNow, p: HereNowPlan): HereNowResult => {
  const channels = new Map<string, ChannelOccupancy>()
  const listing = p.stateInfo !== "none" && p.limit !== 0
  let more = false
  for (const ch of raw.channels) {
    const uuids = new Map<string, OccupantInfo>()
    if (ch.uuids !== undefined) {
      for (const o of ch.uuids) {
        const info = occupantInfo(o)
        uuids.set(info.uuid, info)
      }
    }
    const hasMore = listing && ch.uuids !== undefined && p.offset + ch.uuids.length < ch.occupancy
    more ||= hasMore
    channels.set(ch.name, fromFields(ChannelOccupancy, { channelName: ch.name, count: ch.occupancy, uuids, hasMore }))
  }
  return fromFields(HereNowResult, {
    totalChannels: raw.totalChannels,
    totalOccupancy: raw.totalOccupancy,
    channels,
    nextOffset: more ? Option.some(p.offset + (p.limit ?? DEFAULT_PAGE)) : Option.none()
  })
}

/**
 * One page: identical calls in flight share the request and — the result is built once per
 * request — its `HereNowResult` too; with a `cacheTtl`, later calls for that long. A cached
 * 20,000-occupant answer is handed out as it is instead of being rebuilt (~1 ms) on every hit.
 */
const page = (p: HereNowPlan): Effect.Effect<HereNowResult, PresenceError, HttpClient.HttpClient> =>
  coalesce((s) => s.hereNow, keyOf(p), p.ttlMillis, Effect.map(request(p), (raw) => toResult(raw, p)))

/** hereNowAll's pages: the raw answers, merged into one result at the end. */
const rawPage = (p: HereNowPlan): Effect.Effect<RawHereNow, PresenceError, HttpClient.HttpClient> =>
  coalesce((s) => s.hereNowPage, keyOf(p), p.ttlMillis, request(p))

/** @internal */
export const hereNow = operation("Presence.hereNow")(
  // the most called operation: plain steps, no generator
  (options?: HereNowOptions): Effect.Effect<HereNowResult, PresenceError, Requirements> =>
    Effect.flatMap(hereNowPlan(options), page)
)

// ---------------------------------------------------------------------------------------------
// every page
// ---------------------------------------------------------------------------------------------

/** Default bounds of hereNowAll. @internal */
export const HERE_NOW_ALL_LIMITS: { readonly maxPages: number; readonly maxOccupants: number } = {
  maxPages: 1000,
  maxOccupants: 100_000
}

/** The occupants listed so far, per channel, and which channels are not listed to the end. */
interface Walk {
  readonly counts: Map<string, number>
  readonly lists: Map<string, Map<string, OccupantInfo>>
  unfinished: Set<string>
  listed: number
}

/** Adds a page to the walk: how many occupants it brought that were new. */
const addPage = (walk: Walk, raw: RawHereNow, offset: number): number => {
  let added = 0
  walk.unfinished = new Set()
  for (const ch of raw.channels) {
    const list = walk.lists.get(ch.name)
    if (list === undefined || ch.uuids === undefined) continue
    for (const o of ch.uuids) {
      const info = occupantInfo(o)
      if (!list.has(info.uuid)) {
        list.set(info.uuid, info)
        added++
      }
    }
    if (offset + ch.uuids.length < (walk.counts.get(ch.name) ?? 0)) walk.unfinished.add(ch.name)
  }
  walk.listed += added
  return added
}

const walkResult = (walk: Walk, totals: RawHereNow, nextOffset: Option.Option<number>): HereNowResult => {
  const channels = new Map<string, ChannelOccupancy>()
  for (const [name, count] of walk.counts) {
    const uuids = walk.lists.get(name) ?? new Map()
    channels.set(
      name,
      new ChannelOccupancy({ channelName: name, count, uuids, hasMore: walk.unfinished.has(name) }, true)
    )
  }
  return new HereNowResult({
    totalChannels: totals.totalChannels,
    totalOccupancy: totals.totalOccupancy,
    channels,
    nextOffset
  }, true)
}

const HERE_NOW_ALL_KEYS = [
  "channels",
  "channelGroups",
  "keyset",
  "using",
  "stateInfo",
  "limit",
  "cacheTtl",
  "maxPages",
  "maxOccupants"
] as const

/** @internal */
export const hereNowAll = operation("Presence.hereNowAll")(Effect.fnUntraced(
  function*(options?: HereNowAllOptions) {
    const copy = yield* readOptions(options, HERE_NOW_ALL_KEYS)
    const maxPages = yield* positiveWhole("maxPages", copy.maxPages, HERE_NOW_ALL_LIMITS.maxPages)
    const maxOccupants = yield* positiveWhole("maxOccupants", copy.maxOccupants, HERE_NOW_ALL_LIMITS.maxOccupants)
    const first = yield* hereNowPlan({ ...copy, offset: 0 })
    const size = first.limit === undefined || first.limit === 0 ? DEFAULT_PAGE : first.limit
    let p: HereNowPlan = { ...first, limit: first.limit === 0 ? 0 : size }
    const totals = yield* rawPage(p)
    const walk: Walk = { counts: new Map(), lists: new Map(), unfinished: new Set(), listed: 0 }
    for (const ch of totals.channels) {
      walk.counts.set(ch.name, ch.occupancy)
      walk.lists.set(ch.name, new Map())
    }
    let raw = totals
    for (let pages = 0;; pages++) {
      const added = addPage(walk, raw, p.offset)
      // done, or a page that brings nothing new (a server ignoring offset)
      if (walk.unfinished.size === 0 || added === 0 || p.stateInfo === "none" || p.limit === 0) {
        walk.unfinished = new Set()
        return walkResult(walk, totals, Option.none())
      }
      if (pages >= maxPages || walk.listed >= maxOccupants) {
        return walkResult(walk, totals, Option.some(p.offset + size))
      }
      p = { ...p, offset: p.offset + size }
      raw = yield* rawPage(p)
    }
  }
))
