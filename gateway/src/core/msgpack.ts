/**
 * MessagePack frames that mean what a JSON frame would: checks on the bytes
 * of a frame, beside msgpackr's decoding (see `frameValueProblem`, `nestsDeeper`).
 *
 * @module
 */

const utf8 = new TextDecoder()

/** Something in a frame's MessagePack that JSON could not have said, and where. */
export interface ValueProblem {
  /** Its path (`source`, `basket.lines[0]`), `frame` for the top-level map, or the repeated key. */
  field: string
  message: string
}

/**
 * The first thing in `bytes` (valid MessagePack, decoded first) that a JSON
 * frame could not hold, in byte order:
 * - a key twice in one map: msgpackr, like `JSON.parse`, keeps the last
 *   (`{points: 5, points: 7}` is 7) and has no option to refuse them;
 * - a map key that is not a string (msgpackr merges key 1 with "1");
 * - binary data or an extension type, which msgpackr decodes as Uint8Array,
 *   Date, BigInt or typed arrays, and the engine's checks read as empty
 *   objects (a Date `source` passed as no source at all).
 * Frames are JSON-shaped objects in either encoding; these are refused,
 * naming the field. One walk over the bytes, recursive (the caller has
 * bounded the nesting, see `nestsDeeper`), with no closures and no key
 * decoded unless it is reported: it runs on every MessagePack frame.
 */
export function frameValueProblem(bytes: Uint8Array): ValueProblem | undefined {
  const walk: Walk = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at: 0, keys: [] }
  const found = value(walk)
  if (found === undefined) return undefined
  if (found.kind === 'repeated') return { field: found.detail, message: `the frame has the key ${JSON.stringify(found.detail)} twice in one object` }
  const path = found.path.reverse().join('').replace(/^\./, '')
  const field = path === '' ? 'frame' : path
  switch (found.kind) {
    case 'key':
      return { field, message: `${path === '' ? 'the frame' : path} has a key that is not a string (MessagePack bytes ${found.detail}); keys must be strings` }
    case 'bin':
      return { field, message: `${field} is binary data (MessagePack bin); send text as a string` }
    case 'ext':
      return { field, message: `${field} is a MessagePack extension (${found.detail === '-1' ? 'a timestamp, ' : ''}type ${found.detail}); frames hold only strings, numbers, booleans, nil, arrays and maps` }
    case 'unused':
      return { field, message: `${field} is the byte 0xc1, which MessagePack never uses; frames hold only strings, numbers, booleans, nil, arrays and maps` }
  }
}

/** The bytes being walked, the next one to read, and the key spans of the maps open now (start, end). */
interface Walk {
  bytes: Uint8Array
  view: DataView
  at: number
  keys: number[]
}

interface Found {
  kind: 'repeated' | 'key' | 'bin' | 'ext' | 'unused'
  /** The repeated key, a non-string key's bytes in hex, the extension's type, or the unused byte. */
  detail: string
  /** Path segments (`.name`, `[i]`), innermost first: added as the walk unwinds. */
  path: string[]
}

const found = (kind: Found['kind'], detail: string): Found => ({ kind, detail, path: [] })

/** Skips one value, checking everything in it. */
function value(walk: Walk): Found | undefined {
  const { bytes, view } = walk
  const type = bytes[walk.at++]!
  if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) return undefined
  if (type <= 0x8f) return map(walk, type & 0x0f)
  if (type <= 0x9f) return array(walk, type & 0x0f)
  if (type <= 0xbf) {
    walk.at += type & 0x1f
    return undefined
  }
  const at = walk.at
  switch (type) {
    case 0xd9: walk.at = at + 1 + view.getUint8(at); return undefined // str 8
    case 0xda: walk.at = at + 2 + view.getUint16(at); return undefined
    case 0xdb: walk.at = at + 4 + view.getUint32(at); return undefined
    case 0xcc: case 0xd0: walk.at = at + 1; return undefined // (u)int 8
    case 0xcd: case 0xd1: walk.at = at + 2; return undefined
    case 0xca: case 0xce: case 0xd2: walk.at = at + 4; return undefined // float 32, (u)int 32
    case 0xcb: case 0xcf: case 0xd3: walk.at = at + 8; return undefined // float 64, (u)int 64
    case 0xdc: walk.at = at + 2; return array(walk, view.getUint16(at))
    case 0xdd: walk.at = at + 4; return array(walk, view.getUint32(at))
    case 0xde: walk.at = at + 2; return map(walk, view.getUint16(at))
    case 0xdf: walk.at = at + 4; return map(walk, view.getUint32(at))
    case 0xc4: case 0xc5: case 0xc6: return found('bin', '')
    // Never used by MessagePack, yet msgpackr reads it (as an object), with nothing after it.
    case 0xc1: return found('unused', 'c1')
    default: {
      // ext 8/16/32 and fixext 1 to 16: the type byte follows the length, if any.
      const typeAt = type === 0xc7 ? at + 1 : type === 0xc8 ? at + 2 : type === 0xc9 ? at + 4 : at
      return found('ext', typeAt < bytes.length ? String(view.getInt8(typeAt)) : '?')
    }
  }
}

function array(walk: Walk, length: number): Found | undefined {
  for (let i = 0; i < length; i++) {
    const inner = value(walk)
    if (inner !== undefined) {
      inner.path.push(`[${i}]`)
      return inner
    }
  }
  return undefined
}

/**
 * Maps with more entries than this have their keys compared as text in a
 * set: compared with every key before it, a frame's one big map (a map 16
 * or 32 of 40,000 one-letter keys fits in a frame uWS lets through) took
 * seconds. Small maps, every frame's, decode no key.
 */
const keysComparedInPlaceMax = 16

function map(walk: Walk, entries: number): Found | undefined {
  const { bytes, view, keys } = walk
  const base = keys.length
  const seen = entries > keysComparedInPlaceMax ? new Set<string>() : undefined
  let problem: Found | undefined
  for (let i = 0; i < entries && problem === undefined; i++) {
    const start = walk.at
    const type = bytes[start]!
    const header = type >= 0xa0 && type <= 0xbf ? 1 : type === 0xd9 ? 2 : type === 0xda ? 3 : type === 0xdb ? 5 : 0
    if (header === 0) {
      value(walk) // skipped, for its bytes
      const hex = Buffer.from(bytes.subarray(start, walk.at)).toString('hex')
      problem = found('key', hex.length > 32 ? `${hex.slice(0, 32)}...` : hex)
      break
    }
    const length = header === 1 ? type & 0x1f : header === 2 ? view.getUint8(start + 1) : header === 3 ? view.getUint16(start + 1) : view.getUint32(start + 1)
    const from = start + header
    const to = from + length
    if (seen !== undefined) {
      const key = utf8.decode(bytes.subarray(from, to))
      if (seen.has(key)) problem = found('repeated', key)
      else seen.add(key)
    } else {
      for (let k = base; k < keys.length; k += 2) {
        if (sameBytes(bytes, keys[k]!, keys[k + 1]!, from, to)) problem = found('repeated', utf8.decode(bytes.subarray(from, to)))
      }
      keys.push(from, to)
    }
    if (problem !== undefined) break
    walk.at = to
    problem = value(walk)
    problem?.path.push(`.${utf8.decode(bytes.subarray(from, to))}`)
  }
  keys.length = base
  return problem
}

function sameBytes(bytes: Uint8Array, aFrom: number, aTo: number, bFrom: number, bTo: number): boolean {
  if (aTo - aFrom !== bTo - bFrom) return false
  for (let i = 0; i < aTo - aFrom; i++) if (bytes[aFrom + i] !== bytes[bFrom + i]) return false
  return true
}

/** Bytes of the length or count that follows each type byte that has one (bin, ext, str, array, map). */
const lengthWidth: Record<number, 1 | 2 | 4> = {
  0xc4: 1, 0xc5: 2, 0xc6: 4, 0xc7: 1, 0xc8: 2, 0xc9: 4, 0xd9: 1, 0xda: 2, 0xdb: 4, 0xdc: 2, 0xdd: 4, 0xde: 2, 0xdf: 4,
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
  while (at < length) {
    const type = bytes[at++]!
    let items = 0
    if (type >= 0x80 && type <= 0x8f) items = 2 * (type & 0x0f)
    else if (type >= 0x90 && type <= 0x9f) items = type & 0x0f
    else if (type >= 0xa0 && type <= 0xbf) at += type & 0x1f
    else {
      // A length or count of `width` bytes at `at`, or -1 past the end; read before `at` moves past it.
      const width = lengthWidth[type] ?? 0
      const counted = width === 0 ? 0 : at + width > length ? -1 : width === 1 ? view.getUint8(at) : width === 2 ? view.getUint16(at) : view.getUint32(at)
      if (counted < 0) return false
      at += width
      let size = 0
      switch (type) {
        case 0xc4: case 0xc5: case 0xc6: case 0xd9: case 0xda: case 0xdb: size = counted; break
        case 0xc7: case 0xc8: case 0xc9: size = counted + 1; break
        case 0xcc: case 0xd0: size = 1; break
        case 0xcd: case 0xd1: size = 2; break
        case 0xca: case 0xce: case 0xd2: size = 4; break
        case 0xcb: case 0xcf: case 0xd3: size = 8; break
        case 0xd4: size = 2; break
        case 0xd5: size = 3; break
        case 0xd6: size = 5; break
        case 0xd7: size = 9; break
        case 0xd8: size = 17; break
        case 0xdc: case 0xdd: items = counted; break
        case 0xde: case 0xdf: items = 2 * counted; break
        default: size = 0 // nil, booleans, fixints; 0xc1 is msgpackr's to refuse
      }
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
