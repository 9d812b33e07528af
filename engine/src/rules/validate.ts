/**
 * Ruleset validation: checks an operator's ruleset document (untrusted JSON)
 * against the shape in `types.ts` and the rules the evaluator relies on, and
 * reports every problem at once, each with a JSON-path-like location such as
 * `programs[0].rules[2].per`. Operators fix documents in batches, so stopping
 * at the first error would make them resubmit once per typo.
 *
 * Unknown fields are errors everywhere: a misspelt optional field (`pendingDay`)
 * would otherwise be dropped silently and the program would run with a default.
 *
 * The list is capped at `errorsListedMax` entries plus one saying how many more
 * were found: a small document of thousands of bad entries would otherwise
 * make a reply hundreds of times its size.
 *
 * @module
 */
import type {
  ActivityDoc,
  BuiltInEvent,
  CampaignDoc,
  Caps,
  Channel,
  Conditions,
  ExpiryPolicy,
  ItemFilter,
  ProgramDoc,
  QualificationDoc,
  RuleBase,
  RuleDoc,
  RulesetDoc,
  TierDoc,
} from './types.ts'
import { rulesetInstant } from './calendar.ts'
import { promoCodeKey } from './compile.ts'
import { idLengthMax, promoCodeProblem, unprintableProblem } from '../domain/validate.ts'
import { countryCodeProblem } from '../domain/countries.ts'

export interface RulesetError {
  path: string
  message: string
}

export type RulesetValidation =
  | { ok: true; ruleset: RulesetDoc }
  | { ok: false; errors: RulesetError[] }

/**
 * Largest ruleset accepted, in bytes of its compact JSON (`JSON.stringify`,
 * UTF-8), whichever interface publishes it: room for programs of
 * `rulesMax` rules with their campaigns, while one document cannot make a
 * version that every shard must load and every reply of `get` must carry
 * grow without bound. REST reads a ruleset body up to this size.
 */
export const rulesetBytesMax = 1024 * 1024

/**
 * Why `input` is too large to be a ruleset, or cannot be one at all (a
 * cycle, a BigInt), measured before validation so an oversized document
 * costs no more than its serialisation; undefined when its size is fine.
 */
export function rulesetSizeError(input: unknown): RulesetError | undefined {
  let text: string | undefined
  try {
    text = JSON.stringify(input)
  } catch (error) {
    return { path: '$', message: `a ruleset must be JSON data: ${(error as Error).message.split('\n')[0]}` }
  }
  // undefined, a function: not an object, which validation names.
  if (text === undefined || text.length <= rulesetBytesMax / 3) return undefined
  const bytes = utf8.encode(text).byteLength
  if (bytes <= rulesetBytesMax) return undefined
  return { path: '$', message: `a ruleset may have at most ${rulesetBytesMax} bytes as JSON (rulesetBytesMax), this one has ${bytes}` }
}

const utf8 = new TextEncoder()

/**
 * Validates untrusted input as a ruleset. On success the result is a copy of
 * the input (no defaults are filled in); on failure it lists every error found.
 *
 * @example
 *   const v = validateRuleset(JSON.parse(body))
 *   if (!v.ok) return reply(400, v.errors) // [{ path: 'programs[0].currency', ... }]
 */
export function validateRuleset(input: unknown): RulesetValidation {
  const report = new Report()
  checkRuleset(report, input)
  if (report.errors.length > 0) return { ok: false, errors: report.list() }
  return { ok: true, ruleset: structuredClone(input) as RulesetDoc }
}

// ---------------------------------------------------------------------------
// Limits

const pointsMax = 1_000_000_000
/** Money in minor units; 10^12 cents is ten billion in the major unit. */
const amountMax = 1_000_000_000_000
const countMax = 1_000_000_000
const rulesMax = 1000
const textLengthMax = 500
/** Errors listed in a refusal; the rest are counted in one last entry. */
const errorsListedMax = 100

interface Range {
  min: number
  max: number
  /** Replaces the generic "an integer from … to …" in messages. */
  label?: string
}

const ranges = {
  points: { min: 0, max: pointsMax },
  earnPoints: { min: 1, max: pointsMax },
  per: { min: 1, max: amountMax },
  // A tier scales the base points as written, so a basic tier may earn less
  // than ×1 (500: half, 0: none from the base rules).
  tierMultiplier: { min: 0, max: 100_000, label: 'a per-mille integer from 0 to 100000 (1000 is ×1, 500 is ×0.5)' },
  // A multiplier rule adds (multiplier − 1000)‰ of the base on top of it, in a
  // program or a campaign: below 1000 it would take points away, which a
  // bonus cannot do (breakdown lines, caps, limits and quotas count what a
  // rule gives). Fewer points on some items: exclude them, or filter the base
  // rules; fewer for some members: a tier multiplier below 1000.
  ruleMultiplier: {
    min: 1000,
    max: 100_000,
    label:
      'a per-mille integer from 1000 (×1) to 100000 (×100): a multiplier rule adds to the base points and ' +
      'cannot take any away (to earn less, exclude items, filter the base rules, or give a tier a multiplier below 1000)',
  },
  threshold: { min: 0, max: amountMax },
  amount: { min: 0, max: amountMax },
  pointValue: { min: 0, max: pointsMax },
  pendingDays: { min: 0, max: 3650 },
  expiryDays: { min: 1, max: 36_500 },
  monthEnds: { min: 0, max: 1200 },
  monthsLater: { min: 1, max: 1200 },
  years: { min: 0, max: 100 },
  reviewDays: { min: 1, max: 3650 },
  count: { min: 1, max: countMax },
  cap: { min: 0, max: pointsMax },
  priority: { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, label: 'a safe integer' },
  dayOfWeek: { min: 1, max: 7, label: 'an ISO day of week from 1 (Monday) to 7 (Sunday)' },
} satisfies Record<string, Range>

// ---------------------------------------------------------------------------
// Shapes, tied to `types.ts` so that a field added there fails to compile here

type Presence<T> = { [K in keyof T]-?: object extends Pick<T, K> ? 'optional' : 'required' }

const rulesetFields: Presence<RulesetDoc> = { programs: 'required' }

const programFields: Presence<ProgramDoc> = {
  id: 'required',
  name: 'required',
  pointName: 'required',
  currency: 'required',
  pointValue: 'required',
  earnBase: 'required',
  timeZone: 'optional',
  expiry: 'required',
  pendingDays: 'optional',
  negativeBalanceOnReturn: 'required',
  excluded: 'optional',
  tiers: 'required',
  qualification: 'required',
  rules: 'required',
  campaigns: 'optional',
  activities: 'optional',
}

const tierFields: Presence<TierDoc> = {
  id: 'required',
  name: 'required',
  threshold: 'required',
  multiplier: 'optional',
  bonus: 'optional',
}

const qualificationFields: Presence<QualificationDoc> = {
  basis: 'required',
  period: 'required',
  review: 'required',
  reviewDays: 'optional',
}

const itemFilterFields: Presence<ItemFilter> = {
  skus: 'optional',
  categories: 'optional',
  excludeSkus: 'optional',
  excludeCategories: 'optional',
}

const conditionFields: Presence<Conditions> = {
  minSpend: 'optional',
  channels: 'optional',
  stores: 'optional',
  tenders: 'optional',
  daysOfWeek: 'optional',
  hours: 'optional',
  from: 'optional',
  to: 'optional',
  tiers: 'optional',
  segments: 'optional',
  countries: 'optional',
  genders: 'optional',
  promoCode: 'optional',
  birthdayMonth: 'optional',
}

const hoursFields: Presence<NonNullable<Conditions['hours']>> = { from: 'required', to: 'required' }

const capsFields: Presence<Caps> = {
  perTransaction: 'optional',
  perMemberPerDay: 'optional',
  perMemberPerWeek: 'optional',
  perMemberPerMonth: 'optional',
}

const ruleBaseFields: Presence<RuleBase> = {
  id: 'required',
  name: 'optional',
  items: 'optional',
  when: 'optional',
  caps: 'optional',
}

const campaignFields: Presence<CampaignDoc> = {
  id: 'required',
  name: 'required',
  from: 'required',
  to: 'required',
  priority: 'required',
  stacking: 'required',
  when: 'optional',
  quota: 'optional',
  perMemberLimit: 'optional',
  rules: 'required',
}

const activityFields: Presence<ActivityDoc> = {
  id: 'required',
  event: 'required',
  points: 'required',
  when: 'optional',
  limit: 'optional',
}

const limitFields: Presence<NonNullable<ActivityDoc['limit']>> = {
  count: 'required',
  per: 'required',
}

/** A field only some kinds of a tagged union have (`per` on `perSpend` rules). */
interface KindField {
  required: boolean
  range: Range
}

type KindFields<U extends { kind: string }, Base = object> = {
  [K in U['kind']]: Record<Exclude<keyof Extract<U, { kind: K }>, keyof Base | 'kind'>, KindField>
}

const ruleKinds: KindFields<RuleDoc, RuleBase> = {
  perSpend: {
    points: { required: true, range: ranges.earnPoints },
    per: { required: true, range: ranges.per },
  },
  perItem: { points: { required: true, range: ranges.earnPoints } },
  fixed: { points: { required: true, range: ranges.earnPoints } },
  multiplier: { multiplier: { required: true, range: ranges.ruleMultiplier } },
}

const expiryKinds: KindFields<ExpiryPolicy> = {
  never: {},
  days: { days: { required: true, range: ranges.expiryDays } },
  endOfMonth: { months: { required: false, range: ranges.monthEnds } },
  endOfYear: { years: { required: false, range: ranges.years } },
  months: { months: { required: true, range: ranges.monthsLater } },
}

const earnBases = ['net', 'gross'] as const satisfies readonly ProgramDoc['earnBase'][]
const bases = ['points', 'spend', 'balance'] as const satisfies readonly QualificationDoc['basis'][]
const periods = [
  'rolling12Months',
  'calendarYear',
  'membershipYear',
] as const satisfies readonly QualificationDoc['period'][]
const reviews = ['oneDown', 'recompute'] as const satisfies readonly QualificationDoc['review'][]
const stackings = ['exclusive', 'combinable'] as const satisfies readonly CampaignDoc['stacking'][]
const channels = ['store', 'web', 'app', 'partner'] as const satisfies readonly Channel[]
const limitPeriods = [
  'day',
  'week',
  'month',
  'year',
  'ever',
] as const satisfies readonly NonNullable<ActivityDoc['limit']>['per'][]
const builtInEvents: readonly string[] = [
  'registration',
  'referral_referrer',
  'referral_referred',
  'birthday',
  'first_purchase',
] satisfies BuiltInEvent[]

// ---------------------------------------------------------------------------
// Reporting and paths

type Fields = Record<string, unknown>

class Report {
  /** The first `errorsListedMax` errors, in document order. */
  readonly errors: RulesetError[] = []
  /** Errors found after those, counted only. */
  #unlisted = 0

  add(path: string, message: string): undefined {
    if (this.errors.length < errorsListedMax) this.errors.push({ path, message })
    else this.#unlisted++
    return undefined
  }

  /** The errors to reply with: the listed ones, then how many more there were. */
  list(): RulesetError[] {
    if (this.#unlisted === 0) return this.errors
    const errors = this.#unlisted === 1 ? 'error' : 'errors'
    const more = `${this.#unlisted} more ${errors} not listed (only the first ${errorsListedMax} are)`
    return [...this.errors, { path: root, message: more }]
  }
}

/**
 * Checks one value at `path`: returns it (possibly narrowed) when valid, or
 * reports why not and returns `undefined`. Containers use the returned values
 * for checks across fields (uniqueness, ordering, references).
 */
type Check<T> = (report: Report, value: unknown, path: string) => T | undefined

const root = '$'

function child(path: string, name: string): string {
  return path === root ? name : `${path}.${name}`
}

function item(path: string, index: number): string {
  return `${path}[${index}]`
}

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Own fields only: `constructor` or `toString` in a document must not read the prototype's. */
function own(fields: Fields, name: string): unknown {
  return Object.hasOwn(fields, name) ? fields[name] : undefined
}

/** The value as it appears in a message, kept short. */
function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  }
  return String(value)
}

function quoted(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(', ')
}

// ---------------------------------------------------------------------------
// Suggestions

/** Edit distance counting an adjacent swap as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = []
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i]
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j)
        continue
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      const above = rows[i - 1]!
      let best = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1)
      }
      row.push(best)
    }
    rows.push(row)
  }
  return rows[a.length]![b.length]!
}

/** The candidate `name` is most likely a typo of, if any is close enough to be useful. */
function closest(name: string, candidates: Iterable<string>): string | undefined {
  const allowed = Math.max(1, Math.floor(name.length / 3))
  let best: string | undefined
  let bestDistance = allowed + 1
  for (const candidate of candidates) {
    // The lengths' difference is a lower bound of the distance: skip what cannot be close
    // enough, so a long name costs nothing (the distance takes their lengths' product in time).
    if (Math.abs(candidate.length - name.length) > allowed) continue
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

function didYouMean(name: string, candidates: Iterable<string>): string {
  const guess = closest(name, candidates)
  return guess === undefined ? '' : ` (did you mean "${guess}"?)`
}

// ---------------------------------------------------------------------------
// Objects

interface Shape {
  required: readonly string[]
  optional: readonly string[]
  /** Explains a field that is valid elsewhere but not here (`per` on a `fixed` rule). */
  misplaced?: (name: string) => string | undefined
}

function shapeOf(presence: Record<string, 'required' | 'optional'>): Shape {
  const names = Object.keys(presence)
  return {
    required: names.filter((name) => presence[name] === 'required'),
    optional: names.filter((name) => presence[name] === 'optional'),
  }
}

function record(report: Report, value: unknown, path: string): Fields | undefined {
  if (isRecord(value)) return value
  return report.add(path, `must be an object, got ${describe(value)}`)
}

/** Reports fields the shape does not know and required fields that are missing. */
function checkShape(report: Report, fields: Fields, path: string, shape: Shape): void {
  const allowed = [...shape.required, ...shape.optional]
  for (const name of Object.keys(fields)) {
    if (allowed.includes(name)) continue
    const reason = shape.misplaced?.(name)
    report.add(child(path, name), reason ?? unknownField(name, allowed))
  }
  for (const name of shape.required) {
    if (own(fields, name) === undefined) report.add(child(path, name), 'is required')
  }
}

function unknownField(name: string, allowed: readonly string[]): string {
  const guess = closest(name, allowed)
  const quoted = describe(name)
  if (guess !== undefined) return `unknown field ${quoted} (did you mean "${guess}"?)`
  if (allowed.length === 0) return `unknown field ${quoted} (no fields are allowed here)`
  return `unknown field ${quoted} (allowed: ${allowed.join(', ')})`
}

function object(report: Report, value: unknown, path: string, shape: Shape): Fields | undefined {
  const fields = record(report, value, path)
  if (fields !== undefined) checkShape(report, fields, path, shape)
  return fields
}

/** Runs `check` on a field when present; a missing required field is `checkShape`'s to report. */
function field<T>(
  report: Report,
  fields: Fields,
  path: string,
  name: string,
  check: Check<T>,
): T | undefined {
  const value = own(fields, name)
  return value === undefined ? undefined : check(report, value, child(path, name))
}

/**
 * Checks the `kind` of a tagged union and the fields that go with it: those of
 * the kind are checked, those of other kinds are reported as not allowed.
 */
function checkKinded<K extends string>(
  report: Report,
  fields: Fields,
  path: string,
  base: Shape,
  kinds: Record<K, Record<string, KindField>>,
): K | undefined {
  const names = Object.keys(kinds) as K[]
  const kind = field(report, fields, path, 'kind', oneOf(names))
  const kindFieldNames = [...new Set(names.flatMap((name) => Object.keys(kinds[name])))]
  if (kind === undefined) {
    // With the kind unknown, accept any kind's fields rather than guess which are extra.
    const optional = [...base.optional, ...kindFieldNames]
    checkShape(report, fields, path, { required: [...base.required, 'kind'], optional })
    return undefined
  }
  const mine = kinds[kind]
  const misplaced = (name: string) => {
    const owners = names.filter((other) => Object.hasOwn(kinds[other], name))
    if (owners.length === 0) return undefined
    return `field "${name}" is not allowed for kind "${kind}" (only for ${quoted(owners)})`
  }
  const optional = [...base.optional, ...Object.keys(mine)]
  checkShape(report, fields, path, { required: [...base.required, 'kind'], optional, misplaced })
  for (const [name, spec] of Object.entries(mine)) {
    if (spec.required && own(fields, name) === undefined) {
      report.add(child(path, name), `is required for kind "${kind}"`)
    }
    field(report, fields, path, name, integer(spec.range))
  }
  return kind
}

// ---------------------------------------------------------------------------
// Scalars

function integer(range: Range): Check<number> {
  return (report, value, path) => {
    const valid =
      typeof value === 'number' &&
      Number.isSafeInteger(value) &&
      value >= range.min &&
      value <= range.max
    if (valid) return value
    return report.add(path, `must be ${rangeText(range)}, got ${describe(value)}`)
  }
}

function rangeText(range: Range): string {
  if (range.label !== undefined) return range.label
  if (range.min === 1) return `a positive integer (at most ${range.max})`
  if (range.min === 0) return `a non-negative integer (at most ${range.max})`
  return `an integer from ${range.min} to ${range.max}`
}

function text(report: Report, value: unknown, path: string): string | undefined {
  if (typeof value !== 'string') return report.add(path, `must be a string, got ${describe(value)}`)
  // A blank name or SKU is as useless as an empty one, and harder to spot.
  if (value.trim() === '') return report.add(path, 'must be a non-empty string')
  if (value.length > textLengthMax) {
    return report.add(path, `must be at most ${textLengthMax} characters, got ${value.length}`)
  }
  return value
}

const idPattern = /^[A-Za-z0-9_.:-]{1,64}$/

function id(report: Report, value: unknown, path: string): string | undefined {
  if (typeof value === 'string' && idPattern.test(value)) return value
  const expected = 'an id of 1 to 64 letters, digits, "_", ".", ":" or "-"'
  return report.add(path, `must be ${expected}, got ${describe(value)}`)
}

function boolean(report: Report, value: unknown, path: string): boolean | undefined {
  if (typeof value === 'boolean') return value
  return report.add(path, `must be true or false, got ${describe(value)}`)
}

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  const known: readonly string[] = values
  return (report, value, path) => {
    if (typeof value === 'string' && known.includes(value)) return value as T
    const hint = typeof value === 'string' ? didYouMean(value, values) : ''
    return report.add(path, `must be one of ${quoted(values)}, got ${describe(value)}${hint}`)
  }
}

function currency(report: Report, value: unknown, path: string): string | undefined {
  if (typeof value === 'string' && /^[A-Z]{3}$/.test(value)) return value
  const expected = 'an ISO 4217 code of 3 upper-case letters such as "EUR"'
  return report.add(path, `must be ${expected}, got ${describe(value)}`)
}

function timeZone(report: Report, value: unknown, path: string): string | undefined {
  if (typeof value === 'string' && isTimeZone(value)) return value
  const expected = 'an IANA time zone such as "Europe/Paris" or "UTC"'
  return report.add(path, `must be ${expected}, got ${describe(value)}`)
}

/** Names only: newer engines also take offsets such as "+01:00", which know no daylight saving. */
function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z]/.test(name)) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name })
    return true
  } catch {
    return false
  }
}

/** `HH:MM` from 00:00 to 23:59, shared by clock times and instants. */
const clockPart = '([01]\\d|2[0-3]):[0-5]\\d'
const clockPattern = new RegExp(`^${clockPart}$`)

/** `HH:MM`; an end of range may be `24:00`, the end of the day. */
function clock(endOfDay: boolean): Check<string> {
  return (report, value, path) => {
    if (typeof value === 'string' && clockPattern.test(value)) return value
    if (endOfDay && value === '24:00') return value
    const last = endOfDay ? '24:00' : '23:59'
    return report.add(path, `must be a time "HH:MM" from 00:00 to ${last}, got ${describe(value)}`)
  }
}

const instantPattern = new RegExp(
  `^\\d{4}-\\d{2}-\\d{2}(T${clockPart}(:[0-5]\\d(\\.\\d{1,9})?)?(Z|[+-]${clockPart}))?$`,
)
const zonelessPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/

/**
 * An ISO 8601 instant with a zone, or a date: the local midnight starting it
 * in the program's `zone`, as the compiler reads it (`rulesetInstant`).
 */
function instant(zone: string): Check<number> {
  return (report, value, path) => {
    if (typeof value === 'string' && zonelessPattern.test(value)) {
      // Without a zone the instant would depend on the server's zone: refuse rather than guess.
      const fix = 'add "Z" or an offset such as "+01:00", or give a date alone for midnight in the program\'s timeZone'
      return report.add(path, `has no time zone designator (${fix}), got ${describe(value)}`)
    }
    if (typeof value === 'string' && instantPattern.test(value) && isCalendarDate(value)) {
      const time = rulesetInstant(value, zone)
      if (!Number.isNaN(time)) return time
    }
    const expected =
      'an ISO 8601 instant with a time zone such as "2024-03-01T09:00:00Z" or ' +
      '"2024-03-01T09:00:00+01:00", or a date "YYYY-MM-DD" (midnight in the program\'s timeZone)'
    return report.add(path, `must be ${expected}, got ${describe(value)}`)
  }
}

/** `Date.parse` rolls 2024-02-30 over to March 1st; a document saying that has a typo. */
function isCalendarDate(text: string): boolean {
  const year = Number(text.slice(0, 4))
  const month = Number(text.slice(5, 7))
  const day = Number(text.slice(8, 10))
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** `from` and `to` of a campaign or conditions, bare dates in `zone`: `from` must come first. */
function checkWindow(report: Report, fields: Fields, path: string, zone: string): void {
  const from = field(report, fields, path, 'from', instant(zone))
  const to = field(report, fields, path, 'to', instant(zone))
  if (from === undefined || to === undefined || from < to) return
  const start = describe(own(fields, 'from'))
  const end = describe(own(fields, 'to'))
  report.add(child(path, 'to'), `must be later than "from" (${start}), got ${end}`)
}

// ---------------------------------------------------------------------------
// Lists

/** A list whose entries pass `check` and appear once; returns the distinct valid entries. */
function distinctList<T>(check: Check<T>): Check<T[]> {
  return (report, value, path) => {
    if (!Array.isArray(value)) return report.add(path, `must be an array, got ${describe(value)}`)
    const seen = new Map<T, number>()
    value.forEach((entry: unknown, index) => {
      const checked = check(report, entry, item(path, index))
      if (checked === undefined) return
      const first = seen.get(checked)
      if (first === undefined) seen.set(checked, index)
      else report.add(item(path, index), `duplicate ${describe(checked)} (already at [${first}])`)
    })
    return [...seen.keys()]
  }
}


/**
 * A value matched against what a basket or a member carries (SKU, category,
 * store, tender, segment, gender): the edge refuses those longer than
 * `idLengthMax` or holding control or invisible characters
 * (domain/validate.ts), so one such here could never match.
 */
const matchList = distinctList((report, value, path) => {
  const name = text(report, value, path)
  if (name === undefined) return undefined
  const never = 'baskets and members may not carry such a value, so it could never match'
  if (name.length > idLengthMax) {
    return report.add(path, `must be at most ${idLengthMax} characters, got ${name.length}: ${never}`)
  }
  const problem = unprintableProblem('value', name)?.replace(/^value /, '')
  return problem === undefined ? name : report.add(path, `${problem}: ${never}`)
})

/** A member's country as the registry stores it (ISO 3166 alpha-2 in capitals): any other could never match. */
const countryList = distinctList((report, value, path) => {
  const code = text(report, value, path)
  if (code === undefined) return undefined
  const problem = countryCodeProblem('country', code)
  return problem === undefined ? code : report.add(path, `${problem}: members' countries are stored so, and this could never match`)
})

interface EntityList {
  noun: string
  nouns: string
  min: number
  max: number
}

/** Checks one entity (program, tier, rule...) and returns its id when valid. */
type EntityCheck = (
  report: Report,
  value: unknown,
  path: string,
  index: number,
) => string | undefined

/**
 * A list of entities whose ids must be unique within it. Returns the valid
 * ids, which later checks use to resolve references (tiers named in `when`).
 */
function entities(list: EntityList, check: EntityCheck): Check<Set<string>> {
  return (report, value, path) => {
    if (!Array.isArray(value)) return report.add(path, `must be an array, got ${describe(value)}`)
    if (value.length < list.min) report.add(path, `must have at least ${list.min} ${list.noun}`)
    if (value.length > list.max) {
      report.add(path, `must have at most ${list.max} ${list.nouns}, got ${value.length}`)
    }
    const seen = new Map<string, string>()
    value.forEach((entry: unknown, index) => {
      const entryPath = item(path, index)
      const entryId = check(report, entry, entryPath, index)
      if (entryId === undefined) return
      const first = seen.get(entryId)
      if (first === undefined) {
        seen.set(entryId, entryPath)
        return
      }
      const idPath = child(entryPath, 'id')
      report.add(idPath, `duplicate ${list.noun} id "${entryId}" (also at ${first})`)
    })
    return new Set(seen.keys())
  }
}

// ---------------------------------------------------------------------------
// The document

function checkRuleset(report: Report, input: unknown): void {
  if (!isRecord(input)) {
    report.add(root, `must be an object with a "programs" array, got ${describe(input)}`)
    return
  }
  checkShape(report, input, root, shapeOf(rulesetFields))
  field(report, input, root, 'programs', programList)
}

const programList = entities(
  { noun: 'program', nouns: 'programs', min: 1, max: Number.POSITIVE_INFINITY },
  checkProgram,
)

function checkProgram(report: Report, value: unknown, path: string): string | undefined {
  const fields = object(report, value, path, shapeOf(programFields))
  if (fields === undefined) return undefined
  const programId = field(report, fields, path, 'id', id)
  field(report, fields, path, 'name', text)
  field(report, fields, path, 'pointName', text)
  field(report, fields, path, 'currency', currency)
  field(report, fields, path, 'pointValue', integer(ranges.pointValue))
  field(report, fields, path, 'earnBase', oneOf(earnBases))
  // An unknown zone is reported here; dates are then read in UTC, to report what else is wrong.
  const zone = field(report, fields, path, 'timeZone', timeZone) ?? 'UTC'
  field(report, fields, path, 'expiry', checkExpiry)
  field(report, fields, path, 'pendingDays', integer(ranges.pendingDays))
  field(report, fields, path, 'negativeBalanceOnReturn', boolean)
  field(report, fields, path, 'excluded', checkExclusion)
  const tierIds = field(report, fields, path, 'tiers', checkTiers)
  field(report, fields, path, 'qualification', checkQualification)
  const conditions = checkConditions(tierIds, zone)
  field(report, fields, path, 'rules', ruleList(conditions, 0))
  field(report, fields, path, 'campaigns', campaignList(conditions, ruleList(conditions, 1), zone))
  field(report, fields, path, 'activities', activityList(conditions))
  return programId
}

function checkExpiry(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = record(report, value, path)
  if (fields !== undefined) checkKinded(report, fields, path, shapeOf({}), expiryKinds)
  return fields
}

function checkItemFilter(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = object(report, value, path, shapeOf(itemFilterFields))
  if (fields === undefined) return undefined
  const lists: Record<string, string[] | undefined> = {}
  for (const name of Object.keys(itemFilterFields)) lists[name] = field(report, fields, path, name, matchList)
  // An entry both listed and excluded could never match (exclusions win).
  for (const [listed, excluded] of [['skus', 'excludeSkus'], ['categories', 'excludeCategories']] as const) {
    const taken = lists[listed]
    if (taken === undefined) continue
    const raw = own(fields, excluded)
    if (!Array.isArray(raw)) continue
    raw.forEach((entry: unknown, index) => {
      if (typeof entry !== 'string' || !taken.includes(entry)) return
      const listedAt = (own(fields, listed) as unknown[]).indexOf(entry)
      report.add(item(child(path, excluded), index), `${describe(entry)} is also in ${listed}[${listedAt}]: it could never match (list it in one of the two)`)
    })
  }
  return fields
}

/**
 * The lines a program never earns on. A filter naming nothing matches every
 * line ("empty lists mean any"), so `excluded: {}` would exclude them all and
 * the program would earn nothing on any purchase: refused.
 */
function checkExclusion(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = checkItemFilter(report, value, path)
  if (fields === undefined) return undefined
  // A list that is not an array has its own error already.
  const empty = (list: unknown) => list === undefined || (Array.isArray(list) && list.length === 0)
  if (!Object.keys(itemFilterFields).every((name) => empty(own(fields, name)))) return fields
  const fix = 'list the skus or categories that never earn, or leave "excluded" out'
  return report.add(path, `names no SKU or category, so every line would be excluded and no purchase would earn (${fix})`)
}

// ---------------------------------------------------------------------------
// Tiers and qualification

function checkTiers(report: Report, value: unknown, path: string): Set<string> | undefined {
  // The last valid threshold, so one bad tier yields one error rather than one per later tier.
  let previous: number | undefined
  const checkTier: EntityCheck = (report, value, tierPath, index) => {
    const fields = object(report, value, tierPath, shapeOf(tierFields))
    if (fields === undefined) return undefined
    const tierId = field(report, fields, tierPath, 'id', id)
    field(report, fields, tierPath, 'name', text)
    const threshold = field(report, fields, tierPath, 'threshold', integer(ranges.threshold))
    field(report, fields, tierPath, 'multiplier', integer(ranges.tierMultiplier))
    field(report, fields, tierPath, 'bonus', integer(ranges.points))
    if (threshold !== undefined) {
      checkThresholdOrder(report, child(tierPath, 'threshold'), threshold, index, previous)
      previous = threshold
    }
    return tierId
  }
  const list = { noun: 'tier', nouns: 'tiers', min: 1, max: Number.POSITIVE_INFINITY }
  return entities(list, checkTier)(report, value, path)
}

function checkThresholdOrder(
  report: Report,
  path: string,
  threshold: number,
  index: number,
  previous: number | undefined,
): void {
  if (index === 0 && threshold !== 0) {
    report.add(path, `must be 0 for the first tier (every member starts in it), got ${threshold}`)
  } else if (index > 0 && previous !== undefined && threshold <= previous) {
    const expected = `greater than the previous tier's threshold (${previous})`
    report.add(path, `must be ${expected}, got ${threshold}; tiers are listed lowest first`)
  }
}

function checkQualification(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = object(report, value, path, shapeOf(qualificationFields))
  if (fields === undefined) return undefined
  field(report, fields, path, 'basis', oneOf(bases))
  const period = field(report, fields, path, 'period', oneOf(periods))
  field(report, fields, path, 'review', oneOf(reviews))
  const reviewDays = field(report, fields, path, 'reviewDays', integer(ranges.reviewDays))
  // Other periods review at their own boundaries and ignore it; say so instead of ignoring it.
  if (reviewDays !== undefined && period !== undefined && period !== 'rolling12Months') {
    report.add(
      child(path, 'reviewDays'),
      `only applies with period "rolling12Months", not "${period}"`,
    )
  }
  return fields
}

// ---------------------------------------------------------------------------
// Conditions

/**
 * Conditions of one program: `tiers` must name that program's tiers (unknown: not checked);
 * bare dates are days in its `zone`.
 */
function checkConditions(tierIds: ReadonlySet<string> | undefined, zone: string): Check<Fields> {
  const tierList = distinctList(tierRef(tierIds))
  const checkCode = promoCodes()
  return (report, value, path) => {
    const fields = object(report, value, path, shapeOf(conditionFields))
    if (fields === undefined) return undefined
    field(report, fields, path, 'minSpend', integer(ranges.amount))
    field(report, fields, path, 'channels', distinctList(oneOf(channels)))
    for (const name of ['stores', 'tenders', 'segments', 'genders']) {
      field(report, fields, path, name, matchList)
    }
    field(report, fields, path, 'countries', countryList)
    field(report, fields, path, 'daysOfWeek', distinctList(integer(ranges.dayOfWeek)))
    field(report, fields, path, 'hours', checkHours)
    checkWindow(report, fields, path, zone)
    field(report, fields, path, 'tiers', tierList)
    field(report, fields, path, 'promoCode', checkCode)
    field(report, fields, path, 'birthdayMonth', boolean)
    return fields
  }
}

/**
 * The promo codes of one program. Each must be one a basket may carry (the
 * edge refuses the rest, domain/validate.ts), else nothing with it could ever
 * apply. Codes match whatever their case and surrounding spaces
 * (`promoCodeKey`), so two that differ only in that would be one code:
 * refused, naming the first.
 */
function promoCodes(): Check<string> {
  const seen = new Map<string, { code: string; path: string }>()
  return (report, value, path) => {
    const code = text(report, value, path)
    if (code === undefined) return undefined
    const problem = promoCodeProblem(code)
    if (problem !== undefined) {
      return report.add(path, `${problem}: baskets may not carry such a code, so it could never match`)
    }
    const key = promoCodeKey(code)
    const first = seen.get(key)
    if (first === undefined) seen.set(key, { code, path })
    else if (first.code !== code) {
      const same = `is the code ${describe(first.code)} of ${first.path} (codes match whatever their case and surrounding spaces)`
      return report.add(path, `${same}: write it the same way, or choose another code, got ${describe(code)}`)
    }
    return code
  }
}

function tierRef(tierIds: ReadonlySet<string> | undefined): Check<string> {
  return (report, value, path) => {
    const name = id(report, value, path)
    if (name === undefined || tierIds === undefined || tierIds.has(name)) return name
    const known =
      tierIds.size === 0 ? 'the program has no valid tiers' : `tiers: ${[...tierIds].join(', ')}`
    return report.add(path, `unknown tier "${name}"${didYouMean(name, tierIds)}; ${known}`)
  }
}

function checkHours(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = object(report, value, path, shapeOf(hoursFields))
  if (fields === undefined) return undefined
  const from = field(report, fields, path, 'from', clock(false))
  const to = field(report, fields, path, 'to', clock(true))
  if (from !== undefined && from === to) {
    const hint = 'for the whole day leave "hours" out'
    report.add(child(path, 'to'), `must differ from "from" (${from}; ${hint}), got "${to}"`)
  }
  return fields
}

function checkCaps(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = object(report, value, path, shapeOf(capsFields))
  if (fields === undefined) return undefined
  for (const name of Object.keys(capsFields)) field(report, fields, path, name, integer(ranges.cap))
  return fields
}

// ---------------------------------------------------------------------------
// Rules, campaigns, activities

/** A program may have no rules of its own (campaigns only); a campaign without rules could never apply. */
function ruleList(conditions: Check<Fields>, min: number): Check<Set<string>> {
  return entities({ noun: 'rule', nouns: 'rules', min, max: rulesMax }, checkRule(conditions))
}

function checkRule(conditions: Check<Fields>): EntityCheck {
  return (report, value, path) => {
    const fields = record(report, value, path)
    if (fields === undefined) return undefined
    const ruleId = field(report, fields, path, 'id', id)
    checkKinded(report, fields, path, shapeOf(ruleBaseFields), ruleKinds)
    field(report, fields, path, 'name', text)
    field(report, fields, path, 'items', checkItemFilter)
    field(report, fields, path, 'when', conditions)
    field(report, fields, path, 'caps', checkCaps)
    return ruleId
  }
}

function campaignList(conditions: Check<Fields>, rules: Check<Set<string>>, zone: string): Check<Set<string>> {
  const list = { noun: 'campaign', nouns: 'campaigns', min: 0, max: Number.POSITIVE_INFINITY }
  return entities(list, (report, value, path) => {
    const fields = object(report, value, path, shapeOf(campaignFields))
    if (fields === undefined) return undefined
    const campaignId = field(report, fields, path, 'id', id)
    field(report, fields, path, 'name', text)
    checkWindow(report, fields, path, zone)
    field(report, fields, path, 'priority', integer(ranges.priority))
    field(report, fields, path, 'stacking', oneOf(stackings))
    field(report, fields, path, 'when', conditions)
    field(report, fields, path, 'quota', integer(ranges.count))
    field(report, fields, path, 'perMemberLimit', integer(ranges.count))
    const ruleIds = field(report, fields, path, 'rules', rules)
    checkWithinCampaign(report, fields, path, ruleIds !== undefined, zone)
    return campaignId
  })
}

/**
 * A `from`/`to` window in a campaign's conditions, or in one of its rules',
 * that does not meet the campaign's own dates could never hold while the
 * campaign runs: the campaign, or that rule, would never apply.
 */
function checkWithinCampaign(report: Report, campaign: Fields, path: string, rulesValid: boolean, zone: string): void {
  const quiet = new Report()
  const instantIn = instant(zone)
  const from = instantIn(quiet, own(campaign, 'from'), path)
  const to = instantIn(quiet, own(campaign, 'to'), path)
  if (from === undefined || to === undefined || from >= to) return
  const dates = `${describe(own(campaign, 'from'))} to ${describe(own(campaign, 'to'))}`
  const check = (when: unknown, whenPath: string, what: 'campaign' | 'rule') => {
    if (!isRecord(when)) return
    const start = own(when, 'from') === undefined ? undefined : instantIn(quiet, own(when, 'from'), whenPath)
    const end = own(when, 'to') === undefined ? undefined : instantIn(quiet, own(when, 'to'), whenPath)
    if (start !== undefined && start >= to) {
      report.add(child(whenPath, 'from'), `never meets the campaign's dates (${dates}), so the ${what} could never apply`)
    } else if (end !== undefined && end <= from) {
      report.add(child(whenPath, 'to'), `never meets the campaign's dates (${dates}), so the ${what} could never apply`)
    }
  }
  check(own(campaign, 'when'), child(path, 'when'), 'campaign')
  const list = own(campaign, 'rules')
  if (!rulesValid || !Array.isArray(list)) return
  list.forEach((rule: unknown, index) => {
    if (isRecord(rule)) check(own(rule, 'when'), child(item(child(path, 'rules'), index), 'when'), 'rule')
  })
}

function activityList(conditions: Check<Fields>): Check<Set<string>> {
  const list = { noun: 'activity', nouns: 'activities', min: 0, max: Number.POSITIVE_INFINITY }
  return entities(list, (report, value, path) => {
    const fields = object(report, value, path, shapeOf(activityFields))
    if (fields === undefined) return undefined
    const activityId = field(report, fields, path, 'id', id)
    const event = field(report, fields, path, 'event', checkEvent)
    field(report, fields, path, 'points', integer(ranges.points))
    const when = field(report, fields, path, 'when', conditions)
    if (event !== undefined && when !== undefined) checkPurchaseConditions(report, event, when, child(path, 'when'))
    field(report, fields, path, 'limit', checkLimit)
    return activityId
  })
}

/** Conditions on the basket: only a purchase has one. */
const purchaseConditions = ['minSpend', 'channels', 'stores', 'tenders', 'promoCode'] as const

/**
 * Only the first purchase brings a basket; every other event (registration,
 * a birthday, a custom one) has none, so a condition on the basket could
 * never hold and the activity would never be given.
 */
function checkPurchaseConditions(report: Report, event: string, when: Fields, path: string): void {
  if (event === 'first_purchase') return
  for (const name of purchaseConditions) {
    if (own(when, name) === undefined) continue
    const why = `a "${event}" event brings no purchase, so this could never hold and the activity would never be given`
    report.add(child(path, name), `${why} (only "first_purchase" activities may look at the basket)`)
  }
}

const customEventPattern = /^[a-z][a-z0-9_]{0,63}$/

function checkEvent(report: Report, value: unknown, path: string): string | undefined {
  const name = text(report, value, path)
  if (name === undefined || builtInEvents.includes(name) || customEventPattern.test(name)) {
    return name
  }
  const custom =
    'a custom name: a lower-case letter, then up to 63 lower-case letters, digits or "_"'
  const expected = `a built-in event (${builtInEvents.join(', ')}) or ${custom}`
  return report.add(path, `must be ${expected}, got ${describe(name)}`)
}

function checkLimit(report: Report, value: unknown, path: string): Fields | undefined {
  const fields = object(report, value, path, shapeOf(limitFields))
  if (fields === undefined) return undefined
  field(report, fields, path, 'count', integer(ranges.count))
  field(report, fields, path, 'per', oneOf(limitPeriods))
  return fields
}
