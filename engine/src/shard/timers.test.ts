/**
 * Goal: whatever falls due on an account (a lot's expiry, a hold's deadline,
 * a tier review, a birthday) happens at its time through the shard's sweep
 * alone, with nothing else touching the account, while the store keeps one
 * timer an account instead of one per lot date, hold and review.
 * Method: a real shard on each store, a fake clock, and only sweeps between
 * the commands that set things up; the stored timers are read back.
 */
import { describe, expect, it } from 'vitest'
import { emptyBatchWrite } from '../domain/batch.ts'
import { createAccount } from '../domain/account.ts'
import { compileRuleset } from '../rules/compile.ts'
import { demoRuleset } from '../rules/demo.ts'
import { dayMs } from '../testing/clock.ts'
import { shardHarness, storeKinds, type ShardHarness } from '../testing/shard-harness.ts'

const farFuture = Date.UTC(2100, 0, 1)

function timersOf(h: ShardHarness, account: string): number[] {
  return h.store
    .dueTimers(farFuture, 1000)
    .filter((t) => t.account === account)
    .map((t) => t.dueAt)
}

/** Moves the clock to `at` and runs the sweep there. */
/** Account `a` with a lot of 100 expiring on day 5 and a hold of 30 for a minute. */
async function lotAndHold(h: ShardHarness) {
  const start = h.clock.now
  await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100, expiresAt: start + 5 * dayMs })
  const held = await h.send({ op: 'authorize', account: 'a', key: 'h', points: 30, timeoutMs: 60_000 })
  return { start, held }
}

async function sweepAt(h: ShardHarness, at: number) {
  h.clock.now = at
  await h.sweep()
}

const kinds = (h: ShardHarness, account: string) => h.journal(account).map((e) => [e.kind, e.points])

describe.each(storeKinds)('timers on %s', (kind) => {
  it('keeps one timer for three lot dates and expires each lot at its date by the sweep alone', async () => {
    await using h = await shardHarness(kind)
    const start = h.clock.now
    const dates = [start + 30 * dayMs, start + 10 * dayMs, start + 20 * dayMs]
    for (const [i, expiresAt] of dates.entries()) {
      await h.send({ op: 'earn', account: 'a', key: `e${i}`, points: 100 * (i + 1), expiresAt })
    }
    expect(timersOf(h, 'a')).toEqual([start + 30 * dayMs, start + 10 * dayMs].sort((x, y) => x - y))
    await sweepAt(h, start + 10 * dayMs - 1)
    expect(kinds(h, 'a').filter(([k]) => k === 'expire')).toEqual([])
    await sweepAt(h, start + 10 * dayMs)
    await sweepAt(h, start + 20 * dayMs)
    await sweepAt(h, start + 30 * dayMs)
    // The lot of 200 (day 10), then 300 (day 20), then 100 (day 30).
    expect(kinds(h, 'a').filter(([k]) => k === 'expire')).toEqual([
      ['expire', -200],
      ['expire', -300],
      ['expire', -100],
    ])
    expect(h.store.getAccount('a')).toMatchObject({ lots: [], expired: 600 })
    expect(timersOf(h, 'a')).toEqual([])
  })

  it('arms an earlier timer for a hold, releases it at its deadline, then expires the lot at its date', async () => {
    await using h = await shardHarness(kind)
    const { start, held } = await lotAndHold(h)
    expect(timersOf(h, 'a')).toEqual([start + 60_000, start + 5 * dayMs])
    await sweepAt(h, start + 60_000)
    expect(h.journal('a').at(-1)).toMatchObject({ kind: 'release', hold: held.hold, points: 30 })
    // The timer of the lot is the one left, and its sweep expires the lot.
    expect(timersOf(h, 'a')).toEqual([start + 5 * dayMs])
    await sweepAt(h, start + 5 * dayMs)
    expect(h.journal('a').at(-1)).toMatchObject({ kind: 'expire', points: -100 })
    expect(timersOf(h, 'a')).toEqual([])
  })

  it('moves the timer of a captured hold to the lot, so its deadline costs the sweep nothing', async () => {
    await using h = await shardHarness(kind)
    const { start, held } = await lotAndHold(h)
    await h.send({ op: 'capture', account: 'a', key: 'c', hold: held.hold })
    // Left at the deadline, the timer would make the sweep read and rewrite the account to re-arm it.
    expect(timersOf(h, 'a')).toEqual([start + 5 * dayMs])
    expect(h.store.getAccount('a')!.wakeAt).toBe(start + 5 * dayMs)
    await h.send({ op: 'earn', account: 'a', key: 'e2', points: 50, expiresAt: start + 9 * dayMs })
    expect(timersOf(h, 'a')).toEqual([start + 5 * dayMs])
    await sweepAt(h, start + 5 * dayMs)
    expect(timersOf(h, 'a')).toEqual([start + 9 * dayMs])
    await sweepAt(h, start + 9 * dayMs)
    expect(kinds(h, 'a').filter(([k]) => k === 'expire' || k === 'release')).toEqual([
      ['expire', -70],
      ['expire', -50],
    ])
    expect(timersOf(h, 'a')).toEqual([])
  })

  it('moves the timer of a voided hold, and of a lot spent whole, to what falls due next', async () => {
    await using h = await shardHarness(kind)
    const { start, held } = await lotAndHold(h)
    await h.send({ op: 'earn', account: 'a', key: 'e2', points: 50, expiresAt: start + 9 * dayMs })
    await h.send({ op: 'void', account: 'a', key: 'v', hold: held.hold })
    expect(timersOf(h, 'a')).toEqual([start + 5 * dayMs])
    // Spending the lot of day 5 leaves the lot of day 9 to wake for.
    await h.send({ op: 'redeem', account: 'a', key: 'r', points: 100 })
    expect(timersOf(h, 'a')).toEqual([start + 9 * dayMs])
    expect(h.store.getAccount('a')!.wakeAt).toBe(start + 9 * dayMs)
    await sweepAt(h, start + 9 * dayMs)
    expect(kinds(h, 'a').filter(([k]) => k === 'expire')).toEqual([['expire', -50]])
    expect(timersOf(h, 'a')).toEqual([])
  })

  it('removes the timer when nothing is left to fall due, and arms one again when something is', async () => {
    await using h = await shardHarness(kind)
    const start = h.clock.now
    await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100, expiresAt: start + 5 * dayMs })
    await h.send({ op: 'redeem', account: 'a', key: 'r', points: 100 })
    expect(timersOf(h, 'a')).toEqual([])
    expect(h.store.getAccount('a')!.wakeAt).toBeUndefined()
    await h.send({ op: 'earn', account: 'a', key: 'e2', points: 10, expiresAt: start + 7 * dayMs })
    expect(timersOf(h, 'a')).toEqual([start + 7 * dayMs])
    await sweepAt(h, start + 7 * dayMs)
    expect(kinds(h, 'a').filter(([k]) => k === 'expire')).toEqual([['expire', -10]])
  })

  it('leaves a timer already due to the sweep, which expires the lot behind it', async () => {
    await using h = await shardHarness(kind)
    const start = h.clock.now
    await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100, expiresAt: start + dayMs })
    await h.send({ op: 'earn', account: 'a', key: 'e2', points: 40, expiresAt: start + 3 * dayMs })
    // Past the lot's date, a command that writes the account before any sweep ran.
    h.clock.now = start + dayMs + 1
    await h.send({ op: 'earn', account: 'a', key: 'e3', points: 5, expiresAt: start + 3 * dayMs })
    await sweepAt(h, start + dayMs + 2)
    expect(kinds(h, 'a').filter(([k]) => k === 'expire')).toEqual([['expire', -100]])
    expect(timersOf(h, 'a')).toEqual([start + 3 * dayMs])
  })

  it('reads the accounts its due timers wake with the batch\'s prefetch, not one at a time', async () => {
    await using h = await shardHarness(kind, { limits: { cachedAccountsMax: 2 } })
    const start = h.clock.now
    await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100, expiresAt: start + dayMs })
    // Out of the shard's cache, so the sweep has to read it.
    for (const other of ['b', 'c', 'd']) await h.send({ op: 'earn', account: other, key: 'e', points: 1 })
    const plans: string[][] = []
    const prefetch = h.store.prefetch.bind(h.store)
    h.store.prefetch = (plan) => (plans.push(plan.accounts), prefetch(plan))
    await sweepAt(h, start + dayMs)
    expect(kinds(h, 'a').at(-1)).toEqual(['expire', -100])
    expect(plans.some((accounts) => accounts.includes('a'))).toBe(true)
  })

  it('reviews the tier and pays the birthday reward on time with one timer for both', async () => {
    await using h = await shardHarness(kind)
    h.shard.setRules(compileRuleset(demoRuleset, 1))
    h.clock.now = Date.UTC(2026, 0, 22, 12)
    const enrolled = await h.send({
      op: 'enroll',
      account: 'm',
      key: 'j',
      program: 'demo',
      member: { birthDate: '1990-02-10' },
    })
    expect(enrolled.status).toBe('ok')
    const state = h.store.getAccount('m')!
    const { birthdayAt, reviewAt } = state.program!
    expect(birthdayAt).toBeLessThan(reviewAt)
    // The welcome points expire at the end of next year, after both.
    expect(state.lots[0]!.expiresAt).toBeGreaterThan(reviewAt)
    expect(timersOf(h, 'm')).toEqual([birthdayAt])
    const balance = () => h.store.getAccount('m')!.lots.reduce((sum, lot) => sum + lot.points, 0)
    const before = balance()
    await sweepAt(h, birthdayAt!)
    expect(balance()).toBe(before + 300)
    const rearmed = h.store.getAccount('m')!.program!
    expect(rearmed.birthdayAt).toBeGreaterThan(birthdayAt!)
    expect(timersOf(h, 'm')).toEqual([Math.min(rearmed.reviewAt, rearmed.birthdayAt!)])
    await sweepAt(h, rearmed.reviewAt)
    const reviewed = h.store.getAccount('m')!.program!
    expect(reviewed.reviewAt).toBeGreaterThan(rearmed.reviewAt)
    expect(timersOf(h, 'm')).toEqual([Math.min(reviewed.reviewAt, reviewed.birthdayAt!)])
  })

  it('re-arms the review of an account written before wakeAt, also when the review changes nothing', async () => {
    await using h = await shardHarness(kind)
    h.shard.setRules(compileRuleset(demoRuleset, 1))
    const start = h.clock.now
    const reviewAt = start + 10 * dayMs
    // As data format 3 left it: no wakeAt, a timer for the review, nothing else due.
    const account = createAccount('old', start)
    account.seq = 1
    account.program = { id: 'demo', tier: 'bronze', enrolledAt: start, member: {}, purchases: 0, qualifying: [], usage: {}, reviewAt }
    const write = emptyBatchWrite()
    write.accounts.push(account)
    write.timersAdded.push({ dueAt: reviewAt, account: 'old' })
    await h.store.commit(write).durable
    await sweepAt(h, reviewAt)
    // Still bronze: no journal entry, but the next review has its timer.
    const stored = h.store.getAccount('old')!
    expect(stored.seq).toBe(1)
    expect(stored.program!.reviewAt).toBeGreaterThan(reviewAt)
    expect(timersOf(h, 'old')).toEqual([stored.program!.reviewAt])
  })

  it('still expires the lots of an account written before wakeAt, by the timers stored for each date', async () => {
    await using h = await shardHarness(kind)
    const start = h.clock.now
    // As data format 3 left it: no wakeAt, and a timer for each lot date.
    const account = createAccount('old', start)
    account.seq = 2
    account.earned = 30
    account.lots = [
      { id: 1, points: 10, activeFrom: start, expiresAt: start + dayMs },
      { id: 2, points: 20, activeFrom: start, expiresAt: start + 2 * dayMs },
    ]
    const write = emptyBatchWrite()
    write.accounts.push(account)
    write.timersAdded.push({ dueAt: start + dayMs, account: 'old' }, { dueAt: start + 2 * dayMs, account: 'old' })
    await h.store.commit(write).durable
    await sweepAt(h, start + dayMs)
    expect(h.store.getAccount('old')!.lots.map((l) => l.points)).toEqual([20])
    await sweepAt(h, start + 2 * dayMs)
    expect(h.store.getAccount('old')).toMatchObject({ lots: [], expired: 30 })
    expect(timersOf(h, 'old')).toEqual([])
  })
})
