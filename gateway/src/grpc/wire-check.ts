/**
 * A check of protobuf wire format, run on a request's bytes before they are
 * decoded. protobufjs (under proto-loader) decodes damaged bytes without an
 * error: it stops at a tag with a wire type that does not exist, reads a
 * length that runs past the end as whatever is left, and reads a field by
 * its number whatever its wire type (a number sent where a string is
 * declared swallows the bytes after it). The engine then saw a message with
 * fields missing, and the caller an answer about a missing field instead of
 * one about its bytes. This walks the message as the schema declares it
 * (into nested messages too) and names the first fault: a tag, varint or
 * fixed-width value cut off, a length past the end of its message, field
 * number 0, a wire type that does not exist, one other than the declared
 * field's, or a group (proto2 only; this schema has none). Fields the
 * schema does not declare are skipped, as protobuf requires.
 *
 * @module
 */

/** What the schema declares of a field: its name, wire type, and nested message type if any. */
export interface DeclaredField {
  name: string
  /** 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
  wireType: 0 | 1 | 2 | 5
  /** Repeated numbers may also come packed (wire type 2). */
  repeated: boolean
  /** The nested message's full type name, for message fields. */
  message?: string
}

/** The declared fields of a message type, by field number. */
export type DeclaredFields = (typeName: string) => ReadonlyMap<number, DeclaredField> | undefined

/** How deep nested messages may go; the schema's own nesting is a few levels. */
export const wireDepthMax = 32

/** A descriptor's field type (`TYPE_STRING`...) as the wire type it is sent with. */
export function wireTypeOf(type: string): 0 | 1 | 2 | 5 {
  switch (type) {
    case 'TYPE_DOUBLE':
    case 'TYPE_FIXED64':
    case 'TYPE_SFIXED64':
      return 1
    case 'TYPE_FLOAT':
    case 'TYPE_FIXED32':
    case 'TYPE_SFIXED32':
      return 5
    case 'TYPE_STRING':
    case 'TYPE_BYTES':
    case 'TYPE_MESSAGE':
    case 'TYPE_GROUP':
      return 2
    default:
      return 0 // the varint kinds: (s/u)int32/64, bool, enum
  }
}

/** The first fault in `bytes` read as a `typeName` message, or undefined when it is well formed. */
export function wireFault(declared: DeclaredFields, typeName: string, bytes: Uint8Array): string | undefined {
  return walk(declared, typeName, bytes, 0, bytes.length, 0)
}

const wireNames = ['a varint', 'a fixed 64-bit value', 'length-delimited bytes', '', '', 'a fixed 32-bit value']

function walk(declared: DeclaredFields, typeName: string, bytes: Uint8Array, start: number, end: number, depth: number): string | undefined {
  if (depth > wireDepthMax) return `messages nested more than ${wireDepthMax} deep at byte ${start}`
  const fields = declared(typeName)
  let at = start
  while (at < end) {
    const tagAt = at
    const tag = varint(bytes, at, end)
    if (typeof tag === 'string') return `a field tag ${tag} at byte ${tagAt}`
    at = tag.next
    const number = Math.floor(tag.value / 8)
    const wireType = tag.value % 8
    if (number === 0) return `field number 0 at byte ${tagAt}`
    if (wireType === 3 || wireType === 4) {
      return `field ${number} at byte ${tagAt} is a group (wire type ${wireType}), which this schema does not use`
    }
    if (wireType > 5) return `field ${number} at byte ${tagAt} has wire type ${wireType}, which does not exist`
    const field = fields?.get(number)
    if (field !== undefined && wireType !== field.wireType && !(field.repeated && wireType === 2)) {
      return `field ${number} (${field.name}) at byte ${tagAt} is sent as ${wireNames[wireType]}, ` +
        `but the schema declares ${wireNames[field.wireType]}`
    }
    switch (wireType) {
      case 0: {
        const value = varint(bytes, at, end)
        if (typeof value === 'string') return `the varint of field ${number} ${value} at byte ${at}`
        at = value.next
        break
      }
      case 1:
      case 5: {
        const width = wireType === 1 ? 8 : 4
        if (at + width > end) return `the ${width}-byte value of field ${number} is cut off at byte ${at}`
        at += width
        break
      }
      default: {
        const length = varint(bytes, at, end)
        if (typeof length === 'string') return `the length of field ${number} ${length} at byte ${at}`
        at = length.next
        if (length.value > end - at) {
          return `field ${number} at byte ${tagAt} claims ${length.value} bytes, but ${end - at} are left`
        }
        if (field?.message !== undefined) {
          const fault = walk(declared, field.message, bytes, at, at + length.value, depth + 1)
          if (fault !== undefined) return fault
        }
        at += length.value
      }
    }
  }
  return undefined
}

/** A base-128 varint (at most 10 bytes) from `at`, or why there is none. */
function varint(bytes: Uint8Array, at: number, end: number): { value: number; next: number } | 'is cut off' | 'is longer than 10 bytes' {
  let value = 0
  let scale = 1
  for (let i = 0; i < 10; i++) {
    if (at + i >= end) return 'is cut off'
    const byte = bytes[at + i]!
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 }
    scale *= 128
  }
  return 'is longer than 10 bytes'
}
