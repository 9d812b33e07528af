/**
 * Program membership on the ledger: enrolment, purchases evaluated by the
 * active ruleset, activity rewards, tiers (upgrade at once, review on a
 * schedule) and birthdays. Like the rest of the domain it is pure: the shard
 * supplies the compiled ruleset, the clock and a view of its quota leases.
 *
 * Every change appends journal entries, so the journal explains every point:
 * a purchase is one `earn` entry carrying its breakdown (even when it earns
 * nothing), a tier change is a `tier` entry with the tier before and after and
 * the reason, and an upgrade bonus is an `earn` entry of its own.
 *
 * @module
 */
import {
  expiryOf,
  localDayIndex,
  nextBirthday,
  nextReview,
  qualificationWindowStart,
} from '../rules/calendar.ts'
import type { CompiledProgram, CompiledRuleset } from '../rules/compile.ts'
import {
  applyUsage,
  earnRefusal,
  evaluateActivity,
  evaluatePurchase,
  type Evaluation,
  type MemberContext,
} from '../rules/evaluate.ts'
import type { BreakdownLine } from '../rules/types.ts'
import { creditRoom, ledgerBalance } from './account.ts'
import { append, creditPoints, creditRefusal, okReply, type LedgerContext } from './ledger.ts'
import type {
  AccountState,
  ActivityCommand,
  EnrollCommand,
  LedgerCommand,
  ProfileCommand,
  ProgramState,
  PurchaseCommand,
  Reply,
  TxnRecord,
} from './types.ts'

/** Quota leases of the shard: units of each campaign's global quota it may grant. */
export interface QuotaLeases {
  left(quotaKey: string): number
  take(quotaKey: string): void
}

/** Events the engine raises itself; the API may not send them. */
const engineEvents = new Set(['registration', 'referral_referred', 'birthday', 'first_purchase'])
/** Qualifying days kept: enough for any window (a year and a leap day) plus slack. */
const qualifyingDaysKept = 400

function invalid(field: string, message: string): Reply {
  return { status: 'invalid_request', field, message }
}

/** The account's program in the active ruleset, or the reply that says why there is none. */
function programOf(ctx: LedgerContext, account: AccountState): CompiledProgram | Reply {
  const state = account.program
  if (state === undefined) return invalid('account', `account ${account.id} has not joined a program`)
  const program = ctx.rules?.programs.get(state.id)
  if (program === undefined) {
    return invalid('account', `program ${state.id} is not in the active ruleset${versionText(ctx.rules)}`)
  }
  return program
}

function versionText(rules: CompiledRuleset | undefined): string {
  return rules === undefined ? ' (none is published)' : ` (version ${rules.version})`
}

function memberContext(state: ProgramState): MemberContext {
  return {
    tier: state.tier,
    facts: state.member,
    usage: state.usage,
    firstPurchase: state.purchases === 0,
  }
}

// ---------------------------------------------------------------------------
// Enrolment

export function enroll(ctx: LedgerContext, account: AccountState, command: EnrollCommand): Reply {
  if (account.program !== undefined) {
    return invalid('account', `account ${account.id} already belongs to program ${account.program.id}`)
  }
  const program = ctx.rules?.programs.get(command.program)
  if (program === undefined) {
    return invalid('program', `no program ${command.program} in the active ruleset${versionText(ctx.rules)}`)
  }
  if (command.referredBy === account.id) return invalid('referredBy', 'a member cannot refer themselves')
  const state: ProgramState = {
    id: program.id,
    tier: program.tiers[0]!.id,
    enrolledAt: ctx.now,
    member: command.member ?? {},
    purchases: 0,
    qualifying: [],
    usage: {},
    reviewAt: nextReview(program.doc.qualification.period, reviewDaysOf(program), ctx.now, ctx.now, program.zone),
  }
  account.program = state
  scheduleBirthday(ctx, account, program)
  // The welcome points (the first tier's bonus, registration and referral
  // rewards) are credited by the enrolment's own journal entry: one record
  // for the lot, the journal and the breakdown, not one entry each.
  const lines: BreakdownLine[] = []
  let points = 0
  const firstTier = program.tiers[0]!
  if (firstTier.bonus !== undefined && firstTier.bonus > 0) {
    lines.push({ source: 'tier_bonus', id: firstTier.id, name: firstTier.name, points: firstTier.bonus })
    points += firstTier.bonus
  }
  const events = command.referredBy === undefined ? ['registration'] : ['registration', 'referral_referred']
  for (const event of events) points += evaluateActivityInto(ctx, account, program, event, lines)
  // The welcome points would take an account (which may have earned before joining) past its limit.
  const full = creditRefusal(account, points)
  if (full !== undefined) {
    delete account.program
    return full
  }
  const fields = { reason: program.id, breakdown: lines }
  const entry =
    points > 0
      ? creditProgram(ctx, account, program, points, fields, command, 'enroll')
      : append(ctx, account, { kind: 'enroll', points: 0, held: 0, reason: program.id }, command)
  return okReply(ctx, account, { entry: entry.seq, points, breakdown: lines, tier: state.tier })
}

/** Evaluates one activity, counting it against its limits; adds its lines and returns its points. */
function evaluateActivityInto(
  ctx: LedgerContext,
  account: AccountState,
  program: CompiledProgram,
  event: string,
  lines: BreakdownLine[],
): number {
  const state = account.program!
  const result = evaluateActivity(program, event, memberContext(state), ctx.now)
  applyUsage(state.usage, result.usage)
  lines.push(...result.lines)
  return result.points
}

/** Evaluates and credits one activity; returns the points it gave. */
function rewardActivity(
  ctx: LedgerContext,
  account: AccountState,
  program: CompiledProgram,
  event: string,
  command: LedgerCommand | undefined,
  lines: BreakdownLine[],
): number {
  const before = lines.length
  const points = evaluateActivityInto(ctx, account, program, event, lines)
  if (points > creditRoom(account)) {
    // Only an activity the engine raises itself (a birthday) gets here: the
    // `activity` command is refused first. It gives nothing past the limit.
    lines.splice(before)
    return 0
  }
  if (points > 0) {
    creditProgram(ctx, account, program, points, { reason: event, breakdown: lines.slice(before) }, command)
  }
  return points
}

function creditProgram(
  ctx: LedgerContext,
  account: AccountState,
  program: CompiledProgram,
  points: number,
  fields: { reason: string; breakdown: BreakdownLine[]; ref?: string },
  command: LedgerCommand | undefined,
  kind: 'earn' | 'enroll' = 'earn',
) {
  const terms = {
    kind,
    expiresAt: expiryOf(program.doc.expiry, ctx.now, program.zone),
    activeFrom: ctx.now + program.pendingMs,
    ...fields,
  }
  account.earned += points
  return creditPoints(ctx, account, points, terms, command)
}

export function profile(ctx: LedgerContext, account: AccountState, command: ProfileCommand): Reply {
  const program = programOf(ctx, account)
  if ('status' in program) return program
  const state = account.program!
  state.member = command.member
  delete state.birthdayAt
  scheduleBirthday(ctx, account, program)
  const entry = append(ctx, account, { kind: 'profile', points: 0, held: 0 }, command)
  return okReply(ctx, account, { entry: entry.seq, tier: state.tier })
}

function scheduleBirthday(ctx: LedgerContext, account: AccountState, program: CompiledProgram) {
  const state = account.program!
  const birthDate = state.member.birthDate
  if (birthDate === undefined || !program.activities.has('birthday')) return
  state.birthdayAt = nextBirthday(birthDate, ctx.now, program.zone)
}

// ---------------------------------------------------------------------------
// Purchases

export function purchase(ctx: LedgerContext, account: AccountState, command: PurchaseCommand): Reply {
  const program = programOf(ctx, account)
  if ('status' in program) return program
  const state = account.program!
  const ref = command.ref ?? command.key
  if (ctx.ws.txn(account.id, ref) !== undefined) {
    return invalid('ref', `purchase ${ref} is already recorded on this account`)
  }
  const result = evaluatePurchase(program, command.basket, memberContext(state), ctx.now, ctx.quotas)
  const refusal = earnRefusal(command.basket, result)
  if (refusal !== undefined) return invalid('basket', refusal)
  const full = creditRefusal(account, result.points)
  if (full !== undefined) return full
  applyUsage(state.usage, result.usage)
  for (const campaign of result.campaigns) {
    if (campaign.quota !== undefined) ctx.quotas.take(campaign.quotaKey)
  }
  state.purchases += 1
  const day = localDayIndex(ctx.now, program.zone)
  addQualifying(state, day, result.qualifyingPoints, result.spend)
  const entry = recordPurchase(ctx, account, program, result, ref, command)
  ctx.ws.putTxn(account.id, {
    ref,
    entry: entry.seq,
    points: result.points,
    amount: result.paid,
    activeFrom: ctx.now + program.pendingMs,
    expiresAt: expiryOf(program.doc.expiry, ctx.now, program.zone),
    reversedPoints: 0,
    returnedAmount: 0,
    day,
    qualifyingPoints: result.qualifyingPoints,
    spend: result.spend,
  })
  const lines = [...result.lines]
  const bonus = upgrade(ctx, account, program, 'purchase', lines, command)
  return okReply(ctx, account, {
    entry: entry.seq,
    points: result.points + bonus,
    breakdown: lines,
    tier: state.tier,
  })
}

function recordPurchase(
  ctx: LedgerContext,
  account: AccountState,
  program: CompiledProgram,
  result: Evaluation,
  ref: string,
  command: PurchaseCommand,
) {
  if (result.points > 0) {
    return creditProgram(ctx, account, program, result.points, { reason: 'purchase', breakdown: result.lines, ref }, command)
  }
  // A purchase that earns nothing is still journaled: it counts for tiers and first-purchase rules.
  return append(ctx, account, { kind: 'earn', points: 0, held: 0, ref, reason: 'purchase', breakdown: result.lines }, command)
}

function addQualifying(state: ProgramState, day: number, points: number, spend: number) {
  const days = state.qualifying
  const last = days[days.length - 1]
  if (last !== undefined && last[0] === day) {
    last[1] += points
    last[2] += spend
  } else {
    days.push([day, points, spend])
  }
  while (days.length > 0 && days[0]![0] < day - qualifyingDaysKept) days.shift()
}

/** After a return: the reversed share no longer qualifies. */
export function onReversal(account: AccountState, txn: TxnRecord, reversedPoints: number, returnedAmount: number) {
  const state = account.program
  if (state === undefined || txn.day === undefined || txn.points === 0) return
  const bucket = state.qualifying.find(([day]) => day === txn.day)
  if (bucket === undefined) return
  const share = (n: number, of: number) => (of === 0 ? 0 : Math.floor((n * reversedPoints) / of))
  const spendBack = returnedAmount > 0 && txn.amount > 0
    ? Math.floor(((txn.spend ?? 0) * returnedAmount) / txn.amount)
    : share(txn.spend ?? 0, txn.points)
  bucket[1] = Math.max(0, bucket[1] - share(txn.qualifyingPoints ?? txn.points, txn.points))
  bucket[2] = Math.max(0, bucket[2] - spendBack)
}

// ---------------------------------------------------------------------------
// Tiers

/** The member's qualification value now: points or spend in the period, or the balance. */
export function qualification(account: AccountState, program: CompiledProgram, now: number): number {
  const state = account.program!
  const q = program.doc.qualification
  if (q.basis === 'balance') return Math.max(0, ledgerBalance(account))
  const start = qualificationWindowStart(q.period, now, state.enrolledAt, program.zone)
  const firstDay = localDayIndex(start, program.zone)
  let total = 0
  for (const [day, points, spend] of state.qualifying) {
    if (day >= firstDay) total += q.basis === 'points' ? points : spend
  }
  return total
}

function tierFor(program: CompiledProgram, value: number): number {
  let index = 0
  program.tiers.forEach((tier, i) => {
    if (value >= tier.threshold) index = i
  })
  return index
}

/**
 * Moves the member up as far as they qualify; credits each tier's bonus.
 * Returns bonus points. A bonus that would take the account past
 * `accountPointsMax` is not credited (the tier still changes): it comes after
 * the command's own credit, which could no longer be refused whole.
 */
function upgrade(
  ctx: LedgerContext,
  account: AccountState,
  program: CompiledProgram,
  reason: string,
  lines: BreakdownLine[],
  command: LedgerCommand | undefined,
): number {
  const state = account.program!
  const current = program.tierIndex.get(state.tier) ?? 0
  const target = tierFor(program, qualification(account, program, ctx.now))
  let bonus = 0
  for (let i = current + 1; i <= target; i++) {
    const tier = program.tiers[i]!
    changeTier(ctx, account, tier.id, `upgrade:${reason}`, command)
    if (tier.bonus !== undefined && tier.bonus > 0 && tier.bonus <= creditRoom(account)) {
      const line: BreakdownLine = { source: 'tier_bonus', id: tier.id, name: tier.name, points: tier.bonus }
      creditProgram(ctx, account, program, tier.bonus, { reason: `tier_bonus:${tier.id}`, breakdown: [line] }, command)
      lines.push(line)
      bonus += tier.bonus
    }
  }
  return bonus
}

/** Records a tier change; entries written on behalf of a command carry its key. */
function changeTier(
  ctx: LedgerContext,
  account: AccountState,
  to: string,
  reason: string,
  command: LedgerCommand | undefined,
) {
  const state = account.program!
  const from = state.tier
  state.tier = to
  append(ctx, account, { kind: 'tier', points: 0, held: 0, tierFrom: from, tierTo: to, reason }, command)
}

function reviewDaysOf(program: CompiledProgram): number {
  return program.doc.qualification.reviewDays ?? 365
}

/** The scheduled tier review: down one step or recomputed, per the program; then the next review. */
function review(ctx: LedgerContext, account: AccountState, program: CompiledProgram) {
  const state = account.program!
  const q = program.doc.qualification
  const current = program.tierIndex.get(state.tier) ?? 0
  const earned = tierFor(program, qualification(account, program, ctx.now))
  if (earned < current) {
    const target = q.review === 'oneDown' ? current - 1 : earned
    changeTier(ctx, account, program.tiers[target]!.id, 'review', undefined)
  } else if (earned > current) {
    upgrade(ctx, account, program, 'review', [], undefined)
  }
  let next = nextReview(q.period, reviewDaysOf(program), state.reviewAt, state.enrolledAt, program.zone)
  // A dormant account reviewed late is reviewed once, then put back on schedule.
  while (next <= ctx.now) next = nextReview(q.period, reviewDaysOf(program), next, state.enrolledAt, program.zone)
  state.reviewAt = next
}

/** Tier reviews and birthdays that have come due; called whenever the account is touched. */
export function settleMembership(ctx: LedgerContext, account: AccountState) {
  const state = account.program
  if (state === undefined) return
  const due = state.reviewAt <= ctx.now || (state.birthdayAt !== undefined && state.birthdayAt <= ctx.now)
  if (!due) return
  const program = ctx.rules?.programs.get(state.id)
  if (program === undefined) return
  if (state.reviewAt <= ctx.now) review(ctx, account, program)
  if (state.birthdayAt !== undefined && state.birthdayAt <= ctx.now && state.member.birthDate !== undefined) {
    rewardActivity(ctx, account, program, 'birthday', undefined, [])
    state.birthdayAt = nextBirthday(state.member.birthDate, ctx.now + 1, program.zone)
  }
}

// ---------------------------------------------------------------------------
// Activities and queries

export function activity(ctx: LedgerContext, account: AccountState, command: ActivityCommand): Reply {
  const program = programOf(ctx, account)
  if ('status' in program) return program
  if (engineEvents.has(command.event)) {
    return invalid('event', `${command.event} is raised by the engine itself`)
  }
  if (!program.activities.has(command.event)) {
    return invalid('event', `program ${program.id} has no activity for event ${command.event}`)
  }
  const trial = evaluateActivity(program, command.event, memberContext(account.program!), ctx.now)
  const full = creditRefusal(account, trial.points)
  if (full !== undefined) return full
  const lines: BreakdownLine[] = []
  const seq = account.seq
  const points = rewardActivity(ctx, account, program, command.event, command, lines)
  const reply = okReply(ctx, account, { points, breakdown: lines, tier: account.program!.tier })
  if (account.seq !== seq) reply.entry = account.seq
  return reply
}

export function preview(ctx: LedgerContext, account: AccountState, basket: PurchaseCommand['basket']): Reply {
  const program = programOf(ctx, account)
  if ('status' in program) return program
  const result = evaluatePurchase(program, basket, memberContext(account.program!), ctx.now, ctx.quotas)
  const refusal = earnRefusal(basket, result)
  if (refusal !== undefined) return invalid('basket', refusal)
  return okReply(ctx, account, { points: result.points, breakdown: result.lines, tier: account.program!.tier })
}

export function membership(ctx: LedgerContext, account: AccountState): Reply {
  const state = account.program
  if (state === undefined) return invalid('account', `account ${account.id} has not joined a program`)
  const program = ctx.rules?.programs.get(state.id)
  return okReply(ctx, account, {
    tier: state.tier,
    membership: {
      program: state.id,
      tier: state.tier,
      enrolledAt: state.enrolledAt,
      qualification: program === undefined ? 0 : qualification(account, program, ctx.now),
      reviewAt: state.reviewAt,
      member: state.member,
      purchases: state.purchases,
    },
  })
}
