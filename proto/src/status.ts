/**
 * The one numbered status table shared by every interface (engine, WebSocket,
 * gRPC, REST). Listed in precedence order: when several outcomes apply, the
 * engine reports the one listed first. Numbers are never reused or renumbered;
 * `proto/loyalty.proto` mirrors this table and a test keeps the two in step.
 *
 * Expected outcomes are statuses, never exceptions. `transient` says whether a
 * retry with the same idempotency key may succeed later; every other failure is
 * sticky: the engine stores it and answers a retry with the same status.
 *
 * @example
 *   if (reply.status === 'insufficient_points') showDecline(reply)
 *   statusCode('ok') // 0
 */
export const statuses = {
  ok: { code: 0, transient: false, doc: 'The command was applied.' },
  exists: {
    code: 1,
    transient: false,
    doc: 'Idempotent replay: the key was seen with the same payload; the stored result is returned.',
  },
  exists_with_different_operation: {
    code: 2,
    transient: false,
    doc: 'The idempotency key was used for another operation.',
  },
  exists_with_different_points: {
    code: 3,
    transient: false,
    doc: 'The idempotency key was used with another number of points.',
  },
  exists_with_different_hold: {
    code: 4,
    transient: false,
    doc: 'The idempotency key was used for another hold.',
  },
  exists_with_different_ref: {
    code: 5,
    transient: false,
    doc: 'The idempotency key was used with another transaction reference.',
  },
  exists_with_different_amount: {
    code: 6,
    transient: false,
    doc: 'The idempotency key was used with another money amount.',
  },
  exists_with_different_payload: {
    code: 7,
    transient: false,
    doc: 'The idempotency key was used with other terms (expiry, lock, timeout, reason).',
  },
  insufficient_points: {
    code: 8,
    transient: false,
    doc: 'The spendable balance does not cover the points asked for.',
  },
  account_not_found: { code: 9, transient: false, doc: 'No account with that id exists.' },
  card_blocked: { code: 10, transient: false, doc: 'The card presented is blocked, lost or replaced.' },
  member_suspended: {
    code: 11,
    transient: false,
    doc: 'The member is suspended or closed: no earning, no burning.',
  },
  redemption_not_allowed: {
    code: 12,
    transient: false,
    doc: 'The member may earn but not redeem.',
  },
  hold_not_found: { code: 13, transient: false, doc: 'No hold with that id on this account.' },
  hold_already_captured: { code: 14, transient: false, doc: 'The hold was captured before.' },
  hold_already_voided: { code: 15, transient: false, doc: 'The hold was voided before.' },
  hold_expired: { code: 16, transient: false, doc: 'The hold passed its deadline and was released.' },
  capture_exceeds_hold: {
    code: 17,
    transient: false,
    doc: 'A capture asked for more points than the hold reserved.',
  },
  transaction_not_found: {
    code: 18,
    transient: false,
    doc: 'A reversal named a transaction reference this account never earned on.',
  },
  reversal_exceeds_original: {
    code: 19,
    transient: false,
    doc: 'A reversal would take back more than the original transaction earned.',
  },
  invalid_request: {
    code: 20,
    transient: false,
    doc: 'The request is malformed; `field` names what is wrong. Never stored, nothing applied.',
  },
  unauthorized: { code: 21, transient: false, doc: 'Missing or wrong credentials.' },
  overloaded: {
    code: 22,
    transient: true,
    doc: 'A named limit (mailbox depth, in-flight requests) was reached; retry later.',
  },
  unavailable: {
    code: 23,
    transient: true,
    doc: 'Storage failed (disk full, I/O error) or the engine is shutting down; nothing was acknowledged.',
  },
} as const satisfies Record<string, { code: number; transient: boolean; doc: string }>

/** A status name, e.g. `'insufficient_points'`. */
export type StatusName = keyof typeof statuses

/** Every status name, in precedence order. */
export const statusNames = Object.keys(statuses) as StatusName[]

/** The stable wire number of a status. */
export function statusCode(name: StatusName): number {
  return statuses[name].code
}

const namesByCode = new Map<number, StatusName>(statusNames.map((n) => [statuses[n].code, n]))

/** The status name for a wire number, or undefined for an unknown number. */
export function statusName(code: number): StatusName | undefined {
  return namesByCode.get(code)
}

/** Whether a retry with the same idempotency key may succeed later. */
export function isTransient(name: StatusName): boolean {
  return statuses[name].transient
}
