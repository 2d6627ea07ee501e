/**
 * An indexed binary min-heap on `at` (a time): insert, update, remove and pop-min in O(log n).
 * Each item stores its own position, so no operation scans. The emulator keeps occupants by expiry
 * in one; the managed heartbeat keeps sessions by next due time in another.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"

/** @internal */
export interface HeapItem {
  at: number
  heapIndex: number
}

/** @internal */
export class TimeHeap<A extends HeapItem> {
  private readonly items: Array<A> = []

  get size(): number {
    return this.items.length
  }

  peek(): A | undefined {
    return this.items[0]
  }

  insert(item: A): void {
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
  }

  /** Call after changing `item.at`. */
  update(item: A): void {
    const i = item.heapIndex
    if (i < 0 || this.items[i] !== item) return
    this.up(i)
    this.down(item.heapIndex)
  }

  remove(item: A): void {
    const i = item.heapIndex
    if (i < 0 || this.items[i] !== item) return
    const last = this.items.pop()
    item.heapIndex = -1
    if (last === undefined || last === item) return
    this.items[i] = last
    last.heapIndex = i
    this.up(i)
    this.down(last.heapIndex)
  }

  /** Removes and returns the earliest item, if its time is at or before `now`. */
  popDue(now: number): A | undefined {
    const top = this.items[0]
    if (top === undefined || top.at > now) return undefined
    this.remove(top)
    return top
  }

  has(item: A): boolean {
    return item.heapIndex >= 0 && this.items[item.heapIndex] === item
  }

  /** Inserts, or moves an item already in the heap to its new `at`. */
  put(item: A, at: number): void {
    item.at = at
    if (this.has(item)) this.update(item)
    else this.insert(item)
  }

  clear(): void {
    for (const item of this.items) item.heapIndex = -1
    this.items.length = 0
  }

  private up(i: number): void {
    const items = this.items
    const item = items[i]
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent].at <= item.at) break
      items[i] = items[parent]
      items[i].heapIndex = i
      i = parent
    }
    items[i] = item
    item.heapIndex = i
  }

  private down(i: number): void {
    const items = this.items
    const n = items.length
    const item = items[i]
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && items[r].at < items[l].at ? r : l
      if (items[c].at >= item.at) break
      items[i] = items[c]
      items[i].heapIndex = i
      i = c
    }
    items[i] = item
    item.heapIndex = i
  }
}

/**
 * Sleeps toward `at` (from `now`), at most `capMs`: in whole milliseconds and at least one, so
 * that a fractional clock (TestClock lands on jittered times) never makes a loop spin on a time a
 * hair in the future.
 *
 * @internal
 */
export const sleepToward = (at: number, now: number, capMs = Number.POSITIVE_INFINITY): Effect.Effect<void> =>
  Effect.sleep(Duration.millis(Math.min(capMs, Math.max(1, Math.ceil(at - now)))))

/**
 * Waits until `next` or until something is offered to `wake`, whichever is first. With nothing
 * scheduled it only waits on `wake`, arming no timer (`Effect.never` would keep the process alive).
 *
 * @internal
 */
export const waitUntil = (next: number | undefined, now: number, wake: Queue.Queue<boolean>): Effect.Effect<unknown> =>
  next === undefined ? Queue.take(wake) : Effect.raceFirst(sleepToward(next, now), Queue.take(wake))
