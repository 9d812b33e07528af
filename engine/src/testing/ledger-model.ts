/**
 * A reference model of the ledger for the property test: the same commands,
 * the same replies, written independently of `domain/` and kept simple rather
 * than fast. Lots are a plain unsorted list (sorted only when points are taken),
 * a hold keeps the exact lot portions it took, and an idempotency key keeps the
 * command it was first used with and the reply that command got.
 *
 * Beyond status, balance and points, the model predicts journal sequence
 * numbers (`entry`, `hold`), so it counts every journal line the ledger writes.
 *
 * @module
 */
import type { StatusName } from '@loyalty/proto'
import type {
  AdjustCommand,
  AuthorizeCommand,
  Balance,
  PointsLedgerCommand,
  EarnCommand,
  PointsCommand,
  RedeemCommand,
  RefundCommand,
  Reply,
  ReverseCommand,
} from '../domain/types.ts'

/** What the model takes: the points ledger's commands and refunds of redemptions. */
export type ModelCommand = PointsLedgerCommand | RefundCommand
type KeyedCommand = PointsCommand | RefundCommand

/** Lots without an expiry expire at the largest valid Date. */
const forever = 8_640_000_000_000_000
const holdTimeoutDefaultMs = 15 * 60_000
const holdTimeoutMaxMs = 7 * 24 * 3_600_000
const idempotencyWindowMs = 7 * 24 * 3_600_000

interface Terms {
  activeFrom: number
  expiresAt: number
}

/** A credit (or the part of one a hold took): `id` is the journal line that created it. */
interface Lot extends Terms {
  id: number
  points: number
}

interface Hold {
  id: number
  points: number
  deadline: number
  /** The lot portions taken, in the order taken, less those a return claimed. */
  portions: Lot[]
  /** Points a return took back while held: no longer in `portions`, owed until the hold closes; a capture spending them owes them for good. */
  claimed: number
}

type HoldEnd = 'captured' | 'voided' | 'expired'

/** An earn reference (a purchase) and how much of it was already reversed. */
interface Txn extends Terms {
  /** The terms of every earn on the ref, the first's first, each once (at most 17). */
  terms: Terms[]
  points: number
  amount: number
  reversedPoints: number
  returnedAmount: number
}

/** A redemption with a ref: the lot portions it took (still to refund) and what was refunded. */
interface Burn {
  points: number
  amount: number
  portions: Lot[]
  refundedPoints: number
  refundedAmount: number
}

export interface ModelAccount {
  /** Journal lines written so far. */
  seq: number
  lots: Lot[]
  holds: Hold[]
  closed: Map<number, HoldEnd>
  debt: number
  txns: Map<string, Txn>
  burns: Map<string, Burn>
  /** Points that expired unspent, by lot terms, that no return has accounted for yet. */
  lapsed: (Terms & { points: number })[]
}

interface KeyUse {
  command: KeyedCommand
  reply: Reply
  at: number
}

type Fields = Partial<Record<string, unknown>>

/** Replay mismatches in the order they are reported; the payload folds the rest. */
const comparedFields: [field: string, status: StatusName][] = [
  ['op', 'exists_with_different_operation'],
  ['points', 'exists_with_different_points'],
  ['hold', 'exists_with_different_hold'],
  ['ref', 'exists_with_different_ref'],
  ['amount', 'exists_with_different_amount'],
]
const payloadFields = ['expiresAt', 'activeFrom', 'timeoutMs', 'reason', 'shortfall']

export class LedgerModel {
  readonly accounts = new Map<string, ModelAccount>()
  readonly #keys = new Map<string, KeyUse>()

  /** The reply the ledger should give to `command` at time `now`. */
  apply(command: ModelCommand, now: number): Reply {
    switch (command.op) {
      case 'balance':
      case 'expire':
      case 'history':
        return this.#query(command.op, command.account, now)
      default:
        return this.#ledgerCommand(command, now)
    }
  }

  /**
   * The shard's sweep: every account with something due is settled (settling
   * one with nothing due changes nothing), and keys older than the window are
   * forgotten.
   */
  sweep(now: number) {
    for (const state of this.accounts.values()) settle(state, now)
    for (const [id, use] of this.#keys) {
      if (use.at <= now - idempotencyWindowMs) this.#keys.delete(id)
    }
  }

  /** Whether the key was used on the account (so that a command with it is a replay). */
  knowsKey(account: string, key: string): boolean {
    return this.#keys.has(`${account}\u0000${key}`)
  }

  /** Whether a hold deadline or a lot expiry of the account has come and not been settled. */
  hasDue(account: string, now: number): boolean {
    const state = this.accounts.get(account)
    if (state === undefined) return false
    return state.holds.some((h) => h.deadline <= now) || state.lots.some((l) => l.expiresAt <= now)
  }

  /** Every hold id the account ever had, open or closed. */
  holdIds(account: string): number[] {
    const state = this.accounts.get(account)
    if (state === undefined) return []
    return [...state.holds.map((h) => h.id), ...state.closed.keys()].sort((a, b) => a - b)
  }

  /** Every hold on any account, as [account, hold id]; only the open ones (as far as settled). */
  holds(openOnly: boolean): [string, number][] {
    return [...this.accounts].flatMap(([account, state]) => {
      const ids = openOnly ? state.holds.map((h) => h.id) : this.holdIds(account)
      return ids.map((id): [string, number] => [account, id])
    })
  }

  /** Every earn reference of the account. */
  refs(account: string): string[] {
    return [...(this.accounts.get(account)?.txns.keys() ?? [])]
  }

  /** Every redemption reference of the account. */
  burnRefs(account: string): string[] {
    return [...(this.accounts.get(account)?.burns.keys() ?? [])]
  }

  /** Future times at which something falls due: hold deadlines and lot expiries. */
  deadlines(now: number): number[] {
    const times: number[] = []
    for (const state of this.accounts.values()) {
      for (const lot of state.lots) times.push(lot.expiresAt)
      for (const hold of state.holds) {
        times.push(hold.deadline, ...hold.portions.map((p) => p.expiresAt))
      }
    }
    return [...new Set(times.filter((t) => t > now && t !== forever))].sort((a, b) => a - b)
  }

  #query(op: 'balance' | 'expire' | 'history', account: string, now: number): Reply {
    const state = this.accounts.get(account)
    if (state === undefined) return { status: 'account_not_found' }
    const expired = settle(state, now)
    return op === 'expire' ? ok(state, now, { points: expired }) : ok(state, now, {})
  }

  #ledgerCommand(command: KeyedCommand, now: number): Reply {
    const id = `${command.account}\u0000${command.key}`
    const known = this.#keys.get(id)
    if (known !== undefined) return replay(known, command, this.accounts.get(command.account), now)
    const reply = this.#run(command, now)
    if (reply.status !== 'invalid_request') this.#keys.set(id, { command, reply, at: now })
    return reply
  }

  #run(command: KeyedCommand, now: number): Reply {
    let state = this.accounts.get(command.account)
    if (state === undefined) {
      if (!isCredit(command)) return { status: 'account_not_found' }
      // invalid_request means nothing was applied: not even the account is created.
      const bad = lotTermsProblem(command, now)
      if (bad !== undefined) return bad
      state = newAccount()
      this.accounts.set(command.account, state)
    }
    settle(state, now)
    return operate(state, command, now)
  }
}

function newAccount(): ModelAccount {
  return { seq: 0, lots: [], holds: [], closed: new Map(), debt: 0, txns: new Map(), burns: new Map(), lapsed: [] }
}

function isCredit(command: KeyedCommand): boolean {
  return command.op === 'earn' || (command.op === 'adjust' && command.points > 0)
}

/**
 * A known key: a conflict if any compared field differs; otherwise the stored
 * result (`exists` for an ok one, the same failure otherwise) with the balance
 * as it is now, if the account exists.
 */
function replay(known: KeyUse, asked: KeyedCommand, state: ModelAccount | undefined, now: number) {
  const stored = known.command as unknown as Fields
  const given = asked as unknown as Fields
  for (const [field, status] of comparedFields) {
    if (stored[field] !== given[field]) return { status }
  }
  if (payloadFields.some((field) => stored[field] !== given[field])) {
    return { status: 'exists_with_different_payload' as const }
  }
  const result: Reply = { ...known.reply }
  if (result.status === 'ok') result.status = 'exists'
  delete result.balance
  if (state === undefined) return result
  settle(state, now)
  result.balance = balance(state, now)
  return result
}

function operate(state: ModelAccount, command: KeyedCommand, now: number): Reply {
  switch (command.op) {
    case 'earn':
      return earn(state, command, now)
    case 'adjust':
      if (command.points > 0) return creditAdjust(state, command, now)
      return debitAdjust(state, command, now)
    case 'redeem':
      return redeem(state, command, now)
    case 'refund':
      return refund(state, command, now)
    case 'authorize':
      return authorize(state, command, now)
    case 'capture':
      return capture(state, command.hold, command.points, now)
    case 'void':
      return voidHold(state, command.hold, now)
    case 'reverse':
      return reverse(state, command, now)
  }
}

// ---------------------------------------------------------------------------
// Balances and lots

function sum(lots: { points: number }[]): number {
  return lots.reduce((total, lot) => total + lot.points, 0)
}

function isActive(lot: Terms, now: number): boolean {
  return lot.activeFrom <= now
}

function balance(state: ModelAccount, now: number): Balance {
  const active = sum(state.lots.filter((l) => isActive(l, now)))
  const pending = sum(state.lots.filter((l) => !isActive(l, now)))
  return { available: active - state.debt - claimedOf(state), pending, held: sum(state.holds) }
}

/** Points returns claimed from open holds: owed while the holds are open, settled by them when released. */
function claimedOf(state: ModelAccount): number {
  return state.holds.reduce((total, h) => total + h.claimed, 0)
}

function spendable(state: ModelAccount, now: number): number {
  return sum(state.lots.filter((l) => isActive(l, now))) - state.debt - claimedOf(state)
}

function ok(state: ModelAccount, now: number, fields: Partial<Reply>): Reply {
  return { status: 'ok', ...fields, balance: balance(state, now) }
}

/** Soonest expiry first; ties by activeFrom, then by lot id. */
function burnOrderOf(a: Lot, b: Lot): number {
  return a.expiresAt - b.expiresAt || a.activeFrom - b.activeFrom || a.id - b.id
}

function burnOrder(lots: Lot[]): Lot[] {
  return [...lots].sort(burnOrderOf)
}

/** Takes `points` from `lots` in the given order; returns the portions taken. */
function takeFrom(state: ModelAccount, lots: Lot[], points: number): Lot[] {
  const portions: Lot[] = []
  let rest = points
  for (const lot of lots) {
    const take = Math.min(rest, lot.points)
    if (take === 0) continue
    lot.points -= take
    rest -= take
    portions.push({ ...lot, points: take })
  }
  state.lots = state.lots.filter((l) => l.points > 0)
  return portions
}

/** A new journal line; returns its sequence number. */
function line(state: ModelAccount): number {
  state.seq += 1
  return state.seq
}

/** Points coming into the account pay debt first; the rest becomes a lot. */
function credit(state: ModelAccount, lot: Lot) {
  const paid = Math.min(state.debt, lot.points)
  state.debt -= paid
  if (lot.points > paid) state.lots.push({ ...lot, points: lot.points - paid })
}

/**
 * Released points go back to their lots. Debt is paid from the longest-lived
 * portions first, and only by portions whose lot is still alive at `now`:
 * points whose lot expired while held go back untouched, to expire, and never
 * pay for a reversal. A refund (`expiredPayDebt`) pays debt with every point.
 */
function giveBack(state: ModelAccount, portions: Lot[], now: number, expiredPayDebt = false) {
  for (const portion of [...portions].sort((a, b) => b.expiresAt - a.expiresAt)) {
    if (expiredPayDebt || portion.expiresAt > now) credit(state, portion)
    else state.lots.push({ ...portion })
  }
}

/** Lapsed points are kept for this long after their date, and for at most this many lots (the latest). */
const lapsedKeptMs = 366 * 86_400_000
const lapsedKept = 64

function sameTerms(a: Terms, b: Terms): boolean {
  return a.activeFrom === b.activeFrom && a.expiresAt === b.expiresAt
}

function expireLots(state: ModelAccount, now: number): number {
  const dueLots = state.lots.filter((l) => l.expiresAt <= now)
  const due = sum(dueLots)
  state.lots = state.lots.filter((l) => l.expiresAt > now)
  for (const lot of dueLots) {
    const same = state.lapsed.find((l) => sameTerms(l, lot))
    if (same !== undefined) same.points += lot.points
    else state.lapsed.push({ activeFrom: lot.activeFrom, expiresAt: lot.expiresAt, points: lot.points })
  }
  if (due > 0) {
    line(state)
    state.lapsed = state.lapsed
      .filter((l) => l.points > 0 && l.expiresAt > now - lapsedKeptMs)
      .sort((a, b) => a.expiresAt - b.expiresAt || a.activeFrom - b.activeFrom)
      .slice(-lapsedKept)
  }
  return due
}


/** Releases holds past their deadline, then expires due lots; returns the points expired. */
function settle(state: ModelAccount, now: number): number {
  for (const hold of state.holds.filter((h) => h.deadline <= now)) {
    closeHold(state, hold, 'expired')
    giveBack(state, hold.portions, now)
    line(state)
  }
  return expireLots(state, now)
}

function closeHold(state: ModelAccount, hold: Hold, end: HoldEnd) {
  state.holds = state.holds.filter((h) => h !== hold)
  state.closed.set(hold.id, end)
}

// ---------------------------------------------------------------------------
// Credits

function lotTermsProblem(command: KeyedCommand, now: number): Reply | undefined {
  if (command.op !== 'earn' && command.op !== 'adjust') return undefined
  const expiresAt = command.expiresAt ?? forever
  const activeFrom = command.activeFrom ?? now
  if (expiresAt <= now) return { status: 'invalid_request', field: 'expiresAt' }
  if (activeFrom >= expiresAt) return { status: 'invalid_request', field: 'activeFrom' }
  return undefined
}

function creditTerms(command: { expiresAt?: number; activeFrom?: number }, now: number): Terms {
  return { expiresAt: command.expiresAt ?? forever, activeFrom: command.activeFrom ?? now }
}

function earn(state: ModelAccount, command: EarnCommand, now: number): Reply {
  const bad = lotTermsProblem(command, now)
  if (bad !== undefined) return bad
  const terms = creditTerms(command, now)
  const entry = line(state)
  credit(state, { id: entry, points: command.points, ...terms })
  const ref = command.ref ?? command.key
  const txn = state.txns.get(ref)
  if (txn === undefined) {
    const { points } = command
    const amount = command.amount ?? 0
    state.txns.set(ref, { ...terms, terms: [terms], points, amount, reversedPoints: 0, returnedAmount: 0 })
  } else {
    // Each earn's amount is the money it was earned on: they add up like the points.
    txn.points += command.points
    txn.amount += command.amount ?? 0
    if (!txn.terms.some((t) => sameTerms(t, terms)) && txn.terms.length < 17) txn.terms.push(terms)
  }
  return ok(state, now, { entry, points: command.points })
}

function creditAdjust(state: ModelAccount, command: AdjustCommand, now: number) {
  const bad = lotTermsProblem(command, now)
  if (bad !== undefined) return bad
  const entry = line(state)
  credit(state, { id: entry, points: command.points, ...creditTerms(command, now) })
  return ok(state, now, { entry, points: command.points })
}

// ---------------------------------------------------------------------------
// Burns and holds

function debitAdjust(state: ModelAccount, command: AdjustCommand, now: number) {
  const points = -command.points
  if (spendable(state, now) < points) return { status: 'insufficient_points' as const }
  takeFrom(state, burnOrder(state.lots.filter((l) => isActive(l, now))), points)
  return ok(state, now, { entry: line(state), points })
}

function redeem(state: ModelAccount, command: RedeemCommand, now: number): Reply {
  const { points, ref } = command
  if (spendable(state, now) < points) return { status: 'insufficient_points' }
  const portions = takeFrom(state, burnOrder(state.lots.filter((l) => isActive(l, now))), points)
  if (ref !== undefined) {
    const burn = state.burns.get(ref)
    const amount = command.amount ?? 0
    if (burn === undefined) {
      state.burns.set(ref, { points, amount, portions, refundedPoints: 0, refundedAmount: 0 })
    } else {
      burn.points += points
      burn.amount += amount
      burn.portions.push(...portions)
    }
  }
  return ok(state, now, { entry: line(state), points })
}

/**
 * Points of a redemption come back, the last portions taken first, to lots
 * with their own terms (debt paid first, longest-lived first); those whose
 * lot has expired meanwhile expire at once.
 */
function refund(state: ModelAccount, command: RefundCommand, now: number): Reply {
  const burn = state.burns.get(command.ref)
  if (burn === undefined) return { status: 'transaction_not_found' }
  const share = reversalShare(
    { points: burn.points, amount: burn.amount, reversedPoints: burn.refundedPoints, returnedAmount: burn.refundedAmount },
    command.amount,
    command.points,
  )
  if (typeof share !== 'number') return share
  burn.refundedAmount += command.amount ?? 0
  const back: Lot[] = []
  let left = share
  for (let i = burn.portions.length - 1; i >= 0 && left > 0; i--) {
    const portion = burn.portions[i]!
    const take = Math.min(left, portion.points)
    back.push({ ...portion, points: take })
    portion.points -= take
    left -= take
  }
  burn.portions = burn.portions.filter((p) => p.points > 0)
  burn.refundedPoints += share
  giveBack(state, back, now, true)
  const entry = line(state)
  expireLots(state, now)
  return ok(state, now, { entry, points: share })
}

function authorize(state: ModelAccount, command: AuthorizeCommand, now: number) {
  const { points } = command
  const timeout = command.timeoutMs ?? holdTimeoutDefaultMs
  if (timeout > holdTimeoutMaxMs) return { status: 'invalid_request' as const, field: 'timeoutMs' }
  if (spendable(state, now) < points) return { status: 'insufficient_points' as const }
  const portions = takeFrom(state, burnOrder(state.lots.filter((l) => isActive(l, now))), points)
  const id = line(state)
  state.holds.push({ id, points, deadline: now + timeout, portions, claimed: 0 })
  return ok(state, now, { entry: id, hold: id, points })
}

function openHold(state: ModelAccount, id: number): Hold | StatusName {
  const open = state.holds.find((h) => h.id === id)
  if (open !== undefined) return open
  const end = state.closed.get(id)
  if (end === undefined) return 'hold_not_found'
  const statusOf = {
    captured: 'hold_already_captured',
    voided: 'hold_already_voided',
    expired: 'hold_expired',
  } as const
  return statusOf[end]
}

function capture(state: ModelAccount, id: number, asked: number | undefined, now: number): Reply {
  const hold = openHold(state, id)
  if (typeof hold === 'string') return { status: hold }
  const points = asked ?? hold.points
  if (points > hold.points) return { status: 'capture_exceeds_hold' }
  closeHold(state, hold, 'captured')
  // The member's held points are spent first; past them, claimed ones, taken from other lots, other holds, or owed.
  const unclaimed = sum(hold.portions)
  const spentClaimed = Math.max(0, points - unclaimed)
  state.debt += spentClaimed - takeOthers(state, spentClaimed, now)
  const entry = line(state)
  if (points < hold.points) {
    // The claimed points of the rest settle their claim; the others come back.
    giveBack(state, portionsAfter(hold.portions, points - spentClaimed), now)
    line(state)
    expireLots(state, now)
  }
  return ok(state, now, { entry, hold: hold.id, points })
}

/**
 * Claims up to `points` of the open holds' portions with one of `terms`
 * (the returned earn's own points), soonest expiry first across holds,
 * never beyond the held points less debt; returns how many.
 */
function claim(state: ModelAccount, points: number, terms: Terms[], now: number): number {
  const held = state.holds.flatMap((hold) => hold.portions.map((portion) => ({ hold, portion })))
  const order = held.filter(({ portion }) => terms.some((t) => sameTerms(portion, t))).sort((a, b) => burnOrderOf(a.portion, b.portion))
  const alive = sum(held.filter(({ portion }) => portion.expiresAt > now).map(({ portion }) => portion))
  const expired = sum(order.filter(({ portion }) => portion.expiresAt <= now).map(({ portion }) => portion))
  const room = Math.min(points, Math.max(0, alive - state.debt) + expired)
  let claimed = 0
  for (const { hold, portion } of order) {
    const take = Math.min(room - claimed, portion.points)
    portion.points -= take
    hold.claimed += take
    claimed += take
  }
  for (const hold of state.holds) hold.portions = hold.portions.filter((p) => p.points > 0)
  return claimed
}

/**
 * Takes up to `points` from the points as they would be had nothing been
 * held: active lots and held portions together, soonest expiry first (a lot
 * before a held portion of the same lot), held ones claimed (never beyond
 * the held points less debt); then pending lots. Returns how many.
 */
function takeOthers(state: ModelAccount, points: number, now: number): number {
  // Held points whose lot has expired would be gone had nothing been held.
  const alive = state.holds
    .flatMap((hold) => hold.portions.map((portion) => ({ portion, hold: hold as Hold | undefined })))
    .filter(({ portion }) => portion.expiresAt > now)
  let claimable = Math.max(0, sum(alive.map(({ portion }) => portion)) - state.debt)
  const active = state.lots.filter((l) => isActive(l, now)).map((lot) => ({ portion: lot, hold: undefined as Hold | undefined }))
  const order = [...active, ...alive].sort(
    (a, b) => burnOrderOf(a.portion, b.portion) || Number(a.hold !== undefined) - Number(b.hold !== undefined),
  )
  let taken = 0
  for (const { portion, hold } of order) {
    const take = Math.min(points - taken, portion.points, hold === undefined ? Infinity : claimable)
    portion.points -= take
    taken += take
    if (hold !== undefined) {
      hold.claimed += take
      claimable -= take
    }
  }
  taken += sum(takeFrom(state, burnOrder(state.lots.filter((l) => !isActive(l, now) && l.points > 0)), points - taken))
  state.lots = state.lots.filter((l) => l.points > 0)
  for (const hold of state.holds) hold.portions = hold.portions.filter((p) => p.points > 0)
  return taken
}

/** The portions left once the first `points` of them are used. */
function portionsAfter(portions: Lot[], points: number): Lot[] {
  const rest: Lot[] = []
  let used = points
  for (const portion of portions) {
    const take = Math.min(used, portion.points)
    used -= take
    if (portion.points > take) rest.push({ ...portion, points: portion.points - take })
  }
  return rest
}

function voidHold(state: ModelAccount, id: number, now: number): Reply {
  const hold = openHold(state, id)
  if (typeof hold === 'string') return { status: hold }
  closeHold(state, hold, 'voided')
  giveBack(state, hold.portions, now)
  const entry = line(state)
  expireLots(state, now)
  return ok(state, now, { entry, hold: hold.id, points: hold.points })
}

// ---------------------------------------------------------------------------
// Reversals

function reverse(state: ModelAccount, command: ReverseCommand, now: number) {
  const txn = state.txns.get(command.ref)
  if (txn === undefined) return { status: 'transaction_not_found' as const }
  const share = reversalShare(txn, command.amount, command.points)
  if (typeof share !== 'number') return share
  // Points of the earn's terms that expired unspent are written off, not taken again.
  let writtenOff = 0
  for (const terms of txn.terms) {
    const lapsed = terms.expiresAt > now - lapsedKeptMs ? state.lapsed.find((l) => sameTerms(l, terms)) : undefined
    const take = Math.min(share - writtenOff, lapsed?.points ?? 0)
    if (lapsed !== undefined) lapsed.points -= take
    writtenOff += take
  }
  state.lapsed = state.lapsed.filter((l) => l.points > 0)
  // The earn's own points first, in lots, then held (claimed from their holds); then others, in lots, then held.
  const isOrigin = (l: Lot) => txn.terms.some((terms) => sameTerms(l, terms))
  let left = share - writtenOff
  const ownTaken = sum(takeFrom(state, burnOrder(state.lots.filter(isOrigin)), left))
  left -= ownTaken
  const ownClaimed = claim(state, left, txn.terms, now)
  left -= ownClaimed
  const others = takeOthers(state, left, now)
  const missing = left - others
  const policy = command.shortfall ?? 'debt'
  // The rest was spent: owed under debt, forgiven under clamp.
  const owed = policy === 'debt' ? missing : 0
  state.debt += owed
  txn.reversedPoints += share
  txn.returnedAmount += command.amount ?? 0
  // A share of 0 (a small amount returned) still writes its line.
  const reply = ok(state, now, { entry: line(state), points: ownTaken + ownClaimed + others + owed })
  const shortfall = missing - owed
  if (policy === 'clamp' && shortfall > 0) reply.shortfall = shortfall
  if (writtenOff > 0) reply.lapsed = writtenOff
  return reply
}

function reversalShare(
  txn: Pick<Txn, 'points' | 'amount' | 'reversedPoints' | 'returnedAmount'>,
  amount: number | undefined,
  points: number | undefined,
) {
  const left = txn.points - txn.reversedPoints
  if (amount !== undefined) {
    if (txn.amount === 0) return { status: 'invalid_request' as const, field: 'amount' }
    const returned = txn.returnedAmount + amount
    if (returned > txn.amount) return { status: 'reversal_exceeds_original' as const }
    // Nothing is left to take back: refused rather than answered with 0.
    if (left === 0) return { status: 'reversal_exceeds_original' as const }
    const due = Number((BigInt(txn.points) * BigInt(returned)) / BigInt(txn.amount)) - txn.reversedPoints
    return Math.max(0, Math.min(due, left))
  }
  const share = points ?? left
  if (share === 0 || share > left) return { status: 'reversal_exceeds_original' as const }
  return share
}


