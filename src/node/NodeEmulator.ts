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
import { createServer, type Server } from "node:http"
import type { Duplex } from "node:stream"
import * as Emulator from "../Emulator.js"
import { CONTENT_TYPE } from "../internal/emulator/app.js"

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

// Past even that, Node answers a bare 431 itself; the service's balancer answers a JSON 414.
const URI_TOO_LONG = JSON.stringify({ message: "Request URI Too Long", error: true, service: "Balancer", status: 414 })

const createEmulatorServer = (): Server => {
  const server = createServer({ maxHeaderSize: MAX_HEADER_SIZE })
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy()
    if (error.code === "HPE_HEADER_OVERFLOW") {
      socket.end(
        "HTTP/1.1 414 URI Too Long\r\n" +
          `content-type: ${CONTENT_TYPE}\r\n` +
          `content-length: ${Buffer.byteLength(URI_TOO_LONG)}\r\n` +
          "connection: close\r\n\r\n" + URI_TOO_LONG
      )
    } else {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
    }
  })
  // Closing stops new connections, but a keep-alive connection with a request in flight outlives
  // it — and a client that keeps asking over it keeps the emulator serving for ever. Closing the
  // emulator ends every connection (held polls included): it is going away.
  const close = server.close.bind(server)
  server.close = (callback) => {
    close(callback)
    server.closeAllConnections()
    return server
  }
  return server
}

/** Whether `host` (an address to listen on) is only reachable from this machine. */
const isLoopbackHost = (host: string): boolean =>
  host === "localhost" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host)

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
  const listenOn = host ?? "127.0.0.1"
  const server = NodeHttpServer.layer(createEmulatorServer, { port: port ?? 8090, host: listenOn })
  // beyond loopback, anyone on the network could reach the admin API: it then needs a token
  const admin = emulatorOptions.admin === false || isLoopbackHost(listenOn)
    ? emulatorOptions.admin
    : { ...(typeof emulatorOptions.admin === "object" ? emulatorOptions.admin : {}), requireToken: true }
  // a `drop` fault destroys the socket without an answer
  const serve = Emulator.layerServer({
    onDrop: (request) =>
      Effect.suspend(() => {
        NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
        return Effect.interrupt
      })
  })
  return serve.pipe(
    Layer.provideMerge(Layer.mergeAll(Emulator.layer({ ...emulatorOptions, admin }), server))
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
