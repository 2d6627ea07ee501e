#!/usr/bin/env node
/**
 * The `pn-presence` bin. The CLI needs the package's optional peers (`@effect/cli`,
 * `@effect/platform-node`, `undici`): when one is missing it says so in one line and exits 2,
 * instead of a module-resolution stack trace.
 */
const PEERS = "@effect/cli@^0.77 @effect/platform-node@^0.108 undici@^7"

const missingPackage = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null || !("code" in error) || !("message" in error)) return undefined
  if (error.code !== "ERR_MODULE_NOT_FOUND" || typeof error.message !== "string") return undefined
  return /Cannot find (?:package|module) '([^']+)'/.exec(error.message)?.[1]
}

try {
  const { run } = await import("./run.js")
  run(process.argv.slice(2))
} catch (error) {
  const pkg = missingPackage(error)
  if (pkg === undefined || pkg.startsWith(".") || pkg.startsWith("/")) throw error
  process.stderr.write(`pn-presence: the CLI needs ${pkg}, which is not installed: npm install ${PEERS}\n`)
  process.exit(2)
}
