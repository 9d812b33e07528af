/**
 * Program membership on the ledger: enrolment, purchases evaluated by the
 * active ruleset, activity rewards, tiers (upgrade at once, review on a
 * schedule) and birthdays. Like the rest of the domain it is pure: the shard
 * supplies the compiled ruleset, the clock and a view of its quota leases.
 *
 * Every change appends journal entries, so the journal explains every point:
 * a purchase is one `earn` entry carrying its breakdown (even when it earns
 * nothing), a tier change is a `tier` entry with the tier before and after and
 * the reason, and an upgrade bonus is an `earn` entry of its own (clawed back
 * by a `reverse` entry of its own, reason `tier_bonus:<tier>`, when a return
 * of the purchase that paid it takes qualification back below the tier).
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
  netOf,
  type Evaluation,
  type MemberContext,
} from '../rules/evaluate.ts'
import type { BreakdownLine } from '../rules/types.ts'
import { creditRoom, ledgerBalance } from './account.ts'
import { append, creditPoints, creditRefusal, mulDivFloor, okReply, type Clawed, type LedgerContext } from './ledger.ts'
import type {
  AccountState,
  ActivityCommand,
  EnrollCommand,
  LedgerCommand,
  ProfileCommand,
  ProgramState,
  PurchaseCommand,
  Reply,
  TierBonusPaid,
  TxnLine,
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
  const terms = { kind, ...programLotTerms(program, ctx.now), ...fields }
  account.earned += points
  return creditPoints(ctx, account, points, terms, command)
}

/**
 * The terms of the lot a program credits at `now`: spendable after the
 * program's pending (locked) days, and expiring as its policy says, counted
 * from the earn. Points whose expiry would come before their locked days end
 * would never be spendable (pending until after they had expired), so their
 * expiry is counted from when they become spendable instead: 14 locked days
 * with points expiring at the end of the month give points earned on the
 * 25th until the end of the next month.
 */
export function programLotTerms(program: CompiledProgram, now: number): { activeFrom: number; expiresAt: number } {
  const activeFrom = now + program.pendingMs
  const expiresAt = expiryOf(program.doc.expiry, now, program.zone)
  if (expiresAt > activeFrom) return { activeFrom, expiresAt }
  return { activeFrom, expiresAt: expiryOf(program.doc.expiry, activeFrom, program.zone) }
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
  const lines = [...result.lines]
  const bonus = upgrade(ctx, account, program, 'purchase', lines, command)
  const tierBonuses = lines.slice(result.lines.length).map((line): TierBonusPaid => ({
    tier: line.id,
    points: line.points,
    threshold: program.tiers[program.tierIndex.get(line.id)!]!.threshold,
  }))
  ctx.ws.putTxn(account.id, {
    ref,
    entry: entry.seq,
    points: result.points,
    amount: result.paid,
    ...programLotTerms(program, ctx.now),
    reversedPoints: 0,
    returnedAmount: 0,
    day,
    qualifyingPoints: result.qualifyingPoints,
    spend: result.spend,
    ...(tierBonuses.length > 0 ? { tierBonuses } : {}),
    lines: command.basket.lines.map((line, i): TxnLine => [line.sku, line.quantity, Math.max(0, result.byLine[i]!), netOf(line), result.amounts[i]!, 0]),
  })
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

/**
 * After a return of a purchase (`before` its counters were updated, `after`):
 * the returned share of its qualifying points and spend no longer qualifies.
 * The share is cumulative, as for a reversal's points: the total taken out is
 * floor(value × returned ÷ whole) over the purchase's own qualifying points
 * and spend, less what earlier returns took (kept on `after`), so a purchase
 * returned whole, at once or item by item, leaves none of its qualification.
 * The part returned is the larger of the money returned (of the purchase's
 * amount) and the points reversed (of its points); a purchase that earned no
 * points still returns its spend by amount. Returned by lines, it is those
 * lines' own points and eligible spend.
 */
export function onReversal(account: AccountState, before: TxnRecord, after: TxnRecord) {
  const state = account.program
  if (state === undefined || after.day === undefined) return
  const qualifying = after.qualifyingPoints ?? after.points
  const spend = after.spend ?? 0
  // Records written before these were kept: what their returns took is taken to be the share by then.
  const legacy = (value: number) => (before.points === 0 ? 0 : returnedShare(value, before))
  const qualifyingBefore = before.qualifyingReturned ?? legacy(qualifying)
  const spendBefore = before.spendReturned ?? legacy(spend)
  const lines = after.lines?.some((line) => line[5] > 0) === true ? after.lines : undefined
  if (lines === undefined) {
    after.qualifyingReturned = Math.max(qualifyingBefore, returnedShare(qualifying, after))
    after.spendReturned = Math.max(spendBefore, returnedShare(spend, after))
  } else {
    // Returned by lines: the lines' own points and eligible spend leave, so
    // returning an excluded line (a gift card) takes no qualification.
    const whole = lines.every((line) => line[5] === line[1])
    const share = (part: (line: TxnLine) => number, value: number) =>
      whole ? value : Math.min(value, lines.reduce((total, line) => total + mulDivFloor(part(line), line[5], line[1]), 0))
    after.qualifyingReturned = Math.max(qualifyingBefore, share((line) => line[2], qualifying))
    after.spendReturned = Math.max(spendBefore, share((line) => line[4], spend))
  }
  const bucket = state.qualifying.find(([day]) => day === after.day)
  if (bucket === undefined) return
  bucket[1] = Math.max(0, bucket[1] - (after.qualifyingReturned - qualifyingBefore))
  bucket[2] = Math.max(0, bucket[2] - (after.spendReturned - spendBefore))
}

/** floor(value × the part of a purchase returned so far); all of it once the purchase is returned whole. */
function returnedShare(value: number, txn: TxnRecord): number {
  if (value === 0) return 0
  const byMoney = txn.amount > 0 ? mulDivFloor(value, txn.returnedAmount, txn.amount) : 0
  const byPoints = txn.points > 0 ? mulDivFloor(value, txn.reversedPoints, txn.points) : 0
  return Math.min(value, Math.max(byMoney, byPoints))
}

/** The member's qualification now, or undefined outside a program of the active ruleset. */
export function qualificationNow(ctx: LedgerContext, account: AccountState): number | undefined {
  const state = account.program
  const program = state === undefined ? undefined : ctx.rules?.programs.get(state.id)
  return program === undefined ? undefined : qualification(account, program, ctx.now)
}

/**
 * After a return of `txn` (its counters updated): a tier bonus is paid for
 * reaching the tier, so when the return took qualification down (from
 * `qualified`) to below the threshold of a tier whose bonus this purchase
 * paid, that bonus is clawed back, highest tier first, each once, by a
 * `reverse` entry of its own (reason `tier_bonus:<tier>`) under the return's
 * shortfall policy (`claw`). The tier itself stays until the review.
 */
export function clawTierBonuses(
  ctx: LedgerContext,
  account: AccountState,
  txn: TxnRecord,
  qualified: number | undefined,
  claw: (points: number) => Clawed,
  command: LedgerCommand,
): Clawed & { lines: BreakdownLine[] } {
  const result = { clawed: 0, shortfall: 0, lapsed: 0, lines: [] as BreakdownLine[] }
  const paid = txn.tierBonuses
  const state = account.program
  const program = state === undefined ? undefined : ctx.rules?.programs.get(state.id)
  if (paid === undefined || qualified === undefined || program === undefined) return result
  const bonuses = paid.map((bonus) => ({ ...bonus }))
  // Once, after the return and before any claw: on a balance basis a claw
  // lowers qualification itself, and must not take a lower tier's bonus too.
  const now = qualification(account, program, ctx.now)
  if (now >= qualified) return result
  for (const bonus of [...bonuses].sort((a, b) => b.threshold - a.threshold)) {
    if (bonus.clawedBack === true || now >= bonus.threshold) continue
    bonus.clawedBack = true
    const taken = claw(bonus.points)
    const tier = program.tiers[program.tierIndex.get(bonus.tier) ?? -1]
    const line: BreakdownLine = { source: 'tier_bonus', id: bonus.tier, points: -bonus.points }
    if (tier !== undefined) line.name = tier.name
    append(
      ctx,
      account,
      {
        kind: 'reverse',
        points: 0 - taken.clawed,
        held: 0,
        ref: txn.ref,
        reason: `tier_bonus:${bonus.tier}`,
        breakdown: [line],
        ...(taken.lapsed > 0 ? { lapsed: taken.lapsed } : {}),
      },
      command,
    )
    result.clawed += taken.clawed
    result.shortfall += taken.shortfall
    result.lapsed += taken.lapsed
    result.lines.push(line)
  }
  txn.tierBonuses = bonuses
  return result
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
