/** Dashboard figures: liability by currency, and tiers in program order with empty ones. */
import { describe, expect, it } from 'vitest'
import { demoRuleset } from '../../../engine/src/rules/demo.ts'
import { liabilityByCurrency, tierRows } from './stats.ts'
import type { Stats } from './types.ts'

const stats = (parts: Partial<Stats>): Stats => ({
  status: 'ok', at: 0,
  members: { total: 0, active: 0, suspended: 0, closed: 0 },
  points: { issued: 0, redeemed: 0, expired: 0, outstanding: 0, held: 0 },
  liability: [], tiers: [], ...parts,
})

describe('liabilityByCurrency', () => {
  it('adds up programs that share a currency and keeps the others apart', () => {
    const rows = liabilityByCurrency(stats({ liability: [
      { program: 'a', points: 100, money: 100, currency: 'USD' },
      { program: 'b', points: 50, money: 250, currency: 'EUR' },
      { program: 'c', points: 10, money: 20, currency: 'USD' },
    ] }))
    expect(rows).toEqual([{ currency: 'USD', money: 120, points: 110 }, { currency: 'EUR', money: 250, points: 50 }])
  })
})

describe('tierRows', () => {
  const counted = stats({ tiers: [
    { program: 'demo', tier: 'gold', name: 'Gold', accounts: 3 },
    { program: 'demo', tier: 'bronze', name: 'Bronze', accounts: 990 },
    { program: 'demo', tier: 'legacy', accounts: 7 },
    { program: 'other', tier: 'basic', accounts: 1 },
  ] })

  it('lists every tier of the program in its order, empty ones as 0, unknown ones last', () => {
    expect(tierRows(counted, demoRuleset.programs, 'demo')).toEqual([
      { label: 'Bronze', value: 990 },
      { label: 'Silver', value: 0 },
      { label: 'Gold', value: 3 },
      { label: 'Platinum', value: 0 },
      { label: 'legacy', value: 7 },
    ])
  })

  it('shows what the figures have when the ruleset is not at hand', () => {
    expect(tierRows(counted, undefined, 'demo').map((row) => row.label)).toEqual(['Gold', 'Bronze', 'legacy'])
    expect(tierRows(counted, demoRuleset.programs, 'other')).toEqual([{ label: 'basic', value: 1 }])
  })
})
