/**
 * The identifier types whose values are card numbers (presented by a reader
 * or typed from a card); the others are phone and email. Look-ups by card
 * search all of them, and the audit log masks their numbers.
 */
export const cardTypes = ['card', 'virtual_card', 'nfc', 'fob'] as const

export type CardType = (typeof cardTypes)[number]
