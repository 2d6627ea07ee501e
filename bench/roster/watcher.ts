/**
 * One watcher of `npm run bench:roster`, in its own process so that its CPU and heap are its own.
 * It keeps "who is in the channel" for an app, one of three ways:
 *
 * - `roster`: `Presence.roster` — one snapshot, then the events;
 * - `each`: what an app writes without it — every presence event triggers a fresh here-now of
 *   every page (one at a time: events that come meanwhile wait);
 * - `second`: a fresh here-now of every page once a second;
 * - `events`: no list at all, only `Presence.events` — the long-poll's own cost, for comparison.
 *
 * Prints `ready` (with the heap its view holds) once it has a first view. Joins are named `n<i>`,
 * in order from `n<first>`: it notes when a view first shows each (a lookup or two per view, so
 * that measuring costs next to nothing). On `stop` (stdin) it prints one JSON line: CPU, views,
 * and when each join was first seen.
 */
import { Effect, Fiber, Schedule, Stream } from "effect"
import { Keyset, Presence } from "../../src/index.js"
import { UndiciHttpClient } from "../../src/node/index.js"
import { fullGc, sdkLayer } from "../util.js"

const [kind, origin, channel, firstText] = process.argv.slice(2)

const wallNow = () => performance.timeOrigin + performance.now()

/** when each join was first seen (wall clock, ms), from `n<first>` on */
const seenAt: Array<number> = []
let next = Number(firstText)
let views = 0
let started: NodeJS.CpuUsage | undefined

/** Notes the joins a view shows for the first time. */
const seen = (view: Presence.HereNowResult): void => {
  if (started === undefined) return
  views++
  const uuids = view.channels.get(channel)?.uuids
  if (uuids === undefined) return
  const now = wallNow()
  // joins live a second: with a view a second (or a walk per event, falling behind), one this
  // view no longer shows, with a later one shown, was missed (the roster's views miss none, and
  // are not charged for looking)
  if (kind !== "roster" && !uuids.has(`n${next}`)) {
    let later = 1
    while (later <= 200 && !uuids.has(`n${next + later}`)) later++
    if (later <= 200) {
      for (let i = 0; i < later; i++) seenAt.push(Number.NaN)
      next += later
    }
  }
  while (uuids.has(`n${next}`)) {
    seenAt.push(now)
    next++
  }
}

const heapMB = () => {
  fullGc()
  return process.memoryUsage().heapUsed
}

const walk = Presence.hereNowAll({ channels: [channel] })

const program = Effect.gen(function*() {
  const before = heapMB()
  let view: Presence.HereNowResult
  let fiber: Fiber.RuntimeFiber<void, unknown>
  if (kind === "events") {
    view = yield* walk
    const events = yield* Presence.subscribeEvents({ channels: [channel] })
    fiber = yield* Effect.forkScoped(Stream.runForEach(events, (e) =>
      Effect.sync(() => {
        if (started === undefined || e._tag !== "Join") return
        views++
        if (e.uuid === `n${next}`) {
          seenAt.push(wallNow())
          next++
        }
      })))
  } else if (kind === "roster") {
    const roster = yield* Presence.roster({ channels: [channel] })
    view = yield* roster.get
    fiber = yield* Effect.forkScoped(Stream.runForEach(roster.changes, (v) => Effect.sync(() => seen(v))))
  } else if (kind === "each") {
    view = yield* walk
    const events = yield* Presence.subscribeEvents({ channels: [channel] })
    fiber = yield* Effect.forkScoped(
      Stream.runForEach(events, () => Effect.map(walk, (v) => seen(v)))
    )
  } else {
    view = yield* walk
    fiber = yield* Effect.forkScoped(
      Effect.asVoid(Effect.repeat(Effect.map(walk, (v) => seen(v)), Schedule.spaced("1 second")))
    )
  }
  const held = heapMB() - before
  process.stdout.write(
    `ready ${JSON.stringify({ occupants: view.channels.get(channel)?.count ?? 0, heldBytes: held })}\n`
  )
  yield* Effect.async<undefined>((resume) => {
    process.stdin.setEncoding("utf8")
    process.stdin.on("data", (d: string) => {
      if (d.includes("start")) {
        started = process.cpuUsage()
      }
      if (d.includes("stop")) resume(Effect.succeed(undefined))
    })
  })
  const cpu = process.cpuUsage(started)
  yield* Fiber.interrupt(fiber)
  process.stdout.write(
    JSON.stringify({
      kind,
      cpuMicros: cpu.user + cpu.system,
      views,
      seenAt
    }) + "\n"
  )
})

Effect.runPromise(
  Effect.scoped(program).pipe(
    Effect.provide(sdkLayer(UndiciHttpClient.layer, origin, {
      default: new Keyset.Keyset({ subscribeKey: "bench", userId: `${kind}-watcher` })
    }))
  )
).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
