import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { root } from "./util/spawn.js"

describe("process lifetime", () => {
  it("a one-shot program exits as soon as it is done (no SDK timer keeps it alive)", () => {
    const started = Date.now()
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/fixtures/one-shot.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000
    })
    assert.strictEqual(r.status, 0, r.stderr)
    assert.strictEqual(r.stdout.trim(), "done")
    // the request timeout is 10 s: a lingering deadline timer would hold the process that long
    assert.isBelow(Date.now() - started, 8_000)
  })
})
