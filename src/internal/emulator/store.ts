/**
 * The emulator's state: per subscribe key, occupants per channel (each with its own timeout),
 * state per (channel, uuid), and channel groups; one expiry heap across all of them. Every method
 * is synchronous and takes `now` (milliseconds of presence time) from the caller.
 *
 * @internal
 */
import type { PresenceEvent } from "../../Emulator.js"
import { type HeapItem, TimeHeap } from "../heap.js"
import type { StateObject } from "../wire.js"

/** @internal */
export interface Occupant extends HeapItem {
  // `at` (from HeapItem) is when this presence expires, in ms of presence time
  readonly keyspace: Keyspace
  readonly uuid: string
  readonly channel: string
  /** presence timeout in seconds, as last sent */
  timeout: number
}

/** A presence event, as the service would publish on `<channel>-pnpres`. @internal */
export type StoreEvent = PresenceEvent

/** @internal */
export class Keyspace {
  readonly channels = new Map<string, Map<string, Occupant>>()
  /** uuid → the occupants it is (an array: most users are in few channels) */
  readonly byUuid = new Map<string, Array<Occupant>>()
  /** channel → uuid → state */
  readonly states = new Map<string, Map<string, StateObject>>()
  readonly groups = new Map<string, Set<string>>()
  constructor(readonly subscribeKey: string) {}
}

const sameState = (a: StateObject | undefined, b: StateObject | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b))

/** @internal */
export class Store {
  readonly keyspaces = new Map<string, Keyspace>()
  readonly heap = new TimeHeap<Occupant>()
  private events: Array<StoreEvent> = []
  /** Whether to record events (off until someone listens, so idle emulators keep no log). */
  recordEvents = false

  keyspace(subscribeKey: string): Keyspace {
    let ks = this.keyspaces.get(subscribeKey)
    if (ks === undefined) {
      ks = new Keyspace(subscribeKey)
      this.keyspaces.set(subscribeKey, ks)
    }
    return ks
  }

  peekKeyspace(subscribeKey: string): Keyspace | undefined {
    return this.keyspaces.get(subscribeKey)
  }

  /** Events since the last call. */
  takeEvents(): Array<StoreEvent> {
    const out = this.events
    this.events = []
    return out
  }

  private emit(
    ks: Keyspace,
    action: StoreEvent["action"],
    channel: string,
    uuid: string,
    now: number,
    state?: StateObject
  ) {
    if (!this.recordEvents) return
    this.events.push({
      action,
      subscribeKey: ks.subscribeKey,
      channel,
      uuid,
      timestamp: Math.floor(now / 1000),
      occupancy: ks.channels.get(channel)?.size ?? 0,
      state
    })
  }

  /** Removes every occupant whose presence ran out by `now`; O(log n) each. */
  expire(now: number): number {
    let n = 0
    for (let o = this.heap.popDue(now); o !== undefined; o = this.heap.popDue(now)) {
      this.detach(o)
      this.deleteState(o.keyspace, o.channel, o.uuid)
      this.emit(o.keyspace, "timeout", o.channel, o.uuid, now)
      n++
    }
    return n
  }

  /** Channels of a request: the listed channels plus every member of the listed groups. */
  expand(ks: Keyspace | undefined, channels: ReadonlyArray<string>, groups: ReadonlyArray<string>): Array<string> {
    if (groups.length === 0) return [...new Set(channels)]
    const out = new Set(channels)
    for (const g of groups) {
      const members = ks?.groups.get(g)
      if (members !== undefined) { for (const m of members) out.add(m) }
    }
    return [...out]
  }

  heartbeat(
    ks: Keyspace,
    uuid: string,
    channels: ReadonlyArray<string>,
    timeout: number,
    states: ReadonlyMap<string, StateObject>,
    now: number
  ): void {
    const expiresAt = now + timeout * 1000
    for (const channel of channels) {
      let occupants = ks.channels.get(channel)
      if (occupants === undefined) {
        occupants = new Map()
        ks.channels.set(channel, occupants)
      }
      const existing = occupants.get(uuid)
      const state = states.get(channel)
      if (existing !== undefined) {
        existing.timeout = timeout
        existing.at = expiresAt
        this.heap.update(existing)
        if (state !== undefined) this.putState(ks, channel, uuid, state, now)
        continue
      }
      const o: Occupant = { keyspace: ks, uuid, channel, timeout, at: expiresAt, heapIndex: -1 }
      occupants.set(uuid, o)
      const list = ks.byUuid.get(uuid)
      if (list === undefined) ks.byUuid.set(uuid, [o])
      else list.push(o)
      this.heap.insert(o)
      if (state !== undefined) this.putState(ks, channel, uuid, state, undefined)
      this.emit(ks, "join", channel, uuid, now, state ?? ks.states.get(channel)?.get(uuid))
    }
  }

  leave(ks: Keyspace, uuid: string, channels: ReadonlyArray<string>, now: number): void {
    for (const channel of channels) {
      const o = ks.channels.get(channel)?.get(uuid)
      this.deleteState(ks, channel, uuid)
      if (o === undefined) continue
      this.heap.remove(o)
      this.detach(o)
      this.emit(ks, "leave", channel, uuid, now)
    }
  }

  private detach(o: Occupant): void {
    const ks = o.keyspace
    const occupants = ks.channels.get(o.channel)
    if (occupants !== undefined) {
      occupants.delete(o.uuid)
      if (occupants.size === 0) ks.channels.delete(o.channel)
    }
    const list = ks.byUuid.get(o.uuid)
    if (list !== undefined) {
      const i = list.indexOf(o)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) ks.byUuid.delete(o.uuid)
    }
  }

  private deleteState(ks: Keyspace, channel: string, uuid: string): void {
    const m = ks.states.get(channel)
    if (m === undefined) return
    m.delete(uuid)
    if (m.size === 0) ks.states.delete(channel)
  }

  /** Stores state; emits `state-change` when `now` is given and the state changed. */
  putState(ks: Keyspace, channel: string, uuid: string, state: StateObject, now: number | undefined): void {
    let m = ks.states.get(channel)
    if (m === undefined) {
      m = new Map()
      ks.states.set(channel, m)
    }
    const before = m.get(uuid)
    if (Object.keys(state).length === 0) {
      m.delete(uuid)
      if (m.size === 0) ks.states.delete(channel)
    } else {
      m.set(uuid, state)
    }
    if (now !== undefined && !sameState(before, state)) this.emit(ks, "state-change", channel, uuid, now, state)
  }

  stateOf(ks: Keyspace | undefined, channel: string, uuid: string): StateObject | undefined {
    return ks?.states.get(channel)?.get(uuid)
  }

  whereNow(ks: Keyspace | undefined, uuid: string): Array<string> {
    return ks?.byUuid.get(uuid)?.map((o) => o.channel) ?? []
  }

  reset(): void {
    this.keyspaces.clear()
    this.heap.clear()
    this.events = []
  }

  /** How many (uuid, channel) pairs are present. */
  get presentCount(): number {
    return this.heap.size
  }
}
