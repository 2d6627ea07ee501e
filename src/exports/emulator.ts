/**
 * The `effect-pubnub-presence/emulator` entry point.
 *
 * @since 0.1.0
 */

/**
 * The local presence emulator: `Emulator.layer`, `Emulator.layerTest`, `Emulator.layerServer`,
 * and the `Emulator.Emulator` service tag.
 *
 * @since 0.1.0
 */
export * as Emulator from "../Emulator.js"
