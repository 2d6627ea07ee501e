import { assert, describe, it } from "@effect/vitest"
import { runNode } from "./util/spawn.js"

describe("process lifetime", () => {
  it("a one-shot program exits as soon as it is done (no SDK timer keeps it alive)", async () => {
    const started = Date.now()
    const r = await runNode(["--import", "tsx", "test/fixtures/one-shot.ts"], {}, 30_000)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout.trim(), "done")
    // the request timeout is 10 s: a lingering deadline timer would hold the process that long
    assert.isBelow(Date.now() - started, 8_000)
  })
})
