import { describe, expect, it } from 'vitest'
import { wireDepthMax, wireFault, type NestedTypes } from './wire-check.ts'

/** Outer { 1: string, 2: Inner, 3: fixed64, 4: fixed32 }; Inner { 1: varint, 2: Inner }. */
const nested: NestedTypes = (typeName) =>
  typeName === 'Outer' ? new Map([[2, 'Inner']]) : typeName === 'Inner' ? new Map([[2, 'Inner']]) : undefined
const check = (bytes: number[], typeName = 'Outer') => wireFault(nested, typeName, Uint8Array.from(bytes))

describe('wireFault', () => {
  it('passes well-formed messages, empty ones, and unknown fields of every wire type', () => {
    expect(check([])).toBeUndefined()
    const fixed64 = [0x19, 1, 2, 3, 4, 5, 6, 7, 8]
    const fixed32 = [0x25, 1, 2, 3, 4]
    const inner = [0x12, 0x05, 0x08, 0x96, 0x01, 0x12, 0x00] // Inner { 1: 150, 2: {} }
    expect(check([0x0a, 0x02, 0x68, 0x69, ...inner, ...fixed64, ...fixed32, 0xf8, 0x3f, 0x01])).toBeUndefined()
  })

  it('names each fault with its field and byte', () => {
    expect(check([0x80])).toBe('a field tag is cut off at byte 0')
    expect(check([0x08, 0xff, 0xff])).toBe('the varint of field 1 is cut off at byte 1')
    expect(check([0x19, 1, 2, 3])).toBe('the 8-byte value of field 3 is cut off at byte 1')
    expect(check([0x25, 1, 2])).toBe('the 4-byte value of field 4 is cut off at byte 1')
    expect(check([0x0a])).toBe('the length of field 1 is cut off at byte 1')
    expect(check([0x0a, 0x05, 0x68])).toBe('field 1 at byte 0 claims 5 bytes, but 1 are left')
    expect(check([0x0e])).toBe('field 1 at byte 0 has wire type 6, which does not exist')
    expect(check([0x14])).toBe('field 2 at byte 0 is a group (wire type 4), which this schema does not use')
    expect(check([0x02, 0x00])).toBe('field number 0 at byte 0')
    // A varint longer than 10 bytes is not one.
    expect(check([0x08, ...Array(10).fill(0xff), 0x01])).toBe('the varint of field 1 is cut off at byte 1')
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
})
