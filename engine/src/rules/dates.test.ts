/**
 * Bare dates in a ruleset (`"from": "2026-12-01"`) are days in the program's
 * `timeZone`: a window runs from local midnight starting its `from` day up
 * to, not including, local midnight starting its `to` day. They used to be
 * read as UTC midnight whatever the program's zone. Instants with `Z` or an
 * offset keep their meaning. Checked through the compiler, the evaluator and
 * validation, in zones far from UTC and on days when the clocks change.
 */
import { describe, expect, it } from 'vitest'
import { oneProgram } from '../testing/programs.ts'
import { compileRuleset, type CompiledProgram } from './compile.ts'
import { evaluatePurchase } from './evaluate.ts'
import type { CampaignDoc, ProgramDoc, RuleDoc, RulesetDoc } from './types.ts'
import { validateRuleset } from './validate.ts'

const iso = (ms: number) => new Date(ms).toISOString()

function campaign(from: string, to: string, rules: RuleDoc[] = [{ id: 'bonus', kind: 'fixed', points: 50 }]): CampaignDoc {
  return { id: 'c', name: 'Campaign', from, to, priority: 0, stacking: 'combinable', rules }
}

function valid(doc: RulesetDoc): RulesetDoc {
  expect(validateRuleset(doc)).toMatchObject({ ok: true })
  return doc
}

function compiled(overrides: Partial<ProgramDoc>): CompiledProgram {
  return compileRuleset(valid(oneProgram(overrides)), 1).programs.get('p')!
}

/** The campaign's window as compiled, in UTC. */
function window(timeZone: string | undefined, from: string, to: string): [string, string] {
  const c = compiled({ ...(timeZone === undefined ? {} : { timeZone }), campaigns: [campaign(from, to)] }).campaigns[0]!
  return [iso(c.from), iso(c.to)]
}

/** Points a $10 purchase earns at `at`: 10 from the base rule, plus whatever else applies. */
function pointsAt(program: CompiledProgram, at: string): number {
  const basket = { lines: [{ sku: 'a', quantity: 1, unitPrice: 1000 }] }
  const member = { tier: 'base', facts: {}, usage: {}, firstPurchase: false }
  return evaluatePurchase(program, basket, member, Date.parse(at), { left: () => 1 }).points
}

describe('bare dates in rulesets are days in the program\'s time zone', () => {
  it('starts a campaign at local midnight of its from day and ends it at local midnight of its to day', () => {
    expect(window('Europe/Berlin', '2026-12-01', '2027-01-01')).toEqual(['2026-11-30T23:00:00.000Z', '2026-12-31T23:00:00.000Z'])
    // Far from UTC, either way: 13 hours ahead in the New Zealand summer, 8 behind in California's winter.
    expect(window('Pacific/Auckland', '2026-12-01', '2026-12-02')).toEqual(['2026-11-30T11:00:00.000Z', '2026-12-01T11:00:00.000Z'])
    expect(window('America/Los_Angeles', '2026-12-01', '2026-12-02')).toEqual(['2026-12-01T08:00:00.000Z', '2026-12-02T08:00:00.000Z'])
    // Without a zone the program is in UTC, as before.
    expect(window(undefined, '2026-12-01', '2026-12-02')).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z'])
    expect(window('UTC', '2026-12-01', '2026-12-02')).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z'])
  })

  it('follows the clocks on days they change: 23- and 25-hour days, and a day whose midnight does not exist', () => {
    // Berlin springs forward at 02:00 on 29 March 2026: midnight is +01:00, the next one +02:00.
    expect(window('Europe/Berlin', '2026-03-29', '2026-03-30')).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'])
    // Los Angeles falls back at 02:00 on 1 November 2026: a 25-hour day.
    expect(window('America/Los_Angeles', '2026-11-01', '2026-11-02')).toEqual(['2026-11-01T07:00:00.000Z', '2026-11-02T08:00:00.000Z'])
    // Auckland springs forward on 27 September 2026 (02:00 to 03:00), and falls back on 5 April 2026.
    expect(window('Pacific/Auckland', '2026-09-27', '2026-09-28')).toEqual(['2026-09-26T12:00:00.000Z', '2026-09-27T11:00:00.000Z'])
    expect(window('Pacific/Auckland', '2026-04-05', '2026-04-06')).toEqual(['2026-04-04T11:00:00.000Z', '2026-04-05T12:00:00.000Z'])
    // Santiago springs forward at midnight on 6 September 2026: the day starts at 01:00 (-03:00).
    expect(window('America/Santiago', '2026-09-06', '2026-09-07')).toEqual(['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z'])
  })

  it('keeps instants with Z or an offset as they are, whatever the program\'s zone', () => {
    expect(window('Pacific/Auckland', '2026-12-01T00:00:00Z', '2026-12-02T00:00:00+01:00')).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-01T23:00:00.000Z'])
    // Mixed: a local day's start, and an instant.
    expect(window('America/Los_Angeles', '2026-12-01', '2026-12-01T12:00:00Z')).toEqual(['2026-12-01T08:00:00.000Z', '2026-12-01T12:00:00.000Z'])
  })

  it('applies a one-day campaign, and a rule\'s own dates, for exactly that local day: from inclusive, to exclusive', () => {
    const auckland = compiled({ timeZone: 'Pacific/Auckland', campaigns: [campaign('2026-12-01', '2026-12-02')] })
    expect(pointsAt(auckland, '2026-11-30T10:59:59.999Z')).toBe(10)
    expect(pointsAt(auckland, '2026-11-30T11:00:00.000Z')).toBe(60)
    expect(pointsAt(auckland, '2026-12-01T10:59:59.999Z')).toBe(60)
    expect(pointsAt(auckland, '2026-12-01T11:00:00.000Z')).toBe(10)
    // A rule's own dates (conditions), in Los Angeles.
    const dated: RuleDoc = { id: 'december', kind: 'fixed', points: 7, when: { from: '2026-12-01', to: '2027-01-01' } }
    const la = compiled({ timeZone: 'America/Los_Angeles', rules: [{ id: 'spend', kind: 'perSpend', points: 1, per: 100 }, dated] })
    expect(pointsAt(la, '2026-12-01T07:59:59.999Z')).toBe(10)
    expect(pointsAt(la, '2026-12-01T08:00:00.000Z')).toBe(17)
    expect(pointsAt(la, '2027-01-01T07:59:59.999Z')).toBe(17)
    expect(pointsAt(la, '2027-01-01T08:00:00.000Z')).toBe(10)
  })

  it('validates windows in the program\'s zone: order, and whether a rule\'s dates meet its campaign\'s', () => {
    // 1 December in Los Angeles starts at 08:00 UTC, after 06:00 UTC.
    const backwards = oneProgram({ timeZone: 'America/Los_Angeles', campaigns: [campaign('2026-12-01', '2026-12-01T06:00:00Z')] })
    expect(validateRuleset(backwards)).toMatchObject({ ok: false, errors: [{ path: 'programs[0].campaigns[0].to', message: expect.stringMatching(/^must be later than "from"/) }] })
    // The rule's dates end at 08:00 UTC, after the campaign starts (05:00 UTC): they meet.
    const rule: RuleDoc = { id: 'bonus', kind: 'fixed', points: 5, when: { to: '2026-12-01' } }
    const meets = oneProgram({ timeZone: 'America/Los_Angeles', campaigns: [campaign('2026-12-01T05:00:00Z', '2026-12-10T00:00:00Z', [rule])] })
    expect(validateRuleset(meets)).toMatchObject({ ok: true })
    // In UTC the same rule would end before the campaign starts, and never apply.
    const never = oneProgram({ campaigns: [campaign('2026-12-01T05:00:00Z', '2026-12-10T00:00:00Z', [rule])] })
    expect(validateRuleset(never)).toMatchObject({ ok: false, errors: [{ path: 'programs[0].campaigns[0].rules[0].when.to', message: expect.stringMatching(/never meets the campaign's dates/) }] })
  })

  it('still refuses a date that does not exist and a time without a zone, saying a bare date is local midnight', () => {
    const bad = oneProgram({ timeZone: 'Europe/Berlin', campaigns: [campaign('2026-02-29', '2026-03-01T00:00')] })
    const result = validateRuleset(bad)
    expect(result).toMatchObject({ ok: false })
    const errors = result.ok ? [] : result.errors
    expect(errors).toContainEqual({ path: 'programs[0].campaigns[0].from', message: expect.stringContaining('or a date "YYYY-MM-DD" (midnight in the program\'s timeZone)') })
    expect(errors).toContainEqual({ path: 'programs[0].campaigns[0].to', message: expect.stringMatching(/^has no time zone designator \(add "Z" or an offset such as "\+01:00", or give a date alone for midnight in the program's timeZone\)/) })
  })
})
