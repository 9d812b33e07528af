/**
 * The audit log: every change an operator or API client makes, with who,
 * when, what, to which record and from where. Append-only: records are only
 * ever added, under a key of (time, sequence), in the same write as the
 * change they describe. Searchable by time range, actor, action and target.
 *
 * Card numbers (cards, virtual cards, NFC UIDs, fobs) are kept masked, the
 * last four characters shown as payment-card systems show them
 * (`************0001`): enough for staff to tell which card, not enough to
 * use it. The registry's identifiers keep the full numbers, so look-ups are
 * unchanged. Records written before card numbers were masked (before
 * 2026-11-25) hold them in full; they are masked when read, and left as
 * they are on disk (the log is append-only).
 *
 * @module
 */
import type { Database, RootDatabase } from 'lmdb'
import { cardTypes } from './card-types.ts'

/** Who made a change, and from where (an address, a terminal, a tool). */
export interface Actor {
  kind: string
  id: string
  from?: string
}

export interface AuditRecord {
  at: number
  seq: number
  actor: Actor
  action: string
  target: string
  detail: Record<string, unknown>
}

export interface AuditQuery {
  from?: number
  to?: number
  actor?: string
  action?: string
  target?: string
  /** Newest first (default) or oldest first. */
  order?: 'newest' | 'oldest'
  limit?: number
  /** The `next` cursor of the previous page. */
  cursor?: [number, number]
}

const auditLimitMax = 500

/** Identifier types whose values are masked. */
const maskedTypes: ReadonlySet<string> = new Set(cardTypes)

/**
 * A card number masked but for its last four characters (at most half of a
 * number shorter than eight): `6001000099990001` → `************0001`.
 * Masking a masked number changes nothing.
 */
export function maskCardNumber(value: string): string {
  const kept = Math.min(4, Math.floor(value.length / 2))
  return '*'.repeat(value.length - kept) + value.slice(value.length - kept)
}

/** `card:6001…` (an identifier key, as `member.merge` lists them) with its number masked. */
function maskIdentifierKey(key: unknown): unknown {
  if (typeof key !== 'string') return key
  const colon = key.indexOf(':')
  return colon > 0 && maskedTypes.has(key.slice(0, colon)) ? `${key.slice(0, colon + 1)}${maskCardNumber(key.slice(colon + 1))}` : key
}

/**
 * A record's detail with its card numbers masked: `value`, `old` and `new`
 * of `card.*` records of a card type, and the card keys in a merge's
 * `identifiers`. The detail itself when there is nothing to mask.
 */
function maskedDetail(action: string, detail: Record<string, unknown>): Record<string, unknown> {
  if (action.startsWith('card.') && maskedTypes.has(String(detail['type'] ?? 'card'))) {
    let masked: Record<string, unknown> | undefined
    for (const field of ['value', 'old', 'new']) {
      const value = detail[field]
      if (typeof value !== 'string' || maskCardNumber(value) === value) continue
      masked ??= { ...detail }
      masked[field] = maskCardNumber(value)
    }
    return masked ?? detail
  }
  if (action === 'member.merge' && Array.isArray(detail['identifiers'])) {
    const identifiers = detail['identifiers'].map(maskIdentifierKey)
    return identifiers.every((key, i) => key === (detail['identifiers'] as unknown[])[i]) ? detail : { ...detail, identifiers }
  }
  return detail
}

/** The record with its card numbers masked (one written before masking, as it is shown). */
function masked(record: AuditRecord): AuditRecord {
  const detail = maskedDetail(record.action, record.detail)
  return detail === record.detail ? record : { ...record, detail }
}

export class AuditLog {
  readonly #log: Database<AuditRecord, [number, number]>
  readonly #clock: () => number
  #seq = 0

  constructor(root: RootDatabase, clock: () => number) {
    this.#log = root.openDB({ name: 'audit' })
    this.#clock = clock
    for (const key of this.#log.getKeys({ reverse: true, limit: 1 })) this.#seq = key[1]
  }

  /** Adds a record; it is written with whatever else the caller writes in this event turn. */
  record(actor: Actor, action: string, target: string, detail: Record<string, unknown>): AuditRecord {
    const clean = Object.fromEntries(Object.entries(detail).filter(([, v]) => v !== undefined))
    const record: AuditRecord = { at: this.#clock(), seq: ++this.#seq, actor, action, target, detail: maskedDetail(action, clean) }
    void this.#log.put([record.at, record.seq], record)
    return record
  }

  search(query: AuditQuery = {}): { records: AuditRecord[]; next?: [number, number] } {
    const limit = Math.min(query.limit ?? 100, auditLimitMax)
    const newest = (query.order ?? 'newest') === 'newest'
    const low: [number, number] = [query.from ?? 0, 0]
    const high: [number, number] = [query.to ?? Number.MAX_SAFE_INTEGER, 0]
    const range = newest
      ? { start: query.cursor ?? high, end: low, reverse: true }
      : { start: query.cursor ?? low, end: high }
    const records: AuditRecord[] = []
    let next: [number, number] | undefined
    for (const { key, value } of this.#log.getRange(range)) {
      if (query.cursor !== undefined && key[0] === query.cursor[0] && key[1] === query.cursor[1]) continue
      if (query.actor !== undefined && value.actor.id !== query.actor) continue
      if (query.action !== undefined && !value.action.startsWith(query.action)) continue
      if (query.target !== undefined && value.target !== query.target) continue
      if (records.length === limit) {
        next = [records[limit - 1]!.at, records[limit - 1]!.seq]
        break
      }
      records.push(masked(value))
    }
    return next === undefined ? { records } : { records, next }
  }
}
