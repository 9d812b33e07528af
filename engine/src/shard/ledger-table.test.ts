/**
 * Goal: every ledger operation gives the right status and balances, on both
 * stores. Method: tables of command -> expected status and balance
 * [available, pending, held], run in order through a real shard; after each
 * table the journal is checked against the account invariants.
 */
import type { StatusName } from '@loyalty/proto'
import { describe, expect, it } from 'vitest'
import { accountProblems } from '../domain/invariants.ts'
import { dayMs } from '../testing/clock.ts'
import { shardHarness, storeKinds, type ShardHarness } from '../testing/shard-harness.ts'

interface Row {
  /** Milliseconds to move the clock forward before the command. */
  wait?: number
  /** The command; `account` defaults to 'a'. A `$name` hold refers to a saved hold id. */
  do: Record<string, unknown>
  status: StatusName
  balance?: [available: number, pending: number, held: number]
  points?: number
  /** Saves the reply's hold id under this name. */
  saveHold?: string
  field?: string
}

async function runTable(h: ShardHarness, rows: Row[]) {
  const holds = new Map<string, number>()
  for (const [index, row] of rows.entries()) {
    if (row.wait !== undefined) h.clock.advance(row.wait)
    const input: Record<string, unknown> = { account: 'a', ...row.do }
    if (typeof input['hold'] === 'string') input['hold'] = holds.get(input['hold'] as string)
    const reply = await h.send(input)
    const where = `row ${index + 1}: ${JSON.stringify(row.do)}`
    expect(reply.status, where).toBe(row.status)
    if (row.balance !== undefined) {
      const b = reply.balance ?? (await h.send({ op: 'balance', account: input['account'] })).balance
      expect(b && [b.available, b.pending, b.held], where).toEqual(row.balance)
    }
    if (row.points !== undefined) expect(reply.points, where).toBe(row.points)
    if (row.field !== undefined) expect(reply.field, where).toBe(row.field)
    if (row.saveHold !== undefined) holds.set(row.saveHold, reply.hold!)
  }
  for (const account of new Set(rows.map((r) => (r.do['account'] as string | undefined) ?? 'a'))) {
    const state = h.store.getAccount(account)
    if (state !== undefined) expect(accountProblems(state, h.journal(account))).toEqual([])
  }
}

const tables: Record<string, (now: number) => Row[]> = {
  'earn and redeem, failures sticky': () => [
    { do: { op: 'earn', key: 'e1', points: 100 }, status: 'ok', balance: [100, 0, 0], points: 100 },
    { do: { op: 'redeem', key: 'r1', points: 30 }, status: 'ok', balance: [70, 0, 0] },
    { do: { op: 'redeem', key: 'r2', points: 71 }, status: 'insufficient_points', balance: [70, 0, 0] },
    { do: { op: 'earn', key: 'e2', points: 100 }, status: 'ok', balance: [170, 0, 0] },
    // A failure is sticky: the same key after a top-up still fails.
    { do: { op: 'redeem', key: 'r2', points: 71 }, status: 'insufficient_points', balance: [170, 0, 0] },
    { do: { op: 'redeem', key: 'r3', points: 170 }, status: 'ok', balance: [0, 0, 0] },
  ],
  'idempotency: replays and conflicting payloads': (now) => [
    { do: { op: 'earn', key: 'k', points: 100 }, status: 'ok', balance: [100, 0, 0] },
    { do: { op: 'earn', key: 'k', points: 100 }, status: 'exists', balance: [100, 0, 0], points: 100 },
    { do: { op: 'earn', key: 'k', points: 50 }, status: 'exists_with_different_points' },
    { do: { op: 'redeem', key: 'k', points: 100 }, status: 'exists_with_different_operation' },
    { do: { op: 'earn', key: 'k', points: 100, ref: 'other' }, status: 'exists_with_different_ref' },
    { do: { op: 'earn', key: 'k', points: 100, amount: 5 }, status: 'exists_with_different_amount' },
    { do: { op: 'earn', key: 'k', points: 100, expiresAt: now + dayMs }, status: 'exists_with_different_payload' },
    // Keys are per account: the same key on another account is another command.
    { do: { op: 'earn', account: 'b', key: 'k', points: 7 }, status: 'ok', balance: [7, 0, 0] },
    { do: { op: 'balance' }, status: 'ok', balance: [100, 0, 0] },
  ],
  'unknown accounts': () => [
    { do: { op: 'redeem', key: 'r', points: 1 }, status: 'account_not_found' },
    { do: { op: 'authorize', key: 'h', points: 1 }, status: 'account_not_found' },
    { do: { op: 'adjust', key: 'd', points: -1, reason: 'fix' }, status: 'account_not_found' },
    { do: { op: 'balance' }, status: 'account_not_found' },
    { do: { op: 'history' }, status: 'account_not_found' },
    { do: { op: 'adjust', key: 'c', points: 5, reason: 'goodwill' }, status: 'ok', balance: [5, 0, 0] },
  ],
  'lots burn soonest expiry first, and expire': (now) => [
    { do: { op: 'earn', key: 'e1', points: 50, expiresAt: now + 10 * dayMs }, status: 'ok' },
    { do: { op: 'earn', key: 'e2', points: 50, expiresAt: now + 5 * dayMs }, status: 'ok' },
    { do: { op: 'earn', key: 'e3', points: 50 }, status: 'ok', balance: [150, 0, 0] },
    { do: { op: 'redeem', key: 'r1', points: 60 }, status: 'ok', balance: [90, 0, 0] },
    // The 5-day lot was used up entirely, so nothing expires at day 6.
    { wait: 6 * dayMs, do: { op: 'balance' }, status: 'ok', balance: [90, 0, 0] },
    // 40 of the 10-day lot remain and expire at day 10.
    { wait: 5 * dayMs, do: { op: 'expire' }, status: 'ok', balance: [50, 0, 0], points: 40 },
    { do: { op: 'redeem', key: 'r2', points: 51 }, status: 'insufficient_points', balance: [50, 0, 0] },
  ],
  'pending points are not spendable until active': (now) => [
    { do: { op: 'earn', key: 'e1', points: 100, activeFrom: now + dayMs }, status: 'ok', balance: [0, 100, 0] },
    { do: { op: 'redeem', key: 'r1', points: 10 }, status: 'insufficient_points' },
    { do: { op: 'authorize', key: 'h1', points: 10 }, status: 'insufficient_points' },
    { wait: dayMs, do: { op: 'redeem', key: 'r2', points: 10 }, status: 'ok', balance: [90, 0, 0] },
  ],
  'holds: capture, partial capture, void, expiry, exactly once': () => [
    { do: { op: 'earn', key: 'e1', points: 100 }, status: 'ok' },
    { do: { op: 'authorize', key: 'a1', points: 60 }, status: 'ok', balance: [40, 0, 60], saveHold: 'h1' },
    { do: { op: 'capture', key: 'c1', hold: 'h1', points: 61 }, status: 'capture_exceeds_hold', balance: [40, 0, 60] },
    { do: { op: 'capture', key: 'c2', hold: 'h1', points: 50 }, status: 'ok', balance: [50, 0, 0], points: 50 },
    { do: { op: 'capture', key: 'c2', hold: 'h1', points: 50 }, status: 'exists', balance: [50, 0, 0] },
    { do: { op: 'capture', key: 'c3', hold: 'h1' }, status: 'hold_already_captured' },
    { do: { op: 'void', key: 'v1', hold: 'h1' }, status: 'hold_already_captured' },
    { do: { op: 'authorize', key: 'a2', points: 30 }, status: 'ok', balance: [20, 0, 30], saveHold: 'h2' },
    { do: { op: 'void', key: 'v2', hold: 'h2' }, status: 'ok', balance: [50, 0, 0] },
    { do: { op: 'void', key: 'v3', hold: 'h2' }, status: 'hold_already_voided' },
    { do: { op: 'capture', key: 'c4', hold: 'h2' }, status: 'hold_already_voided' },
    { do: { op: 'capture', key: 'c5', hold: 999 }, status: 'hold_not_found' },
    { do: { op: 'authorize', key: 'a3', points: 20, timeoutMs: 1000 }, status: 'ok', balance: [30, 0, 20], saveHold: 'h3' },
    { wait: 1000, do: { op: 'capture', key: 'c6', hold: 'h3' }, status: 'hold_expired', balance: [50, 0, 0] },
    { do: { op: 'void', key: 'v4', hold: 'h3' }, status: 'hold_expired', balance: [50, 0, 0] },
    { do: { op: 'authorize', key: 'a4', points: 1, timeoutMs: 8 * dayMs }, status: 'invalid_request', field: 'timeoutMs' },
  ],
  'held points whose lot expires meanwhile expire on release': (now) => [
    { do: { op: 'earn', key: 'e1', points: 100, expiresAt: now + 1000 } , status: 'ok' },
    { do: { op: 'authorize', key: 'a1', points: 100, timeoutMs: 60_000 }, status: 'ok', saveHold: 'h', balance: [0, 0, 100] },
    // The lot's expiry passes while its points are held: nothing to expire yet.
    { wait: 2000, do: { op: 'balance' }, status: 'ok', balance: [0, 0, 100] },
    { do: { op: 'capture', key: 'c1', hold: 'h', points: 40 }, status: 'ok', balance: [0, 0, 0] },
  ],
  'reversal by amount is proportional and cumulative': () => [
    { do: { op: 'earn', key: 'sale', points: 70, amount: 4000 }, status: 'ok', balance: [70, 0, 0] },
    { do: { op: 'reverse', key: 'ret1', ref: 'sale', amount: 2000 }, status: 'ok', points: 35, balance: [35, 0, 0] },
    { do: { op: 'reverse', key: 'ret2', ref: 'sale', amount: 1999 }, status: 'ok', points: 34, balance: [1, 0, 0] },
    { do: { op: 'reverse', key: 'ret3', ref: 'sale', amount: 2 }, status: 'reversal_exceeds_original' },
    { do: { op: 'reverse', key: 'ret4', ref: 'sale', amount: 1 }, status: 'ok', points: 1, balance: [0, 0, 0] },
    { do: { op: 'reverse', key: 'ret5', ref: 'nope' }, status: 'transaction_not_found' },
  ],
  'reversal of spent points: debt by default, paid back by later earns': () => [
    { do: { op: 'earn', key: 'sale', points: 100, ref: 'R' }, status: 'ok' },
    { do: { op: 'redeem', key: 'r1', points: 80 }, status: 'ok', balance: [20, 0, 0] },
    { do: { op: 'reverse', key: 'ret', ref: 'R' }, status: 'ok', points: 100, balance: [-80, 0, 0] },
    { do: { op: 'redeem', key: 'r2', points: 1 }, status: 'insufficient_points' },
    { do: { op: 'earn', key: 'e2', points: 50 }, status: 'ok', balance: [-30, 0, 0] },
    { do: { op: 'earn', key: 'e3', points: 50 }, status: 'ok', balance: [20, 0, 0] },
    { do: { op: 'reverse', key: 'ret2', ref: 'R', points: 1 }, status: 'reversal_exceeds_original' },
  ],
  'a return claims held points (its own lot first), owed while held; their release settles the claim': (now) => [
    { do: { op: 'earn', key: 'e1', points: 100, expiresAt: now + dayMs }, status: 'ok' },
    { do: { op: 'earn', key: 'sale', points: 100, ref: 'R' }, status: 'ok' },
    { do: { op: 'authorize', key: 'h', points: 200, timeoutMs: 2 * dayMs }, status: 'ok', balance: [0, 0, 200] },
    { do: { op: 'reverse', key: 'ret', ref: 'R' }, status: 'ok', points: 100, balance: [-100, 0, 200] },
    // The hold lapses after the first lot's expiry: its claimed points settle the claim, the others expire.
    { wait: 2 * dayMs, do: { op: 'balance' }, status: 'ok', balance: [0, 0, 0] },
  ],
  'held points whose lot expires while held: the release settles the claim on them, so nothing is owed after': (now) => [
    { do: { op: 'earn', key: 'sale', points: 100, ref: 'R' }, status: 'ok' },
    { do: { op: 'earn', key: 'promo', points: 100, expiresAt: now + 60_000 }, status: 'ok' },
    { do: { op: 'authorize', key: 'h', points: 100, timeoutMs: 3_600_000 }, status: 'ok', saveHold: 'h', balance: [100, 0, 100] },
    { do: { op: 'redeem', key: 'r1', points: 100 }, status: 'ok', balance: [0, 0, 100] },
    { do: { op: 'reverse', key: 'ret', ref: 'R' }, status: 'ok', points: 100, balance: [-100, 0, 100] },
    { wait: 120_000, do: { op: 'void', key: 'v', hold: 'h' }, status: 'ok', points: 100, balance: [0, 0, 0] },
    { do: { op: 'earn', key: 'e2', points: 150 }, status: 'ok', balance: [150, 0, 0] },
  ],
  'a reverse or refund of nothing: refused when all is taken back, ok with 0 points when it rounds to 0': () => [
    { do: { op: 'earn', key: 'sale', points: 70, amount: 40, ref: 'S' }, status: 'ok', balance: [70, 0, 0] },
    { do: { op: 'reverse', key: 'x1', ref: 'S', points: 60 }, status: 'ok', points: 60, balance: [10, 0, 0] },
    { do: { op: 'reverse', key: 'x2', ref: 'S', amount: 20 }, status: 'ok', points: 0, balance: [10, 0, 0] },
    { do: { op: 'reverse', key: 'x2', ref: 'S', amount: 20 }, status: 'exists', points: 0 },
    { do: { op: 'reverse', key: 'x3', ref: 'S', amount: 20 }, status: 'ok', points: 10, balance: [0, 0, 0] },
    { do: { op: 'earn', key: 'e2', points: 100 }, status: 'ok', balance: [100, 0, 0] },
    { do: { op: 'redeem', key: 'pay', points: 70, ref: 'O', amount: 4000 }, status: 'ok', balance: [30, 0, 0] },
    { do: { op: 'refund', key: 'f1', ref: 'O', points: 70 }, status: 'ok', balance: [100, 0, 0] },
    { do: { op: 'refund', key: 'f2', ref: 'O', amount: 1000 }, status: 'reversal_exceeds_original' },
    { do: { op: 'refund', key: 'f2', ref: 'O', amount: 1000 }, status: 'reversal_exceeds_original' },
  ],
  'reversal of spent points under the clamp policy forgives the shortfall': () => [
    { do: { op: 'earn', key: 'sale', points: 100, ref: 'R' }, status: 'ok' },
    { do: { op: 'redeem', key: 'r1', points: 80 }, status: 'ok', balance: [20, 0, 0] },
    { do: { op: 'reverse', key: 'ret', ref: 'R', shortfall: 'clamp' }, status: 'ok', points: 20, balance: [0, 0, 0] },
  ],
  'clamp forgives only spent points: a return claims held points first': () => [
    { do: { op: 'earn', key: 'sale', points: 300, ref: 'R' }, status: 'ok' },
    { do: { op: 'authorize', key: 'h', points: 100 }, status: 'ok', balance: [200, 0, 100], saveHold: 'h' },
    { do: { op: 'redeem', key: 'r1', points: 150 }, status: 'ok', balance: [50, 0, 100] },
    // 50 from lots, 100 claimed from the hold (owed until it closes), 150 spent and forgiven.
    { do: { op: 'reverse', key: 'ret', ref: 'R', shortfall: 'clamp' }, status: 'ok', points: 150, balance: [-100, 0, 100] },
    { do: { op: 'void', key: 'v', hold: 'h' }, status: 'ok', balance: [0, 0, 0] },
  ],
  'a hold captured after a return spends the claimed points: they are owed, under clamp too': () => [
    { do: { op: 'earn', key: 'sale', points: 100, ref: 'R' }, status: 'ok' },
    { do: { op: 'authorize', key: 'h', points: 100 }, status: 'ok', balance: [0, 0, 100], saveHold: 'h' },
    { do: { op: 'reverse', key: 'ret', ref: 'R', shortfall: 'clamp' }, status: 'ok', points: 100, balance: [-100, 0, 100] },
    { do: { op: 'capture', key: 'c', hold: 'h' }, status: 'ok', points: 100, balance: [-100, 0, 0] },
    { do: { op: 'earn', key: 'e2', points: 150 }, status: 'ok', balance: [50, 0, 0] },
  ],
  'amounts of several earns or redemptions on one ref add up like their points': () => [
    { do: { op: 'earn', key: 'e1', points: 100, ref: 'P', amount: 1000 }, status: 'ok' },
    { do: { op: 'earn', key: 'e2', points: 100, ref: 'P', amount: 1000 }, status: 'ok', balance: [200, 0, 0] },
    { do: { op: 'reverse', key: 'x1', ref: 'P', amount: 1000 }, status: 'ok', points: 100, balance: [100, 0, 0] },
    { do: { op: 'redeem', key: 'r1', points: 40, ref: 'O', amount: 500 }, status: 'ok' },
    { do: { op: 'redeem', key: 'r2', points: 40, ref: 'O', amount: 500 }, status: 'ok', balance: [20, 0, 0] },
    { do: { op: 'refund', key: 'f1', ref: 'O', amount: 500 }, status: 'ok', points: 40, balance: [60, 0, 0] },
    { do: { op: 'refund', key: 'f2', ref: 'O', amount: 500 }, status: 'ok', points: 40, balance: [100, 0, 0] },
  ],
  'reversal takes from the original lot first': (now) => [
    { do: { op: 'earn', key: 'e1', points: 100, expiresAt: now + 2 * dayMs }, status: 'ok' },
    { do: { op: 'earn', key: 'sale', points: 40, expiresAt: now + 9 * dayMs }, status: 'ok' },
    { do: { op: 'reverse', key: 'ret', ref: 'sale' }, status: 'ok', points: 40, balance: [100, 0, 0] },
    // Had it taken the soonest lot, 40 would survive day 2; the 100-point lot expires whole.
    { wait: 3 * dayMs, do: { op: 'balance' }, status: 'ok', balance: [0, 0, 0] },
  ],
  'refund of a redemption by amount is proportional and cumulative': () => [
    { do: { op: 'earn', key: 'e1', points: 100 }, status: 'ok' },
    // $40 of a purchase paid with 70 points.
    { do: { op: 'redeem', key: 'pay', points: 70, ref: 'order-9', amount: 4000 }, status: 'ok', balance: [30, 0, 0] },
    { do: { op: 'refund', key: 'rf1', ref: 'order-9', amount: 2000 }, status: 'ok', points: 35, balance: [65, 0, 0] },
    { do: { op: 'refund', key: 'rf2', ref: 'order-9', amount: 1999 }, status: 'ok', points: 34, balance: [99, 0, 0] },
    { do: { op: 'refund', key: 'rf3', ref: 'order-9', amount: 2 }, status: 'reversal_exceeds_original' },
    { do: { op: 'refund', key: 'rf4', ref: 'order-9' }, status: 'ok', points: 1, balance: [100, 0, 0] },
    { do: { op: 'refund', key: 'rf5', ref: 'order-9', points: 1 }, status: 'reversal_exceeds_original' },
    { do: { op: 'refund', key: 'rf6', ref: 'nope' }, status: 'transaction_not_found' },
    // A redemption without a ref cannot be refunded; an earn's ref is not a redemption.
    { do: { op: 'redeem', key: 'plain', points: 10 }, status: 'ok', balance: [90, 0, 0] },
    { do: { op: 'refund', key: 'rf7', ref: 'e1' }, status: 'transaction_not_found' },
    { do: { op: 'refund', key: 'rf8', ref: 'order-9', amount: 1, points: 1 }, status: 'invalid_request', field: 'points' },
    { do: { op: 'refund', key: 'rf9', ref: 'order-9', amount: 0 }, status: 'invalid_request', field: 'amount' },
    { do: { op: 'refund', key: 'rf10', points: 1 }, status: 'invalid_request', field: 'ref' },
  ],
  'refunded points go back to their lots with their dates, and expire if those passed': (now) => [
    { do: { op: 'earn', key: 'soon', points: 50, expiresAt: now + dayMs }, status: 'ok' },
    { do: { op: 'earn', key: 'late', points: 50, expiresAt: now + 30 * dayMs }, status: 'ok' },
    { do: { op: 'redeem', key: 'pay', points: 80, ref: 'o1' }, status: 'ok', balance: [20, 0, 0] },
    // Two days on, the 50 from the first lot would have expired: refunded, they expire at once.
    { wait: 2 * dayMs, do: { op: 'refund', key: 'rf', ref: 'o1' }, status: 'ok', points: 80, balance: [50, 0, 0] },
    // The 30 from the lasting lot are back in it, with its date.
    { wait: 27 * dayMs, do: { op: 'balance' }, status: 'ok', balance: [50, 0, 0] },
    { wait: 2 * dayMs, do: { op: 'balance' }, status: 'ok', balance: [0, 0, 0] },
  ],
  'a refund pays a reversal debt first': () => [
    { do: { op: 'earn', key: 'sale', points: 100, ref: 'S' }, status: 'ok' },
    { do: { op: 'redeem', key: 'pay', points: 100, ref: 'P' }, status: 'ok', balance: [0, 0, 0] },
    { do: { op: 'reverse', key: 'ret', ref: 'S' }, status: 'ok', balance: [-100, 0, 0] },
    { do: { op: 'refund', key: 'rf', ref: 'P', points: 60 }, status: 'ok', balance: [-40, 0, 0] },
    { do: { op: 'refund', key: 'rf2', ref: 'P' }, status: 'ok', points: 40, balance: [0, 0, 0] },
  ],
  'adjustments': () => [
    { do: { op: 'adjust', key: 'd1', points: 10, reason: 'goodwill' }, status: 'ok', balance: [10, 0, 0] },
    { do: { op: 'adjust', key: 'd2', points: -20, reason: 'fraud' }, status: 'insufficient_points' },
    { do: { op: 'adjust', key: 'd3', points: -10, reason: 'fraud' }, status: 'ok', balance: [0, 0, 0] },
    { do: { op: 'adjust', key: 'd4', points: 0, reason: 'x' }, status: 'invalid_request', field: 'points' },
    { do: { op: 'adjust', key: 'd5', points: 5 }, status: 'invalid_request', field: 'reason' },
  ],
  'bad input names the field and is not stored': (now) => [
    { do: { op: 'earn', key: 'e', points: 1.5 }, status: 'invalid_request', field: 'points' },
    { do: { op: 'earn', key: 'e', points: -1 }, status: 'invalid_request', field: 'points' },
    { do: { op: 'earn', key: 'e', points: '10' }, status: 'invalid_request', field: 'points' },
    { do: { op: 'earn', key: '', points: 1 }, status: 'invalid_request', field: 'key' },
    { do: { op: 'earn', key: 'e', points: 1, bogus: 1 }, status: 'invalid_request', field: 'bogus' },
    { do: { op: 'earn', key: 'e', points: 1, expiresAt: now - 1 }, status: 'invalid_request', field: 'expiresAt' },
    { do: { op: 'earn', key: 'e', points: 1, source: { till: 'x' } }, status: 'invalid_request', field: 'source.till' },
    { do: { op: 'transfer', key: 'e', points: 1 }, status: 'invalid_request', field: 'op' },
    { do: { op: 'reverse', key: 'e', ref: 'x', amount: 1, points: 1 }, status: 'invalid_request', field: 'points' },
    // A rejected earn does not leave an empty account behind.
    { do: { op: 'earn', account: 'n', key: 'e', points: 1, expiresAt: now }, status: 'invalid_request' },
    { do: { op: 'balance', account: 'n' }, status: 'account_not_found' },
    // None of the above was stored: the key is still free.
    { do: { op: 'earn', key: 'e', points: 1, expiresAt: now + 1 }, status: 'ok', balance: [1, 0, 0] },
  ],
}

describe.each(storeKinds)('ledger tables on the %s store', (kind) => {
  for (const [name, rows] of Object.entries(tables)) {
    it(name, async () => {
      await using h = await shardHarness(kind)
      await runTable(h, rows(h.clock.now))
    })
  }

  it('pages history newest first with a cursor', async () => {
    await using h = await shardHarness(kind)
    for (let i = 1; i <= 25; i++) await h.send({ op: 'earn', account: 'a', key: `e${i}`, points: i })
    const first = await h.send({ op: 'history', account: 'a', limit: 10 })
    expect(first.entries!.map((e) => e.seq)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16])
    const second = await h.send({ op: 'history', account: 'a', limit: 10, before: first.next })
    expect(second.entries!.map((e) => e.points)).toEqual([15, 14, 13, 12, 11, 10, 9, 8, 7, 6])
    const last = await h.send({ op: 'history', account: 'a', limit: 10, before: second.next })
    expect(last.entries!.map((e) => e.seq)).toEqual([5, 4, 3, 2, 1])
    expect(last.next).toBeUndefined()
    expect(first.entries![0]).toMatchObject({ kind: 'earn', key: 'e25', balance: 325 })
    // A page larger than historyLimitMax (100) is refused, not silently cut.
    expect(await h.send({ op: 'history', account: 'a', limit: 100 })).toMatchObject({ status: 'ok' })
    // So is one below 1, with the same range (it was told "between 1 and 9007199254740991").
    for (const limit of [101, 1000, 5000, 0, -3]) {
      expect(await h.send({ op: 'history', account: 'a', limit })).toEqual({ status: 'invalid_request', field: 'limit', message: 'limit must be between 1 and 100' })
    }
  })

  it('releases expired holds by its scheduler, once, with a journal entry', async () => {
    await using h = await shardHarness(kind)
    await h.send({ op: 'earn', account: 'a', key: 'e', points: 100 })
    const held = await h.send({ op: 'authorize', account: 'a', key: 'h', points: 70, timeoutMs: 5000 })
    h.clock.advance(5000)
    await h.sweep()
    await h.sweep()
    const released = h.journal('a').filter((e) => e.kind === 'release')
    expect(released).toMatchObject([{ hold: held.hold, points: 70, held: -70, reason: 'hold_expired' }])
    expect(h.store.getAccount('a')!.holds).toEqual([])
    expect(h.store.dueTimers(h.clock.now, 10)).toEqual([])
  })

  it('a refusal on a timed-out hold names its deadline, in words that fit a void or a capture', async () => {
    await using h = await shardHarness(kind)
    await h.send({ op: 'earn', account: 'a', key: 'e', points: 100 })
    const deadline = new Date(h.clock.now + 5000).toISOString()
    const held = await h.send({ op: 'authorize', account: 'a', key: 'h', points: 70, timeoutMs: 5000 })
    h.clock.advance(60_000)
    await h.sweep()
    expect(await h.send({ op: 'void', account: 'a', key: 'v', hold: held.hold })).toMatchObject({
      status: 'hold_expired',
      message: `hold ${held.hold} expired at ${deadline} and was released`,
    })
    expect(await h.send({ op: 'capture', account: 'a', key: 'c', hold: held.hold })).toMatchObject({
      status: 'hold_expired',
      message: `hold ${held.hold} expired at ${deadline} before it was captured`,
    })
  })

  it('lists the lots (soonest expiry first), the open holds and the debt behind a balance', async () => {
    await using h = await shardHarness(kind)
    const now = h.clock.now
    await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100, expiresAt: now + 30 * dayMs })
    await h.send({ op: 'earn', account: 'a', key: 'e2', points: 50, expiresAt: now + 10 * dayMs })
    await h.send({ op: 'earn', account: 'a', key: 'e3', points: 20, activeFrom: now + dayMs, expiresAt: now + 40 * dayMs })
    const held = await h.send({ op: 'authorize', account: 'a', key: 'h', points: 60, timeoutMs: 5000 })
    const lots = await h.send({ op: 'lots', account: 'a' })
    expect(lots).toMatchObject({ status: 'ok', balance: { available: 90, pending: 20, held: 60 }, debt: 0 })
    // The hold took the 50 expiring soonest and 10 of the next lot.
    expect(lots.lots).toEqual([
      { points: 90, activeFrom: now, expiresAt: now + 30 * dayMs },
      { points: 20, activeFrom: now + dayMs, expiresAt: now + 40 * dayMs },
    ])
    expect(lots.holds).toEqual([{ hold: held.hold, points: 60, expiresAt: now + 5000 }])
    const sum = lots.lots!.reduce((total, lot) => total + lot.points, 0)
    expect(sum).toBe(lots.balance!.available + lots.balance!.pending)
    expect((await h.send({ op: 'lots', account: 'nobody' })).status).toBe('account_not_found')
    expect(await h.send({ op: 'lots', account: 'a', points: 1 })).toMatchObject({ status: 'invalid_request', field: 'points' })
  })

  it('expires dormant accounts by its scheduler', async () => {
    await using h = await shardHarness(kind)
    await h.send({ op: 'earn', account: 'a', key: 'e', points: 100, expiresAt: h.clock.now + dayMs })
    h.clock.advance(dayMs)
    await h.sweep()
    expect(h.journal('a').map((e) => [e.kind, e.points])).toEqual([['earn', 100], ['expire', -100]])
  })

  it('prunes idempotency keys after the window, and only then', async () => {
    await using h = await shardHarness(kind, { config: { idempotencyWindowMs: dayMs } })
    await h.send({ op: 'earn', account: 'a', key: 'k', points: 1 })
    h.clock.advance(dayMs - 1)
    await h.sweep()
    expect(h.store.getIdem('a', 'k')).toMatchObject({ reply: { status: 'ok', entry: 1, points: 1 } })
    h.clock.advance(1)
    await h.sweep()
    expect(h.store.getIdem('a', 'k')).toBeUndefined()
  })

  it('answers overloaded at once past the mailbox limit', async () => {
    await using h = await shardHarness(kind, { limits: { mailboxDepthMax: 3 } })
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) => h.send({ op: 'earn', account: 'a', key: `k${i}`, points: 1 })),
    )
    expect(replies.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'overloaded', 'overloaded'])
  })
})
