// The README's first example runs as written: offline, on the embedded emulator, and exits.
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { root, runNode } from "../../test/util/spawn.js"

describe("the README's usage example", () => {
  it("is this file, word for word", () => {
    const readme = readFileSync(`${root}/README.md`, "utf8")
    const block = /## Usage[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    const file = readFileSync(`${root}/docs/examples/readme.ts`, "utf8").split("\n").slice(1).join("\n")
    assert.strictEqual(block?.trim(), file.trim())
  })

  it("runs as-is, offline, and ends", async () => {
    const r = await runNode(["--import", "tsx", "docs/examples/readme.ts"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /alice is in the lobby: typing/)
  })
})
