// Cross-check: the official `pubnub` npm client, pointed at the socket emulator, must read what
// the emulator holds. It is an independent implementation of the protocol's client side.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Stream } from "effect"
import PubNub from "pubnub"
import { Emulator } from "../src/Emulator.js"
import { Keyset, Presence, PresenceEvent, PubNubConfig } from "../src/index.js"
import { NodeEmulator, UndiciHttpClient } from "../src/node/index.js"

const withOfficial = <A>(f: (pn: PubNub, em: Emulator["Type"]) => Promise<A>) =>
  Effect.gen(function*() {
    const server = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
    const { origin } = yield* Effect.provide(NodeEmulator.address, server)
    const em = yield* Effect.provide(Emulator, server)
    const pn = new PubNub({
      subscribeKey: "demo",
      publishKey: "demo",
      userId: "carol",
      origin,
      ssl: false,
      logLevel: PubNub.LogLevel.None,
      keepAlive: false
    })
    try {
      return yield* Effect.promise(() => f(pn, em))
    } finally {
      pn.destroy(true)
    }
  })

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** Join `uuid` on `channels` (with per-channel state) through the wire, as any client would. */
const join = (em: Emulator["Type"], uuid: string, channels: string, state?: object, groups?: string) =>
  run(em.serve(
    "GET",
    `/v2/presence/sub-key/demo/channel/${channels}/heartbeat?uuid=${uuid}` +
      (state === undefined ? "" : `&state=${encodeURIComponent(JSON.stringify(state))}`) +
      (groups === undefined ? "" : `&channel-group=${groups}`)
  ))

const occupantsOf = (r: PubNub.Presence.HereNowResponse, ch: string) =>
  r.channels[ch]?.occupants.map((o) => o.uuid).sort()

describe("official pubnub client against the socket emulator", () => {
  it.scoped("here now: one, many, groups, global, with state, counts only, limit", () =>
    withOfficial(async (pn, em) => {
      await join(em, "a", "lobby,kitchen", { lobby: { mood: "busy" } })
      await join(em, "b", "lobby")
      await pn.channelGroups.addChannels({ channelGroup: "rooms", channels: ["kitchen", "garden"] })
      await join(em, "c", ",", undefined, "rooms")

      const one = await pn.hereNow({ channels: ["lobby"], includeState: true })
      assert.strictEqual(one.totalOccupancy, 2)
      assert.deepStrictEqual(occupantsOf(one, "lobby"), ["a", "b"])
      assert.deepStrictEqual(one.channels.lobby.occupants.find((o) => o.uuid === "a")?.state, { mood: "busy" })

      const many = await pn.hereNow({ channels: ["lobby", "kitchen"] })
      assert.strictEqual(many.totalChannels, 2)
      assert.deepStrictEqual(occupantsOf(many, "kitchen"), ["a", "c"])

      const groups = await pn.hereNow({ channelGroups: ["rooms"] })
      assert.deepStrictEqual(Object.keys(groups.channels).sort(), ["garden", "kitchen"])
      assert.deepStrictEqual(occupantsOf(groups, "garden"), ["c"])

      const global = await pn.hereNow({})
      const snap = await run(em.snapshot)
      const truth = snap.keys.demo.channels
      assert.deepStrictEqual(Object.keys(global.channels).sort(), Object.keys(truth).sort())
      for (const [name, ch] of Object.entries(truth)) {
        assert.strictEqual(global.channels[name].occupancy, ch.occupancy, name)
        assert.deepStrictEqual(occupantsOf(global, name), Object.keys(ch.occupants).sort(), name)
      }
      assert.strictEqual(global.totalOccupancy, snap.present)

      const counts = await pn.hereNow({ channels: ["lobby", "kitchen"], includeUUIDs: false })
      assert.strictEqual(counts.channels.lobby.occupancy, 2)
      assert.deepStrictEqual(counts.channels.lobby.occupants, [])

      const limited = await pn.hereNow({ channels: ["lobby"], limit: 1 })
      assert.strictEqual(limited.channels.lobby.occupancy, 2)
      assert.strictEqual(limited.channels.lobby.occupants.length, 1)
    }))

  it.scoped("where now, set state, get state", () =>
    withOfficial(async (pn, em) => {
      await join(em, "carol", "lobby,kitchen")
      const where = await pn.whereNow({ uuid: "carol" })
      assert.deepStrictEqual([...where.channels].sort(), ["kitchen", "lobby"])
      assert.deepStrictEqual((await pn.whereNow({ uuid: "nobody" })).channels, [])

      const set = await pn.setState({ channels: ["lobby"], state: { mood: "typing", n: 1 } })
      assert.deepStrictEqual(set.state, { mood: "typing", n: 1 })
      const snap = await run(em.snapshot)
      assert.deepStrictEqual(snap.keys.demo.channels.lobby.occupants.carol.state, { mood: "typing", n: 1 })

      const got = await pn.getState({ uuid: "carol", channels: ["lobby"] })
      assert.deepStrictEqual(got.channels, { lobby: { mood: "typing", n: 1 } })
    }))

  it.scoped("channel groups: add, list, remove, list groups, delete", () =>
    withOfficial(async (pn, em) => {
      await pn.channelGroups.addChannels({ channelGroup: "cg1", channels: ["a", "b", "c"] })
      assert.deepStrictEqual((await pn.channelGroups.listChannels({ channelGroup: "cg1" })).channels, ["a", "b", "c"])
      await pn.channelGroups.removeChannels({ channelGroup: "cg1", channels: ["b"] })
      assert.deepStrictEqual((await run(em.snapshot)).keys.demo.groups.cg1, ["a", "c"])
      await pn.channelGroups.addChannels({ channelGroup: "cg2", channels: ["z"] })
      assert.deepStrictEqual((await pn.channelGroups.listGroups()).groups, ["cg1", "cg2"])
      await pn.channelGroups.deleteGroup({ channelGroup: "cg1" })
      assert.deepStrictEqual(Object.keys((await run(em.snapshot)).keys.demo.groups), ["cg2"])
    }))

  it.scoped("errors come back as the official client's errors, with the emulator's status", () =>
    withOfficial(async (pn, em) => {
      await run(em.addFault({ path: "/v2/presence", status: 403, times: 1 }))
      const err = await pn.hereNow({ channels: ["x"] }).then(
        () => undefined,
        (e: { status?: { statusCode?: number } }) => e
      )
      assert.strictEqual(err?.status?.statusCode, 403)
    }))
})

describe("official pubnub client: presence events from the emulator", () => {
  /** What both sides agree an event is. */
  const key = (e: {
    action: string
    uuid?: string | undefined
    occupancy?: number | undefined
    timetoken: string
    state?: unknown
    channel: string
  }) => JSON.stringify([e.action, e.channel, e.uuid ?? null, e.occupancy ?? null, e.timetoken, e.state ?? null])

  it.scopedLive("subscribe withPresence + a presence listener gets what Presence.events gets", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
      const { origin } = yield* Effect.provide(NodeEmulator.address, server)
      const em = yield* Effect.provide(Emulator, server)
      const sdk = yield* Layer.build(Layer.mergeAll(
        UndiciHttpClient.layer,
        PubNubConfig.layer({ origin: `http://${origin}` }),
        Keyset.layer({ default: new Keyset.Keyset({ subscribeKey: "demo", userId: "watcher" }) })
      ))

      const pn = new PubNub({
        subscribeKey: "demo",
        userId: "carol",
        origin,
        ssl: false,
        logLevel: PubNub.LogLevel.None,
        presenceTimeout: 300
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => pn.destroy(true)))
      const theirs: Array<PubNub.Subscription.Presence> = []
      const connected = new Promise<void>((resolve) =>
        pn.addListener({
          status: (s) => {
            if (s.category === PubNub.CATEGORIES.PNConnectedCategory) resolve()
          },
          presence: (p) => void theirs.push(p)
        })
      )
      pn.subscribe({ channels: ["lobby"], withPresence: true })
      yield* Effect.promise(() => connected)
      // the SDK's stream, live from here, as the official client is
      const mine = yield* Effect.provide(Presence.subscribeEvents({ channels: ["lobby"] }), sdk)
      const expected = 5 // u1 join / state-change / leave, u2 join / timeout
      const sdkFiber = yield* Effect.fork(Stream.runCollect(Stream.take(mine, expected)))

      const serve = (path: string) => em.serve("GET", `/v2/presence/sub-key/demo/channel/lobby/${path}`)
      yield* serve(
        "heartbeat?uuid=u1&heartbeat=60&state=" + encodeURIComponent(JSON.stringify({ lobby: { mood: "x" } }))
      )
      yield* serve("uuid/u1/data?uuid=u1&state=" + encodeURIComponent(JSON.stringify({ mood: "y" })))
      yield* serve("leave?uuid=u1")
      yield* serve("heartbeat?uuid=u2&heartbeat=20")
      yield* em.advance("21 seconds")

      const ours = [...yield* Fiber.join(sdkFiber)].map((e) =>
        key({
          action: PresenceEvent.$match(e, {
            Join: () => "join",
            Leave: () => "leave",
            Timeout: () => "timeout",
            StateChange: () => "state-change",
            Interval: () => "interval"
          }),
          channel: e.channel,
          uuid: "uuid" in e ? e.uuid : undefined,
          occupancy: e.occupancy,
          timetoken: e.timetoken,
          state: "state" in e ? Option.getOrUndefined(e.state) : undefined
        })
      )
      for (let i = 0; i < 500 && theirs.length < expected; i++) yield* Effect.sleep("20 millis")
      assert.deepStrictEqual(theirs.map(key), ours)
      assert.deepStrictEqual(
        theirs.map((p) => `${p.action} ${"uuid" in p ? p.uuid : ""}`),
        ["join u1", "state-change u1", "leave u1", "join u2", "timeout u2"]
      )
    }))
})
