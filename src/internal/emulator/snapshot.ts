/**
 * Everything the emulator holds, as JSON-friendly data (`Emulator.snapshot`, `GET /__emulator/state`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Snapshot } from "../../Emulator.js"
import type { Core } from "./core.js"
import type { Keyspace, Store } from "./store.js"
import { recordOf } from "./target.js"

type KeyView = Snapshot["keys"][string]

const channelsOf = (store: Store, ks: Keyspace): KeyView["channels"] =>
  recordOf([...ks.channels].map(([name, occupants]) =>
    [name, {
      occupancy: occupants.size,
      occupants: recordOf([...occupants].map(([uuid, o]) => {
        const state = store.stateOf(ks, name, uuid)
        return [
          uuid,
          state === undefined ? { expiresAt: o.at, timeout: o.timeout } : { expiresAt: o.at, timeout: o.timeout, state }
        ] as const
      }))
    }] as const
  ))

/** State set for uuids not present where it was set. */
const absentStatesOf = (ks: Keyspace): KeyView["absentStates"] =>
  recordOf([...ks.states].flatMap(([channel, byUuid]) => {
    const absent = [...byUuid].filter(([uuid]) => ks.channels.get(channel)?.has(uuid) !== true)
    return absent.length === 0
      ? []
      : [[channel, recordOf(absent.map(([uuid, e]) => [uuid, { expiresAt: e.at, state: e.state }] as const))] as const]
  }))

/** @internal */
export const snapshotOf = (core: Core): Effect.Effect<Snapshot> =>
  Effect.map(core.expireNow, (now) => {
    const keys: Array<readonly [string, KeyView]> = []
    for (const [sub, ks] of core.store.keyspaces) {
      if (ks.channels.size === 0 && ks.groups.size === 0 && ks.states.size === 0) continue
      keys.push([sub, {
        channels: channelsOf(core.store, ks),
        groups: recordOf([...ks.groups].map(([g, members]) => [g, [...members]] as const)),
        absentStates: absentStatesOf(ks)
      }])
    }
    return {
      now,
      present: core.store.presentCount,
      holding: core.holding.count,
      keys: recordOf(keys),
      stats: { ...core.log.stats }
    }
  })
