/**
 * The handle `Presence.enter` returns: methods on the prototype, so a session costs two
 * references, not a dozen closures. It prints as its user id, names and status — never its
 * keyset's secrets — and refuses every call once its scope has closed.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import type * as Stream from "effect/Stream"
import type { Targets } from "../../Presence.js"
import { InvalidArgumentError, type PresenceError } from "../../PresenceError.js"
import type { PresenceState } from "../../PresenceResult.js"
import type { AddOptions, PresenceSession, SessionStatus } from "../../PresenceSession.js"
import { readOptions, stateMap, targets } from "../options.js"
import * as State from "../state.js"
import { readState } from "../validation.js"
import type { Member, Names } from "./membership.js"
import { beat, type Group, leaveRequest, statusChanges } from "./scheduler.js"

const closedError = () =>
  new InvalidArgumentError({ argument: "session", reason: "is closed: its scope has ended, so it can do nothing more" })

/** @internal */
export class Session extends Inspectable.Class implements PresenceSession {
  constructor(readonly group: Group, readonly member: Member) {
    super()
  }

  get userId(): string {
    return this.group.keyset.userId
  }

  get status(): Effect.Effect<SessionStatus> {
    return Effect.sync(() => this.group.state.status)
  }

  get statusChanges(): Stream.Stream<SessionStatus> {
    return statusChanges(this.group)
  }

  get channels(): Effect.Effect<
    { readonly channels: ReadonlyArray<string>; readonly channelGroups: ReadonlyArray<string> }
  > {
    return Effect.sync(() => ({ channels: [...this.member.channels], channelGroups: [...this.member.groups] }))
  }

  toJSON(): unknown {
    return {
      _id: "PresenceSession",
      userId: this.userId,
      channels: this.member.channels,
      channelGroups: this.member.groups,
      status: this.group.state.status._tag,
      closed: this.member.closed
    }
  }

  /** Checks that targets are held by this session. */
  private held(t: Targets): Effect.Effect<Names, InvalidArgumentError> {
    const member = this.member
    return Effect.flatMap(targets(t, true), (target) => {
      const channel = target.channels.find((c) => !member.channels.includes(c))
      if (channel !== undefined) {
        return new InvalidArgumentError({ argument: "channels", reason: `"${channel}" is not held by this session` })
      }
      const group = target.channelGroups.find((c) => !member.groups.includes(c))
      if (group !== undefined) {
        return new InvalidArgumentError({ argument: "channelGroups", reason: `"${group}" is not held by this session` })
      }
      return Effect.succeed(target)
    })
  }

  add(t: AddOptions): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    return Effect.gen(function*() {
      if (member.closed) return yield* closedError()
      const options = yield* readOptions(t, ["channels", "channelGroups", "state"])
      const target = yield* targets(options, true)
      const states = yield* stateMap(options.state, target)
      yield* group.lock.withPermits(1)(Effect.gen(function*() {
        if (member.closed) return yield* closedError()
        group.membership.putStates(states)
        const r = yield* beat(group, target)
        if (Either.isLeft(r)) return yield* Effect.fail(r.left)
        group.membership.hold(member, target)
      }))
    }).pipe(Effect.provide(group.context))
  }

  remove(t: Targets): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    if (member.closed) return Effect.fail(closedError())
    return Effect.flatMap(this.held(t), (target) =>
      group.lock.withPermits(1)(Effect.gen(function*() {
        if (member.closed) return yield* closedError()
        const released = group.membership.release(member, target)
        if (released.channels.length > 0 || released.channelGroups.length > 0) {
          yield* leaveRequest(group.keyset, released)
        }
      }))).pipe(Effect.provide(group.context))
  }

  setState(state: PresenceState, t?: Targets): Effect.Effect<void, PresenceError> {
    const { group, member } = this
    if (member.closed) return Effect.fail(closedError())
    // checked and copied once: what is sent now is what every later heartbeat carries
    const copy = readState(state)
    if (typeof copy === "string") return Effect.fail(new InvalidArgumentError({ argument: "state", reason: copy }))
    const names: Effect.Effect<Names, InvalidArgumentError> = t === undefined
      ? Effect.sync(() => ({ channels: [...member.channels], channelGroups: [...member.groups] }))
      : this.held(t)
    return Effect.flatMap(
      names,
      (target) =>
        Effect.flatMap(State.setState({ ...target, state: copy, keyset: group.keyset }), () =>
          Effect.sync(() => {
            if (member.closed) return
            group.membership.putStates([...target.channels, ...target.channelGroups].map((n) => [n, copy] as const))
          }))
    ).pipe(Effect.provide(group.context))
  }
}
