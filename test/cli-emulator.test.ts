import { assert, describe, it } from "@effect/vitest"
import { startCli } from "./util/spawn.js"

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
      await fetch(`http://${origin}/__emulator/state`).then(
        () => assert.fail("still listening after " + signal),
        () => undefined
      )
    })
  }
})
