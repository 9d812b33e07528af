/**
 * The audit log: every change an operator or API client makes, with who,
 * when, what, to which record and from where. Append-only: records are only
 * ever added, under a key of (time, sequence), in the same write as the
 * change they describe. Searchable by time range, actor, action and target.
 *
 * @module
 */
import type { Database, RootDatabase } from 'lmdb'

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
    const record: AuditRecord = { at: this.#clock(), seq: ++this.#seq, actor, action, target, detail: clean }
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
      records.push(value)
    }
    return next === undefined ? { records } : { records, next }
  }
}
