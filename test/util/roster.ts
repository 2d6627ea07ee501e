/**
 * Comparing views: a `HereNowResult` as plain data with sorted keys (here-now lists occupants in
 * the service's order, a roster in the order it learnt them; neither order means anything).
 */
import { Effect, Option } from "effect"
import * as Emulator from "../../src/Emulator.js"
import type { Presence } from "../../src/index.js"

export interface Plain {
  readonly totalChannels: number
  readonly totalOccupancy: number
  readonly channels: ReadonlyArray<
    { readonly name: string; readonly count: number; readonly uuids: ReadonlyArray<string>; readonly hasMore: boolean }
  >
}

const stateText = (state: Option.Option<unknown>): string =>
  Option.match(state, { onNone: () => "", onSome: (s) => "=" + JSON.stringify(s) })

/** A view as sorted plain data: occupants as `uuid` or `uuid={state}`. */
export const plain = (r: Presence.HereNowResult): Plain => ({
  totalChannels: r.totalChannels,
  totalOccupancy: r.totalOccupancy,
  channels: [...r.channels.values()]
    .map((c) => ({
      name: c.channelName,
      count: c.count,
      uuids: [...c.uuids.values()].map((o) => o.uuid + stateText(o.state)).sort(),
      hasMore: c.hasMore
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
})

/** The emulator's own record of who is where, for some channels of one subscribe key: uuids by channel. */
export const truth = (subscribeKey: string, channels: ReadonlyArray<string>) =>
  Effect.map(Effect.flatMap(Emulator.Emulator, (em) => em.snapshot), (s) => {
    const out: Record<string, ReadonlyArray<string>> = {}
    const key = s.keys[subscribeKey]
    for (const name of channels) {
      const occupants = Object.keys(key?.channels[name]?.occupants ?? {}).sort()
      if (occupants.length > 0) out[name] = occupants
    }
    return out
  })

/** A view's uuids by channel, empty channels left out (the shape of `truth`). */
export const members = (r: Presence.HereNowResult): Record<string, ReadonlyArray<string>> => {
  const out: Record<string, ReadonlyArray<string>> = {}
  for (const c of r.channels.values()) {
    if (c.count > 0) out[c.channelName] = [...c.uuids.keys()].sort()
  }
  return out
}
