/** Progress to the next tier. */
import { describe, expect, it } from 'vitest'
import { demoRuleset } from '../../../engine/src/rules/demo.ts'
import { tierProgress } from './tiers.ts'

const tiers = demoRuleset.programs[0]!.tiers

describe('tierProgress', () => {
  it('measures from the current tier threshold to the next', () => {
    const p = tierProgress(tiers, 'silver', 15_000)
    expect(p.current?.id).toBe('silver')
    expect(p.next?.id).toBe('gold')
    expect(p.remaining).toBe(5000)
    expect(p.fraction).toBe(0.5)
  })

  it('is complete at the top tier', () => {
    expect(tierProgress(tiers, 'platinum', 80_000)).toMatchObject({ next: undefined, remaining: 0, fraction: 1 })
  })

  it('clamps a qualification below the tier (before a review) to zero progress', () => {
    expect(tierProgress(tiers, 'gold', 12_000)).toMatchObject({ remaining: 38_000, fraction: 0 })
  })

  it('finds the next tier by value for a tier the ruleset no longer has', () => {
    expect(tierProgress(tiers, 'retired', 12_000)).toMatchObject({ current: undefined, next: { id: 'gold' }, remaining: 8000 })
  })
})
