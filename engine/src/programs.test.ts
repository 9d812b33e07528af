/**
 * Programs end to end through the engine (memory storage, a fake clock):
 * rule kinds, campaigns and stacking, caps and limits, tiers up and down,
 * activities, expiry policies, returns, idempotency of program commands, and
 * ruleset versions recorded on the journal.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Entry, Reply } from './domain/types.ts'
import { openEngine, type Engine } from './engine.ts'
import { demoRuleset } from './rules/demo.ts'
import type { ProgramDoc, RuleDoc, RulesetDoc } from './rules/types.ts'
import { dayMs, FakeClock } from './testing/clock.ts'
import { oneProgram } from './testing/programs.ts'

let engine: Engine | undefined
afterEach(async () => {
  await engine?.close()
  engine = undefined
})

/** A one-program ruleset: 1 point per $1 unless the rules say otherwise. */
const program = oneProgram

async function start(doc: RulesetDoc, clock = new FakeClock()) {
  engine = await openEngine({ storage: 'memory', shards: 2, clock: clock.read })
  const published = await engine.rules.publish(doc, { activate: true })
  expect(published).toMatchObject({ ok: true, version: 1 })
  return { engine, clock }
}

let keys = 0
const key = () => `k${++keys}`

async function enroll(e: Engine, account: string, extra: Record<string, unknown> = {}) {
  const reply = await e.execute({ op: 'enroll', account, key: key(), program: 'p', ...extra })
  expect(reply.status).toBe('ok')
  return reply
}

function line(sku: string, unitPrice: number, extra: Record<string, unknown> = {}) {
  return { sku, quantity: 1, unitPrice, ...extra }
}

async function buy(e: Engine, account: string, lines: unknown[], extra: Record<string, unknown> = {}) {
  return e.execute({ op: 'purchase', account, key: key(), basket: { lines, ...extra } })
}

async function journal(e: Engine, account: string): Promise<Entry[]> {
  const reply = await e.execute({ op: 'history', account, limit: 100 })
  return (reply.entries ?? []).reverse()
}

describe('earning on purchases', () => {
  it('1 point per $1 with 200 points for 5% off: a $230 order earns 230', async () => {
    const { engine: e } = await start(program())
    await enroll(e, 'm1')
    const reply = await buy(e, 'm1', [line('tv', 23_000)])
    expect(reply).toMatchObject({ status: 'ok', points: 230, balance: { available: 230 } })
    expect(reply.breakdown).toEqual([{ source: 'rule', id: 'spend', points: 230 }])
  })

  it('earns on the discounted total: a $100 item at 10 points/$ with $10 off earns 900', async () => {
    const { engine: e } = await start(program({ rules: [{ id: 'r', kind: 'perSpend', points: 10, per: 100 }] }))
    await enroll(e, 'm1')
    expect((await buy(e, 'm1', [line('a', 10_000, { discount: 1000 })])).points).toBe(900)
  })

  it('earns on the gross total when the program says so: 1,000', async () => {
    const doc = program({ earnBase: 'gross', rules: [{ id: 'r', kind: 'perSpend', points: 10, per: 100 }] })
    const { engine: e } = await start(doc)
    await enroll(e, 'm1')
    expect((await buy(e, 'm1', [line('a', 10_000, { discount: 1000 })])).points).toBe(1000)
  })

  it('rounds down per full step: 5 points per $2.50 on a $3.00 order is 5', async () => {
    const { engine: e } = await start(program({ rules: [{ id: 'r', kind: 'perSpend', points: 5, per: 250 }] }))
    await enroll(e, 'm1')
    expect((await buy(e, 'm1', [line('a', 300)])).points).toBe(5)
  })

  it('applies item, category, fixed and excluded lines', async () => {
    const rules: RuleDoc[] = [
      { id: 'spend', kind: 'perSpend', points: 1, per: 100 },
      { id: 'coffee', kind: 'perItem', points: 10, items: { categories: ['coffee'] } },
      { id: 'sku', kind: 'perItem', points: 7, items: { skus: ['special'] } },
      { id: 'visit', kind: 'fixed', points: 25, when: { minSpend: 2000 } },
    ]
    const { engine: e } = await start(program({ rules, excluded: { categories: ['gift-cards'] } }))
    await enroll(e, 'm1')
    const reply = await buy(e, 'm1', [
      { sku: 'latte', category: 'coffee', quantity: 3, unitPrice: 400 },
      { sku: 'special', quantity: 2, unitPrice: 500 },
      { sku: 'gc50', category: 'gift-cards', quantity: 1, unitPrice: 5000 },
    ])
    // spend 12 + 2200 eligible cents → 22; coffee 30; special 14; visit 25 (eligible spend ≥ $20).
    expect(reply.breakdown).toEqual([
      { source: 'rule', id: 'spend', points: 22 },
      { source: 'rule', id: 'coffee', points: 30 },
      { source: 'rule', id: 'sku', points: 14 },
      { source: 'rule', id: 'visit', points: 25 },
    ])
    expect(reply.points).toBe(91)
  })

  it('filters by channel, store, tender, hours, days and member facts', async () => {
    const rules: RuleDoc[] = [
      { id: 'web', kind: 'fixed', points: 1, when: { channels: ['web'] } },
      { id: 'store7', kind: 'fixed', points: 2, when: { stores: ['s7'] } },
      { id: 'card', kind: 'fixed', points: 4, when: { tenders: ['card'] } },
      { id: 'lunch', kind: 'fixed', points: 8, when: { hours: { from: '11:30', to: '14:00' } } },
      { id: 'thursday', kind: 'fixed', points: 16, when: { daysOfWeek: [4] } },
      { id: 'vip', kind: 'fixed', points: 32, when: { segments: ['vip'], countries: ['DE'] } },
      { id: 'bday', kind: 'fixed', points: 64, when: { birthdayMonth: true } },
    ]
    // 2026-01-22 is a Thursday; the clock reads 12:00 UTC.
    const { engine: e } = await start(program({ rules }))
    await enroll(e, 'm1', { member: { segments: ['vip'], country: 'DE', birthDate: '1990-01-05' } })
    await enroll(e, 'm2', { member: { segments: ['new'], country: 'DE', birthDate: '1990-03-05' } })
    const basket = { channel: 'web', store: 's7', tender: 'card' }
    expect((await buy(e, 'm1', [line('a', 100)], basket)).points).toBe(127)
    expect((await buy(e, 'm2', [line('a', 100)], { channel: 'store', store: 's1' })).points).toBe(24)
  })

  it('caps a rule per purchase and per member per day, and says so', async () => {
    const rules: RuleDoc[] = [
      { id: 'spend', kind: 'perSpend', points: 1, per: 100, caps: { perTransaction: 50, perMemberPerDay: 80 } },
    ]
    const { engine: e, clock } = await start(program({ rules }))
    await enroll(e, 'm1')
    expect(await buy(e, 'm1', [line('a', 10_000)])).toMatchObject({
      points: 50,
      breakdown: [{ id: 'spend', points: 50, cut: 'cap' }],
    })
    expect((await buy(e, 'm1', [line('a', 10_000)])).points).toBe(30)
    expect((await buy(e, 'm1', [line('a', 10_000)])).points).toBe(0)
    clock.advance(dayMs)
    expect((await buy(e, 'm1', [line('a', 10_000)])).points).toBe(50)
  })

  it('journals a purchase that earns nothing, with its breakdown and ruleset version', async () => {
    const { engine: e } = await start(program())
    await enroll(e, 'm1')
    await buy(e, 'm1', [line('gum', 50)])
    const last = (await journal(e, 'm1')).at(-1)!
    expect(last).toMatchObject({ kind: 'earn', points: 0, reason: 'purchase', rulesetVersion: 1, breakdown: [] })
  })

  it('refuses a purchase on an account that has not joined, and a repeated purchase id', async () => {
    const { engine: e } = await start(program())
    expect((await buy(e, 'nobody', [line('a', 100)])).status).toBe('account_not_found')
    await e.execute({ op: 'earn', account: 'plain', key: key(), points: 5 })
    expect(await buy(e, 'plain', [line('a', 100)])).toMatchObject({ status: 'invalid_request', field: 'account' })
    await enroll(e, 'm1')
    expect((await e.execute({ op: 'purchase', account: 'm1', key: 'a', ref: 'r1', basket: { lines: [line('a', 100)] } })).status).toBe('ok')
    const again = await e.execute({ op: 'purchase', account: 'm1', key: 'b', ref: 'r1', basket: { lines: [line('a', 100)] } })
    expect(again).toMatchObject({ status: 'invalid_request', field: 'ref' })
  })

  it('replays a purchase by key and tells a different basket apart', async () => {
    const { engine: e } = await start(program())
    await enroll(e, 'm1')
    const first = await e.execute({ op: 'purchase', account: 'm1', key: 'p1', basket: { lines: [line('a', 1000)] } })
    const replay = await e.execute({ op: 'purchase', account: 'm1', key: 'p1', basket: { lines: [line('a', 1000)] } })
    expect(replay).toMatchObject({ status: 'exists', points: first.points, entry: first.entry })
    const other = await e.execute({ op: 'purchase', account: 'm1', key: 'p1', basket: { lines: [line('a', 2000)] } })
    expect(other.status).toBe('exists_with_different_payload')
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(10)
  })
})

describe('campaigns', () => {
  const window = { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' }

  it('stacks combinable campaigns and lets an exclusive one apply alone', async () => {
    const campaigns = [
      { id: 'x2', name: 'double', ...window, priority: 5, stacking: 'combinable' as const, rules: [{ id: 'm', kind: 'multiplier' as const, multiplier: 2000 }] },
      { id: 'plus', name: 'plus 10', ...window, priority: 4, stacking: 'combinable' as const, rules: [{ id: 'f', kind: 'fixed' as const, points: 10 }] },
      { id: 'x3', name: 'triple', ...window, priority: 9, stacking: 'exclusive' as const, when: { promoCode: 'BF' }, rules: [{ id: 'm', kind: 'multiplier' as const, multiplier: 3000 }] },
    ]
    const { engine: e } = await start(program({ campaigns }))
    await enroll(e, 'm1')
    const stacked = await buy(e, 'm1', [line('a', 10_000)])
    expect(stacked.breakdown).toEqual([
      { source: 'rule', id: 'spend', points: 100 },
      { source: 'campaign', id: 'x2/m', points: 100 },
      { source: 'campaign', id: 'plus/f', points: 10 },
    ])
    const exclusive = await buy(e, 'm1', [line('a', 10_000)], { promoCodes: ['BF'] })
    expect(exclusive.breakdown).toEqual([
      { source: 'rule', id: 'spend', points: 100 },
      { source: 'campaign', id: 'x3/m', points: 200 },
    ])
  })

  it('applies only inside its dates and to its segment, at most perMemberLimit times', async () => {
    const campaigns = [{
      id: 'vip', name: 'vip bonus', from: '2026-01-20T00:00:00Z', to: '2026-01-25T00:00:00Z', priority: 1,
      stacking: 'combinable' as const, when: { segments: ['vip'] }, perMemberLimit: 2,
      rules: [{ id: 'f', kind: 'fixed' as const, points: 50 }],
    }]
    const { engine: e, clock } = await start(program({ campaigns }))
    await enroll(e, 'vip', { member: { segments: ['vip'] } })
    await enroll(e, 'other')
    expect((await buy(e, 'other', [line('a', 100)])).points).toBe(1)
    expect((await buy(e, 'vip', [line('a', 100)])).points).toBe(51)
    expect((await buy(e, 'vip', [line('a', 100)])).points).toBe(51)
    expect(await buy(e, 'vip', [line('a', 100)])).toMatchObject({ points: 1, breakdown: [{}, { id: 'vip', points: 0, cut: 'limit' }] })
    clock.advance(5 * dayMs)
    await enroll(e, 'vip2', { member: { segments: ['vip'] } })
    expect((await buy(e, 'vip2', [line('a', 100)])).points).toBe(1)
  })

  it('never grants a global quota more often than it allows, across shards', async () => {
    const campaigns = [{
      id: 'first', name: 'first 25', ...window, priority: 1, stacking: 'combinable' as const,
      quota: 25, rules: [{ id: 'f', kind: 'fixed' as const, points: 1000 }],
    }]
    const { engine: e } = await start(program({ campaigns }))
    const members = Array.from({ length: 60 }, (_, i) => `q${i}`)
    for (const m of members) await enroll(e, m)
    const replies = await Promise.all(members.map((m) => buy(e, m, [line('a', 100)])))
    const winners = replies.filter((r) => r.points === 1001)
    expect(winners).toHaveLength(25)
    expect(replies.filter((r) => r.points === 1).length).toBe(35)
    expect(replies.filter((r) => r.breakdown?.some((l) => l.cut === 'quota'))).toHaveLength(35)
  })
})

describe('tiers', () => {
  it('upgrades as soon as a member qualifies, with each bonus journaled', async () => {
    const { engine: e } = await start(demoDoc())
    const joined = await e.execute({ op: 'enroll', account: 'm1', key: 'j', program: 'demo' })
    expect(joined).toMatchObject({ status: 'ok', tier: 'bronze', points: 100 })
    // $20,100 at 1 point per $1 = 20,100 qualifying points: Silver and Gold at once.
    const reply = await e.execute({ op: 'purchase', account: 'm1', key: 'p', basket: { lines: [line('car', 2_010_000)] } })
    expect(reply.tier).toBe('gold')
    expect(reply.breakdown).toEqual(expect.arrayContaining([
      { source: 'tier_bonus', id: 'silver', name: 'Silver', points: 500 },
      { source: 'tier_bonus', id: 'gold', name: 'Gold', points: 1000 },
    ]))
    // A replay gives back the same breakdown, rebuilt from the entries the purchase wrote.
    const replay = await e.execute({ op: 'purchase', account: 'm1', key: 'p', basket: { lines: [line('car', 2_010_000)] } })
    expect(replay).toMatchObject({ status: 'exists', tier: 'gold', points: reply.points })
    expect(replay.breakdown).toEqual(reply.breakdown)
    const tiers = (await journal(e, 'm1')).filter((x) => x.kind === 'tier')
    expect(tiers.map((x) => [x.tierFrom, x.tierTo, x.reason])).toEqual([
      ['bronze', 'silver', 'upgrade:purchase'],
      ['silver', 'gold', 'upgrade:purchase'],
    ])
    // Gold earns ×1.5 on base points.
    const next = await e.execute({ op: 'purchase', account: 'm1', key: 'p2', basket: { lines: [line('a', 10_000)] } })
    expect(next.breakdown).toContainEqual({ source: 'tier', id: 'gold', name: 'Gold', points: 50 })
  })

  it('a level scheme 0/10/30/100, recomputed every 365 days', async () => {
    const doc = program({
      tiers: [
        { id: 'l0', name: 'L0', threshold: 0 },
        { id: 'l1', name: 'L1', threshold: 10 },
        { id: 'l2', name: 'L2', threshold: 30 },
        { id: 'l3', name: 'L3', threshold: 100 },
      ],
      qualification: { basis: 'points', period: 'rolling12Months', review: 'recompute', reviewDays: 365 },
    })
    const { engine: e, clock } = await start(doc)
    await enroll(e, 'm1')
    expect((await buy(e, 'm1', [line('a', 12_000)])).tier).toBe('l3')
    // 200 days on, 35 more points; at the review (day 365) only those count: L2.
    clock.advance(200 * dayMs)
    await buy(e, 'm1', [line('a', 3500)])
    clock.advance(165 * dayMs)
    const member = await e.execute({ op: 'member', account: 'm1' })
    expect(member.membership).toMatchObject({ tier: 'l2', qualification: 35 })
    const review = (await journal(e, 'm1')).filter((x) => x.kind === 'tier').at(-1)
    expect(review).toMatchObject({ tierFrom: 'l3', tierTo: 'l2', reason: 'review' })
    // Another year without purchases: down to L0 at the next review.
    clock.advance(365 * dayMs)
    expect((await e.execute({ op: 'member', account: 'm1' })).tier).toBe('l0')
  })

  it('steps down one tier at a time under oneDown', async () => {
    const { engine: e, clock } = await start(demoDoc())
    await e.execute({ op: 'enroll', account: 'm1', key: 'j', program: 'demo' })
    await e.execute({ op: 'purchase', account: 'm1', key: 'p', basket: { lines: [line('car', 5_000_000)] } })
    expect((await e.execute({ op: 'member', account: 'm1' })).tier).toBe('platinum')
    clock.advance(366 * dayMs)
    expect((await e.execute({ op: 'member', account: 'm1' })).tier).toBe('gold')
  })
})

describe('activities, expiry and returns', () => {
  it("pays a referrer whose points are moving its reward once the move has ended", async () => {
    const { engine: e } = await start(demoDoc())
    await e.execute({ op: 'enroll', account: 'old', key: 'j1', program: 'demo' })
    const before = (await e.execute({ op: 'balance', account: 'old' })).balance!.available
    // As a household link or merge does: the referrer's account is marked while its points move.
    expect(await e.submit({ op: 'move', account: 'old', move: 'link-1', step: 'begin' })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'enroll', account: 'new', key: 'j2', program: 'demo', referredBy: 'old' })).toMatchObject({ status: 'ok' })
    await new Promise((r) => setTimeout(r, 500))
    // Refused while marked (nothing credited behind the move's back)...
    expect((await e.execute({ op: 'balance', account: 'old' })).balance?.available).toBe(before)
    await e.submit({ op: 'move', account: 'old', move: 'link-1', step: 'end' })
    // ...and sent again until the mark is gone, then paid once (the demo referrer reward: 500).
    await waitFor(async () => (await e.execute({ op: 'balance', account: 'old' })).balance?.available === before + 500)
    await new Promise((r) => setTimeout(r, 500))
    expect((await e.execute({ op: 'balance', account: 'old' })).balance?.available).toBe(before + 500)
  })

  it('rewards joining, referrals (both sides), first purchase and custom events with limits', async () => {
    const { engine: e } = await start(demoDoc())
    await e.execute({ op: 'enroll', account: 'old', key: 'j1', program: 'demo' })
    const joined = await e.execute({ op: 'enroll', account: 'new', key: 'j2', program: 'demo', referredBy: 'old' })
    expect(joined.points).toBe(350) // Bronze bonus 100 + referred 250
    expect(joined.breakdown?.map((l) => [l.source, l.id, l.points])).toEqual([
      ['tier_bonus', 'bronze', 100],
      ['activity', 'referred', 250],
    ])
    // One journal entry credits the enrolment's welcome points, with its breakdown.
    expect(await journal(e, 'new')).toMatchObject([
      { seq: 1, kind: 'enroll', points: 350, balance: 350, reason: 'demo', breakdown: joined.breakdown },
    ])
    await waitFor(async () => (await e.execute({ op: 'balance', account: 'old' })).balance?.available === 600)
    // The referrer's reward is idempotent: a retried enrolment does not pay it twice.
    const retried = await e.execute({ op: 'enroll', account: 'new', key: 'j2', program: 'demo', referredBy: 'old' })
    expect(retried).toMatchObject({ status: 'exists', points: 350, breakdown: joined.breakdown })
    // A referrer nobody has, or oneself, is refused before anything is paid.
    expect(await e.execute({ op: 'enroll', account: 'new2', key: 'j3', program: 'demo', referredBy: 'ghost' })).toMatchObject({ status: 'account_not_found', field: 'referredBy' })
    expect(await e.execute({ op: 'enroll', account: 'new2', key: 'j4', program: 'demo', referredBy: 'new2' })).toMatchObject({ status: 'invalid_request', field: 'referredBy' })
    expect((await e.execute({ op: 'balance', account: 'new2' })).status).toBe('account_not_found')
    expect((await e.execute({ op: 'balance', account: 'ghost' })).status).toBe('account_not_found')
    await new Promise((r) => setTimeout(r, 20))
    expect((await e.execute({ op: 'balance', account: 'old' })).balance?.available).toBe(600)
    const first = await e.execute({ op: 'purchase', account: 'new', key: 'p1', basket: { lines: [line('a', 1000)] } })
    expect(first.breakdown).toContainEqual({ source: 'activity', id: 'first-purchase', name: 'first_purchase', points: 100 })
    const second = await e.execute({ op: 'purchase', account: 'new', key: 'p2', basket: { lines: [line('a', 1000)] } })
    expect(second.breakdown?.some((l) => l.source === 'activity')).toBe(false)
    expect((await e.execute({ op: 'activity', account: 'new', key: 'n1', event: 'newsletter_signup' })).points).toBe(50)
    expect(await e.execute({ op: 'activity', account: 'new', key: 'n2', event: 'newsletter_signup' })).toMatchObject({ status: 'ok', points: 0 })
    expect(await e.execute({ op: 'activity', account: 'new', key: 'n3', event: 'birthday' })).toMatchObject({ status: 'invalid_request', field: 'event' })
    expect(await e.execute({ op: 'activity', account: 'new', key: 'n4', event: 'unknown_event' })).toMatchObject({ status: 'invalid_request', field: 'event' })
  })

  it('pays the birthday reward on the birthday, once a year', async () => {
    const { engine: e, clock } = await start(demoDoc())
    await e.execute({ op: 'enroll', account: 'm1', key: 'j', program: 'demo', member: { birthDate: '1990-02-10' } })
    clock.advance(20 * dayMs) // 2026-02-11
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(400)
    clock.advance(30 * dayMs)
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(400)
    clock.advance(340 * dayMs) // past 2027-02-10
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(700)
  })

  it('expires at the end of the month: earned 22 January, gone at the start of 1 February', async () => {
    const { engine: e, clock } = await start(program({ expiry: { kind: 'endOfMonth' } }))
    await enroll(e, 'm1')
    const reply = await buy(e, 'm1', [line('a', 5000)])
    const earn = (await journal(e, 'm1')).find((x) => x.seq === reply.entry)
    expect(earn?.expiresAt).toBe(Date.UTC(2026, 1, 1))
    clock.now = Date.UTC(2026, 1, 1) - 1
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(50)
    clock.now = Date.UTC(2026, 1, 1)
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(0)
  })

  it('holds points pending for the program`s locked days', async () => {
    const { engine: e, clock } = await start(program({ pendingDays: 14 }))
    await enroll(e, 'm1')
    expect((await buy(e, 'm1', [line('a', 5000)])).balance).toEqual({ available: 0, pending: 50, held: 0 })
    clock.advance(14 * dayMs)
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance).toEqual({ available: 50, pending: 0, held: 0 })
  })

  it('never credits points that expire before their locked days end: their expiry then counts from when they become spendable', async () => {
    // Earned 22 January, locked 14 days (until 5 February), expiring at the end of the month:
    // the points were pending until after they had expired, and were never spendable.
    const { engine: e, clock } = await start(program({ pendingDays: 14, expiry: { kind: 'endOfMonth' } }))
    await enroll(e, 'm1')
    const reply = await buy(e, 'm1', [line('a', 5000)], { store: 's1' })
    expect(reply.balance).toEqual({ available: 0, pending: 50, held: 0 })
    const earn = (await journal(e, 'm1')).find((x) => x.seq === reply.entry)
    expect(earn?.expiresAt).toBe(Date.UTC(2026, 2, 1))
    // A return finds the purchase's points in their lot, and owes nothing.
    expect(await e.execute({ op: 'reverse', account: 'm1', key: key(), ref: earn!.ref!, points: 10 })).toMatchObject({
      status: 'ok',
      points: 10,
      balance: { available: 0, pending: 40, held: 0 },
    })
    clock.now = Date.UTC(2026, 1, 5, 12)
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance).toEqual({ available: 40, pending: 0, held: 0 })
    expect((await e.execute({ op: 'redeem', account: 'm1', key: key(), points: 40 })).status).toBe('ok')
  })

  it('keeps the expiry counted from the earn when the points become spendable before it: 3 locked days, end of month', async () => {
    const { engine: e } = await start(program({ pendingDays: 3, expiry: { kind: 'endOfMonth' } }))
    await enroll(e, 'm1')
    const reply = await buy(e, 'm1', [line('a', 5000)])
    expect((await journal(e, 'm1')).find((x) => x.seq === reply.entry)?.expiresAt).toBe(Date.UTC(2026, 1, 1))
  })

  it('reverses proportionally on a return: 70 points on €40, €20 returned, takes back 35', async () => {
    const rules: RuleDoc[] = [{ id: 'r', kind: 'perSpend', points: 7, per: 400 }]
    const { engine: e } = await start(program({ rules, currency: 'EUR' }))
    await enroll(e, 'm1')
    const earned = await e.execute({ op: 'purchase', account: 'm1', key: 'p', ref: 'r-1', basket: { lines: [line('a', 2000), line('b', 2000)] } })
    expect(earned.points).toBe(70)
    const reversed = await e.execute({ op: 'reverse', account: 'm1', key: 'ret', ref: 'r-1', amount: 2000 })
    expect(reversed).toMatchObject({ status: 'ok', points: 35, balance: { available: 35 } })
    expect((await e.execute({ op: 'member', account: 'm1' })).membership?.qualification).toBe(35)
  })

  it('clamps a return at zero when the program forbids a negative balance', async () => {
    const { engine: e } = await start(program({ negativeBalanceOnReturn: false }))
    await enroll(e, 'm1')
    await e.execute({ op: 'purchase', account: 'm1', key: 'p', ref: 'r-1', basket: { lines: [line('a', 10_000)] } })
    await e.execute({ op: 'redeem', account: 'm1', key: 'spend', points: 80 })
    const reversed = await e.execute({ op: 'reverse', account: 'm1', key: 'ret', ref: 'r-1' })
    expect(reversed).toMatchObject({ points: 20, shortfall: 80, balance: { available: 0 } })
  })
})

describe('ruleset versions', () => {
  it('rejects a bad document with every error and its path, and keeps the active version', async () => {
    const { engine: e } = await start(program())
    const bad = program({ rules: [{ id: 'r', kind: 'perSpend', points: -1, per: 0 } as RuleDoc] })
    const result = await e.rules.publish(bad, { activate: true })
    expect(result.ok).toBe(false)
    if (!result.ok) {
      expect(result.errors.map((x) => x.path)).toEqual(expect.arrayContaining(['programs[0].rules[0].points', 'programs[0].rules[0].per']))
    }
    expect(e.rules.active()?.version).toBe(1)
  })

  it('switches without a restart; each entry records the version that made it; old versions stay readable', async () => {
    const { engine: e } = await start(program())
    await enroll(e, 'm1')
    expect((await buy(e, 'm1', [line('a', 1000)])).points).toBe(10)
    const v2 = await e.rules.publish(program({ rules: [{ id: 'spend', kind: 'perSpend', points: 3, per: 100 }] }), { activate: true })
    expect(v2).toMatchObject({ ok: true, version: 2, active: true })
    expect((await buy(e, 'm1', [line('a', 1000)])).points).toBe(30)
    const versions = (await journal(e, 'm1')).filter((x) => x.reason === 'purchase').map((x) => x.rulesetVersion)
    expect(versions).toEqual([1, 2])
    expect(e.rules.get(1)?.doc.programs[0]?.rules[0]).toMatchObject({ points: 1 })
    expect(e.rules.list().map((v) => [v.version, v.active])).toEqual([[1, false], [2, true]])
    await e.rules.activate(1)
    expect((await buy(e, 'm1', [line('a', 1000)])).points).toBe(10)
  })

  it('refuses to activate a version that lacks a program or tier accounts are in, changing nothing', async () => {
    const { engine: e } = await start(program())
    await enroll(e, 'm1')
    const renamed: RulesetDoc = { programs: [{ ...program().programs[0]!, id: 'other' }] }
    const refused = await e.rules.publish(renamed, { activate: true })
    const hint = { path: '$', message: 'move those accounts first, or activate with force to leave them where they are' }
    expect(refused).toEqual({
      ok: false,
      stranding: true,
      errors: [{ path: 'programs', message: 'program p is missing, and 1 accounts are enrolled in it' }, hint],
    })
    expect(e.rules.list().map((v) => v.version)).toEqual([1])
    const noBase = program({ tiers: [{ id: 'gold', name: 'Gold', threshold: 0 }] })
    const stored = await e.rules.publish(noBase)
    expect(stored).toMatchObject({ ok: true, version: 2, active: false })
    expect(await e.rules.activate(2)).toEqual({
      ok: false,
      errors: [{ path: 'programs[p].tiers', message: 'tier base of program p is missing, and 1 accounts are in it' }, hint],
    })
    expect(e.rules.active()?.version).toBe(1)
    expect((await buy(e, 'm1', [line('a', 1000)])).points).toBe(10)
    // A version that keeps both (and adds a tier) is fine.
    const more = program({ tiers: [{ id: 'base', name: 'Base', threshold: 0 }, { id: 'gold', name: 'Gold', threshold: 5000 }] })
    expect(await e.rules.publish(more, { activate: true })).toMatchObject({ ok: true, version: 3, active: true })
    // A rollback past a tier members have reached since is refused, unless forced.
    await buy(e, 'm1', [line('a', 600_000)])
    expect((await e.execute({ op: 'member', account: 'm1' })).tier).toBe('gold')
    expect(await e.rules.activate(1)).toMatchObject({ ok: false, errors: [{ path: 'programs[p].tiers', message: 'tier gold of program p is missing, and 1 accounts are in it' }, hint] })
    expect(await e.rules.activate(1, { force: true })).toEqual({ ok: true })
    expect(e.rules.active()?.version).toBe(1)
    expect(await e.rules.publish(renamed, { activate: true, force: true })).toMatchObject({ ok: true, active: true })
  })

  it('previews a basket against a draft, a stored version and a live account, changing nothing', async () => {
    const { engine: e } = await start(program())
    await enroll(e, 'm1')
    const draft = program({ rules: [{ id: 'spend', kind: 'perSpend', points: 5, per: 100 }] })
    const basket = { lines: [line('a', 1000)] }
    expect(e.rules.preview({ ruleset: draft, program: 'p', basket })).toMatchObject({ ok: true, version: 'draft', points: 50 })
    expect(e.rules.preview({ program: 'p', basket })).toMatchObject({ ok: true, version: 1, points: 10 })
    expect(e.rules.preview({ program: 'nope', basket })).toEqual({ ok: false, errors: [{ path: 'program', message: 'no program nope' }] })
    const live = await e.execute({ op: 'preview', account: 'm1', basket })
    expect(live).toMatchObject({ status: 'ok', points: 10, balance: { available: 0 } })
    expect((await e.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(0)
  })
})

describe('bad program input', () => {
  it.each([
    [{ op: 'purchase', account: 'a', key: 'k', basket: {} }, 'basket.lines'],
    [{ op: 'purchase', account: 'a', key: 'k', basket: { lines: [{ sku: 'x', quantity: 0, unitPrice: 1 }] } }, 'basket.lines[0].quantity'],
    [{ op: 'purchase', account: 'a', key: 'k', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: 1, discount: 2 }] } }, 'basket.lines[0].discount'],
    [{ op: 'purchase', account: 'a', key: 'k', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: 1 }], channel: 'fax' } }, 'basket.channel'],
    [{ op: 'purchase', account: 'a', key: 'k', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: 1, colour: 'red' }] } }, 'basket.lines[0].colour'],
    [{ op: 'enroll', account: 'a', key: 'k' }, 'program'],
    [{ op: 'enroll', account: 'a', key: 'k', program: 'p', member: { birthDate: '1990-13-01' } }, 'member.birthDate'],
    // Control and invisible characters make look-alike ids and forge log lines.
    [{ op: 'earn', account: '\u0000', key: 'k', points: 1 }, 'account'],
    [{ op: 'earn', account: 'a\n\u001b[2J', key: 'k', points: 1 }, 'account'],
    [{ op: 'earn', account: '\u200bm1', key: 'k', points: 1 }, 'account'],
    [{ op: 'earn', account: ' m1', key: 'k', points: 1 }, 'account'],
    [{ op: 'earn', account: 'm1', key: 'k\u0007', points: 1 }, 'key'],
    [{ op: 'adjust', account: 'm1', key: 'k', points: 1, reason: 'a\u0000b' }, 'reason'],
    // Well-formed but not a day of the calendar: once crashed the shard that ran the enrolment.
    [{ op: 'enroll', account: 'a', key: 'k', program: 'p', member: { birthDate: '1999-02-30' } }, 'member.birthDate'],
    [{ op: 'enroll', account: 'a', key: 'k', program: 'p', member: { birthDate: '2021-02-29' } }, 'member.birthDate'],
    [{ op: 'profile', account: 'a', key: 'k', member: { birthDate: '2000-04-31' } }, 'member.birthDate'],
    [{ op: 'enroll', account: 'a', key: 'k', program: 'p', member: { segments: 'vip' } }, 'member.segments'],
    [{ op: 'activity', account: 'a', key: 'k', event: 'Bad Event' }, 'event'],
    [{ op: 'activity', account: 'a', key: 'k', event: 'referral_referrer' }, 'event'],
  ])('%j is refused naming %s', async (input, field) => {
    engine = await openEngine({ storage: 'memory', shards: 1 })
    expect(await engine.execute(input)).toMatchObject({ status: 'invalid_request', field })
  })

  it('says which field is missing or wrong, and takes a reason with line breaks and tabs', async () => {
    engine = await openEngine({ storage: 'memory', shards: 1 })
    const reason = 'parcel damaged\n\trefund agreed'
    expect(await engine.execute({ op: 'adjust', account: 'm1', key: 'k', points: 5, reason })).toMatchObject({ status: 'ok' })
    // Refusals say what is wrong too.
    expect(await engine.execute({ op: 'balance', account: 'nobody' })).toEqual({ status: 'account_not_found', message: 'no account nobody' })
    expect(await engine.execute({ op: 'earn', account: 'm1', key: 'e1', points: 5 })).toMatchObject({ status: 'ok' })
    expect(await engine.execute({ op: 'earn', account: 'm1', key: 'e1', points: 6 })).toMatchObject({ status: 'exists_with_different_points', message: 'key e1 was first used with another number of points' })
    expect(await engine.execute({ op: 'capture', account: 'm1', key: 'c1', hold: 99 })).toMatchObject({ status: 'hold_not_found', message: 'no hold 99 on this account' })
    expect(await engine.execute({ op: 'reverse', account: 'm1', key: 'r1', ref: 'nope', points: 1 })).toMatchObject({ status: 'transaction_not_found', message: 'no purchase or earn nope on account m1' })
    expect(await engine.execute({ op: 'earn', account: 'm1', points: 1 })).toMatchObject({ field: 'key', message: 'key is required' })
    expect(await engine.execute({ op: 'earn', account: 'm1', key: 'k' })).toMatchObject({ field: 'points', message: 'points is required' })
    expect(await engine.execute({ op: 'earn', account: 'm1', key: 'k', points: '5' })).toMatchObject({ field: 'points', message: 'points must be an integer' })
    expect(await engine.execute({ op: 'earn', account: 'm\u001b1', key: 'k', points: 1 })).toMatchObject({
      field: 'account',
      message: 'account must not contain control or invisible characters (U+001B at 1)',
    })
  })

  it('refuses enrolment in an unknown program and a second enrolment', async () => {
    const { engine: e } = await start(program())
    expect(await e.execute({ op: 'enroll', account: 'a', key: 'k1', program: 'nope' })).toMatchObject({ status: 'invalid_request', field: 'program' })
    await enroll(e, 'a')
    expect(await e.execute({ op: 'enroll', account: 'a', key: 'k3', program: 'p' })).toMatchObject({ status: 'invalid_request', field: 'account' })
  })
})

function demoDoc(): RulesetDoc {
  // The demo program without its weekend and promo campaigns, so the figures are plain.
  const demo = structuredClone(demoRuleset)
  demo.programs[0]!.campaigns = []
  return demo
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

export type { Reply }
