/**
 * Goal: `evaluatePurchase` gives what the ruleset says, line by line: a
 * multiplier with `items` multiplies only the points the matching lines
 * earned (rounded as item-filtered rules round, caps shared alike), a tier
 * below ×1 earns less as written, promo codes match whatever their case, and
 * `earnRefusal` refuses a basket whose points one command may not carry,
 * stating a figure only when it is exact; preview and purchase refuse alike;
 * the points attributed to lines (for returns by line) add up.
 * Method: worked examples on the demo program and small programs, evaluated
 * directly (validated, then compiled), and one engine run for the refusal.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { openEngine, type Engine } from '../engine.ts'
import { FakeClock } from '../testing/clock.ts'
import { oneProgram } from '../testing/programs.ts'
import { compileRuleset } from './compile.ts'
import { demoRuleset } from './demo.ts'
import { applyUsage, earnRefusal, evaluatePurchase, type Evaluation } from './evaluate.ts'
import type { Basket, BasketLine, ProgramDoc, RuleDoc, RulesetDoc } from './types.ts'
import { validateRuleset } from './validate.ts'

/** Thursday 2026-01-22, noon UTC: no weekend campaign. */
const thursday = Date.UTC(2026, 0, 22, 12)
const saturday = Date.UTC(2026, 0, 24, 12)

function demo(edit: (program: ProgramDoc) => void = () => {}): RulesetDoc {
  const doc = structuredClone(demoRuleset)
  edit(doc.programs[0]!)
  return doc
}

/** A one-program ruleset, tier `base` at ×1 unless told otherwise. */
function program(rules: RuleDoc[], overrides: Partial<ProgramDoc> = {}): RulesetDoc {
  return oneProgram({ rules, ...overrides })
}

interface Options {
  tier?: string
  at?: number
  firstPurchase?: boolean
  /** Compile without validating: a version stored before a check existed. */
  unchecked?: boolean
}

function evaluate(doc: RulesetDoc, basket: Basket, options: Options = {}): Evaluation {
  if (options.unchecked !== true) expect(validateRuleset(doc)).toMatchObject({ ok: true })
  const compiled = compileRuleset(doc, 1).programs.get(doc.programs[0]!.id)!
  const member = {
    tier: options.tier ?? compiled.tiers[0]!.id,
    facts: {},
    usage: {},
    firstPurchase: options.firstPurchase ?? false,
  }
  return evaluatePurchase(compiled, basket, member, options.at ?? thursday, { left: () => 1 })
}

const coffee = (quantity: number, unitPrice: number, sku = 'latte'): BasketLine => ({ sku, category: 'coffee', quantity, unitPrice })
const shoes = (unitPrice: number): BasketLine => ({ sku: 'runner', category: 'shoes', quantity: 1, unitPrice })

const x2coffee: RuleDoc = { id: 'x2coffee', kind: 'multiplier', multiplier: 2000, items: { categories: ['coffee'] } }

describe('a multiplier with items', () => {
  it('leaves a basket without matching lines alone: $100 of shoes earn 100, not 200', () => {
    const result = evaluate(demo((p) => p.rules.push(x2coffee)), { lines: [shoes(10_000)] })
    expect(result.points).toBe(100)
    expect(result.lines).toEqual([{ source: 'rule', id: 'base', name: '1 point per $1', points: 100 }])
  })

  it('multiplies the points the matching lines earned, each base rule rounding as it does alone', () => {
    // Two coffees at $0.60 and shoes at $99.90: the spend rule gives floor(101.10) = 101, of
    // which the coffee's $1.20 earned floor(1.20) = 1; the coffee rule gives 2 × 10 = 20.
    const result = evaluate(demo((p) => p.rules.push(x2coffee)), { lines: [coffee(2, 60), shoes(9990)] })
    expect(result.lines.map((line) => [line.id, line.points])).toEqual([
      ['base', 101],
      ['coffee', 20],
      ['x2coffee', 21],
    ])
    expect(result.points).toBe(142)
  })

  it('rounds its own share down like every multiplier: ×1.5 on 3 points adds 1', () => {
    const rules: RuleDoc[] = [
      { id: 'spend', kind: 'perSpend', points: 1, per: 100 },
      { ...x2coffee, multiplier: 1500 },
    ]
    expect(evaluate(program(rules), { lines: [coffee(1, 300), shoes(10_000)] }).points).toBe(104)
  })

  it('shares a cap of a base rule across its lines: capped at 50 of 100, $80 of coffee count 40', () => {
    const rules: RuleDoc[] = [
      { id: 'spend', kind: 'perSpend', points: 1, per: 100, caps: { perTransaction: 50 } },
      x2coffee,
    ]
    const result = evaluate(program(rules), { lines: [coffee(1, 8000), shoes(2000)] })
    expect(result.lines).toEqual([
      { source: 'rule', id: 'spend', points: 50, cut: 'cap' },
      { source: 'rule', id: 'x2coffee', points: 40 },
    ])
  })

  it('counts lines matching both its filter and a base rule`s, and never excluded lines', () => {
    const rules: RuleDoc[] = [
      { id: 'spend', kind: 'perSpend', points: 1, per: 100 },
      { id: 'special', kind: 'perItem', points: 7, items: { skus: ['special'] } },
      { id: 'x3coffee', kind: 'multiplier', multiplier: 3000, items: { categories: ['coffee'] } },
    ]
    const basket = {
      lines: [coffee(2, 500, 'special'), coffee(1, 400), coffee(1, 5000, 'coffee-card'), { sku: 'special', quantity: 1, unitPrice: 100 }],
    }
    const result = evaluate(program(rules, { excluded: { skus: ['coffee-card'] } }), basket)
    // Spend 15 (the card is excluded), of which the coffee lines earned 14; special 3 × 7, of
    // which 2 × 7 on coffee. The multiplier adds 2 × (14 + 14).
    expect(result.lines.map((line) => [line.id, line.points])).toEqual([
      ['spend', 15],
      ['special', 21],
      ['x3coffee', 56],
    ])
  })

  it('leaves fixed bonuses out (they belong to the purchase), which a multiplier without items doubles', () => {
    const rules = (multiplier: RuleDoc): RuleDoc[] => [
      { id: 'spend', kind: 'perSpend', points: 1, per: 100 },
      { id: 'visit', kind: 'fixed', points: 25 },
      multiplier,
    ]
    const basket = { lines: [coffee(1, 1000)] }
    expect(evaluate(program(rules(x2coffee)), basket).points).toBe(10 + 25 + 10)
    const { items: _, ...everything } = x2coffee
    expect(evaluate(program(rules(everything)), basket).points).toBe(10 + 25 + 35)
  })

  it('applies in a campaign too: double points on coffee at weekends', () => {
    const doc = demo((p) => {
      p.campaigns![0]!.rules = [{ id: 'x2', kind: 'multiplier', multiplier: 2000, items: { categories: ['coffee'] } }]
    })
    const basket = { lines: [coffee(2, 60), shoes(9990)] }
    expect(evaluate(doc, basket, { at: saturday }).lines.map((line) => [line.id, line.points])).toEqual([
      ['base', 101],
      ['coffee', 20],
      ['double-weekend/x2', 21],
    ])
    expect(evaluate(doc, basket, { at: thursday }).points).toBe(121)
    // The demo's own weekend campaign has no items: it doubles the whole base.
    expect(evaluate(demo(), basket, { at: saturday }).points).toBe(242)
  })

  it('keeps a fixed rule with items honouring them: it applies only with a matching line', () => {
    const rules: RuleDoc[] = [{ id: 'coffee-visit', kind: 'fixed', points: 25, items: { categories: ['coffee'] } }]
    expect(evaluate(program(rules), { lines: [shoes(500)] }).points).toBe(0)
    expect(evaluate(program(rules), { lines: [shoes(500), coffee(1, 300)] }).points).toBe(25)
  })
})

describe('multipliers below ×1', () => {
  const tiers = (multiplier: number) => [
    { id: 'basic', name: 'Basic', threshold: 0, multiplier },
    { id: 'silver', name: 'Silver', threshold: 1000, multiplier: 1250 },
  ]
  const spend: RuleDoc[] = [{ id: 'spend', kind: 'perSpend', points: 1, per: 100 }]
  const basket = { lines: [shoes(10_100)] }

  it('work as written on a tier: ×0.5 earns half of the base (rounded down), ×0 none of it', () => {
    const half = evaluate(program(spend, { tiers: tiers(500) }), basket)
    expect(half.lines).toEqual([
      { source: 'rule', id: 'spend', points: 101 },
      { source: 'tier', id: 'basic', name: 'Basic', points: -51 },
    ])
    expect(half).toMatchObject({ points: 50, qualifyingPoints: 50 })
    expect(evaluate(program(spend, { tiers: tiers(0) }), basket).points).toBe(0)
    // Above ×1 as before: 101 + floor(101 × 0.25).
    expect(evaluate(program(spend, { tiers: tiers(500) }), basket, { tier: 'silver' }).points).toBe(126)
  })

  it('scale only the base: a campaign bonus and a first-purchase reward are not halved', () => {
    const doc = demo((p) => {
      p.tiers[0]!.multiplier = 500
    })
    const result = evaluate(doc, { lines: [shoes(10_100)], promoCodes: ['WELCOME'] }, { firstPurchase: true })
    expect(result.points).toBe(50 + 200 + 100)
  })

  it('add nothing on a rule of a version stored before the validator refused them', () => {
    for (const multiplier of [0, 500]) {
      const rules: RuleDoc[] = [...spend, { id: 'm', kind: 'multiplier', multiplier }]
      const result = evaluate(program(rules), basket, { unchecked: true })
      expect(result.lines).toEqual([{ source: 'rule', id: 'spend', points: 101 }])
    }
  })
})

describe('promo codes', () => {
  it('match whatever the case the cashier types', () => {
    for (const code of ['WELCOME', 'welcome', 'Welcome', ' welcome ']) {
      const result = evaluate(demo(), { lines: [shoes(1000)], promoCodes: [code] })
      expect(result.lines.map((line) => line.id), code).toEqual(['base', 'welcome/bonus'])
    }
    expect(evaluate(demo(), { lines: [shoes(1000)], promoCodes: ['WELCOME1'] }).points).toBe(10)
  })

  it('match on rule conditions too, whatever case the ruleset writes them in', () => {
    const rules: RuleDoc[] = [{ id: 'code', kind: 'fixed', points: 5, when: { promoCode: 'Spring24' } }]
    expect(evaluate(program(rules), { lines: [shoes(100)], promoCodes: ['SPRING24'] }).points).toBe(5)
    expect(evaluate(program(rules), { lines: [shoes(100)] }).points).toBe(0)
  })
})

describe('earnRefusal', () => {
  const refusal = (doc: RulesetDoc, basket: Basket, options: Options = {}) =>
    earnRefusal(basket, evaluate(doc, basket, options))
  const lines = (count: number, quantity: number, unitPrice: number, category = 'coffee') =>
    Array.from({ length: count }, (_, i) => ({ sku: `s${i}`, category, quantity, unitPrice }))

  it('lets through up to the most one command may carry, and states an exact figure beyond it', () => {
    const perCent = program([{ id: 'cent', kind: 'perSpend', points: 1, per: 1 }])
    expect(refusal(perCent, { lines: lines(1, 1_000_000, 1_000_000) })).toBeUndefined()
    expect(refusal(perCent, { lines: lines(1, 1_000_000, 1_000_001) })).toBe(
      'the basket would earn 1000001000000 points, more than 1000000000000',
    )
  })

  it('states the exact figure when a multiplier`s product passes 2^53 on the way', () => {
    // 933837564 × 9484 = 8856515456976 base points; ×95.251 adds floor(base × 94251 / 1000)
    // = 834735438335444, which floating point made one higher.
    const rules: RuleDoc[] = [
      { id: 'unit', kind: 'perItem', points: 933_837_564 },
      { id: 'm', kind: 'multiplier', multiplier: 95_251 },
    ]
    expect(refusal(program(rules), { lines: lines(1, 9484, 1) })).toBe(
      'the basket would earn 843591953792420 points, more than 1000000000000',
    )
  })

  it('names the bound, not an approximation, past 2^53: 1,000 lines of 10^6 × $10^8', () => {
    const huge = { lines: lines(1000, 1_000_000, 10_000_000_000) }
    expect(refusal(demo(), huge, { firstPurchase: true })).toBe(
      'the basket would earn more than 1000000000000 points, too many to count exactly',
    )
    // Money past 2^53 cannot be counted on exactly even when it would earn little.
    const perTrillion = program([{ id: 'rare', kind: 'perSpend', points: 1, per: 1_000_000_000_000 }])
    expect(refusal(perTrillion, huge)).toBe(
      "the basket's lines add up to more than 9007199254740991 in minor units, too much to count points on exactly",
    )
    // A tier at ×0 brings 10^16 points back to 0: the figures on the way were not exact.
    const zero = program([{ id: 'unit', kind: 'perItem', points: 1_000_000_000 }], {
      tiers: [{ id: 'none', name: 'None', threshold: 0, multiplier: 0 }],
    })
    expect(refusal(zero, { lines: lines(10, 1_000_000, 1) })).toContain('rules give more than 9007199254740991 points')
  })
  it('refuses, rather than crashes on, a spend rule whose points pass 2^53 on lines of different sizes', () => {
    // 4539750 points a cent on $594,473,959.28 is about 2.7 × 10^17: splitting that over the lines
    // in floating point left more points to hand out than lines to take them, and threw a TypeError.
    const perCent = program([{ id: 'cent', kind: 'perSpend', points: 4_539_750, per: 1 }])
    const basket = {
      lines: [
        { sku: 'a', quantity: 80, unitPrice: 738_260_037 },
        { sku: 'b', quantity: 1, unitPrice: 386_592_968 },
        { sku: 'c', quantity: 1, unitPrice: 0 },
      ],
    }
    expect(refusal(perCent, basket)).toBe('the basket would earn more than 1000000000000 points, too many to count exactly')
  })
})

describe('preview and purchase of a basket too large to earn on', () => {
  let engine: Engine | undefined
  afterEach(async () => {
    await engine?.close()
    engine = undefined
  })

  it('refuse it alike, naming the basket, and change nothing', async () => {
    engine = await openEngine({ storage: 'memory', shards: 1, clock: new FakeClock().read })
    expect(await engine.rules.publish(demoRuleset, { activate: true })).toMatchObject({ ok: true })
    expect(await engine.execute({ op: 'enroll', account: 'm1', key: 'j', program: 'demo' })).toMatchObject({ status: 'ok' })
    const huge = {
      lines: Array.from({ length: 1000 }, (_, i) => ({ sku: `s${i}`, category: 'coffee', quantity: 1_000_000, unitPrice: 10_000_000_000 })),
    }
    const refused = {
      status: 'invalid_request',
      field: 'basket',
      message: 'the basket would earn more than 1000000000000 points, too many to count exactly',
    }
    expect(await engine.execute({ op: 'preview', account: 'm1', basket: huge })).toEqual(refused)
    expect(await engine.execute({ op: 'purchase', account: 'm1', key: 'p', basket: huge })).toEqual(refused)
    // The console's preview of a ruleset refuses it too.
    expect(engine.rules.preview({ program: 'demo', basket: huge })).toEqual({ ok: false, errors: [{ path: 'basket', message: refused.message }] })
    // An ordinary basket still previews and buys.
    const basket = { lines: [shoes(10_000)] }
    expect(await engine.execute({ op: 'preview', account: 'm1', basket })).toMatchObject({ status: 'ok', points: 200 })
    expect(await engine.execute({ op: 'balance', account: 'm1' })).toMatchObject({ balance: { available: 100 } })
  })
})

describe('points attributed to basket lines', () => {
  const line = fc.record({
    sku: fc.constantFrom('latte', 'mug', 'tv', 'card', 'runner'),
    category: fc.constantFrom('coffee', 'home', 'tv', 'gift-cards', 'shoes'),
    quantity: fc.integer({ min: 1, max: 20 }),
    unitPrice: fc.integer({ min: 0, max: 200_000 }),
  })
  const docs = [
    demo(),
    demo((p) => p.rules.push(x2coffee, { id: 'visit', kind: 'fixed', points: 25 })),
    demo((p) => (p.tiers[0]!.multiplier = 500)),
  ]

  it('never add up to more than the qualifying points, give excluded lines none, and none is negative', () => {
    fc.assert(
      fc.property(
        fc.array(line, { minLength: 1, maxLength: 8 }),
        fc.constantFrom(0, 1, 2),
        fc.constantFrom('bronze', 'silver', 'platinum'),
        fc.constantFrom(thursday, saturday),
        (lines, which, tier, at) => {
          const result = evaluate(docs[which]!, { lines }, { tier, at, firstPurchase: true })
          const attributed = result.byLine.reduce((total, points) => total + points, 0)
          expect(result.byLine).toHaveLength(lines.length)
          expect(attributed).toBeLessThanOrEqual(Math.max(0, result.qualifyingPoints))
          lines.forEach((l, i) => {
            if (l.category === 'gift-cards' || l.unitPrice === 0) expect(result.byLine[i]).toBe(0)
            expect(result.byLine[i]).toBeGreaterThanOrEqual(0)
          })
          // Every qualifying point is on some line, once a line is eligible to carry it.
          if (lines.some((l) => l.category !== 'gift-cards' && l.unitPrice > 0)) expect(attributed).toBe(result.qualifyingPoints)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('splits points over many lines exactly, equal remainders going to the earlier lines', () => {
    // 50 lines of $0.99: 49 points, 0.98 a line; every line's floor is 0, so 49 lines get one each.
    const lines = Array.from({ length: 50 }, (_, i) => ({ sku: `s${i}`, category: 'home', quantity: 1, unitPrice: 99 }))
    const result = evaluate(program([{ id: 'base', kind: 'perSpend', points: 1, per: 100 }]), { lines })
    expect(result.points).toBe(49)
    expect(result.byLine).toEqual([...Array<number>(49).fill(1), 0])
    // A smaller basket after it still sees only its own lines.
    const small = evaluate(program([{ id: 'base', kind: 'perSpend', points: 1, per: 100 }]), { lines: lines.slice(0, 3) })
    expect(small.byLine).toEqual([1, 1, 0])
  })

  it('puts a multiplier with items on its lines even when a capped base left them none (second review)', () => {
    const doc = program([{ id: 'spend', kind: 'perSpend', points: 1, per: 100, caps: { perTransaction: 2 } }, x2coffee])
    const tea = { sku: 'tea', category: 'tea', quantity: 1, unitPrice: 120 }
    const result = evaluate(doc, { lines: [tea, tea, coffee(1, 99), coffee(1, 99), coffee(1, 99), coffee(1, 99)] })
    expect(result.points).toBe(3)
    expect(result.byLine.reduce((total, points) => total + points, 0)).toBe(3)
    // The multiplier's 1 point lands on a coffee.
    expect(result.byLine.slice(2).reduce((total, points) => total + points, 0)).toBeGreaterThanOrEqual(1)
  })

  it('puts every point of spend and item rules, tiers and multipliers on lines, by largest remainder', () => {
    const result = evaluate(demo(), { lines: [coffee(3, 450), { sku: 'mug', category: 'home', quantity: 1, unitPrice: 1_000 }] }, { tier: 'silver' })
    // base 23 (13.2 and 9.8 → 13 and 10), coffee 30 on the lattes; silver ×1.25 adds floor(53 × 1.25) − 53 = 13,
    // split by the base (43 and 10 of 53: 10.55 and 2.45 → 10 and 2, the one left to the larger remainder).
    expect(result.points).toBe(66)
    expect(result.byLine).toEqual([13 + 30 + 11, 10 + 2])
  })
})

describe('per-member caps of campaign rules', () => {
  it('are counted apart for every campaign and rule, even when ids contain ":"', () => {
    // Campaign "a" with rule "b:c" and campaign "a:b" with rule "c" once shared the counter
    // "c:a:b:c:d": the second campaign's points used up the first one's daily cap.
    const capped = (id: string, rule: string, when?: { promoCode: string }) => ({
      id,
      name: id,
      from: '2026-01-01T00:00:00Z',
      to: '2027-01-01T00:00:00Z',
      priority: 0,
      stacking: 'combinable' as const,
      ...(when === undefined ? {} : { when }),
      rules: [{ id: rule, kind: 'fixed' as const, points: 5, caps: { perMemberPerDay: 5 } }],
    })
    const doc = program([], { campaigns: [capped('a', 'b:c', { promoCode: 'A' }), capped('a:b', 'c')] })
    expect(validateRuleset(doc)).toMatchObject({ ok: true })
    const compiled = compileRuleset(doc, 1).programs.get('p')!
    const member = { tier: 'base', facts: {}, usage: {}, firstPurchase: false }
    const first = evaluatePurchase(compiled, { lines: [shoes(100)] }, member, thursday, { left: () => 1 })
    expect(first.lines.map((line) => [line.id, line.points])).toEqual([['a:b/c', 5]])
    applyUsage(member.usage, first.usage)
    const second = evaluatePurchase(compiled, { lines: [shoes(100)], promoCodes: ['A'] }, member, thursday, { left: () => 1 })
    // "a:b" has used its cap today (a campaign its caps bring to 0 gives no line); "a" has not.
    expect(second.lines).toEqual([{ source: 'campaign', id: 'a/b:c', points: 5 }])
  })
})

describe('hours wrapping midnight with days of the week', () => {
  it('belong to the day they start on: Friday 22:00 to 02:00 runs into Saturday, not from Thursday', () => {
    const doc = program([{ id: 'late', kind: 'fixed', points: 10, when: { daysOfWeek: [5], hours: { from: '22:00', to: '02:00' } } }])
    const at = (iso: string) => evaluate(doc, { lines: [shoes(100)] }, { at: Date.parse(iso) }).points
    expect(at('2026-01-23T23:00:00Z')).toBe(10) // Friday night
    expect(at('2026-01-24T01:30:00Z')).toBe(10) // still Friday night, after midnight
    expect(at('2026-01-24T02:00:00Z')).toBe(0) // the window has ended
    expect(at('2026-01-23T01:30:00Z')).toBe(0) // Thursday night, after midnight
    expect(at('2026-01-24T23:00:00Z')).toBe(0) // Saturday night
    const sunday = program([{ id: 'late', kind: 'fixed', points: 10, when: { daysOfWeek: [7], hours: { from: '22:00', to: '02:00' } } }])
    expect(evaluate(sunday, { lines: [shoes(100)] }, { at: Date.parse('2026-01-26T01:00:00Z') }).points).toBe(10) // Monday 01:00
  })
})
