/**
 * Node-only pieces (they import `node:http`, `undici` and `@effect/platform-node`).
 *
 * @since 0.1.0
 */

/**
 * The emulator on a real socket.
 *
 * @since 0.1.0
 */
export * as NodeEmulator from "./NodeEmulator.js"

/**
 * A lean `HttpClient` on undici, the recommended client for presence calls on Node.
 *
 * @since 0.1.0
 */
export * as UndiciHttpClient from "./UndiciHttpClient.js"
