/**
 * Where and how presence requests go. A `Context.Reference`, so it has defaults and never shows up
 * in an effect's requirements; provide `PubNubConfig.layer(…)` to change it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * The settings themselves.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Host (and optional port) of the service, without scheme: `ps.pndsn.com`, `127.0.0.1:8090`. */
  readonly origin: string
  /** `https` when true (the default), `http` otherwise. */
  readonly secure: boolean
  /** How long one HTTP request may take before it fails with `RequestTimeoutError`. */
  readonly requestTimeout: Duration.Duration
  /** The `pnsdk` value sent with every request. */
  readonly pnsdk: string
  /**
   * The most bytes a response body may have. A longer body is cut off while it is read (the
   * connection is closed) and the call fails with `ResponseTooLargeError`. Default 32 MiB.
   */
  readonly maxResponseBytes: number
  /**
   * Set by {@link make} when an option could not be used: every call made with these settings
   * then fails with an `InvalidArgumentError` naming it, and sends nothing.
   */
  readonly invalid?: { readonly argument: string; readonly reason: string } | undefined
}

/**
 * The SDK's name and version as sent in `pnsdk`, in the `Name-Language/Version` form the REST
 * docs ask for.
 *
 * @since 0.1.0
 * @category constants
 */
export const SDK_NAME = "EffectPubNubPresence-TypeScript/0.1.0"

/**
 * The default `maxResponseBytes`: 32 MiB. The largest here-now answers (1,000 occupants per
 * channel, with state, over dozens of channels) are a few MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

/**
 * The reference: origin `ps.pndsn.com`, secure, 10 second request timeout, 32 MiB answers.
 *
 * @since 0.1.0
 * @category references
 */
export class PubNubConfig extends Context.Reference<PubNubConfig>()("effect-pubnub-presence/PubNubConfig", {
  defaultValue: (): Settings => ({
    origin: "ps.pndsn.com",
    secure: true,
    requestTimeout: Duration.seconds(10),
    pnsdk: SDK_NAME,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES
  })
}) {}

/**
 * What `layer` takes: some or all of the settings; `requestTimeout` as a `Duration.DurationInput`.
 * `origin` may carry a scheme (`http://127.0.0.1:8090`), which then sets `secure`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly origin?: string | undefined
  readonly secure?: boolean | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly pnsdk?: string | undefined
  readonly maxResponseBytes?: number | undefined
}

// a host name, an IPv4 address or a bracketed IPv6 address, and an optional port
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/

/**
 * Reads an origin: `host[:port]`, or `http://…` / `https://…` (which sets `secure`). A trailing
 * `/` is allowed; a path, query, user info or other scheme is not.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseOrigin = (
  input: unknown
): { readonly host: string; readonly secure: Option.Option<boolean> } | { readonly problem: string } => {
  if (typeof input !== "string" || input.length === 0) return { problem: "must be a non-empty host[:port]" }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input)
  let rest = input
  let secure = Option.none<boolean>()
  if (scheme !== null) {
    const name = scheme[1].toLowerCase()
    if (name !== "http" && name !== "https") {
      return { problem: `has the scheme "${scheme[1]}"; only http:// and https:// (or none) are understood` }
    }
    secure = Option.some(name === "https")
    rest = input.slice(scheme[0].length)
  }
  if (rest.endsWith("/")) rest = rest.slice(0, -1)
  const m = HOST.exec(rest)
  if (m === null) {
    return { problem: `"${input.slice(0, 100)}" is not a host[:port] (for example ps.pndsn.com or 127.0.0.1:8090)` }
  }
  if (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535)) {
    return { problem: `has port ${m[1]}, which is not between 1 and 65535` }
  }
  return { host: rest, secure }
}

const OPTION_KEYS = ["origin", "secure", "requestTimeout", "pnsdk", "maxResponseBytes"] as const

/** A plain copy of the options (undefined when they are not an object or cannot be read). */
const readOptions = (input: unknown): { readonly [K in typeof OPTION_KEYS[number]]?: unknown } | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  try {
    const out: { [K in typeof OPTION_KEYS[number]]?: unknown } = {}
    for (const key of OPTION_KEYS) out[key] = Reflect.get(input, key)
    return out
  } catch {
    return undefined
  }
}

/**
 * Merges `options` over the defaults. Never throws: an option that cannot be used is recorded in
 * `invalid`, and every call made with the result fails with an `InvalidArgumentError` naming it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: Options): Settings => {
  const defaults = PubNubConfig.defaultValue()
  const options = readOptions(input)
  if (options === undefined) {
    return { ...defaults, invalid: { argument: "PubNubConfig", reason: "options must be a readable object" } }
  }
  let invalid: Settings["invalid"] = undefined
  const problem = (argument: string, reason: string) => {
    invalid ??= { argument: `PubNubConfig.${argument}`, reason }
  }
  let origin = defaults.origin
  let secure = defaults.secure
  if (options.secure !== undefined) {
    if (typeof options.secure === "boolean") secure = options.secure
    else problem("secure", "must be true or false")
  }
  if (options.origin !== undefined) {
    const parsed = parseOrigin(options.origin)
    if ("problem" in parsed) {
      problem("origin", parsed.problem)
    } else {
      origin = parsed.host
      if (Option.isSome(parsed.secure)) {
        if (options.secure !== undefined && options.secure !== parsed.secure.value) {
          problem("origin", `says ${parsed.secure.value ? "https" : "http"} but secure is ${options.secure}`)
        }
        secure = parsed.secure.value
      }
    }
  }
  let requestTimeout = defaults.requestTimeout
  if (options.requestTimeout !== undefined) {
    const decoded = Duration.decodeUnknown(options.requestTimeout)
    if (Option.isSome(decoded) && Duration.greaterThan(decoded.value, Duration.zero)) requestTimeout = decoded.value
    else problem("requestTimeout", "must be a Duration longer than zero")
  }
  let pnsdk = defaults.pnsdk
  if (options.pnsdk !== undefined) {
    if (typeof options.pnsdk === "string" && options.pnsdk.length > 0) pnsdk = options.pnsdk
    else problem("pnsdk", "must be a non-empty string")
  }
  let maxResponseBytes = defaults.maxResponseBytes
  if (options.maxResponseBytes !== undefined) {
    const n = options.maxResponseBytes
    if (typeof n === "number" && Number.isSafeInteger(n) && n > 0) maxResponseBytes = n
    else problem("maxResponseBytes", "must be a whole number of bytes, more than 0")
  }
  const settings: Settings = { origin, secure, requestTimeout, pnsdk, maxResponseBytes }
  return invalid === undefined ? settings : { ...settings, invalid }
}

/**
 * Overrides the settings for everything it is provided to.
 *
 * @example
 * import { PubNubConfig } from "effect-pubnub-presence"
 *
 * // aim at a local emulator
 * const local = PubNubConfig.layer({ origin: "http://127.0.0.1:8090" })
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<never> => Layer.succeed(PubNubConfig, make(options))
