/**
 * The parts of a `ReadonlyMap` that follow from `entries`, for the maps the SDK builds over other
 * structures (a roster's persistent occupants, typed views over untyped results).
 *
 * @internal
 */
export abstract class DerivedMap<V> implements ReadonlyMap<string, V> {
  abstract readonly size: number
  abstract get(key: string): V | undefined
  abstract has(key: string): boolean
  abstract entries(): MapIterator<[string, V]>

  forEach(f: (value: V, key: string, map: ReadonlyMap<string, V>) => void, self?: unknown): void {
    for (const [k, v] of this.entries()) f.call(self, v, k, this)
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries()
  }

  get [Symbol.toStringTag](): string {
    return "Map"
  }
}
