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
 * Three more faults made one request read as another:
 *
 * - A tag longer than 32 bits (5 bytes, the fifth at most 0x0f). protobufjs
 *   keeps its low 32 bits, so a tag this check had read as an unknown field
 *   (and skipped) named a declared field to protobufjs. Within 32 bits,
 *   field numbers run 1 to 2^29 - 1, as protobuf allows.
 * - A `string` field whose bytes are not UTF-8 (proto3 requires it).
 *   protobufjs decodes bad sequences as U+FFFD, so different keys and
 *   account ids read the same.
 * - A field set twice in one message: a singular field sent again (protobufjs
 *   keeps the last, even of a nested message, which protobuf merges), or two
 *   members of one oneof (proto-loader reads the first declared and drops the
 *   other). Repeated fields may come many times, packed or not. Which fields
 *   share a oneof is read from the file descriptors (`oneofMembers`).
 *
 * @module
 */
import { isUtf8 } from 'node:buffer'
import descriptor, { type IDescriptorProto, type IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js'

/** What the schema declares of a field: its name, wire type, whether it is a string, its nested message type and oneof if any. */
export interface DeclaredField {
  name: string
  /** 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
  wireType: 0 | 1 | 2 | 5
  /** Repeated numbers may also come packed (wire type 2). */
  repeated: boolean
  /** A `string`, whose bytes must be UTF-8; a `bytes` field's may be anything. */
  string: boolean
  /** The nested message's full type name, for message fields. */
  message?: string
  /** The oneof the field is a member of, if any: one member of it at most may be set. */
  oneof?: string
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

/**
 * The oneof of each field that is in one, by message type (`package.Message`,
 * `package.Outer.Inner`) and field number, read from encoded
 * FileDescriptorProtos (proto-loader's `fileDescriptorProtos`). The decoded
 * descriptors (`definition[name].type`) cannot tell: they are filled in with
 * defaults, so a field outside any oneof reads `oneofIndex: 0` like a member
 * of the first.
 */
export function oneofMembers(files: Iterable<Uint8Array>): Map<string, Map<number, string>> {
  const members = new Map<string, Map<number, string>>()
  for (const file of files) {
    const decoded = descriptor.FileDescriptorProto.decode(file) as unknown as IFileDescriptorProto
    const scope = decoded.package === undefined || decoded.package === '' ? '' : `${decoded.package}.`
    for (const message of decoded.messageType ?? []) addOneofMembers(members, scope, message)
  }
  return members
}

function addOneofMembers(members: Map<string, Map<number, string>>, scope: string, message: IDescriptorProto): void {
  const name = scope + (message.name ?? '')
  const oneofs = (message.oneofDecl ?? []).map((oneof) => oneof.name ?? '')
  const byNumber = new Map<number, string>()
  for (const field of message.field ?? []) {
    // Presence, not the value: protobufjs reads an absent oneof_index as its default, 0.
    if (!Object.hasOwn(field, 'oneofIndex') || field.number === undefined) continue
    const oneof = oneofs[field.oneofIndex!]
    if (oneof !== undefined) byNumber.set(field.number, oneof)
  }
  members.set(name, byNumber)
  for (const nested of message.nestedType ?? []) addOneofMembers(members, `${name}.`, nested)
}

/** The first fault in `bytes` read as a `typeName` message, or undefined when it is well formed. */
export function wireFault(declared: DeclaredFields, typeName: string, bytes: Uint8Array): string | undefined {
  return walk(declared, typeName, bytes, 0, bytes.length, 0)
}

const wireNames = ['a varint', 'a fixed 64-bit value', 'length-delimited bytes', '', '', 'a fixed 32-bit value']

function walk(declared: DeclaredFields, typeName: string, bytes: Uint8Array, start: number, end: number, depth: number): string | undefined {
  if (depth > wireDepthMax) return `messages nested more than ${wireDepthMax} deep at byte ${start}`
  const fields = declared(typeName)
  const present: PresentFields = new Map()
  let at = start
  while (at < end) {
    const tagAt = at
    const tag = fieldTag(bytes, at, end)
    if (typeof tag === 'string') return `a field tag ${tag} at byte ${tagAt}`
    at = tag.next
    const { number, wireType } = tag
    if (number === 0) return `field number 0 at byte ${tagAt}`
    if (wireType === 3 || wireType === 4) {
      return `field ${number} at byte ${tagAt} is a group (wire type ${wireType}), which this schema does not use`
    }
    if (wireType > 5) return `field ${number} at byte ${tagAt} has wire type ${wireType}, which does not exist`
    const field = fields?.get(number)
    if (field !== undefined) {
      if (wireType !== field.wireType && !(field.repeated && wireType === 2)) {
        return `field ${number} (${field.name}) at byte ${tagAt} is sent as ${wireNames[wireType]}, ` +
          `but the schema declares ${wireNames[field.wireType]}`
      }
      const twice = setTwice(present, number, field, tagAt)
      if (twice !== undefined) return twice
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
        } else if (field?.string === true && !isUtf8(bytes.subarray(at, at + length.value))) {
          return `field ${number} (${field.name}) at byte ${tagAt} is not valid UTF-8`
        }
        at += length.value
      }
    }
  }
  return undefined
}

/** The singular fields (and oneofs, by name) a message has set so far, with the field that set each. */
type PresentFields = Map<number | string, { number: number; name: string }>

/** Why `field` may not be set here, if it was set before (or another member of its oneof was). */
function setTwice(present: PresentFields, number: number, field: DeclaredField, tagAt: number): string | undefined {
  if (field.repeated) return undefined
  const key = field.oneof ?? number
  const before = present.get(key)
  if (before === undefined) {
    present.set(key, { number, name: field.name })
    return undefined
  }
  if (before.number === number) return `field ${number} (${field.name}) appears twice, the second time at byte ${tagAt}`
  return `fields ${before.number} (${before.name}) and ${number} (${field.name}) of one oneof ${field.oneof} ` +
    `are both set, the second at byte ${tagAt}`
}

/**
 * A field's tag, read as protobufjs reads it: a varint of at most 32 bits
 * (5 bytes, the fifth at most 0x0f), or why it is not one.
 */
function fieldTag(bytes: Uint8Array, at: number, end: number): { number: number; wireType: number; next: number } | string {
  let value = 0
  for (let i = 0; ; i++) {
    if (at + i >= end) return 'is cut off'
    const byte = bytes[at + i]!
    if (i === 4 && byte > 0x0f) return byte > 0x7f ? 'is longer than 5 bytes' : 'is larger than 32 bits'
    value += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) return { number: Math.floor(value / 8), wireType: value % 8, next: at + i + 1 }
  }
}

/**
 * A base-128 varint (at most 64 bits: 10 bytes, the tenth 0 or 1) from `at`,
 * or why there is none. protobufjs drops bits past the 64th, so a longer one
 * would read as another number than the one sent.
 */
function varint(bytes: Uint8Array, at: number, end: number): { value: number; next: number } | 'is cut off' | 'is longer than 10 bytes' | 'is larger than 64 bits' {
  let value = 0
  let scale = 1
  for (let i = 0; i < 10; i++) {
    if (at + i >= end) return 'is cut off'
    const byte = bytes[at + i]!
    if (i === 9 && byte > 0x01) return byte > 0x7f ? 'is longer than 10 bytes' : 'is larger than 64 bits'
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 }
    scale *= 128
  }
  return 'is longer than 10 bytes'
}
