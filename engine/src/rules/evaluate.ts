/**
 * Evaluates a basket against a compiled program: base rules, the tier
 * multiplier, campaigns by priority with their stacking, caps and limits,
 * and first-purchase activities. Pure and synchronous: the caller supplies the
 * member's tier, facts and usage counters, and gets back the points, a
 * breakdown line per rule that gave points, and the counter changes to keep.
 *
 * Arithmetic is integer throughout: floor(spend / per) × points for spend
 * rules, floor(base × (multiplier − 1000) / 1000) for multipliers, which add
 * to the base rather than compounding. A multiplier with `items` takes as its
 * base the points earned on the matching lines only (`baseOnLines`).
 *
 * Every figure is exact while it stays within Number.MAX_SAFE_INTEGER: money
 * sums and products of exact integers are exact or land beyond that bound,
 * and divisions of products go through `mulDivFloor`. `earnRefusal` says when
 * a basket is too large for that, so purchase and preview refuse it alike.
 *
 * @module
 */
import {
  localDayIndex,
  localMonthIndex,
  localTime,
  localWeekIndex,
  type LocalTime,
} from './calendar.ts'
import {
  promoCodeKey,
  type CompiledActivity,
  type CompiledCampaign,
  type CompiledConditions,
  type CompiledProgram,
  type CompiledRule,
  type LineFilter,
  type LineIndex,
} from './compile.ts'
import type { Basket, BasketLine, BreakdownLine, MemberFacts } from './types.ts'
import { pointsPerCommandMax } from '../domain/validate.ts'

/** Per-member counters: key → [period index, amount used in that period]. */
export type Usage = Record<string, [period: number, used: number]>

/** Add `amount` to counter `key` for `period` (a new period starts from zero). */
export type UsageChange = [key: string, period: number, amount: number]

export interface MemberContext {
  tier: string
  facts: MemberFacts
  usage: Usage
  /** No purchase has been recorded for the member yet. */
  firstPurchase: boolean
}

export interface Evaluation {
  points: number
  /** Points that count toward tier qualification: all but activity rewards. */
  qualifyingPoints: number
  lines: BreakdownLine[]
  /** Eligible spend: the earning base of lines that are not excluded. */
  spend: number
  /** What the basket cost after discounts (the basis of proportional returns). */
  paid: number
  usage: UsageChange[]
  /** Campaigns that applied, each consuming one unit of quota and of its per-member limit. */
  campaigns: CompiledCampaign[]
  /**
   * The points attributed to each basket line (`attribute`), for returns that
   * name lines. They add up to at most `points`; the rest (activities, and
   * what nothing eligible could carry) belongs to the purchase as a whole.
   */
  byLine: number[]
  /** Each basket line's earning base (its eligible spend), 0 when the program excludes it. */
  amounts: number[]
}

/** The facts conditions look at, with the local time computed at most once. */
interface Facts {
  program: CompiledProgram
  basket: Basket | undefined
  member: MemberContext
  now: number
  /** Eligible spend and units of the whole basket. */
  spend: number
  units: number
  /** Each basket line's earning base, 0 when the program excludes it. */
  amounts: number[]
  /** The program's own spend and item rules that gave points: the base a multiplier with `items` splits by line. */
  given: Given[]
  /** The base rules' points attributed to each line: what a tier or multiplier scales, line by line. */
  baseByLine: number[]
  /** Scratch for `attribute`: a rule's weight of each line, and the remainders of its split. */
  weights: number[]
  remainders: number[]
  /** The basket's codes by `promoCodeKey`: codes match whatever their case. */
  promoCodes: Set<string>
  local: LocalTime | undefined
}

/** A base rule that gave points, and how many after its caps. */
interface Given {
  rule: CompiledRule
  points: number
}

export interface QuotaView {
  /** Units of a campaign's global quota this shard may still grant now. */
  left(quotaKey: string): number
}

/**
 * What a basket earns.
 *
 * @example
 *   const result = evaluatePurchase(program, basket, member, Date.now(), quotas)
 *   result.points // 230
 */
export function evaluatePurchase(
  program: CompiledProgram,
  basket: Basket,
  member: MemberContext,
  now: number,
  quotas: QuotaView,
): Evaluation {
  const amounts = lineAmounts(program, basket)
  const spend = sum(amounts)
  const facts: Facts = {
    program,
    basket,
    member,
    now,
    spend,
    units: feedLines(program, basket, amounts),
    amounts,
    given: [],
    baseByLine: new Array<number>(basket.lines.length).fill(0),
    weights: scratchWeights,
    remainders: scratchRemainders,
    promoCodes: new Set(basket.promoCodes?.map(promoCodeKey)),
    local: undefined,
  }
  const paid = basket.lines.reduce((total, line) => total + netOf(line), 0)
  const result = emptyEvaluation(spend, paid)
  result.amounts = amounts
  const base = applyRules(program.rules, facts, 0, 'rule', '', result)
  applyTier(program, member.tier, base, facts, result)
  applyCampaigns(program, facts, base, quotas, result)
  result.qualifyingPoints = result.points
  if (member.firstPurchase) applyActivities(program, 'first_purchase', facts, result)
  sized(result.byLine, basket.lines.length)
  return result
}

/** What an event (registration, birthday, a custom one) earns the member now. */
export function evaluateActivity(
  program: CompiledProgram,
  event: string,
  member: MemberContext,
  now: number,
): Evaluation {
  const facts: Facts = {
    program,
    basket: undefined,
    member,
    now,
    spend: 0,
    units: 0,
    amounts: [],
    given: [],
    baseByLine: [],
    weights: scratchWeights,
    remainders: scratchRemainders,
    promoCodes: new Set(),
    local: undefined,
  }
  const result = emptyEvaluation(0, 0)
  applyActivities(program, event, facts, result)
  return result
}

function emptyEvaluation(spend: number, paid: number): Evaluation {
  return { points: 0, qualifyingPoints: 0, lines: [], spend, paid, usage: [], campaigns: [], byLine: [], amounts: [] }
}

/**
 * Scratch for `attribute`, shared by every evaluation on this thread: an
 * evaluation runs to the end without yielding, so none overlaps another.
 */
const scratchWeights: number[] = []
const scratchRemainders: number[] = []

/** `byLine` with a 0 for every line not yet attributed anything (it starts empty). */
function sized(byLine: number[], lines: number): number[] {
  while (byLine.length < lines) byLine.push(0)
  return byLine
}

/** Each line's earning base, or 0 when the program excludes it. */
function lineAmounts(program: CompiledProgram, basket: Basket): number[] {
  const gross = program.doc.earnBase === 'gross'
  return basket.lines.map((line) => {
    if (program.excluded !== undefined && lineIn(program.excluded, line)) return 0
    return gross ? line.quantity * line.unitPrice : netOf(line)
  })
}

/** What a line paid: its price less its discount. */
export function netOf(line: BasketLine): number {
  return Math.max(0, line.quantity * line.unitPrice - (line.discount ?? 0))
}

/**
 * Sums each item-filtered rule's matching spend and units into the program's
 * scratch arrays, visiting only the rules a line can match; returns the
 * basket's eligible units.
 */
function feedLines(program: CompiledProgram, basket: Basket, amounts: number[]): number {
  const index = program.lines
  for (const slot of index.touched) {
    index.spend[slot] = 0
    index.units[slot] = 0
    index.lastLine[slot] = -1
  }
  index.touched.length = 0
  let units = 0
  for (let i = 0; i < basket.lines.length; i++) {
    const line = basket.lines[i]!
    const amount = amounts[i]!
    if (amount > 0) units += line.quantity
    feed(index, index.everyLine, line, i, amount)
    const bySku = index.bySku.get(line.sku)
    if (bySku !== undefined) feed(index, bySku, line, i, amount)
    const byCategory = line.category === undefined ? undefined : index.byCategory.get(line.category)
    if (byCategory !== undefined) feed(index, byCategory, line, i, amount)
  }
  return units
}

function feed(index: LineIndex, rules: CompiledRule[], line: BasketLine, i: number, amount: number) {
  for (const rule of rules) {
    const slot = rule.slot
    if (index.lastLine[slot] === i) continue
    index.lastLine[slot] = i
    index.touched.push(slot)
    if (!lineIn(rule.items!, line)) continue
    index.spend[slot]! += amount
    if (amount > 0) index.units[slot]! += line.quantity
  }
}

/** Runs rules; returns the points of the non-multiplier ones (the base for multipliers). */
function applyRules(
  rules: CompiledRule[],
  facts: Facts,
  base: number,
  source: 'rule' | 'campaign',
  prefix: string,
  result: Evaluation,
): number {
  let added = 0
  for (const rule of rules) {
    if (rule.kind === 'multiplier') continue
    added += applyRule(rule, facts, base, source, prefix, result)
  }
  const ownBase = source === 'rule' ? added : base
  for (const rule of rules) {
    if (rule.kind !== 'multiplier') continue
    added += applyRule(rule, facts, ownBase, source, prefix, result)
  }
  return source === 'rule' ? ownBase : added
}

function applyRule(
  rule: CompiledRule,
  facts: Facts,
  base: number,
  source: 'rule' | 'campaign',
  prefix: string,
  result: Evaluation,
): number {
  if (rule.when !== undefined && !holds(rule.when, facts)) return 0
  const raw = rawPoints(rule, facts, base)
  if (raw <= 0) return 0
  const { points, cut } = capped(rule, raw, facts, result)
  if (source === 'rule' && rule.kind !== 'multiplier' && points > 0) facts.given.push({ rule, points })
  if (facts.basket !== undefined && points > 0) {
    const total = lineWeights(rule, facts)
    // A multiplier over the whole base multiplies what no line carries too: that part stays with the purchase.
    const onLines = rule.kind === 'multiplier' && rule.items === undefined ? attributedShare(points, facts, base) : points
    attribute(onLines, facts.weights, total, result.byLine, facts)
    if (source === 'rule' && rule.kind !== 'multiplier') attribute(points, facts.weights, total, facts.baseByLine, facts)
  }
  const line: BreakdownLine = { source, id: prefix + rule.id, points }
  if (rule.name !== undefined) line.name = rule.name
  if (cut) line.cut = 'cap'
  result.lines.push(line)
  result.points += points
  return points
}

function rawPoints(rule: CompiledRule, facts: Facts, base: number): number {
  if (rule.kind === 'multiplier') {
    // Below ×1 is refused by the validator (a multiplier rule only adds); a
    // version stored before that was enforced keeps getting nothing from it.
    if (rule.multiplier <= 1000) return 0
    const on = rule.items === undefined || facts.basket === undefined ? base : baseOnLines(rule.items, facts)
    return mulDivFloor(on, rule.multiplier - 1000, 1000)
  }
  if (facts.basket === undefined) return rule.kind === 'fixed' ? rule.points : 0
  switch (rule.kind) {
    case 'perSpend':
    case 'perItem':
      return countOf(rule, facts) * rule.points
    case 'fixed':
      return rule.items === undefined || facts.program.lines.units[rule.slot]! > 0 ? rule.points : 0
  }
}

/** What a spend or item rule counts in the basket: full steps of `per` in its spend, or its units. */
function countOf(rule: CompiledRule, facts: Facts): number {
  const index = facts.program.lines
  const filtered = rule.items !== undefined
  if (rule.kind === 'perSpend') return Math.floor((filtered ? index.spend[rule.slot]! : facts.spend) / rule.per)
  return filtered ? index.units[rule.slot]! : facts.units
}

/**
 * The base points earned on the lines `items` matches, for a multiplier with
 * `items` ("double points on coffee"). Each base rule that gave points counts
 * again over just those of its lines, rounded as it rounds on its own: a
 * spend rule floor(matching spend / per) × points (so two coffees of $0.60
 * at a point per $1 count 1, as an item-filtered spend rule would give), an
 * item rule matching units × points. A rule a cap cut counts in proportion,
 * floor(points given × matching count / whole count), so the cut falls on
 * every line alike. Fixed bonuses belong to the purchase, not to a line: only
 * a multiplier without `items` multiplies them. The result never exceeds the
 * base, and is 0 when no eligible line matches.
 */
function baseOnLines(items: LineFilter, facts: Facts): number {
  const lines = facts.basket!.lines
  const matching: number[] = []
  for (let i = 0; i < lines.length; i++) {
    if (facts.amounts[i]! > 0 && lineIn(items, lines[i]!)) matching.push(i)
  }
  if (matching.length === 0) return 0
  let total = 0
  for (const { rule, points } of facts.given) {
    if (rule.kind !== 'perSpend' && rule.kind !== 'perItem') continue
    let spend = 0
    let units = 0
    for (const i of matching) {
      const line = lines[i]!
      if (rule.items !== undefined && !lineIn(rule.items, line)) continue
      spend += facts.amounts[i]!
      units += line.quantity
    }
    const count = rule.kind === 'perSpend' ? Math.floor(spend / rule.per) : units
    const whole = countOf(rule, facts)
    total += points === whole * rule.points ? count * rule.points : mulDivFloor(points, count, whole)
  }
  return total
}

/**
 * What each basket line weighs in a rule's points, written to
 * `facts.weights`: its earning amount for a spend rule or a fixed bonus
 * without `items` (a bonus for the basket goes back with the money that
 * earned it: a "500 on a $500 basket" bonus does not stay with a $1 line
 * kept when the rest is returned), its units for an item rule or a fixed
 * bonus with `items`, its base points for a multiplier, each only on the
 * lines the rule counts (eligible, and matching `items`). Returns the total
 * weight.
 */
function lineWeights(rule: CompiledRule, facts: Facts): number {
  const bySpend = rule.kind === 'perSpend' || (rule.kind === 'fixed' && rule.items === undefined)
  const lines = facts.basket!.lines
  const weights = facts.weights
  let total = 0
  for (let i = 0; i < lines.length; i++) {
    let weight = 0
    if (facts.amounts[i]! > 0 && (rule.items === undefined || lineIn(rule.items, lines[i]!))) {
      weight = bySpend ? facts.amounts[i]! : rule.kind === 'multiplier' ? facts.baseByLine[i]! : lines[i]!.quantity
    }
    weights[i] = weight
    total += weight
  }
  if (total === 0 && rule.kind === 'multiplier') {
    // Its matching lines carry none of the base (a cap's share rounded it away): weigh them by money.
    for (let i = 0; i < lines.length; i++) {
      const weight = facts.amounts[i]! > 0 && (rule.items === undefined || lineIn(rule.items, lines[i]!)) ? facts.amounts[i]! : 0
      weights[i] = weight
      total += weight
    }
  }
  return total
}

/**
 * Adds `points` to `byLine` in proportion to `weights`: floor(points × weight
 * ÷ total) each, and what the floors leave (fewer points than lines) one each
 * to the lines with the largest remainders, so the parts add up exactly. Negative points (a tier
 * below ×1) are split as their magnitude. Without weights, or with none above
 * zero, nothing is attributed: the points belong to the purchase. Nor when
 * the points or the total weight are past Number.MAX_SAFE_INTEGER: they are
 * not exact, so the parts would not add up to them (and `earnRefusal`
 * refuses such a basket anyway).
 */
function attribute(points: number, weights: readonly number[], total: number, byLine: number[], facts: Facts) {
  if (total <= 0 || points === 0) return
  if (!Number.isSafeInteger(points) || !Number.isSafeInteger(total)) return
  const lines = facts.basket!.lines.length // the scratch `weights` may be longer
  sized(byLine, lines)
  const sign = points < 0 ? -1 : 1
  const magnitude = Math.abs(points)
  const remainders = facts.remainders
  let left = magnitude
  for (let i = 0; i < lines; i++) {
    const weight = weights[i]!
    remainders[i] = -1
    if (weight <= 0) continue
    const product = magnitude * weight
    const safe = Number.isSafeInteger(product)
    const part = safe ? Math.floor(product / total) : mulDivFloor(magnitude, weight, total)
    byLine[i]! += sign * part
    left -= part
    const remainder = safe ? product - part * total : mulDivRemainder(magnitude, weight, total)
    if (remainder > 0) remainders[i] = remainder
  }
  // Largest remainder first (ties to the earlier line): each line gets its floor or one more.
  // `left` is below the number of lines with a remainder; a few are picked by scanning.
  if (left > 16) {
    const order = remainders.slice(0, lines).map((remainder, i) => [remainder, i] as const).filter(([remainder]) => remainder > 0)
    order.sort((a, b) => b[0] - a[0] || a[1] - b[1])
    for (let k = 0; k < left; k++) byLine[order[k]![1]]! += sign
    return
  }
  for (; left > 0; left--) {
    let best = -1
    for (let i = 0; i < lines; i++) if (remainders[i]! > 0 && (best < 0 || remainders[i]! > remainders[best]!)) best = i
    byLine[best]! += sign
    remainders[best] = -1
  }
}

/** (a × b) mod c for non-negative integers, exact even when a × b is past Number.MAX_SAFE_INTEGER. */
function mulDivRemainder(a: number, b: number, c: number): number {
  const product = a * b
  if (Number.isSafeInteger(product)) return product % c
  return Number((BigInt(a) * BigInt(b)) % BigInt(c))
}

/** Applies per-transaction and per-member caps; records the member counters used. */
function capped(rule: CompiledRule, raw: number, facts: Facts, result: Evaluation) {
  const caps = rule.caps
  if (caps === undefined) return { points: raw, cut: false }
  let points = raw
  if (caps.perTransaction !== undefined) points = Math.min(points, caps.perTransaction)
  const periods: [string, number | undefined, () => number][] = [
    ['d', caps.perMemberPerDay, () => localDayIndex(facts.now, facts.program.zone)],
    ['w', caps.perMemberPerWeek, () => localWeekIndex(facts.now, facts.program.zone)],
    ['m', caps.perMemberPerMonth, () => localMonthIndex(facts.now, facts.program.zone)],
  ]
  const counted: [string, number][] = []
  for (const [scope, cap, periodOf] of periods) {
    if (cap === undefined) continue
    const key = `${rule.usageKey}:${scope}`
    const period = periodOf()
    points = Math.min(points, Math.max(0, cap - used(facts.member.usage, key, period)))
    counted.push([key, period])
  }
  for (const [key, period] of counted) result.usage.push([key, period, points])
  return { points, cut: points < raw }
}

export function used(usage: Usage, key: string, period: number): number {
  const counter = usage[key]
  return counter !== undefined && counter[0] === period ? counter[1] : 0
}

function applyTier(program: CompiledProgram, tierId: string, base: number, facts: Facts, result: Evaluation) {
  const index = program.tierIndex.get(tierId)
  const tier = index === undefined ? undefined : program.tiers[index]
  const multiplier = tier?.multiplier ?? 1000
  if (tier === undefined || multiplier === 1000 || base <= 0) return
  // The member earns floor(base × multiplier / 1000) of the base in all, so a
  // tier below ×1 works as written: a basic tier at 500 earns half, floor(base
  // / 2), and its line is negative (it takes back the other half); at 0 the
  // base rules earn nothing. Campaigns and activities are not scaled by tiers.
  const points = mulDivFloor(base, multiplier, 1000) - base
  if (points === 0) return
  result.lines.push({ source: 'tier', id: tier.id, name: tier.name, points })
  result.points += points
  attribute(attributedShare(points, facts, base), facts.baseByLine, sum(facts.baseByLine), result.byLine, facts)
}

/**
 * The part of `points`, given on the whole `base`, that falls on the base's
 * lines rather than on what no line carries: points × attributed base ÷ base,
 * rounded toward zero.
 */
function attributedShare(points: number, facts: Facts, base: number): number {
  const attributed = sum(facts.baseByLine)
  if (base <= 0 || attributed >= base) return points
  const share = mulDivFloor(Math.abs(points), attributed, base)
  return points < 0 ? -share : share
}

/**
 * Campaigns by priority. An exclusive campaign applies only if nothing else
 * has, and then nothing after it does; combinable campaigns stack.
 */
function applyCampaigns(
  program: CompiledProgram,
  facts: Facts,
  base: number,
  quotas: QuotaView,
  result: Evaluation,
) {
  let applied = 0
  for (const campaign of program.campaigns) {
    if (facts.now < campaign.from || facts.now >= campaign.to) continue
    if (applied > 0 && campaign.exclusive) continue
    if (campaign.when !== undefined && !holds(campaign.when, facts)) continue
    const limitKey = campaignUsageKey(campaign)
    const limited =
      campaign.perMemberLimit !== undefined &&
      used(facts.member.usage, limitKey, 0) >= campaign.perMemberLimit
    // The campaign's rules run on a scratch result: it applies whole or not at all.
    const trial = emptyEvaluation(0, 0)
    const points = applyRules(campaign.rules, facts, base, 'campaign', campaign.prefix, trial)
    if (points <= 0) continue
    const cut = limited ? 'limit' : campaign.quota !== undefined && quotas.left(campaign.quotaKey) <= 0 ? 'quota' : undefined
    if (cut !== undefined) {
      result.lines.push({ source: 'campaign', id: campaign.id, name: campaign.name, points: 0, cut })
      continue
    }
    result.lines.push(...trial.lines)
    result.usage.push(...trial.usage)
    if (trial.byLine.length > 0) {
      sized(result.byLine, trial.byLine.length)
      for (let i = 0; i < trial.byLine.length; i++) result.byLine[i]! += trial.byLine[i]!
    }
    if (campaign.perMemberLimit !== undefined) result.usage.push([limitKey, 0, 1])
    result.points += points
    result.campaigns.push(campaign)
    applied++
    if (campaign.exclusive) return
  }
}

export function campaignUsageKey(campaign: CompiledCampaign): string {
  return `c:${campaign.id}:n`
}

function applyActivities(program: CompiledProgram, event: string, facts: Facts, result: Evaluation) {
  for (const activity of program.activities.get(event) ?? []) {
    if (activity.when !== undefined && !holds(activity.when, facts)) continue
    const counter = activityCounter(activity, facts)
    if (counter !== undefined && used(facts.member.usage, counter[0], counter[1]) >= activity.limit!.count) {
      result.lines.push({ source: 'activity', id: activity.id, points: 0, cut: 'limit' })
      continue
    }
    if (counter !== undefined) result.usage.push([counter[0], counter[1], 1])
    result.lines.push({ source: 'activity', id: activity.id, name: event, points: activity.points })
    result.points += activity.points
  }
}

function activityCounter(activity: CompiledActivity, facts: Facts): [string, number] | undefined {
  const limit = activity.limit
  if (limit === undefined) return undefined
  const zone = facts.program.zone
  const key = `a:${activity.id}:${limit.per}`
  switch (limit.per) {
    case 'ever':
      return [key, 0]
    case 'day':
      return [key, localDayIndex(facts.now, zone)]
    case 'week':
      return [key, localWeekIndex(facts.now, zone)]
    case 'month':
      return [key, localMonthIndex(facts.now, zone)]
    case 'year':
      return [key, localTime(facts.now, zone).year]
  }
}

function lineIn(filter: LineFilter, line: BasketLine): boolean {
  const category = line.category
  if (filter.excludeSkus?.has(line.sku)) return false
  if (category !== undefined && filter.excludeCategories?.has(category)) return false
  if (filter.skus === undefined && filter.categories === undefined) return true
  if (filter.skus?.has(line.sku)) return true
  return category !== undefined && filter.categories?.has(category) === true
}

function holds(c: CompiledConditions, facts: Facts): boolean {
  const basket = facts.basket
  const member = facts.member
  if (c.from !== undefined && facts.now < c.from) return false
  if (c.to !== undefined && facts.now >= c.to) return false
  if (c.minSpend !== undefined && facts.spend < c.minSpend) return false
  if (c.channels !== undefined && !(basket?.channel !== undefined && c.channels.has(basket.channel))) return false
  if (c.stores !== undefined && !(basket?.store !== undefined && c.stores.has(basket.store))) return false
  if (c.tenders !== undefined && !(basket?.tender !== undefined && c.tenders.has(basket.tender))) return false
  if (c.promoCode !== undefined && !facts.promoCodes.has(c.promoCode)) return false
  if (c.tiers !== undefined && !c.tiers.has(member.tier)) return false
  if (c.countries !== undefined && !(member.facts.country !== undefined && c.countries.has(member.facts.country))) return false
  if (c.genders !== undefined && !(member.facts.gender !== undefined && c.genders.has(member.facts.gender))) return false
  if (c.segments !== undefined && !c.segments.some((s) => member.facts.segments?.includes(s))) return false
  if (!c.needsLocalTime) return true
  const local = (facts.local ??= localTime(facts.now, facts.program.zone))
  if (c.daysOfWeek !== undefined && !c.daysOfWeek.has(dayOfWindow(c.hours, local))) return false
  if (c.hours !== undefined && !inHours(c.hours, local.minuteOfDay)) return false
  if (c.birthdayMonth && !isBirthdayMonthOf(member.facts.birthDate, local)) return false
  return true
}

/**
 * The ISO weekday `daysOfWeek` is checked against: today's, except in the
 * part after midnight of hours that wrap it, which belongs to the day the
 * window started ("Friday 22:00 to 02:00" runs to 02:00 on Saturday).
 */
function dayOfWindow(hours: { from: number; to: number } | undefined, local: LocalTime): number {
  const afterMidnight = hours !== undefined && hours.from > hours.to && local.minuteOfDay < hours.to
  if (!afterMidnight) return local.weekday
  return local.weekday === 1 ? 7 : local.weekday - 1
}

function inHours(hours: { from: number; to: number }, minute: number): boolean {
  return hours.from < hours.to
    ? minute >= hours.from && minute < hours.to
    : minute >= hours.from || minute < hours.to
}

function isBirthdayMonthOf(birthDate: string | undefined, local: LocalTime): boolean {
  return birthDate !== undefined && Number(birthDate.slice(5, 7)) === local.month
}

/**
 * Why a basket's points cannot be credited, or undefined when they can.
 * Purchase and preview both ask, so they refuse alike. One command carries
 * at most `pointsPerCommandMax` points; a figure is stated only when it is
 * exact, which it is while the basket's money and the points the rules give
 * stay within Number.MAX_SAFE_INTEGER (see the module comment). Past that, a
 * message names the bound instead: a number printed there would be a
 * floating-point approximation (100000000000000128 for 100000000000000130).
 */
export function earnRefusal(basket: Basket, result: Evaluation): string | undefined {
  let money = 0
  for (const line of basket.lines) money += line.quantity * line.unitPrice
  let given = 0
  for (const line of result.lines) if (line.points > 0) given += line.points
  const exact = Number.isSafeInteger(money) && Number.isSafeInteger(given)
  if (result.points > pointsPerCommandMax) {
    return exact
      ? `the basket would earn ${result.points} points, more than ${pointsPerCommandMax}`
      : `the basket would earn more than ${pointsPerCommandMax} points, too many to count exactly`
  }
  if (!Number.isSafeInteger(money)) {
    const bound = Number.MAX_SAFE_INTEGER
    return `the basket's lines add up to more than ${bound} in minor units, too much to count points on exactly`
  }
  if (!exact) {
    const bound = Number.MAX_SAFE_INTEGER
    return `the basket's rules give more than ${bound} points before the tier's share, too many to count exactly`
  }
  return undefined
}

/** floor(a × b ÷ c) for non-negative integers, exact even when a × b is past Number.MAX_SAFE_INTEGER. */
function mulDivFloor(a: number, b: number, c: number): number {
  const product = a * b
  if (Number.isSafeInteger(product)) return Math.floor(product / c)
  return Number((BigInt(a) * BigInt(b)) / BigInt(c))
}

function sum(values: number[]): number {
  let total = 0
  for (const v of values) total += v
  return total
}

/** Applies usage changes to a member's counters (a new period replaces the old one). */
export function applyUsage(usage: Usage, changes: UsageChange[]) {
  for (const [key, period, amount] of changes) {
    const counter = usage[key]
    usage[key] = counter !== undefined && counter[0] === period ? [period, counter[1] + amount] : [period, amount]
  }
}
