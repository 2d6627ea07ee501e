/**
 * The emulator's channel-group registry: list groups, list / add / remove a group's channels,
 * delete a group; with the service's limits (200 channels per call, 2,000 per group).
 *
 * @internal
 */
import { decodePathSegment, splitList } from "../encoding.js"
import { checkName } from "../validation.js"
import type * as Wire from "../wire.js"
import type { Store } from "./store.js"
import { type Reply, reply } from "./target.js"

/** The most channels one add call may name, as the service allows. @internal */
export const MAX_CHANNELS_PER_CALL = 200

/** The most channels a group may hold (the service's default cap). @internal */
export const MAX_CHANNELS_PER_GROUP = 2000

const registryError = (status: number, message: string): Reply =>
  reply(status, { status, error: true, message, service: "channel-registry" })

const registryOk = (): Reply => reply(200, { status: 200, message: "OK", service: "channel-registry", error: false })

/** Every group of a keyspace. @internal */
export const listGroups = (store: Store, sub: string): Reply => {
  const groups = [...(store.peekKeyspace(sub)?.groups.keys() ?? [])]
  return reply(200, { status: 200, payload: { groups, sub_key: sub }, service: "channel-registry", error: false })
}

/** Checks a group path segment. @internal */
export const groupName = (segment: string): string | Reply => {
  const group = decodePathSegment(segment)
  return group === undefined || checkName(group) !== undefined
    ? registryError(400, "Invalid channel group name")
    : group
}

/** Deletes a group. @internal */
export const deleteGroup = (store: Store, sub: string, group: string): Reply => {
  store.peekKeyspace(sub)?.groups.delete(group)
  return registryOk()
}

/** Lists a group, or adds / removes channels (`add=a,b`, `remove=c`). @internal */
export const changeGroup = (store: Store, sub: string, group: string, query: ReadonlyMap<string, string>): Reply => {
  const add = splitList(query.get("add") ?? "")
  const remove = splitList(query.get("remove") ?? "")
  for (const name of [...add, ...remove]) {
    if (checkName(name) !== undefined) return registryError(400, "Invalid channel name")
  }
  if (add.length === 0 && remove.length === 0) {
    const body: typeof Wire.ChannelGroupList.Encoded = {
      status: 200,
      payload: { channels: [...(store.peekKeyspace(sub)?.groups.get(group) ?? [])], group },
      service: "channel-registry",
      error: false
    }
    return reply(200, body)
  }
  if (add.length > MAX_CHANNELS_PER_CALL) {
    return registryError(400, `Too many channels: at most ${MAX_CHANNELS_PER_CALL} may be added in one call.`)
  }
  const space = store.keyspace(sub)
  const members = space.groups.get(group) ?? new Set<string>()
  let size = members.size
  for (const name of new Set(add)) if (!members.has(name)) size++
  for (const name of new Set(remove)) if (members.has(name) && !add.includes(name)) size--
  if (size > MAX_CHANNELS_PER_GROUP) {
    return registryError(400, `Channel group would exceed the maximum of ${MAX_CHANNELS_PER_GROUP} channels.`)
  }
  space.groups.set(group, members)
  for (const name of add) members.add(name)
  for (const name of remove) members.delete(name)
  return registryOk()
}
