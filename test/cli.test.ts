// pn-presence, run in this process against the socket emulator (one per test): every command,
// its output, its exit code, and its edges. test/cli-process.test.ts runs the real bin a few
// times for what only a process shows (signals, exit codes, a missing peer).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { NodeEmulator } from "../src/node/index.js"
import { cli } from "./util/cli.js"

/** A socket emulator for this test, and `at(...)`: arguments aimed at it with the demo key. */
const emulator = Effect.gen(function*() {
  const ctx = yield* Layer.build(NodeEmulator.layer({ port: 0 }))
  const { origin } = yield* Effect.provide(NodeEmulator.address, ctx)
  const at = (...args: Array<string>) => [...args, "--subscribe-key", "demo", "--origin", origin, "--insecure"]
  return { origin, at }
})

const noStackTrace = (text: string) => {
  assert.notMatch(text, /^\s+at /m, "no stack trace")
  assert.notInclude(text, "node_modules")
}

describe("pn-presence commands against the emulator", () => {
  it.scopedLive("heartbeat, here-now (table and JSON), where-now, state set/get, leave", () =>
    Effect.gen(function*() {
      const { at } = yield* emulator
      const hb = yield* cli(at(
        "heartbeat",
        "-c",
        "lobby",
        "-c",
        "kitchen",
        "--heartbeat",
        "60",
        "--state",
        "{\"mood\":\"ok\"}",
        "--user-id",
        "alice"
      ))
      assert.strictEqual(hb.code, 0, hb.stderr)
      assert.include(hb.stdout, "present in lobby, kitchen for 60 s")
      yield* cli(at("heartbeat", "-c", "lobby", "--user-id", "bob"))

      const table = yield* cli(at("here-now", "-c", "lobby", "--state"))
      assert.strictEqual(table.code, 0, table.stderr)
      assert.match(table.stdout, /lobby\s+2\s+alice\s+\{"mood":"ok"\}/)
      assert.match(table.stdout, /^\s+bob\s*$/m)
      assert.include(table.stdout, "2 present in 1 channel")

      const json = yield* cli(at("here-now", "--json"))
      assert.strictEqual(json.code, 0, json.stderr)
      const parsed = JSON.parse(json.stdout)
      assert.strictEqual(parsed.totalOccupancy, 3)
      assert.deepStrictEqual(Object.keys(parsed.channels.lobby.uuids), ["alice", "bob"])

      const counts = yield* cli(at("here-now", "-c", "lobby", "-c", "kitchen", "--counts", "--json"))
      assert.deepStrictEqual(JSON.parse(counts.stdout).channels.kitchen, {
        channelName: "kitchen",
        count: 1,
        uuids: {},
        hasMore: false
      })

      const where = yield* cli(at("where-now", "--uuid", "alice"))
      assert.strictEqual(where.stdout.trim(), "alice is in: lobby, kitchen")

      const set = yield* cli(at("state", "set", "-c", "lobby", "--state", "{\"mood\":\"busy\"}", "--user-id", "alice"))
      assert.strictEqual(set.code, 0, set.stderr)
      const get = yield* cli(at("state", "get", "-c", "lobby", "-c", "kitchen", "--uuid", "alice", "--json"))
      assert.deepStrictEqual(JSON.parse(get.stdout).channels, { lobby: { mood: "busy" }, kitchen: { mood: "ok" } })

      const leave = yield* cli(at("leave", "-c", "lobby", "--user-id", "alice"))
      assert.strictEqual(leave.code, 0, leave.stderr)
      assert.include(leave.stdout, "left lobby")
      const after = yield* cli(at("where-now", "--uuid", "alice", "--json"))
      assert.deepStrictEqual(JSON.parse(after.stdout), { uuid: "alice", channels: ["kitchen"] })
    }))

  it.scopedLive("watch --roster: a table redrawn in place on a terminal, one JSON view per change with --json", () =>
    Effect.gen(function*() {
      const { at, origin } = yield* emulator
      const hb = (uuid: string) =>
        Effect.promise(() => fetch(`http://${origin}/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=${uuid}`))
      const seen = { terminal: "", json: "" }
      /** Waits (up to 20 s of real time) until `done()`. */
      const until = (done: () => boolean, why: () => string) =>
        Effect.gen(function*() {
          for (let i = 0; i < 400 && !done(); i++) yield* Effect.sleep("50 millis")
          if (!done()) assert.fail(why())
        })
      yield* hb("u1")
      const drawn = yield* Effect.fork(
        cli(at("watch", "--roster", "-c", "lobby", "--state"), {}, {
          terminal: true,
          onOutput: (t) => (seen.terminal += t)
        })
      )
      const lines = yield* Effect.fork(
        cli(at("watch", "--roster", "-c", "lobby", "--json"), {}, { onOutput: (t) => (seen.json += t) })
      )
      yield* until(() => seen.terminal.includes("u1") && seen.json.includes("u1"), () => JSON.stringify(seen))
      yield* hb("u2")
      yield* until(() => seen.terminal.includes("u2") && seen.json.includes("u2"), () => JSON.stringify(seen))
      yield* Fiber.interrupt(drawn)
      yield* Fiber.interrupt(lines)
      // on a terminal: each view clears the screen and draws the table again
      const screens = seen.terminal.split("\u001b[H\u001b[2J").filter((s) => s.length > 0)
      assert.isAtLeast(screens.length, 2)
      assert.match(screens[0], /lobby\s+1\s+u1/)
      assert.match(screens[screens.length - 1], /lobby\s+2\s+u\d/)
      // with --json: one line per view, each the here-now result's JSON
      const views = seen.json.trim().split("\n").map((l) => JSON.parse(l))
      assert.deepStrictEqual(Object.keys(views[0].channels.lobby.uuids), ["u1"])
      assert.strictEqual(views[views.length - 1].totalOccupancy, 2)
      const usage = yield* cli(at("watch", "--state", "-c", "lobby"))
      assert.strictEqual(usage.code, 2)
      assert.include(usage.stderr, "--state goes with --roster")
    }))

  it.scopedLive("keys from the PUBNUB_* environment; --origin with its scheme", () =>
    Effect.gen(function*() {
      const { at, origin } = yield* emulator
      yield* cli(at("heartbeat", "-c", "env-room", "--user-id", "erin"))
      const r = yield* cli(["where-now", "--origin", `http://${origin}`], {
        PUBNUB_SUBSCRIBE_KEY: "demo",
        PUBNUB_USER_ID: "erin"
      })
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.trim(), "erin is in: env-room")
    }))

  it.effect("--help on every command: usage with the full command path, no colour codes off a terminal", () =>
    Effect.gen(function*() {
      const commands = [
        [],
        ["here-now"],
        ["where-now"],
        ["state"],
        ["state", "get"],
        ["state", "set"],
        ["heartbeat"],
        ["leave"],
        ["emulator"],
        ["demo"]
      ]
      for (const c of commands) {
        const r = yield* cli([...c, "--help"])
        assert.strictEqual(r.code, 0, `${c.join(" ")}: ${r.stderr}`)
        assert.include(r.stdout, "USAGE", c.join(" "))
        assert.notMatch(r.stdout, /\u001b\[/, "no ANSI escapes")
        if (c.length > 0) assert.include(r.stdout, `$ pn-presence ${c.join(" ")}`)
      }
      assert.include((yield* cli(["here-now", "--help"])).stdout, "--subscribe-key")
      const emulatorHelp = (yield* cli(["emulator", "--help"])).stdout
      assert.include(emulatorHelp, "default 8090")
      assert.include(emulatorHelp, "default 127.0.0.1")
      // on a terminal that wants colour, it keeps it
      assert.match((yield* cli(["--help"], {}, { colour: true })).stdout, /\u001b\[/)
    }))

  it.scopedLive("--log-level works after the subcommand too", () =>
    Effect.gen(function*() {
      const { at } = yield* emulator
      const r = yield* cli(at("where-now", "--log-level", "debug"))
      assert.strictEqual(r.code, 0, r.stderr)
    }))
})

describe("pn-presence bad input: one clear line, the right exit code", () => {
  const cases: ReadonlyArray<
    readonly [string, (at: (...a: Array<string>) => Array<string>) => Array<string>, number, RegExp]
  > = [
    ["unknown command", () => ["bogus"], 2, /Invalid subcommand/],
    ["unknown flag", (at) => at("here-now", "--bogus"), 2, /unknown argument: '--bogus'/],
    [
      "missing keys",
      () => ["here-now", "-c", "lobby"],
      2,
      /^pn-presence: no subscribe key: pass --subscribe-key or set PUBNUB_SUBSCRIBE_KEY$/m
    ],
    ["an empty channel", (at) => at("here-now", "-c", ""), 2, /^pn-presence: -c\/--channel needs a channel name/m],
    [
      "an empty --channel=",
      (at) => at("here-now", "--channel="),
      2,
      /^pn-presence: -c\/--channel needs a channel name/m
    ],
    ["an empty group", (at) => at("leave", "-g", ""), 2, /^pn-presence: -g\/--group needs a channel group name/m],
    ["a bare -c", (at) => [...at("here-now"), "-c"], 2, /^pn-presence: -c\/--channel needs a channel name \(none/m],
    ["-c followed by a flag", (at) => at("here-now", "-c", "--json"), 2, /-c\/--channel needs a channel name \(got/m],
    [
      "an invalid channel",
      (at) => at("here-now", "-c", "a,b"),
      1,
      /^pn-presence: InvalidArgumentError: Invalid channels: "a,b" must not contain ","$/m
    ],
    [
      "a heartbeat out of range",
      (at) => at("heartbeat", "-c", "x", "--heartbeat", "5"),
      1,
      /InvalidArgumentError: Invalid heartbeat/
    ],
    [
      "state that is not JSON",
      (at) => at("state", "set", "-c", "x", "--state", "nope"),
      2,
      /--state must be a JSON object/
    ],
    ["--state with --counts", (at) => at("here-now", "--state", "--counts"), 2, /cannot be combined/],
    ["leave with no channel", (at) => at("leave"), 1, /give at least one channel or channel group/],
    [
      "a subscribe key with a space: one line",
      () => ["here-now", "--subscribe-key", "bad key"],
      2,
      /^pn-presence: Invalid keyset: .*spaces.*$/m
    ],
    [
      "an origin with a path",
      () => ["where-now", "--subscribe-key", "demo", "--origin", "http://x/y"],
      1,
      /PubNubConfig\.origin/
    ],
    [
      "an https origin with --insecure",
      () => ["where-now", "--subscribe-key", "demo", "--origin", "https://x", "--insecure"],
      2,
      /--insecure.*https/
    ],
    [
      "an unreachable origin",
      () => ["where-now", "--subscribe-key", "demo", "--origin", "127.0.0.1:9", "--insecure", "--timeout", "3"],
      1,
      /^pn-presence: TransportError: .*ECONNREFUSED/m
    ],
    ["--wizard with no terminal", () => ["--wizard"], 2, /--wizard .*terminal/],
    ["emulator --port 70000", () => ["emulator", "--port", "70000"], 2, /--port must be 0–65535/],
    [
      "emulator --interval-seconds 0",
      () => ["emulator", "--interval-seconds", "0"],
      2,
      /--interval-seconds must be 1–3600/
    ],
    ["emulator --announce-max -1", () => ["emulator", "--announce-max", "-1"], 2, /--announce-max must be 0 or more/],
    [
      "emulator --subscribe-window 301",
      () => ["emulator", "--subscribe-window", "301"],
      2,
      /--subscribe-window must be 1–300/
    ]
  ]
  for (const [name, args, code, pattern] of cases) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const { at } = yield* emulator
        const r = yield* cli(args(at))
        assert.strictEqual(r.code, code, `${r.stdout}\n${r.stderr}`)
        assert.match(r.stdout + r.stderr, pattern)
        noStackTrace(r.stderr)
        if (code === 1 || /^pn-presence: /m.test(r.stderr)) {
          assert.strictEqual(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`)
        }
      }))
  }

  it.scopedLive("TLS to a plain-HTTP port says to use --insecure", () =>
    Effect.gen(function*() {
      const { origin } = yield* emulator
      const r = yield* cli(["where-now", "--subscribe-key", "demo", "--origin", origin])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, /--insecure/)
      assert.strictEqual(r.stderr.trim().split("\n").length, 1)
    }))

  it.effect("secrets never reach the output", () =>
    Effect.gen(function*() {
      const r = yield* cli([
        "here-now",
        "-c",
        "lobby",
        "--subscribe-key",
        "demo",
        "--secret-key",
        "sec-SEKRIT",
        "--auth-key",
        "AUTH-SEKRIT",
        "--origin",
        "127.0.0.1:9",
        "--insecure"
      ])
      assert.strictEqual(r.code, 1)
      assert.notInclude(r.stdout + r.stderr, "SEKRIT")
      assert.notInclude(r.stdout + r.stderr, "signature=")
    }))
})

describe("pn-presence emulator: what it cannot do, it says", () => {
  it.scopedLive("a port in use", () =>
    Effect.gen(function*() {
      const { origin } = yield* emulator
      const port = origin.split(":")[1]
      const r = yield* cli(["emulator", "--port", port])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, new RegExp(`^pn-presence: port ${port} is in use`, "m"))
    }))

  it.scopedLive("an address it cannot listen on", () =>
    Effect.gen(function*() {
      const r = yield* cli(["emulator", "--port", "0", "--host", "999.1.1.1"])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, /^pn-presence: cannot listen on 999\.1\.1\.1:0: \S+/m)
    }))
})

describe("pn-presence demo", () => {
  it.live("runs to completion on the embedded emulator", () =>
    Effect.gen(function*() {
      const r = yield* cli(["demo", "--fast"], {})
      assert.strictEqual(r.code, 0, r.stderr)
      const out = r.stdout
      for (
        const expected of [
          "embedded emulator",
          "→ alice joined lobby (1 here)",
          "→ dave joined kitchen",
          "~ bob in lobby is now {\"typing\":true}",
          "← alice left lobby",
          "✗ carol timed out of kitchen",
          "bob is in: kitchen, lobby",
          "4 present in 2 channels",
          "← dave left kitchen (0 here)",
          "✓ demo finished"
        ]
      ) assert.include(out, expected)
      // events come in the order they happened
      assert.isBelow(out.indexOf("alice joined"), out.indexOf("alice left"))
      assert.isBelow(out.indexOf("carol joined"), out.indexOf("carol timed out"))
      assert.notInclude(out, "carol left", "carol vanished without a leave")
      assert.strictEqual(r.stderr, "")
    }))
})
