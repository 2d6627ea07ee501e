/**
 * The 1,000 long-polls of `npm run bench:events`, in their own process: a handshake for the
 * current timetoken, then N polls on `fan-pnpres` held at once (a socket each). Prints `opened`
 * when all are sent; when the one event arrives, for each poll the latency from its publish
 * timetoken to the answer, as one JSON line.
 */
import { request } from "node:http"

const [origin, countText] = process.argv.slice(2)
const n = Number(countText)
const [host, port] = origin.split(":")
const base = "/v2/subscribe/bench/fan-pnpres/0"

const get = (path: string, onBody: (body: string, at: number) => void) => {
  const req = request({ host, port: Number(port), path, agent: false }, (res) => {
    let body = ""
    res.setEncoding("utf8")
    res.on("data", (d: string) => (body += d))
    res.on("end", () => onBody(body, performance.timeOrigin + performance.now()))
  })
  req.on("error", (e) => {
    console.error(e)
    process.exit(1)
  })
  req.end()
}

get(`${base}?uuid=fan`, (body) => {
  const tt = JSON.parse(body).t.t as string
  const latencies: Array<number> = []
  for (let i = 0; i < n; i++) {
    get(`${base}?uuid=p${i}&tt=${tt}`, (answer, at) => {
      const published = BigInt(JSON.parse(answer).m[0].p.t as string)
      latencies.push(at - Number(published / 10_000n) - Number(published % 10_000n) / 10_000)
      if (latencies.length === n) {
        process.stdout.write(JSON.stringify({ latencies }) + "\n")
        process.exit(0)
      }
    })
  }
  process.stdout.write("opened\n")
})
