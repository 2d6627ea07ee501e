/**
 * `npm run bench:startup` — cold start of a one-shot "who is here" script on plain `node`, this
 * SDK (built `dist/`, imported by its package name) side by side with the official client:
 * wall time from spawn to exit, and peak memory (max RSS). Rounds alternate the scripts.
 * Against the socket emulator on loopback. Builds `dist/` first if it is missing or older than
 * `src/`. Results: stdout, and bench/results/startup.json with BENCH_RECORD=1.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = `${dir}/${e.name}`
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }, 0)

if (!existsSync(`${root}/dist/index.js`) || newest(`${root}/src`) > newest(`${root}/dist`)) {
  console.log("building dist/ …")
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
}

const emulator = await new Promise((resolve, reject) => {
  const child = spawn(process.execPath, ["dist/bin/pn-presence.js", "emulator", "--port", "0"], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"]
  })
  let out = ""
  child.stdout.on("data", (d) => {
    out += d
    const m = /listening on http:\/\/(\S+)/.exec(out)
    if (m !== null) resolve({ origin: m[1], child })
  })
  child.once("exit", (code) => reject(new Error(`emulator exited with ${code}: ${out}`)))
})

const once = (script) =>
  new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [`bench/startup/${script}`, emulator.origin], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.once("exit", (code) => {
      const ms = performance.now() - t0
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`))
      const { maxRssKb, ownMs, ownMb } = JSON.parse(out)
      resolve({ ms, mb: maxRssKb / 1024, ownMs, ownMb })
    })
  })

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const scripts = {
  "node alone": "empty.mjs",
  "official pubnub client": "official.mjs",
  "SDK, UndiciHttpClient (effect-pubnub-presence/undici)": "sdk.mjs",
  "SDK, UndiciHttpClient, Effect imported by module": "sdk-modules.mjs",
  "SDK, FetchHttpClient": "sdk-fetch.mjs",
  "SDK, client from effect-pubnub-presence/node (+ emulator)": "sdk-node-entry.mjs",
  "SDK's own modules alone (after Effect, platform, undici)": "own.mjs"
}
const samples = Object.fromEntries(Object.keys(scripts).map((k) => [k, []]))
try {
  // one warm-up each (file system caches), then rounds in turn
  for (const script of Object.values(scripts)) await once(script)
  for (let r = 0; r < ROUNDS; r++) {
    const order = Object.entries(scripts)
    for (let i = 0; i < order.length; i++) {
      const [name, script] = order[(i + r) % order.length]
      samples[name].push(await once(script))
    }
  }
} finally {
  emulator.child.kill("SIGTERM")
}

const rows = Object.fromEntries(
  Object.entries(samples).map(([name, s]) => [
    name,
    s[0].ownMs === undefined
      ? {
        "wall ms (median)": Math.round(median(s.map((x) => x.ms))),
        "max RSS MB (median)": Math.round(median(s.map((x) => x.mb)))
      }
      : {
        "import ms (median)": Math.round(median(s.map((x) => x.ownMs))),
        "RSS added MB (median)": Math.round(median(s.map((x) => x.ownMb)))
      }
  ])
)
console.log(`\nstart-up of a one-shot here-now, plain node ${process.version}, ${ROUNDS} rounds`)
console.table(rows)
const results = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version }, rounds: ROUNDS, rows }
mkdirSync(`${root}/bench/results/runs`, { recursive: true })
writeFileSync(`${root}/bench/results/runs/startup.json`, JSON.stringify(results, null, 2) + "\n")
if (process.env.BENCH_RECORD === "1") {
  writeFileSync(`${root}/bench/results/startup.json`, JSON.stringify(results, null, 2) + "\n")
  console.log("recorded in bench/results/startup.json")
}
