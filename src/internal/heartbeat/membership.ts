/**
 * Who holds what in a group of sessions (one user on one client): each session is a member with
 * its channels, groups and timing; names are reference-counted, so a name is left only when no
 * member holds it; state is kept per name and sent with every heartbeat.
 *
 * Kept small (arrays in members, maps made on first use): 10,000 sessions must fit in a few KB each.
 *
 * @internal
 */
import type { PresenceState } from "../../PresenceResult.js"

/** The channels and groups of a request. @internal */
export interface Names {
  readonly channels: ReadonlyArray<string>
  readonly channelGroups: ReadonlyArray<string>
}

/** One session's hold. @internal */
export interface Member {
  channels: ReadonlyArray<string>
  groups: ReadonlyArray<string>
  /** presence timeout, seconds */
  readonly heartbeat: number
  readonly intervalMs: number
  /** set when the session's scope closed: its handle then refuses every call */
  closed: boolean
}

const DEFAULT_HEARTBEAT = 300

const retain = (refs: Map<string, number>, names: Iterable<string>) => {
  for (const n of names) refs.set(n, (refs.get(n) ?? 0) + 1)
}

/** Decrements; returns the names nobody holds any more. */
const release = (refs: Map<string, number>, names: Iterable<string>): Array<string> => {
  const gone: Array<string> = []
  for (const n of names) {
    const c = (refs.get(n) ?? 0) - 1
    if (c <= 0) {
      refs.delete(n)
      gone.push(n)
    } else {
      refs.set(n, c)
    }
  }
  return gone
}

/** @internal */
export class Membership {
  readonly members: Array<Member> = []
  private readonly channelRefs = new Map<string, number>()
  private groupRefs: Map<string, number> | undefined = undefined
  private states: Map<string, PresenceState> | undefined = undefined

  get isEmpty(): boolean {
    return this.members.length === 0
  }

  /** Adds a member holding `names`; `states` are its state per name. */
  join(member: Member, states: ReadonlyMap<string, PresenceState>): void {
    this.members.push(member)
    retain(this.channelRefs, member.channels)
    if (member.groups.length > 0) retain(this.groupRefs ??= new Map(), member.groups)
    this.putStates(states)
  }

  /** Removes a member: what nobody holds any more (its state is forgotten). */
  part(member: Member): Names {
    const i = this.members.indexOf(member)
    if (i >= 0) this.members.splice(i, 1)
    return this.letGo(member, { channels: member.channels, channelGroups: member.groups })
  }

  /** A member takes more names (those it already holds are not counted twice). */
  hold(member: Member, names: Names): void {
    const channels = names.channels.filter((c) => !member.channels.includes(c))
    const groups = names.channelGroups.filter((g) => !member.groups.includes(g))
    member.channels = [...member.channels, ...channels]
    member.groups = [...member.groups, ...groups]
    retain(this.channelRefs, channels)
    if (groups.length > 0) retain(this.groupRefs ??= new Map(), groups)
  }

  /** A member lets go of names it holds: what nobody holds any more. */
  release(member: Member, names: Names): Names {
    member.channels = member.channels.filter((c) => !names.channels.includes(c))
    member.groups = member.groups.filter((g) => !names.channelGroups.includes(g))
    return this.letGo(member, names)
  }

  private letGo(_member: Member, names: Names): Names {
    const channels = release(this.channelRefs, names.channels)
    const channelGroups = this.groupRefs === undefined ? [] : release(this.groupRefs, names.channelGroups)
    this.dropStates(channels)
    this.dropStates(channelGroups)
    return { channels, channelGroups }
  }

  /** Whether some member holds `name` as a channel. */
  holdsChannel(name: string): boolean {
    return this.channelRefs.has(name)
  }

  /** Whether some member holds `name` as a channel group. */
  holdsGroup(name: string): boolean {
    return this.groupRefs?.has(name) ?? false
  }

  /** Everything the members hold. */
  union(): Names {
    return {
      channels: [...this.channelRefs.keys()],
      channelGroups: this.groupRefs === undefined ? [] : [...this.groupRefs.keys()]
    }
  }

  putStates(states: Iterable<readonly [string, PresenceState]>): void {
    for (const [name, s] of states) (this.states ??= new Map()).set(name, s)
  }

  statesFor(names: Names): Map<string, PresenceState> {
    const out = new Map<string, PresenceState>()
    if (this.states === undefined) return out
    for (const n of [...names.channels, ...names.channelGroups]) {
      const s = this.states.get(n)
      if (s !== undefined) out.set(n, s)
    }
    return out
  }

  private dropStates(names: ReadonlyArray<string>): void {
    if (this.states === undefined) return
    for (const n of names) this.states.delete(n)
  }

  /** The shortest presence timeout among the members, in seconds. */
  heartbeat(): number {
    let hb = Number.POSITIVE_INFINITY
    for (const m of this.members) hb = Math.min(hb, m.heartbeat)
    return Number.isFinite(hb) ? hb : DEFAULT_HEARTBEAT
  }

  /** The shortest interval among the members, in ms. */
  intervalMs(): number {
    let ms = Number.POSITIVE_INFINITY
    for (const m of this.members) ms = Math.min(ms, m.intervalMs)
    return Number.isFinite(ms) ? ms : (DEFAULT_HEARTBEAT / 2 - 1) * 1000
  }
}
