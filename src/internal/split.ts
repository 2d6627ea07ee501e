/**
 * Splitting long channel lists so that no request passes the service's URL limit.
 *
 * @internal
 */
import { encode } from "./encoding.js"

/** One part of a split call. @internal */
export interface Chunk {
  readonly channels: ReadonlyArray<string>
  readonly channelGroups: ReadonlyArray<string>
}

/**
 * Packs channels (in the path, each costing its encoded length plus a `,`) and groups (in the
 * `channel-group` query value, each costing its encoded length plus `%2C`) into as few chunks as
 * fit in `budget` characters. `extraCost(name)` adds what a name costs elsewhere in the request
 * (its entry in a heartbeat `state` map). Returns `undefined` when one name alone does not fit.
 *
 * The first chunk always exists, even for no channels and no groups.
 *
 * @internal
 */
export const plan = (
  channels: ReadonlyArray<string>,
  channelGroups: ReadonlyArray<string>,
  budget: number,
  extraCost: (name: string) => number = () => 0
): Array<Chunk> | undefined => {
  const GROUP_PARAM = "&channel-group=".length
  const chunks: Array<Chunk> = []
  let chs: Array<string> = []
  let grs: Array<string> = []
  let used = 0
  const flush = () => {
    chunks.push({ channels: chs, channelGroups: grs })
    chs = []
    grs = []
    used = 0
  }
  for (const ch of channels) {
    const cost = encode(ch).length + 1 + extraCost(ch)
    if (cost > budget) return undefined
    if (used + cost > budget) flush()
    chs.push(ch)
    used += cost
  }
  for (const g of channelGroups) {
    const base = encode(g).length + 3 + extraCost(g)
    if (base + GROUP_PARAM > budget) return undefined
    if (used + base + (grs.length === 0 ? GROUP_PARAM : 0) > budget) flush()
    used += base + (grs.length === 0 ? GROUP_PARAM : 0)
    grs.push(g)
  }
  if (chs.length > 0 || grs.length > 0 || chunks.length === 0) flush()
  return chunks
}
