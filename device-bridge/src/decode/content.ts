/**
 * What the text a keyboard-wedge reader typed means, per reader: a barcode or
 * QR code carrying a card number, a magnetic-stripe swipe, or an NFC tag UID
 * (`auto` tells a swipe by its leading sentinel and takes anything else as a
 * barcode). Each yields one card read or a rejection with the reason.
 *
 * @module
 */
import { parseSwipe } from './magstripe.ts'
import { parseNfcUid, type NfcUidOptions } from './nfc-uid.ts'
import { luhnValid } from './luhn.ts'
import type { CardType, Decoded } from './result.ts'

export const contentKinds = ['barcode', 'magstripe', 'nfc', 'auto'] as const
export type ContentKind = (typeof contentKinds)[number]

export interface ContentOptions {
  content: ContentKind
  /** The card type the gateway is told (`nfc` or `fob` for tags). */
  cardType: CardType
  /** Whether card numbers must pass the Luhn check; unset, swipes are checked and barcodes are not. */
  luhn?: boolean
  nfc: NfcUidOptions
}

/** What the gateway accepts as a card number once spaces and dashes are gone (see engine identifiers). */
const cardNumberPattern = /^[A-Za-z0-9]{6,32}$/

/**
 * Interprets one line of typed text.
 *
 * @example
 *   interpretText('6001 2345 6789', { content: 'barcode', cardType: 'card', nfc: nfcUidOptionsDefault })
 *   // { ok: true, card: { type: 'card', value: '600123456789' } }
 */
export function interpretText(text: string, options: ContentOptions): Decoded {
  const content =
    options.content === 'auto' ? (/^[%;]/.test(text) ? 'magstripe' : 'barcode') : options.content
  if (content === 'magstripe') {
    const swipe = parseSwipe(text, { luhn: options.luhn ?? true })
    if (!swipe.ok) return swipe
    const { pan, name, expiry } = swipe.swipe
    return {
      ok: true,
      card: {
        type: options.cardType,
        value: pan,
        ...(name ? { name } : {}),
        ...(expiry ? { expiry } : {}),
      },
    }
  }
  if (content === 'nfc') {
    const uid = parseNfcUid(text, options.nfc)
    return uid.ok ? { ok: true, card: { type: options.cardType, value: uid.uid } } : uid
  }
  return barcode(text, options)
}

function barcode(text: string, options: ContentOptions): Decoded {
  const value = text.trim().replace(/[\s-]/g, '')
  if (value.length < 6 || value.length > 32) {
    return {
      ok: false,
      reason: `a card number has 6 to 32 letters or digits, this read has ${value.length}`,
    }
  }
  if (!cardNumberPattern.test(value)) {
    return { ok: false, reason: 'a card number has only letters and digits, this read has others' }
  }
  if (options.luhn === true && !luhnValid(value)) {
    return { ok: false, reason: 'the card number fails the Luhn check' }
  }
  return { ok: true, card: { type: options.cardType, value: value.toUpperCase() } }
}
