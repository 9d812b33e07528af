/**
 * WebSocket frames: a request is one object `{ id, op, ...fields }`, as JSON
 * in a text frame or MessagePack in a binary frame; its reply comes back in
 * the same encoding as `{ id, status, ...fields }`. Field names are the
 * lowerCamelCase names of `proto/loyalty.proto`.
 *
 * Decoding never throws: a frame that is not an object with a usable id and op
 * becomes an `invalid_request` reply naming what is wrong.
 *
 * @module
 */
import { Packr } from 'msgpackr'
import type { Reply } from '@loyalty/engine'
import { ambiguity, describeAmbiguity, jsonSyntaxProblem } from './json.ts'
import { frameValueProblem, nestsDeeper } from './msgpack.ts'

/** Largest request frame accepted; larger ones get `invalid_request` (the connection stays). */
export const frameBytesMax = 64 * 1024
export const idLengthMax = 64
/** Arrays and maps inside one another in a MessagePack frame, at most (a purchase's basket lines are 3). */
export const nestingMax = 32

export type Encoding = 'json' | 'msgpack'
export type CorrelationId = string | number

export interface Request {
  id: CorrelationId
  op: unknown
  fields: Record<string, unknown>
}

export type Decoded = { ok: true; request: Request } | { ok: false; id: CorrelationId | undefined; reply: Reply }

// Plain MessagePack (no record extension), so any client library can speak it.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

function invalid(id: CorrelationId | undefined, field: string, message: string): Decoded {
  return { ok: false, id, reply: { status: 'invalid_request', field, message } }
}

function validId(id: unknown): id is CorrelationId {
  if (typeof id === 'string') return id.length > 0 && id.length <= idLengthMax
  return typeof id === 'number' && Number.isSafeInteger(id)
}

export function decodeFrame(data: ArrayBuffer, binary: boolean): Decoded {
  const decoded = decodeEnvelope(data, binary)
  if (data.byteLength <= frameBytesMax) return decoded
  // Still decoded (uWS caps frames at 1 MiB), so the refusal carries the request's id.
  const id = decoded.ok ? decoded.request.id : decoded.id
  return invalid(id, 'frame', `a frame may have at most ${frameBytesMax} bytes, this one has ${data.byteLength}`)
}

function decodeEnvelope(data: ArrayBuffer, binary: boolean): Decoded {
  let value: unknown
  let text: string | undefined
  if (binary && nestsDeeper(new Uint8Array(data), nestingMax)) {
    return invalid(undefined, 'frame', `the frame nests deeper than ${nestingMax} levels (arrays and maps)`)
  }
  try {
    if (binary) value = packr.unpack(new Uint8Array(data))
    else value = JSON.parse((text = Buffer.from(data).toString('utf8')))
  } catch (error) {
    // Nesting that `nestsDeeper` cannot count: msgpackr's extensions (records, sets, errors) read
    // further values inside themselves, each a level of its recursion.
    if (binary && error instanceof RangeError && /call stack/.test(error.message)) {
      return invalid(undefined, 'frame', 'the frame nests too deep to read (MessagePack extensions holding values inside one another)')
    }
    const what = binary ? 'MessagePack' : 'JSON'
    const problem = binary ? msgpackProblem(data, error) : jsonSyntaxProblem(error)
    return invalid(undefined, 'frame', `the frame is not valid ${what}: ${problem}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid(undefined, 'frame', 'a frame must be an object { id, op, ... }')
  }
  const { id, op, ...fields } = value as Record<string, unknown>
  if (!validId(id)) {
    return invalid(undefined, 'id', `id must be a string of 1 to ${idLengthMax} characters or an integer`)
  }
  if (typeof op !== 'string') return invalid(id, 'op', 'op must be a string')
  if (text === undefined) {
    const problem = frameValueProblem(new Uint8Array(data))
    if (problem !== undefined) return invalid(id, problem.field, problem.message)
  } else {
    const found = ambiguity(text)
    if (found !== undefined) {
      const { field, message } = describeAmbiguity(found, 'frame')
      return invalid(id, field, message)
    }
  }
  return { ok: true, request: { id, op, fields } }
}

/**
 * What msgpackr found wrong, in words that do not repeat the frame: for bytes
 * after a whole object it quotes the object, which may hold a secret.
 */
function msgpackProblem(data: ArrayBuffer, error: unknown): string {
  const message = (error as Error).message
  if (!message.startsWith('Data read, but end of buffer not reached')) return message
  let end: number | undefined
  try {
    // Read the first value only, for where it ends.
    packr.unpackMultiple(new Uint8Array(data), (_value: unknown, _start?: number, next?: number) => {
      end = next
      return false
    })
  } catch {
    // The first value was read once already; whatever follows it need not be MessagePack.
  }
  return end === undefined ? 'bytes follow its object' : `${data.byteLength - end} bytes follow its object`
}

export function encodeFrame(message: object, encoding: Encoding): string | Uint8Array {
  return encoding === 'json' ? JSON.stringify(message) : packr.pack(message)
}

/** The reply frame: the correlation id first, then the reply's fields. */
export function replyFrame(id: CorrelationId | undefined, reply: Reply): object {
  return id === undefined ? reply : { id, ...reply }
}
