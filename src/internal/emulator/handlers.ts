/**
 * The emulator's presence and channel-group endpoints (PROTOCOL.md §2–4). Request in (method and
 * raw target), reply out; state changes only after every check passed.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { RequestRecord } from "../../Emulator.js"
import { decodePathSegment, decodeQueryValue, parseJson, splitList } from "../encoding.js"
import { sign } from "../request.js"
import { checkHeartbeat, checkLimit, checkName, checkOffset, checkUserId, isFlatState } from "../validation.js"
import { isJsonObject } from "../wire.js"
import type * as Wire from "../wire.js"
import type { Keyspace, Store } from "./store.js"

/** The longest request target (path + query) served; longer gets 414. @internal */
export const MAX_TARGET = 32 * 1024

/** @internal */
export interface Grant {
  readonly channels?: ReadonlyArray<string> | undefined
  readonly channelGroups?: ReadonlyArray<string> | undefined
}

/** @internal */
export interface HandlerOptions {
  readonly keys: ReadonlySet<string> | undefined
  readonly secretKey: Redacted.Redacted<string> | undefined
  readonly publishKey: string
  readonly grants:
    | ReadonlyMap<string, { channels: ReadonlySet<string>; channelGroups: ReadonlySet<string> }>
    | undefined
  readonly hereNowCacheMillis: number
}

/** @internal */
export interface Reply {
  readonly status: number
  readonly body: string
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** Which operation a request was, for the request log and counters. @internal */
export type Operation = RequestRecord["operation"]

/** @internal */
export interface Handled {
  readonly operation: Operation
  readonly uuid: string | undefined
  readonly reply: Reply
}

/** @internal */
export interface Context {
  readonly store: Store
  readonly options: HandlerOptions
  readonly cache: Map<string, { readonly expiresAt: number; readonly reply: Reply }>
  readonly now: number
}

const reply = (status: number, body: unknown): Reply => ({ status, body: JSON.stringify(body) })

/** An error body as the Presence service sends it. @internal */
export const presenceError = (status: number, message: string): Reply =>
  reply(status, { status, error: 1, message, service: "Presence" })

const accessError = (status: number, message: string, payload?: Wire.ErrorBody["payload"]): Reply =>
  reply(
    status,
    payload === undefined
      ? { message, error: true, service: "Access Manager", status }
      : { message, payload, error: true, service: "Access Manager", status }
  )

const registryOk = (): Reply => reply(200, { status: 200, message: "OK", service: "channel-registry", error: false })

const OK = { status: 200, message: "OK", service: "Presence" } as const

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

type Checked<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reply: Reply }
const good = <A>(value: A): Checked<A> => ({ ok: true, value })
const bad = (r: Reply): Checked<never> => ({ ok: false, reply: r })

/** Decodes a path list (`a,b` or `,`) and checks each name. */
const pathNames = (raw: string): Checked<Array<string>> => {
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

const groupNames = (query: ReadonlyMap<string, string>): Checked<Array<string>> => {
  const out: Array<string> = []
  for (const name of splitList(query.get("channel-group") ?? "")) {
    if (checkName(name) !== undefined) return bad(presenceError(400, "Reserved character in input parameters."))
    out.push(name)
  }
  return good(out)
}

const flag = (value: string | undefined): boolean => value === "1" || value === "true"

const intParam = (
  value: string | undefined,
  check: (u: unknown) => string | undefined
): Checked<number | undefined> => {
  if (value === undefined) return good(undefined)
  if (!/^\d{1,15}$/.test(value)) return bad(presenceError(400, "Invalid Arguments"))
  const n = Number(value)
  return check(n) === undefined ? good(n) : bad(presenceError(400, "Invalid Arguments"))
}

const callerUuid = (query: ReadonlyMap<string, string>): Checked<string> => {
  const uuid = query.get("uuid")
  return uuid === undefined || checkUserId(uuid) !== undefined
    ? bad(presenceError(400, "Missing or invalid uuid"))
    : good(uuid)
}

// ---------------------------------------------------------------------------------------------
// access: keys, signatures, grants
// ---------------------------------------------------------------------------------------------

const verifySignature = (ctx: Context, t: Target): Effect.Effect<Reply | undefined> => {
  const secret = ctx.options.secretKey
  if (secret === undefined) return Effect.succeed(undefined)
  const signature = t.query.get("signature")
  const timestamp = t.query.get("timestamp")
  if (signature === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return Effect.succeed(accessError(403, "Invalid Signature"))
  }
  if (Math.abs(Number(timestamp) * 1000 - ctx.now) > 60_000) {
    return Effect.succeed(accessError(403, "Request Expired"))
  }
  const canonical = t.rawPairs.filter(([k]) => k !== "signature")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&")
  return sign(secret, `GET\n${ctx.options.publishKey}\n${t.path}\n${canonical}\n`).pipe(
    Effect.map((expected) => (expected === signature ? undefined : accessError(403, "Invalid Signature"))),
    Effect.orElseSucceed(() => accessError(403, "Invalid Signature"))
  )
}

const checkGrants = (
  ctx: Context,
  t: Target,
  channels: ReadonlyArray<string>,
  groups: ReadonlyArray<string>
): Reply | undefined => {
  const grants = ctx.options.grants
  if (grants === undefined) return undefined
  const auth = t.query.get("auth")
  const grant = auth === undefined ? undefined : grants.get(auth)
  const refusedChannels = grant === undefined ? channels : channels.filter((c) => !grant.channels.has(c))
  const refusedGroups = grant === undefined ? groups : groups.filter((g) => !grant.channelGroups.has(g))
  if (grant !== undefined && refusedChannels.length === 0 && refusedGroups.length === 0) return undefined
  return accessError(403, "Forbidden", { channels: [...refusedChannels], "channel-groups": [...refusedGroups] })
}

// ---------------------------------------------------------------------------------------------
// presence endpoints
// ---------------------------------------------------------------------------------------------

const listOccupants = (
  ctx: Context,
  ks: Keyspace,
  channel: string,
  occupants: ReadonlyMap<string, unknown>,
  withState: boolean,
  offset: number,
  limit: number
): Array<Wire.Occupant> => {
  const out: Array<Wire.Occupant> = []
  let i = 0
  for (const uuid of occupants.keys()) {
    if (i++ < offset) continue
    if (out.length >= limit) break
    if (withState) {
      const state = ctx.store.stateOf(ks, channel, uuid)
      out.push(state === undefined ? { uuid } : { uuid, state })
    } else {
      out.push(uuid)
    }
  }
  return out
}

const hereNow = (
  ctx: Context,
  t: Target,
  ks: Keyspace | undefined,
  scope: { readonly channels: ReadonlyArray<string>; readonly groups: ReadonlyArray<string> } | undefined
): Reply => {
  const limitP = intParam(t.query.get("limit"), checkLimit)
  if (!limitP.ok) return limitP.reply
  const offsetP = intParam(t.query.get("offset"), checkOffset)
  if (!offsetP.ok) return offsetP.reply
  const limit = limitP.value ?? 1000
  const offset = offsetP.value ?? 0
  const listing = !flag(t.query.get("disable_uuids")) && limit > 0
  const withState = flag(t.query.get("state"))
  const entry = (channel: string, occupants: ReadonlyMap<string, unknown> | undefined): Wire.ChannelEntry => {
    const occupancy = occupants?.size ?? 0
    if (!listing) return { occupancy }
    const uuids = ks === undefined || occupants === undefined
      ? []
      : listOccupants(ctx, ks, channel, occupants, withState, offset, limit)
    return { uuids, occupancy }
  }
  if (scope !== undefined && scope.channels.length === 1 && scope.groups.length === 0) {
    const e = entry(scope.channels[0], ks?.channels.get(scope.channels[0]))
    const body: Wire.HereNowFlat = { ...OK, ...e }
    return reply(200, body)
  }
  const names = scope === undefined ? [...(ks?.channels.keys() ?? [])] : ctx.store.expand(ks, scope.channels, [])
  const named = new Set(names)
  const members = new Set(
    scope === undefined || scope.groups.length === 0
      ? []
      : ctx.store.expand(ks, [], scope.groups).filter((m) => !named.has(m))
  )
  const channels: Record<string, Wire.ChannelEntry> = {}
  let listed = 0
  let total = 0
  let emptyMembers = 0
  for (const name of [...names, ...members]) {
    const occupants = ks?.channels.get(name)
    const occupancy = occupants?.size ?? 0
    if (occupancy === 0 || (listing && offset >= occupancy)) {
      if (members.has(name)) emptyMembers++
      continue
    }
    channels[name] = entry(name, occupants)
    listed++
    total += occupancy
  }
  const body: Wire.HereNowNested = {
    ...OK,
    payload: { channels, total_channels: listed + emptyMembers, total_occupancy: total }
  }
  return reply(200, body)
}

const whereNow = (ctx: Context, ks: Keyspace | undefined, uuid: string): Reply => {
  const body: Wire.WhereNow = { ...OK, payload: { channels: ctx.store.whereNow(ks, uuid) } }
  return reply(200, body)
}

const getState = (
  ctx: Context,
  ks: Keyspace | undefined,
  uuid: string,
  channels: ReadonlyArray<string>,
  groups: ReadonlyArray<string>
): Reply => {
  if (channels.length === 1 && groups.length === 0) {
    const body: Wire.GetStateSingle = {
      ...OK,
      uuid,
      channel: channels[0],
      payload: ctx.store.stateOf(ks, channels[0], uuid) ?? {}
    }
    return reply(200, body)
  }
  const out: Record<string, Wire.StateObject> = {}
  for (const ch of ctx.store.expand(ks, channels, groups)) out[ch] = ctx.store.stateOf(ks, ch, uuid) ?? {}
  const body: Wire.GetStateMulti = { ...OK, uuid, payload: { channels: out } }
  return reply(200, body)
}

/** A write by one uuid to channels and groups of a keyspace, with its request's query. */
type Write = (
  ctx: Context,
  t: Target,
  ks: Keyspace,
  uuid: string,
  channels: ReadonlyArray<string>,
  groups: ReadonlyArray<string>
) => Reply

const setState: Write = (ctx, t, ks, uuid, channels, groups) => {
  const text = t.query.get("state")
  if (text === undefined || text.length === 0) return presenceError(400, "No state specified.")
  const state = Option.getOrUndefined(parseJson(text))
  if (!isFlatState(state)) return presenceError(400, "Invalid state: it must be a flat JSON object.")
  for (const ch of ctx.store.expand(ks, channels, groups)) ctx.store.putState(ks, ch, uuid, state, ctx.now)
  const body: Wire.SetState = { ...OK, payload: state }
  return reply(200, body)
}

const heartbeat: Write = (ctx, t, ks, uuid, channels, groups) => {
  const hb = t.query.get("heartbeat")
  let timeout = 300
  if (hb !== undefined) {
    const n = /^\d{1,6}$/.test(hb) ? Number(hb) : Number.NaN
    if (checkHeartbeat(n) !== undefined) return presenceError(400, "Invalid heartbeat value: it must be 20 to 320.")
    timeout = n
  }
  const states = new Map<string, Wire.StateObject>()
  const text = t.query.get("state")
  if (text !== undefined && text.length > 0) {
    const parsed = Option.getOrUndefined(parseJson(text))
    if (!isJsonObject(parsed)) {
      return presenceError(400, "Invalid state: it must be a JSON object keyed by channel.")
    }
    for (const [name, s] of Object.entries(parsed)) {
      if (!isFlatState(s)) return presenceError(400, "Invalid state: it must be a flat JSON object.")
      if (groups.includes(name)) { for (const m of ctx.store.expand(ks, [], [name])) states.set(m, s) }
      else states.set(name, s)
    }
  }
  ctx.store.heartbeat(ks, uuid, ctx.store.expand(ks, channels, groups), timeout, states, ctx.now)
  const body: Wire.Heartbeat = { ...OK }
  return reply(200, body)
}

const leave = (
  ctx: Context,
  ks: Keyspace,
  uuid: string,
  channels: ReadonlyArray<string>,
  groups: ReadonlyArray<string>
): Reply => {
  ctx.store.leave(ks, uuid, ctx.store.expand(ks, channels, groups), ctx.now)
  const body: Wire.Leave = { status: 200, message: "OK", action: "leave", service: "Presence" }
  return reply(200, body)
}

const cacheKey = (sub: string, t: Target): string => {
  const keep = ["channel-group", "disable_uuids", "state", "limit", "offset"]
  return `${sub}|${t.path}|${keep.map((k) => `${k}=${t.query.get(k) ?? ""}`).join("&")}`
}

const cachedHereNow = (ctx: Context, key: string, compute: () => Reply): Reply => {
  if (ctx.options.hereNowCacheMillis <= 0) return compute()
  const hit = ctx.cache.get(key)
  if (hit !== undefined && hit.expiresAt > ctx.now) return hit.reply
  if (ctx.cache.size > 10_000) {
    for (const [k, v] of ctx.cache) if (v.expiresAt <= ctx.now) ctx.cache.delete(k)
    if (ctx.cache.size > 10_000) ctx.cache.clear()
  }
  const r = compute()
  if (r.status === 200) ctx.cache.set(key, { expiresAt: ctx.now + ctx.options.hereNowCacheMillis, reply: r })
  return r
}

const isSubKeySegment = (s: string | undefined): boolean => s === "sub-key" || s === "sub_key"

/**
 * Handles one presence or channel-group request.
 *
 * @internal
 */
export const handle = (ctx: Context, method: string, target: string): Effect.Effect<Handled> =>
  Effect.suspend(() => {
    const unknown = (r: Reply): Effect.Effect<Handled> =>
      Effect.succeed({ operation: "unknown", uuid: undefined, reply: r })
    if (target.length > MAX_TARGET) {
      return unknown(reply(414, { message: "Request URI Too Long", error: true, service: "Balancer", status: 414 }))
    }
    const t = parseTarget(target)
    if (t === undefined) return unknown(presenceError(400, "Invalid Arguments"))
    const s = t.segments
    const notFound = presenceError(404, `Not found: '${t.path.slice(0, 200)}'`)
    const isPresence = s[1] === "v2" && s[2] === "presence" && isSubKeySegment(s[3]) && s.length >= 5
    const isRegistry = s[1] === "v1" && s[2] === "channel-registration" && isSubKeySegment(s[3]) && s.length >= 6 &&
      s[5] === "channel-group"
    if (!isPresence && !isRegistry) return unknown(notFound)
    if (method !== "GET") return unknown(presenceError(405, "Method Not Allowed"))
    const sub = decodePathSegment(s[4])
    if (sub === undefined || sub.length === 0) return unknown(presenceError(400, "Invalid Subscribe Key"))
    if (ctx.options.keys !== undefined && !ctx.options.keys.has(sub)) {
      return unknown(accessError(400, "Invalid Subscribe Key"))
    }
    return Effect.flatMap(verifySignature(ctx, t), (refused): Effect.Effect<Handled> => {
      if (refused !== undefined) return unknown(refused)
      return Effect.succeed(isPresence ? presence(ctx, t, sub) : registry(ctx, t, sub))
    })
  })

const presence = (ctx: Context, t: Target, sub: string): Handled => {
  const s = t.segments
  const done = (operation: Operation, r: Reply, uuid?: string): Handled => ({ operation, uuid, reply: r })
  const ks = ctx.store.peekKeyspace(sub)
  // global here now
  if (s.length === 5) {
    const denied = checkGrants(ctx, t, [], [])
    if (denied !== undefined) return done("hereNow", denied)
    return done("hereNow", cachedHereNow(ctx, cacheKey(sub, t), () => hereNow(ctx, t, ks, undefined)))
  }
  // where now
  if (s[5] === "uuid" && s.length === 7) {
    const uuid = decodePathSegment(s[6])
    if (uuid === undefined || checkUserId(uuid) !== undefined) {
      return done("whereNow", presenceError(400, "Invalid uuid"))
    }
    const denied = checkGrants(ctx, t, [], [])
    if (denied !== undefined) return done("whereNow", denied, uuid)
    return done("whereNow", whereNow(ctx, ks, uuid), uuid)
  }
  if (s[5] !== "channel" || s.length < 7) {
    return done("unknown", presenceError(404, `Not found: '${t.path.slice(0, 200)}'`))
  }
  const chs = pathNames(s[6])
  if (!chs.ok) return done("unknown", chs.reply)
  const grs = groupNames(t.query)
  if (!grs.ok) return done("unknown", grs.reply)
  const channels = chs.value
  const groups = grs.value
  const rest = s.slice(7)
  const noTargets = channels.length === 0 && groups.length === 0
  const missing = presenceError(400, "Invalid Arguments: no channels or channel groups given.")
  if (rest.length === 0) {
    if (noTargets) return done("hereNow", missing)
    const denied = checkGrants(ctx, t, channels, groups)
    if (denied !== undefined) return done("hereNow", denied)
    return done("hereNow", cachedHereNow(ctx, cacheKey(sub, t), () => hereNow(ctx, t, ks, { channels, groups })))
  }
  if (rest.length === 1 && (rest[0] === "heartbeat" || rest[0] === "leave")) {
    const op = rest[0]
    const caller = callerUuid(t.query)
    if (!caller.ok) return done(op, caller.reply)
    if (noTargets) return done(op, missing, caller.value)
    const denied = checkGrants(ctx, t, channels, groups)
    if (denied !== undefined) return done(op, denied, caller.value)
    const space = ctx.store.keyspace(sub)
    return done(
      op,
      op === "heartbeat"
        ? heartbeat(ctx, t, space, caller.value, channels, groups)
        : leave(ctx, space, caller.value, channels, groups),
      caller.value
    )
  }
  if (rest[0] === "uuid" && (rest.length === 2 || (rest.length === 3 && rest[2] === "data"))) {
    const op = rest.length === 2 ? "getState" : "setState"
    const uuid = decodePathSegment(rest[1])
    if (uuid === undefined || checkUserId(uuid) !== undefined) return done(op, presenceError(400, "Invalid uuid"))
    if (noTargets) return done(op, missing, uuid)
    const denied = checkGrants(ctx, t, channels, groups)
    if (denied !== undefined) return done(op, denied, uuid)
    return done(
      op,
      op === "getState"
        ? getState(ctx, ks, uuid, channels, groups)
        : setState(ctx, t, ctx.store.keyspace(sub), uuid, channels, groups),
      uuid
    )
  }
  return done("unknown", presenceError(404, `Not found: '${t.path.slice(0, 200)}'`))
}

// ---------------------------------------------------------------------------------------------
// channel-group registry
// ---------------------------------------------------------------------------------------------

const registry = (ctx: Context, t: Target, sub: string): Handled => {
  const s = t.segments
  const done = (r: Reply): Handled => ({ operation: "channelGroup", uuid: t.query.get("uuid"), reply: r })
  const registryError = (status: number, message: string) =>
    done(reply(status, { status, error: true, message, service: "channel-registry" }))
  const ks = ctx.store.peekKeyspace(sub)
  if (s.length === 6) {
    const denied = checkGrants(ctx, t, [], [])
    if (denied !== undefined) return done(denied)
    const groups = [...(ks?.groups.keys() ?? [])]
    return done(
      reply(200, { status: 200, payload: { groups, sub_key: sub }, service: "channel-registry", error: false })
    )
  }
  const group = decodePathSegment(s[6])
  if (group === undefined || checkName(group) !== undefined) return registryError(400, "Invalid channel group name")
  const denied = checkGrants(ctx, t, [], [group])
  if (denied !== undefined) return done(denied)
  if (s.length === 8 && s[7] === "remove") {
    ks?.groups.delete(group)
    return done(registryOk())
  }
  if (s.length !== 7) return registryError(404, `Not found: '${t.path.slice(0, 200)}'`)
  const add = splitList(t.query.get("add") ?? "")
  const remove = splitList(t.query.get("remove") ?? "")
  for (const name of [...add, ...remove]) {
    if (checkName(name) !== undefined) return registryError(400, "Invalid channel name")
  }
  if (add.length === 0 && remove.length === 0) {
    const body: Wire.ChannelGroupList = {
      status: 200,
      payload: { channels: [...(ks?.groups.get(group) ?? [])], group },
      service: "channel-registry",
      error: false
    }
    return done(reply(200, body))
  }
  const space = ctx.store.keyspace(sub)
  let members = space.groups.get(group)
  if (members === undefined) {
    members = new Set()
    space.groups.set(group, members)
  }
  for (const name of add) members.add(name)
  for (const name of remove) members.delete(name)
  return done(registryOk())
}

/** Builds handler options from user-facing ones. @internal */
export const makeOptions = (options: {
  readonly keys?: ReadonlyArray<string> | undefined
  readonly secretKey?: string | Redacted.Redacted<string> | undefined
  readonly publishKey?: string | undefined
  readonly grants?: Readonly<Record<string, Grant>> | undefined
  readonly hereNowCacheSeconds?: number | undefined
}): HandlerOptions => ({
  keys: options.keys === undefined ? undefined : new Set(options.keys),
  secretKey: options.secretKey === undefined
    ? undefined
    : Redacted.isRedacted(options.secretKey)
    ? options.secretKey
    : Redacted.make(options.secretKey),
  publishKey: options.publishKey ?? "",
  grants: options.grants === undefined ? undefined : new Map(
    Object.entries(options.grants).map(([auth, g]) => [auth, {
      channels: new Set(g.channels ?? []),
      channelGroups: new Set(g.channelGroups ?? [])
    }])
  ),
  hereNowCacheMillis: Math.max(0, (options.hereNowCacheSeconds ?? 0) * 1000)
})
