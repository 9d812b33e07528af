/**
 * NFC tag UIDs as keyboard-emulating readers type them. ISO/IEC 14443 UIDs
 * are 4, 7 or 10 bytes. Readers type them either as hex (`04A2B3C4D5E680`,
 * sometimes with `:`, `-` or spaces between bytes) or as a decimal number
 * (the common "10-digit" readers print a 4-byte UID as an unsigned integer),
 * and many send the bytes last-first. `byteOrder: 'reversed'` restores the
 * tag's own order, so the same tag gives the same value on every reader; the
 * value is upper-case hex in that order.
 *
 * @module
 */

export interface NfcUidOptions {
  /** How the reader types the UID. */
  format: 'hex' | 'decimal'
  /** `reversed` when the reader sends the UID's bytes last-first. */
  byteOrder: 'as-read' | 'reversed'
  /** Decimal only: the UID's size in bytes (a number does not say). */
  decimalBytes: 4 | 7
}

export const nfcUidOptionsDefault: NfcUidOptions = {
  format: 'hex',
  byteOrder: 'as-read',
  decimalBytes: 4,
}

export type UidResult = { ok: true; uid: string } | { ok: false; reason: string }

const uidByteCounts = [4, 7, 10]

/**
 * Parses one typed UID into upper-case hex in the tag's byte order.
 *
 * @example
 *   parseNfcUid('04:a2:b3:c4', { format: 'hex', byteOrder: 'as-read', decimalBytes: 4 })     // { ok: true, uid: '04A2B3C4' }
 *   parseNfcUid('3300106756', { format: 'decimal', byteOrder: 'reversed', decimalBytes: 4 }) // { ok: true, uid: '04A2B3C4' }
 */
export function parseNfcUid(text: string, options: NfcUidOptions): UidResult {
  const bytes =
    options.format === 'hex'
      ? hexBytes(text.trim())
      : decimalBytes(text.trim(), options.decimalBytes)
  if (!Array.isArray(bytes)) return bytes
  if (bytes.every((b) => b === 0) || bytes.every((b) => b === 0xff)) {
    return { ok: false, reason: 'a UID of all zero or all 0xFF bytes is not a tag' }
  }
  const ordered = options.byteOrder === 'reversed' ? bytes.reverse() : bytes
  return {
    ok: true,
    uid: ordered
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase(),
  }
}

function hexBytes(text: string): number[] | { ok: false; reason: string } {
  const digits = text.replace(/[:\-\s]/g, '')
  if (!/^[0-9A-Fa-f]+$/.test(digits)) {
    return { ok: false, reason: 'a hex UID may only have 0-9, A-F and : - or space between bytes' }
  }
  if (digits.length % 2 !== 0) {
    return { ok: false, reason: `a hex UID needs whole bytes, got ${digits.length} hex digits` }
  }
  const count = digits.length / 2
  if (!uidByteCounts.includes(count)) {
    return { ok: false, reason: `a UID has 4, 7 or 10 bytes, got ${count}` }
  }
  return Array.from({ length: count }, (_, i) =>
    Number.parseInt(digits.slice(i * 2, i * 2 + 2), 16),
  )
}

function decimalBytes(text: string, count: 4 | 7): number[] | { ok: false; reason: string } {
  if (!/^\d{1,20}$/.test(text)) return { ok: false, reason: 'a decimal UID may only have digits' }
  let value = BigInt(text)
  if (value >= 1n << BigInt(count * 8)) {
    return { ok: false, reason: `${text.length} digits do not fit a ${count}-byte UID` }
  }
  const bytes: number[] = []
  for (let i = 0; i < count; i++) {
    bytes.unshift(Number(value & 0xffn))
    value >>= 8n
  }
  return bytes
}
