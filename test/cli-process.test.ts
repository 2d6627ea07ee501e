// What only a real `pn-presence` process shows: signals, exit codes, a missing optional peer,
// and `npm run emulator` stopped by killing npm. Everything else runs in-process (cli.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { root, runCli, runNode, startCli } from "./util/spawn.js"

const at = (origin: string) => ["--subscribe-key", "demo", "--origin", origin, "--insecure"]

/** Waits (polling, up to 30 s) until `done()`. */
const until = async (done: () => boolean, why: () => string) => {
  const end = Date.now() + 30_000
  while (!done()) {
    if (Date.now() > end) throw new Error(why())
    await new Promise((r) => setTimeout(r, 50))
  }
}

const closed = async (origin: string) => fetch(`http://${origin}/__emulator/state`).then(() => false, () => true)

describe("pn-presence emulator (standalone)", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`prints its URL, serves, and stops cleanly on ${signal}`, async () => {
      const server = await startCli(["emulator", "--port", "0"], /listening on http:\/\/(127\.0\.0\.1:\d+)/)
      const origin = server.match[1]
      const hb = await fetch(`http://${origin}/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=u1`)
      assert.strictEqual(hb.status, 200)
      assert.include(hb.headers.get("content-type") ?? "", "javascript")
      const state = await fetch(`http://${origin}/__emulator/state`).then((r) => r.json())
      assert.deepStrictEqual(Object.keys(state.keys.demo.channels.lobby.occupants), ["u1"])
      const done = await server.stop(signal)
      assert.include(done.stdout, "emulator stopped")
      assert.strictEqual(done.stderr, "")
      assert.oneOf(done.code, [0, 130, 143])
      assert.isTrue(await closed(origin), "still listening after " + signal)
    })
  }

  it("`npm run emulator` stops when npm is killed (npm does not pass the signal on)", async () => {
    const npm = spawn("npm", ["run", "--silent", "emulator", "--", "--port", "0"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const origin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready: ${out}`)), 30_000)
      npm.stdout.on("data", (d) => {
        out += d
        const m = /listening on http:\/\/(\S+)/.exec(out)
        if (m !== null) {
          clearTimeout(timer)
          resolve(m[1])
        }
      })
    })
    npm.kill("SIGKILL")
    const until = Date.now() + 15_000
    while (!(await closed(origin)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    assert.isTrue(await closed(origin), "the emulator outlived npm")
  })
})

describe("pn-presence watch", () => {
  it("prints events as they happen (JSON with --json), with the emulator's interval flags; Ctrl-C exits 130", async () => {
    const server = await startCli(
      ["emulator", "--port", "0", "--announce-max", "1", "--interval-seconds", "1"],
      /listening on http:\/\/(127\.0\.0\.1:\d+)/
    )
    const origin = server.match[1]
    try {
      const watch = spawn(
        process.execPath,
        ["--import", "tsx", "src/bin/pn-presence.ts", "watch", "-c", "lobby", "--json", ...at(origin)],
        { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] }
      )
      let out = ""
      let err = ""
      watch.stdout.on("data", (d) => (out += d))
      watch.stderr.on("data", (d) => (err += d))
      const exited = new Promise<number | null>((resolve) => watch.on("exit", (code) => resolve(code)))
      await until(() => err.includes("watching"), () => `watch never started: ${err}`)
      const hb = (uuid: string) =>
        fetch(`http://${origin}/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=${uuid}`)
      await hb("u1")
      await hb("u2") // above --announce-max 1: in the next interval event
      await until(() => out.includes("\"Interval\""), () => `no interval event: ${out}`)
      const lines = out.trim().split("\n").map((l) => JSON.parse(l))
      assert.deepInclude(lines[0], { type: "Join", channel: "lobby", uuid: "u1", occupancy: 1 })
      assert.deepInclude(lines[1], { type: "Interval", channel: "lobby", occupancy: 2, joined: ["u2"] })
      watch.kill("SIGINT")
      assert.strictEqual(await exited, 130)
      const state = await fetch(`http://${origin}/__emulator/state`).then((r) => r.json())
      assert.strictEqual(state.holding, 0, "the watcher's poll ended with it")
      assert.sameMembers(
        Object.keys(state.keys.demo.channels.lobby.occupants),
        ["u1", "u2"],
        "watching made nobody present"
      )
    } finally {
      await server.stop("SIGTERM")
    }
  })
})

describe("the bin", () => {
  it("a failed call exits 1 with one line; bad usage exits 2", async () => {
    const failed = await runCli(["where-now", "--subscribe-key", "demo", "--origin", "127.0.0.1:9", "--insecure"])
    assert.strictEqual(failed.code, 1)
    assert.strictEqual(failed.stderr.trim().split("\n").length, 1)
    const usage = await runCli(["here-now", "-c", ""])
    assert.strictEqual(usage.code, 2)
  })

  it("without an optional peer it says what to install, in one line, and exits 2", async () => {
    const r = await runNode([
      "--import",
      "tsx",
      "--import",
      "./test/fixtures/hide-peer.mjs",
      "src/bin/pn-presence.ts",
      "--help"
    ])
    assert.strictEqual(r.code, 2, r.stderr)
    assert.match(
      r.stderr.trim(),
      /^pn-presence: the CLI needs @effect\/cli, which is not installed: npm install .*@effect\/cli@/
    )
    assert.strictEqual(r.stderr.trim().split("\n").length, 1)
    assert.notMatch(r.stderr, /^\s+at /m)
  })
})
