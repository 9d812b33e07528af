/**
 * Evaluates a basket against a compiled program: base rules, the tier
 * multiplier, campaigns by priority with their stacking, caps and limits,
 * and first-purchase activities. Pure and synchronous: the caller supplies the
 * member's tier, facts and usage counters, and gets back the points, a
 * breakdown line per rule that gave points, and the counter changes to keep.
 *
 * Arithmetic is integer throughout: floor(spend / per) × points for spend
 * rules, floor(base × (multiplier − 1000) / 1000) for multipliers, which add
 * to the base rather than compounding.
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
import type {
  CompiledActivity,
  CompiledCampaign,
  CompiledConditions,
  CompiledProgram,
  CompiledRule,
  LineFilter,
  LineIndex,
} from './compile.ts'
import type { Basket, BasketLine, BreakdownLine, MemberFacts } from './types.ts'

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
  promoCodes: Set<string>
  local: LocalTime | undefined
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
    promoCodes: new Set(basket.promoCodes ?? []),
    local: undefined,
  }
  const paid = basket.lines.reduce((total, line) => total + netOf(line), 0)
  const result = emptyEvaluation(spend, paid)
  const base = applyRules(program.rules, facts, 0, 'rule', '', result)
  applyTier(program, member.tier, base, result)
  applyCampaigns(program, facts, base, quotas, result)
  result.qualifyingPoints = result.points
  if (member.firstPurchase) applyActivities(program, 'first_purchase', facts, result)
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
    promoCodes: new Set(),
    local: undefined,
  }
  const result = emptyEvaluation(0, 0)
  applyActivities(program, event, facts, result)
  return result
}

function emptyEvaluation(spend: number, paid: number): Evaluation {
  return { points: 0, qualifyingPoints: 0, lines: [], spend, paid, usage: [], campaigns: [] }
}

/** Each line's earning base, or 0 when the program excludes it. */
function lineAmounts(program: CompiledProgram, basket: Basket): number[] {
  const gross = program.doc.earnBase === 'gross'
  return basket.lines.map((line) => {
    if (program.excluded !== undefined && lineIn(program.excluded, line)) return 0
    return gross ? line.quantity * line.unitPrice : netOf(line)
  })
}

function netOf(line: BasketLine): number {
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
  const line: BreakdownLine = { source, id: prefix + rule.id, points }
  if (rule.name !== undefined) line.name = rule.name
  if (cut) line.cut = 'cap'
  result.lines.push(line)
  result.points += points
  return points
}

function rawPoints(rule: CompiledRule, facts: Facts, base: number): number {
  if (rule.kind === 'multiplier') return Math.floor((base * (rule.multiplier - 1000)) / 1000)
  if (facts.basket === undefined) return rule.kind === 'fixed' ? rule.points : 0
  const index = facts.program.lines
  const filtered = rule.items !== undefined
  switch (rule.kind) {
    case 'perSpend': {
      const spend = filtered ? index.spend[rule.slot]! : facts.spend
      return Math.floor(spend / rule.per) * rule.points
    }
    case 'perItem':
      return (filtered ? index.units[rule.slot]! : facts.units) * rule.points
    case 'fixed':
      return !filtered || index.units[rule.slot]! > 0 ? rule.points : 0
  }
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

function applyTier(program: CompiledProgram, tierId: string, base: number, result: Evaluation) {
  const index = program.tierIndex.get(tierId)
  const tier = index === undefined ? undefined : program.tiers[index]
  const multiplier = tier?.multiplier ?? 1000
  if (tier === undefined || multiplier === 1000 || base <= 0) return
  const points = Math.floor((base * (multiplier - 1000)) / 1000)
  if (points <= 0) return
  result.lines.push({ source: 'tier', id: tier.id, name: tier.name, points })
  result.points += points
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
  if (c.daysOfWeek !== undefined && !c.daysOfWeek.has(local.weekday)) return false
  if (c.hours !== undefined && !inHours(c.hours, local.minuteOfDay)) return false
  if (c.birthdayMonth && !isBirthdayMonthOf(member.facts.birthDate, local)) return false
  return true
}

function inHours(hours: { from: number; to: number }, minute: number): boolean {
  return hours.from < hours.to
    ? minute >= hours.from && minute < hours.to
    : minute >= hours.from || minute < hours.to
}

function isBirthdayMonthOf(birthDate: string | undefined, local: LocalTime): boolean {
  return birthDate !== undefined && Number(birthDate.slice(5, 7)) === local.month
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
