/**
 * MessagePack that means one thing: msgpackr, like `JSON.parse`, keeps the
 * last of two equal keys in a map (`{points: 5, points: 7}` is 7), and has
 * no option to refuse them. This walks the bytes msgpackr has just decoded
 * and names the first key a map holds twice, as `json.ts` does for JSON.
 *
 * @module
 */

/** The bytes being walked, and the next one to read. */
interface Cursor {
  bytes: Uint8Array
  view: DataView
  at: number
}

const utf8 = new TextDecoder()

/**
 * The first key that appears twice in one map of `bytes`, which must be
 * valid MessagePack (decode it first); undefined when there is none. String
 * keys are compared as text, others by their encoded bytes.
 */
export function repeatedMsgpackKey(bytes: Uint8Array): string | undefined {
  const cursor: Cursor = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at: 0 }
  return value(cursor)
}

/** Skips one value, checking the maps inside it; the first repeated key, if any. */
function value(cursor: Cursor): string | undefined {
  const { bytes, view } = cursor
  const type = bytes[cursor.at++]!
  if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) return undefined
  if (type >= 0x80 && type <= 0x8f) return map(cursor, type & 0x0f)
  if (type >= 0x90 && type <= 0x9f) return array(cursor, type & 0x0f)
  if (type >= 0xa0 && type <= 0xbf) {
    cursor.at += type & 0x1f
    return undefined
  }
  const read = (width: 1 | 2 | 4): number => {
    const at = cursor.at
    cursor.at += width
    return width === 1 ? view.getUint8(at) : width === 2 ? view.getUint16(at) : view.getUint32(at)
  }
  // The length is read first: in one expression with `cursor.at +=`, the addition would start from the position before `read` moved it.
  const skip = (width: 1 | 2 | 4, extra = 0): undefined => {
    const length = read(width)
    cursor.at += length + extra
    return undefined
  }
  switch (type) {
    case 0xc4: case 0xd9: return skip(1) // bin 8, str 8
    case 0xc5: case 0xda: return skip(2) // bin 16, str 16
    case 0xc6: case 0xdb: return skip(4) // bin 32, str 32
    case 0xc7: return skip(1, 1) // ext 8: length, type, data
    case 0xc8: return skip(2, 1)
    case 0xc9: return skip(4, 1)
    case 0xcc: case 0xd0: cursor.at += 1; return undefined // (u)int 8
    case 0xcd: case 0xd1: cursor.at += 2; return undefined
    case 0xca: case 0xce: case 0xd2: cursor.at += 4; return undefined // float 32, (u)int 32
    case 0xcb: case 0xcf: case 0xd3: cursor.at += 8; return undefined // float 64, (u)int 64
    case 0xd4: cursor.at += 2; return undefined // fixext 1: type, data
    case 0xd5: cursor.at += 3; return undefined
    case 0xd6: cursor.at += 5; return undefined
    case 0xd7: cursor.at += 9; return undefined
    case 0xd8: cursor.at += 17; return undefined
    case 0xdc: return array(cursor, read(2))
    case 0xdd: return array(cursor, read(4))
    case 0xde: return map(cursor, read(2))
    case 0xdf: return map(cursor, read(4))
    default: return undefined // 0xc1 is never used; msgpackr refused it already
  }
}

function array(cursor: Cursor, length: number): string | undefined {
  for (let i = 0; i < length; i++) {
    const repeated = value(cursor)
    if (repeated !== undefined) return repeated
  }
  return undefined
}

function map(cursor: Cursor, entries: number): string | undefined {
  // Text keys and other keys apart: "1" and 1 are two keys.
  const keys = new Set<string>()
  for (let i = 0; i < entries; i++) {
    const start = cursor.at
    const inKey = value(cursor)
    if (inKey !== undefined) return inKey
    const key = keyOf(cursor.bytes, start, cursor.at)
    if (keys.has(key)) return key.slice(1)
    keys.add(key)
    const inValue = value(cursor)
    if (inValue !== undefined) return inValue
  }
  return undefined
}

/** A key: `"` and a string's text, or `#` and a description of any other key's bytes. */
function keyOf(bytes: Uint8Array, start: number, end: number): string {
  const type = bytes[start]!
  const header = type >= 0xa0 && type <= 0xbf ? 1 : type === 0xd9 ? 2 : type === 0xda ? 3 : type === 0xdb ? 5 : 0
  if (header > 0) return `"${utf8.decode(bytes.subarray(start + header, end))}`
  return `#(a key that is not a string, bytes ${Buffer.from(bytes.subarray(start, end)).toString('hex')})`
}

/** A value in a MessagePack frame that has no JSON meaning, and where it is. */
export interface ForeignValue {
  /** Its path: `source`, `basket.lines[0].sku`; `frame` for the top-level map's keys. */
  field: string
  message: string
}

/**
 * The first value in `bytes` (valid MessagePack, decoded first) that JSON
 * could not have said: a map key that is not a string, binary data, or an
 * extension type. msgpackr decodes these as `"1"` (merging key 1 with key
 * "1"), Uint8Array, Date, BigInt or typed arrays, which the engine's checks
 * read as empty objects (a Date `source` passed as no source at all).
 * Frames are JSON-shaped objects in either encoding; these are refused,
 * naming the field.
 */
export function foreignMsgpackValue(bytes: Uint8Array): ForeignValue | undefined {
  const cursor: Cursor = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at: 0 }
  return plain(cursor, '')
}

const fieldPath = (parent: string, name: string) => (parent === '' ? name : `${parent}.${name}`)

/** Reads one value, checking that it and everything in it is JSON-shaped. */
function plain(cursor: Cursor, path: string): ForeignValue | undefined {
  const { bytes, view } = cursor
  const field = path === '' ? 'frame' : path
  const type = bytes[cursor.at++]!
  if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) return undefined
  if (type >= 0xa0 && type <= 0xbf) {
    cursor.at += type & 0x1f
    return undefined
  }
  const read = (width: 1 | 2 | 4): number => {
    const at = cursor.at
    cursor.at += width
    return width === 1 ? view.getUint8(at) : width === 2 ? view.getUint16(at) : view.getUint32(at)
  }
  const entries = (count: number): ForeignValue | undefined => {
    for (let i = 0; i < count; i++) {
      const start = cursor.at
      const keyType = bytes[start]!
      const header = keyType >= 0xa0 && keyType <= 0xbf ? 1 : keyType === 0xd9 ? 2 : keyType === 0xda ? 3 : keyType === 0xdb ? 5 : 0
      if (header === 0) {
        value(cursor) // skipped, for its bytes
        const hex = Buffer.from(bytes.subarray(start, cursor.at)).toString('hex')
        const where = path === '' ? 'the frame' : path
        return { field, message: `${where} has a key that is not a string (MessagePack bytes ${hex.slice(0, 32)}${hex.length > 32 ? '...' : ''}); keys must be strings` }
      }
      const length = header === 1 ? keyType & 0x1f : header === 2 ? view.getUint8(start + 1) : header === 3 ? view.getUint16(start + 1) : view.getUint32(start + 1)
      const key = utf8.decode(bytes.subarray(start + header, start + header + length))
      cursor.at = start + header + length
      const inner = plain(cursor, fieldPath(path, key))
      if (inner !== undefined) return inner
    }
    return undefined
  }
  const items = (count: number): ForeignValue | undefined => {
    for (let i = 0; i < count; i++) {
      const inner = plain(cursor, `${field}[${i}]`)
      if (inner !== undefined) return inner
    }
    return undefined
  }
  if (type >= 0x80 && type <= 0x8f) return entries(type & 0x0f)
  if (type >= 0x90 && type <= 0x9f) return items(type & 0x0f)
  switch (type) {
    case 0xd9: cursor.at += read(1); return undefined // str 8
    case 0xda: cursor.at += read(2); return undefined
    case 0xdb: cursor.at += read(4); return undefined
    case 0xcc: case 0xd0: cursor.at += 1; return undefined // (u)int 8
    case 0xcd: case 0xd1: cursor.at += 2; return undefined
    case 0xca: case 0xce: case 0xd2: cursor.at += 4; return undefined // float 32, (u)int 32
    case 0xcb: case 0xcf: case 0xd3: cursor.at += 8; return undefined // float 64, (u)int 64
    case 0xdc: return items(read(2))
    case 0xdd: return items(read(4))
    case 0xde: return entries(read(2))
    case 0xdf: return entries(read(4))
    case 0xc4: case 0xc5: case 0xc6:
      return { field, message: `${field} is binary data (MessagePack bin); send text as a string` }
    default: {
      // ext 8/16/32 and fixext 1 to 16: the type byte follows the length, if any.
      const typeAt = type === 0xc7 ? cursor.at + 1 : type === 0xc8 ? cursor.at + 2 : type === 0xc9 ? cursor.at + 4 : cursor.at
      const ext = view.getInt8(typeAt)
      const kind = ext === -1 ? 'a timestamp, ' : ''
      return { field, message: `${field} is a MessagePack extension (${kind}type ${ext}); frames hold only strings, numbers, booleans, nil, arrays and maps` }
    }
  }
}

/**
 * Whether `bytes` (not yet decoded, so perhaps cut short) open more than
 * `max` arrays and maps inside one another. Read without recursion, before
 * msgpackr, whose recursion (and that of the checks after it) would
 * otherwise be the limit: a stack overflow, and a message that said so.
 */
export function nestsDeeper(bytes: Uint8Array, max: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  /** Values still to read in each array or map open now. */
  const open: number[] = []
  let at = 0
  const length = bytes.length
  const uint = (width: 1 | 2 | 4): number | undefined => {
    if (at + width > length) return undefined
    const value = width === 1 ? view.getUint8(at) : width === 2 ? view.getUint16(at) : view.getUint32(at)
    at += width
    return value
  }
  while (at < length) {
    const type = bytes[at++]!
    let items = 0
    if (type >= 0x80 && type <= 0x8f) items = 2 * (type & 0x0f)
    else if (type >= 0x90 && type <= 0x9f) items = type & 0x0f
    else if (type >= 0xa0 && type <= 0xbf) at += type & 0x1f
    else {
      let size: number | undefined = 0
      switch (type) {
        case 0xc4: case 0xd9: size = uint(1); break
        case 0xc5: case 0xda: size = uint(2); break
        case 0xc6: case 0xdb: size = uint(4); break
        case 0xc7: size = (uint(1) ?? NaN) + 1; break
        case 0xc8: size = (uint(2) ?? NaN) + 1; break
        case 0xc9: size = (uint(4) ?? NaN) + 1; break
        case 0xcc: case 0xd0: size = 1; break
        case 0xcd: case 0xd1: size = 2; break
        case 0xca: case 0xce: case 0xd2: size = 4; break
        case 0xcb: case 0xcf: case 0xd3: size = 8; break
        case 0xd4: size = 2; break
        case 0xd5: size = 3; break
        case 0xd6: size = 5; break
        case 0xd7: size = 9; break
        case 0xd8: size = 17; break
        case 0xdc: items = uint(2) ?? 0; break
        case 0xdd: items = uint(4) ?? 0; break
        case 0xde: items = 2 * (uint(2) ?? 0); break
        case 0xdf: items = 2 * (uint(4) ?? 0); break
        default: size = 0 // nil, booleans, fixints; 0xc1 is msgpackr's to refuse
      }
      if (size === undefined || Number.isNaN(size)) return false
      at += size
    }
    if (items > 0) {
      open.push(items)
      if (open.length > max) return true
      continue
    }
    // One whole value read: it fills a place in the arrays and maps around it.
    while (open.length > 0 && --open[open.length - 1]! === 0) open.pop()
    if (open.length === 0) return false
  }
  return false
}
