/**
 * Goal: every document the validator accepts compiles and evaluates any
 * basket without throwing, to safe-integer points: the total and each
 * breakdown line, and line attributions that are non-negative and add up to
 * at most the total. Method: fast-check generates documents from the whole
 * vocabulary (extreme values included), keeps those `validateRuleset`
 * accepts, and evaluates generated baskets, members and instants.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileRuleset } from './compile.ts'
import { earnRefusal, evaluateActivity, evaluatePurchase, type Usage } from './evaluate.ts'
import { validateRuleset } from './validate.ts'

const skus = ['a', 'b', 'c']
const categories = ['x', 'y']
const zones = ['UTC', 'Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Kiritimati', 'Asia/Kathmandu']
const big = fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 1_000_000_000 }), fc.constantFrom(0, 1, 999, 1000, 1001, 100_000, 1_000_000_000, 1_000_000_000_000))
const positive = big.map((n) => Math.max(1, n))
const perMille = fc.oneof(fc.constantFrom(0, 500, 999, 1000, 1001, 1500, 100_000), fc.integer({ min: 0, max: 100_000 }))
const ruleMultiplier = perMille.map((n) => Math.max(1000, n))
const sub = <T>(values: T[]) => fc.subarray(values, { minLength: 1 })
const instant = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }).map((t) => new Date(t).toISOString())
const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`)

const items = fc.record(
  { skus: sub(skus), categories: sub(categories), excludeSkus: sub(skus), excludeCategories: sub(categories) },
  { requiredKeys: [] },
).map(({ excludeSkus, excludeCategories, ...rest }) => {
  // An entry both listed and excluded is refused: keep the exclusions apart.
  const filter: Record<string, string[]> = { ...rest }
  const skusLeft = excludeSkus?.filter((sku) => !rest.skus?.includes(sku)) ?? []
  const categoriesLeft = excludeCategories?.filter((category) => !rest.categories?.includes(category)) ?? []
  if (skusLeft.length > 0) filter['excludeSkus'] = skusLeft
  if (categoriesLeft.length > 0) filter['excludeCategories'] = categoriesLeft
  return filter
})
const when = fc.record(
  {
    minSpend: big,
    channels: sub(['store', 'web', 'app', 'partner']),
    daysOfWeek: sub([1, 2, 3, 4, 5, 6, 7]),
    hours: fc.record({ from: clock, to: clock }),
    window: fc.tuple(instant, instant),
    tiers: sub(['t0', 't1']),
    segments: sub(['s1', 's2']),
    promoCode: fc.constantFrom('WELCOME', 'X'),
    birthdayMonth: fc.boolean(),
  },
  { requiredKeys: [] },
).map(({ window, ...rest }) => (window === undefined ? rest : { ...rest, ...ordered(window) }))
const caps = fc.record({ perTransaction: big, perMemberPerDay: big, perMemberPerWeek: big, perMemberPerMonth: big }, { requiredKeys: [] })
const ruleFields = { items, when, caps }
const rule = fc.oneof(
  fc.record({ kind: fc.constant('perSpend'), points: positive, per: positive, ...ruleFields }, { requiredKeys: ['kind', 'points', 'per'] }),
  fc.record({ kind: fc.constant('perItem'), points: positive, ...ruleFields }, { requiredKeys: ['kind', 'points'] }),
  fc.record({ kind: fc.constant('fixed'), points: positive, ...ruleFields }, { requiredKeys: ['kind', 'points'] }),
  fc.record({ kind: fc.constant('multiplier'), multiplier: ruleMultiplier, ...ruleFields }, { requiredKeys: ['kind', 'multiplier'] }),
)
const rules = fc.array(rule, { maxLength: 5 }).map((list) => list.map((r, i) => ({ id: `r${i}`, ...r })))
function ordered([a, b]: [string, string]) {
  return a < b ? { from: a, to: b } : { from: b, to: a === b ? new Date(Date.parse(a) + 1).toISOString() : a }
}
const campaign = fc.record(
  {
    window: fc.tuple(instant, instant),
    priority: fc.integer({ min: -3, max: 3 }),
    stacking: fc.constantFrom('exclusive', 'combinable'),
    when,
    quota: fc.integer({ min: 1, max: 3 }),
    perMemberLimit: fc.integer({ min: 1, max: 3 }),
    rules: rules.filter((list) => list.length > 0),
  },
  { requiredKeys: ['window', 'priority', 'stacking', 'rules'] },
).map(({ window, ...rest }) => ({ ...ordered(window), ...rest }))
const program = fc.record({
  earnBase: fc.constantFrom('net', 'gross'),
  timeZone: fc.constantFrom(...zones),
  excluded: fc.option(items, { nil: undefined }),
  tierMultipliers: fc.tuple(fc.option(perMille, { nil: undefined }), fc.option(perMille, { nil: undefined })),
  rules,
  campaigns: fc.array(campaign, { maxLength: 3 }),
})

type ProgramInput = typeof program extends fc.Arbitrary<infer T> ? T : never

function documentOf(p: ProgramInput) {
  const doc: Record<string, unknown> = {
    id: 'p',
    name: 'P',
    pointName: 'points',
    currency: 'EUR',
    pointValue: 1,
    earnBase: p.earnBase,
    timeZone: p.timeZone,
    expiry: { kind: 'never' },
    negativeBalanceOnReturn: false,
    tiers: p.tierMultipliers.map((multiplier, i) => ({ id: `t${i}`, name: `T${i}`, threshold: i * 100, ...(multiplier === undefined ? {} : { multiplier }) })),
    qualification: { basis: 'points', period: 'calendarYear', review: 'oneDown' },
    rules: p.rules,
    campaigns: p.campaigns.map((c, i) => ({ id: `c${i}`, name: `C${i}`, ...c })),
    activities: [{ id: 'first', event: 'first_purchase', points: 100 }],
  }
  if (p.excluded !== undefined) doc['excluded'] = p.excluded
  return { programs: [doc] }
}

const line = fc.record(
  { sku: fc.constantFrom(...skus), category: fc.constantFrom(...categories), quantity: fc.integer({ min: 1, max: 1000 }), unitPrice: big, discount: big },
  { requiredKeys: ['sku', 'quantity', 'unitPrice'] },
)
const basket = fc.record(
  { lines: fc.array(line, { minLength: 1, maxLength: 4 }), channel: fc.constantFrom('store', 'web'), promoCodes: fc.constant(null).map(() => ['WELCOME']) },
  { requiredKeys: ['lines'] },
)
const member = fc.record({
  tier: fc.constantFrom('t0', 't1'),
  facts: fc.record({ segments: fc.constant(null).map(() => ['s1']), birthDate: fc.constant('1990-06-15') }, { requiredKeys: [] }),
  usage: fc.constant(null).map((): Usage => ({})),
  firstPurchase: fc.boolean(),
})

describe('validated rulesets evaluate safely', () => {
  it('never throws and always yields safe, consistent integers', () => {
    let accepted = 0
    fc.assert(
      fc.property(program, fc.array(fc.tuple(basket, member, fc.integer({ min: Date.UTC(2019, 0, 1), max: Date.UTC(2031, 0, 1) })), { minLength: 1, maxLength: 4 }), (p, purchases) => {
        const validation = validateRuleset(documentOf(p))
        if (!validation.ok) return
        accepted++
        const compiled = compileRuleset(validation.ruleset, 1).programs.get('p')!
        for (const [b, m, now] of purchases) {
          const result = evaluatePurchase(compiled, b, m, now, { left: () => 1 })
          if (earnRefusal(b, result) !== undefined) continue
          expect(Number.isSafeInteger(result.points)).toBe(true)
          expect(result.points).toBeGreaterThanOrEqual(0)
          for (const l of result.lines) expect(Number.isSafeInteger(l.points)).toBe(true)
          expect(result.lines.reduce((s, l) => s + l.points, 0)).toBe(result.points)
          expect(result.byLine).toHaveLength(b.lines.length)
          for (const share of result.byLine) {
            expect(Number.isSafeInteger(share)).toBe(true)
            expect(share).toBeGreaterThanOrEqual(0)
          }
          expect(result.byLine.reduce((s, v) => s + v, 0)).toBeLessThanOrEqual(result.points)
          const activity = evaluateActivity(compiled, 'first_purchase', m, now)
          expect(Number.isSafeInteger(activity.points)).toBe(true)
        }
      }),
      { numRuns: Number(process.env['PROPERTY_RUNS'] ?? 3000) },
    )
    expect(accepted).toBeGreaterThan(300)
  })
})
