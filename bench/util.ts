/**
 * Benchmark helpers: the socket emulator in its own process (so the load generator and the
 * server do not share a core's event loop).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Keyset, PubNubConfig } from "../src/index.js"

export interface EmulatorProcess {
  readonly origin: string
  readonly stop: () => Promise<void>
}

const root = fileURLToPath(new URL("..", import.meta.url))

export const startEmulatorProcess = (args: ReadonlyArray<string> = []): Promise<EmulatorProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/bin/pn-presence.ts", "emulator", "--port", "0", ...args],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] }
    )
    let out = ""
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${out}`)), 30_000)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      const m = /listening on http:\/\/(\S+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve({
          origin: m[1],
          stop: () =>
            new Promise<void>((done) => {
              child.once("exit", () => done())
              child.kill("SIGTERM")
            })
        })
      }
    })
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code}: ${out}`)))
  })

/**
 * Writes a run's results as pretty JSON to `bench/results/runs/<file>` (not tracked: a run leaves
 * `git status` clean), and — only with `BENCH_RECORD=1` — to the tracked `bench/results/<file>`
 * that the docs quote.
 */
export const writeResults = (file: string, results: unknown): void => {
  const text = JSON.stringify(results, null, 2) + "\n"
  mkdirSync(new URL("./results/runs/", import.meta.url), { recursive: true })
  writeFileSync(new URL(`./results/runs/${file}`, import.meta.url), text)
  if (process.env.BENCH_RECORD === "1") {
    writeFileSync(new URL(`./results/${file}`, import.meta.url), text)
    console.log(`recorded in bench/results/${file}`)
  }
}

/** Runs a benchmark's `main`, exiting with 1 (and the error) if it fails. */
export const run = (main: () => Promise<void>): void => {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}

/** The SDK's services on `client`, aimed at the emulator at `origin` (plain http). */
export const sdkLayer = (
  client: Layer.Layer<HttpClient.HttpClient>,
  origin: string,
  keysets: Keyset.Options
): Layer.Layer<HttpClient.HttpClient | Keyset.KeysetService> =>
  Layer.mergeAll(client, Keyset.layer(keysets), PubNubConfig.layer({ origin, secure: false }))

/** A full garbage collection (three rounds, so weak references and finalizers settle). */
export const fullGc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g === undefined) throw new Error("run with --expose-gc")
  for (let i = 0; i < 3; i++) g()
}

/**
 * Waiting for lines of a child's stdout: `line(pattern)` resolves with the first line (seen so far
 * or to come) that matches, or fails after `timeoutMs` or when the child exits without one.
 */
export const lineReader = (
  child: ChildProcess,
  label: string,
  timeoutMs = 120_000
): (pattern: RegExp) => Promise<string> => {
  let out = ""
  const waiters: Array<() => void> = []
  const stdout = child.stdout
  if (stdout === null) throw new Error(`${label}: no stdout`)
  stdout.setEncoding("utf8")
  stdout.on("data", (d: string) => {
    out += d
    for (const w of waiters.splice(0)) w()
  })
  return (pattern) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${label}: no ${pattern} in ${timeoutMs / 1000} s: ${out.slice(0, 500)}`)),
        timeoutMs
      )
      const look = () => {
        const found = out.split("\n").find((l) => pattern.test(l))
        if (found !== undefined) {
          clearTimeout(timer)
          resolve(found)
        } else waiters.push(look)
      }
      child.once("exit", (code) => {
        if (out.split("\n").every((l) => !pattern.test(l))) {
          clearTimeout(timer)
          reject(new Error(`${label} exited with ${code}`))
        }
      })
      look()
    })
}

/** The `p`th percentile (0–100) of `values` (NaN for none). */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
