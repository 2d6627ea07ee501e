/**
 * Runs `pn-presence` in this process — the same `main` the bin runs, with its output captured —
 * so a CLI test costs milliseconds instead of a Node start-up. The environment is exactly `env`
 * (never the test runner's own PUBNUB_* variables).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { ConfigProvider, Effect } from "effect"
import { main, shapedConsole } from "../../src/bin/cli.js"

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const cli = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: {
    readonly interactive?: boolean
    readonly colour?: boolean
    /** stdout is a terminal */
    readonly terminal?: boolean
    /** sees stdout as it is written (for commands that run until interrupted) */
    readonly onOutput?: (text: string) => void
  } = {}
): Effect.Effect<CliResult> =>
  Effect.suspend(() => {
    let stdout = ""
    let stderr = ""
    const console = shapedConsole(args, options.colour ?? false, {
      out: (text) => {
        stdout += text
        options.onOutput?.(text)
      },
      err: (text) => (stderr += text)
    })
    return main(args, { interactive: options.interactive ?? false, terminal: options.terminal ?? false }).pipe(
      Effect.withConsole(console),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.provide(NodeContext.layer),
      Effect.map((code) => ({ code, stdout, stderr }))
    )
  })
