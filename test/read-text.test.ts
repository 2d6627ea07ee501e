/**
 * `readText` (UndiciHttpClient's text reading) against `TextDecoder` on the whole body — what
 * `fetch`'s `text()` gives — for bodies cut into chunks anywhere: ASCII, multi-byte characters
 * split between chunks, byte-order marks at the start and later, and bad UTF-8.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Readable } from "node:stream"
import { readText } from "../src/node/readText.js"

const BOM = [0xef, 0xbb, 0xbf]

/** A body made of pieces: ASCII text, characters of 2–4 bytes, byte-order marks, bad bytes. */
const piece = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."{}[]\":,ab 019\\\n"), maxLength: 40 }).map((s) => [...Buffer.from(s)]),
  fc.constantFrom("é", "—", "€", "日本", "🙂").map((s) => [...Buffer.from(s)]),
  fc.constant(BOM),
  // a lone continuation byte, bytes never in UTF-8, a truncated 3-byte and 4-byte sequence, an
  // overlong encoding and an encoded surrogate
  fc.constantFrom([0x80], [0xff], [0xfe], [0xe2, 0x82], [0xf0, 0x9f, 0x99], [0xc0, 0x80], [0xed, 0xa0, 0x80])
)

/** Bytes and the places to cut them. */
const body = fc.array(piece, { maxLength: 30 }).chain((pieces) => {
  const bytes = Buffer.from(pieces.flat())
  return fc.tuple(
    fc.constant(bytes),
    fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), { maxLength: 8 })
  )
})

const cut = (bytes: Buffer, at: ReadonlyArray<number>): Array<Buffer> => {
  const points = [0, ...[...at].filter((i) => i < bytes.length).sort((a, b) => a - b), bytes.length]
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end))
}

const stream = (chunks: ReadonlyArray<Buffer>) => Readable.from(chunks, { objectMode: false })

describe("readText", () => {
  it("reads any body cut anywhere exactly as TextDecoder reads it whole", async () => {
    await fc.assert(
      fc.asyncProperty(body, async ([bytes, at]) => {
        const chunks = cut(bytes, at)
        assert.strictEqual(await readText(stream(chunks)), new TextDecoder().decode(bytes))
      }),
      { numRuns: 2000, seed: 20261129 }
    )
  })

  it("an ASCII body comes out as it went in, over many chunks", async () => {
    const json = JSON.stringify({ uuids: Array.from({ length: 5000 }, (_, i) => ({ uuid: `user-${i}` })) })
    const bytes = Buffer.from(json)
    const chunks = cut(bytes, Array.from({ length: 40 }, (_, i) => (i + 1) * 1000))
    assert.strictEqual(await readText(stream(chunks)), json)
  })

  it("a byte-order mark is dropped at the start, kept after ASCII, and a split character is whole", async () => {
    const text = "{\"a\":\"🙂\"}"
    assert.strictEqual(await readText(stream([Buffer.from([...BOM, ...Buffer.from(text)])])), text)
    const emoji = Buffer.from("🙂")
    const chunks = [
      Buffer.from("{\"a\":\""),
      Buffer.from(BOM),
      emoji.subarray(0, 1),
      emoji.subarray(1, 3),
      Buffer.concat([emoji.subarray(3), Buffer.from("\"}")])
    ]
    assert.strictEqual(await readText(stream(chunks)), "{\"a\":\"\uFEFF🙂\"}")
  })

  it("a body that fails mid-way rejects", async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from("{\"partial\":"))
        this.destroy(new Error("socket hang up"))
      }
    })
    const error = await readText(failing).then(() => undefined, (e: unknown) => e)
    assert.instanceOf(error, Error)
    assert.strictEqual((error as Error).message, "socket hang up")
  })
})
