/**
 * Runs `pn-presence` in this process: Node's file system, path and terminal for the command
 * parser, stdout/stderr shaped for where they go (no colour codes unless a terminal wants them),
 * and the exit code as the process's.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { EXIT_FAILED, EXIT_INTERRUPTED, main, shapedConsole } from "./cli.js"

const colour = (): boolean => {
  const env = process.env
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0"
  return process.stdout.isTTY === true
}

export const run = (args: ReadonlyArray<string>): void => {
  // a reader that goes away (a closed pipe) is not a crash: what is left to print goes nowhere
  process.stdout.on("error", () => undefined)
  process.stderr.on("error", () => undefined)
  const console = shapedConsole(args, colour(), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text)
  })
  NodeRuntime.runMain(
    main(args, { interactive: process.stdin.isTTY === true, terminal: process.stdout.isTTY === true }).pipe(
      Effect.withConsole(console),
      Effect.provide(NodeContext.layer)
    ),
    {
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
    }
  )
}
