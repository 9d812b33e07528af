/**
 * How engine statuses become HTTP status codes on the REST interface. The
 * body is always the reply itself, so a client branches on its `status` and
 * the HTTP code is a summary for proxies, logs and generic clients:
 *
 * - 200: applied, or replayed (`exists` keeps its body status);
 * - 400: malformed (`invalid_request`, with `field`); nothing was applied;
 * - 403: the caller is authenticated but its role may not run the operation
 *   (bad or missing credentials are the adapter's own 401, never the engine's);
 * - 404: the account, hold or transaction named does not exist;
 * - 409: a business refusal: the account's state (balance, holds, card,
 *   membership) or an earlier use of the idempotency key refuses the command.
 *   One code for all of them, because they share their meaning for HTTP: the
 *   request was understood and is valid, and retrying it unchanged fails again;
 * - 429 and 503: transient (`overloaded`, `unavailable`); retry later with the
 *   same idempotency key, after `Retry-After` seconds.
 *
 * @module
 */
import { isTransient, type StatusName } from '@loyalty/proto'

export type ReplyHttpStatus = 200 | 400 | 403 | 404 | 409 | 429 | 503

/** Every status has an entry: a new status fails to compile until it is mapped. */
export const httpStatusOf: Readonly<Record<StatusName, ReplyHttpStatus>> = {
  ok: 200,
  exists: 200,
  exists_with_different_operation: 409,
  exists_with_different_points: 409,
  exists_with_different_hold: 409,
  exists_with_different_ref: 409,
  exists_with_different_amount: 409,
  exists_with_different_payload: 409,
  insufficient_points: 409,
  account_not_found: 404,
  card_blocked: 409,
  member_suspended: 409,
  redemption_not_allowed: 409,
  hold_not_found: 404,
  hold_already_captured: 409,
  hold_already_voided: 409,
  hold_expired: 409,
  capture_exceeds_hold: 409,
  transaction_not_found: 404,
  reversal_exceeds_original: 409,
  invalid_request: 400,
  unauthorized: 403,
  overloaded: 429,
  unavailable: 503,
}

/** Seconds a client should wait before retrying a transient status. */
export const retryAfterSeconds = 1

/** The `Retry-After` header for transient statuses, none otherwise. */
export function retryHeaders(status: StatusName): Record<string, string> | undefined {
  return isTransient(status) ? { 'Retry-After': String(retryAfterSeconds) } : undefined
}
