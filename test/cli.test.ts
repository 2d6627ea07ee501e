// pn-presence end to end: a real subprocess against the socket emulator (spawned once for this file).
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { runCli, startCli } from "./util/spawn.js"

let origin = ""
let stop: (() => Promise<unknown>) | undefined

beforeAll(async () => {
  const server = await startCli(["emulator", "--port", "0"], /listening on http:\/\/(127\.0\.0\.1:\d+)/)
  origin = server.match[1]
  stop = () => server.stop("SIGTERM")
})
afterAll(async () => {
  await stop?.()
})

const at = (...args: Array<string>) => [...args, "--subscribe-key", "demo", "--origin", origin, "--insecure"]

const noStackTrace = (text: string) => {
  assert.notMatch(text, /^\s+at /m, "no stack trace")
  assert.notInclude(text, "node_modules")
}

describe("pn-presence commands against the emulator", () => {
  it("heartbeat, here-now (table and JSON), where-now, state set/get, leave", async () => {
    const hb = await runCli(
      at(
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
      )
    )
    assert.strictEqual(hb.code, 0, hb.stderr)
    assert.include(hb.stdout, "present in lobby, kitchen for 60 s")
    await runCli(at("heartbeat", "-c", "lobby", "--user-id", "bob"))

    const table = await runCli(at("here-now", "-c", "lobby", "--state"))
    assert.strictEqual(table.code, 0, table.stderr)
    assert.match(table.stdout, /lobby\s+2\s+alice\s+\{"mood":"ok"\}/)
    assert.match(table.stdout, /^\s+bob\s*$/m)
    assert.include(table.stdout, "2 present in 1 channel")

    const json = await runCli(at("here-now", "--json"))
    assert.strictEqual(json.code, 0, json.stderr)
    const parsed = JSON.parse(json.stdout)
    assert.strictEqual(parsed.totalOccupancy, 3)
    assert.deepStrictEqual(parsed.channels.lobby.occupants.map((o: { uuid: string }) => o.uuid), ["alice", "bob"])

    const counts = await runCli(at("here-now", "-c", "lobby", "-c", "kitchen", "--counts", "--json"))
    assert.deepStrictEqual(JSON.parse(counts.stdout).channels.kitchen, { occupancy: 1, hasMore: false, occupants: [] })

    const where = await runCli(at("where-now", "--uuid", "alice"))
    assert.strictEqual(where.stdout.trim(), "alice is in: lobby, kitchen")

    const set = await runCli(at("state", "set", "-c", "lobby", "--state", "{\"mood\":\"busy\"}", "--user-id", "alice"))
    assert.strictEqual(set.code, 0, set.stderr)
    const get = await runCli(at("state", "get", "-c", "lobby", "-c", "kitchen", "--uuid", "alice", "--json"))
    assert.deepStrictEqual(JSON.parse(get.stdout).channels, { lobby: { mood: "busy" }, kitchen: { mood: "ok" } })

    const leave = await runCli(at("leave", "-c", "lobby", "--user-id", "alice"))
    assert.strictEqual(leave.code, 0, leave.stderr)
    assert.include(leave.stdout, "left lobby")
    const after = await runCli(at("where-now", "--uuid", "alice", "--json"))
    assert.deepStrictEqual(JSON.parse(after.stdout), { uuid: "alice", channels: ["kitchen"] })
  })

  it("keys from the PUBNUB_* environment", async () => {
    await runCli(at("heartbeat", "-c", "env-room", "--user-id", "erin"))
    const r = await runCli(["where-now", "--origin", origin, "--insecure"], {
      PUBNUB_SUBSCRIBE_KEY: "demo",
      PUBNUB_USER_ID: "erin"
    })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout.trim(), "erin is in: env-room")
  })

  it("--help on every command", async () => {
    const commands = [
      [],
      ["here-now"],
      ["where-now"],
      ["state"],
      ["state", "get"],
      ["state", "set"],
      ["heartbeat"],
      [
        "leave"
      ],
      ["emulator"],
      ["demo"]
    ]
    const results = await Promise.all(commands.map((c) => runCli([...c, "--help"])))
    results.forEach((r, i) => {
      assert.strictEqual(r.code, 0, `${commands[i].join(" ")}: ${r.stderr}`)
      assert.include(r.stdout, "USAGE", commands[i].join(" "))
    })
    assert.include(results[1].stdout, "--subscribe-key")
  })
})

describe("pn-presence bad input: one clear line, the right exit code", () => {
  const cases: ReadonlyArray<
    readonly [string, () => Array<string>, number, RegExp | undefined, Record<string, string>?]
  > = [
    ["unknown command", () => ["bogus"], 2, /Invalid subcommand/],
    ["unknown flag", () => at("here-now", "--bogus"), 2, /unknown argument: '--bogus'/],
    [
      "missing keys",
      () => ["here-now", "-c", "lobby"],
      2,
      /^pn-presence: no subscribe key: pass --subscribe-key or set PUBNUB_SUBSCRIBE_KEY$/m
    ],
    [
      "an invalid channel",
      () => at("here-now", "-c", "a,b"),
      1,
      /^pn-presence: InvalidArgumentError: Invalid channels: "a,b" must not contain ","$/m
    ],
    [
      "a heartbeat out of range",
      () => at("heartbeat", "-c", "x", "--heartbeat", "5"),
      1,
      /InvalidArgumentError: Invalid heartbeat/
    ],
    [
      "state that is not JSON",
      () => at("state", "set", "-c", "x", "--state", "nope"),
      2,
      /--state must be a JSON object/
    ],
    ["--state with --counts", () => at("here-now", "--state", "--counts"), 2, /cannot be combined/],
    ["leave with no channel", () => at("leave"), 1, /give at least one channel or channel group/],
    [
      "an unreachable origin",
      () => ["where-now", "--subscribe-key", "demo", "--origin", "127.0.0.1:9", "--insecure", "--timeout", "3"],
      1,
      /^pn-presence: TransportError: .*ECONNREFUSED/m
    ]
  ]
  for (const [name, args, code, pattern] of cases) {
    it(name, async () => {
      const r = await runCli(args())
      assert.strictEqual(r.code, code, `${r.stdout}\n${r.stderr}`)
      if (pattern !== undefined) assert.match(r.stdout + r.stderr, pattern)
      noStackTrace(r.stderr)
      if (code === 1) assert.strictEqual(r.stderr.trim().split("\n").length, 1, "one line")
    })
  }

  it("secrets never reach the output", async () => {
    const r = await runCli([
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
  })
})

describe("pn-presence demo", () => {
  it("runs to completion on the embedded emulator", async () => {
    const r = await runCli(["demo", "--fast"], { PUBNUB_SUBSCRIBE_KEY: "" })
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
  })
})
