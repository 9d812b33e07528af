/**
 * A one-program ruleset for tests: program `p` in USD at one point per $1
 * spent, tier `base` at ×1, points that never expire. Tests change what
 * they are about and leave the rest.
 *
 * @module
 */
import type { ProgramDoc, RulesetDoc } from '../rules/types.ts'

export function oneProgram(overrides: Partial<ProgramDoc> = {}): RulesetDoc {
  return {
    programs: [
      {
        id: 'p',
        name: 'Test',
        pointName: 'points',
        currency: 'USD',
        pointValue: 1,
        earnBase: 'net',
        expiry: { kind: 'never' },
        negativeBalanceOnReturn: true,
        tiers: [{ id: 'base', name: 'Base', threshold: 0 }],
        qualification: { basis: 'points', period: 'rolling12Months', review: 'recompute' },
        rules: [{ id: 'spend', kind: 'perSpend', points: 1, per: 100 }],
        ...overrides,
      },
    ],
  }
}
