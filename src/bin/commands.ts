/**
 * here-now, where-now, state get / set, heartbeat, leave.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Presence, PresenceError } from "../index.js"
import { checkState, isPresenceState } from "../internal/validation.js"
import { type Connection, connection, layer, namesGiven, UsageError } from "./connection.js"
import { CLEAR, eventJson, eventLine, hereNowTable, Screen, table } from "./format.js"

const channels = Options.text("channel").pipe(
  Options.withAlias("c"),
  Options.repeated,
  Options.withDescription("a channel (repeatable)")
)
const groups = Options.text("group").pipe(
  Options.withAlias("g"),
  Options.repeated,
  Options.withDescription("a channel group (repeatable)")
)
const uuid = Options.text("uuid").pipe(
  Options.optional,
  Options.withDescription("whose presence (default: your user id)")
)

const decodeStateJson = Schema.decodeUnknownEither(Schema.parseJson())

/** `--state`: not a JSON object is bad usage; an object that is not flat state is the SDK's own error. */
const parseState = (
  text: string
): Effect.Effect<Presence.PresenceState, UsageError | PresenceError.InvalidArgumentError> =>
  Either.match(decodeStateJson(text), {
    onLeft: () => Effect.fail(new UsageError({ message: `--state must be a JSON object, e.g. '{"mood":"busy"}'` })),
    onRight: (json) =>
      isPresenceState(json)
        ? Effect.succeed(json)
        : Effect.fail(
          new PresenceError.InvalidArgumentError({ argument: "state", reason: checkState(json) ?? "is not valid" })
        )
  })

/** Channels and groups as one list for a sentence: `a, b, group g`. */
const places = (channels: ReadonlyArray<string>, groups: ReadonlyArray<string>) =>
  [...channels, ...groups.map((g) => `group ${g}`)].join(", ")

/** The result as JSON (its own `toJSON`: what `JSON.stringify` of it gives in any program), or text. */
const print = (c: Connection, result: unknown, text: string) =>
  Console.log(c.json ? JSON.stringify(result, null, 2) : text)

const run = <A, E, R>(c: Connection, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(layer(c), (l) => Effect.provide(effect, l))

/** Runs a command over channels and groups, after checking that none is empty. */
const runOn = <A, E, R>(
  c: Connection & { readonly channels: ReadonlyArray<string>; readonly groups: ReadonlyArray<string> },
  effect: Effect.Effect<A, E, R>
) => Effect.zipRight(namesGiven(c.channels, c.groups), run(c, effect))

const hereNow = Command.make(
  "here-now",
  {
    ...connection,
    channels,
    groups,
    state: Options.boolean("state").pipe(Options.withDescription("include each occupant's state")),
    counts: Options.boolean("counts").pipe(Options.withDescription("counts only, no user ids")),
    limit: Options.integer("limit").pipe(
      Options.optional,
      Options.withDescription("occupants listed per channel, 0–1000")
    ),
    offset: Options.integer("offset").pipe(
      Options.optional,
      Options.withDescription("skip this many occupants per channel")
    ),
    all: Options.boolean("all").pipe(Options.withDescription("walk every page"))
  },
  (o) =>
    Effect.gen(function*() {
      if (o.state && o.counts) return yield* new UsageError({ message: "--state and --counts cannot be combined" })
      const options: Presence.HereNowOptions = {
        channels: o.channels,
        channelGroups: o.groups,
        stateInfo: o.counts ? "none" : o.state ? "all" : "onlyUUIDs",
        limit: Option.getOrUndefined(o.limit),
        offset: Option.getOrUndefined(o.offset)
      }
      const r = yield* runOn(o, o.all ? Presence.hereNowAll(options) : Presence.hereNow(options))
      yield* print(o, r, hereNowTable(r))
    })
).pipe(Command.withDescription("Who is present: in channels (-c), channel groups (-g), or — with neither — everywhere"))

const whereNow = Command.make("where-now", { ...connection, uuid }, (o) =>
  Effect.gen(function*() {
    const r = yield* run(o, Presence.whereNow({ uuid: Option.getOrUndefined(o.uuid) }))
    const text = r.channels.length === 0
      ? `${r.uuid} is not present anywhere`
      : `${r.uuid} is in: ${r.channels.join(", ")}`
    yield* print(o, r, text)
  })).pipe(Command.withDescription("The channels a user is present in"))

const stateGet = Command.make("get", { ...connection, channels, groups, uuid }, (o) =>
  Effect.gen(function*() {
    const r = yield* runOn(
      o,
      Presence.getState({ channels: o.channels, channelGroups: o.groups, uuid: Option.getOrUndefined(o.uuid) })
    )
    const entries = [...r.channels].sort(([a], [b]) => a.localeCompare(b))
    yield* print(
      o,
      r,
      entries.length === 0
        ? `${r.uuid} has no state`
        : table(["CHANNEL", "STATE"], entries.map(([ch, s]) => [ch, JSON.stringify(s)]))
    )
  })).pipe(Command.withDescription("A user's presence state per channel"))

const stateSet = Command.make(
  "set",
  {
    ...connection,
    channels,
    groups,
    state: Options.text("state").pipe(Options.withDescription(`the new state, a flat JSON object: '{"mood":"busy"}'`))
  },
  (o) =>
    Effect.gen(function*() {
      const state = yield* parseState(o.state)
      const r = yield* runOn(o, Presence.setState({ channels: o.channels, channelGroups: o.groups, state }))
      yield* print(o, r, `state set: ${JSON.stringify(r.state)}`)
    })
).pipe(Command.withDescription("Set your presence state on channels and groups"))

const state = Command.make("state").pipe(
  Command.withDescription("Get or set presence state"),
  Command.withSubcommands([stateGet, stateSet])
)

const heartbeat = Command.make(
  "heartbeat",
  {
    ...connection,
    channels,
    groups,
    heartbeat: Options.integer("heartbeat").pipe(
      Options.withDefault(300),
      Options.withDescription("presence timeout in seconds, 20–320")
    ),
    state: Options.text("state").pipe(
      Options.optional,
      Options.withDescription("state to carry on every listed channel")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const perName = yield* Option.match(o.state, {
        onNone: () => Effect.succeed(undefined),
        onSome: (text) =>
          Effect.map(parseState(text), (s) => Object.fromEntries([...o.channels, ...o.groups].map((n) => [n, s])))
      })
      const r = yield* runOn(
        o,
        Presence.announceHeartbeat({
          channels: o.channels,
          channelGroups: o.groups,
          heartbeat: o.heartbeat,
          state: perName
        })
      )
      yield* print(
        o,
        r,
        `present in ${places(r.channels, r.channelGroups)} for ${r.heartbeat} s`
      )
    })
).pipe(Command.withDescription("Announce presence once (join if not present) for --heartbeat seconds"))

const leave = Command.make("leave", { ...connection, channels, groups }, (o) =>
  Effect.gen(function*() {
    const r = yield* runOn(o, Presence.announceLeave({ channels: o.channels, channelGroups: o.groups }))
    yield* print(
      o,
      r,
      `left ${places(r.channels, r.channelGroups)}`
    )
  })).pipe(Command.withDescription("Leave channels and groups at once"))

/** Prints events as they come. */
const watchEvents = (o: Connection & Watched) =>
  Effect.scoped(Effect.gen(function*() {
    const events = yield* Presence.subscribeEvents({ channels: o.channels, channelGroups: o.groups })
    // live from here; on stderr, so that stdout carries events only
    yield* Console.error(`watching ${places(o.channels, o.groups)} (Ctrl-C to stop)`)
    yield* Stream.runForEach(events, (e) => Console.log(o.json ? JSON.stringify(eventJson(e)) : eventLine(e)))
  }))

/** Prints the roster: redrawn in place on a terminal, one table (or JSON line) per change elsewhere. */
const watchRoster = (o: Connection & Watched) =>
  Effect.scoped(Effect.gen(function*() {
    const { terminal } = yield* Screen
    const roster = yield* Presence.roster({
      channels: o.channels,
      channelGroups: o.groups,
      stateInfo: o.state ? "all" : "onlyUUIDs"
    })
    yield* Console.error(`watching who is in ${places(o.channels, o.groups)} (Ctrl-C to stop)`)
    yield* Stream.runForEach(roster.changes, (view) =>
      Console.log(
        o.json
          ? JSON.stringify(view)
          : terminal
          ? `${CLEAR}${hereNowTable(view)}\n\nwatching ${places(o.channels, o.groups)} (Ctrl-C to stop)`
          : `${hereNowTable(view)}\n`
      ))
  }))

interface Watched {
  readonly channels: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
  readonly roster: boolean
  readonly state: boolean
}

const watch = Command.make("watch", {
  ...connection,
  channels,
  groups,
  roster: Options.boolean("roster").pipe(
    Options.withDescription("a live table of who is here (here-now kept current) instead of the events")
  ),
  state: Options.boolean("state").pipe(Options.withDescription("with --roster: include each occupant's state"))
}, (o) =>
  o.state && !o.roster
    ? Effect.fail(new UsageError({ message: "--state goes with --roster (events carry their state anyway)" }))
    : runOn(o, o.roster ? watchRoster(o) : watchEvents(o))).pipe(
    Command.withDescription(
      "Print presence events (joins, leaves, timeouts, state changes) as they happen, or with --roster a live table of who is here, until Ctrl-C"
    )
  )

export const networkCommands = [hereNow, whereNow, state, heartbeat, leave, watch] as const
