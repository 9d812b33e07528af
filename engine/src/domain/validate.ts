/**
 * Edge validation: turns untrusted input into a typed command, or into an
 * `invalid_request` reply naming the first bad field. Nothing that fails here
 * reaches a shard, and nothing is stored for it.
 *
 * @module
 */
import type { Command, Reply, Source } from './types.ts'
import { neverExpires } from './types.ts'

/** The largest points (or money amount) one command may carry; sums stay exact. */
export const pointsPerCommandMax = 1_000_000_000_000
export const idLengthMax = 128
export const reasonLengthMax = 500

export type Validation = { ok: true; command: Command } | { ok: false; reply: Reply }

type Fields = Record<string, unknown>

class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

function fail(field: string, message: string): never {
  throw new FieldError(field, message)
}

/**
 * Control characters (C0, DEL, C1) and invisible formatting characters
 * (zero-width, bidirectional overrides, byte-order mark): never part of an id
 * or a code. They would make look-alike ids and forge lines in logs.
 */
const unprintable = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/
/** The same, but a free text (a reason typed in the console) may hold tabs and line breaks. */
const unprintableInText = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/
const freeTextFields = new Set(['reason'])

/**
 * Why `value` may not be stored as `field`: it holds a control or invisible
 * character (line breaks and tabs are allowed in free text). Undefined when
 * it is fine. For every text that names or describes something: ids, codes,
 * and the names and notes staff give terminals, tokens and rulesets.
 */
export function unprintableProblem(field: string, value: string, freeText = false): string | undefined {
  const bad = (freeText ? unprintableInText : unprintable).exec(value)
  if (bad === null) return undefined
  const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')
  return `${field} must not contain control or invisible characters (U+${code} at ${bad.index})`
}

function text(input: Fields, field: string, required: boolean, lengthMax = idLengthMax) {
  const value = input[field]
  if (value === undefined && !required) return undefined
  if (value === undefined) fail(field, `${field} is required`)
  if (typeof value !== 'string') fail(field, `${field} must be a string`)
  if (value.length === 0) fail(field, `${field} must not be empty`)
  if (value.length > lengthMax) fail(field, `${field} must be at most ${lengthMax} characters`)
  const problem = unprintableProblem(field, value, freeTextFields.has(field))
  if (problem !== undefined) fail(field, problem)
  if (field === 'account' && value.trim() !== value) fail(field, 'account must not start or end with a space')
  return value
}

/**
 * Why `code` would be refused as one of a basket's promo codes, or undefined.
 * Rulesets check their codes with it (rules/validate.ts): a code no basket
 * may carry would make its campaign impossible.
 */
export function promoCodeProblem(code: unknown): string | undefined {
  try {
    text({ promoCode: code }, 'promoCode', true)
    return undefined
  } catch (error) {
    if (!(error instanceof FieldError)) throw error
    return error.message.replace(/^promoCode /, '')
  }
}

function integer(input: Fields, field: string, opts: { required: boolean; min: number; max: number }) {
  const value = input[field]
  if (value === undefined && !opts.required) return undefined
  if (value === undefined) fail(field, `${field} is required`)
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    fail(field, `${field} must be an integer`)
  }
  if (value < opts.min || value > opts.max) {
    fail(field, `${field} must be between ${opts.min} and ${opts.max}`)
  }
  return value
}

const positivePoints = { required: true, min: 1, max: pointsPerCommandMax }
const optionalPoints = { required: false, min: 1, max: pointsPerCommandMax }
const optionalAmount = { required: false, min: 0, max: pointsPerCommandMax }
const optionalTime = { required: false, min: 0, max: neverExpires }
const holdId = { required: true, min: 1, max: Number.MAX_SAFE_INTEGER }

function source(input: Fields): Source | undefined {
  const value = input['source']
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('source', 'source must be an object')
  }
  const fields = value as Fields
  const result: Source = {}
  for (const name of Object.keys(fields)) {
    if (name !== 'terminal' && name !== 'store' && name !== 'channel' && name !== 'operator' && name !== 'via') {
      fail(`source.${name}`, `source.${name} is not a known field`)
    }
    try {
      result[name] = text(fields, name, true)
    } catch (error) {
      if (error instanceof FieldError) fail(`source.${name}`, `source.${error.message}`)
      throw error
    }
  }
  return result
}

function base(input: Fields) {
  const account = text(input, 'account', true)!
  const key = text(input, 'key', true)!
  return withoutUndefined({ account, key, source: source(input) })
}

/**
 * Copies only the defined fields. Building a fresh object (rather than
 * deleting keys) keeps it a fast-mode object for everything downstream:
 * structured clone to the worker, msgpack encoding, property reads.
 */
function withoutUndefined<T extends object>(value: T): T {
  const result: Record<string, unknown> = {}
  for (const name in value) {
    const field = value[name]
    if (field !== undefined) result[name] = field
  }
  return result as T
}

/** A caller's operations: the engine's own (`move`) are never taken from input. */
type CallerOp = Exclude<Command['op'], 'move'>

const allowedFields: Record<CallerOp, readonly string[]> = {
  earn: ['points', 'expiresAt', 'activeFrom', 'ref', 'amount', 'reason'],
  authorize: ['points', 'timeoutMs'],
  capture: ['hold', 'points'],
  void: ['hold'],
  redeem: ['points', 'ref', 'amount'],
  reverse: ['ref', 'amount', 'points', 'lines', 'shortfall'],
  refund: ['ref', 'amount', 'points', 'reason'],
  adjust: ['points', 'reason', 'expiresAt', 'activeFrom'],
  expire: [],
  balance: [],
  history: ['before', 'limit'],
  enroll: ['program', 'member', 'referredBy'],
  purchase: ['basket', 'ref'],
  activity: ['event'],
  profile: ['member'],
  preview: ['basket'],
  member: [],
  lots: [],
}
const commonFields = ['op', 'account', 'key', 'source']
const queryOps = new Set(['expire', 'balance', 'history', 'preview', 'member', 'lots'])

function rejectUnknownFields(input: Fields, op: CallerOp) {
  const allowed = allowedFields[op]
  for (const name of Object.keys(input)) {
    if (queryOps.has(op) && name === 'key') continue
    if (!commonFields.includes(name) && !allowed.includes(name)) {
      fail(name, `${name} is not a field of ${op}`)
    }
  }
}

function parse(input: Fields): Command {
  const op = input['op']
  if (typeof op !== 'string' || !(op in allowedFields)) {
    fail('op', `op must be one of ${Object.keys(allowedFields).join(', ')}`)
  }
  const operation = op as CallerOp
  rejectUnknownFields(input, operation)
  switch (operation) {
    case 'earn':
      return withoutUndefined({
        op: operation,
        ...base(input),
        points: integer(input, 'points', positivePoints)!,
        expiresAt: integer(input, 'expiresAt', optionalTime),
        activeFrom: integer(input, 'activeFrom', optionalTime),
        ref: text(input, 'ref', false),
        amount: integer(input, 'amount', optionalAmount),
        reason: text(input, 'reason', false, reasonLengthMax),
      })
    case 'authorize':
      return withoutUndefined({
        op: operation,
        ...base(input),
        points: integer(input, 'points', positivePoints)!,
        timeoutMs: integer(input, 'timeoutMs', { required: false, min: 1, max: 2 ** 40 }),
      })
    case 'capture':
      return withoutUndefined({
        op: operation,
        ...base(input),
        hold: integer(input, 'hold', holdId)!,
        points: integer(input, 'points', optionalPoints),
      })
    case 'void':
      return { op: operation, ...base(input), hold: integer(input, 'hold', holdId)! }
    case 'redeem':
      return withoutUndefined({
        op: operation,
        ...base(input),
        points: integer(input, 'points', positivePoints)!,
        ref: text(input, 'ref', false),
        amount: integer(input, 'amount', { required: false, min: 1, max: pointsPerCommandMax }),
      })
    case 'reverse':
      return parseReverse(input)
    case 'refund':
      return parseRefund(input)
    case 'adjust':
      return parseAdjust(input)
    case 'expire':
    case 'balance':
    case 'member':
    case 'lots':
      return { op: operation, account: text(input, 'account', true)! }
    case 'enroll':
      return withoutUndefined({
        op: operation,
        ...base(input),
        program: text(input, 'program', true)!,
        member: memberFacts(input['member'], 'member', false),
        referredBy: text(input, 'referredBy', false),
      })
    case 'purchase':
      return withoutUndefined({
        op: operation,
        ...base(input),
        basket: basket(input['basket']),
        ref: text(input, 'ref', false),
      })
    case 'activity': {
      const event = text(input, 'event', true)!
      if (!eventPattern.test(event)) fail('event', 'event must match [a-z][a-z0-9_]{0,63}')
      if (engineRaisedEvents.has(event)) fail('event', `${event} is raised by the engine itself`)
      return { op: operation, ...base(input), event }
    }
    case 'profile':
      return { op: operation, ...base(input), member: memberFacts(input['member'], 'member', true)! }
    case 'preview':
      return { op: operation, account: text(input, 'account', true)!, basket: basket(input['basket']) }
    case 'history':
      return withoutUndefined({
        op: operation,
        account: text(input, 'account', true)!,
        before: integer(input, 'before', { required: false, min: 1, max: Number.MAX_SAFE_INTEGER }),
        // Its bounds are checked by the ledger, which knows its configuration (historyLimitMax),
        // so a limit of 0 and one of 101 are told the same range.
        limit: integer(input, 'limit', { required: false, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      })
  }
}

const eventPattern = /^[a-z][a-z0-9_]{0,63}$/
const engineRaisedEvents = new Set([
  'registration',
  'referral_referrer',
  'referral_referred',
  'birthday',
  'first_purchase',
])
export const basketLinesMax = 1000
const quantityMax = 1_000_000
const unitPriceMax = 10_000_000_000
const channels = new Set(['store', 'web', 'app', 'partner'])

const path = (parent: string, name: string) => (parent === '' ? name : name === '' ? parent : `${parent}.${name}`)

function object(value: unknown, field: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(field, `${field || 'it'} must be an object`)
  }
  return value as Fields
}

function onlyFields(input: Fields, field: string, allowed: readonly string[]) {
  for (const name of Object.keys(input)) {
    if (!allowed.includes(name)) fail(path(field, name), `${path(field, name)} is not a known field`)
  }
}

/** Runs a field reader on a nested object, prefixing the path of any error. */
function nested<T>(field: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (error instanceof FieldError) fail(path(field, error.field), `${field}: ${error.message}`)
    throw error
  }
}

function strings(input: Fields, field: string, itemsMax: number): string[] | undefined {
  const value = input[field]
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length > itemsMax) {
    fail(field, `${field} must be an array of at most ${itemsMax} strings`)
  }
  return value.map((item, i) => text({ [`${field}[${i}]`]: item }, `${field}[${i}]`, true)!)
}

function basket(value: unknown): import('../rules/types.ts').Basket {
  const input = object(value, 'basket')
  onlyFields(input, 'basket', ['lines', 'store', 'channel', 'tender', 'promoCodes'])
  const lines = input['lines']
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > basketLinesMax) {
    fail('basket.lines', `basket.lines must be an array of 1 to ${basketLinesMax} lines`)
  }
  const channel = input['channel']
  if (channel !== undefined && !(typeof channel === 'string' && channels.has(channel))) {
    fail('basket.channel', 'basket.channel must be one of store, web, app, partner')
  }
  return nested('basket', () =>
    withoutUndefined({
      lines: lines.map((line, i) => nested(`lines[${i}]`, () => basketLine(line))),
      store: text(input, 'store', false),
      channel: channel as import('../rules/types.ts').Channel | undefined,
      tender: text(input, 'tender', false),
      promoCodes: strings(input, 'promoCodes', 20),
    }),
  )
}

function basketLine(value: unknown): import('../rules/types.ts').BasketLine {
  const line = object(value, '')
  onlyFields(line, '', ['sku', 'category', 'quantity', 'unitPrice', 'discount'])
  const quantity = integer(line, 'quantity', { required: true, min: 1, max: quantityMax })!
  const unitPrice = integer(line, 'unitPrice', { required: true, min: 0, max: unitPriceMax })!
  const discount = integer(line, 'discount', { required: false, min: 0, max: pointsPerCommandMax })
  if (discount !== undefined && discount > quantity * unitPrice) {
    fail('discount', 'discount must not exceed quantity × unitPrice')
  }
  return withoutUndefined({
    sku: text(line, 'sku', true)!,
    category: text(line, 'category', false),
    quantity,
    unitPrice,
    discount,
  })
}

const datePattern = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/

/** A `YYYY-MM-DD` date that exists: 2020-02-29 is one, 2021-02-29 and 1999-04-31 are not. */
export function isCivilDate(text: string): boolean {
  const match = datePattern.exec(text)
  if (match === null) return false
  const year = Number(text.slice(0, 4))
  const month = Number(match[1])
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
  return Number(match[2]) <= days
}

/** The earliest birth date a member may give: nobody alive was born before it. */
export const birthDateMin = '1900-01-01'
/** UTC+14 (Kiribati): the date there is the latest date anywhere on Earth. */
const aheadOfUtcMaxMs = 14 * 3_600_000

/**
 * Why `text` cannot be a member's birth date, or undefined: it must be a
 * date YYYY-MM-DD that exists, not before 1900 and, given `now`, not after
 * today anywhere on Earth (a birth date in the future is a typo, and would
 * pay a birthday reward for a member not yet born).
 */
export function birthDateProblem(text: string, now?: number): string | undefined {
  if (!isCivilDate(text)) return 'birthDate must be a date YYYY-MM-DD that exists'
  if (text < birthDateMin) return `birthDate must not be before ${birthDateMin}`
  if (now !== undefined) {
    const latest = new Date(now + aheadOfUtcMaxMs).toISOString().slice(0, 10)
    if (text > latest) return `birthDate must not be in the future (after ${latest})`
  }
  return undefined
}

function memberFacts(value: unknown, field: string, required: boolean) {
  if (value === undefined && !required) return undefined
  const input = object(value, field)
  onlyFields(input, field, ['birthDate', 'country', 'gender', 'segments'])
  return nested(field, () => {
    const birthDate = text(input, 'birthDate', false)
    const problem = birthDate === undefined ? undefined : birthDateProblem(birthDate)
    if (problem !== undefined) fail('birthDate', problem)
    return withoutUndefined({
      birthDate,
      country: text(input, 'country', false),
      gender: text(input, 'gender', false),
      segments: strings(input, 'segments', 100),
    })
  })
}

function parseRefund(input: Fields): Command {
  const command = withoutUndefined({
    op: 'refund' as const,
    ...base(input),
    ref: text(input, 'ref', true)!,
    amount: integer(input, 'amount', { required: false, min: 1, max: pointsPerCommandMax }),
    points: integer(input, 'points', optionalPoints),
    reason: text(input, 'reason', false, reasonLengthMax),
  })
  if (command.amount !== undefined && command.points !== undefined) {
    fail('points', 'give either amount or points, not both')
  }
  return command
}

function parseReverse(input: Fields): Command {
  const shortfall = input['shortfall']
  if (shortfall !== undefined && shortfall !== 'debt' && shortfall !== 'clamp') {
    fail('shortfall', 'shortfall must be "debt" or "clamp"')
  }
  const command = withoutUndefined({
    op: 'reverse' as const,
    ...base(input),
    ref: text(input, 'ref', true)!,
    amount: integer(input, 'amount', { required: false, min: 1, max: pointsPerCommandMax }),
    points: integer(input, 'points', optionalPoints),
    lines: returnLines(input['lines']),
    shortfall: shortfall as 'debt' | 'clamp' | undefined,
  })
  const given = (['amount', 'points', 'lines'] as const).filter((name) => command[name] !== undefined)
  if (given.length > 1) fail(given[1]!, `give one of amount, points or lines, not ${given.join(' and ')}`)
  return command
}

/** The lines of a return by line: 1 to `basketLinesMax` of { sku, quantity }. */
function returnLines(value: unknown): import('./types.ts').ReturnLine[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length === 0 || value.length > basketLinesMax) {
    fail('lines', `lines must be an array of 1 to ${basketLinesMax} lines`)
  }
  return value.map((line, i) =>
    nested(`lines[${i}]`, () => {
      const input = object(line, '')
      onlyFields(input, '', ['sku', 'quantity'])
      return {
        sku: text(input, 'sku', true)!,
        quantity: integer(input, 'quantity', { required: true, min: 1, max: quantityMax })!,
      }
    }),
  )
}

function parseAdjust(input: Fields): Command {
  const points = integer(input, 'points', {
    required: true,
    min: -pointsPerCommandMax,
    max: pointsPerCommandMax,
  })!
  if (points === 0) fail('points', 'points must not be zero')
  return withoutUndefined({
    op: 'adjust' as const,
    ...base(input),
    points,
    reason: text(input, 'reason', true, reasonLengthMax)!,
    expiresAt: integer(input, 'expiresAt', optionalTime),
    activeFrom: integer(input, 'activeFrom', optionalTime),
  })
}

/**
 * Validates untrusted input as a command.
 *
 * @example
 *   const v = validateCommand(JSON.parse(frame))
 *   if (!v.ok) return send(v.reply) // { status: 'invalid_request', field: 'points', ... }
 */
export function validateCommand(input: unknown): Validation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return invalid('', 'a command must be an object')
  }
  try {
    return { ok: true, command: parse(input as Fields) }
  } catch (error) {
    if (error instanceof FieldError) return invalid(error.field, error.message)
    throw error
  }
}

function invalid(field: string, message: string): Validation {
  return { ok: false, reply: { status: 'invalid_request', field, message } }
}
