/**
 * The emulator's request dispatcher: a table of path patterns, each with the operation it is and
 * its handler. A request is checked in one order for every route — length, escapes, route,
 * method, subscribe key, signature — then handed to its handler.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { decodePathSegment } from "../encoding.js"
import { checkGrants, checkKey, verifySignature } from "./access.js"
import * as Presence from "./presence.js"
import * as Registry from "./registry.js"
import { subscribe, type SubscribeContext } from "./subscribe.js"
import {
  callerUuid,
  groupNames,
  type Handled,
  MAX_TARGET,
  type Operation,
  parseTarget,
  pathNames,
  pathUuid,
  presenceError,
  type Reply,
  type Target,
  uriTooLong
} from "./target.js"

/** What a request is served with. @internal */
export interface Context extends SubscribeContext {
  /** the clock clients sign with (presence time without `advance`), ms */
  readonly realNow: number
}

/** A matched request: its target, subscribe key and the path's captured segments. */
interface Matched {
  readonly ctx: Context
  readonly t: Target
  readonly sub: string
  readonly params: ReadonlyMap<string, string>
}

interface Route {
  /** literal segments, `:name` captures, or a list of accepted literals */
  readonly pattern: ReadonlyArray<string | ReadonlyArray<string>>
  readonly handle: (m: Matched) => Handled | Effect.Effect<Handled>
}

const SUB_KEY = ["sub-key", "sub_key"]
const PRESENCE = ["", "v2", "presence", SUB_KEY, ":sub"]
const REGISTRY = ["", "v1", "channel-registration", SUB_KEY, ":sub", "channel-group"]

const match = (route: Route, segments: ReadonlyArray<string>): Map<string, string> | undefined => {
  if (route.pattern.length !== segments.length) return undefined
  const params = new Map<string, string>()
  for (let i = 0; i < segments.length; i++) {
    const p = route.pattern[i]
    const s = segments[i]
    if (typeof p !== "string") {
      if (!p.includes(s)) return undefined
    } else if (p.startsWith(":")) params.set(p.slice(1), s)
    else if (p !== s) return undefined
  }
  return params
}

const done = (operation: Operation, reply: Reply, uuid?: string): Handled => ({ operation, uuid, reply })

const missingTargets = () => presenceError(400, "Invalid Arguments: no channels or channel groups given.")

/** The channels (path) and groups (query) of a presence request, checked. */
const scopeOf = (m: Matched): Presence.Scope | Reply => {
  const channels = pathNames(m.params.get("channels") ?? "")
  if (!channels.ok) return channels.reply
  const groups = groupNames(m.t.query)
  if (!groups.ok) return groups.reply
  return { channels: channels.value, groups: groups.value }
}

const isReply = (u: Presence.Scope | Reply): u is Reply => "status" in u

/** A presence route over channels and groups: scope, then `body`. */
const scoped = (body: (m: Matched, scope: Presence.Scope) => Handled) => (m: Matched): Handled => {
  const scope = scopeOf(m)
  return isReply(scope) ? done("unknown", scope) : body(m, scope)
}

/** Refuses an empty scope and what the grants do not allow; otherwise `answer()`. */
const allowed = (
  operation: Operation,
  m: Matched,
  scope: Presence.Scope,
  uuid: string | undefined,
  answer: () => Reply
): Handled => {
  if (scope.channels.length === 0 && scope.groups.length === 0) return done(operation, missingTargets(), uuid)
  const denied = checkGrants(m.ctx.access, m.t, scope.channels, scope.groups)
  return done(operation, denied ?? answer(), uuid)
}

const withUuid = (
  operation: Operation,
  body: (m: Matched, scope: Presence.Scope, uuid: string) => Handled
) =>
  scoped((m, scope) => {
    const uuid = pathUuid(m.params.get("uuid") ?? "")
    return uuid.ok ? body(m, scope, uuid.value) : done(operation, uuid.reply)
  })

const asCaller = (
  operation: Operation,
  body: (m: Matched, scope: Presence.Scope, uuid: string) => Reply
) =>
  scoped((m, scope) => {
    const caller = callerUuid(m.t.query)
    if (!caller.ok) return done(operation, caller.reply)
    return allowed(operation, m, scope, caller.value, () => body(m, scope, caller.value))
  })

const keyspace = (m: Matched) => m.ctx.store.peekKeyspace(m.sub)
const space = (m: Matched) => m.ctx.store.keyspace(m.sub)

const routes: ReadonlyArray<Route> = [
  {
    pattern: ["", "v2", "subscribe", ":sub", ":channels", "0"],
    handle: (m) => subscribe(m.ctx, m.t, m.sub, m.params.get("channels") ?? "")
  },
  {
    pattern: PRESENCE,
    handle: (m) =>
      done(
        "hereNow",
        checkGrants(m.ctx.access, m.t, [], []) ??
          Presence.cachedHereNow(
            m.ctx,
            Presence.hereNowCacheKey(m.sub, m.t),
            () => Presence.hereNow(m.ctx, m.t, keyspace(m), undefined)
          )
      )
  },
  {
    pattern: [...PRESENCE, "uuid", ":uuid"],
    handle: (m) => {
      const uuid = pathUuid(m.params.get("uuid") ?? "")
      if (!uuid.ok) return done("whereNow", uuid.reply)
      const denied = checkGrants(m.ctx.access, m.t, [], [])
      return done("whereNow", denied ?? Presence.whereNow(m.ctx, keyspace(m), uuid.value), uuid.value)
    }
  },
  {
    pattern: [...PRESENCE, "channel", ":channels"],
    handle: scoped((m, scope) =>
      allowed("hereNow", m, scope, undefined, () =>
        Presence.cachedHereNow(
          m.ctx,
          Presence.hereNowCacheKey(m.sub, m.t),
          () => Presence.hereNow(m.ctx, m.t, keyspace(m), scope)
        ))
    )
  },
  {
    pattern: [...PRESENCE, "channel", ":channels", "heartbeat"],
    handle: asCaller("heartbeat", (m, scope, uuid) => Presence.heartbeat(m.ctx, m.t, space(m), uuid, scope))
  },
  {
    pattern: [...PRESENCE, "channel", ":channels", "leave"],
    handle: asCaller("leave", (m, scope, uuid) => Presence.leave(m.ctx, space(m), uuid, scope))
  },
  {
    pattern: [...PRESENCE, "channel", ":channels", "uuid", ":uuid"],
    handle: withUuid(
      "getState",
      (m, scope, uuid) => allowed("getState", m, scope, uuid, () => Presence.getState(m.ctx, keyspace(m), uuid, scope))
    )
  },
  {
    pattern: [...PRESENCE, "channel", ":channels", "uuid", ":uuid", "data"],
    handle: withUuid(
      "setState",
      (m, scope, uuid) =>
        allowed("setState", m, scope, uuid, () => Presence.setState(m.ctx, m.t, space(m), uuid, scope))
    )
  },
  {
    pattern: REGISTRY,
    handle: (m) =>
      done(
        "channelGroup",
        checkGrants(m.ctx.access, m.t, [], []) ?? Registry.listGroups(m.ctx.store, m.sub),
        m.t.query.get("uuid")
      )
  },
  {
    pattern: [...REGISTRY, ":group"],
    handle: (m) => registryCall(m, (group) => Registry.changeGroup(m.ctx.store, m.sub, group, m.t.query))
  },
  {
    pattern: [...REGISTRY, ":group", "remove"],
    handle: (m) => registryCall(m, (group) => Registry.deleteGroup(m.ctx.store, m.sub, group))
  }
]

const registryCall = (m: Matched, body: (group: string) => Reply): Handled => {
  const group = Registry.groupName(m.params.get("group") ?? "")
  const uuid = m.t.query.get("uuid")
  if (typeof group !== "string") return done("channelGroup", group, uuid)
  return done("channelGroup", checkGrants(m.ctx.access, m.t, [], [group]) ?? body(group), uuid)
}

/**
 * Handles one presence or channel-group request (method and raw target).
 *
 * @internal
 */
export const handle = (ctx: Context, method: string, target: string): Effect.Effect<Handled> =>
  Effect.suspend(() => {
    const unknown = (r: Reply): Effect.Effect<Handled> => Effect.succeed(done("unknown", r))
    if (target.length > MAX_TARGET) return unknown(uriTooLong())
    const t = parseTarget(target)
    if (t === undefined) return unknown(presenceError(400, "Invalid Arguments"))
    let found: { readonly route: Route; readonly params: Map<string, string> } | undefined
    for (const route of routes) {
      const params = match(route, t.segments)
      if (params !== undefined) {
        found = { route, params }
        break
      }
    }
    if (found === undefined) return unknown(presenceError(404, `Not found: '${t.path.slice(0, 200)}'`))
    if (method !== "GET") return unknown(presenceError(405, "Method Not Allowed"))
    const sub = decodePathSegment(found.params.get("sub") ?? "")
    if (sub === undefined || sub.length === 0) return unknown(presenceError(400, "Invalid Subscribe Key"))
    const badKey = checkKey(ctx.access, sub)
    if (badKey !== undefined) return unknown(badKey)
    const { route, params } = found
    return Effect.flatMap(verifySignature(ctx.access, t, ctx.realNow), (refused) => {
      if (refused !== undefined) return Effect.succeed(done("unknown", refused))
      const handled = route.handle({ ctx, t, sub, params })
      return Effect.isEffect(handled) ? handled : Effect.succeed(handled)
    })
  })
