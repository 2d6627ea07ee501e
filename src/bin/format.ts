/**
 * Plain-text tables for the terminal.
 */
import * as Option from "effect/Option"
import type { Presence } from "../index.js"

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
