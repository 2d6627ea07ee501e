/**
 * Type-checks every JSDoc `@example` in the public modules: extracts them into
 * `.examples/` (git-ignored) and runs tsc over them with the package name mapped to `src/`.
 * Part of `npm test`.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = new URL("..", import.meta.url).pathname
const out = join(root, ".examples")

const files = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === "internal" || name === "bin" ? [] : files(path)
    return path.endsWith(".ts") ? [path] : []
  })

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
let count = 0
for (const file of files(join(root, "src"))) {
  const text = readFileSync(file, "utf8")
  for (const comment of text.match(/\/\*\*[\s\S]*?\*\//g) ?? []) {
    const lines = comment.split("\n").filter((l) => !/^\s*\*\/\s*$/.test(l))
      .map((l) => l.replace(/^\s*\*( |$)/, "").replace(/^\s*\/\*\*\s?/, ""))
    let current: Array<string> | undefined
    const flush = () => {
      if (current === undefined) return
      const name = `${relative(join(root, "src"), file).replace(/[/.]/g, "_")}_${count++}.ts`
      writeFileSync(join(out, name), `// from ${relative(root, file)}\nexport {}\n${current.join("\n")}\n`)
      current = undefined
    }
    for (const line of lines) {
      if (line.startsWith("@example")) {
        flush()
        current = []
      } else if (line.startsWith("@") || line.startsWith("*/")) {
        flush()
      } else if (current !== undefined) {
        current.push(line)
      }
    }
    flush()
  }
}
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify(
    { extends: "../tsconfig.json", compilerOptions: { noUnusedLocals: false }, include: ["./*.ts"] },
    null,
    2
  )
)
try {
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(out, "tsconfig.json"), "--noEmit"], {
    stdio: "inherit"
  })
  console.log(`${count} JSDoc examples type-check`)
} catch {
  console.error(`JSDoc examples do not type-check (see .examples/)`)
  process.exit(1)
}
