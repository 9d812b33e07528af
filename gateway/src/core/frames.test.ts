/**
 * Goal: a WebSocket frame, whatever its bytes, is decoded or refused with a
 * reply; `decodeFrame` never throws (a throw would escape the connection's
 * message handler). The byte walkers in msgpack.ts run on bytes msgpackr has
 * not checked yet (`nestsDeeper`) or has decoded leniently
 * (`frameValueProblem`), so they are the likely place for a read past the end.
 * Method: random bytes, and valid frames with bytes changed, inserted or cut,
 * through fast-check.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { decodeFrame } from './frames.ts'

const packr = new Packr({ useRecords: false })

const frames = [
  { id: 1, op: 'earn', account: 'm1', key: 'k1', points: 150, amount: 1500, expiresAt: 1_790_000_000_000 },
  { id: 'a-2', op: 'purchase', account: 'm1', key: 'k2', basket: { lines: [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }] }, source: { store: 's1' } },
  { id: 3, op: 'history', account: 'm'.repeat(40), limit: 10, before: 2 ** 40 },
].map((frame) => packr.pack(frame))

const bufferOf = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer

/** A valid frame with some bytes replaced, some inserted and the end perhaps cut off. */
const damaged = fc
  .record({
    frame: fc.constantFrom(...frames),
    changes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { maxLength: 6 }),
    cut: fc.option(fc.nat()),
  })
  .map(({ frame, changes, cut }) => {
    const bytes = Array.from(frame)
    for (const [at, byte, insert] of changes) {
      const index = at % (bytes.length + 1)
      if (insert) bytes.splice(index, 0, byte)
      else bytes[Math.min(index, bytes.length - 1)] = byte
    }
    return Uint8Array.from(cut === null ? bytes : bytes.slice(0, cut % (bytes.length + 1)))
  })

function decodesOrRefuses(bytes: Uint8Array) {
  const decoded = decodeFrame(bufferOf(bytes), true)
  if (decoded.ok) expect(typeof decoded.request.op).toBe('string')
  else expect(decoded.reply).toMatchObject({ status: 'invalid_request', field: expect.any(String), message: expect.any(String) })
}

describe('decodeFrame on any bytes', () => {
  it('answers damaged MessagePack frames without throwing', () => {
    fc.assert(fc.property(damaged, decodesOrRefuses), { numRuns: 3000 })
  })

  it('answers random bytes without throwing', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrRefuses), { numRuns: 3000 })
  })

  it('answers a frame with an id and an op whose last field is any one or two bytes, without throwing', () => {
    // { id: 1, op: 'earn', x: <a> } and { id: 1, op: 'earn', x: <a, b> }: past the id and op checks, the
    // value walk reads the bytes (0xc1 as the last byte threw a RangeError there, found by review).
    const opening = Buffer.from('a2696401a26f70a46561726e', 'hex') // "id" 1 "op" "earn"
    const frame = (...tail: number[]) => Uint8Array.from([0x83, ...opening, 0xa1, 0x78, ...tail])
    for (let a = 0; a < 256; a++) {
      decodesOrRefuses(Uint8Array.from([a]))
      decodesOrRefuses(frame(a))
      for (let b = 0; b < 256; b++) decodesOrRefuses(frame(a, b))
    }
  })
})
