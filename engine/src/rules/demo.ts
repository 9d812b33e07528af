/**
 * The demo program, published and activated when a data folder has no
 * ruleset yet, so a fresh `npm start` has something to earn on. Its tier
 * table is the one the product brief gives: Bronze 0 (100 points on joining),
 * Silver 10,000 (500 on reaching it), Gold 20,000 (1,000), Platinum 50,000
 * (2,500) qualifying points over the last 12 months.
 *
 * @module
 */
import type { RulesetDoc } from './types.ts'

export const demoRuleset: RulesetDoc = {
  programs: [
    {
      id: 'demo',
      name: 'Demo Rewards',
      pointName: 'points',
      currency: 'USD',
      pointValue: 1,
      earnBase: 'net',
      timeZone: 'UTC',
      expiry: { kind: 'endOfYear', years: 1 },
      pendingDays: 0,
      negativeBalanceOnReturn: true,
      excluded: { categories: ['gift-cards', 'tobacco'] },
      tiers: [
        { id: 'bronze', name: 'Bronze', threshold: 0, bonus: 100 },
        { id: 'silver', name: 'Silver', threshold: 10_000, multiplier: 1250, bonus: 500 },
        { id: 'gold', name: 'Gold', threshold: 20_000, multiplier: 1500, bonus: 1000 },
        { id: 'platinum', name: 'Platinum', threshold: 50_000, multiplier: 2000, bonus: 2500 },
      ],
      qualification: { basis: 'points', period: 'rolling12Months', review: 'oneDown' },
      rules: [
        { id: 'base', name: '1 point per $1', kind: 'perSpend', points: 1, per: 100 },
        {
          id: 'coffee',
          name: '10 points per coffee',
          kind: 'perItem',
          points: 10,
          items: { categories: ['coffee'] },
          caps: { perMemberPerDay: 30 },
        },
      ],
      campaigns: [
        {
          id: 'double-weekend',
          name: 'Double points at weekends',
          from: '2026-01-01T00:00:00Z',
          to: '2028-01-01T00:00:00Z',
          priority: 10,
          stacking: 'combinable',
          when: { daysOfWeek: [6, 7] },
          rules: [{ id: 'x2', kind: 'multiplier', multiplier: 2000 }],
        },
        {
          id: 'welcome',
          name: '200 points for the first 1,000 members who use WELCOME',
          from: '2026-01-01T00:00:00Z',
          to: '2028-01-01T00:00:00Z',
          priority: 5,
          stacking: 'combinable',
          when: { promoCode: 'WELCOME' },
          quota: 1000,
          perMemberLimit: 1,
          rules: [{ id: 'bonus', kind: 'fixed', points: 200 }],
        },
      ],
      activities: [
        { id: 'referrer', event: 'referral_referrer', points: 500, limit: { count: 10, per: 'year' } },
        { id: 'referred', event: 'referral_referred', points: 250 },
        { id: 'birthday', event: 'birthday', points: 300 },
        { id: 'first-purchase', event: 'first_purchase', points: 100 },
        { id: 'newsletter', event: 'newsletter_signup', points: 50, limit: { count: 1, per: 'ever' } },
      ],
    },
  ],
}
