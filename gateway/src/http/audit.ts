/**
 * The audit trail over REST. Every change an operator or API client makes is
 * kept in the registry's durable, append-only audit log
 * (`engine.members.audit`): member and card changes are recorded by the
 * registry in the same write as the change; this adapter records the others
 * (terminals, tokens, users, rulesets, sessions, exports) and answers only
 * once the record is flushed, so a change the caller saw succeed is never
 * missing from the trail after a crash.
 *
 * The actor is the caller's kind and id and, when the request came over a
 * socket, the client's address (the peer's: a proxy's forwarded headers are
 * not evidence). `GET /v1/audit` searches the log by time, actor, action
 * prefix and target, newest first, a page at a time.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http'
import type { Context, Hono } from 'hono'
import type { Actor, AuditQuery, AuditRecord, Logger, MemberRegistry } from '@loyalty/engine'
import type { Principal } from '../core/gateway.ts'
import { guarded, type HttpDeps } from './guard.ts'
import { invalid, queryFields, queryInteger } from './request.ts'

/** Records into the registry's audit log, and logs a line per record. */
export class AuditLog {
  readonly #members: MemberRegistry
  readonly #logger: Logger

  constructor(members: MemberRegistry, logger: Logger) {
    this.#members = members
    this.#logger = logger
  }

  /** Resolves once the record is durable. */
  async record(actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}) {
    const record = await this.#members.recordAudit(actor, action, target, detail)
    this.#logger.info(`audit: ${actor.kind} ${printable(actor.id)} ${action} ${printable(target)}`)
    return record
  }

  search(query: AuditQuery): { records: AuditRecord[]; next?: [number, number] } {
    return this.#members.audit.search(query)
  }
}

/** The peer address of the request, when it came through the Node server. */
export function clientAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: IncomingMessage } | undefined
  return env?.incoming?.socket.remoteAddress
}

/** Who is making a change, for the audit log. */
export function actorOf(c: Context, principal: Principal): Actor {
  const from = clientAddress(c)
  const actor: Actor = { kind: principal.kind, id: principal.id }
  if (from !== undefined) actor.from = from
  return actor
}

const isoTime = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/

/** Whether a year, month and day name a day of the calendar (`Date.parse` takes 2026-02-31 for March 3). */
function isDay(year: string, month: string, day: string): boolean {
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)))
  return date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day)
}

/**
 * An optional time query parameter: ms since the epoch, a date (`2026-01-31`,
 * midnight UTC) or an ISO 8601 time with a zone.
 */
export function queryTime(c: Context, name: string): number | undefined {
  const raw = c.req.query(name)
  if (raw === undefined) return undefined
  if (/^\d{1,16}$/.test(raw)) return Number(raw)
  const parts = isoTime.exec(raw)
  const time = parts !== null && isDay(parts[1]!, parts[2]!, parts[3]!) ? Date.parse(raw) : Number.NaN
  if (Number.isNaN(time)) {
    throw invalid(name, `${name} must be ms since the epoch, YYYY-MM-DD or an ISO 8601 time`)
  }
  return time
}

/** An optional text query parameter of at most `max` characters. */
export function queryText(c: Context, name: string, max: number): string | undefined {
  const raw = c.req.query(name)
  if (raw === undefined) return undefined
  if (raw.length === 0 || raw.length > max) {
    throw invalid(name, `${name} must have 1 to ${max} characters`)
  }
  return raw
}

export const auditLimitDefault = 100
/** The registry's audit log answers at most this many records a page. */
export const auditLimitMax = 500

/** `at.seq` of the last record of a page, and back. */
function cursorText(cursor: [number, number]): string {
  return `${cursor[0]}.${cursor[1]}`
}

function cursorOf(c: Context): [number, number] | undefined {
  const raw = c.req.query('cursor')
  if (raw === undefined) return undefined
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(raw)
  if (match === null) throw invalid('cursor', 'cursor must be the `next` of the previous page')
  return [Number(match[1]), Number(match[2])]
}

const auditParameters = ['from', 'to', 'actor', 'action', 'target', 'cursor', 'order', 'limit']

function auditQuery(c: Context): AuditQuery {
  queryFields(c, auditParameters)
  const query: AuditQuery = {
    limit: queryInteger(c, 'limit', { min: 1, max: auditLimitMax }) ?? auditLimitDefault,
  }
  const from = queryTime(c, 'from')
  const to = queryTime(c, 'to')
  const actor = queryText(c, 'actor', 128)
  const action = queryText(c, 'action', 128)
  const target = queryText(c, 'target', 200)
  const cursor = cursorOf(c)
  const order = c.req.query('order')
  if (order !== undefined && order !== 'newest' && order !== 'oldest') {
    throw invalid('order', 'order must be newest or oldest')
  }
  if (from !== undefined) query.from = from
  if (to !== undefined) query.to = to
  if (actor !== undefined) query.actor = actor
  if (action !== undefined) query.action = action
  if (target !== undefined) query.target = target
  if (cursor !== undefined) query.cursor = cursor
  if (order !== undefined) query.order = order
  return query
}

export function registerAudit(app: Hono, deps: HttpDeps) {
  const admits = { roles: ['admin'] as const, action: 'read the audit trail' }
  app.get('/v1/audit', guarded(deps, admits, (c) => {
    const page = deps.audit.search(auditQuery(c))
    const body = page.next === undefined
      ? { status: 'ok', records: page.records }
      : { status: 'ok', records: page.records, next: cursorText(page.next) }
    return c.json(body)
  }))
}

/** A value for a log line: control characters escaped, so no value can start a line of its own. */
function printable(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
