/** How numbers, money, times and factors are written and read (locale pinned to en-US). */
import { describe, expect, it } from 'vitest'
import {
  currencyDigits,
  displayName,
  formatMoney,
  formatMs,
  formatNumber,
  formatRelative,
  formatSigned,
  moneyText,
  parseMoney,
  parsePerMille,
  perMilleText,
} from './format.ts'

describe('writing', () => {
  it('writes numbers, signed changes and money in minor units', () => {
    expect(formatNumber(1234567, 'en-US')).toBe('1,234,567')
    expect(formatSigned(250, 'en-US')).toBe('+250')
    expect(formatSigned(-1500, 'en-US')).toBe('−1,500')
    expect(formatSigned(0, 'en-US')).toBe('0')
    expect(formatMoney(12345, 'USD', 'en-US')).toBe('$123.45')
    expect(formatMoney(12345, 'JPY', 'en-US')).toBe('¥12,345')
    expect(formatMoney(5, 'EUR', 'de-DE')).toBe('0,05\u00a0€')
    expect(currencyDigits('USD')).toBe(2)
    expect(currencyDigits('JPY')).toBe(0)
    expect(currencyDigits('not a currency')).toBe(2)
  })

  it('writes latencies compactly', () => {
    expect(formatMs(0)).toBe('0 ms')
    expect(formatMs(0.4213)).toBe('0.42 ms')
    expect(formatMs(3.14)).toBe('3.1 ms')
    expect(formatMs(120.4)).toBe('120 ms')
  })

  it('writes times relative to now in the largest whole unit', () => {
    const now = Date.parse('2026-11-23T12:00:00Z')
    expect(formatRelative(now + 3 * 86_400_000, now, 'en-US')).toBe('in 3 days')
    expect(formatRelative(now - 2 * 3_600_000, now, 'en-US')).toBe('2 hours ago')
    expect(formatRelative(now + 10_000, now, 'en-US')).toBe('this minute')
  })

  it('names a person, or falls back to the id', () => {
    expect(displayName({ firstName: 'Ada', lastName: 'Lovelace' }, 'ada')).toBe('Ada Lovelace')
    expect(displayName({ lastName: 'Hopper' }, 'grace')).toBe('Hopper')
    expect(displayName({}, 'member-0001')).toBe('member-0001')
  })
})

describe('reading', () => {
  it('reads factors as per-mille, and writes them back', () => {
    expect(parsePerMille('1.25')).toEqual({ value: 1250 })
    expect(parsePerMille('x2')).toEqual({ value: 2000 })
    expect(parsePerMille('×1,5')).toEqual({ value: 1500 })
    expect(parsePerMille('0.001')).toEqual({ value: 1 })
    const factorError = { error: 'Enter a factor such as 1.5 (at most 3 decimals)' }
    expect(parsePerMille('1.2345')).toEqual(factorError)
    expect(parsePerMille('-1')).toEqual(factorError)
    expect(parsePerMille('101')).toEqual({ error: 'At most 100' })
    expect(perMilleText(1250)).toBe('1.25')
    expect(perMilleText(2000)).toBe('2')
  })

  it('reads money as minor units for the currency\'s decimals', () => {
    expect(parseMoney('4.50', 2)).toEqual({ value: 450 })
    expect(parseMoney('4,5', 2)).toEqual({ value: 450 })
    expect(parseMoney('12', 2)).toEqual({ value: 1200 })
    expect(parseMoney('0.05', 2)).toEqual({ value: 5 })
    const amountError = { error: 'Enter an amount such as 4.50 (at most 2 decimals)' }
    expect(parseMoney('1.005', 2)).toEqual(amountError)
    expect(parseMoney('-1', 2)).toEqual(amountError)
    expect(parseMoney('500', 0)).toEqual({ value: 500 })
    expect(parseMoney('5.5', 0)).toEqual({ error: 'Enter a whole amount' })
    expect(moneyText(450, 2)).toBe('4.50')
    expect(moneyText(500, 0)).toBe('500')
  })
})
