/**
 * The subscribe long-poll, for presence: `GET /v2/subscribe/{sub}/{channels or ,}/0`.
 *
 * - The handshake (no `tt`, or `tt=0`) answers at once with the current timetoken.
 * - A poll (`tt=T`) answers at once with what was published on its `-pnpres` channels (directly,
 *   or as members of its `<group>-pnpres` groups) after `T` — at most 100 messages, the newest, as
 *   the service does — or holds until something is, until its window passes (in presence time, so
 *   `advance` ends it too), or until its client goes away (the request is interrupted).
 * - Channels and groups without `-pnpres`, with `heartbeat` and `state`, make the caller present,
 *   as a heartbeat does: every subscribe call counts as one.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Access } from "./access.js"
import { checkGrants } from "./access.js"
import * as Presence from "./presence.js"
import type { Channelled, Message, Timetokens } from "./published.js"
import type { Keyspace, Store } from "./store.js"
import {
  callerUuid,
  groupNames,
  type Handled,
  pathNames,
  presenceError,
  type Reply,
  reply,
  type Target
} from "./target.js"

/** What the subscribe endpoint works with. @internal */
export interface SubscribeContext extends Presence.Context {
  readonly access: Access
  readonly store: Store
  readonly timetokens: Timetokens
  readonly published: (sub: string) => Channelled
  /** presence time now */
  readonly presenceNow: Effect.Effect<number>
  /** completes at the next publication (or `advance`, or reset) */
  readonly changed: Effect.Effect<void>
  /** how long a poll is held, ms of presence time */
  readonly windowMs: number
  /** publishes the presence changes made so far (a subscribe that joined, before it holds) */
  readonly flush: Effect.Effect<void>
  /** how many polls are being held now */
  readonly holding: { count: number }
}

/** The service answers with at most this many messages. @internal */
export const MAX_MESSAGES = 100

const SUFFIX = "-pnpres"

const isPresenceName = (name: string) => name.endsWith(SUFFIX) && name.length > SUFFIX.length
const strip = (name: string) => name.slice(0, -SUFFIX.length)

/** What a subscription listens to. */
interface Listening {
  /** channels whose `-pnpres` is subscribed */
  readonly channels: ReadonlySet<string>
  /** groups whose `-pnpres` is subscribed */
  readonly groups: ReadonlyArray<string>
}

/** The message as an envelope, or `undefined` when this subscription does not listen to it. */
const envelope = (sub: string, ks: Keyspace | undefined, listening: Listening, m: Message) => {
  let match: string | undefined = listening.channels.has(m.channel) ? m.channel + SUFFIX : undefined
  if (match === undefined) {
    for (const g of listening.groups) {
      if (ks?.groups.get(g)?.has(m.channel) === true) {
        match = g + SUFFIX
        break
      }
    }
  }
  if (match === undefined) return undefined
  return {
    a: "2",
    f: 0,
    p: { t: m.timetoken, r: 1 },
    k: sub,
    c: m.channel + SUFFIX,
    b: match,
    d: m.payload,
    u: m.meta
  }
}

/** The messages after `after` this subscription listens to: the newest 100, and the timetoken to go on from. */
const pending = (ctx: SubscribeContext, sub: string, listening: Listening, after: bigint) => {
  const buffer = ctx.published(sub).buffer
  const ks = ctx.store.peekKeyspace(sub)
  const out: Array<ReturnType<typeof envelope>> = []
  let last: string | undefined
  for (let i = buffer.length - 1; i >= 0; i--) {
    const m = buffer[i]
    if (BigInt(m.timetoken) <= after) break
    const e = envelope(sub, ks, listening, m)
    if (e !== undefined) {
      last ??= m.timetoken
      out.push(e)
      if (out.length === MAX_MESSAGES) break
    }
  }
  return { messages: out.reverse(), last }
}

const answer = (timetoken: string, messages: ReadonlyArray<unknown>): Reply =>
  reply(200, { t: { t: timetoken, r: 1 }, m: messages })

/**
 * Holds a poll until something for it is published or its window passes. Interruptible: HTTP
 * servers run handlers uninterruptibly, and a poll must end as soon as its client goes away.
 */
const hold = (ctx: SubscribeContext, sub: string, listening: Listening, after: bigint, deadline: number) =>
  Effect.acquireUseRelease(
    Effect.sync(() => ctx.holding.count++),
    () => Effect.interruptible(holding(ctx, sub, listening, after, deadline)),
    () => Effect.sync(() => ctx.holding.count--)
  )

const holding = (ctx: SubscribeContext, sub: string, listening: Listening, after: bigint, deadline: number) =>
  Effect.gen(function*() {
    for (;;) {
      const found = pending(ctx, sub, listening, after)
      if (found.last !== undefined) return answer(found.last, found.messages)
      const now = yield* ctx.presenceNow
      if (now >= deadline) return answer(ctx.timetokens.current(now), [])
      // a publication, an `advance` (presence time jumps), or the window's end on the clock
      yield* Effect.raceFirst(ctx.changed, Effect.sleep(deadline - now))
    }
  })

/** Subscribing to data channels makes the caller present, as a heartbeat does. */
const announce = (
  ctx: SubscribeContext,
  t: Target,
  sub: string,
  uuid: string,
  channels: Array<string>,
  groups: Array<string>
) =>
  channels.length === 0 && groups.length === 0
    ? undefined
    : Presence.heartbeat(ctx, t, ctx.store.keyspace(sub), uuid, { channels, groups })

/** @internal */
export const subscribe = (ctx: SubscribeContext, t: Target, sub: string, rawChannels: string): Effect.Effect<Handled> =>
  Effect.suspend(() => {
    const done = (r: Reply, uuid?: string): Effect.Effect<Handled> =>
      Effect.succeed({ operation: "subscribe", uuid, reply: r })
    const chs = pathNames(rawChannels)
    if (!chs.ok) return done(chs.reply)
    const grs = groupNames(t.query)
    if (!grs.ok) return done(grs.reply)
    const caller = callerUuid(t.query)
    if (!caller.ok) return done(caller.reply)
    const uuid = caller.value
    if (chs.value.length === 0 && grs.value.length === 0) {
      return done(presenceError(400, "Invalid Arguments: no channels or channel groups given."), uuid)
    }
    const denied = checkGrants(ctx.access, t, chs.value, grs.value)
    if (denied !== undefined) return done(denied, uuid)
    const joined = announce(
      ctx,
      t,
      sub,
      uuid,
      chs.value.filter((c) => !isPresenceName(c)),
      grs.value.filter((g) => !isPresenceName(g))
    )
    if (joined !== undefined && joined.status !== 200) return done(joined, uuid)
    const listening: Listening = {
      channels: new Set(chs.value.filter(isPresenceName).map(strip)),
      groups: grs.value.filter(isPresenceName).map(strip)
    }
    const tt = t.query.get("tt")
    if (tt !== undefined && tt !== "" && !/^\d{1,20}$/.test(tt)) {
      return done(presenceError(400, "Invalid Arguments: tt must be a timetoken"), uuid)
    }
    return Effect.zipRight(
      ctx.flush,
      Effect.flatMap(ctx.presenceNow, (now) =>
        tt === undefined || tt === "" || BigInt(tt) === 0n
          ? done(answer(ctx.timetokens.current(now), []), uuid)
          : Effect.flatMap(hold(ctx, sub, listening, BigInt(tt), now + ctx.windowMs), (r) => done(r, uuid)))
    )
  })
