/**
 * Cards presented at a till by its device session (the device bridge driving
 * the till's USB readers). The bridge sends `{ id, op: 'present', key, card:
 * { type, value }, reader?, readAt? }` as the terminal it is paired with; the
 * card is resolved like the `lookup` operation and the outcome (the member
 * with balance and tier, `account_not_found` or `card_blocked`) is pushed to
 * that terminal's POS connections as `{ push: 'card', ... }`. The device
 * session itself only gets `{ status, pushed }`: no member data travels back
 * to the reader side. (A POS connection may present too, say a card number
 * keyed in; the push then reaches it and the terminal's other POS screens.)
 *
 * Idempotent per terminal and key: the bridge retries a read whose answer it
 * did not get, so a known key is answered from memory (`exists`, or the same
 * failure) and never pushed twice; the same key with another card is
 * `exists_with_different_payload`. Keys are remembered in memory, per
 * terminal, up to `keysPerTerminalMax` and for `keyWindowMs`: a gateway
 * restart forgets them, and a retry after one pushes again (harmless: the
 * same member shows again).
 *
 * Transport-neutral (a `Gateway` and a `Principal` in, a reply out), so it is
 * tested in memory; the WebSocket server routes `present` frames here.
 *
 * @module
 */
import { normaliseIdentifier, unprintableProblem, type Reply } from '@loyalty/engine'
import type { Gateway, Principal, PushMessage } from '../core/gateway.ts'

export interface PresentLimits {
  /** Keys remembered per terminal; the oldest are forgotten first. */
  keysPerTerminalMax: number
  /** How long a key is remembered. */
  keyWindowMs: number
}

export const presentLimitsDefault: PresentLimits = {
  keysPerTerminalMax: 10_000,
  keyWindowMs: 24 * 3_600_000,
}

/** Card types a reader can present; `lookup` resolves each against every card-like identifier. */
export const presentedCardTypes = ['card', 'nfc', 'fob'] as const
export type PresentedCardType = (typeof presentedCardTypes)[number]

export interface PresentedCard {
  type: PresentedCardType
  value: string
}

/** What the device session gets back: the outcome, and whether a POS connection was there to see it. */
export interface PresentReply extends Reply {
  pushed?: boolean
}

interface Presentation {
  key: string
  card: PresentedCard
  reader?: string
  readAt?: number
}

interface Remembered {
  fingerprint: string
  atMs: number
  reply: Promise<PresentReply>
}

const presentFields = ['key', 'card', 'reader', 'readAt']
const cardFields = ['type', 'value']
const keyLengthMax = 128
const readerLengthMax = 64
const cardValueLengthMax = 64
/** The earliest `readAt` taken (2000-01-01): anything before is a till clock not set, or not a time. */
const readAtMin = Date.UTC(2000, 0, 1)
/** How far ahead of the gateway's clock a till's `readAt` may be (clocks drift apart). */
const readAtAheadMsMax = 5 * 60_000

export class CardPresentations {
  readonly #gateway: Gateway
  readonly #limits: PresentLimits
  readonly #clock: () => number
  readonly #byTerminal = new Map<string, Map<string, Remembered>>()

  constructor(
    gateway: Gateway,
    options: { limits?: Partial<PresentLimits>; clock?: () => number } = {},
  ) {
    this.#gateway = gateway
    this.#limits = { ...presentLimitsDefault, ...options.limits }
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Resolves a presented card and pushes the outcome to the caller's terminal.
   *
   * @example
   *   await presentations.present(till, { key: 'r-0001', card: { type: 'card', value: '6001234567' } })
   *   // { status: 'ok', pushed: true }, and pos-1's POS connections got { push: 'card', member, ... }
   */
  present(principal: Principal, fields: Record<string, unknown>): Promise<PresentReply> {
    if (principal.kind !== 'terminal') {
      return Promise.resolve({
        status: 'unauthorized',
        message: `a ${principal.kind} has no till to present a card at`,
      })
    }
    const parsed = parsePresentation(fields, this.#clock())
    if ('status' in parsed) return Promise.resolve(parsed)
    const known = this.#remembered(principal.id, parsed.key)
    if (known !== undefined) return replay(known, parsed)
    const reply = this.#resolveAndPush(principal, parsed)
    this.#remember(principal.id, parsed, reply)
    return reply
  }

  async #resolveAndPush(principal: Principal, presentation: Presentation): Promise<PresentReply> {
    const found = await this.#gateway.execute(principal, 'lookup', {
      card: presentation.card.value,
    })
    const { status } = found
    if (status !== 'ok' && status !== 'account_not_found' && status !== 'card_blocked') return found
    const push: PushMessage = {
      push: 'card',
      key: presentation.key,
      status,
      card: presentation.card,
    }
    if (presentation.reader !== undefined) push['reader'] = presentation.reader
    if (presentation.readAt !== undefined) push['readAt'] = presentation.readAt
    for (const field of ['member', 'balance', 'tier', 'message'] as const) {
      if (found[field] !== undefined) push[field] = found[field]
    }
    const pushed = this.#gateway.push(principal.id, push)
    const reply: PresentReply = { status, pushed }
    if (found.message !== undefined) reply.message = found.message
    return reply
  }

  #remembered(terminal: string, key: string): Remembered | undefined {
    const keys = this.#byTerminal.get(terminal)
    const known = keys?.get(key)
    if (known === undefined || this.#clock() - known.atMs <= this.#limits.keyWindowMs) return known
    keys!.delete(key)
    return undefined
  }

  #remember(terminal: string, presentation: Presentation, reply: Promise<PresentReply>) {
    let keys = this.#byTerminal.get(terminal)
    if (keys === undefined) this.#byTerminal.set(terminal, (keys = new Map()))
    const now = this.#clock()
    keys.set(presentation.key, { fingerprint: fingerprint(presentation.card), atMs: now, reply })
    // Insertion order is time order: forget from the oldest end.
    for (const [key, entry] of keys) {
      const kept = keys.size <= this.#limits.keysPerTerminalMax
      if (kept && now - entry.atMs <= this.#limits.keyWindowMs) break
      keys.delete(key)
    }
    // A presentation that failed to run (the engine closing) did nothing: let a retry run it.
    reply.then(
      (r) => {
        if (r.status === 'unavailable' || r.status === 'overloaded') keys.delete(presentation.key)
      },
      () => keys.delete(presentation.key),
    )
  }
}

async function replay(known: Remembered, presentation: Presentation): Promise<PresentReply> {
  if (known.fingerprint !== fingerprint(presentation.card)) {
    return {
      status: 'exists_with_different_payload',
      field: 'card',
      message: `key ${presentation.key} was presented with another card`,
    }
  }
  const first = await known.reply
  const status = first.status === 'ok' ? 'exists' : first.status
  return { ...first, status, pushed: false }
}

function fingerprint(card: PresentedCard): string {
  return `${card.type}:${card.value.replace(/[\s-]/g, '').toUpperCase()}`
}

function invalid(field: string, message: string): Reply {
  return { status: 'invalid_request', field, message }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks a `present` frame's fields, naming the first one at fault. The key
 * and reader reach the POS and logs as sent, so control and invisible
 * characters are refused (they would forge screen or log lines); `readAt` must
 * lie between 2000 and a few minutes past `nowMs`, the gateway's clock.
 */
export function parsePresentation(
  fields: Record<string, unknown>,
  nowMs = Date.now(),
): Presentation | Reply {
  for (const name of Object.keys(fields)) {
    if (!presentFields.includes(name)) return invalid(name, `${name} is not a field of present`)
  }
  const { key, card, reader, readAt } = fields
  if (typeof key !== 'string' || key === '' || key.length > keyLengthMax) {
    return invalid('key', `key must be a string of 1 to ${keyLengthMax} characters`)
  }
  const keyProblem = unprintableProblem('key', key)
  if (keyProblem !== undefined) return invalid('key', keyProblem)
  const parsedCard = parseCard(card)
  if ('status' in parsedCard) return parsedCard
  const presentation: Presentation = { key, card: parsedCard }
  if (reader !== undefined) {
    if (typeof reader !== 'string' || reader === '' || reader.length > readerLengthMax) {
      return invalid('reader', `reader must be a string of 1 to ${readerLengthMax} characters`)
    }
    const readerProblem = unprintableProblem('reader', reader)
    if (readerProblem !== undefined) return invalid('reader', readerProblem)
    presentation.reader = reader
  }
  if (readAt !== undefined) {
    if (typeof readAt !== 'number' || !Number.isSafeInteger(readAt) || readAt < 0) {
      return invalid('readAt', 'readAt must be a time in milliseconds since the epoch')
    }
    if (readAt < readAtMin) {
      return invalid(
        'readAt',
        `readAt ${readAt} is before 2000: not a time in milliseconds since the epoch (is the till's clock set?)`,
      )
    }
    if (readAt > nowMs + readAtAheadMsMax) {
      return invalid(
        'readAt',
        `readAt ${readAt} is more than ${readAtAheadMsMax / 60_000} minutes ahead of the gateway's clock (${nowMs}): is the till's clock right?`,
      )
    }
    presentation.readAt = readAt
  }
  return presentation
}

function parseCard(card: unknown): PresentedCard | Reply {
  if (!isRecord(card)) return invalid('card', 'card must be an object { type, value }')
  for (const name of Object.keys(card)) {
    if (!cardFields.includes(name)) {
      return invalid(`card.${name}`, `card.${name} is not a field of card`)
    }
  }
  const { type, value } = card
  if (!(presentedCardTypes as readonly unknown[]).includes(type)) {
    return invalid('card.type', `card.type must be one of ${presentedCardTypes.join(', ')}`)
  }
  if (typeof value !== 'string' || value.length > cardValueLengthMax) {
    return invalid(
      'card.value',
      `card.value must be a string of at most ${cardValueLengthMax} characters`,
    )
  }
  const normal = normaliseIdentifier(type as PresentedCardType, value)
  if ('error' in normal) return invalid('card.value', normal.error)
  return { type: type as PresentedCardType, value: normal.value }
}
