import { describe, expect, it } from 'vitest'
import { wireDepthMax, wireFault, wireTypeOf, type DeclaredField, type DeclaredFields } from './wire-check.ts'

/**
 * Outer { 1: string name, 2: Inner inner, 3: fixed64 big, 4: fixed32 small, 6: repeated int64 ids };
 * Inner { 1: int64 n, 2: Inner inner }.
 */
const field = (name: string, wireType: DeclaredField['wireType'], more: Partial<DeclaredField> = {}): DeclaredField =>
  ({ name, wireType, repeated: false, ...more })
const outer = new Map([
  [1, field('name', 2)],
  [2, field('inner', 2, { message: 'Inner' })],
  [3, field('big', 1)],
  [4, field('small', 5)],
  [6, field('ids', 0, { repeated: true })],
])
const inner = new Map([[1, field('n', 0)], [2, field('inner', 2, { message: 'Inner' })]])
const declared: DeclaredFields = (typeName) => (typeName === 'Outer' ? outer : typeName === 'Inner' ? inner : undefined)
const check = (bytes: number[], typeName = 'Outer') => wireFault(declared, typeName, Uint8Array.from(bytes))

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

  it('maps descriptor types to wire types', () => {
    expect(['TYPE_INT64', 'TYPE_BOOL', 'TYPE_ENUM', 'TYPE_SINT32'].map(wireTypeOf)).toEqual([0, 0, 0, 0])
    expect(['TYPE_DOUBLE', 'TYPE_FIXED64', 'TYPE_SFIXED64'].map(wireTypeOf)).toEqual([1, 1, 1])
    expect(['TYPE_FLOAT', 'TYPE_FIXED32', 'TYPE_SFIXED32'].map(wireTypeOf)).toEqual([5, 5, 5])
    expect(['TYPE_STRING', 'TYPE_BYTES', 'TYPE_MESSAGE'].map(wireTypeOf)).toEqual([2, 2, 2])
  })
})
