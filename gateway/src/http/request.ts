/**
 * Reading REST requests: JSON bodies (bounded, objects only), query integers
 * and the fields of admin bodies. Everything here refuses by throwing a
 * `Refusal`, which the app's error handler turns into the reply it carries:
 * a bad request stops where it is found, and nothing after it runs.
 *
 * @module
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { unprintableProblem, type Reply } from '@loyalty/engine'
import { ambiguity, describeAmbiguity, jsonSyntaxProblem } from '../core/json.ts'

/** Largest request body accepted, as for WebSocket frames (a route may allow more: rulesets). */
export const bodyBytesMax = 64 * 1024

export type Body = Record<string, unknown>

/** A reply body: a Reply, sometimes with fields of its own (`errors`). */
export type ReplyBody = Reply & Record<string, unknown>

/** A request refused by the adapter before (or instead of) the engine. */
export class Refusal extends Error {
  constructor(
    readonly httpStatus: ContentfulStatusCode,
    readonly reply: ReplyBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(reply.message)
  }
}

export function invalid(
  field: string,
  message: string,
  httpStatus: ContentfulStatusCode = 400,
): Refusal {
  return new Refusal(httpStatus, { status: 'invalid_request', field, message })
}

export function forbidden(message: string): Refusal {
  return new Refusal(403, { status: 'unauthorized', message })
}

const jsonType = /^application\/json\s*(?:;|$)/i
/** A charset parameter, if the Content-Type has one: JSON is UTF-8 (RFC 8259), and is read as UTF-8. */
const charsetParameter = /;\s*charset\s*=\s*"?([^";\s]*)"?/i
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The request's body as a JSON object: 415 unless the Content-Type is
 * `application/json` (with no charset, or UTF-8) and the body is not
 * compressed (see `uncompressed`), 400 naming `body` when it is over `bytesMax`, not UTF-8, not
 * JSON, or JSON but not an object, and naming the key when an object has
 * one key twice.
 */
export async function jsonBody(c: Context, bytesMax = bodyBytesMax): Promise<Body> {
  if (!jsonType.test(c.req.header('content-type') ?? '')) {
    const message = 'the body must be JSON, sent with Content-Type: application/json'
    throw new Refusal(415, { status: 'invalid_request', field: 'content-type', message })
  }
  const charset = charsetParameter.exec(c.req.header('content-type') ?? '')?.[1]
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    // Read as UTF-8 regardless, a latin1 "é" would come out as something else, or be refused as not UTF-8.
    const message = `the body must be UTF-8 JSON; charset=${charset} is not read (send charset=utf-8, or none)`
    throw new Refusal(415, { status: 'invalid_request', field: 'content-type', message })
  }
  uncompressed(c)
  const text = await bodyText(c.req.raw, bytesMax)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw invalid('body', `the body is not valid JSON: ${jsonSyntaxProblem(error)}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('body', 'the body must be a JSON object')
  }
  const found = ambiguity(text)
  if (found !== undefined) {
    const { field, message } = describeAmbiguity(found, 'body')
    throw invalid(field, message)
  }
  return value as Body
}

/**
 * Refuses a body sent with a Content-Encoding other than `identity` (415,
 * naming `content-encoding`, with `Accept-Encoding: identity`): bodies are
 * read as they come, so gzip bytes were refused as "not valid UTF-8", and
 * plain JSON labelled `br` was taken as it was.
 */
export function uncompressed(c: Context): void {
  const header = c.req.header('content-encoding')
  if (header === undefined) return
  const codings = header.split(',').map((coding) => coding.trim()).filter((coding) => coding !== '' && !/^identity$/i.test(coding))
  if (codings.length === 0) return
  const message = `the body must not be compressed: Content-Encoding ${codings.join(', ')} is not read (send the body as it is, with no Content-Encoding)`
  throw new Refusal(415, { status: 'invalid_request', field: 'content-encoding', message }, { 'Accept-Encoding': 'identity' })
}

function tooLarge(bytesMax: number, bytes: number | string): Refusal {
  return invalid('body', `the body may have at most ${bytesMax} bytes, this one has ${bytes}`)
}

/** Reads at most `bytesMax` bytes; a chunked body is cut off as soon as it passes that. */
async function bodyText(request: Request, bytesMax: number): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > bytesMax) throw tooLarge(bytesMax, declared)
  let bytes: Uint8Array
  if (declared !== null) {
    // Node's parser holds a body to its declared length, so reading it whole is bounded.
    bytes = new Uint8Array(await request.arrayBuffer())
  } else {
    bytes = await boundedRead(request.body, bytesMax)
  }
  try {
    return utf8.decode(bytes)
  } catch {
    throw invalid('body', 'the body is not valid UTF-8')
  }
}

async function boundedRead(stream: ReadableStream<Uint8Array> | null, bytesMax: number): Promise<Uint8Array> {
  if (stream === null) return new Uint8Array(0)
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > bytesMax) {
      await reader.cancel()
      throw tooLarge(bytesMax, `more than ${bytesMax}`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}

/** The query's parameters, refusing any but `allowed`: a misspelt filter must not match all. */
export function queryFields(c: Context, allowed: readonly string[]): Body {
  const fields: Body = {}
  for (const [name, value] of Object.entries(c.req.query())) {
    if (!allowed.includes(name)) throw invalid(name, `${name} is not a query parameter here`)
    fields[name] = value
  }
  return fields
}

const integerText = /^-?\d{1,16}$/

/** An optional integer query parameter (`?limit=10`); anything else names the parameter. */
export function queryInteger(c: Context, name: string, bounds?: { min: number; max: number }) {
  const raw = c.req.query(name)
  if (raw === undefined) return undefined
  const value = Number(raw)
  if (!integerText.test(raw) || !Number.isSafeInteger(value)) {
    throw invalid(name, `${name} must be an integer`)
  }
  if (bounds !== undefined && (value < bounds.min || value > bounds.max)) {
    throw invalid(name, `${name} must be between ${bounds.min} and ${bounds.max}`)
  }
  return value
}

/** An optional `true`/`false` query parameter; absent is false. */
export function queryBoolean(c: Context, name: string): boolean {
  const raw = c.req.query(name)
  if (raw === undefined || raw === 'false') return false
  if (raw === 'true') return true
  throw invalid(name, `${name} must be true or false`)
}

/** A positive integer path parameter (a ruleset version). */
export function pathInteger(c: Context, name: string): number {
  const raw = c.req.param(name) ?? ''
  const value = Number(raw)
  if (!/^\d{1,15}$/.test(raw) || value < 1) {
    throw invalid(name, `${name} must be a positive integer`)
  }
  return value
}

const join = (parent: string, name: string) => (parent === '' ? name : `${parent}.${name}`)

/** Refuses fields the body should not have, naming the first. */
export function onlyFields(body: Body, allowed: readonly string[], parent = '') {
  for (const name of Object.keys(body)) {
    const path = join(parent, name)
    if (!allowed.includes(name)) throw invalid(path, `${path} is not a known field`)
  }
}

export interface TextRule {
  max: number
  /** What the text must look like, and how to say so. */
  pattern?: { test: RegExp; says: string }
  min?: number
  /**
   * Which characters it may hold: by default none that are control or
   * invisible characters (a name that shows as something else, a log line
   * forged with a line break); `text` also allows tabs and line breaks;
   * `any` is for secrets, which are never shown.
   */
  characters?: 'printable' | 'text' | 'any'
}

export function optionalText(body: Body, field: string, rule: TextRule, parent = '') {
  const value = body[field]
  if (value === undefined) return undefined
  const name = join(parent, field)
  const min = rule.min ?? 1
  if (typeof value !== 'string') throw invalid(name, `${name} must be a string`)
  if (value.length < min || value.length > rule.max) {
    throw invalid(name, `${name} must have ${min} to ${rule.max} characters`)
  }
  if (rule.pattern !== undefined && !rule.pattern.test.test(value)) {
    throw invalid(name, `${name} ${rule.pattern.says}`)
  }
  const characters = rule.characters ?? 'printable'
  const problem = characters === 'any' ? undefined : unprintableProblem(name, value, characters === 'text')
  if (problem !== undefined) throw invalid(name, problem)
  return value
}

export function text(body: Body, field: string, rule: TextRule, parent = ''): string {
  const value = optionalText(body, field, rule, parent)
  if (value === undefined) throw invalid(join(parent, field), `${join(parent, field)} is required`)
  return value
}

export function oneOf<const T extends string>(body: Body, field: string, values: readonly T[]): T {
  const value = body[field]
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw invalid(field, `${field} must be one of ${values.join(', ')}`)
  }
  return value as T
}

export function optionalInteger(body: Body, field: string, min: number): number | undefined {
  const value = body[field]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(field, `${field} must be an integer of at least ${min}`)
  }
  return value
}

export function optionalBoolean(body: Body, field: string, parent = ''): boolean | undefined {
  const value = body[field]
  if (value === undefined || typeof value === 'boolean') return value
  throw invalid(join(parent, field), `${join(parent, field)} must be true or false`)
}

export function object(value: unknown, field: string): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(field, `${field} must be an object`)
  }
  return value as Body
}
