/**
 * The emulator's request log: a ring of the last requests answered, and counts by operation.
 *
 * @internal
 */
import type { RequestRecord } from "../../Emulator.js"
import type { Handled, Operation } from "./target.js"

const LOG_SIZE = 10_000

const noRequests = (): Record<Operation, number> => ({
  hereNow: 0,
  whereNow: 0,
  getState: 0,
  setState: 0,
  heartbeat: 0,
  leave: 0,
  channelGroup: 0,
  subscribe: 0,
  unknown: 0
})

/** @internal */
export class RequestLog {
  private readonly ring: Array<RequestRecord> = []
  private next = 0
  readonly stats: Record<Operation, number> = noRequests()

  record(h: Handled, method: string, target: string, at: number): void {
    this.stats[h.operation]++
    const q = target.indexOf("?")
    const entry: RequestRecord = {
      at,
      method,
      operation: h.operation,
      path: q < 0 ? target : target.slice(0, q),
      uuid: h.uuid,
      status: h.reply.status
    }
    if (this.ring.length < LOG_SIZE) this.ring.push(entry)
    else this.ring[this.next] = entry
    this.next = (this.next + 1) % LOG_SIZE
  }

  /** Oldest first. */
  inOrder(): Array<RequestRecord> {
    return this.ring.length < LOG_SIZE
      ? [...this.ring]
      : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
  }

  reset(): void {
    this.ring.length = 0
    this.next = 0
    Object.assign(this.stats, noRequests())
  }
}
