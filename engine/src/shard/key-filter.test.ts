import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { LmdbStore } from '../store/lmdb-store.ts'
import { KeyFilter } from './key-filter.ts'
import { Shard } from './shard.ts'

describe('KeyFilter', () => {
  test('never forgets a key it was given, across generations', () => {
    const filter = new KeyFilter()
    const keys = Array.from({ length: 200_000 }, (_, i) => [`m${i % 997}`, `pos-${i}`] as const)
    keys.forEach(([account, key], i) => filter.add(account, key, i))
    const forgotten = keys.filter(([account, key]) => !filter.mayContain(account, key))
    expect(forgotten).toEqual([])
  })

  test('answers "maybe" for few keys it was not given', () => {
    const filter = new KeyFilter()
    for (let i = 0; i < 100_000; i++) filter.add(`m${i}`, `k${i}`, 0)
    let maybe = 0
    for (let i = 0; i < 100_000; i++) if (filter.mayContain(`m${i}`, `other-${i}`)) maybe++
    // 16 bits a key and 4 probes: about 0.24% per generation, a few generations deep.
    expect(maybe).toBeLessThan(1500)
  })

  test('tells the account and key apart where their concatenations agree', () => {
    const filter = new KeyFilter()
    filter.add('ab', 'c', 0)
    expect(filter.mayContain('ab', 'c')).toBe(true)
    expect(filter.mayContain('a', 'bc')).toBe(false)
  })

  test('starts small and grows with the keys', () => {
    const filter = new KeyFilter()
    filter.add('a', 'k', 0)
    expect(filter.bytes).toBe(8192)
    for (let i = 0; i < 100_000; i++) filter.add('a', `k${i}`, 0)
    expect(filter.bytes).toBeGreaterThan(100_000 * 2) // at least 16 bits a key
    expect(filter.bytes).toBeLessThan(100_000 * 2 * 8)
  })

  test('drops only generations whose keys are all at or before the cutoff', () => {
    const filter = new KeyFilter()
    // The first generation holds 4096 keys: fill it at time 1, then one more key at time 5.
    for (let i = 0; i < 4096; i++) filter.add('a', `old${i}`, 1)
    filter.add('a', 'new', 5)
    filter.dropThrough(4)
    expect(filter.mayContain('a', 'new')).toBe(true)
    expect(filter.mayContain('a', 'old7')).toBe(false)
    filter.dropThrough(10) // the newest generation is kept: it takes the next keys
    expect(filter.mayContain('a', 'new')).toBe(true)
  })
})

describe('a shard with its key filter', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  test('recognises keys stored before a reopen, and forgets them once pruned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'key-filter-'))
    dirs.push(dir)
    let now = 1_000_000
    const clock = () => now
    const config = { idempotencyWindowMs: 60_000 }
    let store = new LmdbStore({ path: dir, noSync: true })
    let shard = new Shard({ store, clock, config })
    for (let i = 0; i < 10; i++) {
      expect((await shard.submit({ op: 'earn', account: 'a', key: `k${i}`, points: 10 })).status).toBe('ok')
    }
    await shard.close()
    await store.close()

    store = new LmdbStore({ path: dir, noSync: true })
    shard = new Shard({ store, clock, config })
    const replay = await shard.submit({ op: 'earn', account: 'a', key: 'k3', points: 10 })
    expect(replay).toMatchObject({ status: 'exists', entry: 4 })
    const conflict = await shard.submit({ op: 'earn', account: 'a', key: 'k4', points: 11 })
    expect(conflict.status).toBe('exists_with_different_points')
    expect(await shard.submit({ op: 'balance', account: 'a' })).toMatchObject({ balance: { available: 100 } })

    now += 61_000
    shard.requestSweep()
    // After the window the keys are pruned: the same key is a new command.
    await shard.submit({ op: 'balance', account: 'a' })
    const again = await shard.submit({ op: 'earn', account: 'a', key: 'k3', points: 10 })
    expect(again).toMatchObject({ status: 'ok', entry: 11 })
    expect(await shard.submit({ op: 'balance', account: 'a' })).toMatchObject({ balance: { available: 110 } })
    await shard.close()
    await store.close()
  })
})
