/**
 * Transfers between members as sagas, in-process: points move exactly once,
 * refusals give held points back, limits hold, replays return the same saga,
 * and a member suspended half-way cannot strand points.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { afterEach, describe, expect, it } from 'vitest'
import { openEngine, type Engine } from './engine.ts'
import type { Command, Reply } from './domain/types.ts'
import { shardOf } from './shard-of.ts'
import { shardPath } from './data-dir.ts'
import { accountProblems } from './domain/invariants.ts'
import { totalsOf } from './domain/totals.ts'
import { LmdbStore } from './store/lmdb-store.ts'
import { demoRuleset } from './rules/demo.ts'

const actor = { kind: 'admin', id: 'ops' }
let engine: Engine | undefined
afterEach(async () => {
  await engine?.close()
  engine = undefined
})

async function start() {
  engine = await openEngine({ storage: 'memory', shards: 4, transferLimits: { perTransferMax: 500, perDayMax: 800 } })
  return engine
}

/** Two account ids that live on different shards. */
function acrossShards(): [string, string] {
  const a = 'alice'
  let i = 0
  while (shardOf(`bob${i}`, 4) === shardOf(a, 4)) i++
  return [a, `bob${i}`]
}

const balance = async (e: Engine, account: string) => (await e.execute({ op: 'balance', account })).balance

/** Earns on `account` until its journal's last entry is at least `seq` (hold ids are entry numbers). */
async function reach(e: Engine, account: string, seq: number) {
  for (let i = 0; ((await e.execute({ op: 'history', account, limit: 1 })).entries?.[0]?.seq ?? 0) < seq; i++) {
    await e.execute({ op: 'earn', account, key: `fill-${i}`, points: 100 })
  }
}

/**
 * kid's return of 100 points of a purchase from before it joined head's
 * household, as the engine stored its own account's step before 2026-11-24
 * (the caller's shortfall replaced by 'debt'), the process then dying before
 * the settlement; the clock is moved past that date.
 */
async function legacyPreJoinReturn(): Promise<Engine> {
  let now = Date.UTC(2026, 10, 20)
  engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
  const e = engine
  for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
  await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
  await e.sagas.linkHousehold('kid', 'head', actor)
  expect(await e.submit({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100, shortfall: 'debt', withOrigins: true })).toMatchObject({ status: 'ok' })
  now = Date.UTC(2026, 10, 26)
  return e
}

describe('transfers', () => {
  it('moves points across shards exactly once, and a repeated key returns the same saga', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 1000 })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    const first = await e.sagas.transfer({ from: a, to: b, points: 300, key: 'gift-1' }, actor)
    expect(first).toMatchObject({ saga: { state: 'done', points: 300 } })
    const again = await e.sagas.transfer({ from: a, to: b, points: 300, key: 'gift-1' }, actor)
    expect(again).toMatchObject({ saga: { state: 'done', id: (first as { saga: { id: string } }).saga.id } })
    expect(await balance(e, a)).toEqual({ available: 700, pending: 0, held: 0 })
    expect(await balance(e, b)).toEqual({ available: 301, pending: 0, held: 0 })
    expect(await e.sagas.transfer({ from: a, to: b, points: 301, key: 'gift-1' }, actor)).toMatchObject({ status: 'exists_with_different_payload' })
    const history = await e.execute({ op: 'history', account: b })
    expect(history.entries?.[0]).toMatchObject({ kind: 'earn', points: 300, ref: expect.stringMatching(/^transfer:/) })
  })

  it('keeps transfers apart whatever their accounts and keys hold, and takes keys of any length', async () => {
    const e = await start()
    // Under the old id `t-<from>-<key>` these two were one saga: the second did nothing and answered ok.
    await e.execute({ op: 'earn', account: 'm-0020', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'm', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'x', key: 'seed', points: 1 })
    const first = await e.sagas.transfer({ from: 'm-0020', to: 'x', points: 10, key: 'c1' }, actor)
    const second = await e.sagas.transfer({ from: 'm', to: 'x', points: 20, key: '0020-c1' }, actor)
    expect(first).toMatchObject({ saga: { state: 'done', from: 'm-0020', points: 10 } })
    expect(second).toMatchObject({ saga: { state: 'done', from: 'm', points: 20 } })
    expect(await balance(e, 'm')).toMatchObject({ available: 80 })
    expect(await balance(e, 'x')).toMatchObject({ available: 31 })
    // An account id and a key of 128 characters each: the saga's own step keys stay short.
    const long = 'a'.repeat(128)
    await e.execute({ op: 'earn', account: long, key: 'seed', points: 100 })
    expect(await e.sagas.transfer({ from: long, to: 'x', points: 5, key: 'k'.repeat(128) }, actor)).toMatchObject({ saga: { state: 'done' } })
    expect(e.sagas.transferOf(long, 'k'.repeat(128))).toMatchObject({ state: 'done', points: 5 })
  })

  it('finds a transfer stored under the old id when it is retried, but not another account\'s', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-sagas-'))
    try {
      engine = await openEngine({ dataDir, shards: 1, workers: 0 })
      await engine.execute({ op: 'earn', account: 'm-0020', key: 'seed', points: 100 })
      await engine.execute({ op: 'earn', account: 'm', key: 'seed', points: 100 })
      await engine.execute({ op: 'earn', account: 'x', key: 'seed', points: 1 })
      await engine.close()
      engine = undefined
      // A transfer finished by an earlier version, stored under `t-<from>-<key>`.
      const registry = open({ path: join(dataDir, 'registry') })
      const old = { id: 't-m-0020-c1', from: 'm-0020', to: 'x', points: 10, state: 'done', reason: 'transfer', actor, createdAt: 1, day: 0 }
      await registry.openDB({ name: 'sagas' }).put(old.id, old)
      await registry.close()
      engine = await openEngine({ dataDir, shards: 1, workers: 0 })
      // The retry is answered with the stored saga and moves nothing.
      expect(await engine.sagas.transfer({ from: 'm-0020', to: 'x', points: 10, key: 'c1' }, actor)).toMatchObject({ saga: { id: 't-m-0020-c1', state: 'done' } })
      expect(await balance(engine, 'm-0020')).toMatchObject({ available: 100 })
      // The same old id read as account `m` with key `0020-c1` is someone else's: a new saga runs.
      expect(await engine.sagas.transfer({ from: 'm', to: 'x', points: 20, key: '0020-c1' }, actor)).toMatchObject({ saga: { from: 'm', state: 'done' } })
      expect(await balance(engine, 'm')).toMatchObject({ available: 80 })
    } finally {
      await engine?.close()
      engine = undefined
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('fails without moving anything when the source cannot cover it', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    const result = await e.sagas.transfer({ from: a, to: b, points: 200, key: 'too-much' }, actor)
    expect(result).toMatchObject({ saga: { state: 'failed', failure: { status: 'insufficient_points' } } })
    expect(await balance(e, a)).toEqual({ available: 100, pending: 0, held: 0 })
    expect(await balance(e, b)).toEqual({ available: 1, pending: 0, held: 0 })
  })

  it('refuses a transfer to an account nobody has, starting no saga', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 100 })
    expect(await e.sagas.transfer({ from: a, to: b, points: 5, key: 'lost' }, actor)).toMatchObject({ status: 'account_not_found', field: 'to' })
    expect(e.sagas.transferOf(a, 'lost')).toBeUndefined()
    expect(await balance(e, a)).toEqual({ available: 100, pending: 0, held: 0 })
    expect((await e.execute({ op: 'balance', account: b })).status).toBe('account_not_found')
  })

  it('enforces the per-transfer and per-day limits and refuses bad requests', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 5000 })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    expect(await e.sagas.transfer({ from: a, to: b, points: 501, key: 'k1' }, actor)).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(await e.sagas.transfer({ from: a, to: b, points: 500, key: 'k2' }, actor)).toMatchObject({ saga: { state: 'done' } })
    expect(await e.sagas.transfer({ from: a, to: b, points: 400, key: 'k3' }, actor)).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(await e.sagas.transfer({ from: a, to: b, points: 300, key: 'k4' }, actor)).toMatchObject({ saga: { state: 'done' } })
    expect(await e.sagas.transfer({ from: a, to: a, points: 1, key: 'k5' }, actor)).toMatchObject({ status: 'invalid_request', field: 'to' })
    expect(await e.sagas.transfer({ from: a, to: b, points: 0, key: 'k6' }, actor)).toMatchObject({ status: 'invalid_request', field: 'points' })
  })

  it('holds the per-day limit against transfers started at once', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 5000 })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    // 800 a day: of eight transfers of 300 started together, two may pass.
    const started = await Promise.all(Array.from({ length: 8 }, (_, i) => e.sagas.transfer({ from: a, to: b, points: 300, key: `burst-${i}` }, actor)))
    const done = started.filter((r) => 'saga' in r && r.saga.state === 'done')
    expect(done).toHaveLength(2)
    expect(started.filter((r) => 'status' in r && r.status === 'invalid_request' && r.field === 'points')).toHaveLength(6)
    expect(await balance(e, a)).toMatchObject({ available: 4400 })
    expect(await balance(e, b)).toMatchObject({ available: 601 })
    // What is left of the day (200) can still be sent.
    expect(await e.sagas.transfer({ from: a, to: b, points: 200, key: 'rest' }, actor)).toMatchObject({ saga: { state: 'done' } })
  })

  it('moves a household member\'s points from and to the household\'s pool', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'alice']) {
      await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: id, key: 'seed', points: 100 })
    }
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 100 })
    // Sent to the member: it lands in the pool the member spends from.
    expect(await e.sagas.transfer({ from: 'alice', to: 'kid', points: 30, key: 'gift' }, actor)).toMatchObject({ saga: { state: 'done', to: 'kid', credit: 'head' } })
    expect(await e.execute({ op: 'balance', account: 'kid' })).toMatchObject({ balance: { available: 230 } })
    expect(await e.execute({ op: 'redeem', account: 'kid', key: 'spend', points: 230 })).toMatchObject({ status: 'ok' })
    await e.execute({ op: 'earn', account: 'kid', key: 'more', points: 40 })
    // Sent by the member: it leaves the pool, the member's limit counts it.
    expect(await e.sagas.transfer({ from: 'kid', to: 'alice', points: 40, key: 'back' }, actor)).toMatchObject({ saga: { state: 'done', debit: 'head' } })
    expect(await balance(e, 'head')).toMatchObject({ available: 0 })
    expect(await balance(e, 'alice')).toMatchObject({ available: 110 })
    expect(await balance(e, 'kid')).toMatchObject({ available: 0 })
    expect(await e.sagas.transfer({ from: 'kid', to: 'head', points: 1, key: 'same' }, actor)).toMatchObject({
      status: 'invalid_request', field: 'to', message: 'kid and head share the points of household head',
    })
  })

  it('refuses a transfer from a member who may not redeem', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    for (const id of [a, b]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 100 })
    await e.members.setRedemptionAllowed(a, false, actor)
    expect(await e.sagas.transfer({ from: a, to: b, points: 10, key: 'k' }, actor)).toMatchObject({ status: 'redemption_not_allowed', field: 'from' })
    expect(await balance(e, a)).toMatchObject({ available: 100, held: 0 })
  })

  it('refuses a bad id, key or reason before a saga starts, leaving the sender\'s journal alone', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    const bad = [
      [{ to: `${b}\u200b` }, 'to'],
      [{ key: 'tr\u0001' }, 'key'],
      [{ reason: 'a\u0000b' }, 'reason'],
      [{ to: `${b} ` }, 'to'],
    ] as const
    for (const [change, field] of bad) {
      const request = { from: a, to: b, points: 5, key: 'k', ...change }
      const refused = await e.sagas.transfer(request, actor)
      expect(refused).toMatchObject({ status: 'invalid_request', field })
      expect((refused as { message: string }).message.startsWith(field)).toBe(true)
      expect(e.sagas.transferOf(a, request.key)).toBeUndefined()
    }
    const history = await e.execute({ op: 'history', account: a })
    expect(history.entries?.map((entry) => entry.kind)).toEqual(['earn'])
    expect(await balance(e, a)).toEqual({ available: 100, pending: 0, held: 0 })
  })

  it('moves points with their expiry dates, so a transfer never extends their life', async () => {
    const day = 86_400_000
    let now = Date.UTC(2026, 0, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'soon', points: 300, expiresAt: now + day })
    await e.execute({ op: 'earn', account: a, key: 'later', points: 100, expiresAt: now + 30 * day })
    await e.execute({ op: 'earn', account: a, key: 'never', points: 200 })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    // Soonest expiry first, as any burn: 300 expiring tomorrow, 100 in a month, 50 that never expire.
    expect(await e.sagas.transfer({ from: a, to: b, points: 450, key: 'gift' }, actor)).toMatchObject({
      saga: { state: 'done', lots: [{ points: 300, expiresAt: now + day }, { points: 100, expiresAt: now + 30 * day }, { points: 50 }], credited: 3 },
    })
    const lots = (await e.execute({ op: 'lots', account: b })).lots?.map((lot) => [lot.points, lot.expiresAt])
    expect(lots?.slice(0, 2)).toEqual([[300, now + day], [100, now + 30 * day]])
    expect(lots?.slice(2).reduce((sum, [points]) => sum + points!, 0)).toBe(51)
    now += 2 * day
    expect(await balance(e, b)).toMatchObject({ available: 151 })
    now += 30 * day
    expect(await balance(e, b)).toMatchObject({ available: 51 })
    expect(await balance(e, a)).toMatchObject({ available: 150 })
    // Points that never expire need no dates: one credit, as before.
    expect(await e.sagas.transfer({ from: a, to: b, points: 10, key: 'plain' }, actor)).toMatchObject({ saga: { state: 'done' } })
    expect(e.sagas.transferOf(a, 'plain')?.lots).toBeUndefined()
  })

  it('takes back the dates already credited when a later one is refused, and gives the sender its points back', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'soon', points: 300, expiresAt: Date.now() + 86_400_000 })
    await e.execute({ op: 'earn', account: a, key: 'never', points: 200 })
    // The receiver is 350 points short of what an account may hold (10^15): the first date fits, the second does not.
    const fill = Array.from({ length: 1000 }, (_, i) => e.execute({ op: 'earn', account: b, key: `fill-${i}`, points: 1e12 }))
    expect((await Promise.all(fill)).every((r) => r.status === 'ok')).toBe(true)
    await e.execute({ op: 'adjust', account: b, key: 'trim', points: -350, reason: 'test' })
    const result = await e.sagas.transfer({ from: a, to: b, points: 450, key: 'too-much' }, actor)
    expect(result).toMatchObject({ saga: { state: 'failed', credited: 1, failure: { status: 'invalid_request' } } })
    expect(await balance(e, b)).toMatchObject({ available: 1e15 - 350 })
    expect(await balance(e, a)).toMatchObject({ available: 500, held: 0 })
  })

  it('undoing its credits takes back the transferred lots, not the receiver’s own sooner ones (fourth review)', async () => {
    const day = 86_400_000
    let now = Date.UTC(2026, 0, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    const [a, b] = acrossShards()
    await e.execute({ op: 'earn', account: a, key: 'soon', points: 300, expiresAt: now + 10 * day })
    await e.execute({ op: 'earn', account: a, key: 'later', points: 100, expiresAt: now + 30 * day })
    await e.execute({ op: 'earn', account: a, key: 'never', points: 200 })
    await e.execute({ op: 'earn', account: b, key: 'own', points: 50, expiresAt: now + day })
    // The receiver near its 10^15 limit: the third credit (the points that never expire) is refused.
    const fill = Array.from({ length: 1000 }, (_, k) => e.execute({ op: 'earn', account: b, key: `fill-${k}`, points: k === 0 ? 1e12 - 470 : 1e12 }))
    expect((await Promise.all(fill)).every((r) => r.status === 'ok')).toBe(true)
    const dated = async () => (await e.execute({ op: 'lots', account: b })).lots!.filter((l) => l.expiresAt < 8e15).map((l) => [l.points, l.expiresAt])
    const before = await dated()
    expect(await e.sagas.transfer({ from: a, to: b, points: 450, key: 'gift' }, actor, true)).toMatchObject({ saga: { state: 'failed', credited: 2 } })
    // It took the receiver's own 50 due tomorrow and left 50 transferred ones due in 30 days.
    expect(await dated()).toEqual(before)
  })

  it('links a member with more lots than are credited at once: every lot arrives with its terms, once', async () => {
    const day = 86_400_000
    const now = Date.UTC(2026, 0, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    for (let i = 0; i < 150; i++) await e.execute({ op: 'earn', account: 'kid', key: `e${i}`, points: i + 1, expiresAt: now + (i + 1) * day })
    const own = (await e.execute({ op: 'lots', account: 'kid' })).lots!.map((l) => [l.points, l.expiresAt])
    expect(own).toHaveLength(150)
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: (150 * 151) / 2 })
    expect((await e.execute({ op: 'lots', account: 'head' })).lots!.map((l) => [l.points, l.expiresAt])).toEqual(own)
    const saga = e.sagas.transferOf('kid', `household:head:${now}`)
    expect(saga).toMatchObject({ state: 'done', credited: 150 })
  })

  it('credits lots at once only as far as the receiver\'s mailbox takes them (second review)', async () => {
    const day = 86_400_000
    const now = Date.UTC(2026, 2, 4, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now, limits: { mailboxDepthMax: 16 } })
    const e = engine
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    for (let i = 0; i < 20; i++) await e.execute({ op: 'earn', account: 'kid', key: `e${i}`, points: 10, expiresAt: now + (i + 1) * day })
    // 64 credits at once into a mailbox of 16: the same leading credits took the slots every time, and the link never ended.
    const outcome = await Promise.race([e.sagas.linkHousehold('kid', 'head', actor), new Promise((resolve) => setTimeout(() => resolve('still running after 5 s'), 5000))])
    expect(outcome).toMatchObject({ status: 'ok', points: 200 })
    expect((await e.execute({ op: 'lots', account: 'head' })).lots).toHaveLength(20)
  })

  it('lets points whose date passed while a saga waited expire, and credits the rest', async () => {
    const day = 86_400_000
    const start = Date.UTC(2026, 0, 10)
    let now = start
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-sagas-'))
    try {
      engine = await openEngine({ dataDir, shards: 1, workers: 0, clock: () => now })
      await engine.execute({ op: 'earn', account: 'alice', key: 'soon', points: 300, expiresAt: start + day })
      await engine.execute({ op: 'earn', account: 'alice', key: 'never', points: 100 })
      await engine.execute({ op: 'earn', account: 'bob', key: 'seed', points: 1 })
      // A saga that took its hold, then the process stopped for two days.
      const hold = await engine.execute({ op: 'authorize', account: 'alice', key: 'saga:t-waited:hold', points: 400, timeoutMs: 7 * day })
      expect(hold).toMatchObject({ status: 'ok', heldLots: [{ points: 300, expiresAt: start + day }, { points: 100 }] })
      await engine.close()
      engine = undefined
      const registry = open({ path: join(dataDir, 'registry') })
      const saga = {
        id: 't-waited', from: 'alice', to: 'bob', points: 400, state: 'held', hold: hold.hold, lots: hold.heldLots, credited: 0,
        reason: 'transfer', actor, createdAt: start, day: Math.floor(start / day),
      }
      await registry.openDB({ name: 'sagas' }).put(saga.id, saga)
      await registry.openDB({ name: 'sagas-open' }).put(saga.id, true)
      await registry.close()
      now = start + 2 * day
      engine = await openEngine({ dataDir, shards: 1, workers: 0, clock: () => now })
      expect(engine.sagas.get('t-waited')).toMatchObject({ state: 'done', credited: 2 })
      expect(await balance(engine, 'bob')).toMatchObject({ available: 101 })
      expect(await balance(engine, 'alice')).toMatchObject({ available: 0, held: 0 })
    } finally {
      await engine?.close()
      engine = undefined
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('lets a lot whose date comes while its credit is on the way expire, and credits the rest (a household link moves them)', async () => {
    const start = Date.UTC(2026, 0, 10)
    let now = start
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'soon', points: 300, expiresAt: start + 60_000 })
    await e.execute({ op: 'earn', account: 'kid', key: 'never', points: 100 })
    now = start + 59_999
    // The saga reads the clock a millisecond before the lot's date; its credit reaches the shard at the date.
    const submit = e.submit.bind(e)
    e.submit = (command) => {
      if (command.op === 'earn' && command.expiresAt === start + 60_000) now = start + 60_000
      return submit(command)
    }
    const before = await e.execute({ op: 'balance', account: 'head' })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 400 })
    // The 300 points expired on the way (as they would have on the kid's account); the 100 moved to the pool.
    expect((await e.execute({ op: 'balance', account: 'head' })).balance).toEqual({ available: (before.balance?.available ?? 0) + 100, pending: 0, held: 0 })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toEqual({ available: 0, pending: 0, held: 0 })
  })

  it('moves what is left when a redemption lands on the member`s own account while it is linked, and says when points could not move', async () => {
    engine = await openEngine({ storage: 'memory', shards: 4 })
    const e = engine
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 400 })
    const submit = e.submit.bind(e)
    let raced = false
    e.submit = async (command) => {
      // A till's redemption sent before the link reaches the kid's shard just before the link's hold.
      if (command.op === 'authorize' && command.account === 'kid' && !raced) {
        raced = true
        expect(await submit({ op: 'redeem', account: 'kid', key: 'till', points: 100 })).toMatchObject({ status: 'ok' })
      }
      return submit(command)
    }
    const before = (await e.execute({ op: 'balance', account: 'head' })).balance?.available ?? 0
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 300 })
    expect((await e.execute({ op: 'balance', account: 'head' })).balance).toMatchObject({ available: before + 300, held: 0 })
    expect((await submit({ op: 'balance', account: 'kid' })).balance).toEqual({ available: 0, pending: 0, held: 0 })
    // The pool cannot take them (at its 10^15 limit): the link says the points stayed behind.
    e.submit = submit
    await e.members.create({ id: 'kid2', program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'kid2', key: 'own', points: 50 })
    await e.execute({ op: 'adjust', account: 'head', key: 'fill', points: 1_000_000_000_000, reason: 'fill' })
    const room = 1_000_000_000_000_000 - (await e.execute({ op: 'balance', account: 'head' })).balance!.available
    for (let left = room - 10, i = 0; left > 0; i++) {
      const points = Math.min(left, 1_000_000_000_000)
      await e.execute({ op: 'adjust', account: 'head', key: `fill-${i}`, points, reason: 'fill' })
      left -= points
    }
    const stuck = await e.sagas.linkHousehold('kid2', 'head', actor)
    expect(stuck).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(stuck.message).toMatch(/kid2 .*linked.*50 points.*stay on its own account/)
    expect((await submit({ op: 'balance', account: 'kid2' })).balance).toEqual({ available: 50, pending: 0, held: 0 })
  })

  it('refuses a transfer to a closed member; one closed half-way still completes, stranding no held points', async () => {
    const e = await start()
    const [a, b] = acrossShards()
    await e.members.create({ id: b, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: a, key: 'seed', points: 100 })
    await e.members.setStatus(b, 'closed', actor)
    expect(await e.sagas.transfer({ from: a, to: b, points: 50, key: 'to-closed' }, actor)).toMatchObject({ status: 'member_suspended', field: 'to' })
    expect(await balance(e, a)).toEqual({ available: 100, pending: 0, held: 0 })
    // Closed after the transfer passed its checks (they run before its first await): saga steps
    // skip the member checks, so the transfer still completes and no held points are stranded.
    await e.members.setStatus(b, 'active', actor)
    const pending = e.sagas.transfer({ from: a, to: b, points: 50, key: 'closed-midway' }, actor)
    await e.members.setStatus(b, 'closed', actor)
    expect(await pending).toMatchObject({ saga: { state: 'done', points: 50 } })
    // The closure really came first: it is audited before the saga's start (written before its hold).
    const audited = e.members.audit.search({ order: 'oldest' }).records.map((r) => r.action)
    expect(audited.lastIndexOf('member.status')).toBeLessThan(audited.lastIndexOf('transfer.start'))
    expect(e.members.get(b)?.status).toBe('closed')
    expect(await balance(e, a)).toEqual({ available: 50, pending: 0, held: 0 })
    expect(await balance(e, b)).toEqual({ available: 50, pending: 0, held: 0 })
    const steps = (await e.execute({ op: 'history', account: a })).entries?.map((x) => x.kind)
    expect(steps).toEqual(['capture', 'hold', 'earn'])
  })
})

describe('households and merges', () => {
  it('pools a member into a household: points move, later earns and burns use the household account', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid]) {
      await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: id, key: 'seed', points: 100 })
    }
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 100 })
    expect(await balance(e, head)).toMatchObject({ available: 200 })
    expect(await e.execute({ op: 'earn', account: kid, key: 'after', points: 5 })).toMatchObject({ status: 'ok', balance: { available: 205 } })
    expect(await e.execute({ op: 'redeem', account: kid, key: 'spend', points: 50 })).toMatchObject({ status: 'ok', balance: { available: 155 } })
    expect(e.members.householdOf(head).map((m) => m.id)).toEqual([kid])
    expect(await e.sagas.linkHousehold(head, kid, actor)).toMatchObject({ status: 'invalid_request' })
    // Unlinking: the pooled points stay; the member earns into its own account again.
    expect(await e.members.unlinkHousehold(kid, actor)).toMatchObject({ ok: true })
    expect(await e.execute({ op: 'earn', account: kid, key: 'own', points: 7 })).toMatchObject({ status: 'ok', balance: { available: 7 } })
    expect(await balance(e, head)).toMatchObject({ available: 155 })
  })

  it('keeps each household member\'s keys and refs its own in the shared pool', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok' })
    // Two tills may number their receipts alike: the same key from two members is two commands.
    expect(await e.execute({ op: 'earn', account: 'head', key: 'order-1', points: 40 })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'order-1', points: 40 })).toMatchObject({ status: 'ok', balance: { available: 80 } })
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'order-2', points: 60, ref: 'p2', amount: 6000 })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'earn', account: 'head', key: 'order-2', points: 60, ref: 'p2', amount: 6000 })).toMatchObject({ status: 'ok', balance: { available: 200 } })
    // A member's own retry is still a replay.
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'order-1', points: 40 })).toMatchObject({ status: 'exists' })
    // Each return finds its member's purchase: half of kid's p2, then all of head's.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-1', ref: 'p2', amount: 3000 })).toMatchObject({ status: 'ok', points: 30 })
    expect(await e.execute({ op: 'reverse', account: 'head', key: 'ret-1', ref: 'p2' })).toMatchObject({ status: 'ok', points: 60 })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-2', ref: 'nothing' })).toMatchObject({
      status: 'transaction_not_found', message: 'no purchase or earn nothing on account head',
    })
    // A redemption and its refund, by the member that made it.
    expect(await e.execute({ op: 'redeem', account: 'kid', key: 'pay', points: 50, ref: 'shop-9' })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'refund', account: 'head', key: 'back', ref: 'shop-9' })).toMatchObject({ status: 'transaction_not_found' })
    expect(await e.execute({ op: 'refund', account: 'kid', key: 'back', ref: 'shop-9' })).toMatchObject({ status: 'ok', points: 50 })
    expect(await balance(e, 'head')).toMatchObject({ available: 110 })
  })

  it('returns and refunds a purchase a member made before it joined the household, settling with the pool', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })
    await e.execute({ op: 'redeem', account: 'kid', key: 'pay', points: 100, ref: 'r1', amount: 1000 })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 400 })
    // Half the TV back: 250 points, owed on the kid's own account, paid from the pool.
    const half = await e.execute({ op: 'reverse', account: 'kid', key: 'ret-1', ref: 'p1', amount: 25_000 })
    expect(half).toMatchObject({ status: 'ok', points: 250, balance: { available: 250 } })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-1', ref: 'p1', amount: 25_000 })).toMatchObject({ status: 'exists', points: 250, balance: { available: 250 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 250 })
    // The points-paid purchase: its 100 points come back, on to the pool.
    expect(await e.execute({ op: 'refund', account: 'kid', key: 'back', ref: 'r1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: 350 } })
    // The rest of the TV (250) once the pool holds only 50: the pool pays what it has, 200 stay owed on the kid's own account.
    await e.execute({ op: 'redeem', account: 'head', key: 'spend', points: 300 })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-2', ref: 'p1' })).toMatchObject({ status: 'ok', points: 250, balance: { available: 0 } })
    expect(e.members.get('kid')?.account).toBe('head')
    const own = await e.submit({ op: 'balance', account: 'kid' })
    expect(own.balance).toMatchObject({ available: -200 })
    // Nothing of it on either account: refused as before.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-3', ref: 'nope' })).toMatchObject({ status: 'transaction_not_found', message: 'no purchase or earn nope on account head' })
  })

  it('does not take again a pre-join purchase whose points expired unspent in the pool, nor a merged duplicate’s', async () => {
    let now = Date.UTC(2026, 0, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid', 'keep', 'dupe']) await e.members.create({ id, program: 'demo' }, actor)
    const dayEnd = now + 86_400_000
    // The pool has points of its own expiring the same day, and a caller's key like the engine's old derived ones.
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'head', key: 'lapsed:kid:ret', points: 70, expiresAt: dayEnd })
    now += 60_000
    await e.execute({ op: 'earn', account: 'keep', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1', amount: 50_000, expiresAt: dayEnd })
    await e.execute({ op: 'earn', account: 'kid', key: 'radio', points: 50, ref: 'p2' })
    await e.execute({ op: 'earn', account: 'dupe', key: 'tv', points: 500, ref: 'p1', amount: 50_000, expiresAt: dayEnd })
    // Linked and merged an hour later: the moved lots keep their start, so the pool tells them apart.
    now += 3_600_000
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 550 })
    expect(await e.sagas.merge('dupe', 'keep', actor)).toMatchObject({ merge: { state: 'done' } })
    now += 2 * 86_400_000
    expect(await balance(e, 'head')).toMatchObject({ available: 150 })
    // The TV's 500 expired unspent in the pool: the return takes nothing (it took 500, the pool paid 150, the kid owed 350).
    const returned = await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })
    expect(returned).toMatchObject({ status: 'ok', points: 0, lapsed: 500, balance: { available: 150 } })
    expect(returned).not.toHaveProperty('origins')
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: 0 })
    // A retry repeats nothing.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'exists', points: 0, lapsed: 500 })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: 0 })
    expect(await balance(e, 'head')).toMatchObject({ available: 150 })
    // The radio's 50 never expire: still taken, from the pool.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-2', ref: 'p2' })).toMatchObject({ status: 'ok', points: 50, balance: { available: 100 } })
    // Through the member a duplicate was merged into, alike.
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'ok', points: 0, lapsed: 500, balance: { available: 100 } })
    expect((await e.submit({ op: 'balance', account: 'dupe' })).balance).toMatchObject({ available: 0 })
    // The pool's journal says why: a 0-point reverse entry carrying the lapsed points.
    const pool = (await e.execute({ op: 'history', account: 'head', limit: 3 })).entries!
    expect(pool.find((entry) => entry.lapsed === 500)).toMatchObject({ kind: 'reverse', points: 0, reason: 'expired_here_returned_elsewhere' })
    // The pool's own 70 that expired that day were not used: a return of that earn still finds them.
    expect(await e.execute({ op: 'reverse', account: 'head', key: 'ret-own', ref: 'lapsed:kid:ret' })).toMatchObject({ status: 'ok', points: 0, lapsed: 70 })
    // After an unlink, a retry of the return goes to the kid's own account: still the stored result, without the engine's fields.
    expect(await e.members.unlinkHousehold('kid', actor)).toMatchObject({ ok: true })
    const retried = await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })
    // The same figures as the first reply (the pool's write-off is replayed too), and the kid's own balance.
    expect(retried).toMatchObject({ status: 'exists', points: 0, lapsed: 500, balance: { available: 0 } })
    expect(retried).not.toHaveProperty('origins')
    expect(retried).not.toHaveProperty('settledWith')
    expect(await balance(e, 'head')).toMatchObject({ available: 100 })
    // Callers may not send the internal fields.
    expect(await e.execute({ op: 'reverse', account: 'head', key: 'x', ref: 'p1', points: 1, lapsedOf: [[0, 1]] })).toMatchObject({ status: 'invalid_request', field: 'lapsedOf' })
    expect(await e.execute({ op: 'reverse', account: 'head', key: 'y', ref: 'p1', withOrigins: true })).toMatchObject({ status: 'invalid_request', field: 'withOrigins' })
    for (const op of ['reverse', 'refund']) {
      expect(await e.execute({ op, account: 'head', key: 'z', ref: 'p1', settleWith: 'kid' })).toMatchObject({ status: 'invalid_request', field: 'settleWith' })
    }
    expect(await e.execute({ op: 'reverse', account: 'head', key: 'z', ref: 'p1', replayOnly: true })).toMatchObject({ status: 'invalid_request', field: 'replayOnly' })
  })

  it('keeps its derived keys apart from a household member whose id looks like them (fourth review)', async () => {
    let now = Date.UTC(2026, 0, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid', 'lapsed:kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1', expiresAt: now + 86_400_000 })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 500 })
    expect(await e.sagas.linkHousehold('lapsed:kid', 'head', actor)).toMatchObject({ status: 'ok' })
    // Stored in the pool as `ret\u0000lapsed:kid`: it was the engine's write-off key for kid's return `ret`.
    expect(await e.execute({ op: 'earn', account: 'lapsed:kid', key: 'ret', points: 5 })).toMatchObject({ status: 'ok' })
    now += 2 * 86_400_000
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'ok', points: 0, lapsed: 500 })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: 0 })
  })

  it('settles two such returns made at once each for its own points', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'kid', key: 'a', points: 500, ref: 'p1' })
    await e.execute({ op: 'earn', account: 'kid', key: 'b', points: 300, ref: 'p2' })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 800 })
    const both = await Promise.all([
      e.execute({ op: 'reverse', account: 'kid', key: 'ret-1', ref: 'p1' }),
      e.execute({ op: 'reverse', account: 'kid', key: 'ret-2', ref: 'p2' }),
    ])
    expect(both.map((r) => [r.status, r.points])).toEqual([['ok', 500], ['ok', 300]])
    expect(await balance(e, 'head')).toMatchObject({ available: 100 })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: 0 })
  })

  it('a retry of a pre-join return whose pool had nothing to pay pays nothing, after the pool gained points too (was a known gap)', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 500 })
    await e.execute({ op: 'redeem', account: 'head', key: 'spend', points: 500 })
    // The pool has nothing: the 300 taken stay owed on the kid's own account.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 300 })).toMatchObject({ status: 'ok', points: 300, balance: { available: 0 } })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: -300 })
    // The pool gains points; the retry answers the stored result and pays nothing from them (it paid 300).
    await e.execute({ op: 'earn', account: 'head', key: 'refill', points: 1000 })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 300 })).toMatchObject({ status: 'exists', points: 300, balance: { available: 1000 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 1000 })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: -300 })
    // A return made now, with another key, is paid from the pool's points as before.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-2', ref: 'p1' })).toMatchObject({ status: 'ok', points: 200, balance: { available: 800 } })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: -300 })
    // Nor after an unlink, where the retry runs on the kid's own account.
    await e.members.unlinkHousehold('kid', actor)
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 300 })).toMatchObject({ status: 'exists', points: 300, balance: { available: -300 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 800 })
  })

  it('keeps a pre-join return\'s decision to pay nothing across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-sagas-'))
    try {
      engine = await openEngine({ dataDir, shards: 4, workers: 0 })
      for (const id of ['head', 'kid']) await engine.members.create({ id, program: 'demo' }, actor)
      await engine.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
      await engine.sagas.linkHousehold('kid', 'head', actor)
      await engine.execute({ op: 'redeem', account: 'head', key: 'spend', points: 500 })
      expect(await engine.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'ok', points: 500 })
      // Kept as a transfer of 0 points from the pool, finished.
      expect(engine.sagas.transferOf('head', 'return:kid:ret')).toMatchObject({ state: 'done', points: 0, from: 'head', to: 'kid' })
      await engine.close()
      engine = await openEngine({ dataDir, workers: 0 })
      await engine.execute({ op: 'earn', account: 'head', key: 'refill', points: 1000 })
      expect(await engine.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'exists', points: 500, balance: { available: 1000 } })
      expect((await engine.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: -500 })
      await engine.close()
      engine = undefined
      // Every account agrees with its journal and its lots, and each shard's totals with its accounts.
      for (let shard = 0; shard < 4; shard++) {
        const store = new LmdbStore({ path: shardPath(dataDir, shard) })
        try {
          for (const account of store.scanAccounts()) expect(accountProblems(account, [...store.scanEntries(account.id)])).toEqual([])
          const stored = store.totals()
          if (stored !== undefined) expect(totalsOf(store.scanAccounts())).toEqual(stored)
        } finally {
          await store.close()
        }
      }
    } finally {
      await engine?.close()
      engine = undefined
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('a retry of a pre-join refund that moved nothing to the pool moves nothing, after the member\'s own account gained points too', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
    await e.execute({ op: 'redeem', account: 'kid', key: 'pay', points: 100, ref: 'r1' })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 400 })
    await e.execute({ op: 'redeem', account: 'head', key: 'spend', points: 400 })
    // The TV back with nothing in the pool: 500 owed on the kid's own account.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'ok', points: 500 })
    // The refund's 100 pay part of that debt: nothing is left to move to the pool.
    expect(await e.execute({ op: 'refund', account: 'kid', key: 'back', ref: 'r1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: 0 } })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: -400 })
    // Unlinked, the kid earns on its own account; the refund's retry runs there and moves nothing (it moved 100).
    await e.members.unlinkHousehold('kid', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'later', points: 1000 })
    expect(await e.execute({ op: 'refund', account: 'kid', key: 'back', ref: 'r1' })).toMatchObject({ status: 'exists', points: 100, balance: { available: 600 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 0 })
  })

  it('returns and refunds, through the member it was merged into, a purchase a duplicate made before the merge', async () => {
    const e = await start()
    await e.members.create({ id: 'keep', program: 'demo' }, actor)
    await e.members.create({ id: 'dupe', program: 'demo', cards: [{ value: 'DUPE0002' }] }, actor)
    await e.execute({ op: 'earn', account: 'keep', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'dupe', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })
    await e.execute({ op: 'redeem', account: 'dupe', key: 'pay', points: 100, ref: 'r1' })
    expect(await e.sagas.merge('dupe', 'keep', actor)).toMatchObject({ merge: { state: 'done' } })
    expect(e.members.get('keep')?.mergedFrom).toEqual(['dupe'])
    expect(await balance(e, 'keep')).toMatchObject({ available: 500 })
    // By the card that moved to keep: the TV's 500 points come back off keep.
    expect(await e.execute({ op: 'reverse', card: 'DUPE0002', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'ok', points: 500, balance: { available: 0 } })
    expect(await e.execute({ op: 'refund', account: 'keep', key: 'back', ref: 'r1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: 100 } })
    expect((await e.submit({ op: 'balance', account: 'dupe' })).balance).toMatchObject({ available: 0 })
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'none', ref: 'p9' })).toMatchObject({ status: 'transaction_not_found', message: 'no purchase or earn p9 on account keep' })
  })

  it('returns, through a member that joined a household after the merge, a purchase its duplicate made: settled with the pool (review)', async () => {
    const e = await start()
    for (const id of ['keep', 'dupe', 'head']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.execute({ op: 'earn', account: 'dupe', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })
    expect(await e.sagas.merge('dupe', 'keep', actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await e.sagas.linkHousehold('keep', 'head', actor)).toMatchObject({ status: 'ok', points: 500 })
    expect(await balance(e, 'head')).toMatchObject({ available: 1500 })
    // The TV's points are in head's pool now: they come back from there.
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1', points: 200 })).toMatchObject({ status: 'ok', points: 200, balance: { available: 1300 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 1300 })
    expect((await e.submit({ op: 'balance', account: 'dupe' })).balance).toMatchObject({ available: 0 })
    // A retry answers the same, and moves nothing more.
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1', points: 200 })).toMatchObject({ status: 'exists', points: 200, balance: { available: 1300 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 1300 })
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'none', ref: 'p9' })).toMatchObject({ status: 'transaction_not_found' })
    // After an unlink, a retry shows keep's own balance, not the household's (third review).
    await e.members.unlinkHousehold('keep', actor)
    await e.execute({ op: 'earn', account: 'keep', key: 'own', points: 7 })
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1', points: 200 })).toMatchObject({ status: 'exists', points: 200, balance: { available: 7 } })
  })

  it('a retry, after joining a household, of a duplicate\'s return settled before shows the household\'s balance (third review)', async () => {
    const e = await start()
    for (const id of ['keep', 'dupe', 'head']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.execute({ op: 'earn', account: 'dupe', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })
    await e.sagas.merge('dupe', 'keep', actor)
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1', points: 200 })).toMatchObject({ status: 'ok', balance: { available: 300 } })
    await e.sagas.linkHousehold('keep', 'head', actor)
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1', points: 200 })).toMatchObject({ status: 'exists', points: 200, balance: { available: 1300 } })
  })

  it('merges a duplicate: identifiers and points end up on one member, exactly once', async () => {
    const e = await start()
    const [keep, dupe] = acrossShards()
    await e.members.create({ id: keep, program: 'demo', email: 'keep@example.com' }, actor)
    await e.members.create({ id: dupe, program: 'demo', phone: '+15550001111', cards: [{ value: 'DUPE0001' }] }, actor)
    await e.execute({ op: 'earn', account: keep, key: 'seed', points: 10 })
    await e.execute({ op: 'earn', account: dupe, key: 'seed', points: 90 })
    expect(await e.sagas.merge(dupe, dupe, actor)).toMatchObject({ status: 'invalid_request', field: 'into' })
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await balance(e, keep)).toMatchObject({ available: 100 })
    expect(await balance(e, dupe)).toMatchObject({ available: 0 })
    expect(e.members.resolve('card', 'DUPE0001')?.member.id).toBe(keep)
    expect(e.members.resolve('phone', '+15550001111')?.member.id).toBe(keep)
    expect(e.members.get(dupe)).toMatchObject({ status: 'closed', mergedInto: keep })
    expect(await e.execute({ op: 'earn', card: 'DUPE0001', key: 'after', points: 1 })).toMatchObject({ status: 'ok', balance: { available: 101 } })
    // The duplicate's journal stays: its earn, then the merge's hold and capture, newest first.
    const entries = (await e.execute({ op: 'history', account: dupe })).entries
    expect(entries?.map((entry) => [entry.kind, entry.points])).toEqual([['capture', 0], ['hold', -90], ['earn', 90]])
  })

  it('merges what is left when a redemption lands on the duplicate`s account between the balance read and the hold', async () => {
    const e = await start()
    const [keep, dupe] = acrossShards()
    await e.members.create({ id: keep, program: 'demo' }, actor)
    await e.members.create({ id: dupe, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: keep, key: 'seed', points: 10 })
    await e.execute({ op: 'earn', account: dupe, key: 'seed', points: 90 })
    const submit = e.submit.bind(e)
    let raced = false
    e.submit = async (command) => {
      if (command.op === 'authorize' && command.account === dupe && !raced) {
        raced = true
        expect(await submit({ op: 'redeem', account: dupe, key: 'till', points: 30 })).toMatchObject({ status: 'ok' })
      }
      return submit(command)
    }
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await balance(e, keep)).toMatchObject({ available: 70 })
    expect((await submit({ op: 'balance', account: dupe })).balance).toEqual({ available: 0, pending: 0, held: 0 })
  })

  it('refuses to merge away a household member or head, a suspended member, or one with points held or owed', async () => {
    const e = await start()
    const ids = ['head', 'kid', 'other', 'held', 'owing', 'frozen']
    for (const id of ids) {
      await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: id, key: 'seed', points: 100 })
    }
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 100 })
    // Merging the member would have moved the whole household's pool to a stranger.
    expect(await e.sagas.merge('kid', 'other', actor)).toMatchObject({ status: 'invalid_request', field: 'from', message: 'member kid pools its points in household head; unlink it first' })
    expect(await e.sagas.merge('head', 'other', actor)).toMatchObject({ status: 'invalid_request', field: 'from', message: 'member head heads a household of 1; unlink its members first' })
    await e.execute({ op: 'authorize', account: 'held', key: 'a', points: 60 })
    expect(await e.sagas.merge('held', 'other', actor)).toMatchObject({ status: 'invalid_request', message: 'member held has 60 points held; capture or void them first' })
    await e.execute({ op: 'earn', account: 'owing', key: 'buy', points: 50, ref: 'r1', amount: 5000 })
    await e.execute({ op: 'redeem', account: 'owing', key: 'spend', points: 150 })
    await e.execute({ op: 'reverse', account: 'owing', key: 'ret', ref: 'r1', shortfall: 'debt' })
    expect((await balance(e, 'owing'))?.available).toBeLessThan(0)
    expect(await e.sagas.merge('owing', 'other', actor)).toMatchObject({ status: 'invalid_request', message: expect.stringMatching(/^member owing owes \d+ points/) })
    await e.members.setStatus('frozen', 'suspended', actor)
    expect(await e.sagas.merge('frozen', 'other', actor)).toMatchObject({ status: 'member_suspended', field: 'from' })
    expect(await balance(e, 'head')).toMatchObject({ available: 200 })
    expect(await balance(e, 'other')).toMatchObject({ available: 100 })
    for (const id of ['kid', 'held', 'owing', 'frozen']) expect(e.members.get(id)?.mergedInto).toBeUndefined()
  })

  it('returns and refunds, after an unlink, what a member bought in the household it left, where the points are', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'other']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
    await e.execute({ op: 'earn', account: 'kid', key: 'seed', points: 10 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })).toMatchObject({ status: 'ok', balance: { available: 610 } })
    expect(await e.execute({ op: 'redeem', account: 'kid', key: 'pay', points: 60, ref: 'r1', amount: 600 })).toMatchObject({ status: 'ok', balance: { available: 550 } })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-1', ref: 'p1', amount: 10_000 })).toMatchObject({ status: 'ok', points: 100, balance: { available: 450 } })
    expect(await e.members.unlinkHousehold('kid', actor)).toMatchObject({ ok: true, value: { account: 'kid', formerHouseholds: ['head'] } })
    await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 7 })
    // A retry of the return made in the household: its stored result, with the kid's own balance.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-1', ref: 'p1', amount: 10_000 })).toMatchObject({ status: 'exists', points: 100, balance: { available: 7 } })
    // The rest of the TV comes back from the pool, which holds its points (it took 110 at the link and 500 with the TV).
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-2', ref: 'p1' })).toMatchObject({ status: 'ok', points: 400, balance: { available: 7 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 50 })
    expect(await balance(e, 'kid')).toMatchObject({ available: 7 })
    // The redemption's points go back to the pool they were taken from.
    expect(await e.execute({ op: 'refund', account: 'kid', key: 'back', ref: 'r1' })).toMatchObject({ status: 'ok', points: 60, balance: { available: 7 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 110 })
    // Refusals still name what is wrong: all of the TV is back, and nobody bought p9.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-3', ref: 'p1', points: 1 })).toMatchObject({ status: 'reversal_exceeds_original' })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-4', ref: 'p9' })).toMatchObject({ status: 'transaction_not_found', message: 'no purchase or earn p9 on account kid' })
    // The head's own purchases are not the kid's to return.
    await e.execute({ op: 'earn', account: 'head', key: 'hifi', points: 30, ref: 'p2' })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-5', ref: 'p2' })).toMatchObject({ status: 'transaction_not_found' })
    expect(await balance(e, 'head')).toMatchObject({ available: 140 })
    // In another household now, the first one's purchases are still found, and the reply shows the new pool's balance.
    await e.execute({ op: 'earn', account: 'other', key: 'seed', points: 1000 })
    expect(await e.execute({ op: 'earn', account: 'head', key: 'kid-again', points: 1 })).toMatchObject({ status: 'ok' })
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.members.unlinkHousehold('kid', actor)
    expect(e.members.get('kid')?.formerHouseholds).toEqual(['head'])
    await e.execute({ op: 'earn', account: 'kid', key: 'radio', points: 20, ref: 'p3' })
    await e.sagas.linkHousehold('kid', 'other', actor)
    expect(e.members.get('kid')?.formerHouseholds).toEqual(['head'])
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret-6', ref: 'p1', points: 1 })).toMatchObject({ status: 'reversal_exceeds_original' })
    await e.members.unlinkHousehold('kid', actor)
    expect(e.members.get('kid')?.formerHouseholds).toEqual(['other', 'head'])
  })

  it('captures or voids, after an unlink, a hold the member took in the household it left, and never another member\'s (was a known gap)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'sis']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.sagas.linkHousehold('sis', 'head', actor)
    const hold = async (member: string, key: string, points: number) => {
      const reply = await e.execute({ op: 'authorize', account: member, key, points })
      expect(reply).toMatchObject({ status: 'ok', points })
      return reply.hold!
    }
    const tv = await hold('kid', 'till-1', 300)
    const sisters = await hold('sis', 'till-2', 100)
    const early = await hold('kid', 'till-3', 50)
    const dropped = await hold('kid', 'till-4', 60)
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-early', hold: early, points: 20 })).toMatchObject({ status: 'ok', points: 20 })
    expect(await balance(e, 'head')).toMatchObject({ available: 1000 - 300 - 100 - 20 - 60, held: 460 })
    expect(await e.members.unlinkHousehold('kid', actor)).toMatchObject({ ok: true })
    await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 7 })

    // The till captures the TV's hold: the pool's points are spent, the rest released; the kid sees its own balance.
    const captured = await e.execute({ op: 'capture', account: 'kid', key: 'cap-tv', hold: tv, points: 250 })
    expect(captured).toMatchObject({ status: 'ok', hold: tv, points: 250, balance: { available: 7, held: 0 } })
    expect(captured.entry).toBeUndefined()
    expect(await balance(e, 'head')).toMatchObject({ available: 1000 - 250 - 100 - 20 - 60, held: 160 })
    // A retry answers the stored result; so does one of a capture made before the unlink.
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-tv', hold: tv, points: 250 })).toMatchObject({ status: 'exists', points: 250, balance: { available: 7 } })
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-early', hold: early, points: 20 })).toMatchObject({ status: 'exists', points: 20, balance: { available: 7 } })
    // A closed hold says why, as it would have in the household.
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-tv-again', hold: tv })).toMatchObject({ status: 'hold_already_captured', message: `hold ${tv} was captured already` })
    // A void gives the held points back to the pool.
    expect(await e.execute({ op: 'void', account: 'kid', key: 'void-4', hold: dropped })).toMatchObject({ status: 'ok', points: 60, balance: { available: 7 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 1000 - 250 - 100 - 20, held: 100 })
    // The sister's hold is not the kid's: not found, and untouched.
    for (const op of ['capture', 'void'] as const) {
      expect(await e.execute({ op, account: 'kid', key: `steal-${op}`, hold: sisters })).toMatchObject({ status: 'hold_not_found', message: `no hold ${sisters} on this account` })
    }
    expect(await balance(e, 'head')).toMatchObject({ held: 100 })
    expect(await e.execute({ op: 'capture', account: 'sis', key: 'cap-sis', hold: sisters })).toMatchObject({ status: 'ok', points: 100, balance: { held: 0 } })
    // Nor is a hold id nobody took.
    expect(await e.execute({ op: 'void', account: 'kid', key: 'void-none', hold: 999 })).toMatchObject({ status: 'hold_not_found' })
    // Nothing of this landed on the kid's own account.
    expect(await balance(e, 'kid')).toMatchObject({ available: 7, held: 0 })
  })

  it('after an unlink, a hold id names the open hold of that id the member took, wherever (else the latest closed); a retry answers its stored result (review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'head2']) await e.members.create({ id, program: 'demo' }, actor)
    // The pool's journal runs ahead, so its hold ids are above the kid's own account's entries.
    for (let i = 0; i < 12; i++) await e.execute({ op: 'earn', account: 'head', key: `seed-${i}`, points: 100 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    const early = (await e.execute({ op: 'authorize', account: 'kid', key: 'pool-hold-early', points: 25 })).hold!
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-pre', hold: early })).toMatchObject({ status: 'ok', points: 25 })
    const inHousehold = (await e.execute({ op: 'authorize', account: 'kid', key: 'pool-hold', points: 40 })).hold!
    await e.members.unlinkHousehold('kid', actor)
    // The kid's own account, and another household's head, reach the same entry numbers.
    await reach(e, 'kid', early - 1)
    const ownEarly = (await e.execute({ op: 'authorize', account: 'kid', key: 'own-hold-early', points: 30 })).hold!
    expect(ownEarly).toBe(early)
    // The till's retry of the capture made in the household: its stored result, and the own hold untouched.
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-pre', hold: early })).toMatchObject({ status: 'exists', points: 25 })
    expect(await balance(e, 'kid')).toMatchObject({ held: 30 })
    await e.execute({ op: 'void', account: 'kid', key: 'own-void-early', hold: ownEarly })
    await reach(e, 'kid', inHousehold - 1)
    const own = (await e.execute({ op: 'authorize', account: 'kid', key: 'own-hold', points: 30 })).hold!
    expect(own).toBe(inHousehold)
    // Both open: the own account's, taken later.
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'c1', hold: own, points: 10 })).toMatchObject({ status: 'ok', points: 10 })
    expect(await balance(e, 'head')).toMatchObject({ held: 40 })
    // The own one is closed now: the household's, still open, is the one the till means.
    expect(await e.execute({ op: 'void', account: 'kid', key: 'v1', hold: own })).toMatchObject({ status: 'ok', points: 40, balance: { held: 0 } })
    expect(await balance(e, 'head')).toMatchObject({ held: 0 })
    // Both closed: the latest answers, the own one.
    expect(await e.execute({ op: 'void', account: 'kid', key: 'v2', hold: own })).toMatchObject({ status: 'hold_already_captured' })
    // In another household whose head has a hold of the same id: the retry is still answered from the household it left.
    await reach(e, 'head2', early - 1)
    const headsOwn = (await e.execute({ op: 'authorize', account: 'head2', key: 'head2-till', points: 300 })).hold!
    expect(headsOwn).toBe(early)
    await e.sagas.linkHousehold('kid', 'head2', actor)
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-pre', hold: early })).toMatchObject({ status: 'exists', points: 25 })
    // The new household's head's hold is not the kid's to capture: the kid's own of that id, in the household it left, answers.
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-head2', hold: headsOwn })).toMatchObject({ status: 'hold_already_captured' })
    expect(await balance(e, 'head2')).toMatchObject({ held: 300 })
  })

  it('captures, through the member it was merged into, a hold a duplicate took in a household it had left', async () => {
    const e = await start()
    for (const id of ['head', 'dupe', 'other']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.execute({ op: 'earn', account: 'other', key: 'seed', points: 5 })
    await e.sagas.linkHousehold('dupe', 'head', actor)
    const hold = (await e.execute({ op: 'authorize', account: 'dupe', key: 'till', points: 80 })).hold!
    await e.members.unlinkHousehold('dupe', actor)
    expect(await e.sagas.merge('dupe', 'other', actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await e.execute({ op: 'capture', account: 'other', key: 'cap', hold, points: 50 })).toMatchObject({ status: 'ok', points: 50, balance: { available: 5 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 950, held: 0 })
    expect(await e.execute({ op: 'capture', account: 'other', key: 'cap', hold, points: 50 })).toMatchObject({ status: 'exists', points: 50 })
  })

  it('after an unlink, captures the household\'s hold over an older closed hold of the same id on the member\'s own account, also one authorized in the same millisecond (second and third reviews)', async () => {
    for (const clock of [Date.now, () => Date.UTC(2027, 0, 1)]) {
      engine = await openEngine({ storage: 'memory', shards: 4, clock })
      const e = engine
      for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
      await reach(e, 'kid', 8)
      const old = (await e.execute({ op: 'authorize', account: 'kid', key: 'old-auth', points: 10 })).hold!
      await e.execute({ op: 'void', account: 'kid', key: 'old-void', hold: old })
      await e.sagas.linkHousehold('kid', 'head', actor)
      await reach(e, 'head', old - 1)
      const tv = (await e.execute({ op: 'authorize', account: 'kid', key: 'tv-auth', points: 50 })).hold!
      expect(tv).toBe(old)
      await e.members.unlinkHousehold('kid', actor)
      expect(await e.execute({ op: 'capture', account: 'kid', key: 'tv-cap', hold: tv })).toMatchObject({ status: 'ok', points: 50 })
      expect(await balance(e, 'head')).toMatchObject({ held: 0 })
      await e.close()
    }
    engine = undefined
  })

  it('after an unlink, a key the member used in the household for another operation does not shadow its own capture (second review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'pos7-1', points: 10 })
    await e.members.unlinkHousehold('kid', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 100 })
    const hold = (await e.execute({ op: 'authorize', account: 'kid', key: 'pos7-0', points: 30 })).hold!
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'pos7-1', hold })).toMatchObject({ status: 'ok', points: 30, balance: { available: 70, held: 0 } })
  })

  it('captures a duplicate\'s hold from a household it left after the member it was merged into joined a household, even that one (second review)', async () => {
    const e = await start()
    for (const id of ['head', 'head2', 'dupe', 'other', 'dupe2', 'other2']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    // dupe's hold in head's household; dupe merged into other, which joins head2's household.
    await e.sagas.linkHousehold('dupe', 'head', actor)
    const hold = (await e.execute({ op: 'authorize', account: 'dupe', key: 'till', points: 80 })).hold!
    await e.members.unlinkHousehold('dupe', actor)
    await e.sagas.merge('dupe', 'other', actor)
    await e.sagas.linkHousehold('other', 'head2', actor)
    expect(await e.execute({ op: 'capture', account: 'other', key: 'cap', hold })).toMatchObject({ status: 'ok', points: 80 })
    // dupe2's hold in head's household; dupe2 merged into other2, which joins head's household itself.
    await e.sagas.linkHousehold('dupe2', 'head', actor)
    const hold2 = (await e.execute({ op: 'authorize', account: 'dupe2', key: 'till', points: 30 })).hold!
    await e.members.unlinkHousehold('dupe2', actor)
    await e.sagas.merge('dupe2', 'other2', actor)
    await e.sagas.linkHousehold('other2', 'head', actor)
    expect(await e.execute({ op: 'void', account: 'other2', key: 'void', hold: hold2 })).toMatchObject({ status: 'ok', points: 30 })
    expect(await balance(e, 'head')).toMatchObject({ available: 920, held: 0 })
  })

  it('settling a hold after an unlink: keys stored for another hold are another command, stored refusals are sticky, a transfer\'s hold is not the member\'s (third review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'sis']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await reach(e, 'head', 9)
    await e.sagas.linkHousehold('kid', 'head', actor)
    const a = (await e.execute({ op: 'authorize', account: 'kid', key: 'pos7-0', points: 20 })).hold!
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'pos7-1', hold: a, points: 20 })).toMatchObject({ status: 'ok' })
    const headsHold = (await e.execute({ op: 'authorize', account: 'head', key: 'head-till', points: 50 })).hold!
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'K', hold: headsHold })).toMatchObject({ status: 'hold_not_found' })
    const till = (await e.execute({ op: 'authorize', account: 'kid', key: 'till', points: 60 })).hold!
    await e.members.unlinkHousehold('kid', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 100 })
    // pos7-1 was a capture of another hold, with other points: another command, not this one's retry.
    const b = (await e.execute({ op: 'authorize', account: 'kid', key: 'pos7-2', points: 30 })).hold!
    expect(b).not.toBe(a)
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'pos7-1', hold: b })).toMatchObject({ status: 'ok', points: 30 })
    // K's refusal is its stored result, even once a hold of that id is the kid's own.
    await reach(e, 'kid', headsHold - 1)
    const own = (await e.execute({ op: 'authorize', account: 'kid', key: 'own-hold', points: 30 })).hold!
    expect(own).toBe(headsHold)
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'K', hold: headsHold })).toMatchObject({ status: 'hold_not_found' })
    expect(await balance(e, 'kid')).toMatchObject({ held: 30 })
    // A transfer's hold of the same id on the kid's own account is the engine's, not the till's.
    await reach(e, 'kid', till - 1)
    expect(await e.sagas.transfer({ from: 'kid', to: 'sis', points: 10, key: 'gift', reason: 'gift' }, actor)).toMatchObject({ saga: { state: 'done', hold: till } })
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'cap-till', hold: till })).toMatchObject({ status: 'ok', points: 60 })
    expect(await balance(e, 'head')).toMatchObject({ held: 50 })
  })

  it('one payment spends one hold: a retry sent while the first attempt runs, or after the member joins a household again, answers its stored result (fourth review)', async () => {
    /** kid: hold X open in head's pool (40), unlinked, own hold X open (30). */
    const twoOpen = async (e: Engine) => {
      for (const id of ['head', 'kid', 'head2']) await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
      await reach(e, 'head', 9)
      await e.sagas.linkHousehold('kid', 'head', actor)
      const x = (await e.execute({ op: 'authorize', account: 'kid', key: 'pool-auth', points: 40 })).hold!
      await e.members.unlinkHousehold('kid', actor)
      await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 100 })
      await reach(e, 'kid', x - 1)
      expect((await e.execute({ op: 'authorize', account: 'kid', key: 'own-auth', points: 30 })).hold).toBe(x)
      return x
    }
    // The retry arrives while the first attempt's capture is on its way: the first is held back until the
    // retry looks for holds (or 200 ms, if the retry waits for the first).
    let e = await start()
    let x = await twoOpen(e)
    const submit = e.submit.bind(e)
    let retry: Promise<Reply> | undefined
    let looking!: () => void
    const retryLooks = new Promise<void>((resolve) => (looking = resolve))
    let captured!: () => void
    const firstCaptured = new Promise<void>((resolve) => (captured = resolve))
    const patched = async (command: Command): Promise<Reply> => {
      if (retry === undefined && command.op === 'capture' && command.replayOnly !== true) {
        retry = e.execute({ op: 'capture', account: 'kid', key: 'K', hold: x })
        await Promise.race([retryLooks, new Promise((resolve) => setTimeout(resolve, 200))])
        const reply = await submit(command)
        captured()
        return reply
      }
      if (retry !== undefined && command.op === 'history') {
        looking()
        await firstCaptured
      }
      return submit(command)
    }
    ;(e as unknown as { submit: typeof patched }).submit = patched
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'K', hold: x })).toMatchObject({ status: 'ok', points: 30 })
    expect(await retry!).toMatchObject({ status: 'exists', points: 30 })
    expect(await balance(e, 'head')).toMatchObject({ held: 40 })
    await e.close()
    // After joining the household again, or another one: the own account's stored result.
    for (const household of ['head', 'head2']) {
      engine = e = await start()
      x = await twoOpen(e)
      expect(await e.execute({ op: 'capture', account: 'kid', key: 'K', hold: x })).toMatchObject({ status: 'ok', points: 30 })
      expect(await e.sagas.linkHousehold('kid', household, actor)).toMatchObject({ status: 'ok' })
      expect(await e.execute({ op: 'capture', account: 'kid', key: 'K', hold: x })).toMatchObject({ status: 'exists', points: 30 })
      expect(await balance(e, 'head')).toMatchObject({ held: 40 })
      await e.close()
    }
    engine = undefined
  })

  it('no member\'s capture or void settles a transfer\'s hold, even while the transfer waits (fourth review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'sis', 'solo']) await e.members.create({ id, program: 'demo' }, actor)
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.members.unlinkHousehold('kid', actor)
    for (const id of ['kid', 'solo']) await e.execute({ op: 'earn', account: id, key: 'own', points: 100 })
    const submit = e.submit.bind(e)
    let blocked = true
    ;(e as unknown as { submit: (c: Command) => Promise<Reply> }).submit = (c: Command) =>
      blocked && c.op === 'earn' && c.key.startsWith('saga:') ? Promise.resolve({ status: 'overloaded' }) : submit(c)
    // kid has left a household; solo never joined one.
    for (const member of ['kid', 'solo']) {
      const transfer = e.sagas.transfer({ from: member, to: 'sis', points: 10, key: `gift-${member}` }, actor)
      while (((await balance(e, member))?.held ?? 0) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      const hold = (await e.execute({ op: 'history', account: member, limit: 1 })).entries![0]!.hold!
      expect(await e.execute({ op: 'capture', account: member, key: 'till', hold })).toMatchObject({ status: 'hold_not_found' })
      expect(await e.execute({ op: 'void', account: member, key: 'till-void', hold })).toMatchObject({ status: 'hold_not_found' })
      blocked = false
      expect(await transfer).toMatchObject({ saga: { state: 'done' } })
      blocked = true
      expect(await balance(e, member)).toMatchObject({ available: 90, held: 0 })
    }
    expect(await balance(e, 'sis')).toMatchObject({ available: 20 })
  })

  it('a pooled member\'s retried pre-join return shows its current household\'s balance, not one it left (fourth review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'h2']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.execute({ op: 'earn', account: 'h2', key: 'seed', points: 7 })
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
    await e.sagas.linkHousehold('kid', 'head', actor)
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100 })).toMatchObject({ status: 'ok' })
    await e.members.unlinkHousehold('kid', actor)
    await e.sagas.linkHousehold('kid', 'h2', actor)
    const retry = await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100 })
    expect(retry).toMatchObject({ status: 'exists', points: 100 })
    expect(retry.balance).toEqual(await balance(e, 'h2'))
  })

  it('answers a retry sent across a link, an unlink or a merge with its stored result, crediting or spending nothing again', async () => {
    let now = Date.UTC(2026, 10, 25)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid', 'keep', 'dupe']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    // An earn made before the link, retried after it: not credited to the pool again.
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'K1', points: 100 })).toMatchObject({ status: 'ok' })
    await e.sagas.linkHousehold('kid', 'head', actor)
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'K1', points: 100 })).toMatchObject({ status: 'exists', points: 100, balance: { available: 1100 } })
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'K1', points: 99 })).toMatchObject({ status: 'exists_with_different_points' })
    expect(await balance(e, 'head')).toMatchObject({ available: 1100 })
    // A redemption made in the household, retried after the unlink: not spent again from the kid's own points.
    expect(await e.execute({ op: 'redeem', account: 'kid', key: 'R1', points: 30 })).toMatchObject({ status: 'ok' })
    await e.members.unlinkHousehold('kid', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 50 })
    const retried = await e.execute({ op: 'redeem', account: 'kid', key: 'R1', points: 30 })
    expect(retried).toMatchObject({ status: 'exists', points: 30, balance: { available: 50 } })
    expect(retried.entry).toBeUndefined()
    expect(await balance(e, 'head')).toMatchObject({ available: 1070 })
    // The same key for another operation there is another command: it runs here.
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'R1', points: 5 })).toMatchObject({ status: 'ok', balance: { available: 55 } })
    // A duplicate's earn retried through the member it was merged into.
    await e.execute({ op: 'earn', account: 'dupe', key: 'D1', points: 20 })
    await e.sagas.merge('dupe', 'keep', actor)
    expect(await e.execute({ op: 'earn', account: 'keep', key: 'D1', points: 20 })).toMatchObject({ status: 'exists', balance: { available: 20 } })
    expect(await balance(e, 'keep')).toMatchObject({ available: 20 })
    // Keys are kept for the idempotency window; once it has passed since the move, nothing else is looked at.
    const submit = e.submit.bind(e)
    let submits = 0
    ;(e as unknown as { submit: (c: Command) => Promise<Reply> }).submit = (c: Command) => {
      submits++
      return submit(c)
    }
    await e.execute({ op: 'earn', account: 'kid', key: 'K2', points: 1 })
    expect(submits).toBe(3) // look-ups where it runs and in the household left, then the command
    now += 8 * 24 * 3600 * 1000
    submits = 0
    await e.execute({ op: 'earn', account: 'kid', key: 'K3', points: 1 })
    expect(submits).toBe(1)
    // A member that never moved pays nothing either.
    submits = 0
    await e.execute({ op: 'earn', account: 'head', key: 'H1', points: 1 })
    expect(submits).toBe(1)
  })

  it('across moves: a key stored where the command runs now wins, merges are followed through, enrolments are not paid twice (review)', async () => {
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => Date.UTC(2026, 2, 4, 10) })
    const e = engine
    await e.rules.publish(demoRuleset, { activate: true })
    for (const id of ['keep', 'dupe', 'u', 't', 'd', 'head', 'kid', 'head2', 'kid2']) await e.members.create({ id, program: 'demo' }, actor)
    // The member's own key, also used by a duplicate merged into it since: the member's own stored result.
    expect(await e.execute({ op: 'earn', account: 'keep', key: 'receipt-1', points: 100 })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'earn', account: 'dupe', key: 'receipt-1', points: 50 })).toMatchObject({ status: 'ok' })
    await e.sagas.merge('dupe', 'keep', actor)
    expect(await e.execute({ op: 'earn', account: 'keep', key: 'receipt-1', points: 100 })).toMatchObject({ status: 'exists', points: 100 })
    // A duplicate of a duplicate.
    expect(await e.execute({ op: 'earn', account: 'd', key: 'E1', points: 40 })).toMatchObject({ status: 'ok' })
    await e.sagas.merge('d', 't', actor)
    await e.sagas.merge('t', 'u', actor)
    expect(await e.execute({ op: 'earn', account: 'u', key: 'E1', points: 40 })).toMatchObject({ status: 'exists' })
    expect(await balance(e, 'u')).toMatchObject({ available: 40 })
    // Enrolments retried across a link: into an enrolled household, and into one never enrolled (its 100-point bonus once).
    await e.execute({ op: 'enroll', account: 'head', key: 'join', program: 'demo' })
    expect(await e.execute({ op: 'enroll', account: 'kid', key: 'join-kid', program: 'demo' })).toMatchObject({ status: 'ok' })
    await e.sagas.linkHousehold('kid', 'head', actor)
    expect(await e.execute({ op: 'enroll', account: 'kid', key: 'join-kid', program: 'demo' })).toMatchObject({ status: 'exists' })
    await e.execute({ op: 'earn', account: 'head2', key: 'seed', points: 10 })
    expect(await e.execute({ op: 'enroll', account: 'kid2', key: 'join-kid', program: 'demo' })).toMatchObject({ status: 'ok' })
    await e.sagas.linkHousehold('kid2', 'head2', actor)
    expect(await e.execute({ op: 'enroll', account: 'kid2', key: 'join-kid', program: 'demo' })).toMatchObject({ status: 'exists' })
    expect(await balance(e, 'head2')).toMatchObject({ available: 110 })
  })

  it('a household member captures or voids only holds it took itself, never the head\'s or another member\'s (review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'sis']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.sagas.linkHousehold('sis', 'head', actor)
    const heads = (await e.execute({ op: 'authorize', account: 'head', key: 'h', points: 100 })).hold!
    const sisters = (await e.execute({ op: 'authorize', account: 'sis', key: 's', points: 50 })).hold!
    const kids = (await e.execute({ op: 'authorize', account: 'kid', key: 'k', points: 20 })).hold!
    for (const hold of [heads, sisters]) {
      expect(await e.execute({ op: 'capture', account: 'kid', key: `c-${hold}`, hold })).toMatchObject({ status: 'hold_not_found', message: `no hold ${hold} on this account` })
      expect(await e.execute({ op: 'void', account: 'kid', key: `v-${hold}`, hold })).toMatchObject({ status: 'hold_not_found' })
    }
    expect(await balance(e, 'head')).toMatchObject({ held: 170 })
    expect(await e.execute({ op: 'capture', account: 'kid', key: 'c-own', hold: kids })).toMatchObject({ status: 'ok', points: 20 })
    expect(await e.execute({ op: 'void', account: 'sis', key: 'v-own', hold: sisters })).toMatchObject({ status: 'ok', points: 50 })
    // The head's account is the pool: the head settles any hold on it.
    expect(await e.execute({ op: 'capture', account: 'head', key: 'c-head', hold: heads })).toMatchObject({ status: 'ok', points: 100 })
    // Callers may not send the engine's own fields.
    for (const field of ['holdOf', 'replayOnly'] as const) {
      expect(await e.execute({ op: 'void', account: 'kid', key: `x-${field}`, hold: kids, [field]: field === 'holdOf' ? 'kid' : true })).toMatchObject({ status: 'invalid_request', field })
    }
  })

  it('passes on an overloaded pool when settling a hold in a household the member left, instead of hold_not_found (review)', async () => {
    engine = await openEngine({ storage: 'memory', shards: 4, limits: { mailboxDepthMax: 1 } })
    const e = engine
    let kid = 'kid'
    for (let i = 0; shardOf(kid, 4) === shardOf('head', 4); i++) kid = `kid${i}`
    for (const id of ['head', kid]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.sagas.linkHousehold(kid, 'head', actor)
    const hold = (await e.execute({ op: 'authorize', account: kid, key: 'pool-hold', points: 40 })).hold!
    await e.members.unlinkHousehold(kid, actor)
    let done = false
    const busy = (async () => {
      while (!done) await e.submit({ op: 'balance', account: 'head' })
    })()
    const reply = await e.execute({ op: 'capture', account: kid, key: 'cap', hold })
    done = true
    await busy
    expect(reply).toMatchObject({ status: 'overloaded' })
    // Retried with the same key once the pool's shard has room: captured.
    expect(await e.execute({ op: 'capture', account: kid, key: 'cap', hold })).toMatchObject({ status: 'ok', points: 40 })
    expect(await balance(e, 'head')).toMatchObject({ available: 960, held: 0 })
  })

  it('returns after an unlink what a merged duplicate bought in a household it had left', async () => {
    const e = await start()
    for (const id of ['head', 'dupe', 'keep']) await e.members.create({ id, program: 'demo' }, actor)
    await e.sagas.linkHousehold('dupe', 'head', actor)
    await e.execute({ op: 'earn', account: 'dupe', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })
    await e.members.unlinkHousehold('dupe', actor)
    expect(await e.sagas.merge('dupe', 'keep', actor)).toMatchObject({ merge: { state: 'done' } })
    await e.execute({ op: 'earn', account: 'keep', key: 'seed', points: 40 })
    expect(await e.execute({ op: 'reverse', account: 'keep', key: 'ret', ref: 'p1', amount: 25_000 })).toMatchObject({ status: 'ok', points: 250, balance: { available: 40 } })
    expect(await balance(e, 'head')).toMatchObject({ available: 250 })
  })

  it('settles a return made in a former household with wherever its points went since (review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'h2', 'top', 'solo']) await e.members.create({ id, program: 'demo' }, actor)
    for (const [kid, head] of [['kid', 'head'], ['solo', 'top']] as const) await e.sagas.linkHousehold(kid, head, actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
    await e.execute({ op: 'earn', account: 'solo', key: 'tv', points: 300, ref: 'p1' })
    await e.members.unlinkHousehold('kid', actor)
    await e.members.unlinkHousehold('solo', actor)
    // head was merged into h2 since; top joined h2's household.
    expect(await e.sagas.merge('head', 'h2', actor)).toMatchObject({ merge: { state: 'done' } })
    await e.sagas.linkHousehold('top', 'h2', actor)
    expect(await balance(e, 'h2')).toMatchObject({ available: 800 })
    // Each return is recorded on the old pool and paid from h2, where the points are; the reply shows no pool entry.
    const first = await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })
    expect(first).toMatchObject({ status: 'ok', points: 500, balance: { available: 0, pending: 0, held: 0 } })
    expect(first).not.toHaveProperty('entry')
    expect(await e.execute({ op: 'reverse', account: 'solo', key: 'ret', ref: 'p1', points: 100 })).toMatchObject({ status: 'ok', points: 100 })
    expect(await balance(e, 'h2')).toMatchObject({ available: 200 })
    for (const pool of ['head', 'top']) expect((await e.submit({ op: 'balance', account: pool })).balance).toMatchObject({ available: 0 })
    // A retry repeats nothing.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'exists', points: 500 })
    expect(await balance(e, 'h2')).toMatchObject({ available: 200 })
  })

  it('a retry of a return made in a former household before its points moved on settles nothing (second review)', async () => {
    const day = 86_400_000
    let now = Date.UTC(2026, 2, 4, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid', 'h2']) await e.members.create({ id, program: 'demo' }, actor)
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', ref: 'p1', points: 500, expiresAt: now + 10 * day })
    await e.members.unlinkHousehold('kid', actor)
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100 })).toMatchObject({ status: 'ok', points: 100 })
    expect(await e.sagas.linkHousehold('head', 'h2', actor)).toMatchObject({ status: 'ok', points: 400 })
    now += 11 * day // the 400 expire in h2
    const before = [await balance(e, 'h2'), (await e.submit({ op: 'balance', account: 'head' })).balance]
    // It wrote off 100 of the unreturned points that expired in h2, and credited them to the old pool.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100 })).toMatchObject({ status: 'exists', points: 100 })
    expect([await balance(e, 'h2'), (await e.submit({ op: 'balance', account: 'head' })).balance]).toEqual(before)
  })

  it('a retry after a crash finishes a settlement on whichever path the member\'s command takes now (third review)', async () => {
    const own = async (e: Engine, account: string) => (await e.submit({ op: 'balance', account })).balance
    // A pre-join return whose process died after the own account's step; the member was unlinked, then absorbed a duplicate.
    {
      const e = await start()
      for (const id of ['head', 'kid', 'dupe']) await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 100 })
      await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
      await e.sagas.linkHousehold('kid', 'head', actor)
      expect(await e.submit({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', withOrigins: true, settleWith: 'head' })).toMatchObject({ status: 'ok' })
      await e.members.unlinkHousehold('kid', actor)
      expect(await e.sagas.merge('dupe', 'kid', actor)).toMatchObject({ merge: { state: 'done' } })
      expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'exists', points: 500 })
      expect([await own(e, 'head'), await own(e, 'kid')]).toMatchObject([{ available: 100 }, { available: 0 }])
      await engine?.close()
    }
    // A former-household return settled with h2, whose process died; head left h2 and the kid rejoined head.
    {
      const e = await start()
      for (const id of ['head', 'kid', 'h2']) await e.members.create({ id, program: 'demo' }, actor)
      await e.sagas.linkHousehold('kid', 'head', actor)
      await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
      await e.members.unlinkHousehold('kid', actor)
      expect(await e.sagas.linkHousehold('head', 'h2', actor)).toMatchObject({ status: 'ok', points: 500 })
      expect(await e.submit({ op: 'reverse', account: 'head', key: 'ret\u0000kid', ref: 'p1\u0000kid', withOrigins: true, settleWith: 'h2' })).toMatchObject({ status: 'ok' })
      await e.members.unlinkHousehold('head', actor)
      expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok' })
      expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'exists', points: 500 })
      expect([await own(e, 'h2'), await own(e, 'head')]).toMatchObject([{ available: 0 }, { available: 0 }])
    }
  })

  it('answers a pre-join return stored before 2026-11-24, retried after the unlink, with its stored result (third review)', async () => {
    const e = await legacyPreJoinReturn()
    await e.members.unlinkHousehold('kid', actor)
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100 })).toMatchObject({ status: 'exists', points: 100 })
    // Settled with the household it left: the pool paid the 100 the kid owed.
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: 0 })
    expect(await balance(e, 'head')).toMatchObject({ available: 400 })
  })

  it('settles a return in a former household whose head joined the member\'s own household since (review)', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1' })
    await e.members.unlinkHousehold('kid', actor)
    // The old head joins the kid's household: the TV's 500 points move into the kid's account.
    await e.sagas.linkHousehold('head', 'kid', actor)
    expect(await balance(e, 'kid')).toMatchObject({ available: 500 })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1' })).toMatchObject({ status: 'ok', points: 500, balance: { available: 0 } })
    expect((await e.submit({ op: 'balance', account: 'head' })).balance).toMatchObject({ available: 0 })
  })

  it('answers a retry of a pre-join return stored before 2026-11-24 (its terms said shortfall debt) with its stored result (review)', async () => {
    const e = await legacyPreJoinReturn()
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 100 })).toMatchObject({ status: 'exists', points: 100 })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', points: 99 })).toMatchObject({ status: 'exists_with_different_points' })
  })

  it('refuses a caller\'s own return retried with another policy as another payload, moving nothing (fourth review)', async () => {
    // After the date from which the engine's own steps keep the caller's policy.
    const now = Date.UTC(2026, 10, 26)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid', 'm']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.members.unlinkHousehold('kid', actor)
    for (const member of ['m', 'kid']) {
      await e.execute({ op: 'earn', account: member, key: 'tv', points: 300, ref: 'p2' })
      await e.execute({ op: 'redeem', account: member, key: 'spend', points: 300 })
      expect(await e.execute({ op: 'reverse', account: member, key: 'ret', ref: 'p2', shortfall: 'debt' })).toMatchObject({ status: 'ok', balance: { available: -300 } })
      // The same key with the default policy: a mistake, not an old stored step of the engine's.
      expect(await e.execute({ op: 'reverse', account: member, key: 'ret', ref: 'p2' })).toMatchObject({ status: 'exists_with_different_payload' })
      expect(await balance(e, member)).toMatchObject({ available: -300 })
    }
    expect(await balance(e, 'head')).toMatchObject({ available: 1000 })
  })

  it('retries, after an unlink, a return of a purchase made before the member joined: the stored result, whatever the policy', async () => {
    const e = await start()
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'tv', points: 500, ref: 'p1', amount: 50_000 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    await e.execute({ op: 'redeem', account: 'head', key: 'spend', points: 400 })
    // The pool pays 100 of the 300; 200 stay owed on the kid's own account, whatever the caller's policy.
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', amount: 30_000, shortfall: 'clamp' })).toMatchObject({ status: 'ok', points: 300, balance: { available: 0 } })
    expect((await e.submit({ op: 'balance', account: 'kid' })).balance).toMatchObject({ available: -200 })
    await e.members.unlinkHousehold('kid', actor)
    // The retry runs on the kid's own account: the same terms, so the stored result (it was refused as another payload).
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', amount: 30_000, shortfall: 'clamp' })).toMatchObject({ status: 'exists', points: 300, balance: { available: -200 } })
    expect(await e.execute({ op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', amount: 30_000 })).toMatchObject({ status: 'exists_with_different_payload' })
  })

  it('links again after an unlink and moves the points again; refuses a link while points are held', async () => {
    const e = await start()
    for (const id of ['head', 'kid', 'busy']) {
      await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: id, key: 'seed', points: 100 })
    }
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 100 })
    await e.members.unlinkHousehold('kid', actor)
    await e.execute({ op: 'earn', account: 'kid', key: 'later', points: 100 })
    expect(await e.sagas.linkHousehold('kid', 'head', actor)).toMatchObject({ status: 'ok', points: 100 })
    expect(await balance(e, 'head')).toMatchObject({ available: 300 })
    await e.execute({ op: 'authorize', account: 'busy', key: 'a', points: 70 })
    expect(await e.sagas.linkHousehold('busy', 'head', actor)).toMatchObject({ status: 'invalid_request', message: 'member busy has 70 points held; capture or void them first' })
    expect(e.members.get('busy')?.household).toBeUndefined()
  })

  it('refuses a link or a merge while the member owes points or has points pending', async () => {
    const e = await start()
    for (const id of ['head', 'owing', 'waiting']) {
      await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'earn', account: id, key: 'seed', points: 100 })
    }
    // A return after the points were spent: the member owes 400.
    await e.execute({ op: 'earn', account: 'owing', key: 'buy', points: 400, ref: 'p1' })
    await e.execute({ op: 'redeem', account: 'owing', key: 'spend', points: 500 })
    await e.execute({ op: 'reverse', account: 'owing', key: 'ret', ref: 'p1', shortfall: 'debt' })
    expect(await balance(e, 'owing')).toMatchObject({ available: -400 })
    // Linked, its later earns would go to the pool and the debt would stay behind, unpaid.
    expect(await e.sagas.linkHousehold('owing', 'head', actor)).toMatchObject({ status: 'invalid_request', field: 'id', message: 'member owing owes 400 points; settle them first' })
    await e.execute({ op: 'earn', account: 'waiting', key: 'later', points: 50, activeFrom: Date.now() + 86_400_000 })
    expect(await e.sagas.linkHousehold('waiting', 'head', actor)).toMatchObject({ status: 'invalid_request', message: 'member waiting has 50 points pending; wait until they are active' })
    expect(await e.sagas.merge('waiting', 'head', actor)).toMatchObject({ status: 'invalid_request', field: 'from', message: 'member waiting has 50 points pending; wait until they are active' })
    for (const id of ['owing', 'waiting']) expect(e.members.get(id)).toMatchObject({ status: 'active' })
    expect(e.members.householdOf('head')).toEqual([])
    expect(await balance(e, 'head')).toMatchObject({ available: 100 })
  })

  it('erases a member: the ledger forgets its facts, and households it was in or headed come apart', async () => {
    const e = await start()
    await e.rules.publish(demoRuleset, { activate: true })
    for (const id of ['head', 'kid', 'solo']) {
      await e.members.create({ id, program: 'demo' }, actor)
      await e.execute({ op: 'enroll', account: id, key: 'join', program: 'demo', member: { birthDate: '1980-05-17', gender: 'f', segments: ['vip'] } })
    }
    const facts = async (account: string) => (await e.execute({ op: 'member', account })).membership?.member
    expect(await facts('solo')).toMatchObject({ birthDate: '1980-05-17' })
    expect(await e.sagas.erase('solo', actor)).toMatchObject({ ok: true })
    expect(await facts('solo')).toEqual({})
    // A household member erased leaves it; a head erased sends its members back to their own accounts.
    await e.sagas.linkHousehold('kid', 'head', actor)
    expect(await e.sagas.erase('head', actor)).toMatchObject({ ok: true })
    expect(e.members.get('kid')).toMatchObject({ account: 'kid' })
    expect(e.members.get('kid')?.household).toBeUndefined()
    expect(e.members.householdOf('head')).toEqual([])
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'own', points: 5 })).toMatchObject({ status: 'ok', balance: { available: 5 } })
  })
})

describe('retries across moves (sixth review)', () => {
  it('an overloaded look-up where the command runs now does not skip the other places', async () => {
    const now = Date.UTC(2026, 11, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 1000 })
    expect(await e.execute({ op: 'earn', account: 'kid', key: 'K1', points: 100 })).toMatchObject({ status: 'ok' })
    await e.sagas.linkHousehold('kid', 'head', actor)
    expect(await balance(e, 'head')).toMatchObject({ available: 1100 })
    const submit = e.submit.bind(e)
    let once = true
    ;(e as unknown as { submit: (c: Command) => Promise<Reply> }).submit = (c: Command) => {
      // the pool's shard is busy for just the first look-up
      if (once && c.account === 'head' && (c as { replayOnly?: true }).replayOnly === true) {
        once = false
        return Promise.resolve({ status: 'overloaded', message: 'busy' })
      }
      return submit(c)
    }
    const retry = await e.execute({ op: 'earn', account: 'kid', key: 'K1', points: 100 })
    expect(await balance(e, 'head')).toMatchObject({ available: 1100 })
    expect(retry).toMatchObject({ status: 'overloaded' })
  })

  it('a referred enrolment made while pooled, retried after the unlink, pays no second bonus', async () => {
    let now = Date.UTC(2026, 11, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    await e.rules.publish(demoRuleset, { activate: true })
    for (const id of ['ref', 'head', 'kid']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'enroll', account: 'ref', key: 'join', program: 'demo' })
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 10 })
    await e.sagas.linkHousehold('kid', 'head', actor)
    const first = await e.execute({ op: 'enroll', account: 'kid', key: 'join-kid', program: 'demo', referredBy: 'ref' })
    expect(first).toMatchObject({ status: 'ok' })
    const refAfterFirst = (await balance(e, 'ref'))!.available
    await e.members.unlinkHousehold('kid', actor)
    now += 3600_000
    const retry = await e.execute({ op: 'enroll', account: 'kid', key: 'join-kid', program: 'demo', referredBy: 'ref' })
    await new Promise((r) => setTimeout(r, 50))
    expect({ retry: retry.status, kid: (await balance(e, 'kid'))?.available ?? 0, ref: (await balance(e, 'ref'))!.available }).toEqual({ retry: 'exists', kid: 0, ref: refAfterFirst })
  })

  it('a return stored through a direct duplicate\'s household, retried after the upgrade, is not made again on a deeper duplicate', async () => {
    const now = Date.UTC(2026, 11, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    for (const id of ['u', 't', 'd', 'h']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: 'h', key: 'seed', points: 10 })
    await e.sagas.linkHousehold('t', 'h', actor)
    expect(await e.execute({ op: 'earn', account: 't', key: 'tx', points: 200, ref: 'X' })).toMatchObject({ status: 'ok' })
    await e.members.unlinkHousehold('t', actor)
    expect(await e.execute({ op: 'earn', account: 'd', key: 'dx', points: 300, ref: 'X' })).toMatchObject({ status: 'ok' })
    await e.sagas.merge('d', 't', actor)
    await e.sagas.merge('t', 'u', actor)
    // The first attempt as admitted before 5770c61: u's duplicates, not followed through t.
    const members = e.members as unknown as { get: (id: string) => unknown }
    const get = members.get.bind(members)
    members.get = (id: string) => {
      const m = get(id) as { mergedFrom?: string[] } | undefined
      if (id !== 't' || m === undefined) return m
      const { mergedFrom: _m, ...rest } = m
      return rest
    }
    const first = await e.execute({ op: 'reverse', account: 'u', key: 'R', ref: 'X', points: 50 })
    expect(first).toMatchObject({ status: 'ok' })
    members.get = get
    const retry = await e.execute({ op: 'reverse', account: 'u', key: 'R', ref: 'X', points: 50 })
    const dHistory = (await e.execute({ op: 'history', account: 'd' })).entries ?? []
    expect({ retry: retry.status, returnsOnD: dHistory.filter((x) => x.kind === 'reverse').length }).toEqual({ retry: 'exists', returnsOnD: 0 })
  })
})

/**
 * The account's journal, lots and holds agree: the journal's changes sum to
 * the balance (and to the held points), the lots less debt make the balance.
 */
async function ledgerAgrees(e: Engine, account: string) {
  const entries: { points: number; held: number }[] = []
  for (let before: number | undefined; ; ) {
    const page = await e.submit({ op: 'history', account, limit: 100, ...(before === undefined ? {} : { before }) })
    entries.push(...(page.entries ?? []))
    if (page.next === undefined) break
    before = page.next
  }
  const { balance, lots, holds, debt } = await e.submit({ op: 'lots', account })
  const journal = entries.reduce((sum, entry) => sum + entry.points, 0)
  const journalHeld = entries.reduce((sum, entry) => sum + entry.held, 0)
  expect(journal, `${account}: journal against balance`).toBe(balance!.available + balance!.pending)
  expect(journalHeld, `${account}: journal against held`).toBe(balance!.held)
  expect((lots ?? []).reduce((sum, lot) => sum + lot.points, 0) - (debt ?? 0), `${account}: lots against balance`).toBe(balance!.available + balance!.pending)
  expect((holds ?? []).reduce((sum, hold) => sum + hold.points, 0)).toBe(balance!.held)
}

const own = async (e: Engine, account: string) => (await e.submit({ op: 'balance', account })).balance

describe('a till authorization racing a household link or a merge', () => {
  /** Runs `till` once, right after the saga's check of `account` (its `balance` query) is answered. */
  function afterCheck(e: Engine, account: string, till: () => Promise<void>) {
    const submit = e.submit.bind(e)
    let raced = false
    e.submit = async (command) => {
      const reply = await submit(command)
      if (command.op === 'balance' && command.account === account && !raced) {
        raced = true
        await till()
      }
      return reply
    }
    return submit
  }

  it('a hold taken after the link\'s check refuses the link: nothing moves, nothing is stranded', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: kid, key: 'seed', points: 400 })
    await e.execute({ op: 'earn', account: head, key: 'seed', points: 10 })
    let hold: number | undefined
    const submit = afterCheck(e, kid, async () => {
      // Not linked yet: the till's authorization lands on the kid's own account.
      const held = await e.execute({ op: 'authorize', account: kid, key: 'till', points: 60 })
      expect(held).toMatchObject({ status: 'ok' })
      hold = held.hold
    })
    const linked = await e.sagas.linkHousehold(kid, head, actor)
    // It used to answer ok, moving the 340 spendable points and leaving the 60 held where nothing reaches them.
    expect(linked).toMatchObject({ status: 'invalid_request', field: 'id', message: `member ${kid} has 60 points held; capture or void them first` })
    expect(e.members.get(kid)?.household).toBeUndefined()
    expect(await own(e, kid)).toEqual({ available: 340, pending: 0, held: 60 })
    expect(await own(e, head)).toEqual({ available: 10, pending: 0, held: 0 })
    // The till settles its hold on the kid's own account; the link then moves everything.
    e.submit = submit
    expect(await e.execute({ op: 'void', account: kid, key: 'till-void', hold })).toMatchObject({ status: 'ok' })
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 400 })
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, head)).toEqual({ available: 410, pending: 0, held: 0 })
    for (const account of [kid, head]) await ledgerAgrees(e, account)
  })

  it('a hold asked for while the link moves the points is refused, saying why; the account takes holds again once it ends', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: kid, key: 'seed', points: 400 })
    const submit = e.submit.bind(e)
    let late: Reply | undefined
    e.submit = async (command) => {
      // A till's authorization routed to the kid's own account before the link reaches the shard just before the move's hold.
      if (command.op === 'authorize' && command.account === kid && late === undefined) {
        late = await submit({ op: 'authorize', account: kid, key: 'late', points: 50 })
      }
      return submit(command)
    }
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 400 })
    // It used to be taken: the link then moved 350 and left 50 held on the kid's own account.
    expect(late).toMatchObject({ status: 'invalid_request', field: 'account', message: expect.stringMatching(new RegExp(`^account ${kid} is moving its points`)) })
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, head)).toEqual({ available: 400, pending: 0, held: 0 })
    // The refusal was not stored: the till's retry, now sent to the household, is taken there.
    e.submit = submit
    expect(await e.execute({ op: 'authorize', account: kid, key: 'late', points: 50 })).toMatchObject({ status: 'ok', balance: { available: 350, held: 50 } })
    // The link ended the move: the kid's own account takes holds again.
    await submit({ op: 'earn', account: kid, key: 'own', points: 5 })
    expect(await submit({ op: 'authorize', account: kid, key: 'own-hold', points: 5 })).toMatchObject({ status: 'ok' })
    for (const account of [kid, head]) await ledgerAgrees(e, account)
  })

  it('a hold taken after a merge\'s check, or asked for during its move, never stays behind on the duplicate', async () => {
    const e = await start()
    const [keep, dupe] = acrossShards()
    for (const id of [keep, dupe, 'dupe2']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: dupe, key: 'seed', points: 90 })
    await e.execute({ op: 'earn', account: 'dupe2', key: 'seed', points: 80 })
    const submit = afterCheck(e, dupe, async () => {
      expect(await e.execute({ op: 'authorize', account: dupe, key: 'till', points: 30 })).toMatchObject({ status: 'ok' })
    })
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ status: 'invalid_request', field: 'from', message: `member ${dupe} has 30 points held; capture or void them first` })
    expect(e.members.get(dupe)).toMatchObject({ status: 'active' })
    expect(e.members.get(dupe)?.mergedInto).toBeUndefined()
    expect(await own(e, dupe)).toEqual({ available: 60, pending: 0, held: 30 })
    // A refused merge is not kept: once the hold is settled, it can be asked for again.
    e.submit = submit
    const hold = (await e.submit({ op: 'lots', account: dupe })).holds![0]!.hold
    expect(await e.execute({ op: 'capture', account: dupe, key: 'till-capture', hold })).toMatchObject({ status: 'ok' })
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await own(e, keep)).toMatchObject({ available: 60, held: 0 })
    expect(await own(e, dupe)).toEqual({ available: 0, pending: 0, held: 0 })
    // During the move.
    let late: Reply | undefined
    e.submit = async (command) => {
      if (command.op === 'authorize' && command.account === 'dupe2' && late === undefined) {
        late = await submit({ op: 'authorize', account: 'dupe2', key: 'late', points: 20 })
      }
      return submit(command)
    }
    expect(await e.sagas.merge('dupe2', keep, actor)).toMatchObject({ merge: { state: 'done' } })
    expect(late).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect(await own(e, 'dupe2')).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, keep)).toMatchObject({ available: 140, held: 0 })
    for (const account of [keep, dupe, 'dupe2']) await ledgerAgrees(e, account)
  })
})

describe('points that expire in transit, across a retry of the credits', () => {
  it('counts a lot credited before a full mailbox\'s retry as sent, not expired, when its date passes before the retry', async () => {
    let now = Date.UTC(2026, 0, 10)
    engine = await openEngine({ storage: 'memory', shards: 4, clock: () => now })
    const e = engine
    const [a, b] = acrossShards()
    const first = now + 60_000
    const second = now + 120_000
    await e.execute({ op: 'earn', account: a, key: 'first', points: 100, expiresAt: first })
    await e.execute({ op: 'earn', account: a, key: 'second', points: 200, expiresAt: second })
    await e.execute({ op: 'earn', account: b, key: 'seed', points: 1 })
    const submit = e.submit.bind(e)
    let full = true
    e.submit = async (command) => {
      if (command.op !== 'earn' || command.account !== b) return submit(command)
      // The first lot's credit finds b's shard full; the second's, sent with it, is credited.
      if (command.expiresAt === first && full) {
        full = false
        return { status: 'overloaded', message: 'mailbox full' }
      }
      const reply = await submit(command)
      // Both dates pass before the saga retries (100 ms later).
      if (command.expiresAt === second) now = second
      return reply
    }
    expect(await e.sagas.transfer({ from: a, to: b, points: 300, key: 't' }, actor)).toMatchObject({ saga: { state: 'done' } })
    e.submit = submit
    // b got the second lot's 200 points (their date has passed there since): they were sent, not expired on a.
    const credited = (await e.execute({ op: 'history', account: b })).entries!.filter((x) => x.kind === 'earn' && x.points === 200)
    expect(credited).toHaveLength(1)
    const sent = (await e.execute({ op: 'history', account: a })).entries!.slice(0, 2).map((x) => [x.kind, x.held, x.reason])
    // It used to count all 300 as expired in transit (the 200 as lapsed on a too), 200 of them expiring again on b.
    expect(sent).toEqual([['expire', -100, 'expired_in_transit'], ['capture', -200, undefined]])
    expect(await e.totals()).toMatchObject({ burned: 200 })
    // A return of the second lot's earn takes its points back from a, as for any points sent away (not lapsed).
    expect(await e.execute({ op: 'reverse', account: a, key: 'ret', ref: 'second', shortfall: 'debt' })).toMatchObject({ status: 'ok', points: 200 })
  })
})

describe('a merge racing a household link of its duplicate', () => {
  it('is refused when the duplicate joined a household after the merge\'s checks, moving nobody\'s pool', async () => {
    const e = await start()
    const [keep, dupe] = acrossShards()
    for (const id of [keep, dupe, 'head']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: dupe, key: 'seed', points: 90 })
    await e.execute({ op: 'earn', account: 'head', key: 'seed', points: 500 })
    await e.execute({ op: 'earn', account: keep, key: 'seed', points: 10 })
    const submit = e.submit.bind(e)
    let raced = false
    let linked: Reply | undefined
    e.submit = async (command) => {
      const reply = await submit(command)
      // Right after the merge's balance check of the duplicate, the duplicate is linked to a household.
      if (command.op === 'balance' && command.account === dupe && !raced) {
        raced = true
        linked = await e.sagas.linkHousehold(dupe, 'head', actor)
      }
      return reply
    }
    const merged = await e.sagas.merge(dupe, keep, actor)
    e.submit = submit
    expect(linked).toMatchObject({ status: 'ok', points: 90 })
    // It used to go on: the duplicate's account was the household's pool by then, and the merge moved all of it.
    expect(merged).toMatchObject({ status: 'invalid_request', field: 'from', message: `member ${dupe} pools its points in household head; unlink it first` })
    expect(await own(e, 'head')).toMatchObject({ available: 590, held: 0 })
    expect(await own(e, keep)).toMatchObject({ available: 10 })
    expect(e.members.get(dupe)).toMatchObject({ status: 'active', household: 'head' })
    expect(e.members.get(dupe)?.mergedInto).toBeUndefined()
    // Not kept: once unlinked, the merge may be asked for again (the pooled points stay with the household).
    expect(await e.members.unlinkHousehold(dupe, actor)).toMatchObject({ ok: true })
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ merge: { state: 'done' } })
    expect(await own(e, 'head')).toMatchObject({ available: 590 })
    expect(await own(e, keep)).toMatchObject({ available: 10 })
  })
})

describe('other commands racing a household link or a merge (the move mark)', () => {
  const refused = (account: string) => ({ status: 'invalid_request', field: 'account', message: expect.stringMatching(new RegExp(`^account ${account} is moving its points`)) })

  /**
   * Runs `late` once, when the saga's `step` reaches `account`'s shard: `begin` just after the mark
   * (before the registry links or merges), `hold` just before the move's hold, `end` just before the mark ends
   * (after the points moved).
   */
  function during(e: Engine, account: string, step: 'begin' | 'hold' | 'end', late: (submit: Engine['submit']) => Promise<void>) {
    const submit = e.submit.bind(e)
    let ran = false
    e.submit = async (command) => {
      const at =
        command.account === account &&
        ((step === 'hold' && command.op === 'authorize' && command.forTransfer === true) || (command.op === 'move' && command.step === step))
      if (at && step !== 'begin' && !ran) {
        ran = true
        await late(submit)
      }
      const reply = await submit(command)
      if (at && step === 'begin' && !ran) {
        ran = true
        await late(submit)
      }
      return reply
    }
    return submit
  }

  it('refuses pending points earned on the member\'s own account during a link, so none stay behind', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: kid, key: 'seed', points: 400 })
    const activeFrom = Date.now() + 3_600_000
    let late: Reply | undefined
    const submit = during(e, kid, 'hold', async (s) => {
      // An earn sent before the link, with points that start in an hour.
      late = await s({ op: 'earn', account: kid, key: 'late', points: 100, activeFrom })
    })
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 400 })
    e.submit = submit
    // It used to be taken: the 100 pending points stayed on the kid's own account, which nothing reaches.
    expect(late).toMatchObject(refused(kid))
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    // Not stored: the retry goes to the household.
    expect(await e.execute({ op: 'earn', account: kid, key: 'late', points: 100, activeFrom })).toMatchObject({ status: 'ok' })
    expect(await own(e, head)).toEqual({ available: 400, pending: 100, held: 0 })
    for (const account of [kid, head]) await ledgerAgrees(e, account)
  })

  it('refuses a return that would leave a debt on the member\'s own account after its points moved; its retry settles with the pool', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: kid, key: 'tv', points: 400, ref: 'tv', amount: 40_000 })
    let late: Reply | undefined
    const submit = during(e, kid, 'end', async (s) => {
      // A return sent to the kid's own account before the link, reaching it once the points have moved.
      late = await s({ op: 'reverse', account: kid, key: 'ret', ref: 'tv', shortfall: 'debt' })
    })
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 400 })
    e.submit = submit
    // It used to be taken: the kid owed 400 on its own account while the pool kept the 400 points.
    expect(late).toMatchObject(refused(kid))
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, head)).toEqual({ available: 400, pending: 0, held: 0 })
    // The retry is a pre-join return: recorded on the kid's own account and paid from the pool.
    expect(await e.execute({ op: 'reverse', account: kid, key: 'ret', ref: 'tv', shortfall: 'debt' })).toMatchObject({ status: 'ok', points: 400 })
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, head)).toEqual({ available: 0, pending: 0, held: 0 })
    for (const account of [kid, head]) await ledgerAgrees(e, account)
  })

  it('refuses active points earned after the move and before the mark ends, which the move would not carry', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: kid, key: 'seed', points: 400 })
    let late: Reply | undefined
    const submit = during(e, kid, 'end', async (s) => {
      late = await s({ op: 'earn', account: kid, key: 'late', points: 50 })
    })
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 400 })
    e.submit = submit
    // It used to be taken: 50 points on the kid's own account, left there by the link.
    expect(late).toMatchObject(refused(kid))
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await e.execute({ op: 'earn', account: kid, key: 'late', points: 50 })).toMatchObject({ status: 'ok', balance: { available: 450 } })
    for (const account of [kid, head]) await ledgerAgrees(e, account)
  })

  it('refuses points credited to a duplicate during its merge, so none stay on the closed account', async () => {
    const e = await start()
    const [keep, dupe] = acrossShards()
    for (const id of [keep, dupe]) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: dupe, key: 'seed', points: 90, ref: 'p1' })
    await e.execute({ op: 'redeem', account: dupe, key: 'pay', points: 40, ref: 'r1' })
    const late: Reply[] = []
    const submit = during(e, dupe, 'end', async (s) => {
      late.push(await s({ op: 'adjust', account: dupe, key: 'goodwill', points: 30, reason: 'goodwill' }))
      late.push(await s({ op: 'refund', account: dupe, key: 'back', ref: 'r1' }))
      late.push(await s({ op: 'earn', account: dupe, key: 'later', points: 20, activeFrom: Date.now() + 3_600_000 }))
    })
    expect(await e.sagas.merge(dupe, keep, actor)).toMatchObject({ merge: { state: 'done' } })
    e.submit = submit
    // They used to be taken: 70 points, 20 of them pending, on a closed account.
    expect(late).toEqual([expect.objectContaining(refused(dupe)), expect.objectContaining(refused(dupe)), expect.objectContaining(refused(dupe))])
    expect(await own(e, dupe)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, keep)).toEqual({ available: 50, pending: 0, held: 0 })
    // The refund's retry, through the member the duplicate was merged into, finds the redemption and settles with it.
    expect(await e.execute({ op: 'refund', account: keep, key: 'back', ref: 'r1' })).toMatchObject({ status: 'ok', points: 40 })
    expect(await own(e, keep)).toEqual({ available: 90, pending: 0, held: 0 })
    for (const account of [keep, dupe]) await ledgerAgrees(e, account)
  })

  it('takes a transfer\'s credit to the member\'s own account during the mark; the move carries it', async () => {
    const e = await start()
    const [head, kid] = acrossShards()
    for (const id of [head, kid, 'aunt']) await e.members.create({ id, program: 'demo' }, actor)
    await e.execute({ op: 'earn', account: kid, key: 'seed', points: 400 })
    await e.execute({ op: 'earn', account: 'aunt', key: 'seed', points: 100 })
    let sent: Awaited<ReturnType<Engine['sagas']['transfer']>> | undefined
    const submit = during(e, kid, 'begin', async () => {
      // Marked, not linked yet: the aunt's transfer is credited to the kid's own account.
      sent = await e.sagas.transfer({ from: 'aunt', to: kid, points: 30, key: 'gift' }, actor)
    })
    expect(await e.sagas.linkHousehold(kid, head, actor)).toMatchObject({ status: 'ok', points: 430 })
    e.submit = submit
    expect(sent).toMatchObject({ saga: { state: 'done' } })
    expect(await own(e, kid)).toEqual({ available: 0, pending: 0, held: 0 })
    expect(await own(e, head)).toEqual({ available: 430, pending: 0, held: 0 })
    for (const account of [kid, head, 'aunt']) await ledgerAgrees(e, account)
  })
})
