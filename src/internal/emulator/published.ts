/**
 * What the emulator publishes on `<channel>-pnpres`: every presence change becomes a message with
 * a timetoken, kept in a bounded buffer per subscribe key so that a poll resuming from an older
 * timetoken gets what it missed. Above a keyset's Announce Max a channel's joins, leaves and
 * timeouts are gathered instead and published as one `interval` message every Interval (with the
 * deltas, or `here_now_refresh` when they would not fit).
 *
 * @internal
 */
import type { IntervalMode, PresenceEvent } from "../../Emulator.js"
import type { StateObject } from "../wire.js"

/** Interval mode, per subscribe key. @internal */
export type IntervalConfig = IntervalMode

/** The service's usual settings. @internal */
export const DEFAULT_INTERVAL: IntervalConfig = { announceMax: 20, intervalSeconds: 10, presenceDeltas: true }

/** Deltas over this many bytes become `here_now_refresh`. */
const MAX_DELTA_BYTES = 32 * 1024

/** How many messages a subscribe key keeps for polls that resume from the past. @internal */
export const BUFFER_SIZE = 1000

/** A message on a `-pnpres` channel, as the subscribe endpoint sends it. @internal */
export interface Message {
  /** the publish timetoken: 17 digits, 100 ns units */
  readonly timetoken: string
  /** the channel the change happened on (without `-pnpres`) */
  readonly channel: string
  /** the payload (`d`) */
  readonly payload: { readonly [key: string]: unknown }
  /** the metadata (`u`) */
  readonly meta: { readonly [key: string]: unknown }
}

interface Deltas {
  join: Array<string>
  leave: Array<string>
  timeout: Array<string>
}

/** One subscribe key's published messages and interval bookkeeping. @internal */
export class Channelled {
  /** the last BUFFER_SIZE messages, oldest first */
  readonly buffer: Array<Message> = []
  /** channels in interval mode, with what happened since their last interval message */
  readonly deltas = new Map<string, Deltas>()
  config: IntervalConfig
  /** when the next interval messages are due (presence time, ms), when any channel is in interval mode */
  nextInterval: number | undefined = undefined
  constructor(config: IntervalConfig) {
    this.config = config
  }
}

const E16 = 10_000_000_000_000_000n

/**
 * A time as a timetoken: 100 ns units, 17 digits. Times before 2001 (virtual time under
 * `TestClock` starts at 1970) are moved up by 10^16, so that a timetoken is never `0` — which a
 * client would send as "no timetoken yet".
 */
const asTimetoken = (nowMs: number): bigint => {
  const t = BigInt(Math.max(0, Math.floor(nowMs))) * 10_000n
  return t < E16 ? t + E16 : t
}

/** Makes timetokens: 17 digits of 100 ns units, strictly increasing. @internal */
export class Timetokens {
  private last = 0n

  next(nowMs: number): string {
    let t = asTimetoken(nowMs)
    if (t <= this.last) t = this.last + 1n
    this.last = t
    return t.toString()
  }

  /** The timetoken of "now": whatever is published after it gets a later one. */
  current(nowMs: number): string {
    const t = asTimetoken(nowMs)
    if (t > this.last) this.last = t
    return this.last.toString()
  }

  reset(): void {
    this.last = 0n
  }
}

const stateMeta = (state: StateObject | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (state !== undefined) {
    for (const [k, v] of Object.entries(state)) {
      Object.defineProperty(out, `pn_state_${k}`, { value: v, enumerable: true })
    }
  }
  return out
}

/** Publishes `m`, keeping at most BUFFER_SIZE. */
const push = (keyed: Channelled, m: Message): void => {
  keyed.buffer.push(m)
  if (keyed.buffer.length > BUFFER_SIZE) keyed.buffer.splice(0, keyed.buffer.length - BUFFER_SIZE)
}

/**
 * Publishes one presence change: as its own message, or — for a channel above Announce Max — as
 * a delta of the next interval message. State changes are always their own message.
 *
 * @internal
 */
export const publish = (keyed: Channelled, event: PresenceEvent, tt: Timetokens, nowMs: number): void => {
  const action = event.action
  if (action !== "state-change" && (event.occupancy > keyed.config.announceMax || keyed.deltas.has(event.channel))) {
    let d = keyed.deltas.get(event.channel)
    if (d === undefined) {
      d = { join: [], leave: [], timeout: [] }
      keyed.deltas.set(event.channel, d)
      keyed.nextInterval ??= nowMs + keyed.config.intervalSeconds * 1000
    }
    d[action].push(event.uuid)
    return
  }
  const payload: Record<string, unknown> = {
    action: event.action,
    uuid: event.uuid,
    timestamp: event.timestamp,
    occupancy: event.occupancy
  }
  if (event.state !== undefined && event.action !== "timeout") payload.data = event.state
  push(keyed, {
    timetoken: tt.next(nowMs),
    channel: event.channel,
    payload,
    meta: {
      pn_action: event.action,
      pn_uuid: event.uuid,
      pn_occupancy: event.occupancy,
      pn_ispresence: 1,
      pn_channel: event.channel,
      ...stateMeta(event.state)
    }
  })
}

/**
 * Publishes the interval messages that are due: one per channel in interval mode, with its deltas
 * (or `here_now_refresh`); a channel back at or under Announce Max leaves interval mode after it.
 * `occupancy(channel)` is the count now.
 *
 * @internal
 */
export const publishIntervals = (
  keyed: Channelled,
  occupancy: (channel: string) => number,
  tt: Timetokens,
  nowMs: number
): void => {
  if (keyed.nextInterval === undefined || nowMs < keyed.nextInterval) return
  const timestamp = Math.floor(nowMs / 1000)
  for (const [channel, d] of keyed.deltas) {
    const count = occupancy(channel)
    const payload: Record<string, unknown> = { action: "interval", timestamp, occupancy: count }
    if (keyed.config.presenceDeltas) {
      const lists = {
        ...(d.join.length > 0 ? { join: d.join } : {}),
        ...(d.leave.length > 0 ? { leave: d.leave } : {}),
        ...(d.timeout.length > 0 ? { timeout: d.timeout } : {})
      }
      if (JSON.stringify(lists).length > MAX_DELTA_BYTES) payload.here_now_refresh = true
      else Object.assign(payload, lists)
    }
    push(keyed, {
      timetoken: tt.next(nowMs),
      channel,
      payload,
      meta: { pn_action: "interval", pn_occupancy: count, pn_ispresence: 1, pn_channel: channel }
    })
    if (count > keyed.config.announceMax) keyed.deltas.set(channel, { join: [], leave: [], timeout: [] })
    else keyed.deltas.delete(channel)
  }
  keyed.nextInterval = keyed.deltas.size > 0 ? nowMs + keyed.config.intervalSeconds * 1000 : undefined
}
