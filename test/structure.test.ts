/**
 * The shape of the code, checked: no value-level import cycles, no internal type in a public
 * module's declarations, no function in src longer than ~80 lines, every error class in the one
 * union, and library code that stays platform-neutral.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import ts from "typescript"
import * as PresenceError from "../src/PresenceError.js"
import { root } from "./util/spawn.js"

const src = join(root, "src")

const files = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : []
  })

const all = files(src)
const parse = (file: string) => ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)

/** The modules a file imports for their values (`import type` and `export type` do not count). */
const valueImports = (file: string): Array<string> => {
  const out: Array<string> = []
  for (const s of parse(file).statements) {
    if (ts.isImportDeclaration(s)) {
      const clause = s.importClause
      if (clause?.isTypeOnly === true) continue
      const named = clause?.namedBindings
      const allTypes = clause !== undefined && clause.name === undefined && named !== undefined &&
        ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)
      if (allTypes) continue
    } else if (!(ts.isExportDeclaration(s) && !s.isTypeOnly && s.moduleSpecifier !== undefined)) continue
    const spec = (s.moduleSpecifier as ts.StringLiteral).text
    if (spec.startsWith(".")) out.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")))
  }
  return out
}

describe("the code's structure", () => {
  it("has no value-level import cycle", () => {
    const graph = new Map(all.map((f) => [f, valueImports(f)]))
    const state = new Map<string, "visiting" | "done">()
    const cycles: Array<string> = []
    const visit = (f: string, path: Array<string>) => {
      if (state.get(f) === "done") return
      if (state.get(f) === "visiting") {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(src, p)).join(" → "))
        return
      }
      state.set(f, "visiting")
      for (const g of graph.get(f) ?? []) visit(g, [...path, f])
      state.set(f, "done")
    }
    for (const f of all) visit(f, [])
    assert.deepStrictEqual(cycles, [])
  })

  it("public modules' declarations name no internal type", () => {
    const publicFiles = all.filter((f) => !f.includes(`${src}/internal/`) && !f.includes(`${src}/bin/`))
    const leaks: Array<string> = []
    const host = ts.createCompilerHost({ declaration: true, emitDeclarationOnly: true })
    const program = ts.createProgram(publicFiles, {
      declaration: true,
      emitDeclarationOnly: true,
      strict: true,
      exactOptionalPropertyTypes: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: ["node"]
    }, host)
    for (const file of publicFiles) {
      program.emit(
        program.getSourceFile(file),
        (name, text) => {
          if (!name.endsWith(".d.ts")) return
          for (const m of text.matchAll(/(?:from|import\()\s*"([^"]*internal\/[^"]*)"/g)) {
            leaks.push(`${relative(src, file)}: ${m[1]}`)
          }
        },
        undefined,
        true
      )
    }
    assert.deepStrictEqual(leaks, [])
  })

  it("has no function longer than 80 lines", () => {
    const long: Array<string> = []
    for (const file of all) {
      const sf = parse(file)
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
          const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line
          const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line
          if (end - start + 1 > 80) long.push(`${relative(src, file)}:${start + 1} (${end - start + 1} lines)`)
        }
        ts.forEachChild(node, visit)
      }
      visit(sf)
    }
    assert.deepStrictEqual(long, [])
  })

  it("one error union: every error class is a member, and isRetryable agrees with the docs' table", () => {
    const members = PresenceError.PresenceError.members.map((m) => m.identifier)
    const classes = Object.entries(PresenceError).filter(([name]) =>
      /^[A-Z]\w*Error$/.test(name) && name !== "PresenceError"
    )
    assert.deepStrictEqual([...members].sort(), classes.map(([name]) => name).sort())
    const retryable = members.filter((tag) => PresenceError.isRetryable({ _tag: tag }))
    assert.deepStrictEqual(retryable.sort(), [
      "RateLimitedError",
      "RequestTimeoutError",
      "ServerError",
      "TransportError"
    ])
  })

  it("library code stays platform-neutral", () => {
    const library = all.filter((f) => !f.includes(`${src}/node/`) && !f.includes(`${src}/bin/`))
    const offending = library.filter((f) => /from "(node:|@effect\/platform-node|undici)/.test(readFileSync(f, "utf8")))
    assert.deepStrictEqual(offending.map((f) => relative(src, f)), [])
  })
})
