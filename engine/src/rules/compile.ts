/**
 * Compiles a validated ruleset into the form the engine evaluates on every
 * purchase: id lists become Sets, ISO times become epoch numbers, `HH:MM`
 * becomes minutes, campaigns are sorted by priority once. Compilation happens
 * once per ruleset version per thread, never per purchase.
 *
 * @module
 */
import { parseClock, rulesetInstant } from './calendar.ts'
import type {
  ActivityDoc,
  CampaignDoc,
  Caps,
  Channel,
  Conditions,
  ItemFilter,
  ProgramDoc,
  RuleDoc,
  RulesetDoc,
  TierDoc,
} from './types.ts'

export interface CompiledRuleset {
  version: number
  programs: Map<string, CompiledProgram>
}

export interface CompiledProgram {
  doc: ProgramDoc
  id: string
  zone: string
  pendingMs: number
  /** Lowest first. */
  tiers: TierDoc[]
  tierIndex: Map<string, number>
  excluded: LineFilter | undefined
  rules: CompiledRule[]
  /** Highest priority first; ties keep document order. */
  campaigns: CompiledCampaign[]
  activities: Map<string, CompiledActivity[]>
  /** Whether some campaign has a global quota (purchases then need quota leases). */
  hasQuotas: boolean
  /** Which item-filtered rules each basket line can feed. */
  lines: LineIndex
}

/**
 * Item-filtered rules by the SKUs and categories they name, so a basket line
 * visits only the rules it can match instead of every rule. Rules without an
 * item filter use the basket's totals and are not indexed.
 */
export interface LineIndex {
  bySku: Map<string, CompiledRule[]>
  byCategory: Map<string, CompiledRule[]>
  /** Rules that take every line except some (an exclusion list only). */
  everyLine: CompiledRule[]
  /** Per-rule scratch sums, indexed by `CompiledRule.slot`, reused by each evaluation. */
  spend: Float64Array
  units: Float64Array
  /** Which line last fed each slot (a line may match a rule by SKU and by category). */
  lastLine: Int32Array
  touched: number[]
}

/** Which lines count; `undefined` filter means every line. */
export interface LineFilter {
  skus: Set<string> | undefined
  categories: Set<string> | undefined
  excludeSkus: Set<string> | undefined
  excludeCategories: Set<string> | undefined
}

export interface CompiledConditions {
  minSpend: number | undefined
  channels: Set<Channel> | undefined
  stores: Set<string> | undefined
  tenders: Set<string> | undefined
  daysOfWeek: Set<number> | undefined
  hours: { from: number; to: number } | undefined
  from: number | undefined
  to: number | undefined
  tiers: Set<string> | undefined
  segments: string[] | undefined
  countries: Set<string> | undefined
  genders: Set<string> | undefined
  /** By `promoCodeKey`. */
  promoCode: string | undefined
  birthdayMonth: boolean
  /** Whether any condition needs the local time (so it is computed at most once). */
  needsLocalTime: boolean
}

export interface CompiledRule {
  id: string
  name: string | undefined
  kind: RuleDoc['kind']
  points: number
  per: number
  multiplier: number
  items: LineFilter | undefined
  when: CompiledConditions | undefined
  caps: Caps | undefined
  /** Counter keys for per-member caps: `r:<rule>` or `c:<campaign, ":" as "/">:<rule>`. */
  usageKey: string
  /** Index into the program's scratch sums. */
  slot: number
}

export interface CompiledCampaign {
  id: string
  name: string
  from: number
  to: number
  priority: number
  exclusive: boolean
  when: CompiledConditions | undefined
  quota: number | undefined
  perMemberLimit: number | undefined
  rules: CompiledRule[]
  /** Key of the global quota, unique across programs: `<program>/<campaign>`. */
  quotaKey: string
  /** Prefix of its rules' ids in a breakdown: `<campaign>/`. */
  prefix: string
}

export interface CompiledActivity {
  id: string
  event: string
  points: number
  when: CompiledConditions | undefined
  limit: ActivityDoc['limit']
}

const builtInOnceEver = new Set([
  'registration',
  'referral_referred',
  'first_purchase',
])

/** Built-in events happen once (a birthday once a year); custom ones as often as sent. */
function defaultLimit(event: string): ActivityDoc['limit'] {
  if (builtInOnceEver.has(event)) return { count: 1, per: 'ever' }
  if (event === 'birthday') return { count: 1, per: 'year' }
  return undefined
}

export function compileRuleset(doc: RulesetDoc, version: number): CompiledRuleset {
  const programs = new Map<string, CompiledProgram>()
  for (const program of doc.programs) programs.set(program.id, compileProgram(program))
  return { version, programs }
}

function compileProgram(doc: ProgramDoc): CompiledProgram {
  // Bare dates in the program's campaigns and conditions are its local days.
  const zone = doc.timeZone ?? 'UTC'
  const campaigns = (doc.campaigns ?? [])
    .map((c, order) => ({ compiled: compileCampaign(doc.id, c, zone), order }))
    .sort((a, b) => b.compiled.priority - a.compiled.priority || a.order - b.order)
    .map((c) => c.compiled)
  const activities = new Map<string, CompiledActivity[]>()
  for (const activity of doc.activities ?? []) {
    const list = activities.get(activity.event) ?? []
    list.push(compileActivity(activity, zone))
    activities.set(activity.event, list)
  }
  const rules = doc.rules.map((r) => compileRule(r, `r:${r.id}`, zone))
  return {
    doc,
    id: doc.id,
    zone,
    pendingMs: (doc.pendingDays ?? 0) * 86_400_000,
    tiers: doc.tiers,
    tierIndex: new Map(doc.tiers.map((t, i) => [t.id, i])),
    excluded: doc.excluded === undefined ? undefined : compileFilter(doc.excluded),
    rules,
    campaigns,
    activities,
    hasQuotas: campaigns.some((c) => c.quota !== undefined),
    lines: indexLines([...rules, ...campaigns.flatMap((c) => c.rules)]),
  }
}

function indexLines(rules: CompiledRule[]): LineIndex {
  const bySku = new Map<string, CompiledRule[]>()
  const byCategory = new Map<string, CompiledRule[]>()
  const everyLine: CompiledRule[] = []
  const add = (map: Map<string, CompiledRule[]>, key: string, rule: CompiledRule) => {
    const list = map.get(key)
    if (list === undefined) map.set(key, [rule])
    else list.push(rule)
  }
  rules.forEach((rule, slot) => {
    rule.slot = slot
    const items = rule.items
    if (items === undefined) return
    if (items.skus === undefined && items.categories === undefined) everyLine.push(rule)
    for (const sku of items.skus ?? []) add(bySku, sku, rule)
    for (const category of items.categories ?? []) add(byCategory, category, rule)
  })
  return {
    bySku,
    byCategory,
    everyLine,
    spend: new Float64Array(rules.length),
    units: new Float64Array(rules.length),
    lastLine: new Int32Array(rules.length).fill(-1),
    touched: [],
  }
}

function compileCampaign(program: string, doc: CampaignDoc, zone: string): CompiledCampaign {
  return {
    id: doc.id,
    name: doc.name,
    from: rulesetInstant(doc.from, zone),
    to: rulesetInstant(doc.to, zone),
    priority: doc.priority,
    exclusive: doc.stacking === 'exclusive',
    when: compileConditions(doc.when, zone),
    quota: doc.quota,
    perMemberLimit: doc.perMemberLimit,
    // Ids may contain ":", so the campaign's are written as "/" (which no id
    // contains): campaign "a" rule "b:c" and campaign "a:b" rule "c" would
    // otherwise share one cap counter. Ids without ":" keep their keys.
    rules: doc.rules.map((r) => compileRule(r, `c:${doc.id.replaceAll(':', '/')}:${r.id}`, zone)),
    quotaKey: `${program}/${doc.id}`,
    prefix: `${doc.id}/`,
  }
}

function compileActivity(doc: ActivityDoc, zone: string): CompiledActivity {
  const limit = doc.limit ?? defaultLimit(doc.event)
  return { id: doc.id, event: doc.event, points: doc.points, when: compileConditions(doc.when, zone), limit }
}

function compileRule(doc: RuleDoc, usageKey: string, zone: string): CompiledRule {
  return {
    id: doc.id,
    name: doc.name,
    kind: doc.kind,
    points: 'points' in doc ? doc.points : 0,
    per: doc.kind === 'perSpend' ? doc.per : 1,
    multiplier: doc.kind === 'multiplier' ? doc.multiplier : 1000,
    items: doc.items === undefined ? undefined : compileFilter(doc.items),
    when: compileConditions(doc.when, zone),
    caps: doc.caps,
    usageKey,
    slot: -1,
  }
}

function compileFilter(doc: ItemFilter): LineFilter {
  return {
    skus: setOf(doc.skus),
    categories: setOf(doc.categories),
    excludeSkus: setOf(doc.excludeSkus),
    excludeCategories: setOf(doc.excludeCategories),
  }
}

/** Conditions in the program's `zone`, where their bare dates are read. */
function compileConditions(doc: Conditions | undefined, zone: string): CompiledConditions | undefined {
  if (doc === undefined) return undefined
  const hours = doc.hours === undefined
    ? undefined
    : { from: parseClock(doc.hours.from), to: parseClock(doc.hours.to) }
  const daysOfWeek = setOf(doc.daysOfWeek)
  return {
    minSpend: doc.minSpend,
    channels: setOf(doc.channels),
    stores: setOf(doc.stores),
    tenders: setOf(doc.tenders),
    daysOfWeek,
    hours,
    from: doc.from === undefined ? undefined : rulesetInstant(doc.from, zone),
    to: doc.to === undefined ? undefined : rulesetInstant(doc.to, zone),
    tiers: setOf(doc.tiers),
    segments: doc.segments,
    countries: setOf(doc.countries),
    genders: setOf(doc.genders),
    promoCode: doc.promoCode === undefined ? undefined : promoCodeKey(doc.promoCode),
    birthdayMonth: doc.birthdayMonth === true,
    needsLocalTime: hours !== undefined || daysOfWeek !== undefined || doc.birthdayMonth === true,
  }
}

/**
 * What a promo code is matched by: codes match whatever their case and
 * spaces around them, since cashiers type them (" welcome" at the till is
 * the campaign's "WELCOME"). The validator refuses two codes in a program
 * that differ only in that.
 */
export function promoCodeKey(code: string): string {
  return code.trim().toUpperCase()
}

function setOf<T>(list: T[] | undefined): Set<T> | undefined {
  return list === undefined || list.length === 0 ? undefined : new Set(list)
}
