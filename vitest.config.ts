import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    // doc examples import the package by name; resolve it to the sources (no build needed)
    alias: [
      { find: /^effect-pubnub-presence$/, replacement: src("index.ts") },
      { find: /^effect-pubnub-presence\/emulator$/, replacement: src("exports/emulator.ts") },
      { find: /^effect-pubnub-presence\/node$/, replacement: src("node/index.ts") },
      { find: /^effect-pubnub-presence\/undici$/, replacement: src("exports/undici.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "docs/examples/**/*.test.ts"],
    exclude: ["test/fixtures/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // the JSON report is what .ci/run reads its "N passed, N failed" line from
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]]
  }
})
