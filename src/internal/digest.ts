/**
 * A digest of a secret, for keys of shared state (coalesced requests, cached answers, heartbeat
 * groups): two keysets share only when their secrets are equal, and the key itself never holds
 * a secret in clear (keys show up in heap snapshots and debuggers).
 *
 * Two independent 53-bit mixes of the text (cyrb53 with two seeds): 106 bits, synchronous and
 * platform-neutral (Web Crypto's SHA-256 is asynchronous). It is not a cryptographic hash: it
 * keeps secrets out of keys and keeps different secrets apart, it is not meant to resist someone
 * who can already run code in the process.
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"

const mix = (text: string, seed: number): string => {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)
}

/**
 * The digest of a secret (empty for none), computed once per `Redacted` value and kept in `cache`.
 *
 * @internal
 */
export const secretDigest = (
  cache: WeakMap<Redacted.Redacted<string>, string>,
  secret: Redacted.Redacted<string> | undefined
): string => {
  if (secret === undefined) return ""
  let d = cache.get(secret)
  if (d === undefined) {
    const text = Redacted.value(secret)
    d = `${mix(text, 1)}.${mix(text, 2)}`
    cache.set(secret, d)
  }
  return d
}
