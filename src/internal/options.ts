/**
 * Reading what a caller passed: options copied once, names checked and de-duplicated, state
 * checked and copied, the keyset resolved. Callers with and without types are expected: nothing
 * here throws, and every refusal is an `InvalidArgumentError` before anything is sent.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Keyset, KeysetSelection } from "../Keyset.js"
import { KeysetService } from "../Keyset.js"
import type { Targets } from "../Presence.js"
import { InvalidArgumentError, type KeysetNotFoundError } from "../PresenceError.js"
import type { PresenceState, StateInfo } from "../PresenceResult.js"
import type { Chunk } from "./split.js"
import { checkName, readState } from "./validation.js"
import { isJsonObject } from "./wire.js"

/** @internal */
export const invalid = (argument: string, reason: string): Either.Either<never, InvalidArgumentError> =>
  Either.left(new InvalidArgumentError({ argument, reason }))

/** A value checked by `checker` (which says why it is wrong, or `undefined`). @internal */
export const check = (
  argument: string,
  value: unknown,
  checker: (u: unknown) => string | undefined
): Either.Either<void, InvalidArgumentError> => {
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

/** More names than fit in any number of requests a call may sensibly make. */
const MAX_NAMES = 100_000

/**
 * An iterable of names, checked and de-duplicated (order kept). A lone string is one name. An
 * iterator that throws is an `InvalidArgumentError`, not a defect; at most 100,000 names are read.
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

/** The channels and groups of a call; `required` when it needs at least one. @internal */
export const targets = (options: Targets, required: boolean): Either.Either<Chunk, InvalidArgumentError> => {
  const channels = names("channels", options.channels)
  if (Either.isLeft(channels)) return Either.left(channels.left)
  const channelGroups = names("channelGroups", options.channelGroups)
  if (Either.isLeft(channelGroups)) return Either.left(channelGroups.left)
  if (required && channels.right.length === 0 && channelGroups.right.length === 0) {
    return invalid("channels", "give at least one channel or channel group")
  }
  return Either.right({ channels: channels.right, channelGroups: channelGroups.right })
}

/** The keyset a call is made with (`keyset`, `using`, or the default). @internal */
export const resolveKeyset = (
  selection: KeysetSelection
): Effect.Effect<Keyset, InvalidArgumentError | KeysetNotFoundError, KeysetService> =>
  Effect.flatMap(KeysetService, (service) => service.resolve({ keyset: selection.keyset, using: selection.using }))

const describeName = (name: unknown): string =>
  typeof name === "string" ? JSON.stringify(name.slice(0, 100)) : `a ${typeof name} key`

/**
 * A per-channel state map, checked against the channels and groups it goes with and copied (each
 * state read once, see `readState`).
 *
 * @internal
 */
export const stateMap = (
  state: unknown,
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

/** A whole number above 0, or `fallback` when absent. @internal */
export const positiveWhole = (
  argument: string,
  value: unknown,
  fallback: number
): Either.Either<number, InvalidArgumentError> =>
  value === undefined
    ? Either.right(fallback)
    : typeof value === "number" && Number.isSafeInteger(value) && value > 0
    ? Either.right(value)
    : invalid(argument, "must be a whole number, more than 0")

/** The selection keys every operation reads. @internal */
export const SELECTION_KEYS = ["keyset", "using"] as const

/** The keys of an operation over channels and groups. @internal */
export const TARGET_KEYS = ["channels", "channelGroups", ...SELECTION_KEYS] as const

const STATE_INFOS: ReadonlyArray<unknown> = ["all", "onlyUUIDs", "none"]

/** The `stateInfo` option (here-now, the roster), or its default `"onlyUUIDs"`. @internal */
export const checkStateInfo = (u: StateInfo | undefined): Either.Either<StateInfo, InvalidArgumentError> =>
  u === undefined
    ? Either.right("onlyUUIDs")
    : STATE_INFOS.includes(u)
    ? Either.right(u)
    : invalid("stateInfo", `must be "all", "onlyUUIDs" or "none"`)
