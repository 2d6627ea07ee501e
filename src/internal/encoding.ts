/**
 * PubNub percent-encoding, the one place that builds query strings, and parsing JSON text.
 *
 * @internal
 */
import * as Option from "effect/Option"

const extra = /[!'()*~]/g
const unreserved = /^[A-Za-z0-9_.-]*$/
const extraCode = (c: string): string => "%" + c.charCodeAt(0).toString(16).toUpperCase()

/**
 * Percent-encodes so that only `A-Z a-z 0-9 - _ .` stay literal. The caller guarantees `value` is
 * well-formed UTF-16 (validated names and JSON text always are).
 *
 * @internal
 */
export const encode = (value: string): string =>
  unreserved.test(value) ? value : encodeURIComponent(value).replace(extra, extraCode)

/**
 * A list of names in a path: each encoded, joined by a literal `,`; an empty list is `,`.
 *
 * @internal
 */
export const encodePathList = (names: ReadonlyArray<string>): string =>
  names.length === 0 ? "," : names.map(encode).join(",")

/**
 * A query string from key/value pairs, in the order given, values encoded with {@link encode}.
 *
 * @internal
 */
export const encodeQuery = (params: ReadonlyArray<readonly [string, string]>): string => {
  let out = ""
  for (const [key, value] of params) {
    if (out.length > 0) out += "&"
    out += encode(key) + "=" + encode(value)
  }
  return out
}

/**
 * Percent-decodes a query value (treating `+` as a space); `undefined` when the escapes are bad.
 *
 * @internal
 */
export const decodeQueryValue = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

/**
 * Percent-decodes a path segment; `undefined` when the escapes are bad.
 *
 * @internal
 */
export const decodePathSegment = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

/**
 * Splits a decoded list on `,`, dropping empty items.
 *
 * @internal
 */
export const splitList = (value: string): Array<string> => value.split(",").filter((s) => s.length > 0)

/**
 * JSON text parsed, or none when it is not JSON (or is truncated).
 *
 * @internal
 */
export const parseJson: (text: string) => Option.Option<unknown> = Option.liftThrowable(JSON.parse)
