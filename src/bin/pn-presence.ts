#!/usr/bin/env node
/**
 * The `pn-presence` command. Exit codes: 0 success, 2 bad usage, 1 a failed presence call — the
 * failure printed as one line naming what failed and why (no stack trace, no secret).
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { PresenceError } from "../index.js"
import { networkCommands } from "./commands.js"
import { UsageError } from "./connection.js"
import { demoCommand } from "./demo.js"
import { emulatorCommand } from "./emulator.js"

const root = Command.make("pn-presence").pipe(
  Command.withDescription(
    "PubNub Presence from the terminal: here-now, where-now, state, heartbeat, leave — and a local emulator and demo"
  ),
  Command.withSubcommands([...networkCommands, emulatorCommand, demoCommand])
)

const cli = Command.run(root, { name: "pn-presence", version: "0.1.0" })

const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_INTERRUPTED = 130

const describe = (error: unknown): { readonly code: number; readonly line: string | undefined } => {
  // the argument parser has already printed what was wrong, with help
  if (ValidationError.isValidationError(error)) return { code: EXIT_USAGE, line: undefined }
  if (PresenceError.isPresenceError(error)) return { code: EXIT_FAILED, line: `${error._tag}: ${error.message}` }
  if (error instanceof UsageError) return { code: EXIT_USAGE, line: error.message }
  if (error instanceof Error) return { code: EXIT_FAILED, line: error.message }
  return { code: EXIT_FAILED, line: String(error) }
}

const program = cli(process.argv).pipe(
  Effect.as(EXIT_OK),
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.succeed(EXIT_INTERRUPTED)
    const failure = Cause.failureOption(cause)
    const { code, line } = Option.isSome(failure)
      ? describe(failure.value)
      : { code: EXIT_FAILED, line: `internal error: ${Cause.pretty(cause).split("\n")[0]}` }
    return line === undefined ? Effect.succeed(code) : Effect.as(Console.error(`pn-presence: ${line}`), code)
  }),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // Ctrl-C / SIGTERM interrupt the program: a clean stop, reported as 130 (128 + SIGINT)
  teardown: (exit, onExit) =>
    onExit(
      Exit.isSuccess(exit) && typeof exit.value === "number"
        ? exit.value
        : Exit.isInterrupted(exit)
        ? EXIT_INTERRUPTED
        : EXIT_FAILED
    )
})
