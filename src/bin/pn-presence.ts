#!/usr/bin/env node
/**
 * The `pn-presence` command.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { emulatorCommand } from "./emulator.js"

const root = Command.make("pn-presence").pipe(
  Command.withDescription(
    "PubNub Presence from the terminal: here-now, where-now, state, heartbeat, leave, emulator, demo"
  ),
  Command.withSubcommands([emulatorCommand])
)

const cli = Command.run(root, { name: "pn-presence", version: "0.1.0" })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
