/**
 * The emulator's presence endpoints: here-now (one channel, several, groups, global), where-now,
 * get and set state, heartbeat, leave. Each takes the parsed request and answers in the service's
 * shapes; state changes only after every check passed.
 *
 * @internal
 */
import * as Option from "effect/Option"
import { parseJson } from "../encoding.js"
import { checkLimit, checkOffset, isPresenceState } from "../validation.js"
import type * as Wire from "../wire.js"
import { isJsonObject } from "../wire.js"
import type { Access } from "./access.js"
import type { Keyspace, Store } from "./store.js"
import { flag, intParam, OK, presenceError, recordOf, type Reply, reply, type Target } from "./target.js"

/** What an endpoint works with. @internal */
export interface Context {
  readonly store: Store
  readonly access: Access
  readonly cache: HereNowCache
  /** presence time, ms */
  readonly now: number
}

/** Cached here-now answers, as the service keeps them for 3 seconds. @internal */
export interface HereNowCache {
  readonly millis: number
  readonly entries: Map<string, { readonly expiresAt: number; readonly reply: Reply }>
}

/** The channels and groups a request names. @internal */
export interface Scope {
  readonly channels: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
}

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

/** Here-now for some channels and groups, or (`scope` undefined) for the whole keyspace. @internal */
export const hereNow = (ctx: Context, t: Target, ks: Keyspace | undefined, scope: Scope | undefined): Reply => {
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
    const body: typeof Wire.HereNowFlat.Encoded = { ...OK, ...e }
    return reply(200, body)
  }
  const names = scope === undefined ? [...(ks?.channels.keys() ?? [])] : ctx.store.expand(ks, scope.channels, [])
  const named = new Set(names)
  const members = new Set(
    scope === undefined || scope.groups.length === 0
      ? []
      : ctx.store.expand(ks, [], scope.groups).filter((m) => !named.has(m))
  )
  const channels: Array<readonly [string, Wire.ChannelEntry]> = []
  let total = 0
  let emptyMembers = 0
  for (const name of [...names, ...members]) {
    const occupants = ks?.channels.get(name)
    const occupancy = occupants?.size ?? 0
    if (occupancy === 0 || (listing && offset >= occupancy)) {
      if (members.has(name)) emptyMembers++
      continue
    }
    channels.push([name, entry(name, occupants)])
    total += occupancy
  }
  const body: typeof Wire.HereNowNested.Encoded = {
    ...OK,
    payload: { channels: recordOf(channels), total_channels: channels.length + emptyMembers, total_occupancy: total }
  }
  return reply(200, body)
}

/** @internal */
export const cachedHereNow = (ctx: Context, key: string, compute: () => Reply): Reply => {
  const cache = ctx.cache
  if (cache.millis <= 0) return compute()
  const hit = cache.entries.get(key)
  if (hit !== undefined && hit.expiresAt > ctx.now) return hit.reply
  if (cache.entries.size > 10_000) {
    for (const [k, v] of cache.entries) if (v.expiresAt <= ctx.now) cache.entries.delete(k)
    if (cache.entries.size > 10_000) cache.entries.clear()
  }
  const r = compute()
  if (r.status === 200) cache.entries.set(key, { expiresAt: ctx.now + cache.millis, reply: r })
  return r
}

/** What a here-now answer depends on, besides the path. @internal */
export const hereNowCacheKey = (sub: string, t: Target): string => {
  const keep = ["channel-group", "disable_uuids", "state", "limit", "offset"]
  return `${sub}|${t.path}|${keep.map((k) => `${k}=${t.query.get(k) ?? ""}`).join("&")}`
}

/** @internal */
export const whereNow = (ctx: Context, ks: Keyspace | undefined, uuid: string): Reply => {
  const body: typeof Wire.WhereNow.Encoded = { ...OK, payload: { channels: ctx.store.whereNow(ks, uuid) } }
  return reply(200, body)
}

/** @internal */
export const getState = (ctx: Context, ks: Keyspace | undefined, uuid: string, scope: Scope): Reply => {
  if (scope.channels.length === 1 && scope.groups.length === 0) {
    const body: typeof Wire.GetStateSingle.Encoded = {
      ...OK,
      uuid,
      channel: scope.channels[0],
      payload: ctx.store.stateOf(ks, scope.channels[0], uuid) ?? {}
    }
    return reply(200, body)
  }
  const channels = ctx.store.expand(ks, scope.channels, scope.groups).map((ch) =>
    [ch, ctx.store.stateOf(ks, ch, uuid) ?? {}] as const
  )
  const body: typeof Wire.GetStateMulti.Encoded = { ...OK, uuid, payload: { channels: recordOf(channels) } }
  return reply(200, body)
}

/** @internal */
export const setState = (ctx: Context, t: Target, ks: Keyspace, uuid: string, scope: Scope): Reply => {
  const text = t.query.get("state")
  if (text === undefined || text.length === 0) return presenceError(400, "No state specified.")
  const state = Option.getOrUndefined(parseJson(text))
  if (!isPresenceState(state)) return presenceError(400, "Invalid state: it must be a flat JSON object.")
  for (const ch of ctx.store.expand(ks, scope.channels, scope.groups)) ctx.store.putState(ks, ch, uuid, state, ctx.now)
  const body: typeof Wire.SetState.Encoded = { ...OK, payload: state }
  return reply(200, body)
}

/** The service takes any whole number of seconds from 1 (SDKs keep their own 20–320 rule). @internal */
export const MAX_HEARTBEAT_VALUE = 86_400

/** @internal */
export const heartbeat = (ctx: Context, t: Target, ks: Keyspace, uuid: string, scope: Scope): Reply => {
  const hb = t.query.get("heartbeat")
  let timeout = 300
  if (hb !== undefined) {
    const n = /^\d{1,6}$/.test(hb) ? Number(hb) : Number.NaN
    if (!(n >= 1 && n <= MAX_HEARTBEAT_VALUE)) {
      return presenceError(400, `Invalid heartbeat value: it must be a whole number of seconds from 1.`)
    }
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
      if (!isPresenceState(s)) return presenceError(400, "Invalid state: it must be a flat JSON object.")
      if (scope.groups.includes(name)) { for (const m of ctx.store.expand(ks, [], [name])) states.set(m, s) }
      else states.set(name, s)
    }
  }
  ctx.store.heartbeat(ks, uuid, ctx.store.expand(ks, scope.channels, scope.groups), timeout, states, ctx.now)
  const body: typeof Wire.Heartbeat.Encoded = { ...OK }
  return reply(200, body)
}

/** @internal */
export const leave = (ctx: Context, ks: Keyspace, uuid: string, scope: Scope): Reply => {
  ctx.store.leave(ks, uuid, ctx.store.expand(ks, scope.channels, scope.groups), ctx.now)
  const body: typeof Wire.Leave.Encoded = { status: 200, message: "OK", action: "leave", service: "Presence" }
  return reply(200, body)
}
