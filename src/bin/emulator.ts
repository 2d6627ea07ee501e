/**
 * `pn-presence emulator`: the presence emulator on a socket until SIGINT / SIGTERM — or until the
 * process that started it is gone (`npm run emulator` does not pass a kill on to its child).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { NodeEmulator } from "../node/index.js"
import { UsageError } from "./connection.js"

const DEFAULT_PORT = 8090
const DEFAULT_HOST = "127.0.0.1"

export const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDefault(DEFAULT_PORT),
  Options.withDescription(`TCP port to listen on, 0–65535 (0 picks a free one); default ${DEFAULT_PORT}`)
)
export const host = Options.text("host").pipe(
  Options.withDefault(DEFAULT_HOST),
  Options.withDescription(`address to listen on; default ${DEFAULT_HOST} (this machine only)`)
)
const keys = Options.text("key").pipe(
  Options.repeated,
  Options.withDescription("accept only this subscribe key (repeatable); others get 400 Invalid Subscribe Key")
)
const secretKey = Options.text("secret-key").pipe(
  Options.optional,
  Options.withDescription("verify v2 request signatures with this secret key")
)
const publishKey = Options.text("publish-key").pipe(
  Options.optional,
  Options.withDescription("the publish key clients sign with")
)
const adminToken = Options.redacted("admin-token").pipe(
  Options.optional,
  Options.withDescription(
    "require `Authorization: Bearer <token>` on the admin API (needed when --host is not a loopback address)"
  )
)
const noAdmin = Options.boolean("no-admin").pipe(Options.withDescription("switch the admin API (/__emulator/…) off"))
const cacheSeconds = Options.integer("cache-seconds").pipe(
  Options.withDefault(0),
  Options.withDescription("cache here-now answers for N seconds (PubNub uses 3); 0 = off")
)

const announceMax = Options.integer("announce-max").pipe(
  Options.withDefault(20),
  Options.withDescription(
    "above this many occupants a channel sends interval events instead of each join/leave; default 20"
  )
)
const intervalSeconds = Options.integer("interval-seconds").pipe(
  Options.withDefault(10),
  Options.withDescription("seconds between interval events, 1–3600; default 10")
)
const noPresenceDeltas = Options.boolean("no-presence-deltas").pipe(
  Options.withDescription("interval events carry the occupancy only, without who joined, left or timed out")
)
const windowSeconds = Options.integer("subscribe-window").pipe(
  Options.withDefault(280),
  Options.withDescription("seconds a subscribe poll is held when nothing happens, 1–300; default 280")
)

/** The first option out of range, as a usage error. */
const outOfRange = (o: {
  readonly port: number
  readonly announceMax: number
  readonly intervalSeconds: number
  readonly windowSeconds: number
}): string | undefined =>
  o.port < 0 || o.port > 65535
    ? `--port must be 0–65535, not ${o.port}`
    : o.announceMax < 0
    ? `--announce-max must be 0 or more, not ${o.announceMax}`
    : o.intervalSeconds < 1 || o.intervalSeconds > 3600
    ? `--interval-seconds must be 1–3600, not ${o.intervalSeconds}`
    : o.windowSeconds < 1 || o.windowSeconds > 300
    ? `--subscribe-window must be 1–300, not ${o.windowSeconds}`
    : undefined

const isLoopback = (h: string) => /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/.test(h)

/** What a failure to listen means, in one line. */
const listenFailure = (cause: unknown, where: { readonly host: string; readonly port: number }): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  if (code === "EADDRINUSE") return `port ${where.port} is in use (pick another with --port, or 0 for a free one)`
  if (code === "EACCES") return `not allowed to listen on port ${where.port} (ports below 1024 need privileges)`
  const detail = code.length > 0 ? code : cause instanceof Error ? cause.message : String(cause)
  return `cannot listen on ${where.host}:${where.port}: ${detail}`
}

/**
 * The process that started this one, as it was when this one started: read before anything is
 * printed, since whoever reads "listening on …" may end that process at once (and then the parent
 * read later would already be its successor).
 */
const startedBy = process.ppid

/** Ends when the process that started this one is gone (its parent becomes another process). */
const parentGone = Effect.repeat(
  Effect.sync(() => process.ppid !== startedBy),
  { schedule: Schedule.spaced("1 second"), until: (gone) => gone }
)

export const emulatorCommand = Command.make(
  "emulator",
  {
    port,
    host,
    keys,
    secretKey,
    publishKey,
    cacheSeconds,
    adminToken,
    noAdmin,
    announceMax,
    intervalSeconds,
    noPresenceDeltas,
    windowSeconds
  },
  (o) =>
    Effect.gen(function*() {
      const refused = outOfRange(o)
      if (refused !== undefined) return yield* new UsageError({ message: refused })
      const layer = NodeEmulator.layer({
        port: o.port,
        host: o.host,
        keys: o.keys.length > 0 ? o.keys : undefined,
        secretKey: Option.getOrUndefined(o.secretKey),
        publishKey: Option.getOrUndefined(o.publishKey),
        hereNowCacheSeconds: o.cacheSeconds,
        presence: {
          announceMax: o.announceMax,
          intervalSeconds: o.intervalSeconds,
          presenceDeltas: !o.noPresenceDeltas
        },
        subscribeWindowSeconds: o.windowSeconds,
        admin: o.noAdmin ? false : Option.match(o.adminToken, { onNone: () => true, onSome: (token) => ({ token }) })
      })
      yield* Effect.gen(function*() {
        const { origin } = yield* NodeEmulator.address
        yield* Console.log(`PubNub presence emulator listening on http://${origin}`)
        yield* Console.log(`  SDK:      PubNubConfig.layer({ origin: "http://${origin}" })`)
        yield* Console.log(`  official: new PubNub({ origin: "${origin}", ssl: false, ... })`)
        yield* Console.log(
          o.noAdmin
            ? "  admin:    off (--no-admin)   (Ctrl-C to stop)"
            : Option.isNone(o.adminToken) && !isLoopback(o.host)
            ? "  admin:    off: listening beyond loopback needs --admin-token   (Ctrl-C to stop)"
            : `  admin:    http://${origin}/__emulator/state${
              Option.isSome(o.adminToken) ? " with Authorization: Bearer <token>" : ""
            }   (Ctrl-C to stop)`
        )
        yield* Effect.addFinalizer(() => Console.log("emulator stopped"))
        yield* parentGone
      }).pipe(
        Effect.provide(layer),
        Effect.catchTag("ServeError", (e) => Effect.fail(new Error(listenFailure(e.cause, o)))),
        Effect.scoped
      )
    })
).pipe(Command.withDescription("Run the local PubNub presence emulator until interrupted"))
