/**
 * Goal: the engine's totals (accounts, points earned, burned, expired and
 * outstanding, accounts per tier) are always what counting every account
 * from scratch gives, across workers, restarts and folders written before
 * totals existed; and the live series counts what was answered.
 * Method: real engines on temp folders under a mixed load, checked against
 * the balances the engine reports and against a full scan of each shard's
 * store; shard-level runs with a fake clock for expiry.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { afterEach, describe, expect, it } from 'vitest'
import { shardPath } from './data-dir.ts'
import { sumTotals, totalsOf, type ShardTotals } from './domain/totals.ts'
import { openEngine, type Engine } from './engine.ts'
import { LiveMetrics } from './metrics.ts'
import { demoRuleset } from './rules/demo.ts'
import { LmdbStore } from './store/lmdb-store.ts'
import { dayMs } from './testing/clock.ts'
import { shardHarness, storeKinds } from './testing/shard-harness.ts'

const folders: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'loyalty-totals-'))
  folders.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const members = 40
const basket = { lines: [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }] }

/** Enrolments, purchases, earns, a redemption, holds (one open), a reversal into debt. */
async function load(engine: Engine) {
  const published = await engine.rules.publish(demoRuleset, { activate: true, note: 'totals test' })
  expect(published.ok).toBe(true)
  for (let i = 0; i < members; i++) {
    const account = `m${i}`
    expect((await engine.execute({ op: 'enroll', account, key: 'join', program: 'demo' })).status).toBe('ok')
    await engine.execute({ op: 'purchase', account, key: 'p1', basket })
    await engine.execute({ op: 'earn', account, key: 'e1', points: 50 * i, amount: 1000 })
  }
  // A big spender climbs a tier ($10,000 earns the 10,000 points silver needs).
  const big = { lines: [{ sku: 'tv', category: 'electronics', quantity: 1, unitPrice: 1_000_000 }] }
  expect(await engine.execute({ op: 'purchase', account: 'm1', key: 'big', basket: big })).toMatchObject({ tier: 'silver' })
  expect((await engine.execute({ op: 'redeem', account: 'm2', key: 'r1', points: 30 })).status).toBe('ok')
  const held = await engine.execute({ op: 'authorize', account: 'm3', key: 'h1', points: 40 })
  await engine.execute({ op: 'capture', account: 'm3', key: 'c1', hold: held.hold, points: 25 })
  expect((await engine.execute({ op: 'authorize', account: 'm4', key: 'h2', points: 60 })).status).toBe('ok')
  // m5 spends nearly everything, then the earn is reversed: the shortfall becomes debt.
  const m5 = await engine.execute({ op: 'balance', account: 'm5' })
  await engine.execute({ op: 'redeem', account: 'm5', key: 'r-all', points: m5.balance!.available })
  await engine.execute({ op: 'reverse', account: 'm5', key: 'back', ref: 'e1' })
  // An account outside any program.
  await engine.execute({ op: 'earn', account: 'loose', key: 'e', points: 7 })
}

/** Σ (available + pending + held) over every account, as the engine reports it. */
async function outstandingByBalances(engine: Engine): Promise<number> {
  const accounts = [...Array.from({ length: members }, (_, i) => `m${i}`), 'loose']
  let sum = 0
  for (const account of accounts) {
    const { balance } = await engine.execute({ op: 'balance', account })
    sum += balance!.available + balance!.pending + balance!.held
  }
  return sum
}

/** The totals counted from scratch: every account of every shard store in the folder. */
async function scanned(dataDir: string, shards: number): Promise<ShardTotals> {
  const parts: ShardTotals[] = []
  for (let index = 0; index < shards; index++) {
    const store = new LmdbStore({ path: shardPath(dataDir, index) })
    parts.push(totalsOf(store.scanAccounts()))
    await store.close()
  }
  return sumTotals(parts)
}

describe('engine totals', () => {
  it('match the balances and a full scan, on workers and after a reopen', async () => {
    const dataDir = tempDir()
    const engine = await openEngine({ dataDir, shards: 4, workers: 2 })
    await load(engine)
    const totals = await engine.totals()
    expect(totals.accounts).toBe(members + 1)
    expect(totals.outstanding).toBe(await outstandingByBalances(engine))
    // m5's debt: the 250 points of its reversed earn, all spent before the reversal.
    expect(totals).toMatchObject({ held: 60, debt: 250 })
    // Burns: the redemption, the capture, and m5's redeem-everything; reversals are not burns.
    expect(totals.burned).toBe(30 + 25 + (await m5Redeemed(engine)))
    const tiers = Object.entries(totals.tiers)
    expect(tiers.reduce((sum, [, count]) => sum + count, 0)).toBe(members)
    expect(totals.tiers).toEqual({ 'demo/bronze': members - 1, 'demo/silver': 1 })
    // All but the account outside any program owe their points in program demo.
    expect(totals.programs).toEqual({ demo: totals.outstanding - 7 })
    await engine.close()
    expect(await scanned(dataDir, 4)).toEqual(totals)

    const reopened = await openEngine({ dataDir, workers: 1 })
    expect(await reopened.totals()).toEqual(totals)
    await reopened.close()
  })

  it('are counted once from the accounts in a folder written before totals existed', async () => {
    const dataDir = tempDir()
    const engine = await openEngine({ dataDir, shards: 2, workers: 1 })
    await load(engine)
    const totals = await engine.totals()
    await engine.close()
    for (let index = 0; index < 2; index++) {
      const root = open({ path: shardPath(dataDir, index), maxDbs: 16 })
      const db = root.openDB({ name: 'totals' })
      await db.remove('shard')
      expect(db.get('shard')).toBeUndefined()
      await root.close()
    }
    const reopened = await openEngine({ dataDir, workers: 1 })
    expect(await reopened.totals()).toEqual(totals)
    // The next change is counted on top of the rebuilt totals.
    await reopened.execute({ op: 'earn', account: 'm9', key: 'after', points: 11 })
    const after = await reopened.totals()
    expect(after.earned).toBe(totals.earned + 11)
    expect(after.outstanding).toBe(totals.outstanding + 11)
    await reopened.close()
  })
})

/** What m5's redeem-everything burned (its balance at the time). */
async function m5Redeemed(engine: Engine): Promise<number> {
  const history = await engine.execute({ op: 'history', account: 'm5', limit: 100 })
  const redeem = history.entries!.find((e) => e.key === 'r-all')!
  return -redeem.points
}

describe.each(storeKinds)('shard totals on the %s store', (kind) => {
  it('follow expiry by the scheduler, holds and their release', async () => {
    await using h = await shardHarness(kind)
    const now = h.clock.now
    await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100, expiresAt: now + dayMs })
    await h.send({ op: 'earn', account: 'b', key: 'e1', points: 40 })
    await h.send({ op: 'authorize', account: 'b', key: 'h', points: 15, timeoutMs: 60_000 })
    expect(h.shard.totals()).toMatchObject({ accounts: 2, earned: 140, outstanding: 140, held: 15, expired: 0 })
    h.clock.advance(dayMs)
    await h.sweep()
    expect(h.shard.totals()).toMatchObject({ accounts: 2, earned: 140, expired: 100, outstanding: 40, held: 0 })
    expect(h.shard.totals()).toEqual(totalsOf(h.store.scanAccounts()))
    expect(h.store.totals()).toEqual(h.shard.totals())
  })
})

describe('engine totals of points that expire in transit', () => {
  // A transfer holds the sender's points by lot and credits each lot with its date; a lot whose
  // date comes first is not credited, and the hold is captured. Those points expired: they used
  // to be counted as burned, as though the member had spent them.
  it('count points whose date passes while a transfer waits, or while their credit is on the way, as expired, not burned', async () => {
    const start = Date.UTC(2026, 0, 10)
    let now = start
    const engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    try {
      const soon = start + 60_000
      await engine.execute({ op: 'earn', account: 'a', key: 'soon', points: 300, expiresAt: soon })
      await engine.execute({ op: 'earn', account: 'a', key: 'later', points: 200, expiresAt: soon + 60_000 })
      await engine.execute({ op: 'earn', account: 'a', key: 'never', points: 100 })
      await engine.execute({ op: 'earn', account: 'b', key: 'seed', points: 1 })
      const submit = engine.submit.bind(engine)
      engine.submit = async (command) => {
        const reply = await submit(command)
        // The first transfer's hold is answered a moment before the first date: the date passes while the saga waits.
        if (command.op === 'authorize' && command.key.includes('t-') && now === start) now = soon
        return reply
      }
      expect(await engine.sagas.transfer({ from: 'a', to: 'b', points: 400, key: 'waits' }, { kind: 'admin', id: 'ops' })).toMatchObject({ saga: { state: 'done' } })
      // The hold took the soonest lots: the 300 expired in transit, 100 of the later lot reached b.
      expect((await engine.execute({ op: 'balance', account: 'b' })).balance).toMatchObject({ available: 101 })
      let totals = await engine.totals()
      expect(totals).toMatchObject({ earned: 601 + 100, expired: 300, burned: 100, held: 0, outstanding: 200 + 101 })
      // The later lot's date comes while the second transfer's credit of its other 100 points is on the way to b's shard.
      engine.submit = (command) => {
        if (command.op === 'earn' && command.expiresAt === soon + 60_000) now = soon + 60_000
        return submit(command)
      }
      expect(await engine.sagas.transfer({ from: 'a', to: 'b', points: 200, key: 'on-the-way' }, { kind: 'admin', id: 'ops' })).toMatchObject({ saga: { state: 'done' } })
      // 100 more expired in transit, 100 that never expire reached b, and b's own 100 of the later lot expired there.
      totals = await engine.totals()
      expect(totals).toMatchObject({ earned: 701 + 100, expired: 300 + 100 + 100, burned: 100 + 100, held: 0, outstanding: 101 })
      // The sender's journal says so: each capture burns only what was credited; the rest expired from its hold.
      const entries = (await engine.execute({ op: 'history', account: 'a' })).entries!.map((e) => [e.kind, e.points, e.held])
      expect(entries.slice(0, 6)).toEqual([['expire', 0, -100], ['capture', 0, -100], ['hold', -200, 200], ['expire', 0, -300], ['capture', 0, -100], ['hold', -400, 400]])
      // As they would have, had they expired on a's account: a return of their earn finds them lapsed.
      expect(await engine.execute({ op: 'reverse', account: 'a', key: 'ret', ref: 'soon' })).toMatchObject({ status: 'ok', points: 0, lapsed: 300 })
    } finally {
      await engine.close()
    }
  })
})

describe('shard totals after a failed commit', () => {
  // The memory store can fail a commit on demand; LMDB's full-disk path is in engine.test.ts.
  it('stay as they were when the batch is not written', async () => {
    await using h = await shardHarness('memory')
    await h.send({ op: 'earn', account: 'a', key: 'e1', points: 100 })
    const before = h.shard.totals()
    ;(h.store as import('./store/memory-store.ts').MemoryStore).failNextCommit = new Error('disk full')
    expect((await h.send({ op: 'earn', account: 'c', key: 'e', points: 5 })).status).toBe('unavailable')
    expect(h.shard.totals()).toEqual(before)
    expect(before).toMatchObject({ accounts: 1, earned: 100 })
  })
})

describe('live metrics', () => {
  it('count answers per second with their percentiles, and zero for quiet seconds', () => {
    let now = 1_000_000
    const live = new LiveMetrics({ seconds: 10, clock: () => now })
    for (let i = 1; i <= 100; i++) live.record(i / 10) // 0.1 … 10 ms
    now += 2000
    live.record(5)
    now += 1000
    const series = live.series(3)
    expect(series.map((s) => s.at)).toEqual([1_000_000, 1_001_000, 1_002_000])
    expect(series.map((s) => s.ops)).toEqual([100, 0, 1])
    // Buckets are 5% wide: the 50th value is 5 ms, the 99th 9.9 ms.
    expect(series[0]!.p50Ms).toBeGreaterThanOrEqual(5)
    expect(series[0]!.p50Ms).toBeLessThanOrEqual(5 * 1.05)
    expect(series[0]!.p99Ms).toBeGreaterThanOrEqual(9.9)
    expect(series[0]!.p99Ms).toBeLessThanOrEqual(9.9 * 1.05)
    expect(series[1]).toMatchObject({ ops: 0, p50Ms: 0, p99Ms: 0 })
    // A slot reused ten seconds later starts from zero.
    now += 10_000
    live.record(1)
    now += 1000
    expect(live.series(1)[0]!.ops).toBe(1)
  })
})
