/**
 * Keysets: which PubNub keys (and which user id) a call is made with.
 *
 * A `KeysetService` holds a default keyset and any number of named ones. Every operation takes
 * either `keyset` (a one-off override) or `using` (a registered name); with neither it uses the
 * default.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { describeIssue } from "./internal/issue.js"
import { checkUserId, isDotSegment } from "./internal/validation.js"
import { InvalidArgumentError, KeysetNotFoundError } from "./PresenceError.js"

/**
 * A user id: 1 to 92 characters, no control characters.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UserId: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter((s) => {
    const reason = checkUserId(s)
    return reason === undefined ? true : `userId ${reason}`
  }, { identifier: "UserId" })
)

/** A secret on the type side: a `Redacted` holding a string; refusals never print what it holds. */
const SecretFromSelf = Schema.declare(
  (u: unknown): u is Redacted.Redacted<string> => Redacted.isRedacted(u) && typeof Redacted.value(u) === "string",
  { identifier: "Secret", message: () => "must be a string (or a Redacted string)" }
)

/** A secret: a string on the wire, `Redacted` in memory. */
const Secret = Schema.transform(Schema.String, SecretFromSelf, {
  strict: true,
  decode: (s) => Redacted.make(s),
  encode: (r) => Redacted.value(r)
})

/**
 * The keys and identity that calls are made with. `secretKey`, `authKey` and `authToken` are
 * `Redacted` so they never print; `authToken` (an Access Manager v3 token) wins over `authKey`.
 *
 * @example
 * import { Keyset } from "effect-pubnub-presence"
 * import { Redacted } from "effect"
 *
 * const keyset = new Keyset.Keyset({
 *   subscribeKey: "sub-c-example",
 *   publishKey: "pub-c-example",
 *   secretKey: Redacted.make("sec-c-example"),
 *   userId: "alice"
 * })
 *
 * @since 0.1.0
 * @category models
 */
export class Keyset extends Schema.Class<Keyset>("effect-pubnub-presence/Keyset")({
  subscribeKey: Schema.NonEmptyString.pipe(Schema.filter((s) => !/[/?#%\s]/.test(s) && !isDotSegment(s), {
    message: () => "subscribeKey must not contain '/', '?', '#', '%' or spaces, nor be '.' or '..'"
  })),
  publishKey: Schema.optional(Schema.String),
  secretKey: Schema.optional(Secret),
  authKey: Schema.optional(Secret),
  authToken: Schema.optional(Secret),
  userId: UserId
}) {
  /**
   * As the schema constructor, except that a secret given as a plain string (by a caller without
   * types) is wrapped in `Redacted` first, so that it never prints, and a secret of any other kind
   * is wrapped too before it is refused, so that the refusal does not print it either.
   */
  constructor(props: KeysetProps, options?: Schema.MakeOptions) {
    super(redactSecrets(props), options)
  }
}

/**
 * What `new Keyset(…)` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeysetProps {
  readonly subscribeKey: string
  readonly publishKey?: string | undefined
  readonly secretKey?: Redacted.Redacted<string> | undefined
  readonly authKey?: Redacted.Redacted<string> | undefined
  readonly authToken?: Redacted.Redacted<string> | undefined
  readonly userId: string
}

const SECRET_FIELDS = ["secretKey", "authKey", "authToken"] as const

const redactSecrets = (props: KeysetProps): KeysetProps => {
  if (typeof props !== "object" || props === null) return props
  let out: KeysetProps = props
  for (const field of SECRET_FIELDS) {
    const value: unknown = props[field]
    if (value !== undefined && !Redacted.isRedacted(value)) {
      out = { ...out, [field]: Redacted.make(value) }
    }
  }
  return out
}

/**
 * Builds a `Keyset`, failing with `InvalidArgumentError` instead of throwing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (props: ConstructorParameters<typeof Keyset>[0]): Effect.Effect<Keyset, InvalidArgumentError> =>
  Either.match(construct(props), {
    onLeft: (reason) => Effect.fail(new InvalidArgumentError({ argument: "keyset", reason })),
    onRight: Effect.succeed
  })

const construct = (props: ConstructorParameters<typeof Keyset>[0]): Either.Either<Keyset, string> =>
  Either.try({
    try: () => new Keyset(props),
    catch: (e) => ParseResult.isParseError(e) ? describeIssue(e.issue) : "could not be read"
  })

/**
 * Which keyset a call uses: `keyset` overrides, `using` names a registered one; neither means the
 * default. Giving both is an `InvalidArgumentError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeysetSelection {
  readonly keyset?: Keyset | undefined
  readonly using?: string | undefined
}

/**
 * The keysets available to presence calls.
 *
 * @since 0.1.0
 * @category services
 */
export class KeysetService extends Context.Tag("effect-pubnub-presence/KeysetService")<
  KeysetService,
  KeysetService.Service
>() {}

/**
 * @since 0.1.0
 * @category services
 */
export declare namespace KeysetService {
  /**
   * @since 0.1.0
   * @category services
   */
  export interface Service {
    readonly default: Keyset
    readonly named: ReadonlyMap<string, Keyset>
    /** Picks the keyset for a call, per {@link KeysetSelection}. */
    readonly resolve: (selection: KeysetSelection) => Effect.Effect<Keyset, InvalidArgumentError | KeysetNotFoundError>
  }
}

/**
 * What `make` and `layer` take: the default keyset and, optionally, named ones.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly default: Keyset
  readonly named?: Readonly<Record<string, Keyset>> | ReadonlyMap<string, Keyset> | undefined
}

const isKeyset = Schema.is(Keyset)

/**
 * Builds the service from a default keyset and named ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeService = (options: Options): KeysetService.Service => {
  const named = new Map<string, Keyset>()
  const refused = new Set<string>()
  const given = options.default
  const fallback = isKeyset(given) ? given : undefined
  try {
    const byName = options.named
    const entries: Iterable<readonly [string, unknown]> = byName === undefined
      ? []
      : byName instanceof Map
      ? byName.entries()
      : Object.entries(byName)
    for (const [name, keyset] of entries) {
      if (isKeyset(keyset)) named.set(name, keyset)
      else refused.add(name)
    }
  } catch {
    // options that cannot be read leave the service without keysets: every call says so
  }
  const invalid = (reason: string) => Effect.fail(new InvalidArgumentError({ argument: "keyset", reason }))
  const resolve = (selection: KeysetSelection): Effect.Effect<Keyset, InvalidArgumentError | KeysetNotFoundError> => {
    if (selection.keyset !== undefined && selection.using !== undefined) {
      return invalid("give either `keyset` or `using`, not both")
    }
    if (selection.keyset !== undefined) {
      return isKeyset(selection.keyset) ? Effect.succeed(selection.keyset) : invalid("must be a Keyset.Keyset instance")
    }
    if (selection.using !== undefined) {
      if (typeof selection.using !== "string") return invalid("`using` must be the name of a registered keyset")
      const found = named.get(selection.using)
      if (found !== undefined) return Effect.succeed(found)
      if (refused.has(selection.using)) {
        return invalid(`the keyset registered as "${selection.using.slice(0, 100)}" is not a Keyset.Keyset instance`)
      }
      return Effect.fail(new KeysetNotFoundError({ name: selection.using, available: Array.from(named.keys()) }))
    }
    return fallback === undefined
      ? invalid("the KeysetService's default is not a Keyset.Keyset instance")
      : Effect.succeed(fallback)
  }
  return { default: given, named, resolve }
}

/**
 * A `KeysetService` layer from a default keyset and named ones.
 *
 * @example
 * import { Keyset } from "effect-pubnub-presence"
 *
 * const keys = Keyset.layer({
 *   default: new Keyset.Keyset({ subscribeKey: "sub-c-app", userId: "alice" }),
 *   named: { admin: new Keyset.Keyset({ subscribeKey: "sub-c-admin", userId: "ops" }) }
 * })
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<KeysetService> =>
  Layer.succeed(KeysetService, makeService(options))

/**
 * The default keyset read through Effect `Config`: `PUBNUB_SUBSCRIBE_KEY`, `PUBNUB_PUBLISH_KEY`,
 * `PUBNUB_SECRET_KEY`, `PUBNUB_AUTH_KEY`, `PUBNUB_USER_ID` (secrets as `Config.redacted`).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Keyset> = Config.all({
  subscribeKey: Config.string("PUBNUB_SUBSCRIBE_KEY"),
  publishKey: Config.option(Config.string("PUBNUB_PUBLISH_KEY")),
  secretKey: Config.option(Config.redacted("PUBNUB_SECRET_KEY")),
  authKey: Config.option(Config.redacted("PUBNUB_AUTH_KEY")),
  userId: Config.string("PUBNUB_USER_ID")
}).pipe(
  Config.mapOrFail((c) =>
    Either.mapLeft(
      construct({
        subscribeKey: c.subscribeKey,
        userId: c.userId,
        ...Option.match(c.publishKey, { onNone: () => ({}), onSome: (publishKey) => ({ publishKey }) }),
        ...Option.match(c.secretKey, { onNone: () => ({}), onSome: (secretKey) => ({ secretKey }) }),
        ...Option.match(c.authKey, { onNone: () => ({}), onSome: (authKey) => ({ authKey }) })
      }),
      (reason) => ConfigError.InvalidData([], reason)
    )
  )
)

/**
 * A `KeysetService` whose default keyset comes from {@link config}, plus optional named keysets.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options?: { readonly named?: Options["named"] }
): Layer.Layer<KeysetService, ConfigError.ConfigError> =>
  Layer.effect(
    KeysetService,
    Effect.map(config, (keyset) => makeService({ default: keyset, named: options?.named }))
  )
