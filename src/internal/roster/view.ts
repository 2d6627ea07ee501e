/**
 * The roster's view: a here-now result kept current by presence events. Pure bookkeeping — no
 * effects, no clock — so that every rule can be tested on its own.
 *
 * What it mirrors of here-now (the emulator's and the service's rules): for one channel and no
 * group, that channel is listed even when empty; otherwise a channel is listed only while it has
 * occupants, and `totalChannels` counts the listed channels a call named plus every member channel
 * of its groups (occupied or not).
 *
 * @internal
 */
import * as Option from "effect/Option"
import type { PresenceEvent } from "../../PresenceEvent.js"
import { ChannelOccupancy, HereNowResult, OccupantInfo, type StateInfo } from "../../PresenceResult.js"
import { bare, fromFields } from "../build.js"
import { OccupantMap } from "./occupants.js"

/** What a roster watches. @internal */
export interface ViewConfig {
  readonly channels: ReadonlyArray<string>
  readonly channelGroups: ReadonlyArray<string>
  readonly stateInfo: StateInfo
}

/** One channel of the view. */
interface Chan {
  readonly name: string
  count: number
  /** never changed in place: the snapshot's map, or a persistent one (a change makes another) */
  uuids: ReadonlyMap<string, OccupantInfo>
  /** uuids changed since the last `publish` */
  readonly changed: Set<string>
  /** the published instance, while nothing changed since */
  published: ChannelOccupancy | undefined
  /** every occupant is listed (the snapshot was not cut short) */
  readonly complete: boolean
  /** listed minus counted at the snapshot: 0 unless the service counts differently */
  readonly baseline: number
}

/** The view, with what the last batch of events touched. @internal */
export interface View {
  readonly config: ViewConfig
  /** one channel, no group: listed even when empty (here-now's one-channel answer) */
  readonly single: boolean
  readonly named: ReadonlySet<string>
  /** member channels of the groups, occupied or not, as the snapshot counted them */
  readonly memberTotal: number
  readonly nextOffset: Option.Option<number>
  readonly chans: Map<string, Chan>
  /** channels changed since the last `publish` */
  readonly touched: Set<string>
  /** the last published result */
  result: HereNowResult
}

const listing = (config: ViewConfig): boolean => config.stateInfo !== "none"

/**
 * A view that starts from a here-now snapshot (taken with the same targets and `stateInfo`). With
 * the view it replaces, `publish` then tells whether the snapshot changed anything.
 *
 * @internal
 */
export const fromSnapshot = (
  config: ViewConfig,
  snapshot: HereNowResult,
  previous: HereNowResult | undefined
): View => {
  const single = config.channels.length === 1 && config.channelGroups.length === 0
  const named = new Set(config.channels)
  const chans = new Map<string, Chan>()
  let namedListed = 0
  for (const [name, c] of snapshot.channels) {
    if (named.has(name)) namedListed++
    chans.set(name, {
      name,
      count: c.count,
      uuids: c.uuids,
      // against the view it replaces, every occupant may differ
      changed: previous === undefined ? new Set() : new Set(c.uuids.keys()),
      published: undefined,
      complete: !c.hasMore,
      baseline: listing(config) ? c.uuids.size - c.count : 0
    })
  }
  const view: View = {
    config,
    single,
    named,
    memberTotal: single ? 0 : Math.max(0, snapshot.totalChannels - namedListed),
    nextOffset: snapshot.nextOffset,
    chans,
    touched: previous === undefined ? new Set() : new Set([...chans.keys(), ...previous.channels.keys()]),
    result: previous ?? snapshot
  }
  return view
}

/** The channel an event is about, marked as touched. */
const touch = (view: View, name: string): Chan => {
  let c = view.chans.get(name)
  if (c === undefined) {
    c = { name, count: 0, uuids: new Map(), changed: new Set(), published: undefined, complete: true, baseline: 0 }
    view.chans.set(name, c)
  }
  view.touched.add(name)
  return c
}

const put = (c: Chan, info: OccupantInfo): void => {
  c.uuids = OccupantMap.from(c.uuids).with(info)
  c.changed.add(info.uuid)
}

const remove = (c: Chan, uuid: string): void => {
  if (!c.uuids.has(uuid)) return
  c.uuids = OccupantMap.from(c.uuids).without(uuid)
  c.changed.add(uuid)
}

const occupant = (uuid: string, state: Option.Option<unknown>): OccupantInfo => {
  const info: { -readonly [K in keyof OccupantInfo]: OccupantInfo[K] } = bare(OccupantInfo)
  info.uuid = uuid
  info.state = state
  return info
}

/**
 * What an interval report's deltas make of one uuid. A uuid joins only when absent and leaves
 * only when present, so its joins and leaves alternate: more joins than leaves means present at
 * the end, more leaves means absent, as many of each means as it was before.
 */
const applyDeltas = (c: Chan, event: PresenceEvent & { readonly _tag: "Interval" }): void => {
  const balance = new Map<string, number>()
  for (const u of event.joined) balance.set(u, (balance.get(u) ?? 0) + 1)
  for (const u of event.left) balance.set(u, (balance.get(u) ?? 0) - 1)
  for (const u of event.timedOut) balance.set(u, (balance.get(u) ?? 0) - 1)
  for (const [uuid, b] of balance) {
    if (b > 0 && !c.uuids.has(uuid)) put(c, occupant(uuid, Option.none()))
    else if (b < 0) remove(c, uuid)
  }
}

/**
 * What an event needs besides being applied: nothing, or a fresh snapshot — an interval report
 * says who came and went but not with what state, and one without deltas (Presence Deltas off, or
 * nothing happened: the two look alike) does not say who.
 *
 * @internal
 */
export type Applied = "applied" | "snapshot"

/** Applies one event. Occupancy always comes from the event. @internal */
export const apply = (view: View, event: PresenceEvent): Applied => {
  const c = touch(view, event.channel)
  c.count = event.occupancy
  if (!listing(view.config)) return "applied"
  const withState = view.config.stateInfo === "all"
  switch (event._tag) {
    case "Join":
      put(c, occupant(event.uuid, withState ? event.state : Option.none()))
      return "applied"
    case "Leave":
    case "Timeout":
      remove(c, event.uuid)
      return "applied"
    case "StateChange": {
      // here-now lists present users only: state set by someone absent shows nowhere
      if (withState && c.uuids.has(event.uuid)) put(c, occupant(event.uuid, event.state))
      return "applied"
    }
    case "Interval": {
      const deltas = event.joined.length + event.left.length + event.timedOut.length
      if (deltas === 0) return event.occupancy === 0 && c.uuids.size === 0 ? "applied" : "snapshot"
      applyDeltas(c, event)
      return withState && event.joined.length > 0 ? "snapshot" : "applied"
    }
  }
}

/**
 * The channels whose occupants listed no longer match their count (as they did at the snapshot):
 * events were missed. Only channels listed in full are checked.
 *
 * @internal
 */
export const drifted = (view: View): boolean => {
  if (!listing(view.config)) return false
  for (const name of view.touched) {
    const c = view.chans.get(name)
    if (c !== undefined && c.complete && c.uuids.size - c.count !== c.baseline) return true
  }
  return false
}

/**
 * The view as a `HereNowResult`, when anything changed since the last one: unchanged channels
 * keep their instances; a changed one gets a new instance over its (persistent) occupants — no
 * copy, whatever the channel's size.
 *
 * @internal
 */
export const publish = (view: View): Option.Option<HereNowResult> => {
  if (view.touched.size === 0) return Option.none()
  const previous = view.result.channels
  let changed = false
  for (const name of view.touched) {
    const c = view.chans.get(name)
    if (c === undefined) continue
    if (!view.single && c.count === 0 && c.uuids.size === 0) {
      view.chans.delete(name)
      changed ||= previous.has(name)
      continue
    }
    const before = previous.get(name)
    if (before !== undefined && before.count === c.count && sameOccupants(before.uuids, c.uuids, c.changed)) {
      // changes that cancel out (a join and its leave): the published instance stands
      c.published = before
    } else {
      c.published = undefined
      changed = true
    }
    c.changed.clear()
  }
  view.touched.clear()
  if (!changed && sameKeys(previous, view.chans)) return Option.none()
  view.result = build(view)
  return Option.some(view.result)
}

/** Whether `b` lists what `a` lists, given that only the uuids in `changed` may differ. */
const sameOccupants = (
  a: ReadonlyMap<string, OccupantInfo>,
  b: ReadonlyMap<string, OccupantInfo>,
  changed: ReadonlySet<string>
): boolean => {
  if (a === b) return true
  if (a.size !== b.size) return false
  for (const uuid of changed) {
    const x = a.get(uuid)
    const y = b.get(uuid)
    if (x === y) continue
    if (x === undefined || y === undefined || !sameState(x.state, y.state)) return false
  }
  return true
}

const sameState = (a: Option.Option<unknown>, b: Option.Option<unknown>): boolean =>
  Option.isNone(a) ? Option.isNone(b) : Option.isSome(b) && JSON.stringify(a.value) === JSON.stringify(b.value)

const sameKeys = (a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean => {
  if (a.size !== b.size) return false
  for (const k of b.keys()) if (!a.has(k)) return false
  return true
}

const build = (view: View): HereNowResult => {
  const channels = new Map<string, ChannelOccupancy>()
  let total = 0
  let namedListed = 0
  for (const c of view.chans.values()) {
    let out = c.published
    if (out === undefined) {
      out = fromFields(ChannelOccupancy, { channelName: c.name, count: c.count, uuids: c.uuids, hasMore: !c.complete })
      c.published = out
    }
    channels.set(c.name, out)
    total += c.count
    if (view.named.has(c.name)) namedListed++
  }
  return fromFields(HereNowResult, {
    totalChannels: view.single ? 1 : namedListed + view.memberTotal,
    totalOccupancy: total,
    channels,
    nextOffset: view.nextOffset
  })
}
