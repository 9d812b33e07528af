/**
 * How the console writes numbers, points, money, times and multipliers. Every
 * function takes the locale (default: the browser's), so tests pin one.
 *
 * @module
 */

type Locale = string | undefined

export function formatNumber(value: number, locale?: Locale): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value)
}

/** A change in points, always signed: `+250`, `−40`, `0`. */
export function formatSigned(value: number, locale?: Locale): string {
  const text = formatNumber(Math.abs(value), locale)
  if (value > 0) return `+${text}`
  if (value < 0) return `−${text}`
  return text
}

/** Digits after the decimal point of a currency (2 for USD, 0 for JPY). */
export function currencyDigits(currency: string): number {
  try {
    const format = new Intl.NumberFormat('en', { style: 'currency', currency })
    return format.resolvedOptions().maximumFractionDigits ?? 2
  } catch {
    return 2
  }
}

/** Minor units as money: `formatMoney(12345, 'USD', 'en-US')` is `$123.45`. */
export function formatMoney(minor: number, currency: string, locale?: Locale): string {
  const digits = currencyDigits(currency)
  const major = minor / 10 ** digits
  try {
    return new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(major)
  } catch {
    return `${major.toFixed(digits)} ${currency}`
  }
}

/** Milliseconds, compact: `0.42 ms`, `3.1 ms`, `120 ms`. */
export function formatMs(ms: number): string {
  if (ms === 0) return '0 ms'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 10) return `${ms.toFixed(1)} ms`
  return `${Math.round(ms)} ms`
}

export function formatDateTime(ms: number, locale?: Locale, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    ...(timeZone === undefined ? {} : { timeZone }),
  }).format(ms)
}

/** To the second, for journals and the audit log, where order within a minute matters. */
export function formatTimestamp(ms: number, locale?: Locale): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(ms)
}

export function formatDate(ms: number, locale?: Locale, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    ...(timeZone === undefined ? {} : { timeZone }),
  }).format(ms)
}

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
]

/** `in 3 days`, `2 hours ago`, `now`: the largest whole unit. */
export function formatRelative(ms: number, now: number, locale?: Locale): string {
  const delta = ms - now
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  for (const [unit, size] of units) {
    if (Math.abs(delta) >= size) return format.format(Math.trunc(delta / size), unit)
  }
  return format.format(0, 'minute')
}

/** Per-mille as a factor: 1250 is `1.25`, 2000 is `2`. */
export function perMilleText(perMille: number): string {
  return String(perMille / 1000)
}

/**
 * A factor typed by a person (`1.25`, `x1.5`, `2`) as per-mille, or an error
 * saying why not: at most three decimals, from 0 to 100.
 */
export function parsePerMille(text: string): { value: number } | { error: string } {
  const cleaned = text.trim().replace(/^[x×]/i, '').replace(',', '.')
  if (!/^\d+(\.\d{1,3})?$/.test(cleaned)) {
    return { error: 'Enter a factor such as 1.5 (at most 3 decimals)' }
  }
  const [whole = '0', fraction = ''] = cleaned.split('.')
  const value = Number(whole) * 1000 + Number(fraction.padEnd(3, '0'))
  if (value > 100_000) return { error: 'At most 100' }
  return { value }
}

/** A person's name from its parts, or the fallback (an erased member has none). */
export function displayName(person: { firstName?: string; lastName?: string }, fallback: string) {
  const name = [person.firstName, person.lastName].filter((part) => part !== undefined).join(' ')
  return name === '' ? fallback : name
}

/**
 * Money typed by a person (`4.50`, `4,5`, `12`) as minor units of a currency
 * with `digits` decimals, or an error saying why not.
 */
export function parseMoney(text: string, digits: number): { value: number } | { error: string } {
  const cleaned = text.trim().replace(',', '.')
  const shape = digits === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`)
  if (!shape.test(cleaned)) {
    return { error: digits === 0 ? 'Enter a whole amount' : `Enter an amount such as 4.50 (at most ${digits} decimals)` }
  }
  const [whole = '0', fraction = ''] = cleaned.split('.')
  return { value: Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0') }
}

/** Minor units as the plain amount a money input shows: 450 → `4.50`. */
export function moneyText(minor: number, digits: number): string {
  return digits === 0 ? String(minor) : (minor / 10 ** digits).toFixed(digits)
}
