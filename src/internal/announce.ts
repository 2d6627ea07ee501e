/**
 * Announcing presence: a heartbeat (join, and stay for `heartbeat` seconds) and a leave.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Keyset, KeysetService } from "../Keyset.js"
import type { HeartbeatOptions, LeaveOptions } from "../Presence.js"
import type { InvalidArgumentError, KeysetNotFoundError, PresenceError } from "../PresenceError.js"
import { HeartbeatResult, LeaveResult, type PresenceState } from "../PresenceResult.js"
import { encode } from "./encoding.js"
import { check, readOptions, resolveKeyset, stateMap, TARGET_KEYS, targets } from "./options.js"
import { decodeWith, execute, type RequestFailure } from "./request.js"
import { operation } from "./span.js"
import { type Chunk, chunkCall, eachChunk, planCalls } from "./split.js"
import { checkHeartbeat } from "./validation.js"
import * as Wire from "./wire.js"

type Requirements = KeysetService | HttpClient.HttpClient

/** The presence timeout when none is given. @internal */
export const DEFAULT_HEARTBEAT = 300

const decodeHeartbeat = decodeWith(Wire.Heartbeat)
const decodeLeave = decodeWith(Wire.Leave)

/** The `state` query of one chunk: the state of its names, keyed by name. */
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

const checkHeartbeatOptions = (input: HeartbeatOptions | undefined) =>
  Either.gen(function*() {
    const options = yield* readOptions(input, ["heartbeat", "state", ...TARGET_KEYS])
    const target = yield* targets(options, true)
    const heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT
    yield* check("heartbeat", heartbeat, checkHeartbeat)
    const states = yield* stateMap(options.state, target)
    return { options, target, heartbeat, states }
  })

/**
 * Checks heartbeat options, resolves the keyset and splits the call — once per interval for
 * every managed session, so plain steps.
 *
 * @internal
 */
export const heartbeatPlan = (
  input: HeartbeatOptions | undefined
): Effect.Effect<HeartbeatPlan, InvalidArgumentError | KeysetNotFoundError, KeysetService> =>
  Either.match(checkHeartbeatOptions(input), {
    onLeft: Effect.fail,
    onRight: ({ heartbeat, options, states, target }) => {
      const query: Array<readonly [string, string]> = [["heartbeat", String(heartbeat)]]
      // each state entry costs `"name":{…},` encoded, plus the `&state={}` around them
      const stateCost = (name: string) => {
        const s = states.get(name)
        return s === undefined ? 0 : encode(`${JSON.stringify(name)}:${JSON.stringify(s)},`).length + 13
      }
      return Effect.flatMap(resolveKeyset(options), (keyset) =>
        Effect.map(
          planCalls(keyset, target, "/heartbeat", query, stateCost),
          (chunks): HeartbeatPlan => ({ keyset, target, heartbeat, states, query, chunks })
        ))
    }
  })

/** Sends a planned heartbeat: one request per chunk. @internal */
export const sendHeartbeat = (
  p: HeartbeatPlan
): Effect.Effect<HeartbeatResult, RequestFailure, HttpClient.HttpClient> =>
  Effect.as(
    eachChunk(p.chunks, (chunk) =>
      execute(p.keyset, chunkCall(chunk, "/heartbeat", [...p.query, ...stateQuery(p.states, chunk)]), decodeHeartbeat)),
    new HeartbeatResult(
      { channels: p.target.channels, channelGroups: p.target.channelGroups, heartbeat: p.heartbeat },
      true
    )
  )

/** @internal */
export const announceHeartbeat = operation("Presence.announceHeartbeat")((
  options: HeartbeatOptions
): Effect.Effect<HeartbeatResult, PresenceError, Requirements> => Effect.flatMap(heartbeatPlan(options), sendHeartbeat))

/** @internal */
export const announceLeave = operation("Presence.announceLeave")((
  input: LeaveOptions
): Effect.Effect<LeaveResult, PresenceError, Requirements> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, TARGET_KEYS)
    const target = yield* targets(options, true)
    const keyset = yield* resolveKeyset(options)
    const chunks = yield* planCalls(keyset, target, "/leave", [])
    yield* eachChunk(chunks, (chunk) => execute(keyset, chunkCall(chunk, "/leave", []), decodeLeave))
    return new LeaveResult({ action: "leave", channels: target.channels, channelGroups: target.channelGroups }, true)
  })
)
