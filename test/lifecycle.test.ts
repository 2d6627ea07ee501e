import { assert, describe, it } from "@effect/vitest"
import { runNode } from "./util/spawn.js"

describe("process lifetime", () => {
  it("a one-shot program exits when it is done (no SDK timer keeps it alive)", async () => {
    // The fixture's request timeout is an hour: a lingering deadline timer would hold the process
    // until runNode's guard kills it and rejects. Exiting at all is the assertion, not how fast.
    const r = await runNode(["--import", "tsx", "test/fixtures/one-shot.ts"], {}, 60_000)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.signal, null)
    assert.strictEqual(r.stdout.trim(), "done")
  })
})
