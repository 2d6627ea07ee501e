/**
 * `pn-presence demo` (what `npm start` runs): a few simulated users on the embedded emulator —
 * or, with PUBNUB_SUBSCRIBE_KEY set, on that keyset — joining, changing state, leaving and timing
 * out, with a live occupancy table. Finishes by itself in seconds.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Emulator from "../Emulator.js"
import { Keyset, Presence, type PresenceError, type PresenceSession, PubNubConfig } from "../index.js"
import { NodeEmulator, UndiciHttpClient } from "../node/index.js"
import { eventLine, hereNowTable, sameView } from "./format.js"

const ROOMS = ["lobby", "kitchen"]

/** A here-now table, indented under the demo's steps. */
const indentedTable = (here: Presence.HereNowResult): string =>
  "\n" + hereNowTable(here).split("\n").map((l) => "    " + l).join("\n")

interface Stage {
  readonly subscribeKey: string
  readonly emulator: Option.Option<Emulator.Service>
  readonly pause: Effect.Effect<void>
  readonly secretKey: Option.Option<Redacted.Redacted>
  readonly publishKey: Option.Option<string>
}

/** What every act of the story uses. */
interface Cast {
  readonly stage: Stage
  readonly users: {
    readonly alice: Keyset.Keyset
    readonly bob: Keyset.Keyset
    readonly carol: Keyset.Keyset
    readonly dave: Keyset.Keyset
  }
  readonly scopes: {
    readonly alice: Scope.CloseableScope
    readonly bob: Scope.CloseableScope
    readonly carol: Scope.CloseableScope
    readonly dave: Scope.CloseableScope
  }
  readonly step: (title: string) => Effect.Effect<void>
  readonly table: Effect.Effect<void, PresenceError.PresenceError, Presence.Requirements>
}

/**
 * The roster's view once it shows what a fresh here-now shows (events take a moment to arrive):
 * the demo prints the roster, and says that it matches.
 */
const rosterTable = (roster: Presence.Roster, keyset: Keyset.Keyset) =>
  Effect.gen(function*() {
    const fresh = yield* Presence.hereNow({ channels: ROOMS, stateInfo: "all", keyset })
    const matched = yield* roster.changes.pipe(
      Stream.filter((view) => sameView(view, fresh)),
      Stream.runHead,
      Effect.timeout("5 seconds"),
      Effect.option,
      Effect.map(Option.flatten)
    )
    const view = Option.isSome(matched) ? matched.value : yield* roster.get
    yield* Console.log(
      indentedTable(view) +
        (Option.isSome(matched)
          ? "\n    (live roster — the same as a fresh here-now)"
          : "\n    (live roster, catching up)")
    )
  })

const cast = (stage: Stage, roster: Presence.Roster) =>
  Effect.gen(function*() {
    const user = (userId: string) =>
      new Keyset.Keyset({
        subscribeKey: stage.subscribeKey,
        userId,
        ...Option.match(stage.publishKey, { onNone: () => ({}), onSome: (publishKey) => ({ publishKey }) }),
        ...Option.match(stage.secretKey, { onNone: () => ({}), onSome: (secretKey) => ({ secretKey }) })
      })
    const users = { alice: user("alice"), bob: user("bob"), carol: user("carol"), dave: user("dave") }
    const c: Cast = {
      stage,
      users,
      scopes: {
        alice: yield* Scope.make(),
        bob: yield* Scope.make(),
        carol: yield* Scope.make(),
        dave: yield* Scope.make()
      },
      step: (title) => Effect.zipRight(stage.pause, Console.log(`\n▸ ${title}`)),
      table: Effect.zipRight(stage.pause, rosterTable(roster, users.alice))
    }
    return c
  })

/** Act one: everyone arrives. */
const arrivals = (c: Cast) =>
  Effect.gen(function*() {
    const { scopes, stage, step, users } = c
    const onEmulator = Option.isSome(stage.emulator)
    if (Option.isSome(stage.emulator)) {
      // a channel group, registered the way any client would
      yield* stage.emulator.value.serve(
        "GET",
        `/v1/channel-registration/sub-key/demo/channel-group/rooms?add=${ROOMS.join(",")}`
      )
    }
    yield* step("alice enters the lobby, feeling happy (heartbeat 120 s)")
    yield* Scope.extend(
      Presence.enter({ channels: ["lobby"], heartbeat: 120, state: { lobby: { mood: "happy" } }, keyset: users.alice }),
      scopes.alice
    )
    yield* step("bob enters the lobby and the kitchen (heartbeat 60 s)")
    const bob = yield* Scope.extend(Presence.enter({ channels: ROOMS, heartbeat: 60, keyset: users.bob }), scopes.bob)
    yield* step("carol the chef enters the kitchen (a short 20 s timeout)")
    yield* Scope.extend(
      Presence.enter({
        channels: ["kitchen"],
        heartbeat: 20,
        state: { kitchen: { role: "chef" } },
        keyset: users.carol,
        announceLeave: false // she will vanish without saying goodbye
      }),
      scopes.carol
    )
    yield* step(onEmulator ? "dave enters every room of the channel group \"rooms\"" : "dave enters every room")
    yield* Scope.extend(
      Presence.enter(
        onEmulator ? { channelGroups: ["rooms"], keyset: users.dave } : { channels: ROOMS, keyset: users.dave }
      ),
      scopes.dave
    )
    yield* c.table
    return bob
  })

/** Act two: typing, a goodbye, a timeout, and everyone leaves. */
const departures = (c: Cast, bob: PresenceSession.PresenceSession) =>
  Effect.gen(function*() {
    const { scopes, stage, step, users } = c
    yield* step("bob starts typing in the lobby")
    yield* bob.setState({ typing: true }, { channels: ["lobby"] })
    yield* step("alice says goodbye and leaves")
    yield* Scope.close(scopes.alice, Exit.void)
    yield* c.table

    yield* step("carol's laptop dies: her heartbeats stop, and no leave is sent")
    yield* Scope.close(scopes.carol, Exit.void)
    if (Option.isSome(stage.emulator)) {
      yield* step("21 seconds pass (virtual time on the emulator: no waiting)")
      yield* Effect.orDie(stage.emulator.value.advance("21 seconds"))
    } else {
      yield* step("waiting 25 seconds for the service to time her out")
      yield* Effect.sleep("25 seconds")
    }
    yield* c.table

    yield* step("where is bob?")
    const where = yield* Presence.whereNow({ uuid: "bob", keyset: users.alice })
    yield* Console.log(`    bob is in: ${[...where.channels].sort().join(", ")}`)

    yield* step("summary: here-now across the whole keyset")
    yield* stage.pause
    const everyone = yield* Presence.hereNow({ stateInfo: "all", keyset: users.alice })
    yield* Console.log(indentedTable(everyone))

    yield* step("everyone else leaves")
    yield* Scope.close(scopes.bob, Exit.void)
    yield* Scope.close(scopes.dave, Exit.void)
    yield* stage.pause
  })

const story = (stage: Stage) =>
  Effect.gen(function*() {
    // who is here, kept current by the events: the occupancy tables below are this roster
    const roster = yield* Presence.roster({ channels: ROOMS, stateInfo: "all" })
    const c = yield* cast(stage, roster)
    // the events, live as they happen: watching does not make the watcher present
    const events = yield* Presence.subscribeEvents({ channels: ROOMS })
    yield* Effect.forkScoped(Stream.runForEach(events, (e) => Console.log(`  ${eventLine(e)}`)))
    const bob = yield* arrivals(c)
    yield* departures(c, bob)
    // let the last events arrive before the watcher goes
    yield* stage.pause
  }).pipe(
    Effect.scoped,
    // every call names its keyset; the service is there for the ones that do not need to
    Effect.provide(Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: stage.subscribeKey, userId: "demo" }) }))
  )

const onEmulator = (pause: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const em = yield* NodeEmulator.layer({ port: 0 }).pipe(
      Layer.build,
      Effect.flatMap((ctx) =>
        Effect.gen(function*() {
          const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
          return { origin, emulator: yield* Effect.provide(Emulator.Emulator, ctx) }
        })
      )
    )
    yield* Console.log(`PubNub presence demo — embedded emulator on http://${em.origin} (no keys, no network)`)
    yield* story({
      subscribeKey: "demo",
      emulator: Option.some(em.emulator),
      pause,
      secretKey: Option.none(),
      publishKey: Option.none()
    }).pipe(
      Effect.provide(Layer.merge(UndiciHttpClient.layer, PubNubConfig.layer({ origin: em.origin, secure: false })))
    )
  })

const onKeyset = (subscribeKey: string, pause: Effect.Effect<void>) =>
  Effect.gen(function*() {
    yield* Console.log(`PubNub presence demo — on your keyset ${subscribeKey.slice(0, 12)}… (PUBNUB_SUBSCRIBE_KEY)`)
    const publishKey = yield* Config.option(Config.string("PUBNUB_PUBLISH_KEY"))
    const secretKey = yield* Config.option(Config.redacted("PUBNUB_SECRET_KEY"))
    const origin = yield* Config.option(Config.string("PUBNUB_ORIGIN"))
    yield* story({ subscribeKey, emulator: Option.none(), pause, secretKey, publishKey }).pipe(
      Effect.provide(Layer.merge(
        UndiciHttpClient.layer,
        PubNubConfig.layer(Option.match(origin, { onNone: () => ({}), onSome: (o) => ({ origin: o }) }))
      ))
    )
  })

export const demoCommand = Command.make(
  "demo",
  { fast: Options.boolean("fast").pipe(Options.withDescription("no pauses between steps")) },
  (o) =>
    Effect.gen(function*() {
      const started = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const pause = o.fast ? Effect.sleep("30 millis") : Effect.sleep("600 millis")
      const key = yield* Config.option(Config.nonEmptyString("PUBNUB_SUBSCRIBE_KEY"))
      yield* Option.match(key, { onNone: () => onEmulator(pause), onSome: (k) => onKeyset(k, pause) })
      const took = ((yield* Effect.clockWith((c) => c.currentTimeMillis)) - started) / 1000
      yield* Console.log(`\n✓ demo finished in ${took.toFixed(1)} s`)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Watch presence happen: simulated users on the embedded emulator (or your keyset)"))
