/**
 * Presence state: get (one channel's flat shape, or several channels' map) and set.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { KeysetService } from "../Keyset.js"
import type { GetStateOptions, SetStateOptions } from "../Presence.js"
import type { MalformedResponseError, PresenceError } from "../PresenceError.js"
import { GetStateResult, SetStateResult } from "../PresenceResult.js"
import { cacheTtlMillis, coalesce, keysetKey } from "./coalesce.js"
import { encode } from "./encoding.js"
import { check, invalid, readOptions, resolveKeyset, TARGET_KEYS, targets } from "./options.js"
import { decodeWith, execute, malformed, type Prepared, type RawResponse } from "./request.js"
import { operation } from "./span.js"
import { chunkCall, eachChunk, planCalls, singleChannel } from "./split.js"
import { checkUserId, readState } from "./validation.js"
import * as Wire from "./wire.js"
import { isJsonObject } from "./wire.js"

type Requirements = KeysetService | HttpClient.HttpClient

/** A get-state answer: state per channel. @internal */
export type StatePart = Map<string, Wire.StateObject>

const decodeMulti = decodeWith(Wire.GetStateMulti)
const decodeSingle = decodeWith(Wire.GetStateSingle)

const decodeGetState = (single: string | undefined) =>
(
  prepared: Prepared,
  raw: RawResponse,
  json: unknown
): Either.Either<StatePart, MalformedResponseError> => {
  // One channel: `payload` is the state, unless the body is plainly the several-channel shape.
  const looksSingle = isJsonObject(json) && ("channel" in json ||
    !(isJsonObject(json.payload) && Object.keys(json.payload).length === 1 && isJsonObject(json.payload.channels)))
  if (looksSingle) {
    return Either.flatMap(decodeSingle(prepared, raw, json), (body) => {
      const name = body.channel ?? single
      if (name === undefined) {
        return Either.left(
          malformed(prepared, raw, "a one-channel get-state body without `channel` answered a request for several")
        )
      }
      return Either.right(new Map([[name, body.payload]]))
    })
  }
  return Either.map(decodeMulti(prepared, raw, json), (body) => new Map(Object.entries(body.payload.channels)))
}

/** @internal */
export const getState = operation("Presence.getState")((
  input: GetStateOptions
): Effect.Effect<GetStateResult, PresenceError, Requirements> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, ["uuid", "cacheTtl", ...TARGET_KEYS])
    const target = yield* targets(options, true)
    if (options.uuid !== undefined) yield* check("uuid", options.uuid, checkUserId)
    const ttl = yield* cacheTtlMillis(options.cacheTtl)
    const keyset = yield* resolveKeyset(options)
    const uuid = options.uuid ?? keyset.userId
    const suffix = `/uuid/${encode(uuid)}`
    const chunks = yield* planCalls(keyset, target, suffix, [])
    const parts = yield* coalesce(
      (s) => s.getState,
      (s) => `${keysetKey(s, keyset)}\u0000${JSON.stringify([uuid, target.channels, target.channelGroups])}`,
      ttl,
      eachChunk(chunks, (chunk) => execute(keyset, chunkCall(chunk, suffix, []), decodeGetState(singleChannel(chunk))))
    )
    const channels = new Map<string, Wire.StateObject>()
    for (const part of parts) for (const [k, v] of part) channels.set(k, v)
    return new GetStateResult({ uuid, channels }, true)
  })
)

const decodeSetState = decodeWith(Wire.SetState)

/** @internal */
export const setState = operation("Presence.setState")((
  input: SetStateOptions
): Effect.Effect<SetStateResult, PresenceError, Requirements> =>
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
    return new SetStateResult({ state: parts[0].payload }, true)
  })
)
