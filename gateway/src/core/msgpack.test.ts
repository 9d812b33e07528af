import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { frameValueProblem, nestsDeeper } from './msgpack.ts'
import { decodeFrame } from './frames.ts'

/** The key a map holds twice, if that is the frame's first problem. */
const repeatedMsgpackKey = (bytes: Uint8Array): string | undefined => {
  const problem = frameValueProblem(bytes)
  return problem?.message.endsWith('twice in one object') === true ? problem.field : undefined
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

/** Already-encoded MessagePack, spliced in as it is. */
class Raw {
  constructor(readonly bytes: Uint8Array) {}
}

const encode = (value: unknown): Uint8Array => (value instanceof Raw ? value.bytes : packr.pack(value))

/** A map with these entries in this order, repeats included (an object cannot hold them). */
function map(...entries: [unknown, unknown][]): Raw {
  const header = entries.length < 16 ? [0x80 | entries.length] : [0xde, entries.length >> 8, entries.length & 0xff]
  return new Raw(Buffer.concat([Uint8Array.from(header), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]))
}

function array(...items: unknown[]): Raw {
  return new Raw(Buffer.concat([Uint8Array.from([0x90 | items.length]), ...items.map(encode)]))
}

const long = 'k'.repeat(40) // a str 8 key
const many = Array.from({ length: 20 }, (_, i): [unknown, unknown] => [`f${i}`, i]) // a map 16

describe('frameValueProblem', () => {
  it.each([
    ['a key twice at the top', map(['points', 5], ['points', 7]), 'points'],
    ['inside a nested map', map(['a', 1], ['b', map(['c', 1], ['c', 2])]), 'c'],
    ['in a map inside an array', map(['lines', array(map(['sku', 'x']), map(['sku', 'y'], ['sku', 'z']))]), 'sku'],
    ['a long (str 8) key', map([long, 1], ['x', 2], [long, 3]), long],
    ['in a map of 20 entries (map 16)', map(...many, ['f3', 0]), 'f3'],
    ['after values of every width', map(['s', 'x'.repeat(300)], ['f', 1.5], ['n', -70000], ['u', 2 ** 40], ['m', 'y'.repeat(70000)], ['s', 0]), 's'],
  ])('finds %s', (_what, raw, key) => {
    packr.unpack(raw.bytes) // valid MessagePack, which msgpackr decodes keeping the last
    expect(repeatedMsgpackKey(raw.bytes)).toBe(key)
  })

  it('refuses a key that is not a string, naming the map, and tells 1 from "1"', () => {
    expect(frameValueProblem(map([1, 'a'], ['1', 'b']).bytes)).toEqual({ field: 'frame', message: 'the frame has a key that is not a string (MessagePack bytes 01); keys must be strings' })
    expect(frameValueProblem(map(['a', map(['1', 'b'], [1, 'c'])]).bytes)).toEqual({ field: 'a', message: 'a has a key that is not a string (MessagePack bytes 01); keys must be strings' })
  })

  it('names binary data and extensions by their path', () => {
    expect(frameValueProblem(map(['lines', array(map(['sku', Buffer.from('x')]))]).bytes)).toEqual({ field: 'lines[0].sku', message: 'lines[0].sku is binary data (MessagePack bin); send text as a string' })
    expect(frameValueProblem(map(['source', new Date(0)]).bytes)?.message).toBe('source is a MessagePack extension (a timestamp, type -1); frames hold only strings, numbers, booleans, nil, arrays and maps')
  })

  it.each([
    ['distinct keys', map(['a', 1], ['b', 2])],
    ['the same key in different maps', map(['a', map(['a', map(['a', 1])])])],
    ['repeated values and array items', map(['a', array('a', 'a')], ['b', 'a'])],
    ['an array of maps', array(map(['a', 1]), map(['a', 2]))],
    ['a frame as a terminal sends it', new Raw(packr.pack({ id: 1, op: 'purchase', account: 'm1', key: 'k', basket: { lines: [{ sku: 'x', quantity: 2, unitPrice: 450 }] } }))],
    ['a scalar', new Raw(packr.pack('a'))],
  ])('finds none in %s', (_what, raw) => {
    packr.unpack(raw.bytes)
    expect(repeatedMsgpackKey(raw.bytes)).toBeUndefined()
  })
})

describe('nestsDeeper', () => {
  const deep = (levels: number) => Buffer.concat([Buffer.alloc(levels, 0x91), Buffer.from([0x01])])
  it('counts arrays and maps inside one another, not side by side', () => {
    expect(nestsDeeper(deep(3), 3)).toBe(false)
    expect(nestsDeeper(deep(4), 3)).toBe(true)
    expect(nestsDeeper(packr.pack({ a: [1, 2], b: { c: [3] }, d: 'x'.repeat(300) }), 3)).toBe(false)
    expect(nestsDeeper(packr.pack({ a: { b: { c: { d: 1 } } } }), 3)).toBe(true)
    expect(nestsDeeper(packr.pack(Array.from({ length: 100 }, () => [[1]])), 3)).toBe(false)
  })

  it('stops at the end of bytes cut short, leaving them to the decoder', () => {
    expect(nestsDeeper(Uint8Array.from([0x92, 0xda, 0xff]), 3)).toBe(false)
    expect(nestsDeeper(Uint8Array.from([0xdc]), 3)).toBe(false)
    expect(nestsDeeper(new Uint8Array(0), 3)).toBe(false)
  })
})

describe('decodeFrame on what msgpackr takes and the walk must read', () => {
  /** `{ id: 1, op: 'earn', ...entries }` as a fixmap, entries spliced in as bytes. */
  const frame = (entries: number, ...bytes: number[]) =>
    Uint8Array.from([0x80 | (2 + entries), 0xa2, 0x69, 0x64, 0x01, 0xa2, 0x6f, 0x70, 0xa4, 0x65, 0x61, 0x72, 0x6e, ...bytes])
  const decode = (bytes: Uint8Array) => decodeFrame(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, true)

  it('refuses 0xc1 (never used; msgpackr reads it as an object) as the last byte without throwing, naming the field', () => {
    const last = frame(1, 0xa1, 0x78, 0xc1)
    expect(packr.unpack(last)).toMatchObject({ id: 1, op: 'earn' }) // msgpackr takes it
    expect(decode(last)).toEqual({ ok: false, id: 1, reply: { status: 'invalid_request', field: 'x', message: expect.stringContaining('0xc1') } })
    // Not the last byte: not an extension whose type is the next byte.
    expect(decode(frame(2, 0xa1, 0x78, 0xc1, 0xa1, 0x79, 0x01))).toEqual({ ok: false, id: 1, reply: { status: 'invalid_request', field: 'x', message: expect.stringContaining('0xc1') } })
    expect(decode(frame(1, 0xa1, 0x78, 0x92, 0x01, 0xc1))).toMatchObject({ ok: false, id: 1, reply: { field: 'x[1]' } })
  })

  it('checks a map of many distinct keys in time linear in its size', () => {
    // 40,000 keys of 3 letters (about 200 KB, under the 1 MiB uWS lets through, which is still decoded).
    const keys: number[] = []
    let n = 0
    for (let a = 0x41; a < 0x7b && n < 40_000; a++) for (let b = 0x41; b < 0x7b && n < 40_000; b++) for (let c = 0x41; c < 0x7b && n < 40_000; c++, n++) keys.push(0xa3, a, b, c, 0xc0)
    const bytes = Uint8Array.from([0x83, 0xa2, 0x69, 0x64, 0x01, 0xa2, 0x6f, 0x70, 0xa4, 0x65, 0x61, 0x72, 0x6e, 0xa1, 0x78, 0xde, n >> 8, n & 0xff, ...keys])
    const started = performance.now()
    expect(frameValueProblem(bytes)).toBeUndefined()
    // Each key compared with every one before it took seconds (800 million comparisons).
    expect(performance.now() - started).toBeLessThan(500)
    // A repeat among many is still found.
    const repeated = Uint8Array.from([...bytes.subarray(0, 15), 0xde, (n + 1) >> 8, (n + 1) & 0xff, ...keys, 0xa3, 0x41, 0x42, 0x43, 0x01])
    expect(frameValueProblem(repeated)).toEqual({ field: 'ABC', message: 'the frame has the key "ABC" twice in one object' })
  })
})
