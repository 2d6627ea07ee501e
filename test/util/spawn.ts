/**
 * Runs `pn-presence` as a subprocess (through tsx, as `npm run pn-presence` does).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))

export interface Done {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** `node` arguments that run the CLI from source. */
const CLI = ["--import", "tsx", "src/bin/pn-presence.ts"]

/** Runs `node` with `args` in the project root to completion. */
export const runNode = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  timeoutMs = 60_000
): Promise<Done> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`node ${args.join(" ")} timed out\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

/** Runs the CLI to completion. */
export const runCli = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  timeoutMs = 60_000
): Promise<Done> => runNode([...CLI, ...args], env, timeoutMs)

/** Starts a long-running CLI command and waits until its output matches `ready`. */
export const startCli = (args: ReadonlyArray<string>, ready: RegExp) =>
  new Promise<{ match: RegExpExecArray; output: () => string; stop: (signal: NodeJS.Signals) => Promise<Done> }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [...CLI, ...args], {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      let exited: Done | undefined
      const waiters: Array<(d: Done) => void> = []
      child.stderr.on("data", (d) => (stderr += d))
      const timer = setTimeout(() => reject(new Error(`not ready: ${stdout}\n${stderr}`)), 30_000)
      child.stdout.on("data", (d) => {
        stdout += d
        const match = ready.exec(stdout)
        if (match !== null) {
          clearTimeout(timer)
          resolve({
            match,
            output: () => stdout,
            stop: (signal) =>
              new Promise((done) => {
                if (exited !== undefined) return done(exited)
                waiters.push(done)
                child.kill(signal)
              })
          })
        }
      })
      child.on("exit", (code, signal) => {
        exited = { code, signal, stdout, stderr }
        clearTimeout(timer)
        for (const w of waiters) w(exited)
        if (ready.exec(stdout) === null) reject(new Error(`exited early (${code}): ${stdout}\n${stderr}`))
      })
    }
  )
