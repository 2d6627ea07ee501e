/**
 * The `pn-presence` command as a function from arguments to an exit code: the bin runs it in its
 * own process, the tests run it in theirs. Exit codes: 0 success, 2 bad usage, 1 a failed presence
 * call — the failure printed as one line naming what failed and why (no stack trace, no secret) —
 * and 130 when interrupted.
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { PresenceError } from "../index.js"
import { PLAIN_HTTP_HINT } from "../internal/request.js"
import { networkCommands } from "./commands.js"
import { UsageError } from "./connection.js"
import { demoCommand } from "./demo.js"
import { emulatorCommand } from "./emulator.js"
import { Screen } from "./format.js"

export const VERSION = "0.1.0"

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_INTERRUPTED = 130

const root = Command.make("pn-presence").pipe(
  Command.withDescription(
    "PubNub Presence from the terminal: here-now, where-now, state, heartbeat, leave, watch — and a local emulator and demo"
  ),
  Command.withSubcommands([...networkCommands, emulatorCommand, demoCommand])
)

const cli = Command.run(root, { name: "pn-presence", version: VERSION })

/** The command names, to tell a subcommand path from option values. */
const COMMANDS = new Set([
  "here-now",
  "where-now",
  "state",
  "get",
  "set",
  "heartbeat",
  "leave",
  "watch",
  "emulator",
  "demo"
])

/** The subcommand path the arguments name: `["state", "get"]`. */
export const commandPath = (args: ReadonlyArray<string>): Array<string> => {
  const path: Array<string> = []
  for (const a of args) {
    if (!COMMANDS.has(a)) break
    path.push(a)
  }
  return path
}

/**
 * `--log-level` is a built-in of the command parser that it reads only before the subcommand;
 * users put it anywhere. Moved to the front, it works anywhere.
 */
export const normalizeArgs = (args: ReadonlyArray<string>): Array<string> => {
  const front: Array<string> = []
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === "--log-level" && i + 1 < args.length) {
      front.push(a, args[i + 1])
      i++
    } else if (a.startsWith("--log-level=")) {
      front.push(a)
    } else {
      rest.push(a)
    }
  }
  return [...front, ...rest]
}

const NAME_FLAGS: ReadonlyMap<string, string> = new Map([
  ["-c", "-c/--channel needs a channel name"],
  ["--channel", "-c/--channel needs a channel name"],
  ["-g", "-g/--group needs a channel group name"],
  ["--group", "-g/--group needs a channel group name"]
])

/**
 * A `-c` or `-g` with an empty value, or none at all: the parser would drop it and the command
 * would run over everything (a whole-keyset here-now); it is a usage error instead.
 */
export const emptyName = (args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    const eq = a.indexOf("=")
    const flag = eq > 0 && a.startsWith("--") ? a.slice(0, eq) : a
    const problem = NAME_FLAGS.get(flag)
    if (problem === undefined) continue
    const value = eq > 0 && a.startsWith("--") ? a.slice(eq + 1) : args[i + 1]
    if (value === undefined) return `${problem} (none was given)`
    if (value.trim().length === 0) return `${problem} (it was empty)`
    if (eq < 0 && value.startsWith("-") && value.length > 1 && !/^-\d/.test(value)) {
      return `${problem} (got the flag ${value})`
    }
  }
  return undefined
}

const describe = (error: unknown): { readonly code: number; readonly line: string | undefined } => {
  // the argument parser has already printed what was wrong, with help
  if (ValidationError.isValidationError(error)) return { code: EXIT_USAGE, line: undefined }
  if (PresenceError.isPresenceError(error)) {
    // the SDK's advice names its option; on the command line the flag is what to use
    const line = error._tag === "TransportError" && error.reason === PLAIN_HTTP_HINT
      ? `TransportError: ${
        error.url.replace(/\?.*$/, "")
      }: the server does not speak TLS — for a plain-HTTP server (such as the emulator) add --insecure`
      : `${error._tag}: ${error.message}`
    return { code: EXIT_FAILED, line }
  }
  if (error instanceof UsageError) return { code: EXIT_USAGE, line: error.message }
  if (error instanceof Error) return { code: EXIT_FAILED, line: error.message }
  return { code: EXIT_FAILED, line: String(error) }
}

export interface Interaction {
  /** whether stdin is a terminal someone can answer prompts on */
  readonly interactive: boolean
  /** whether stdout is a terminal (a live table is redrawn in place) */
  readonly terminal?: boolean | undefined
}

/**
 * Runs `pn-presence` with `args` (without the node and script paths) to its exit code. Failures
 * are printed on the `Console`'s error stream as one line.
 */
export const main = (
  args: ReadonlyArray<string>,
  interaction: Interaction
): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
  const empty = emptyName(args)
  if (empty !== undefined) return Effect.as(Console.error(`pn-presence: ${empty}`), EXIT_USAGE)
  if (args.includes("--wizard") && !interaction.interactive) {
    return Effect.as(
      Console.error("pn-presence: --wizard asks questions on a terminal; stdin is not one"),
      EXIT_USAGE
    )
  }
  return cli(["node", "pn-presence", ...normalizeArgs(args)]).pipe(
    Effect.provideService(Screen, { terminal: interaction.terminal === true }),
    Effect.as(EXIT_OK),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(EXIT_INTERRUPTED)
      const failure = Cause.failureOption(cause)
      const { code, line } = Option.isSome(failure)
        ? describe(failure.value)
        : { code: EXIT_FAILED, line: `internal error: ${Cause.pretty(cause).split("\n")[0]}` }
      return line === undefined ? Effect.succeed(code) : Effect.as(Console.error(`pn-presence: ${line}`), code)
    })
  )
}

const ANSI = /\u001b\[[0-9;]*m/g

/**
 * The text the CLI prints, fixed for where it goes: ANSI colour codes removed unless `colour`,
 * and the usage line of a subcommand's help (`$ get …`) given its full path
 * (`$ pn-presence state get …`).
 */
export const shapeOutput = (text: string, args: ReadonlyArray<string>, colour: boolean): string => {
  let out = colour ? text : text.replace(ANSI, "")
  const path = commandPath(args)
  if (path.length > 0 && (args.includes("--help") || args.includes("-h"))) {
    const last = path[path.length - 1]
    out = out.replace(
      new RegExp(`^(\\$ )${last}\\b`, "m"),
      `$1pn-presence ${path.join(" ")}`
    )
  }
  return out
}

/** A `Console` that shapes every line (see {@link shapeOutput}) and writes it with `write`. */
export const shapedConsole = (
  args: ReadonlyArray<string>,
  colour: boolean,
  write: { readonly out: (text: string) => void; readonly err: (text: string) => void }
): Console.Console => {
  const line = (parts: ReadonlyArray<unknown>) =>
    shapeOutput(parts.map((p) => (typeof p === "string" ? p : String(p))).join(" "), args, colour)
  const unsafe: Console.UnsafeConsole = {
    ...globalThis.console,
    log: (...parts: ReadonlyArray<unknown>) => write.out(line(parts) + "\n"),
    info: (...parts: ReadonlyArray<unknown>) => write.out(line(parts) + "\n"),
    error: (...parts: ReadonlyArray<unknown>) => write.err(line(parts) + "\n"),
    warn: (...parts: ReadonlyArray<unknown>) => write.err(line(parts) + "\n")
  }
  return Effect.runSync(Effect.map(Console.consoleWith((c) => Effect.succeed(c)), (base): Console.Console => ({
    ...base,
    unsafe,
    log: (...parts) => Effect.sync(() => unsafe.log(...parts)),
    info: (...parts) => Effect.sync(() => unsafe.info(...parts)),
    error: (...parts) => Effect.sync(() => unsafe.error(...parts)),
    warn: (...parts) => Effect.sync(() => unsafe.warn(...parts))
  })))
}
