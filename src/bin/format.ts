/**
 * Plain-text tables for the terminal.
 */
import * as Context from "effect/Context"
import * as Option from "effect/Option"
import type { Presence, PresenceEvent } from "../index.js"

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

const stateText = (state: Option.Option<unknown>): string =>
  Option.match(state, { onNone: () => "", onSome: (s) => JSON.stringify(s) })

export const hereNowTable = (r: Presence.HereNowResult): string => {
  const rows: Array<Array<string>> = []
  for (const [name, ch] of [...r.channels].sort(([a], [b]) => a.localeCompare(b))) {
    const occupants = [...ch.uuids.values()]
    if (occupants.length === 0) rows.push([name, String(ch.count), "", ""])
    occupants.forEach((o, i) =>
      rows.push([i === 0 ? name : "", i === 0 ? String(ch.count) : "", o.uuid, stateText(o.state)])
    )
    if (ch.hasMore) rows.push(["", "", `… ${ch.count - occupants.length} more (use --all or --offset)`, ""])
  }
  const summary = `${r.totalOccupancy} present in ${r.totalChannels} channel${r.totalChannels === 1 ? "" : "s"}`
  return rows.length === 0
    ? `nobody present (${summary})`
    : `${table(["CHANNEL", "OCCUPANCY", "UUID", "STATE"], rows)}\n${summary}`
}

/** An event as one line of text. */
export const eventLine = (e: PresenceEvent.PresenceEvent): string => {
  const where = Option.match(e.group, { onNone: () => e.channel, onSome: (g) => `${e.channel} (group ${g})` })
  const here = `(${e.occupancy} here)`
  switch (e._tag) {
    case "Join":
      return `→ ${e.uuid} joined ${where} ${here}${
        Option.match(e.state, { onNone: () => "", onSome: (s) => ` ${JSON.stringify(s)}` })
      }`
    case "Leave":
      return `← ${e.uuid} left ${where} ${here}`
    case "Timeout":
      return `✗ ${e.uuid} timed out of ${where} ${here}`
    case "StateChange":
      return `~ ${e.uuid} in ${where} is now ${JSON.stringify(Option.getOrElse(e.state, () => ({})))}`
    case "Interval": {
      const parts = [
        e.joined.length > 0 ? `+${e.joined.join(",")}` : "",
        e.left.length > 0 ? `-${e.left.join(",")}` : "",
        e.timedOut.length > 0 ? `✗${e.timedOut.join(",")}` : "",
        e.hereNowRefresh ? "(too many to list: ask here-now)" : ""
      ].filter((p) => p.length > 0)
      return `# ${where}: ${e.occupancy} here${parts.length > 0 ? ` ${parts.join(" ")}` : ""}`
    }
  }
}

/** An event as JSON: its tag as `type`, `Option`s as their value or null. */
export const eventJson = (e: PresenceEvent.PresenceEvent): unknown => {
  const { _tag, group, ...rest } = e
  const fields: Record<string, unknown> = { type: _tag, ...rest, group: Option.getOrNull(group) }
  if ("state" in e) fields.state = Option.getOrNull(e.state)
  return fields
}

/**
 * Where stdout goes: a terminal, where a live table is redrawn in place, or a pipe or file, where
 * each table follows the last.
 */
export class Screen extends Context.Reference<Screen>()("pn-presence/Screen", {
  defaultValue: () => ({ terminal: false })
}) {}

/** Clears a terminal and puts the cursor top left. */
export const CLEAR = "\u001b[H\u001b[2J"

/** Two here-now results that say the same (occupants in any order). */
export const sameView = (a: Presence.HereNowResult, b: Presence.HereNowResult): boolean => {
  const canonical = (r: Presence.HereNowResult) =>
    JSON.stringify([
      r.totalChannels,
      r.totalOccupancy,
      [...r.channels.values()]
        .map((c) => [c.channelName, c.count, [...c.uuids.values()].map((o) => o.uuid + stateText(o.state)).sort()])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    ])
  return canonical(a) === canonical(b)
}
