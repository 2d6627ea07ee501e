/**
 * What the emulator's endpoints share: replies in the service's shapes, the parsed request
 * target, and the checks on names and numbers in it.
 *
 * @internal
 */
import type { RequestRecord } from "../../Emulator.js"
import { decodePathSegment, decodeQueryValue, splitList } from "../encoding.js"
import { checkName, checkUserId } from "../validation.js"
import type * as Wire from "../wire.js"

/** @internal */
export interface Reply {
  readonly status: number
  readonly body: string
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** Which operation a request was, for the request log and counters. @internal */
export type Operation = RequestRecord["operation"]

/** A reply and what the log records of it. @internal */
export interface Handled {
  readonly operation: Operation
  readonly uuid: string | undefined
  readonly reply: Reply
}

/** @internal */
export const reply = (status: number, body: unknown): Reply => ({ status, body: JSON.stringify(body) })

/** An error body as the Presence service sends it. @internal */
export const presenceError = (status: number, message: string): Reply =>
  reply(status, { status, error: 1, message, service: "Presence" })

/** An error body as the access layer sends it. @internal */
export const accessError = (status: number, message: string, payload?: Wire.ErrorBody["payload"]): Reply =>
  reply(
    status,
    payload === undefined
      ? { message, error: true, service: "Access Manager", status }
      : { message, payload, error: true, service: "Access Manager", status }
  )

/** The longest request target (path + query) served; longer gets 414. @internal */
export const MAX_TARGET = 32 * 1024

/** The 414 the service's balancer sends. @internal */
export const uriTooLong = (): Reply =>
  reply(414, { message: "Request URI Too Long", error: true, service: "Balancer", status: 414 })

/** @internal */
export const OK = { status: 200, message: "OK", service: "Presence" } as const

/** A parsed request target. @internal */
export interface Target {
  readonly path: string
  readonly segments: ReadonlyArray<string>
  readonly rawPairs: ReadonlyArray<readonly [string, string]>
  readonly query: ReadonlyMap<string, string>
}

/** Splits a target into path segments and query pairs; `undefined` when escapes are broken. @internal */
export const parseTarget = (target: string): Target | undefined => {
  const q = target.indexOf("?")
  const path = q < 0 ? target : target.slice(0, q)
  const rawQuery = q < 0 ? "" : target.slice(q + 1)
  const segments = path.split("/")
  if (segments.length > 1 && segments[segments.length - 1] === "") segments.pop()
  const rawPairs: Array<readonly [string, string]> = []
  const query = new Map<string, string>()
  for (const part of rawQuery.split("&")) {
    if (part.length === 0) continue
    const eq = part.indexOf("=")
    const rawKey = eq < 0 ? part : part.slice(0, eq)
    const rawValue = eq < 0 ? "" : part.slice(eq + 1)
    const key = decodeQueryValue(rawKey)
    const value = decodeQueryValue(rawValue)
    if (key === undefined || value === undefined) return undefined
    rawPairs.push([rawKey, rawValue])
    if (!query.has(key)) query.set(key, value)
  }
  return { path, segments, rawPairs, query }
}

/** The path and query of a request URL (absolute for web requests, relative on Node). @internal */
export const targetOf = (url: string): string => {
  const scheme = url.indexOf("://")
  if (scheme < 0 || scheme > 10) return url
  const slash = url.indexOf("/", scheme + 3)
  return slash < 0 ? "/" : url.slice(slash)
}

/** A check's outcome: the value, or the reply refusing the request. @internal */
export type Checked<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reply: Reply }
/** @internal */
export const good = <A>(value: A): Checked<A> => ({ ok: true, value })
/** @internal */
export const bad = (r: Reply): Checked<never> => ({ ok: false, reply: r })

/** Decodes a path list (`a,b` or `,`) and checks each name. @internal */
export const pathNames = (raw: string): Checked<Array<string>> => {
  const out: Array<string> = []
  for (const item of raw.split(",")) {
    if (item.length === 0) continue
    const name = decodePathSegment(item)
    if (name === undefined) return bad(presenceError(400, "Invalid Arguments"))
    if (checkName(name) !== undefined) return bad(presenceError(400, "Reserved character in input parameters."))
    out.push(name)
  }
  return good(out)
}

/** The `channel-group` query value, checked. @internal */
export const groupNames = (query: ReadonlyMap<string, string>): Checked<Array<string>> => {
  const out: Array<string> = []
  for (const name of splitList(query.get("channel-group") ?? "")) {
    if (checkName(name) !== undefined) return bad(presenceError(400, "Reserved character in input parameters."))
    out.push(name)
  }
  return good(out)
}

/** @internal */
export const flag = (value: string | undefined): boolean => value === "1" || value === "true"

/** A whole-number query value, checked. @internal */
export const intParam = (
  value: string | undefined,
  check: (u: unknown) => string | undefined
): Checked<number | undefined> => {
  if (value === undefined) return good(undefined)
  if (!/^\d{1,15}$/.test(value)) return bad(presenceError(400, "Invalid Arguments"))
  const n = Number(value)
  return check(n) === undefined ? good(n) : bad(presenceError(400, "Invalid Arguments"))
}

/** The caller's own `uuid`, checked. @internal */
export const callerUuid = (query: ReadonlyMap<string, string>): Checked<string> => {
  const uuid = query.get("uuid")
  return uuid === undefined || checkUserId(uuid) !== undefined
    ? bad(presenceError(400, "Missing or invalid uuid"))
    : good(uuid)
}

/** A uuid path segment, checked. @internal */
export const pathUuid = (segment: string): Checked<string> => {
  const uuid = decodePathSegment(segment)
  return uuid === undefined || checkUserId(uuid) !== undefined
    ? bad(presenceError(400, "Invalid uuid"))
    : good(uuid)
}

/**
 * An object with these own keys, whatever they are: `{}` and `obj[key] = …` would turn a key named
 * `__proto__` into the object's prototype, and the name would vanish from the answer.
 *
 * @internal
 */
export const recordOf = <A>(entries: Iterable<readonly [string, A]>): { [key: string]: A } =>
  Object.fromEntries(entries)
