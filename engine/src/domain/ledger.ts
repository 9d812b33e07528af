/**
 * The ledger: runs one command against one account inside a batch. Pure and
 * synchronous: no I/O, no clock, no randomness; the shard supplies `now`.
 *
 * Order of checks for a mutating command: idempotency first (a known key gets
 * its stored result before anything else is looked at), then the account, then
 * due expiries are applied, then the operation's own guards, each returning one
 * precise status. Only after every guard passes does anything change.
 *
 * @module
 */
import type { StatusName } from '@loyalty/proto'
import {
  accountPointsMax,
  balanceOf,
  claimHeld,
  createAccount,
  recordLapsedPoints,
  creditLot,
  creditRoom,
  debitLots,
  ledgerBalance,
  oweSpentClaim,
  pointsInAccount,
  refTotalMax,
  removeDueLots,
  restoreSlices,
  spendable,
  splitSlices,
  takeForReversal,
  takeOthers,
  writeOffLapsed,
} from './account.ts'
import assert from './assert.ts'
import type { CompiledRuleset } from '../rules/compile.ts'
import type { BreakdownLine } from '../rules/types.ts'
import type { ReadPlan, WorkingSet } from './batch.ts'
import {
  activity,
  enroll,
  membership,
  onReversal,
  preview,
  profile,
  purchase,
  clawTierBonuses,
  qualificationNow,
  settleMembership,
  type QuotaLeases,
} from './membership.ts'
import type {
  AccountState,
  AdjustCommand,
  AuthorizeCommand,
  CaptureCommand,
  ClosedHold,
  ClosedHoldState,
  Command,
  EarnCommand,
  Entry,
  IdemRecord,
  IdemTerms,
  LedgerCommand,
  LedgerConfig,
  MemberQuery,
  OpenHold,
  PreviewQuery,
  LotSlice,
  RedeemCommand,
  RefundCommand,
  Reply,
  ReturnLine,
  ReverseCommand,
  ShortfallPolicy,
  HeldLot,
  LotTerms,
  MoveCommand,
  TxnLine,
  TxnRecord,
  VoidCommand,
} from './types.ts'
import { neverExpires } from './types.ts'

export interface LedgerContext {
  ws: WorkingSet
  now: number
  config: LedgerConfig
  /** The active ruleset; program commands need one. */
  rules?: CompiledRuleset | undefined
  /** The shard's leases on campaigns' global quotas. */
  quotas: QuotaLeases
}

/** For contexts without campaign quotas (tests, tools): every quota is exhausted. */
export const noQuotas: QuotaLeases = { left: () => 0, take: () => assert(false, 'no quota to take') }

/**
 * Executes a validated command.
 *
 * @example
 *   const reply = execute({ ws, now, config }, { op: 'redeem', account: 'a1', key: 'k1', points: 50 })
 */
export function execute(ctx: LedgerContext, command: Command): Reply {
  switch (command.op) {
    case 'balance':
      return queryBalance(ctx, command.account)
    case 'history':
      return queryHistory(ctx, command.account, command.before, command.limit)
    case 'expire':
      return expireNow(ctx, command.account)
    case 'preview':
    case 'member':
      return queryMembership(ctx, command)
    case 'lots':
      return queryLots(ctx, command.account)
    case 'move':
      return move(ctx, command)
    default:
      return executeLedgerCommand(ctx, command)
  }
}

function executeLedgerCommand(ctx: LedgerContext, command: LedgerCommand): Reply {
  const terms = idemTerms(command)
  const known = ctx.ws.idem(command.account, command.key)
  if (command.replayOnly === true) {
    // A look-up of a retry: a key stored for another operation (or another hold) is another command, not this one.
    const settlesHold = command.op === 'capture' || command.op === 'void'
    const another = known !== undefined && (known.terms[0] !== terms[0] || (settlesHold && known.terms[2] !== terms[2]))
    // Not a status of the operation itself, so nothing stored is told apart from a stored refusal.
    if (known === undefined || another) return { status: 'transaction_not_found', message: `no ${command.op} stored under key ${command.key}` }
  }
  if (known !== undefined) return replay(ctx, command, known, terms)
  const reply = applyLedgerCommand(ctx, command)
  // Validation-class failures are not stored: the request never really ran.
  if (reply.status !== 'invalid_request') {
    // The balance is not stored with the result: a replay reports the current one.
    // Nor are a reverse's origins, asked for by the engine only: a replay asked for them reads them again.
    const { balance, breakdown, origins, ...rest } = reply
    const stored: Reply = rest
    const record: IdemRecord = { terms, reply: stored, at: ctx.now }
    if (breakdown !== undefined) {
      if (reply.entry !== undefined) record.breakdownInJournal = true
      else stored.breakdown = breakdown
    }
    ctx.ws.putIdem(command.account, command.key, record)
  }
  return reply
}

function applyLedgerCommand(ctx: LedgerContext, command: LedgerCommand): Reply {
  const credits =
    command.op === 'earn' || command.op === 'enroll' || (command.op === 'adjust' && command.points > 0)
  let account = ctx.ws.account(command.account)
  if (account === undefined) {
    if (!credits) return noAccount(command.account)
    account = createAccount(command.account, ctx.now)
  }
  const seq = account.seq
  settleDue(ctx, account)
  const reply = refusedWhileMoving(account, command) ?? applyOperation(ctx, account, command)
  // Every change appends an entry, so an unchanged seq means nothing to write.
  if (account.seq !== seq) ctx.ws.putAccount(account)
  return reply
}

/**
 * The refusal of a command on an account whose points a household link or a
 * merge is moving (`MoveCommand`), or undefined. The move's first step checked
 * that nothing is held, owed or pending and marked the account; until the
 * move ends, a command still routed here (sent before the registry's link or
 * merge, or in flight) must not bring any of that back, nor points the move
 * may no longer carry (it reads the balance, moves that, and ends): they
 * would stay on an account nothing reaches (a household member's own
 * account, a merged duplicate's closed one), and a debt would go unpaid
 * while later earns fill the pool. So refused, `invalid_request` naming
 * `account` (not stored: the caller's retry goes where the member's points
 * are then), are:
 * - `authorize`, other than the move's own hold (held points);
 * - `earn`, `purchase`, `activity`, `enroll`, and an `adjust` that credits:
 *   points, pending ones included (a purchase's or an earn's `activeFrom`),
 *   that would land after the move's last read, or stay pending;
 * - `reverse`: a claw-back beyond what is spendable is debt, and it may claim
 *   the move's own held points;
 * - `refund`: points given back to their lots (paying debt first).
 * Taken are what leaves nothing behind: `redeem` and a debiting `adjust`
 * (they only spend; the move carries what is left, by another attempt if
 * they came between its read and its hold), `capture` and `void` (the only
 * open hold is the move's own, which no member settles), `profile`; and a
 * transfer saga's own steps (`transferStep`): a credit to this account of
 * points that are active (a sender's spendable points), and the reverse
 * that takes such a credit back when the transfer fails. Refusing those
 * would fail a transfer already holding the sender's points, or leave its
 * credit twice. The sweep's expiries and hold deadlines (`expire`,
 * `settleDue`) run as always.
 */
function refusedWhileMoving(account: AccountState, command: LedgerCommand): Reply | undefined {
  if (account.moving === undefined) return undefined
  switch (command.op) {
    case 'authorize':
      if (command.move === account.moving) return undefined
      break
    case 'earn':
    case 'reverse':
      if (command.transferStep === true || (command.op === 'reverse' && command.lapsedOf !== undefined)) return undefined
      break
    case 'purchase':
    case 'activity':
    case 'enroll':
    case 'refund':
      break
    case 'adjust':
      if (command.points < 0) return undefined
      break
    default:
      return undefined
  }
  return movingRefusal(account.id)
}

/** The words of a refusal for an account marked as moving (`refusedWhileMoving`). */
export function movingRefusal(account: string): Reply {
  return {
    status: 'invalid_request',
    field: 'account',
    message: `account ${account} is moving its points to another account (a household link or a merge is under way); try again in a moment`,
  }
}

/** Whether `reply` is a refusal because the account's points are moving (`movingRefusal`). */
export function isMovingRefusal(reply: Reply, account: string): boolean {
  return reply.status === 'invalid_request' && reply.field === 'account' && reply.message === movingRefusal(account).message
}

function applyOperation(ctx: LedgerContext, account: AccountState, command: LedgerCommand): Reply {
  switch (command.op) {
    case 'earn':
      return earn(ctx, account, command)
    case 'authorize':
      return authorize(ctx, account, command)
    case 'capture':
      return capture(ctx, account, command)
    case 'void':
      return voidHold(ctx, account, command)
    case 'redeem':
      return redeem(ctx, account, command)
    case 'reverse':
      return reverse(ctx, account, command)
    case 'refund':
      return refund(ctx, account, command)
    case 'adjust':
      return adjust(ctx, account, command)
    case 'enroll':
      return enroll(ctx, account, command)
    case 'purchase':
      return purchase(ctx, account, command)
    case 'activity':
      return activity(ctx, account, command)
    case 'profile':
      return profile(ctx, account, command)
  }
}

function queryMembership(ctx: LedgerContext, command: PreviewQuery | MemberQuery): Reply {
  const account = ctx.ws.account(command.account)
  if (account === undefined) return noAccount(command.account)
  const seq = account.seq
  settleDue(ctx, account)
  if (account.seq !== seq) ctx.ws.putAccount(account)
  return command.op === 'preview' ? preview(ctx, account, command.basket) : membership(ctx, account)
}

// ---------------------------------------------------------------------------
// Idempotency

/**
 * Adds the records `command` will read to `plan`, so the store can warm them
 * before the batch executes. A hint only: execution reads what it needs anyway.
 */
export function planReads(plan: ReadPlan, command: Command) {
  switch (command.op) {
    case 'balance':
    case 'history':
    case 'expire':
      return
    case 'preview':
    case 'member':
    case 'lots':
    case 'move':
      return
    case 'earn':
    case 'purchase':
      plan.txns.push([command.account, command.ref ?? command.key])
      break
    case 'reverse':
      plan.txns.push([command.account, command.ref])
      break
    case 'refund':
      plan.burns.push([command.account, command.ref])
      break
    case 'redeem':
      if (command.ref !== undefined) plan.burns.push([command.account, command.ref])
      break
    case 'capture':
    case 'void':
      plan.holds.push([command.account, command.hold])
      break
  }
  plan.idem.push([command.account, command.key])
}

/** The terms a replay is compared on; the payload string folds the minor ones. */
export function idemTerms(command: LedgerCommand): IdemTerms {
  const c = command as {
    points?: number
    hold?: number
    ref?: string
    amount?: number
    expiresAt?: number
    activeFrom?: number
    timeoutMs?: number
    reason?: string
    shortfall?: string
  }
  const payload = [c.expiresAt, c.activeFrom, c.timeoutMs, c.reason, c.shortfall, programPayload(command)].join('|')
  return [
    command.op,
    c.points ?? null,
    c.hold ?? null,
    c.ref ?? null,
    c.amount ?? null,
    payload,
  ]
}

/** The terms of program commands, folded into the payload compared on a replay. */
function programPayload(command: LedgerCommand): string {
  switch (command.op) {
    case 'purchase':
      return JSON.stringify(command.basket)
    case 'enroll':
      return JSON.stringify([command.program, command.member ?? null, command.referredBy ?? null])
    case 'activity':
      return command.event
    case 'profile':
      return JSON.stringify(command.member)
    case 'reverse':
      return command.lines === undefined && command.lapsedOf === undefined ? '' : JSON.stringify([command.lines ?? null, command.lapsedOf ?? null])
    default:
      return ''
  }
}

/** What a replay answers when the stored terms differ, in the order terms are compared. */
export const mismatchStatus: readonly StatusName[] = [
  'exists_with_different_operation',
  'exists_with_different_points',
  'exists_with_different_hold',
  'exists_with_different_ref',
  'exists_with_different_amount',
  'exists_with_different_payload',
]

/** The term each status of `mismatchStatus` names. */
const mismatchTerm = ['operation', 'number of points', 'hold', 'ref', 'amount', 'payload']

function noAccount(account: string): Reply {
  return { status: 'account_not_found', message: `no account ${account}` }
}

function replay(ctx: LedgerContext, command: LedgerCommand, known: IdemRecord, asked: IdemTerms): Reply {
  for (let i = 0; i < mismatchStatus.length; i++) {
    if (known.terms[i] !== asked[i]) {
      return { status: mismatchStatus[i]!, message: `key ${command.key} was first used with another ${mismatchTerm[i]!}` }
    }
  }
  const reply = known.reply
  // A stored failure is sticky: the retry gets the same failure back.
  const result: Reply = reply.status === 'ok' ? { ...reply, status: 'exists' } : { ...reply }
  if (known.breakdownInJournal === true && reply.entry !== undefined) {
    result.breakdown = journaledBreakdown(ctx, command, reply.entry)
  }
  if (command.op === 'reverse' && command.withOrigins === true && result.status === 'exists') {
    const txn = ctx.ws.txn(command.account, command.ref)
    if (txn !== undefined) result.origins = originsOf(txn)
  }
  const account = ctx.ws.account(command.account)
  if (account === undefined) return result
  // Like any touch of the account, a replay applies what has come due first.
  const seq = account.seq
  settleDue(ctx, account)
  if (account.seq !== seq) ctx.ws.putAccount(account)
  result.balance = balanceOf(account, ctx.now)
  return result
}

/** Most entries one command writes: its own, plus a tier change and bonus per tier passed. */
const entriesPerCommandMax = 64

/** The breakdown lines of the entries a command wrote, from `first` on, in order. */
function journaledBreakdown(ctx: LedgerContext, command: LedgerCommand, first: number): BreakdownLine[] {
  const entries = ctx.ws.entries(command.account, first + entriesPerCommandMax, entriesPerCommandMax)
  const own = entries.filter((e) => e.seq >= first && e.key === command.key).reverse()
  return own.flatMap((e) => e.breakdown ?? [])
}

// ---------------------------------------------------------------------------
// Journal

export function append(
  ctx: LedgerContext,
  account: AccountState,
  entry: Omit<Entry, 'seq' | 'at' | 'balance'>,
  command?: LedgerCommand,
): Entry {
  account.seq += 1
  const full: Entry = { seq: account.seq, at: ctx.now, ...entry, balance: ledgerBalance(account) }
  if (command !== undefined) {
    full.key = command.key
    if (command.source !== undefined) full.source = command.source
  }
  if (ctx.rules !== undefined) full.rulesetVersion = ctx.rules.version
  ctx.ws.appendEntry(account.id, full)
  return full
}

export function okReply(ctx: LedgerContext, account: AccountState, fields: Partial<Reply>): Reply {
  return { status: 'ok', ...fields, balance: balanceOf(account, ctx.now) }
}

// ---------------------------------------------------------------------------
// Expiry of holds and lots, applied whenever an account is touched.

/** Releases holds past their deadline, then expires lots past theirs. */
function settleDue(ctx: LedgerContext, account: AccountState): number {
  settleMembership(ctx, account)
  if (!hasDueHold(account, ctx.now)) return expireDueLots(ctx, account)
  for (const hold of account.holds.filter((h) => h.expiresAt <= ctx.now)) {
    closeHold(ctx, account, hold, 'expired')
    // Points a return claimed are settled by the held points themselves: only the rest come back.
    restoreSlices(account, hold.slices, ctx.now)
    append(ctx, account, { kind: 'release', points: hold.points, held: -hold.points, hold: hold.id, reason: 'hold_expired' })
  }
  return expireDueLots(ctx, account)
}

function hasDueHold(account: AccountState, now: number): boolean {
  for (const hold of account.holds) if (hold.expiresAt <= now) return true
  return false
}

function expireDueLots(ctx: LedgerContext, account: AccountState): number {
  const expired = removeDueLots(account, ctx.now)
  if (expired > 0) {
    account.expired += expired
    append(ctx, account, { kind: 'expire', points: -expired, held: 0 })
  }
  return expired
}

function expireNow(ctx: LedgerContext, accountId: string): Reply {
  const account = ctx.ws.account(accountId)
  if (account === undefined) return noAccount(accountId)
  const seq = account.seq
  const expired = settleDue(ctx, account)
  // The sweep running this removes every timer due by now: the next is armed
  // afresh. Without `wakeAt` (written by format 3, or nothing was due) the
  // account is rewritten too, so that a review or birthday that moved on
  // without a journal entry gets its timer.
  const woken = account.wakeAt === undefined || account.wakeAt <= ctx.now
  if (woken) delete account.wakeAt
  if (woken || account.seq !== seq) ctx.ws.putAccount(account)
  return okReply(ctx, account, { points: expired })
}

function closeHold(ctx: LedgerContext, account: AccountState, hold: OpenHold, state: ClosedHoldState, captured = 0) {
  account.holds = account.holds.filter((h) => h.id !== hold.id)
  ctx.ws.putClosedHold(account.id, {
    id: hold.id,
    state,
    points: hold.points,
    captured,
    closedAt: ctx.now,
    expiresAt: hold.expiresAt,
  })
}

// ---------------------------------------------------------------------------
// Queries

function queryBalance(ctx: LedgerContext, accountId: string): Reply {
  const account = ctx.ws.account(accountId)
  if (account === undefined) return noAccount(accountId)
  const seq = account.seq
  settleDue(ctx, account)
  if (account.seq !== seq) ctx.ws.putAccount(account)
  return okReply(ctx, account, {})
}

// ---------------------------------------------------------------------------
// Moves of an account's points (household links and merges)

/**
 * Starts or ends a household link's or a merge's move of the account's
 * points (`MoveCommand`).
 *
 * Why a mark on the account, checked here: the link or merge checks that
 * nothing is held before it moves the spendable points, and a till's
 * authorization landing between that check and the move would leave a hold
 * on an account whose points went away (or that now belongs to a
 * household), where neither a capture nor a void can settle it sensibly.
 * The account is the actor, so checking and marking in one command, and
 * refusing other authorizations while marked, leaves no such moment; the
 * mark is part of the account record, written and flushed with it, so it
 * survives a restart, and the saga that set it (saved before it did) ends it
 * when it finishes, also when resumed. Refusing the move itself when a hold
 * turns up would come too late: by then the registry has linked or merged
 * the member. Nothing else changes: no entry, no points; so the balance
 * stays the sum of the lots and of the journal.
 *
 * A `begin` on an account that does not exist yet creates it, empty, so that
 * the mark is there should an earn create it meanwhile.
 */
function move(ctx: LedgerContext, command: MoveCommand): Reply {
  let account = ctx.ws.account(command.account)
  if (command.step === 'end') {
    if (account === undefined || account.moving !== command.move) return { status: 'ok' }
    delete account.moving
    ctx.ws.putAccount(account)
    return okReply(ctx, account, {})
  }
  account ??= createAccount(command.account, ctx.now)
  if (account.moving === command.move) return okReply(ctx, account, {})
  // What is due now (a hold past its deadline, lots past their date) is settled before the check.
  const seq = account.seq
  settleDue(ctx, account)
  if (account.seq !== seq) ctx.ws.putAccount(account)
  const refuse = (message: string, fields: Partial<Reply> = {}): Reply => ({ status: 'invalid_request', field: 'account', message, ...fields, balance: balanceOf(account, ctx.now) })
  if (account.moving !== undefined) {
    return refuse(`account ${account.id} is moving its points already (${account.moving}); wait until that ends`, { moving: account.moving })
  }
  const { held, available, pending } = balanceOf(account, ctx.now)
  if (held > 0) return refuse(`account ${account.id} has ${held} points held; capture or void them first`)
  if (available < 0) return refuse(`account ${account.id} owes ${-available} points; settle them first`)
  if (pending > 0) return refuse(`account ${account.id} has ${pending} points pending; wait until they are active`)
  account.moving = command.move
  ctx.ws.putAccount(account)
  return okReply(ctx, account, {})
}

function queryLots(ctx: LedgerContext, accountId: string): Reply {
  const account = ctx.ws.account(accountId)
  if (account === undefined) return noAccount(accountId)
  const seq = account.seq
  settleDue(ctx, account)
  if (account.seq !== seq) ctx.ws.putAccount(account)
  return okReply(ctx, account, {
    lots: account.lots
      .filter((lot) => lot.points > 0)
      .map(({ points, activeFrom, expiresAt }) => ({ points, activeFrom, expiresAt })),
    holds: account.holds.map(({ id, points, expiresAt, claimed }) => ({ hold: id, points, expiresAt, ...(claimed === undefined ? {} : { claimed }) })),
    debt: account.debt,
  })
}

function queryHistory(ctx: LedgerContext, accountId: string, before?: number, limit?: number): Reply {
  const account = ctx.ws.account(accountId)
  if (account === undefined) return noAccount(accountId)
  // Refused, not cut: a caller asking for 500 would otherwise take a page of 100 for the end.
  if (limit !== undefined && (limit < 1 || limit > ctx.config.historyLimitMax)) {
    return { status: 'invalid_request', field: 'limit', message: `limit must be between 1 and ${ctx.config.historyLimitMax}` }
  }
  const pageSize = limit ?? 20
  const entries = ctx.ws.entries(accountId, before ?? account.seq + 1, pageSize)
  const last = entries[entries.length - 1]
  const reply = okReply(ctx, account, { entries })
  if (last !== undefined && last.seq > 1 && entries.length === pageSize) reply.next = last.seq
  return reply
}

// ---------------------------------------------------------------------------
// Credits

function earn(ctx: LedgerContext, account: AccountState, command: EarnCommand): Reply {
  const expiresAt = command.expiresAt ?? neverExpires
  const activeFrom = command.activeFrom ?? ctx.now
  const bad = checkLotTerms(ctx, expiresAt, activeFrom)
  if (bad !== undefined) return bad
  const ref = command.ref ?? command.key
  const full = creditRefusal(account, command.points)
  if (full !== undefined) return full
  const txn = ctx.ws.txn(account.id, ref)
  if (txn !== undefined) {
    const over = refSumRefusal('earns', ref, txn.points + command.points, txn.amount + (command.amount ?? 0))
    if (over !== undefined) return over
  }
  const entry = creditPoints(ctx, account, command.points, { kind: 'earn', expiresAt, activeFrom, ref, reason: command.reason }, command)
  account.earned += command.points
  if (txn === undefined) {
    ctx.ws.putTxn(account.id, {
      ref,
      entry: entry.seq,
      points: command.points,
      amount: command.amount ?? 0,
      activeFrom,
      expiresAt,
      reversedPoints: 0,
      returnedAmount: 0,
    })
  } else {
    // Several earns on one ref reverse together, and their amounts add up like
    // their points: each earn's amount is the money it was earned on, so a
    // bonus sent on its own carries no amount (or 0). A `purchase` records its
    // basket once, under one earn, so its amount is never counted twice.
    ctx.ws.putTxn(account.id, {
      ...txn,
      points: txn.points + command.points,
      amount: txn.amount + (command.amount ?? 0),
      ...withTerms(txn, activeFrom, expiresAt),
    })
  }
  return okReply(ctx, account, { entry: entry.seq, points: command.points })
}

/** The most lot terms a ref records beyond its first earn's (`TxnRecord.moreTerms`). */
export const txnTermsMax = 16

/** `moreTerms` with a later earn's terms added, when they are new and there is room. */
function withTerms(txn: TxnRecord, activeFrom: number, expiresAt: number): Pick<TxnRecord, 'moreTerms'> {
  const more = txn.moreTerms ?? []
  const known = (txn.activeFrom === activeFrom && txn.expiresAt === expiresAt) || more.some(([a, e]) => a === activeFrom && e === expiresAt)
  if (known || more.length >= txnTermsMax) return txn.moreTerms === undefined ? {} : { moreTerms: more }
  return { moreTerms: [...more, [activeFrom, expiresAt]] }
}

/**
 * The refusal of a credit of `points` that would take the account past
 * `accountPointsMax`, or undefined when it fits. Nothing is applied on a
 * refusal, and it is not stored (`invalid_request`).
 */
export function creditRefusal(account: AccountState, points: number): Reply | undefined {
  if (points <= 0 || points <= creditRoom(account)) return undefined
  return {
    status: 'invalid_request',
    field: 'points',
    message:
      `account ${account.id} holds ${pointsInAccount(account)} points and may hold at most ${accountPointsMax} (10^15): ` +
      `${points} more would pass that limit`,
  }
}

/** The refusal of a command that would take a ref's running sums past `refTotalMax`, or undefined. */
function refSumRefusal(what: 'earns' | 'redemptions', ref: string, points: number, amount: number): Reply | undefined {
  if (points > refTotalMax) {
    return {
      status: 'invalid_request',
      field: 'points',
      message: `the ${what} on ref ${ref} would add up to ${points} points; at most ${refTotalMax} (10^15) are recorded under one ref`,
    }
  }
  if (amount > refTotalMax) {
    return {
      status: 'invalid_request',
      field: 'amount',
      message: `the ${what} on ref ${ref} would add up to an amount of ${amount}; at most ${refTotalMax} (10^15) is recorded under one ref`,
    }
  }
  return undefined
}

function checkLotTerms(ctx: LedgerContext, expiresAt: number, activeFrom: number): Reply | undefined {
  if (expiresAt <= ctx.now) {
    return { status: 'invalid_request', field: 'expiresAt', message: 'expiresAt must be in the future' }
  }
  if (activeFrom >= expiresAt) {
    return { status: 'invalid_request', field: 'activeFrom', message: 'activeFrom must be before expiresAt' }
  }
  return undefined
}

export interface CreditTerms {
  kind: 'earn' | 'adjust' | 'enroll'
  expiresAt: number
  activeFrom: number
  ref?: string | undefined
  reason?: string | undefined
  breakdown?: BreakdownLine[]
}

/** Credits points as a lot (scheduling its expiry) and journals it. */
export function creditPoints(
  ctx: LedgerContext,
  account: AccountState,
  points: number,
  terms: CreditTerms,
  command: LedgerCommand | undefined,
): Entry {
  creditLot(account, {
    id: account.seq + 1,
    points,
    activeFrom: terms.activeFrom,
    expiresAt: terms.expiresAt,
  })
  const entry: Omit<Entry, 'seq' | 'at' | 'balance'> = { kind: terms.kind, points, held: 0 }
  if (terms.expiresAt !== neverExpires) entry.expiresAt = terms.expiresAt
  if (terms.ref !== undefined) entry.ref = terms.ref
  if (terms.reason !== undefined) entry.reason = terms.reason
  if (terms.breakdown !== undefined) entry.breakdown = terms.breakdown
  return append(ctx, account, entry, command)
}

function adjust(ctx: LedgerContext, account: AccountState, command: AdjustCommand): Reply {
  if (command.points > 0) {
    const expiresAt = command.expiresAt ?? neverExpires
    const activeFrom = command.activeFrom ?? ctx.now
    const bad = checkLotTerms(ctx, expiresAt, activeFrom)
    if (bad !== undefined) return bad
    const full = creditRefusal(account, command.points)
    if (full !== undefined) return full
    const entry = creditPoints(ctx, account, command.points, { kind: 'adjust', expiresAt, activeFrom, reason: command.reason }, command)
    return okReply(ctx, account, { entry: entry.seq, points: command.points })
  }
  const points = -command.points
  if (spendable(account, ctx.now) < points) return { status: 'insufficient_points' }
  debitLots(account, points, ctx.now)
  const entry = append(ctx, account, { kind: 'adjust', points: -points, held: 0, reason: command.reason }, command)
  return okReply(ctx, account, { entry: entry.seq, points })
}

// ---------------------------------------------------------------------------
// Burns and holds

function redeem(ctx: LedgerContext, account: AccountState, command: RedeemCommand): Reply {
  if (spendable(account, ctx.now) < command.points) return { status: 'insufficient_points' }
  const known = command.ref === undefined ? undefined : ctx.ws.burn(account.id, command.ref)
  if (known !== undefined) {
    const over = refSumRefusal('redemptions', known.ref, known.points + command.points, known.amount + (command.amount ?? 0))
    if (over !== undefined) return over
  }
  const slices = debitLots(account, command.points, ctx.now)
  account.burned += command.points
  const fields: Omit<Entry, 'seq' | 'at' | 'balance'> = { kind: 'burn', points: -command.points, held: 0 }
  if (command.ref !== undefined) fields.ref = command.ref
  const entry = append(ctx, account, fields, command)
  if (command.ref !== undefined) recordBurn(ctx, account, command.ref, entry.seq, command.points, command.amount ?? 0, slices)
  return okReply(ctx, account, { entry: entry.seq, points: command.points })
}

/** Remembers what a redemption with a `ref` took from which lots, so a refund can give it back. */
function recordBurn(
  ctx: LedgerContext,
  account: AccountState,
  ref: string,
  entry: number,
  points: number,
  amount: number,
  slices: LotSlice[],
) {
  const known = ctx.ws.burn(account.id, ref)
  if (known === undefined) {
    ctx.ws.putBurn(account.id, { ref, entry, points, amount, slices, refundedPoints: 0, refundedAmount: 0 })
    return
  }
  // Several redemptions on one purchase refund together. Each one's amount is
  // the money its points paid, so the amounts add up like the points.
  ctx.ws.putBurn(account.id, {
    ...known,
    points: known.points + points,
    amount: known.amount + amount,
    slices: [...known.slices, ...slices],
  })
}

/**
 * Gives back points burned by a redemption: by returned money (a
 * proportional, cumulative share, as for reversals), by points, or all not
 * yet refunded. The longest-lived slices go back first, to the lots they
 * came from, paying any debt first (even points whose lot expired: unlike a
 * hold's release, a refund pays debt with every point, as documented); what
 * is left of points whose lot expired meanwhile expires again at once. A
 * share that floors to 0 answers `ok` with 0 points and a 0-point entry (the
 * journal explains every amount returned).
 */
function refund(ctx: LedgerContext, account: AccountState, command: RefundCommand): Reply {
  const burn = ctx.ws.burn(account.id, command.ref)
  if (burn === undefined) return { status: 'transaction_not_found', message: `no redemption ${command.ref} on account ${account.id}` }
  const share = reversalShare(
    { points: burn.points, amount: burn.amount, reversedPoints: burn.refundedPoints, returnedAmount: burn.refundedAmount },
    command,
    'refunded',
  )
  if ('status' in share) return share
  // Points a redemption took out may come back to an account that was topped up meanwhile.
  const full = creditRefusal(account, share.points)
  if (full !== undefined) return full
  const [back, kept] = splitSlices([...burn.slices].reverse(), share.points)
  ctx.ws.putBurn(account.id, {
    ...burn,
    slices: kept.reverse(),
    refundedPoints: burn.refundedPoints + share.points,
    refundedAmount: burn.refundedAmount + (command.amount ?? 0),
  })
  // A share that floors to 0 (a small amount returned) gives nothing back, but
  // still writes its entry: the journal explains every amount returned too.
  // As documented for refunds, the points pay any debt first, whatever their date.
  restoreSlices(account, back, ctx.now, { expiredPayDebt: true })
  account.burned -= share.points
  const fields: Omit<Entry, 'seq' | 'at' | 'balance'> = { kind: 'refund', points: share.points, held: 0, ref: command.ref }
  if (command.reason !== undefined) fields.reason = command.reason
  const entry = append(ctx, account, fields, command)
  expireDueLots(ctx, account)
  return okReply(ctx, account, { entry: entry.seq, points: share.points, ...(command.settleWith === undefined ? {} : { settledWith: command.settleWith }) })
}

function authorize(ctx: LedgerContext, account: AccountState, command: AuthorizeCommand): Reply {
  const timeoutMs = command.timeoutMs ?? ctx.config.holdTimeoutMsDefault
  if (timeoutMs > ctx.config.holdTimeoutMsMax) {
    return {
      status: 'invalid_request',
      field: 'timeoutMs',
      message: `timeoutMs must be at most ${ctx.config.holdTimeoutMsMax}`,
    }
  }
  if (spendable(account, ctx.now) < command.points) return { status: 'insufficient_points' }
  const slices = debitLots(account, command.points, ctx.now)
  const entry = append(ctx, account, { kind: 'hold', points: -command.points, held: command.points }, command)
  const expiresAt = ctx.now + timeoutMs
  account.holds.push({ id: entry.seq, points: command.points, expiresAt, slices, ...(command.forTransfer === true ? { forTransfer: true as const } : {}) })
  entry.hold = entry.seq
  const dated = heldLots(slices)
  return okReply(ctx, account, { entry: entry.seq, hold: entry.seq, points: command.points, ...(dated === undefined ? {} : { heldLots: dated }) })
}

/**
 * The held points by lot, soonest expiry first, when any of them expire
 * (points that never expire need no dates, and come last as one): each with
 * its lot's expiry and start. A transfer credits them with the same terms, so
 * moving points never extends their life, and the receiver keeps them apart
 * as the sender did (a return of the purchase that earned them can tell its
 * expired points from others of the same date).
 */
function heldLots(slices: readonly LotSlice[]): HeldLot[] | undefined {
  if (slices.every((slice) => slice.expiresAt === neverExpires)) return undefined
  const byLot = new Map<string, HeldLot>()
  for (const slice of slices) {
    const dated = slice.expiresAt !== neverExpires
    const id = dated ? `${slice.expiresAt}:${slice.activeFrom}` : 'never'
    const known = byLot.get(id)
    if (known !== undefined) known.points += slice.points
    else byLot.set(id, dated ? { points: slice.points, expiresAt: slice.expiresAt, activeFrom: slice.activeFrom } : { points: slice.points, expiresAt: neverExpires })
  }
  return [...byLot.values()].sort((a, b) => a.expiresAt - b.expiresAt || (a.activeFrom ?? 0) - (b.activeFrom ?? 0))
}

/**
 * Why a hold cannot be captured or voided, in words that fit the op: a
 * timed-out hold "expired before it was captured" for a capture, but for a
 * void it has already been released, which is what the void asked for.
 */
function holdMessage(op: 'capture' | 'void', status: StatusName, hold: number, closed: ClosedHold | undefined): string {
  switch (status) {
    case 'hold_not_found':
      return `no hold ${hold} on this account`
    case 'hold_already_captured':
      return `hold ${hold} was captured already`
    case 'hold_already_voided':
      return `hold ${hold} was voided already`
    case 'hold_expired': {
      const iso = (at: number) => new Date(at).toISOString()
      if (closed?.expiresAt !== undefined) {
        return op === 'void'
          ? `hold ${hold} expired at ${iso(closed.expiresAt)} and was released`
          : `hold ${hold} expired at ${iso(closed.expiresAt)} before it was captured`
      }
      // Closed before deadlines were kept: only when it was released is known, which may be well after its deadline.
      const released = closed === undefined ? '' : ` at ${iso(closed.closedAt)}`
      return op === 'void' ? `hold ${hold} expired and was released${released}` : `hold ${hold} expired before it was captured`
    }
    default:
      return `hold ${hold} cannot be used (${status})`
  }
}

/** The open hold, or the refusal that says why it cannot be used. */
function findOpenHold(ctx: LedgerContext, account: AccountState, command: CaptureCommand | VoidCommand): OpenHold | Reply {
  const { hold: id, op } = command
  if (command.holdOf !== undefined && !tookHold(ctx, account.id, id, command.holdOf)) {
    return { status: 'hold_not_found', message: holdMessage(op, 'hold_not_found', id, undefined) }
  }
  const open = account.holds.find((h) => h.id === id)
  // A transfer's hold is the engine's: to a member it is no hold of its own.
  if (open !== undefined && open.forTransfer === true && command.byMember === true) {
    return { status: 'hold_not_found', message: holdMessage(op, 'hold_not_found', id, undefined) }
  }
  if (open !== undefined) return open
  const closed = ctx.ws.closedHold(account.id, id)
  const byState = {
    captured: 'hold_already_captured',
    voided: 'hold_already_voided',
    expired: 'hold_expired',
  } as const
  const status: StatusName = closed === undefined ? 'hold_not_found' : byState[closed.state]
  return { status, message: holdMessage(op, status, id, closed) }
}

/**
 * Whether household member `member` took hold `id` on this account (a
 * pool): the hold's id is its authorization's entry, whose key carries the
 * member's scope.
 */
function tookHold(ctx: LedgerContext, account: string, id: number, member: string): boolean {
  const [entry] = ctx.ws.entries(account, id + 1, 1)
  return entry !== undefined && entry.seq === id && entry.kind === 'hold' && entry.key?.endsWith(`\u0000${member}`) === true
}

function capture(ctx: LedgerContext, account: AccountState, command: CaptureCommand): Reply {
  const hold = findOpenHold(ctx, account, command)
  if ('status' in hold) return hold
  const points = command.points ?? hold.points
  if (points > hold.points) return { status: 'capture_exceeds_hold' }
  // The capture spends the member's held points first; past them, points a return claimed, which are owed.
  const unclaimed = hold.points - (hold.claimed ?? 0)
  const spentClaimed = Math.max(0, points - unclaimed)
  const [, released] = splitSlices(hold.slices, points - spentClaimed)
  // The hold's claim on the points it spends is owed for good instead: the balance does not move.
  hold.claimed = (hold.claimed ?? 0) - spentClaimed
  oweSpentClaim(account, spentClaimed, ctx.now, hold)
  // A transfer's lots whose date came before they reached the receiver expired in transit, unspent.
  const lapsed = command.expiredInTransit ?? []
  const expired = Math.min(points, lapsed.reduce((sum, lot) => sum + lot.points, 0))
  account.burned += points - expired
  const entry = append(ctx, account, { kind: 'capture', points: 0, held: -(points - expired), hold: hold.id }, command)
  if (expired > 0) {
    account.expired += expired
    for (const lot of lapsed) if (lot.activeFrom !== undefined) recordLapsedPoints(account, [lot.activeFrom, lot.expiresAt, lot.points], ctx.now)
    append(ctx, account, { kind: 'expire', points: 0, held: -expired, hold: hold.id, reason: 'expired_in_transit' })
  }
  closeHold(ctx, account, hold, 'captured', points)
  const rest = hold.points - points
  if (rest > 0) {
    // The claimed points of the rest settle their claim; the others come back.
    restoreSlices(account, released, ctx.now)
    append(ctx, account, { kind: 'release', points: rest, held: -rest, hold: hold.id, reason: 'partial_capture' })
    expireDueLots(ctx, account)
  }
  assert(account.holds.every((h) => h.id !== hold.id), 'a captured hold is no longer open')
  return okReply(ctx, account, { entry: entry.seq, hold: hold.id, points })
}

function voidHold(ctx: LedgerContext, account: AccountState, command: VoidCommand): Reply {
  const hold = findOpenHold(ctx, account, command)
  if ('status' in hold) return hold
  closeHold(ctx, account, hold, 'voided')
  // Points a return claimed are settled by the held points themselves: only the rest come back.
  restoreSlices(account, hold.slices, ctx.now)
  const entry = append(ctx, account, { kind: 'void', points: hold.points, held: -hold.points, hold: hold.id }, command)
  expireDueLots(ctx, account)
  return okReply(ctx, account, { entry: entry.seq, hold: hold.id, points: hold.points })
}

// ---------------------------------------------------------------------------
// Reversal of an earlier earn (returns)

/**
 * Takes back a share of an earlier earn (a return). Points of it that expired
 * unspent are written off (`writeOffLapsed`); then the earn's own points are
 * taken, from lots (`takeForReversal`) and then from open holds, then any
 * other points the same way (`clawBack`). Held points are claimed from their
 * holds (`claimHeld`): they
 * stay held, so the till can still capture the hold in full, and are owed
 * like debt until it closes; its release settles the claim with them and
 * gives back only the rest, and a capture that spends claimed points owes
 * them for good (from the member's other points, or as debt). What is left, the
 * shortfall, was spent: under `debt` it becomes debt, under `clamp` it is
 * forgiven and reported as the reply's `shortfall`.
 *
 * The returned share leaves the member's qualification (`onReversal`), and a
 * tier bonus the purchase paid is clawed back, under the same policy, when
 * qualification falls below that tier's threshold (`clawTierBonuses`): the
 * reply's `points`, `shortfall` and `breakdown` include it. A share that
 * floors to 0 while points are left answers `ok` with 0 points and a 0-point
 * entry (the returned money still counts); when every point was already
 * taken back, the return is refused (`reversalShare`).
 */
function reverse(ctx: LedgerContext, account: AccountState, command: ReverseCommand): Reply {
  if (command.lapsedOf !== undefined) return writeOffElsewhere(ctx, account, command, command.lapsedOf)
  const txn = ctx.ws.txn(account.id, command.ref)
  if (txn === undefined) return { status: 'transaction_not_found', message: `no purchase or earn ${command.ref} on account ${account.id}` }
  const byLines = returnLinesOf(txn, command)
  if (byLines !== undefined && 'status' in byLines) return byLines
  const share: { points: number; amount?: number; lines?: TxnLine[] } | Reply =
    byLines === undefined ? reversalShare(txn, command, 'reversed') : lineShare(txn, byLines, command.ref)
  if ('status' in share) return share
  const policy = command.settleWith !== undefined ? 'debt' : (command.shortfall ?? programShortfall(ctx, account) ?? ctx.config.shortfallPolicyDefault)
  const qualified = qualificationNow(ctx, account)
  const own = clawBack(account, share.points, txn, policy, ctx.now)
  const after: TxnRecord = {
    ...txn,
    reversedPoints: txn.reversedPoints + share.points,
    returnedAmount: txn.returnedAmount + (share.amount ?? command.amount ?? 0),
  }
  if (share.lines !== undefined) after.lines = share.lines
  onReversal(account, txn, after)
  // A share that floors to 0 (a small amount returned) takes no points, but the
  // returned money still counts (for later shares and qualification), and its
  // entry says so: the journal explains every amount returned too.
  const fields: Omit<Entry, 'seq' | 'at' | 'balance'> = { kind: 'reverse', points: 0 - own.clawed, held: 0, ref: command.ref }
  if (own.lapsed > 0) fields.lapsed = own.lapsed
  const entry = append(ctx, account, fields, command)
  const bonuses = clawTierBonuses(ctx, account, after, qualified, (points) => clawBack(account, points, txn, policy, ctx.now), command)
  ctx.ws.putTxn(account.id, after)
  const reply = okReply(ctx, account, { entry: entry.seq, points: own.clawed + bonuses.clawed })
  if (bonuses.lines.length > 0) reply.breakdown = bonuses.lines
  const shortfall = own.shortfall + bonuses.shortfall
  if (policy === 'clamp' && shortfall > 0) reply.shortfall = shortfall
  const lapsed = own.lapsed + bonuses.lapsed
  if (lapsed > 0) reply.lapsed = lapsed
  if (command.withOrigins === true) reply.origins = originsOf(txn)
  if (command.settleWith !== undefined) reply.settledWith = command.settleWith
  return reply
}

/**
 * The write-off half of a return run on another account (`lapsedOf`): up to
 * `command.points` of the points that lapsed here from lots with those terms.
 * A `reverse` entry of 0 points records how many (`lapsed`), when any.
 */
function writeOffElsewhere(ctx: LedgerContext, account: AccountState, command: ReverseCommand, terms: LotTerms[]): Reply {
  const lapsed = writeOffLapsed(account, command.points ?? 0, terms, ctx.now)
  if (lapsed === 0) return okReply(ctx, account, { points: 0 })
  const entry = append(
    ctx,
    account,
    { kind: 'reverse', points: 0, held: 0, ref: command.ref, reason: 'expired_here_returned_elsewhere', lapsed },
    command,
  )
  return okReply(ctx, account, { entry: entry.seq, points: 0, lapsed })
}

/**
 * What a return took back (from lots, or as debt), what it forgave (`clamp`
 * only), and what it wrote off because those points had expired unspent.
 */
export interface Clawed {
  clawed: number
  shortfall: number
  lapsed: number
}

/**
 * Takes `points` back for a return: points that expired unspent from lots
 * with the origin's terms are written off (`writeOffLapsed`), since taking
 * them again would charge the member for points they never had the use of;
 * then the origin's own points, from lots (`takeForReversal`), then held
 * (`claimHeld`); then any other points as the return would have found them
 * had nothing been held (`takeOthers`: active lots and held points soonest
 * expiry first, then pending lots). The rest was spent:
 * debt under `debt`, forgiven under `clamp`.
 */
function clawBack(
  account: AccountState,
  points: number,
  origin: Pick<TxnRecord, 'activeFrom' | 'expiresAt' | 'moreTerms'>,
  policy: ShortfallPolicy,
  now: number,
): Clawed {
  const origins = originsOf(origin)
  const lapsed = writeOffLapsed(account, points, origins, now)
  // The earn's own points first, in lots, then held; then any others, as `takeOthers` finds them.
  let left = points - lapsed
  const ownTaken = left > 0 ? takeForReversal(account, left, origins) : 0
  left -= ownTaken
  const ownClaimed = left > 0 ? claimHeld(account, left, origins, now) : 0
  left -= ownClaimed
  const others = takeOthers(account, left, now)
  const missing = left - others
  const owed = policy === 'debt' ? missing : 0
  account.debt += owed
  return { clawed: ownTaken + ownClaimed + others + owed, shortfall: missing - owed, lapsed }
}

/** The lot terms of every earn on a ref, the first's first. */
function originsOf(txn: Pick<TxnRecord, 'activeFrom' | 'expiresAt' | 'moreTerms'>): LotTerms[] {
  return [[txn.activeFrom, txn.expiresAt], ...(txn.moreTerms ?? [])]
}

/** The program's return policy: may a return take the balance below zero? */
function programShortfall(ctx: LedgerContext, account: AccountState): ShortfallPolicy | undefined {
  const program = account.program === undefined ? undefined : ctx.rules?.programs.get(account.program.id)
  if (program === undefined) return undefined
  return program.doc.negativeBalanceOnReturn ? 'debt' : 'clamp'
}

/**
 * How many points a reversal takes back. By amount, the share is cumulative
 * (floor of points × returned-so-far ÷ amount, less what was already
 * reversed), so several partial returns never round to more than the earn.
 * The share may be 0 (a small amount, or points reversed ahead of the money);
 * once every point is taken back, any further return is refused
 * (`reversal_exceeds_original`, saying nothing is left) rather than answered
 * with 0, except that a purchase that earned no points still returns by
 * amount, for its spend.
 */
function reversalShare(
  txn: { points: number; amount: number; reversedPoints: number; returnedAmount: number },
  command: { ref: string; amount?: number; points?: number },
  done: 'reversed' | 'refunded',
): { points: number } | Reply {
  const left = txn.points - txn.reversedPoints
  // Every point was taken back already (by points, or by amounts): a share of
  // 0 would only write an empty entry, so it is refused.
  const nothingLeft: Reply = {
    status: 'reversal_exceeds_original',
    message: `nothing is left to take back: all ${txn.points} points of ${command.ref} were ${done} already`,
  }
  if (command.amount !== undefined) {
    if (txn.amount === 0) {
      return { status: 'invalid_request', field: 'amount', message: 'the original earn has no amount; reverse by points' }
    }
    const returned = txn.returnedAmount + command.amount
    if (returned > txn.amount) return { status: 'reversal_exceeds_original' }
    // A purchase that earned nothing still returns by amount: its spend leaves qualification.
    if (left === 0 && txn.points > 0) return nothingLeft
    const due = mulDivFloor(txn.points, returned, txn.amount) - txn.reversedPoints
    return { points: Math.max(0, Math.min(due, left)) }
  }
  if (left === 0 && txn.points > 0) return nothingLeft
  const points = command.points ?? left
  if (points === 0 || points > left) return { status: 'reversal_exceeds_original' }
  return { points }
}

/**
 * The lines a return takes, or undefined for a return by amount or points,
 * or the refusal of mixing the two on one purchase: once returned by lines,
 * the rest is returned by lines, and once by amount or points, the same way.
 * A return that names nothing returns everything left, by lines when the
 * purchase has them and none went back by amount or points.
 */
function returnLinesOf(txn: TxnRecord, command: ReverseCommand): readonly ReturnLine[] | Reply | undefined {
  if (txn.lines === undefined) return command.lines
  const linesUsed = txn.lines.some((line) => line[5] > 0)
  const otherUsed = !linesUsed && (txn.reversedPoints > 0 || txn.returnedAmount > 0)
  const named = command.amount !== undefined ? 'amount' : command.points !== undefined ? 'points' : undefined
  // Every unit is back: what is left (a bonus earned on the ref since) returns by amount or points.
  if (command.lines === undefined && txn.lines.every((line) => line[5] === line[1])) return undefined
  if (named !== undefined) {
    if (!linesUsed) return undefined
    return { status: 'invalid_request', field: named, message: `${command.ref} is being returned by lines: return the rest by lines` }
  }
  if (command.lines !== undefined) {
    if (!otherUsed) return command.lines
    return { status: 'invalid_request', field: 'lines', message: `${command.ref} was returned by amount or points: return the rest the same way` }
  }
  if (otherUsed) return undefined
  return txn.lines.filter((line) => line[5] < line[1]).map(([sku, quantity, , , , returned]) => ({ sku, quantity: quantity - returned }))
}

/**
 * How many points, and how much money, a return of basket lines takes back,
 * and the purchase's lines after it. Each line gives back a cumulative share
 * of the points the rules attributed to it, floor(points × units returned so
 * far ÷ units), less what its earlier returns took, and of what it paid
 * likewise; the purchase's other points (activities, bonus
 * earns on its ref) go back once every unit is returned. A SKU on several
 * lines is taken from the earliest first. Never more than is left of the
 * purchase's points (a return by points may have taken some already).
 */
function lineShare(
  txn: TxnRecord,
  returned: readonly ReturnLine[],
  ref: string,
): { points: number; amount: number; lines: TxnLine[] } | Reply {
  if (txn.lines === undefined) {
    return {
      status: 'invalid_request',
      field: 'lines',
      message: `${ref} has no basket lines recorded (an earn, or a purchase recorded before lines were kept): return it by amount or points`,
    }
  }
  const lines = txn.lines.map((line): TxnLine => [...line])
  // Units already returned in this command, by SKU, for a refusal that counts them.
  const asked = new Map<string, number>()
  for (const [index, { sku, quantity }] of returned.entries()) {
    asked.set(sku, (asked.get(sku) ?? 0) + quantity)
    let rest = quantity
    for (const line of lines) {
      if (line[0] !== sku) continue
      const take = Math.min(rest, line[1] - line[5])
      line[5] += take
      rest -= take
      if (rest === 0) break
    }
    if (rest === 0) continue
    const bought = txn.lines.filter((line) => line[0] === sku)
    if (bought.length === 0) {
      return { status: 'invalid_request', field: `lines[${index}].sku`, message: `${ref} has no line with sku ${JSON.stringify(sku)}` }
    }
    const units = bought.reduce((total, line) => total + line[1], 0)
    const left = bought.reduce((total, line) => total + line[1] - line[5], 0)
    return {
      status: 'reversal_exceeds_original',
      field: `lines[${index}].quantity`,
      message:
        left === 0
          ? `nothing is left to take back: all ${units} of sku ${JSON.stringify(sku)} on ${ref} were returned already`
          : `${ref} bought ${units} of sku ${JSON.stringify(sku)} and ${left} of them are left to return, fewer than the ${asked.get(sku)} returned here`,
    }
  }
  let points = 0
  let amount = 0
  for (const [i, line] of lines.entries()) {
    const [, units, linePoints, paid, , after] = line
    const before = txn.lines[i]![5]
    if (after === before) continue
    points += mulDivFloor(linePoints, after, units) - mulDivFloor(linePoints, before, units)
    amount += mulDivFloor(paid, after, units) - mulDivFloor(paid, before, units)
  }
  const whole = lines.every((line) => line[5] === line[1])
  const left = txn.points - txn.reversedPoints
  if (whole) points = left
  return { points: Math.max(0, Math.min(points, left)), amount: Math.min(amount, txn.amount - txn.returnedAmount), lines }
}

/** floor(a × b ÷ c) for non-negative safe integers, exact even when a × b is not. */
export function mulDivFloor(a: number, b: number, c: number): number {
  assert(c > 0, 'division by zero')
  const product = a * b
  if (Number.isSafeInteger(product)) return Math.floor(product / c)
  return Number((BigInt(a) * BigInt(b)) / BigInt(c))
}
