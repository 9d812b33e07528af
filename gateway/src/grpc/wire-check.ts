/**
 * A check of protobuf wire format, run on a request's bytes before they are
 * decoded. protobufjs (under proto-loader) decodes damaged bytes without an
 * error: it stops at a tag with a wire type that does not exist, and reads a
 * length that runs past the end as whatever is left. The engine then saw a
 * message with fields missing, and the caller an answer about a missing field
 * instead of one about its bytes. This walks the message as the schema
 * declares it (into nested messages too) and names the first fault: a tag,
 * varint or fixed-width value cut off, a length past the end of its message,
 * field number 0, a wire type that does not exist, or a group (proto2 only;
 * this schema has none).
 *
 * @module
 */

/** Declared message-typed fields of a message, by field number: the nested type's full name. */
export type NestedTypes = (typeName: string) => ReadonlyMap<number, string> | undefined

/** How deep nested messages may go; the schema's own nesting is a few levels. */
export const wireDepthMax = 32

/** The first fault in `bytes` read as a `typeName` message, or undefined when it is well formed. */
export function wireFault(nested: NestedTypes, typeName: string, bytes: Uint8Array): string | undefined {
  return walk(nested, typeName, bytes, 0, bytes.length, 0)
}

function walk(nested: NestedTypes, typeName: string, bytes: Uint8Array, start: number, end: number, depth: number): string | undefined {
  if (depth > wireDepthMax) return `messages nested more than ${wireDepthMax} deep at byte ${start}`
  const messages = nested(typeName)
  let at = start
  while (at < end) {
    const tagAt = at
    const tag = varint(bytes, at, end)
    if (tag === undefined) return `a field tag is cut off at byte ${tagAt}`
    at = tag.next
    const field = Math.floor(tag.value / 8)
    const wireType = tag.value % 8
    if (field === 0) return `field number 0 at byte ${tagAt}`
    switch (wireType) {
      case 0: {
        const value = varint(bytes, at, end)
        if (value === undefined) return `the varint of field ${field} is cut off at byte ${at}`
        at = value.next
        break
      }
      case 1:
      case 5: {
        const width = wireType === 1 ? 8 : 4
        if (at + width > end) return `the ${width}-byte value of field ${field} is cut off at byte ${at}`
        at += width
        break
      }
      case 2: {
        const length = varint(bytes, at, end)
        if (length === undefined) return `the length of field ${field} is cut off at byte ${at}`
        at = length.next
        if (length.value > end - at) {
          return `field ${field} at byte ${tagAt} claims ${length.value} bytes, but ${end - at} are left`
        }
        const type = messages?.get(field)
        if (type !== undefined) {
          const fault = walk(nested, type, bytes, at, at + length.value, depth + 1)
          if (fault !== undefined) return fault
        }
        at += length.value
        break
      }
      case 3:
      case 4:
        return `field ${field} at byte ${tagAt} is a group (wire type ${wireType}), which this schema does not use`
      default:
        return `field ${field} at byte ${tagAt} has wire type ${wireType}, which does not exist`
    }
  }
  return undefined
}

/** A base-128 varint (at most 10 bytes) from `at`, or undefined when cut off or too long. */
function varint(bytes: Uint8Array, at: number, end: number): { value: number; next: number } | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < 10 && at + i < end; i++) {
    const byte = bytes[at + i]!
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 }
    scale *= 128
  }
  return undefined
}
