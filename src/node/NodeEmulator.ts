/**
 * The emulator on a real Node socket (NodeHttpServer).
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import * as Emulator from "../Emulator.js"

/**
 * Where the socket emulator listens, plus the emulator's own options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends Emulator.Options {
  /** 0 picks a free port (read it from `HttpServer.HttpServer`'s `address`). */
  readonly port?: number | undefined
  /** 127.0.0.1 by default. */
  readonly host?: string | undefined
}

// Long presence URLs (up to the 32 KiB the service allows, and past it to answer 414) must reach
// the app: Node's default 16 KiB header limit would refuse them first.
const MAX_HEADER_SIZE = 256 * 1024

/**
 * The emulator served on a socket: `Emulator` for control, `HttpServer` for the bound address.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ServerOptions = {}
): Layer.Layer<Emulator.Emulator | HttpServer.HttpServer, ServeError> => {
  const { host, port, ...emulatorOptions } = options
  const server = NodeHttpServer.layer(() => createServer({ maxHeaderSize: MAX_HEADER_SIZE }), {
    port: port ?? 8090,
    host: host ?? "127.0.0.1"
  })
  // a `drop` fault destroys the socket without an answer
  const serve = Emulator.layerServer({
    onDrop: (request) =>
      Effect.suspend(() => {
        NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
        return Effect.interrupt
      })
  })
  return serve.pipe(
    Layer.provideMerge(Layer.mergeAll(Emulator.layer(emulatorOptions), server))
  )
}

/**
 * The `http://host:port` origin of the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const address: Effect.Effect<
  { readonly host: string; readonly port: number; readonly origin: string },
  never,
  HttpServer.HttpServer
> = Effect.map(HttpServer.HttpServer, (server) => {
  const a = server.address
  if (a._tag === "UnixAddress") return { host: a.path, port: 0, origin: a.path }
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname
  return { host: a.hostname, port: a.port, origin: `${host}:${a.port}` }
})
