/**
 * Input rules shared by the client (checked before sending) and the emulator (checked on arrival).
 * Each check returns `undefined` when the value is fine, or the reason it is not.
 *
 * @internal
 */
import type { PresenceState } from "../PresenceResult.js"

/** @internal */
export const MAX_NAME_LENGTH = 92
/** @internal */
export const MIN_HEARTBEAT = 20
/** @internal */
export const MAX_HEARTBEAT = 320
/** @internal */
export const MAX_LIMIT = 1000

// `,` `:` `*` `/` `\` space, and ASCII controls (incl. NUL and DEL) are not allowed in names.
const forbiddenInName = /[,:*/\\ \u0000-\u001f\u007f]/
const controls = /[\u0000-\u001f\u007f]/
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const codePoints = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

const describeChar = (c: string): string => {
  const code = c.codePointAt(0) ?? 0
  return code < 0x20 || code === 0x7f ? `control character U+${code.toString(16).padStart(4, "0")}` : `"${c}"`
}

/**
 * `.` and `..` as a path segment are rewritten by every URL parser (`/channel/..` is the keyset's
 * root): a name that is only dots of that kind would send a different request than asked for.
 *
 * @internal
 */
export const isDotSegment = (name: string): boolean => name === "." || name === ".."

/**
 * A channel or channel-group name.
 *
 * @internal
 */
export const checkName = (name: unknown): string | undefined => {
  if (typeof name !== "string") return "must be a string"
  if (name.length === 0) return "must not be empty"
  if (isDotSegment(name)) return `must not be "${name}" (a URL would read it as a relative path)`
  if (loneSurrogate.test(name)) return "must be valid Unicode (it has a lone surrogate)"
  const bad = forbiddenInName.exec(name)
  if (bad !== null) return `must not contain ${describeChar(bad[0])}`
  if (codePoints(name) > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`
  return undefined
}

/**
 * A user id (uuid): 1–92 characters, no control characters.
 *
 * @internal
 */
export const checkUserId = (uuid: unknown): string | undefined => {
  if (typeof uuid !== "string") return "must be a string"
  if (uuid.length === 0) return "must not be empty"
  if (isDotSegment(uuid)) return `must not be "${uuid}" (a URL would read it as a relative path)`
  if (loneSurrogate.test(uuid)) return "must be valid Unicode (it has a lone surrogate)"
  const bad = controls.exec(uuid)
  if (bad !== null) return `must not contain ${describeChar(bad[0])}`
  if (codePoints(uuid) > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`
  return undefined
}

/**
 * A presence timeout in seconds.
 *
 * @internal
 */
export const checkHeartbeat = (value: unknown): string | undefined =>
  typeof value !== "number" || !Number.isInteger(value) || value < MIN_HEARTBEAT || value > MAX_HEARTBEAT
    ? `must be a whole number of seconds from ${MIN_HEARTBEAT} to ${MAX_HEARTBEAT}`
    : undefined

/** @internal */
export const checkLimit = (value: unknown): string | undefined =>
  typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_LIMIT
    ? `must be a whole number from 0 to ${MAX_LIMIT}`
    : undefined

/** @internal */
export const checkOffset = (value: unknown): string | undefined =>
  typeof value !== "number" || !Number.isSafeInteger(value) || value < 0
    ? "must be a whole number, 0 or more"
    : undefined

/**
 * `true` when `state` is a valid {@link PresenceState} (see {@link readState} for why not).
 *
 * @internal
 */
export const isPresenceState = (state: unknown): state is PresenceState => checkState(state) === undefined

/**
 * Why `state` is not a valid {@link PresenceState}, or `undefined` when it is.
 *
 * @internal
 */
export const checkState = (state: unknown): string | undefined => {
  const r = readState(state)
  return typeof r === "string" ? r : undefined
}

/**
 * Reads a presence state value into a fresh plain object, or says why it is not one: a plain
 * object whose values are strings, finite numbers, booleans or null; keys are non-empty, and keys
 * starting with `pn` are reserved. Nested objects and arrays are refused: presence state is flat.
 * What is sent is the copy, so a value that changes (or throws) when read again cannot send
 * something that was not checked; a value whose reading throws (a hostile `Proxy`) is refused.
 *
 * @internal
 */
export const readState = (state: unknown): PresenceState | string => {
  try {
    return copyState(state)
  } catch {
    return "could not be read (reading it threw)"
  }
}

const copyState = (state: unknown): PresenceState | string => {
  if (typeof state !== "object" || state === null) return "must be a plain object"
  if (Array.isArray(state)) return "must be a plain object, not an array"
  const proto: unknown = Object.getPrototypeOf(state)
  if (proto !== Object.prototype && proto !== null) return "must be a plain object"
  if (Object.getOwnPropertySymbols(state).length > 0) return "must not have symbol keys"
  const out: { [key: string]: string | number | boolean | null } = {}
  for (const key of Object.keys(state)) {
    if (key.length === 0) return "must not have an empty key"
    if (loneSurrogate.test(key)) return `key "${key.slice(0, 40)}" is not valid Unicode`
    if (key.startsWith("pn")) return `key "${key.slice(0, 40)}" is reserved (keys starting with "pn")`
    const descriptor = Object.getOwnPropertyDescriptor(state, key)
    if (descriptor === undefined || !("value" in descriptor)) return `key "${key.slice(0, 40)}" must be a data property`
    const value: unknown = descriptor.value
    switch (typeof value) {
      case "string":
        if (loneSurrogate.test(value)) return `value of "${key.slice(0, 40)}" is not valid Unicode`
        break
      case "number":
        if (!Number.isFinite(value)) return `value of "${key.slice(0, 40)}" must be a finite number`
        break
      case "boolean":
        break
      case "object":
        if (value === null) break
        return `value of "${key.slice(0, 40)}" must be a string, number, boolean or null (state is flat)`
      default:
        return `value of "${key.slice(0, 40)}" must be a string, number, boolean or null, not ${typeof value}`
    }
    // a key named `__proto__` must stay a key
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}
