/**
 * Where and how presence requests go. A `Context.Reference`, so it has defaults and never shows up
 * in an effect's requirements; provide `PubNubConfig.layer(…)` to change it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"

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
}

/**
 * The SDK's name and version as sent in `pnsdk`.
 *
 * @since 0.1.0
 * @category constants
 */
export const SDK_NAME = "effect-pubnub-presence/0.1.0"

/**
 * The reference: origin `ps.pndsn.com`, secure, 10 second request timeout.
 *
 * @since 0.1.0
 * @category references
 */
export class PubNubConfig extends Context.Reference<PubNubConfig>()("effect-pubnub-presence/PubNubConfig", {
  defaultValue: (): Settings => ({
    origin: "ps.pndsn.com",
    secure: true,
    requestTimeout: Duration.seconds(10),
    pnsdk: SDK_NAME
  })
}) {}

/**
 * What `layer` takes: some or all of the settings; `requestTimeout` as a `Duration.DurationInput`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly origin?: string | undefined
  readonly secure?: boolean | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly pnsdk?: string | undefined
}

/**
 * Merges `options` over the defaults.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Settings => {
  const defaults = PubNubConfig.defaultValue()
  return {
    origin: options.origin ?? defaults.origin,
    secure: options.secure ?? defaults.secure,
    requestTimeout: options.requestTimeout === undefined
      ? defaults.requestTimeout
      : Duration.decode(options.requestTimeout),
    pnsdk: options.pnsdk ?? defaults.pnsdk
  }
}

/**
 * Overrides the settings for everything it is provided to.
 *
 * @example
 * import { PubNubConfig } from "effect-pubnub-presence"
 *
 * // aim at a local emulator
 * const local = PubNubConfig.layer({ origin: "127.0.0.1:8090", secure: false })
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<never> => Layer.succeed(PubNubConfig, make(options))
