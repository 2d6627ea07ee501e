/**
 * Node-only pieces (they import `node:http` and `@effect/platform-node`).
 *
 * @since 0.1.0
 */

/**
 * The emulator on a real socket.
 *
 * @since 0.1.0
 */
export * as NodeEmulator from "./NodeEmulator.js"
