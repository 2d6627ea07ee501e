/**
 * Input rules shared by the client (checked before sending) and the emulator (checked on arrival).
 * Each check returns `undefined` when the value is fine, or the reason it is not.
 *
 * @internal
 */

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
 * A channel or channel-group name.
 *
 * @internal
 */
export const checkName = (name: unknown): string | undefined => {
  if (typeof name !== "string") return "must be a string"
  if (name.length === 0) return "must not be empty"
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
 * Presence state as sent: a flat object of strings, finite numbers, booleans and nulls.
 *
 * @internal
 */
export type FlatState = { readonly [key: string]: string | number | boolean | null }

/**
 * `true` when `state` is a valid {@link FlatState} (see {@link checkState} for why not).
 *
 * @internal
 */
export const isFlatState = (state: unknown): state is FlatState => checkState(state) === undefined

/**
 * A presence state value: a plain object whose values are strings, finite numbers, booleans or
 * null; keys are non-empty, and keys starting with `pn` are reserved. Nested objects and arrays
 * are refused: presence state is flat.
 *
 * @internal
 */
export const checkState = (state: unknown): string | undefined => {
  if (typeof state !== "object" || state === null) return "must be a plain object"
  if (Array.isArray(state)) return "must be a plain object, not an array"
  const proto: unknown = Object.getPrototypeOf(state)
  if (proto !== Object.prototype && proto !== null) return "must be a plain object"
  if (Object.getOwnPropertySymbols(state).length > 0) return "must not have symbol keys"
  for (const key of Object.keys(state)) {
    if (key.length === 0) return "must not have an empty key"
    if (loneSurrogate.test(key)) return `key "${key}" is not valid Unicode`
    if (key.startsWith("pn")) return `key "${key}" is reserved (keys starting with "pn")`
    const descriptor = Object.getOwnPropertyDescriptor(state, key)
    if (descriptor === undefined || !("value" in descriptor)) return `key "${key}" must be a data property`
    const value: unknown = descriptor.value
    switch (typeof value) {
      case "string":
        if (loneSurrogate.test(value)) return `value of "${key}" is not valid Unicode`
        break
      case "number":
        if (!Number.isFinite(value)) return `value of "${key}" must be a finite number`
        break
      case "boolean":
        break
      case "object":
        if (value === null) break
        return `value of "${key}" must be a string, number, boolean or null (state is flat)`
      default:
        return `value of "${key}" must be a string, number, boolean or null, not ${typeof value}`
    }
  }
  return undefined
}
