/**
 * Options every network command takes, and the layers they build: keys from flags or the
 * PUBNUB_* environment variables, `--origin` / `--insecure` for the emulator, `--json`.
 */
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { Keyset, PubNubConfig } from "../index.js"
import { UndiciHttpClient } from "../node/index.js"

/** Bad usage that the argument parser cannot see (missing keys, bad values): exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

const optionalText = (name: string, env: string, description: string) =>
  Options.text(name).pipe(
    Options.withFallbackConfig(Config.string(env)),
    Options.optional,
    Options.withDescription(`${description} (or ${env})`)
  )

const optionalSecret = (name: string, env: string, description: string) =>
  Options.redacted(name).pipe(
    Options.withFallbackConfig(Config.redacted(env)),
    Options.optional,
    Options.withDescription(`${description} (or ${env})`)
  )

export const connection = {
  subscribeKey: optionalText("subscribe-key", "PUBNUB_SUBSCRIBE_KEY", "subscribe key"),
  publishKey: optionalText("publish-key", "PUBNUB_PUBLISH_KEY", "publish key (used in signatures)"),
  secretKey: optionalSecret("secret-key", "PUBNUB_SECRET_KEY", "secret key: sign requests"),
  authKey: optionalSecret("auth-key", "PUBNUB_AUTH_KEY", "auth key or token"),
  userId: optionalText("user-id", "PUBNUB_USER_ID", "your user id; default pn-presence-cli"),
  origin: Options.text("origin").pipe(
    Options.optional,
    Options.withDescription(
      "host[:port] of the service, or http(s)://host[:port]; e.g. http://127.0.0.1:8090 for the emulator (default ps.pndsn.com)"
    )
  ),
  insecure: Options.boolean("insecure").pipe(Options.withDescription("use http instead of https (for the emulator)")),
  json: Options.boolean("json").pipe(Options.withDescription("print JSON instead of a table")),
  timeout: Options.integer("timeout").pipe(
    Options.withDefault(10),
    Options.withDescription("request timeout in seconds")
  )
}

export interface Connection {
  readonly subscribeKey: Option.Option<string>
  readonly publishKey: Option.Option<string>
  readonly secretKey: Option.Option<Redacted.Redacted>
  readonly authKey: Option.Option<Redacted.Redacted>
  readonly userId: Option.Option<string>
  readonly origin: Option.Option<string>
  readonly insecure: boolean
  readonly json: boolean
  readonly timeout: number
}

/** Every `-c` and `-g` value names something: an empty one is a usage error, not "everything". */
export const namesGiven = (
  channels: ReadonlyArray<string>,
  groups: ReadonlyArray<string>
): Effect.Effect<void, UsageError> =>
  channels.some((c) => c.length === 0)
    ? Effect.fail(new UsageError({ message: "-c/--channel needs a channel name (it was empty)" }))
    : groups.some((g) => g.length === 0)
    ? Effect.fail(new UsageError({ message: "-g/--group needs a channel group name (it was empty)" }))
    : Effect.void

/** The keyset, config and HTTP client a command runs with. */
export const layer = (c: Connection) =>
  Effect.gen(function*() {
    const subscribeKey = yield* Option.match(c.subscribeKey, {
      onNone: () =>
        Effect.fail(new UsageError({ message: "no subscribe key: pass --subscribe-key or set PUBNUB_SUBSCRIBE_KEY" })),
      onSome: Effect.succeed
    })
    if (c.timeout <= 0) return yield* new UsageError({ message: "--timeout must be a positive number of seconds" })
    if (c.insecure && Option.exists(c.origin, (o) => /^https:\/\//i.test(o))) {
      return yield* new UsageError({ message: "--insecure asks for http, but --origin says https://" })
    }
    const keyset = yield* Keyset.make({
      subscribeKey,
      userId: Option.getOrElse(c.userId, () => "pn-presence-cli"),
      ...Option.match(c.publishKey, { onNone: () => ({}), onSome: (publishKey) => ({ publishKey }) }),
      ...Option.match(c.secretKey, { onNone: () => ({}), onSome: (secretKey) => ({ secretKey }) }),
      ...Option.match(c.authKey, { onNone: () => ({}), onSome: (authKey) => ({ authKey }) })
    }).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    return Layer.mergeAll(
      Keyset.layer({ default: keyset }),
      UndiciHttpClient.layer,
      PubNubConfig.layer({
        // an origin with a scheme says itself whether it is secure
        ...(c.insecure ? { secure: false } : {}),
        requestTimeout: `${c.timeout} seconds`,
        ...Option.match(c.origin, { onNone: () => ({}), onSome: (origin) => ({ origin }) })
      })
    )
  })
