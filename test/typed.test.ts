/**
 * Typed presence state: one Schema, end to end — through the emulator, with transforming schemas,
 * state that does not decode, state that does not encode, and the types themselves.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, ParseResult, Predicate, Schema, type Scope, Stream } from "effect"
import * as Emulator from "../src/Emulator.js"
import { Keyset, Presence, type PresenceError, type PresenceEvent } from "../src/index.js"

const RoomId = Schema.String.pipe(Schema.pattern(/^r-\d+$/), Schema.brand("RoomId"))
type RoomId = typeof RoomId.Type

const ChatState = Schema.Struct({
  typing: Schema.Boolean,
  mood: Schema.Literal("happy", "busy", "away"),
  since: Schema.optional(Schema.DateFromString),
  room: Schema.optional(RoomId)
})
type ChatState = typeof ChatState.Type

const Chat = Presence.typed(ChatState)

const user = (userId: string) => new Keyset.Keyset({ subscribeKey: "demo", userId })
const alice = user("alice")
const bob = user("bob")
const Live = Layer.merge(Emulator.layerTest(), Keyset.layer({ default: user("watcher") }))

const since = new Date("2026-12-02T10:00:00.000Z")
const room = RoomId.make("r-7")

const requests = Effect.flatMap(Emulator.Emulator, (em) => em.requests)

describe("Presence.typed: round trips through the emulator", () => {
  it.effect("setState and getState: a Date travels as its ISO string, a branded id as its string", () =>
    Effect.gen(function*() {
      const stored = yield* Chat.setState({
        channels: ["lobby"],
        state: { typing: true, mood: "busy", since, room },
        keyset: alice
      })
      assert.deepStrictEqual(stored.state, Option.some({ typing: true, mood: "busy" as const, since, room }))
      // on the wire (and to an untyped reader): the encoded form
      const raw = yield* Presence.getState({ channels: ["lobby"], uuid: "alice" })
      assert.deepStrictEqual(raw.channels.get("lobby"), {
        typing: true,
        mood: "busy",
        since: "2026-12-02T10:00:00.000Z",
        room: "r-7"
      })
      const typed = yield* Chat.getState({ channels: ["lobby"], uuid: "alice" })
      const lobby = typed.channels.get("lobby")
      assert.isTrue(lobby !== undefined && Option.isSome(lobby.state) && lobby.state.value.since instanceof Date)
      assert.deepStrictEqual(lobby?.state, Option.some({ typing: true, mood: "busy" as const, since, room }))
      assert.isTrue(Option.isNone(lobby?.stateError ?? Option.none()))
    }).pipe(Effect.provide(Live)))

  it.scoped("enter, the session's setState and add, hereNow and hereNowAll: typed all the way", () =>
    Effect.gen(function*() {
      const session = yield* Chat.enter({
        channels: ["lobby"],
        state: { lobby: { typing: false, mood: "happy" } },
        keyset: alice
      })
      let here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      assert.deepStrictEqual(
        here.channels.get("lobby")?.uuids.get("alice")?.state,
        Option.some({ typing: false, mood: "happy" as const })
      )
      yield* session.setState({ typing: true, mood: "away", since })
      yield* session.add({ channels: ["kitchen"], state: { kitchen: { typing: false, mood: "busy", room } } })
      here = yield* Chat.hereNowAll({ channels: ["lobby", "kitchen"], stateInfo: "all" })
      assert.deepStrictEqual(
        here.channels.get("lobby")?.uuids.get("alice")?.state,
        Option.some({ typing: true, mood: "away" as const, since })
      )
      assert.deepStrictEqual(
        here.channels.get("kitchen")?.uuids.get("alice")?.state,
        Option.some({ typing: false, mood: "busy" as const, room })
      )
    }).pipe(Effect.provide(Live)))

  it.effect("announceHeartbeat with typed state per channel", () =>
    Effect.gen(function*() {
      yield* Chat.announceHeartbeat({
        channels: ["lobby"],
        state: new Map([["lobby", { typing: true, mood: "busy" as const }]]),
        keyset: alice
      })
      const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      assert.deepStrictEqual(
        here.channels.get("lobby")?.uuids.get("alice")?.state,
        Option.some({ typing: true, mood: "busy" as const })
      )
    }).pipe(Effect.provide(Live)))
})

describe("Presence.typed: state that does not decode marks that occupant only", () => {
  it.scoped("another client's bad state: a stateError on exactly that occupant, in here-now, get-state, events and the roster", () =>
    Effect.gen(function*() {
      const events = yield* Chat.subscribeEvents({ channels: ["lobby"] })
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(events, 2)))
      const roster = yield* Chat.roster({ channels: ["lobby"], stateInfo: "all" })
      yield* Chat.announceHeartbeat({
        channels: ["lobby"],
        state: { lobby: { typing: false, mood: "happy" } },
        keyset: alice
      })
      // bob's client knows nothing of the schema
      yield* Presence.announceHeartbeat({
        channels: ["lobby"],
        state: { lobby: { typing: "yes", mood: "angry" } },
        keyset: bob
      })

      const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      const a = here.channels.get("lobby")?.uuids.get("alice")
      const b = here.channels.get("lobby")?.uuids.get("bob")
      assert.deepStrictEqual(a?.state, Option.some({ typing: false, mood: "happy" as const }))
      assert.isTrue(a !== undefined && Option.isNone(a.stateError))
      assert.isTrue(b !== undefined && Option.isNone(b.state))
      assert.isTrue(b !== undefined && Option.isSome(b.stateError) && ParseResult.isParseError(b.stateError.value))

      const got = yield* Chat.getState({ channels: ["lobby"], uuid: "bob" })
      assert.isTrue(Option.isSome(got.channels.get("lobby")?.stateError ?? Option.none()))

      const [join1, join2] = [...yield* Fiber.join(collected)]
      assert.isTrue(join1._tag === "Join" && Option.isSome(join1.state) && Option.isNone(join1.stateError))
      assert.isTrue(join2._tag === "Join" && Option.isNone(join2.state) && Option.isSome(join2.stateError))

      const view = yield* roster.changes.pipe(
        Stream.filter((v) => v.channels.get("lobby")?.count === 2),
        Stream.runHead
      )
      const occupants = Option.getOrThrow(view).channels.get("lobby")?.uuids
      assert.isTrue(Option.isSome(occupants?.get("alice")?.state ?? Option.none()))
      assert.isTrue(Option.isSome(occupants?.get("bob")?.stateError ?? Option.none()))
    }).pipe(Effect.provide(Live)))

  it.effect("a hostile answer's state (5,000 levels deep, or megabytes): a stateError whose message is short and safe to read", () =>
    Effect.gen(function*() {
      const em = yield* Emulator.Emulator
      const deep = "{\"a\":".repeat(5000) + "1" + "}".repeat(5000)
      const body = `{"status":200,"message":"OK","service":"Presence","occupancy":2,"uuids":[` +
        `{"uuid":"deep","state":{"typing":false,"mood":${deep}}},{"uuid":"huge","state":{"typing":false,"mood":"${
          "x".repeat(5_000_000)
        }"}}]}`
      yield* em.addFault({ path: "/v2/presence/sub-key/demo/channel/lobby", status: 200, body })
      const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      for (const uuid of ["deep", "huge"]) {
        const error = here.channels.get("lobby")?.uuids.get(uuid)?.stateError
        assert.isTrue(error !== undefined && Option.isSome(error), uuid)
        if (error !== undefined && Option.isSome(error)) {
          assert.isBelow(error.value.message.length, 1000, uuid)
          assert.include(error.value.message, "mood")
        }
      }
    }).pipe(Effect.provide(Live)))

  it.effect("no state is not a bad state", () =>
    Effect.gen(function*() {
      yield* Presence.announceHeartbeat({ channels: ["lobby"], keyset: bob })
      const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      const b = here.channels.get("lobby")?.uuids.get("bob")
      assert.isTrue(b !== undefined && Option.isNone(b.state) && Option.isNone(b.stateError))
      const got = yield* Chat.getState({ channels: ["lobby"], uuid: "bob" })
      const lobby = got.channels.get("lobby")
      assert.isTrue(lobby === undefined || (Option.isNone(lobby.state) && Option.isNone(lobby.stateError)))
    }).pipe(Effect.provide(Live)))
})

describe("Presence.typed: state that does not encode sends nothing", () => {
  it.scoped("a refinement that fails, a transformation that throws, a nested encoding, a bad schema", () =>
    Effect.gen(function*() {
      const Short = Presence.typed(Schema.Struct({ mood: Schema.String.pipe(Schema.maxLength(4)) }))
      const Throws = Presence.typed(Schema.Struct({
        n: Schema.transform(Schema.String, Schema.Number, {
          decode: Number,
          encode: () => {
            throw new Error("boom")
          }
        })
      }))
      const Nested = Presence.typed(Schema.Struct({ where: Schema.Struct({ x: Schema.Number }) }))
      const attempts: ReadonlyArray<Effect.Effect<unknown, unknown, Presence.Requirements | Scope.Scope>> = [
        Short.setState({ channels: ["lobby"], state: { mood: "grumpy" } }),
        Short.announceHeartbeat({ channels: ["lobby"], state: { lobby: { mood: "grumpy" } } }),
        Short.enter({ channels: ["lobby"], state: { lobby: { mood: "grumpy" } } }),
        Throws.setState({ channels: ["lobby"], state: { n: 1 } }),
        Nested.setState({ channels: ["lobby"], state: { where: { x: 1 } } }),
        // callers without types
        Presence.typed("not a schema" as unknown as Schema.Schema<unknown>).hereNow({ channels: ["lobby"] }),
        Short.announceHeartbeat({ channels: ["lobby"], state: "lobby" as unknown as Record<string, { mood: string }> }),
        Short.enter({
          channels: ["lobby"],
          state: new Proxy({}, {
            ownKeys: () => {
              throw new Error("hostile")
            }
          })
        })
      ]
      for (const attempt of attempts) {
        const error = yield* Effect.flip(attempt)
        assert.strictEqual(Predicate.hasProperty(error, "_tag") ? error._tag : error, "InvalidArgumentError")
      }
      const short = yield* Effect.flip(Short.setState({ channels: ["lobby"], state: { mood: "grumpy" } }))
      assert.strictEqual(short._tag, "InvalidArgumentError")
      if (short._tag === "InvalidArgumentError") {
        assert.isTrue(short.parseError !== undefined && ParseResult.isParseError(short.parseError))
        assert.include(short.message, "Invalid state")
      }
      const nested = yield* Effect.flip(Nested.setState({ channels: ["lobby"], state: { where: { x: 1 } } }))
      assert.strictEqual(nested._tag, "InvalidArgumentError")
      assert.strictEqual((yield* requests).length, 0, "nothing was sent")
    }).pipe(Effect.provide(Live)))
})

describe("Presence.typed: the types flow", () => {
  it("occupants, events and sessions carry the schema's type; wrong state does not compile", () => {
    // only the compiler runs these
    const typesOnly = Effect.gen(function*() {
      const here = yield* Chat.hereNow({ channels: ["lobby"], stateInfo: "all" })
      const occupant = here.channels.get("lobby")?.uuids.get("alice")
      if (occupant === undefined) return
      expectTypeOf(occupant.state).toEqualTypeOf<Option.Option<ChatState>>()
      expectTypeOf(occupant.stateError).toEqualTypeOf<Option.Option<ParseResult.ParseError>>()
      const mood = Option.map(occupant.state, (s) => s.mood)
      expectTypeOf(mood).toEqualTypeOf<Option.Option<"happy" | "busy" | "away">>()
      const since = Option.flatMap(occupant.state, (s) => Option.fromNullable(s.since))
      expectTypeOf(since).toEqualTypeOf<Option.Option<Date>>()

      const events = yield* Chat.subscribeEvents({ channels: ["lobby"] })
      expectTypeOf(events).toEqualTypeOf<
        Stream.Stream<PresenceEvent.TypedPresenceEvent<ChatState>, PresenceError.PresenceError>
      >()

      const session = yield* Chat.enter({ channels: ["lobby"] })
      yield* session.setState({ typing: true, mood: "busy" })
      // @ts-expect-error: "angry" is not a mood
      yield* session.setState({ typing: true, mood: "angry" })
      // @ts-expect-error: typing is a boolean
      yield* Chat.setState({ channels: ["lobby"], state: { typing: "yes", mood: "busy" } })
      // @ts-expect-error: a plain string is not a RoomId
      yield* Chat.setState({ channels: ["lobby"], state: { typing: true, mood: "busy", room: "r-1" } })
      // @ts-expect-error: per-channel state must be ChatState too
      yield* Chat.announceHeartbeat({ channels: ["lobby"], state: { lobby: { mood: "busy" } } })

      const roster = yield* Chat.roster({ channels: ["lobby"] })
      const view = yield* roster.get
      expectTypeOf(view.channels.get("lobby")?.uuids.get("x")?.state).toEqualTypeOf<
        Option.Option<ChatState> | undefined
      >()
    })
    assert.isTrue(Effect.isEffect(typesOnly))
  })
})
