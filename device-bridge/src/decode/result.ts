/**
 * What a decoder makes of a reader's input: a card read, or a rejection that
 * says why (garbage is reported and dropped, never sent as a card).
 *
 * @module
 */

/** Card types the gateway's `present` frame accepts. */
export const cardTypes = ['card', 'nfc', 'fob'] as const
export type CardType = (typeof cardTypes)[number]

export interface CardRead {
  type: CardType
  /** The card number or tag UID, normalised (digits, or upper-case hex for a UID). */
  value: string
  /** From a magnetic stripe: the cardholder name as printed, "GIVEN SURNAME". */
  name?: string
  /** From a magnetic stripe: the expiry as `YYYY-MM`. */
  expiry?: string
}

export type Decoded = { ok: true; card: CardRead } | { ok: false; reason: string }

export function rejected(reason: string): Decoded {
  return { ok: false, reason }
}
