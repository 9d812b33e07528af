/**
 * Goal: the same tag gives the same UID whatever a reader types (hex with or
 * without separators, decimal, bytes as read or reversed), and typed garbage
 * is rejected. Method: a table of typed text and options → UID or reason.
 */
import { describe, expect, it } from 'vitest'
import { parseNfcUid, type NfcUidOptions } from './nfc-uid.ts'

const hex: NfcUidOptions = { format: 'hex', byteOrder: 'as-read', decimalBytes: 4 }
const hexReversed: NfcUidOptions = { ...hex, byteOrder: 'reversed' }
const decimal: NfcUidOptions = { format: 'decimal', byteOrder: 'as-read', decimalBytes: 4 }
const decimalReversed: NfcUidOptions = { ...decimal, byteOrder: 'reversed' }

describe('NFC tag UIDs', () => {
  it.each([
    ['04a2b3c4', hex, '04A2B3C4'],
    ['04:A2:B3:C4', hex, '04A2B3C4'],
    ['04-a2-b3-c4-d5-e6-80', hex, '04A2B3C4D5E680'],
    ['c4b3a204', hexReversed, '04A2B3C4'],
    ['80E6D5C4B3A204', hexReversed, '04A2B3C4D5E680'],
    ['0010000000', decimal, '00989680'],
    // The common "10-digit" reader: the UID 04 A2 B3 C4 read last byte first, as a number.
    ['3300106756', decimalReversed, '04A2B3C4'],
    ['0003300106756', decimalReversed, '04A2B3C4'],
    ['1234567', { ...decimal, decimalBytes: 7 as const }, '0000000012D687'],
  ])('%s (%j) → %s', (text, options, uid) => {
    expect(parseNfcUid(text, options)).toEqual({ ok: true, uid })
  })

  it.each([
    ['04a2b3c', hex, /whole bytes/],
    ['04a2b3c4d5', hex, /4, 7 or 10 bytes/],
    ['04a2b3g4', hex, /only have 0-9, A-F/],
    ['00000000', hex, /all zero/],
    ['ffffffff', hex, /all zero or all 0xFF/],
    ['4294967296', decimal, /do not fit a 4-byte UID/],
    ['12ab', decimal, /only have digits/],
    ['', decimal, /only have digits/],
  ])('rejects %s (%j)', (text, options, reason) => {
    const result = parseNfcUid(text, options)
    expect(result.ok ? '' : result.reason).toMatch(reason)
  })
})
