/**
 * The emulator's state: per subscribe key, occupants per channel (each with its own timeout),
 * state per (channel, uuid), and channel groups; one expiry heap for presence and one for state
 * held by users who are not present. Every method is synchronous and takes `now` (milliseconds of
 * presence time) from the caller; every per-occupant operation is O(1) or O(log n), so a leave or
 * a timeout over thousands of channels never scans.
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

/**
 * State of one uuid on one channel. While the uuid is present there it lives as long as the
 * presence; otherwise (set-state without a heartbeat) it is in the state heap and expires after
 * {@link ABSENT_STATE_SECONDS}, as presence would.
 *
 * @internal
 */
export interface StateEntry extends HeapItem {
  readonly keyspace: Keyspace
  readonly channel: string
  readonly uuid: string
  state: StateObject
}

/** How long state set for a uuid that is not present is kept: the default presence timeout. @internal */
export const ABSENT_STATE_SECONDS = 300

/** A presence event, as the service would publish on `<channel>-pnpres`. @internal */
export type StoreEvent = PresenceEvent

/** @internal */
export class Keyspace {
  readonly channels = new Map<string, Map<string, Occupant>>()
  /** uuid → channel → its occupant there */
  readonly byUuid = new Map<string, Map<string, Occupant>>()
  /** channel → uuid → state */
  readonly states = new Map<string, Map<string, StateEntry>>()
  readonly groups = new Map<string, Set<string>>()
  constructor(readonly subscribeKey: string) {}
}

const sameState = (a: StateObject | undefined, b: StateObject | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b))

/** @internal */
export class Store {
  readonly keyspaces = new Map<string, Keyspace>()
  readonly heap = new TimeHeap<Occupant>()
  /** state of uuids that are not present where it was set */
  readonly stateHeap = new TimeHeap<StateEntry>()
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

  /** The earliest time anything (presence or absent state) expires. */
  nextExpiry(): number | undefined {
    const a = this.heap.peek()?.at
    const b = this.stateHeap.peek()?.at
    return a === undefined ? b : b === undefined ? a : Math.min(a, b)
  }

  /**
   * Removes up to `budget` presences (and absent states) whose time ran out by `now`, O(log n)
   * each; how many it removed. Callers with more to do call again (letting other work run between).
   */
  expire(now: number, budget = Number.POSITIVE_INFINITY): number {
    let n = 0
    for (
      let o = n < budget ? this.heap.popDue(now) : undefined;
      o !== undefined;
      o = n < budget ? this.heap.popDue(now) : undefined
    ) {
      this.detach(o)
      this.deleteState(o.keyspace, o.channel, o.uuid)
      this.emit(o.keyspace, "timeout", o.channel, o.uuid, now)
      n++
    }
    for (
      let e = n < budget ? this.stateHeap.popDue(now) : undefined;
      e !== undefined;
      e = n < budget ? this.stateHeap.popDue(now) : undefined
    ) {
      this.deleteState(e.keyspace, e.channel, e.uuid)
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
      let mine = ks.byUuid.get(uuid)
      if (mine === undefined) {
        mine = new Map()
        ks.byUuid.set(uuid, mine)
      }
      mine.set(channel, o)
      this.heap.insert(o)
      if (state !== undefined) this.putState(ks, channel, uuid, state, undefined)
      else this.attachState(ks, channel, uuid)
      this.emit(ks, "join", channel, uuid, now, state ?? this.stateOf(ks, channel, uuid))
    }
  }

  leave(ks: Keyspace, uuid: string, channels: ReadonlyArray<string>, now: number): void {
    for (const channel of channels) {
      const o = ks.channels.get(channel)?.get(uuid)
      // a leave carries the state the user had
      const state = this.stateOf(ks, channel, uuid)
      this.deleteState(ks, channel, uuid)
      if (o === undefined) continue
      this.heap.remove(o)
      this.detach(o)
      this.emit(ks, "leave", channel, uuid, now, state)
    }
  }

  private detach(o: Occupant): void {
    const ks = o.keyspace
    const occupants = ks.channels.get(o.channel)
    if (occupants !== undefined) {
      occupants.delete(o.uuid)
      if (occupants.size === 0) ks.channels.delete(o.channel)
    }
    const mine = ks.byUuid.get(o.uuid)
    if (mine !== undefined) {
      mine.delete(o.channel)
      if (mine.size === 0) ks.byUuid.delete(o.uuid)
    }
  }

  private isPresent(ks: Keyspace, channel: string, uuid: string): boolean {
    return ks.channels.get(channel)?.has(uuid) ?? false
  }

  /** A uuid became present where it had state set while absent: the state now lives with presence. */
  private attachState(ks: Keyspace, channel: string, uuid: string): void {
    const entry = ks.states.get(channel)?.get(uuid)
    if (entry !== undefined) this.stateHeap.remove(entry)
  }

  private deleteState(ks: Keyspace, channel: string, uuid: string): void {
    const m = ks.states.get(channel)
    if (m === undefined) return
    const entry = m.get(uuid)
    if (entry === undefined) return
    this.stateHeap.remove(entry)
    m.delete(uuid)
    if (m.size === 0) ks.states.delete(channel)
  }

  /** Stores state; emits `state-change` when `now` is given and the state changed. */
  putState(ks: Keyspace, channel: string, uuid: string, state: StateObject, now: number | undefined): void {
    const before = this.stateOf(ks, channel, uuid)
    if (Object.keys(state).length === 0) {
      this.deleteState(ks, channel, uuid)
    } else {
      let m = ks.states.get(channel)
      if (m === undefined) {
        m = new Map()
        ks.states.set(channel, m)
      }
      let entry = m.get(uuid)
      if (entry === undefined) {
        entry = { keyspace: ks, channel, uuid, state, at: 0, heapIndex: -1 }
        m.set(uuid, entry)
      } else {
        entry.state = state
      }
      // held by no presence: it expires as presence would
      if (!this.isPresent(ks, channel, uuid) && now !== undefined) {
        this.stateHeap.put(entry, now + ABSENT_STATE_SECONDS * 1000)
      }
    }
    if (now !== undefined && !sameState(before, state)) this.emit(ks, "state-change", channel, uuid, now, state)
  }

  stateOf(ks: Keyspace | undefined, channel: string, uuid: string): StateObject | undefined {
    return ks?.states.get(channel)?.get(uuid)?.state
  }

  whereNow(ks: Keyspace | undefined, uuid: string): Array<string> {
    const mine = ks?.byUuid.get(uuid)
    return mine === undefined ? [] : [...mine.keys()]
  }

  reset(): void {
    this.keyspaces.clear()
    this.heap.clear()
    this.stateHeap.clear()
    this.events = []
  }

  /** How many (uuid, channel) pairs are present. */
  get presentCount(): number {
    return this.heap.size
  }
}
