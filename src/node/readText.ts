/**
 * Reading a whole response body as text, as `fetch`'s `text()` and undici's `body.text()` do
 * (UTF-8, a leading byte-order mark dropped, bad sequences as U+FFFD), but cheaper for ASCII.
 *
 * Presence answers are JSON, and JSON from PubNub is almost always plain ASCII. An ASCII chunk is
 * its own text byte for byte, so it is copied as Latin-1 (a memory copy) as it arrives, instead of
 * going through the UTF-8 decoder once the whole body is in: for a 1 MB here-now answer, ~100 µs
 * instead of the decoder's ~650 µs (`isAscii` checks a chunk in about 1% of the decoder's time).
 * The chunks stay separate strings until `JSON.parse` flattens them: joining the bytes first and
 * copying once makes a string over ~1 MB external, which cost more GC than it saved (see
 * docs/performance.md). From the first chunk that is not ASCII on, the bytes are kept and decoded
 * together at the end, so a character split between chunks, a byte-order mark and a bad sequence
 * come out exactly as `TextDecoder` makes them.
 *
 * @internal
 */
import { isAscii } from "node:buffer"
import type { Readable } from "node:stream"

/** Streaming-decoder options for the bytes after an ASCII start: a byte-order mark there is text. */
const MID_STREAM = { ignoreBOM: true } as const

/**
 * The text of `body`, read to its end. With `maxBytes`, a body longer than that is destroyed as
 * soon as it passes the limit (which closes its connection), and the promise rejects with
 * `tooLarge()`.
 *
 * @internal
 */
export const readText = (
  body: Readable,
  maxBytes = Number.POSITIVE_INFINITY,
  tooLarge: () => unknown = () => new RangeError(`the body is longer than ${maxBytes} bytes`)
): Promise<string> =>
  new Promise((resolve, reject) => {
    // the ASCII chunks before the first other one, as text (a rope; JSON.parse flattens it once)
    let ascii = ""
    // from the first chunk that is not ASCII on, as bytes
    let rest: Array<Buffer> | undefined
    let total = 0
    body.on("data", (chunk: Buffer) => {
      total += chunk.length
      if (total > maxBytes) {
        ascii = ""
        rest = undefined
        reject(tooLarge())
        body.destroy()
        return
      }
      if (rest === undefined && isAscii(chunk)) ascii += chunk.toString("latin1")
      else (rest ??= []).push(chunk)
    })
    body.on("end", () => {
      if (rest === undefined) return resolve(ascii)
      const bytes = rest.length === 1 ? rest[0] : Buffer.concat(rest)
      // at the very start a byte-order mark is dropped, as `text()` does; after ASCII it is kept
      resolve(ascii + (ascii === "" ? new TextDecoder() : new TextDecoder("utf-8", MID_STREAM)).decode(bytes))
    })
    body.on("error", reject)
  })
