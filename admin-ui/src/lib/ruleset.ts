/**
 * Editing a ruleset document in the console: immutable updates by path, the
 * schedule status of rules and campaigns (there is no "enabled" flag in a
 * ruleset: a rule or campaign is active while now is inside its `from`–`to`
 * window, so activating, deactivating and scheduling all edit that window),
 * the validator's errors by path, and a summary of what a draft changes.
 *
 * @module
 */
import type {
  CampaignDoc,
  Conditions,
  ProgramDoc,
  RuleDoc,
  RulesetDoc,
  RulesetError,
  TierDoc,
} from './types.ts'
import { rulesetInstant } from './calendar.ts'

export type PathPart = string | number

/**
 * `value` with `next` at `path`, sharing everything else; `undefined` removes
 * an object's key.
 *
 * @example
 *   setIn(doc, ['programs', 0, 'tiers', 1, 'bonus'], 750)
 */
export function setIn<T>(value: T, path: readonly PathPart[], next: unknown): T {
  if (path.length === 0) return next as T
  const [head, ...rest] = path as [PathPart, ...PathPart[]]
  if (Array.isArray(value)) {
    const copy = [...value]
    copy[head as number] = setIn(copy[head as number], rest, next)
    return copy as T
  }
  const record = (value ?? {}) as Record<string, unknown>
  const child = setIn(record[head as string], rest, next)
  const copy: Record<string, unknown> = { ...record }
  if (child === undefined) delete copy[head as string]
  else copy[head as string] = child
  return copy as T
}

/**
 * `setIn`, then drops the objects along `path` that the change left empty
 * (`when: {}` after its last condition is cleared): optional parts of a
 * ruleset are left out rather than sent empty.
 */
export function setAt<T>(value: T, path: readonly PathPart[], next: unknown): T {
  let result = setIn(value, path, next)
  for (let depth = path.length - 1; depth > 0; depth--) {
    const parent = path.slice(0, depth)
    const at = getIn(result, parent)
    const empty = at !== null && typeof at === 'object' && !Array.isArray(at) &&
      Object.keys(at).length === 0
    if (!empty || typeof path[depth - 1] === 'number') break
    result = setIn(result, parent, undefined)
  }
  return result
}

/** The value at `path`, or undefined. */
export function getIn(value: unknown, path: readonly PathPart[]): unknown {
  let at = value
  for (const part of path) {
    if (at === null || typeof at !== 'object') return undefined
    at = (at as Record<string, unknown>)[part as string]
  }
  return at
}

/** `programs[0].rules[2]` for `['programs', 0, 'rules', 2]`: the validator's paths. */
export function pathText(path: readonly PathPart[]): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`
    return text === '' ? part : `${text}.${part}`
  }, '')
}

/** Errors exactly at `path`. */
export function errorsAt(errors: readonly RulesetError[], path: string): RulesetError[] {
  return errors.filter((error) => error.path === path)
}

/** Errors at `path` or anywhere inside it. */
export function errorsUnder(errors: readonly RulesetError[], path: string): RulesetError[] {
  return errors.filter((error) =>
    error.path === path || error.path.startsWith(`${path}.`) || error.path.startsWith(`${path}[`))
}

/** An object without its undefined, empty-array and empty-object fields; undefined if nothing is left. */
export function compact<T extends object>(value: T): T | undefined {
  const kept = Object.entries(value).filter(([, field]) => {
    if (field === undefined) return false
    if (Array.isArray(field)) return field.length > 0
    if (field !== null && typeof field === 'object') return Object.keys(field).length > 0
    return true
  })
  return kept.length === 0 ? undefined : (Object.fromEntries(kept) as T)
}

// ---------------------------------------------------------------------------
// Schedules

export type ScheduleStatus = 'active' | 'scheduled' | 'ended'

/**
 * Where now is relative to a `from`–`to` window (either end may be open); a
 * bare date is midnight in the program's `timeZone`, as the engine reads it.
 */
export function windowStatus(from: string | undefined, to: string | undefined, now: number, timeZone = 'UTC') {
  if (from !== undefined && rulesetInstant(from, timeZone) > now) return 'scheduled' satisfies ScheduleStatus
  if (to !== undefined && rulesetInstant(to, timeZone) <= now) return 'ended' satisfies ScheduleStatus
  return 'active' satisfies ScheduleStatus
}

export const ruleStatus = (rule: RuleDoc, now: number, timeZone = 'UTC'): ScheduleStatus =>
  windowStatus(rule.when?.from, rule.when?.to, now, timeZone)

export const campaignStatus = (campaign: CampaignDoc, now: number, timeZone = 'UTC'): ScheduleStatus =>
  windowStatus(campaign.from, campaign.to, now, timeZone)

/** An instant as the validator takes it, to the minute: `2026-11-23T22:22:00Z`. */
export function isoMinute(ms: number): string {
  return new Date(Math.floor(ms / 60_000) * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function withWindow(rule: RuleDoc, from: string | undefined, to: string | undefined): RuleDoc {
  const when = compact<Conditions>({ ...rule.when, from, to })
  const { when: _old, ...rest } = rule
  return when === undefined ? (rest as RuleDoc) : ({ ...rest, when } as RuleDoc)
}

/** A base rule that applies from now on: a future start or a past end is dropped. */
export function activateRule(rule: RuleDoc, now: number, timeZone = 'UTC'): RuleDoc {
  const from = rule.when?.from
  const to = rule.when?.to
  const keepFrom = from !== undefined && rulesetInstant(from, timeZone) <= now ? from : undefined
  const keepTo = to !== undefined && rulesetInstant(to, timeZone) > now ? to : undefined
  return withWindow(rule, keepFrom, keepTo)
}

/** An instant to the second: `2026-11-23T22:22:37Z`. */
export function isoSecond(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A base rule that stops now (it stays in the document, ended). */
export function deactivateRule(rule: RuleDoc, now: number): RuleDoc {
  return withWindow(rule, rule.when?.from, isoSecond(now))
}

const campaignDaysDefault = 30

/** A campaign running from now: started now if it was in the future, 30 more days if it ended. */
export function activateCampaign(campaign: CampaignDoc, now: number, timeZone = 'UTC'): CampaignDoc {
  const from = rulesetInstant(campaign.from, timeZone) > now ? isoMinute(now) : campaign.from
  const to = rulesetInstant(campaign.to, timeZone) <= now
    ? isoMinute(now + campaignDaysDefault * 86_400_000)
    : campaign.to
  return { ...campaign, from, to }
}

/** A running campaign that ends now. */
export function deactivateCampaign(campaign: CampaignDoc, now: number): CampaignDoc {
  return { ...campaign, to: isoSecond(now) }
}

/** An ISO instant as a `datetime-local` input's value, in the browser's zone. */
export function toLocalInput(iso: string | undefined): string {
  if (iso === undefined) return ''
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return ''
  const local = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000)
  return local.toISOString().slice(0, 16)
}

/** A `datetime-local` value (the browser's zone) as an ISO instant; undefined when empty. */
export function fromLocalInput(text: string): string | undefined {
  if (text === '') return undefined
  const ms = new Date(text).getTime()
  return Number.isNaN(ms) ? undefined : isoMinute(ms)
}

// ---------------------------------------------------------------------------
// New items

/** `base` if no id has it, else `base-2`, `base-3`, ... */
export function uniqueId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken)
  if (!used.has(base)) return base
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`
}

export function newRule(kind: RuleDoc['kind'], taken: Iterable<string>): RuleDoc {
  const id = uniqueId(`new-${kind.toLowerCase()}`, taken)
  switch (kind) {
    case 'perSpend':
      return { id, kind, points: 1, per: 100 }
    case 'perItem':
      return { id, kind, points: 10 }
    case 'fixed':
      return { id, kind, points: 100 }
    case 'multiplier':
      return { id, kind, multiplier: 2000 }
  }
}

export function newCampaign(taken: Iterable<string>, now: number): CampaignDoc {
  return {
    id: uniqueId('new-campaign', taken),
    name: 'New campaign',
    from: isoMinute(now),
    to: isoMinute(now + campaignDaysDefault * 86_400_000),
    priority: 0,
    stacking: 'combinable',
    rules: [{ id: 'bonus', kind: 'fixed', points: 100 }],
  }
}

export function newTier(tiers: readonly TierDoc[]): TierDoc {
  const top = tiers.at(-1)
  const threshold = top === undefined ? 0 : top.threshold * 2 || 1000
  return { id: uniqueId('new-tier', tiers.map((tier) => tier.id)), name: 'New tier', threshold }
}

/** The array without the item at `index`. */
export function removeAt<T>(items: readonly T[], index: number): T[] {
  return items.filter((_, i) => i !== index)
}

/** The array with the item at `index` moved by `by` places (clamped). */
export function moveItem<T>(items: readonly T[], index: number, by: number): T[] {
  const target = Math.max(0, Math.min(items.length - 1, index + by))
  const copy = [...items]
  const [item] = copy.splice(index, 1)
  copy.splice(target, 0, item as T)
  return copy
}

// ---------------------------------------------------------------------------
// What a draft changes

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

function listChanges<T extends { id: string }>(
  what: string,
  before: readonly T[] = [],
  after: readonly T[] = [],
): string[] {
  const changes: string[] = []
  const old = new Map(before.map((item) => [item.id, item]))
  const now = new Set(after.map((item) => item.id))
  for (const item of after) {
    const previous = old.get(item.id)
    if (previous === undefined) changes.push(`${what} ${item.id} added`)
    else if (!same(previous, item)) changes.push(`${what} ${item.id} changed`)
  }
  for (const item of before) if (!now.has(item.id)) changes.push(`${what} ${item.id} removed`)
  return changes
}

const programLists = ['tiers', 'rules', 'campaigns', 'activities'] as const
const listNames = { tiers: 'tier', rules: 'rule', campaigns: 'campaign', activities: 'activity' }

function programChanges(before: ProgramDoc, after: ProgramDoc): string[] {
  const settings = (Object.keys({ ...before, ...after }) as (keyof ProgramDoc)[])
    .filter((key) => !(programLists as readonly string[]).includes(key))
    .filter((key) => !same(before[key], after[key]))
  const changes = settings.length === 0 ? [] : [`settings changed: ${settings.join(', ')}`]
  for (const list of programLists) {
    const items = (program: ProgramDoc) => program[list] as readonly { id: string }[] | undefined
    changes.push(...listChanges(listNames[list], items(before), items(after)))
  }
  return changes
}

/** What `after` changes against `before`, a line per change, by program. */
export function rulesetChanges(before: RulesetDoc | undefined, after: RulesetDoc): string[] {
  const old = new Map((before?.programs ?? []).map((program) => [program.id, program]))
  const lines: string[] = []
  for (const program of after.programs) {
    const previous = old.get(program.id)
    if (previous === undefined) lines.push(`program ${program.id} added`)
    else lines.push(...programChanges(previous, program).map((line) => `${program.id}: ${line}`))
  }
  const kept = new Set(after.programs.map((program) => program.id))
  for (const id of old.keys()) if (!kept.has(id)) lines.push(`program ${id} removed`)
  return lines
}

// ---------------------------------------------------------------------------
// Describing rules

export const ruleKindLabels: Record<RuleDoc['kind'], string> = {
  perSpend: 'Points per spend',
  perItem: 'Points per item',
  fixed: 'Fixed bonus',
  multiplier: 'Multiplier',
}

/** One line saying what a rule gives: `1 point per 100 spent`, `×2 base points`. */
export function describeRule(rule: RuleDoc, money: (minor: number) => string): string {
  const points = (n: number) => `${n} point${n === 1 ? '' : 's'}`
  const items = rule.items?.categories ?? rule.items?.skus
  const on = items === undefined || items.length === 0 ? '' : ` on ${items.join(', ')}`
  switch (rule.kind) {
    case 'perSpend':
      return `${points(rule.points)} per ${money(rule.per)} spent${on}`
    case 'perItem':
      return `${points(rule.points)} per item${on}`
    case 'fixed':
      return `${points(rule.points)} per purchase${on}`
    case 'multiplier':
      return `×${rule.multiplier / 1000} base points${on}`
  }
}

/**
 * Where the console edits the part of a document an error path names: the
 * Rules page (with the rule, campaign or activity open) or the Programs page.
 */
export function errorLocation(path: string, doc: RulesetDoc | undefined): string {
  const match = /^programs\[(\d+)\](?:\.(rules|campaigns|activities)\[(\d+)\])?(?:\.(\w+))?/.exec(path)
  if (match === null) return '/programs'
  const program = doc?.programs[Number(match[1])]?.id
  const query = program === undefined ? '' : `program=${encodeURIComponent(program)}`
  const list = match[2]
  if (list === undefined) {
    const onRules = match[4] === 'rules' || match[4] === 'campaigns' || match[4] === 'activities'
    return `${onRules ? '/rules' : '/programs'}${query === '' ? '' : `?${query}`}`
  }
  const edit = `edit=${list}:${match[3]}`
  return `/rules?${query === '' ? edit : `${query}&${edit}`}`
}
