/**
 * A plain Node HTTP server on loopback for tests that need a hostile or odd peer: it counts open
 * sockets and bytes written, and closes with the scope.
 */
import { Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"

export interface TestServer {
  /** `127.0.0.1:port` */
  readonly origin: string
  readonly base: string
  /** sockets currently open */
  readonly open: () => number
  /** requests received, as `path?query` */
  readonly requests: Array<string>
}

export const testServer = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<TestServer & { readonly close: () => Promise<void> }>((resume) => {
      const sockets = new Set<Socket>()
      const requests: Array<string> = []
      const server = createServer((req, res) => {
        requests.push(req.url ?? "")
        handler(req, res)
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        resume(Effect.succeed({
          origin: `127.0.0.1:${port}`,
          base: `http://127.0.0.1:${port}`,
          open: () => sockets.size,
          requests,
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    (s) => Effect.promise(s.close)
  )

/** Writes `chunk` again and again until the peer goes away; counts what was written. */
export const endless = (res: ServerResponse, chunk: string, written: { bytes: number }) => {
  const write = () => {
    while (!res.destroyed) {
      written.bytes += chunk.length
      if (!res.write(chunk)) return res.once("drain", write)
    }
  }
  res.writeHead(200, { "content-type": "text/javascript; charset=\"UTF-8\"" })
  write()
}

/** Polls `check` (real time) until it holds or `ms` pass; whether it held. */
export const eventually = (check: () => boolean, ms = 5000) =>
  Effect.promise(async () => {
    const until = Date.now() + ms
    while (!check()) {
      if (Date.now() > until) return false
      await new Promise((r) => setTimeout(r, 10))
    }
    return true
  })
