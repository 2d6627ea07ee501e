/**
 * `pn-presence emulator`: the presence emulator on a socket until SIGINT / SIGTERM.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { NodeEmulator } from "../node/index.js"

export const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDefault(8090),
  Options.withDescription("TCP port to listen on (0 picks a free one)")
)
export const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("address to listen on")
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

export const emulatorCommand = Command.make(
  "emulator",
  { port, host, keys, secretKey, publishKey, cacheSeconds, adminToken, noAdmin },
  (o) =>
    Effect.gen(function*() {
      if (o.port < 0 || o.port > 65535) return yield* Effect.fail(new Error(`--port must be 0..65535, not ${o.port}`))
      const layer = NodeEmulator.layer({
        port: o.port,
        host: o.host,
        keys: o.keys.length > 0 ? o.keys : undefined,
        secretKey: Option.getOrUndefined(o.secretKey),
        publishKey: Option.getOrUndefined(o.publishKey),
        hereNowCacheSeconds: o.cacheSeconds,
        admin: o.noAdmin ? false : Option.match(o.adminToken, { onNone: () => true, onSome: (token) => ({ token }) })
      })
      yield* Effect.gen(function*() {
        const { origin } = yield* NodeEmulator.address
        yield* Console.log(`PubNub presence emulator listening on http://${origin}`)
        yield* Console.log(`  SDK:      PubNubConfig.layer({ origin: "${origin}", secure: false })`)
        yield* Console.log(`  official: new PubNub({ origin: "${origin}", ssl: false, ... })`)
        const loopback = /^(127\.|localhost$|::1$|\[::1\])/.test(o.host)
        yield* Console.log(
          o.noAdmin
            ? "  admin:    off (--no-admin)   (Ctrl-C to stop)"
            : Option.isNone(o.adminToken) && !loopback
            ? "  admin:    off: listening beyond loopback needs --admin-token   (Ctrl-C to stop)"
            : `  admin:    http://${origin}/__emulator/state${
              Option.isSome(o.adminToken) ? " with Authorization: Bearer <token>" : ""
            }   (Ctrl-C to stop)`
        )
        yield* Effect.addFinalizer(() => Console.log("emulator stopped"))
        return yield* Effect.never
      }).pipe(Effect.provide(layer), Effect.scoped)
    })
).pipe(Command.withDescription("Run the local PubNub presence emulator until interrupted"))
