/**
 * UndiciHttpClient is a whole `HttpClient`, not only what presence calls use: methods, bodies,
 * query parameters, every way of reading an answer, transport failures and interruption, against
 * a plain Node server on loopback.
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Stream } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { UndiciHttpClient } from "../src/node/index.js"
import { runNode } from "./util/spawn.js"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

const UTF8_TEXT = "naïve — ".repeat(20_000) + "€ 日本語 🙂 " + "plain ascii ".repeat(10_000)

/** A server that echoes what it got, plus a few special paths. */
const server = Effect.acquireRelease(
  Effect.async<
    { readonly base: string; readonly closed: Array<string>; readonly sockets: Set<unknown>; readonly server: Server }
  >((resume) => {
    const closed: Array<string> = []
    const sockets = new Set<unknown>()
    const s = createServer((req: IncomingMessage, res: ServerResponse) => {
      sockets.add(req.socket)
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const seen: Seen = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8")
        }
        if (req.url === "/hang") {
          closed.push("arrived")
          res.on("close", () => closed.push("closed"))
          return
        }
        if (req.url === "/form") {
          res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" })
          return res.end("a=1&b=two")
        }
        if (req.url === "/utf8") {
          // a byte-order mark, then text with multi-byte characters, one of them split between writes
          const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(UTF8_TEXT, "utf8")])
          res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
          const cut = bytes.indexOf(Buffer.from("€")) + 1
          res.write(bytes.subarray(0, cut))
          return setTimeout(() => res.end(bytes.subarray(cut)), 5)
        }
        if (req.url === "/cookie") {
          res.writeHead(204, { "set-cookie": ["s=1; Path=/", "t=2"] })
          return res.end()
        }
        res.writeHead(201, { "content-type": "application/json", "x-echo": "yes" })
        res.end(JSON.stringify(seen))
      })
    })
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo
      resume(Effect.succeed({ base: `http://127.0.0.1:${port}`, closed, sockets, server: s }))
    })
  }),
  ({ server }) =>
    Effect.promise(() =>
      new Promise((done) => {
        server.closeAllConnections()
        server.close(done)
      })
    )
)

const echo = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(request)).pipe(
    Effect.flatMap((response) => Effect.map(response.json, (json) => ({ response, seen: json as Seen })))
  )

describe("UndiciHttpClient", () => {
  it.scoped("a GET with its query in the URL: status, headers, json; the path reaches the server as sent", () =>
    Effect.gen(function*() {
      const { base } = yield* server
      const { response, seen } = yield* echo(
        HttpClientRequest.get(`${base}/v2/presence/sub-key/k/channel/a%2Cb,c?uuid=u%20x&state=1`, {
          acceptJson: true
        })
      )
      assert.strictEqual(response.status, 201)
      assert.strictEqual(response.headers["x-echo"], "yes")
      assert.strictEqual(seen.method, "GET")
      assert.strictEqual(seen.url, "/v2/presence/sub-key/k/channel/a%2Cb,c?uuid=u%20x&state=1")
      assert.strictEqual(seen.headers.accept, "application/json")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("sequential requests reuse kept-alive connections", () =>
    Effect.gen(function*() {
      const { base, sockets } = yield* server
      for (let i = 0; i < 20; i++) {
        const { response } = yield* echo(HttpClientRequest.get(`${base}/k?i=${i}`))
        assert.strictEqual(response.status, 201)
      }
      // without keep-alive this would be 20; a connection may not be back in the pool the moment its
      // body has been read, so the second request can open one more
      assert.isAtMost(sockets.size, 2)
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("urlParams and a bare origin go through URL building", () =>
    Effect.gen(function*() {
      const { base } = yield* server
      const a = yield* echo(HttpClientRequest.get(`${base}/p`, { urlParams: { q: "a b", n: "1" } }))
      assert.strictEqual(a.seen.url, "/p?q=a+b&n=1")
      const b = yield* echo(HttpClientRequest.get(base))
      assert.strictEqual(b.seen.url, "/")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("request bodies: text, bytes, JSON, a stream, form data, a raw string", () =>
    Effect.gen(function*() {
      const { base } = yield* server
      const text = yield* echo(HttpClientRequest.post(`${base}/t`).pipe(HttpClientRequest.bodyText("hello")))
      assert.strictEqual(text.seen.body, "hello")
      assert.strictEqual(text.seen.headers["content-type"], "text/plain")
      const bytes = yield* echo(
        HttpClientRequest.put(`${base}/b`).pipe(HttpClientRequest.bodyUint8Array(new Uint8Array([104, 105])))
      )
      assert.strictEqual(bytes.seen.method, "PUT")
      assert.strictEqual(bytes.seen.body, "hi")
      const json = yield* echo(HttpClientRequest.post(`${base}/j`).pipe(HttpClientRequest.bodyUnsafeJson({ a: 1 })))
      assert.deepStrictEqual(JSON.parse(json.seen.body), { a: 1 })
      const streamed = yield* echo(
        HttpClientRequest.post(`${base}/s`).pipe(
          HttpClientRequest.bodyStream(Stream.make("ab", "cd").pipe(Stream.encodeText))
        )
      )
      assert.strictEqual(streamed.seen.body, "abcd")
      const form = new FormData()
      form.append("field", "value")
      const formData = yield* echo(HttpClientRequest.post(`${base}/f`).pipe(HttpClientRequest.bodyFormData(form)))
      assert.include(formData.seen.body, "value")
      assert.match(String(formData.seen.headers["content-type"]), /^multipart\/form-data; boundary=/)
      const raw = yield* echo(HttpClientRequest.post(`${base}/r`).pipe(HttpClientRequest.setBody(HttpBody.raw("r!"))))
      assert.strictEqual(raw.seen.body, "r!")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("an unsupported raw body is a RequestError (Encode), not a defect", () =>
    Effect.gen(function*() {
      const { base } = yield* server
      const client = yield* HttpClient.HttpClient
      const e = yield* Effect.flip(
        client.execute(HttpClientRequest.post(`${base}/r`).pipe(HttpClientRequest.setBody(HttpBody.raw({ x: 1 }))))
      )
      assert.isTrue(e._tag === "RequestError" && e.reason === "Encode")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("an answer read as text and bytes, as a stream, as url params, with cookies", () =>
    Effect.gen(function*() {
      const { base } = yield* server
      const client = yield* HttpClient.HttpClient
      const r = yield* client.get(`${base}/x`)
      const text = yield* r.text
      const bytes = new Uint8Array(yield* r.arrayBuffer)
      assert.strictEqual(new TextDecoder().decode(bytes), text)
      assert.strictEqual(yield* r.text, text, "read once, kept")
      const streamed = yield* Stream.runCollect((yield* client.get(`${base}/x`)).stream)
      const joined = Buffer.concat(Chunk.toReadonlyArray(streamed)).toString("utf8")
      assert.strictEqual(JSON.parse(joined).url, "/x")
      const form = yield* (yield* client.get(`${base}/form`)).urlParamsBody
      assert.deepStrictEqual(form, [["a", "1"], ["b", "two"]])
      const cookies = (yield* client.get(`${base}/cookie`)).cookies
      assert.deepStrictEqual(Object.keys(cookies.cookies).sort(), ["s", "t"])
      // text is UTF-8 without the byte-order mark (as undici's and fetch's); bytes read first are as
      // sent (bytes after text are the text encoded again, without the mark)
      assert.strictEqual(yield* (yield* client.get(`${base}/utf8`)).text, UTF8_TEXT)
      const raw = new Uint8Array(yield* (yield* client.get(`${base}/utf8`)).arrayBuffer)
      assert.deepStrictEqual([...raw.subarray(0, 3)], [0xef, 0xbb, 0xbf])
      assert.strictEqual(new TextDecoder().decode(raw), UTF8_TEXT)
      const bad = yield* Effect.flip((yield* client.get(`${base}/form`)).json)
      assert.isTrue(bad._tag === "ResponseError" && bad.reason === "Decode")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("a refused connection and a bad URL are RequestErrors", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const refused = yield* Effect.flip(client.get("http://127.0.0.1:1/x"))
      assert.isTrue(refused._tag === "RequestError" && refused.reason === "Transport")
      const invalid = yield* Effect.flip(client.get("http://[::1/x"))
      assert.isTrue(invalid._tag === "RequestError" && invalid.reason === "InvalidUrl")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scopedLive("interrupting a request aborts it: the server sees the connection close", () =>
    Effect.gen(function*() {
      const { base, closed } = yield* server
      const client = yield* HttpClient.HttpClient
      const fiber = yield* Effect.fork(client.get(`${base}/hang`))
      const until = (n: number) =>
        Effect.repeat(Effect.sleep("5 millis"), { until: () => closed.length >= n, times: 400 })
      yield* until(1)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* until(2)
      assert.deepStrictEqual(closed, ["arrived", "closed"])
      assert.isTrue(Option.isNone((yield* client.get(`${base}/x`)).remoteAddress))
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it("an answer dropped unread gives its connection back once it is garbage (own process, --expose-gc)", async () => {
    const run = await runNode(["--expose-gc", "--import", "tsx", "test/fixtures/unread-body.ts"], {}, 30_000)
    assert.strictEqual(run.code, 0, run.stderr)
    const out = run.stdout
    assert.strictEqual(out.trim(), "200 released")
  })
})
