/**
 * Form validation: small checks run before a form is sent (so the obvious
 * mistakes are caught without a round trip), and the placing of the server's
 * refusal next to the field it names. The server stays the authority: every
 * form shows its `field` and `message` when it refuses.
 *
 * @module
 */
import { ApiError } from './client.ts'

/** A check on a field's text: the message when it fails, else undefined. */
export type Check = (text: string) => string | undefined

export const required = (label: string): Check => (text) =>
  text.trim() === '' ? `${label} is required` : undefined

export const maxLength = (max: number): Check => (text) =>
  text.length > max ? `At most ${max} characters` : undefined

/**
 * Digits, or digits grouped in threes by commas, spaces or underscores
 * (`12,500`, `1 000 000`). A separator anywhere else is refused: `1,5` is
 * one and a half where the comma is the decimal mark, never fifteen.
 */
const wholeText = /^[+-]?(?:\d+|\d{1,3}(?:[\s_,]\d{3})+)$/

/** The text as a whole number, or undefined when it is not one (or empty). */
export function parseWhole(text: string): number | undefined {
  const trimmed = text.trim().replace('−', '-')
  if (!wholeText.test(trimmed)) return undefined
  const value = Number(trimmed.replace(/[\s_,]/g, ''))
  return Number.isSafeInteger(value) ? value : undefined
}

/** A whole number within bounds; an empty field passes (pair with `required`). */
export function wholeNumber(bounds: { min?: number; max?: number; nonZero?: boolean } = {}): Check {
  return (text) => {
    if (text.trim() === '') return undefined
    const value = parseWhole(text)
    if (value === undefined) return 'Enter a whole number'
    if (bounds.nonZero === true && value === 0) return 'Must not be zero'
    if (bounds.min !== undefined && value < bounds.min) return `At least ${bounds.min}`
    if (bounds.max !== undefined && value > bounds.max) return `At most ${bounds.max}`
    return undefined
  }
}

export const pattern = (test: RegExp, says: string): Check => (text) =>
  text.trim() === '' || test.test(text.trim()) ? undefined : says

/** Ids as the gateway takes them: letters, digits and `. _ : @ -`, from a letter or digit. */
export const identifier = pattern(
  /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/,
  'Letters, digits and . _ : @ - only (at most 64)',
)

/** Profile formats as the member registry takes them (it names the field when it refuses). */
export const emailAddress = pattern(/^[^\s@]+@[^\s@]+$/, 'Enter an email address')
export const phoneNumber = pattern(/^\+\d{6,15}$/, 'International form: + and 6 to 15 digits, e.g. +4930123456')
export const isoDate = pattern(/^\d{4}-\d{2}-\d{2}$/, 'Use YYYY-MM-DD')
export const countryCode = pattern(/^[A-Z]{2}$/, 'Two capital letters, e.g. DE')

export type Checks<F extends string> = Partial<Record<F, readonly Check[]>>
export type FieldErrors<F extends string> = Partial<Record<F, string>>

/** Runs each field's checks in order; the first failure per field is its error. */
export function validateFields<F extends string>(
  values: Record<F, string>,
  checks: Checks<F>,
): FieldErrors<F> {
  const errors: FieldErrors<F> = {}
  for (const field of Object.keys(checks) as F[]) {
    for (const check of checks[field] ?? []) {
      const message = check(values[field] ?? '')
      if (message !== undefined) {
        errors[field] = message
        break
      }
    }
  }
  return errors
}

/**
 * Where a refusal belongs on a form: next to the field the server names when
 * the form has that field (or a field its path starts with: `address.city`
 * goes to `address`), else above the form.
 */
export function placeError(
  error: unknown,
  fields: readonly string[],
): { field?: string; message: string } {
  if (!(error instanceof ApiError)) {
    return { message: error instanceof Error ? error.message : String(error) }
  }
  const message = sentence(error.message)
  const named = error.field
  if (named === undefined || named === '') return { message }
  if (fields.includes(named)) return { field: named, message }
  const parent = fields.find((field) => named.startsWith(`${field}.`) || named.startsWith(`${field}[`))
  return parent === undefined ? { message } : { field: parent, message }
}

/** The server's messages start in lower case; forms show sentences. */
export function sentence(message: string): string {
  return message === '' ? message : message[0]!.toUpperCase() + message.slice(1)
}
