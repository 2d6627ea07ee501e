import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // the JSON report is what .ci/run reads its "N passed, N failed" line from
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]]
  }
})
