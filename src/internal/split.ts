/**
 * Splitting long channel lists so that no request passes the service's URL limit, and running
 * the requests of a split call.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Keyset } from "../Keyset.js"
import { InvalidArgumentError } from "../PresenceError.js"
import { PubNubConfig } from "../PubNubConfig.js"
import { encode, encodePathList, encodeQuery } from "./encoding.js"
import { type Call, commonQuery, MAX_TARGET_LENGTH, presencePrefix, SIGNING_RESERVE } from "./request.js"

/** One part of a split call. @internal */
export interface Chunk {
  readonly channels: ReadonlyArray<string>
  readonly channelGroups: ReadonlyArray<string>
}

/**
 * Packs channels (in the path, each costing its encoded length plus a `,`) and groups (in the
 * `channel-group` query value, each costing its encoded length plus `%2C`) into as few chunks as
 * fit in `budget` characters. `extraCost(name)` adds what a name costs elsewhere in the request
 * (its entry in a heartbeat `state` map). Returns `undefined` when one name alone does not fit.
 *
 * The first chunk always exists, even for no channels and no groups.
 *
 * @internal
 */
export const plan = (
  channels: ReadonlyArray<string>,
  channelGroups: ReadonlyArray<string>,
  budget: number,
  extraCost: (name: string) => number = () => 0
): Array<Chunk> | undefined => {
  const GROUP_PARAM = "&channel-group=".length
  const chunks: Array<Chunk> = []
  let chs: Array<string> = []
  let grs: Array<string> = []
  let used = 0
  const flush = () => {
    chunks.push({ channels: chs, channelGroups: grs })
    chs = []
    grs = []
    used = 0
  }
  for (const ch of channels) {
    const cost = encode(ch).length + 1 + extraCost(ch)
    if (cost > budget) return undefined
    if (used + cost > budget) flush()
    chs.push(ch)
    used += cost
  }
  for (const g of channelGroups) {
    const base = encode(g).length + 3 + extraCost(g)
    if (base + GROUP_PARAM > budget) return undefined
    if (used + base + (grs.length === 0 ? GROUP_PARAM : 0) > budget) flush()
    used += base + (grs.length === 0 ? GROUP_PARAM : 0)
    grs.push(g)
  }
  if (chs.length > 0 || grs.length > 0 || chunks.length === 0) flush()
  return chunks
}

const DUMMY_REQUEST_ID = "00000000-0000-4000-8000-000000000000"

/**
 * Plans the chunks of a call over channels and groups. `suffix` follows the channel list in the
 * path (`/channel/` + list + `suffix`); `query` is the operation's own query without
 * `channel-group`; `extraCost(name)` is what a name costs elsewhere in the request.
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
  if (bound + SIGNING_RESERVE <= MAX_TARGET_LENGTH) return Effect.succeed([target])
  return Effect.flatMap(PubNubConfig, (config) => {
    const common = commonQuery(keyset, config.pnsdk, DUMMY_REQUEST_ID)
    const baseLength = presencePrefix(keyset.subscribeKey).length + "/channel/".length + suffix.length + 1 +
      encodeQuery([...query, ...common]).length
    const chunks = plan(
      target.channels,
      target.channelGroups,
      MAX_TARGET_LENGTH - baseLength - SIGNING_RESERVE,
      extraCost
    )
    return chunks === undefined
      ? Effect.fail(
        new InvalidArgumentError({
          argument: "request",
          reason:
            "a single channel or group with its state does not fit in one request (URLs are limited to about 32 KiB)"
        })
      )
      : Effect.succeed(chunks)
  })
}

/** The call for one chunk. @internal */
export const chunkCall = (chunk: Chunk, suffix: string, query: ReadonlyArray<readonly [string, string]>): Call => ({
  path: `/channel/${encodePathList(chunk.channels)}${suffix}`,
  query: chunk.channelGroups.length > 0 ? [...query, ["channel-group", chunk.channelGroups.join(",")]] : query
})

/**
 * The channel of a chunk that is exactly one channel: the service answers such a request in its
 * flat, one-channel shape, which does not name the channel.
 *
 * @internal
 */
export const singleChannel = (chunk: Chunk): string | undefined =>
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
