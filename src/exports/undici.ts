/**
 * The `effect-pubnub-presence/undici` entry point: the recommended `HttpClient` for Node on its
 * own, so that a program which only makes presence calls does not load the emulator (as
 * `effect-pubnub-presence/node`, which holds both, does).
 *
 * @since 0.1.0
 */

/**
 * A lean `HttpClient` on undici, the recommended client for presence calls on Node.
 *
 * @since 0.1.0
 */
export * as UndiciHttpClient from "../node/UndiciHttpClient.js"
