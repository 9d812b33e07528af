/**
 * The administration audit trail: who changed what, when, on which target.
 * For now it is a bounded list in memory (the newest `max` entries) and a log
 * line per entry; a registry-backed, durable audit log comes with members.
 *
 * @module
 */
import type { Logger } from '@loyalty/engine'
import type { Principal, PrincipalKind } from '../core/gateway.ts'

export interface AuditEntry {
  /** Numbered from 1 in this process; a gap at the start means older entries were dropped. */
  seq: number
  at: number
  who: { kind: PrincipalKind; id: string }
  /** What was done, e.g. `terminal.issue`, `ruleset.activate`. */
  what: string
  /** What it was done to: a terminal id, a ruleset version, a user name. */
  target: string
  detail?: Record<string, unknown>
}

export interface AuditLogOptions {
  max: number
  clock: () => number
  logger: Logger
}

export const auditMaxDefault = 10_000

export class AuditLog {
  readonly #options: AuditLogOptions
  readonly #entries: AuditEntry[] = []
  #seq = 0

  constructor(options: AuditLogOptions) {
    this.#options = options
  }

  record(who: Principal, what: string, target: string, detail?: Record<string, unknown>) {
    const entry: AuditEntry = {
      seq: ++this.#seq,
      at: this.#options.clock(),
      who: { kind: who.kind, id: who.id },
      what,
      target,
    }
    if (detail !== undefined) entry.detail = detail
    this.#entries.push(entry)
    // Admin changes are rare: an occasional shift of a bounded array costs nothing.
    if (this.#entries.length > this.#options.max) this.#entries.shift()
    this.#options.logger.info(`audit: ${who.kind} ${who.id} ${what} ${target}`)
    return entry
  }

  /** The newest `limit` entries, newest first. */
  list(limit: number): AuditEntry[] {
    return this.#entries.slice(-limit).reverse()
  }
}
