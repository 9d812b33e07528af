import { fromJSON, loadSync } from '@grpc/proto-loader'
import { describe, expect, it } from 'vitest'
import { loyaltyProtoPath } from './server.ts'
import { oneofMembers, wireDepthMax, wireFault, wireTypeOf, type DeclaredField, type DeclaredFields } from './wire-check.ts'

/**
 * Outer { 1: string name, 2: Inner inner, 3: fixed64 big, 4: fixed32 small, 5: bytes blob,
 * 6: repeated int64 ids, 9: repeated string tags, oneof choice { 10: Inner a, 11: string b } };
 * Inner { 1: int64 n, 2: Inner inner, 3: string label }.
 */
const field = (name: string, wireType: DeclaredField['wireType'], more: Partial<DeclaredField> = {}): DeclaredField =>
  ({ name, wireType, repeated: false, string: false, ...more })
const outer = new Map([
  [1, field('name', 2, { string: true })],
  [2, field('inner', 2, { message: 'Inner' })],
  [3, field('big', 1)],
  [4, field('small', 5)],
  [5, field('blob', 2)],
  [6, field('ids', 0, { repeated: true })],
  [9, field('tags', 2, { repeated: true, string: true })],
  [10, field('a', 2, { message: 'Inner', oneof: 'choice' })],
  [11, field('b', 2, { string: true, oneof: 'choice' })],
])
const inner = new Map([
  [1, field('n', 0)],
  [2, field('inner', 2, { message: 'Inner' })],
  [3, field('label', 2, { string: true })],
])
const declared: DeclaredFields = (typeName) => (typeName === 'Outer' ? outer : typeName === 'Inner' ? inner : undefined)
const check = (bytes: number[], typeName = 'Outer') => wireFault(declared, typeName, Uint8Array.from(bytes))
const utf8 = (text: string) => [...new TextEncoder().encode(text)]

describe('wireFault', () => {
  it('passes well-formed messages, empty ones, and undeclared fields of every wire type', () => {
    expect(check([])).toBeUndefined()
    const big = [0x19, 1, 2, 3, 4, 5, 6, 7, 8]
    const small = [0x25, 1, 2, 3, 4]
    const nested = [0x12, 0x05, 0x08, 0x96, 0x01, 0x12, 0x00] // inner { n: 150, inner: {} }
    const undeclared = [0xf8, 0x3f, 0x01, 0x39, 1, 2, 3, 4, 5, 6, 7, 8, 0x3d, 1, 2, 3, 4, 0x42, 0x01, 0x00]
    expect(check([0x0a, 0x02, 0x68, 0x69, ...nested, ...big, ...small, ...undeclared])).toBeUndefined()
    // A negative int64 is a 10-byte varint; the largest field number (2^29 - 1) takes a 5-byte tag.
    expect(check([0x12, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).toBeUndefined()
    expect(check([0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01])).toBeUndefined()
    // A repeated number comes one by one or packed.
    expect(check([0x30, 0x01, 0x30, 0x02, 0x32, 0x02, 0x03, 0x04])).toBeUndefined()
  })

  it('names each fault with its field and byte', () => {
    expect(check([0x80])).toBe('a field tag is cut off at byte 0')
    expect(check([0x30, 0xff, 0xff])).toBe('the varint of field 6 is cut off at byte 1')
    expect(check([0x30, ...Array(10).fill(0xff), 0x01])).toBe('the varint of field 6 is longer than 10 bytes at byte 1')
    // Ten bytes, but past 64 bits: protobufjs would drop the top bits and read another number.
    expect(check([0x30, ...Array(9).fill(0xff), 0x02])).toBe('the varint of field 6 is larger than 64 bits at byte 1')
    expect(check([0x0a, ...Array(9).fill(0x80), 0x7f])).toBe('the length of field 1 is larger than 64 bits at byte 1')
    expect(check([0x19, 1, 2, 3])).toBe('the 8-byte value of field 3 is cut off at byte 1')
    expect(check([0x25, 1, 2])).toBe('the 4-byte value of field 4 is cut off at byte 1')
    expect(check([0x0a])).toBe('the length of field 1 is cut off at byte 1')
    expect(check([0x0a, 0x05, 0x68])).toBe('field 1 at byte 0 claims 5 bytes, but 1 are left')
    expect(check([0x0e])).toBe('field 1 at byte 0 has wire type 6, which does not exist')
    expect(check([0x14])).toBe('field 2 at byte 0 is a group (wire type 4), which this schema does not use')
    expect(check([0x02, 0x00])).toBe('field number 0 at byte 0')
  })

  it('refuses a declared field sent with another wire type', () => {
    // A number where the name (a string) is declared: protobufjs would read on as a string.
    expect(check([0x08, 0x05])).toBe('field 1 (name) at byte 0 is sent as a varint, but the schema declares length-delimited bytes')
    expect(check([0x1d, 1, 2, 3, 4])).toBe('field 3 (big) at byte 0 is sent as a fixed 32-bit value, but the schema declares a fixed 64-bit value')
    expect(check([0x12, 0x02, 0x0a, 0x00])).toBe('field 1 (n) at byte 2 is sent as length-delimited bytes, but the schema declares a varint')
  })

  it('looks inside declared nested messages only, and bounds the nesting', () => {
    // Field 2 is Inner: its content is checked; field 1 is a string: its bytes are anything.
    expect(check([0x12, 0x01, 0x0f])).toBe('field 1 at byte 2 has wire type 7, which does not exist')
    expect(check([0x0a, 0x01, 0x0f])).toBeUndefined()
    // A length inside a nested message may not run past that message's end.
    expect(check([0x12, 0x02, 0x12, 0x03, 0x00, 0x00])).toBe('field 2 at byte 2 claims 3 bytes, but 0 are left')
    let deep: number[] = []
    for (let i = 0; i <= wireDepthMax; i++) deep = [0x12, deep.length, ...deep]
    expect(check(deep)).toMatch(new RegExp(`^messages nested more than ${wireDepthMax} deep at byte \\d+$`))
  })

  it('reads a tag as protobufjs does only when it fits in 32 bits, so field numbers end at 2^29 - 1', () => {
    // The largest field number, undeclared, and a tag padded to 5 bytes (field 6) pass.
    expect(check([0xfa, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x00])).toBeUndefined()
    expect(check([0xb0, 0x80, 0x80, 0x80, 0x00, 0x05])).toBeUndefined()
    // The probe: 2^32 + 26 read this far as field 536870915 (undeclared, skipped); protobufjs kept
    // the low 32 bits, field 3 (points) as length-delimited, and took the length for the points.
    const smuggled = [0x0a, 0x0b, ...utf8('member-0004'), 0x12, 0x0a, ...utf8('smuggled-1')]
    expect(check([0x9a, 0x80, 0x80, 0x80, 0x10, smuggled.length, ...smuggled])).toBe('a field tag is larger than 32 bits at byte 0')
    expect(check([0x0a, 0x00, 0x80, 0x80, 0x80, 0x80, 0x10, 0x01])).toBe('a field tag is larger than 32 bits at byte 2')
    expect(check([0xff, 0xff, 0xff, 0xff, 0x7f, 0x01])).toBe('a field tag is larger than 32 bits at byte 0')
    expect(check([0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0x01])).toBe('a field tag is longer than 5 bytes at byte 0')
    expect(check([0x80, 0x80, 0x80, 0x80])).toBe('a field tag is cut off at byte 0')
    expect(check([0x80, 0x80, 0x80, 0x80, 0x00, 0x01])).toBe('field number 0 at byte 0')
  })

  it('refuses a string field that is not UTF-8, at any depth and in repeated fields', () => {
    // Each once read as "k\uFFFD\uFFFD" or "m\uFFFD\uFFFD\uFFFD": different keys, one string.
    for (const bad of [[0x6b, 0xff, 0xfe], [0x6b, 0xc0, 0xc1], [0x6d, 0xed, 0xa0, 0x80], [0xe6, 0x9d], [0xf4, 0x90, 0x80, 0x80]]) {
      expect(check([0x0a, bad.length, ...bad]), bad.join(' ')).toBe('field 1 (name) at byte 0 is not valid UTF-8')
    }
    expect(check([0x12, 0x03, 0x1a, 0x01, 0xff])).toBe('field 3 (label) at byte 2 is not valid UTF-8')
    expect(check([0x4a, 0x01, 0x61, 0x4a, 0x01, 0xc0])).toBe('field 9 (tags) at byte 3 is not valid UTF-8')
    expect(check([0x5a, 0x02, 0xc3, 0x28])).toBe('field 11 (b) at byte 0 is not valid UTF-8')
  })

  it('passes valid UTF-8 of every length, and any bytes in bytes and undeclared fields', () => {
    for (const text of ['', 'Zoë', '東京', '😀 party 🎉', '\u{10FFFF}', 'a\u0000b']) {
      const bytes = utf8(text)
      expect(check([0x0a, bytes.length, ...bytes, 0x4a, bytes.length, ...bytes]), text).toBeUndefined()
      expect(check([0x12, bytes.length + 2, 0x1a, bytes.length, ...bytes]), text).toBeUndefined()
    }
    expect(check([0x2a, 0x03, 0xff, 0xfe, 0xc0])).toBeUndefined()
    expect(check([0x3a, 0x02, 0xff, 0xfe])).toBeUndefined()
  })

  it('refuses a singular field set twice and two members of one oneof', () => {
    const big = [0x19, 1, 2, 3, 4, 5, 6, 7, 8]
    expect(check([...big, ...big])).toBe('field 3 (big) appears twice, the second time at byte 9')
    expect(check([0x0a, 0x01, 0x61, 0x0a, 0x01, 0x62])).toBe('field 1 (name) appears twice, the second time at byte 3')
    // A nested message twice: protobuf merges the two, protobufjs kept the last.
    expect(check([0x12, 0x00, 0x0a, 0x00, 0x12, 0x02, 0x08, 0x01])).toBe('field 2 (inner) appears twice, the second time at byte 4')
    expect(check([0x12, 0x04, 0x08, 0x01, 0x08, 0x02])).toBe('field 1 (n) appears twice, the second time at byte 4')
    expect(check([0x52, 0x00, 0x0a, 0x00, 0x5a, 0x01, 0x61])).toBe(
      'fields 10 (a) and 11 (b) of one oneof choice are both set, the second at byte 4')
    expect(check([0x5a, 0x01, 0x61, 0x52, 0x00])).toBe('fields 11 (b) and 10 (a) of one oneof choice are both set, the second at byte 3')
    expect(check([0x5a, 0x00, 0x5a, 0x00])).toBe('field 11 (b) appears twice, the second time at byte 2')
  })

  it('lets repeated and undeclared fields repeat, and the same field be set once in each message', () => {
    // ids one by one and packed, in two runs; tags three times; a oneof member beside other fields.
    expect(check([0x30, 0x01, 0x32, 0x02, 0x02, 0x03, 0x30, 0x04, 0x32, 0x01, 0x05, 0x4a, 0x00, 0x4a, 0x01, 0x61, 0x4a, 0x00]))
      .toBeUndefined()
    expect(check([0x0a, 0x00, 0x52, 0x02, 0x08, 0x01, 0x12, 0x00, 0x19, 1, 2, 3, 4, 5, 6, 7, 8])).toBeUndefined()
    // inner { n: 1, inner { n: 2, inner { n: 3 } } }; field 7 twice, undeclared.
    expect(check([0x12, 0x0a, 0x08, 0x01, 0x12, 0x06, 0x08, 0x02, 0x12, 0x02, 0x08, 0x03])).toBeUndefined()
    expect(check([0x38, 0x01, 0x38, 0x02])).toBeUndefined()
  })

  it('maps descriptor types to wire types', () => {
    expect(['TYPE_INT64', 'TYPE_BOOL', 'TYPE_ENUM', 'TYPE_SINT32'].map(wireTypeOf)).toEqual([0, 0, 0, 0])
    expect(['TYPE_DOUBLE', 'TYPE_FIXED64', 'TYPE_SFIXED64'].map(wireTypeOf)).toEqual([1, 1, 1])
    expect(['TYPE_FLOAT', 'TYPE_FIXED32', 'TYPE_SFIXED32'].map(wireTypeOf)).toEqual([5, 5, 5])
    expect(['TYPE_STRING', 'TYPE_BYTES', 'TYPE_MESSAGE'].map(wireTypeOf)).toEqual([2, 2, 2])
  })
})

describe('oneofMembers', () => {
  it('finds the members of each oneof in the loaded schema, and no field outside one', () => {
    const definition = loadSync(loyaltyProtoPath, { keepCase: false })
    const files = (definition['loyalty.v1.StreamRequest'] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos
    const members = oneofMembers(files)
    const stream = members.get('loyalty.v1.StreamRequest')!
    // id (1) is outside the oneof, though proto-loader's decoded descriptor says `oneofIndex: 0` for it too.
    expect(stream.has(1)).toBe(false)
    expect([...stream.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2))
    expect(new Set(stream.values())).toEqual(new Set(['op']))
    // proto3 `optional` is a oneof of one (`_expiresAt`): it can only be refused as set twice.
    expect(members.get('loyalty.v1.EarnRequest')).toEqual(new Map([
      [4, '_expiresAt'], [5, '_activeFrom'], [6, '_ref'], [7, '_amount'], [8, '_reason'],
    ]))
    expect(members.get('loyalty.v1.Source')).toEqual(new Map())
  })

  it('names nested types within their parent and package', () => {
    const definition = fromJSON({
      nested: {
        t: {
          nested: {
            Outer: {
              oneofs: { pick: { oneof: ['a', 'b'] } },
              fields: { id: { type: 'string', id: 1 }, a: { type: 'Inner', id: 2 }, b: { type: 'string', id: 3 } },
              nested: { Inner: { oneofs: { kind: { oneof: ['x', 'y'] } }, fields: { x: { type: 'int64', id: 5 }, y: { type: 'bytes', id: 6 } } } },
            },
          },
        },
      },
    })
    const members = oneofMembers((definition['t.Outer'] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos)
    expect(members.get('t.Outer')).toEqual(new Map([[2, 'pick'], [3, 'pick']]))
    expect(members.get('t.Outer.Inner')).toEqual(new Map([[5, 'kind'], [6, 'kind']]))
  })
})
