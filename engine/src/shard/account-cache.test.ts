import { describe, expect, test } from 'vitest'
import { emptyBatchWrite } from '../domain/batch.ts'
import type { AccountState } from '../domain/types.ts'
import { MemoryStore } from '../store/memory-store.ts'
import { AccountCache } from './account-cache.ts'

function account(id: string, earned = 0): AccountState {
  return { id, seq: 0, createdAt: 0, lots: [], holds: [], debt: 0, earned, burned: 0, expired: 0 }
}

/** A store holding these accounts, counting its account reads. */
async function storeWith(accounts: AccountState[]) {
  const store = new MemoryStore()
  await store.commit({ ...emptyBatchWrite(), accounts }).durable
  let reads = 0
  const getAccount = store.getAccount.bind(store)
  store.getAccount = (id) => {
    reads++
    return getAccount(id)
  }
  return { store, reads: () => reads }
}

describe('AccountCache', () => {
  test('a hit is served from memory as the same object', async () => {
    const { store, reads } = await storeWith([account('a'), account('b')])
    const cache = new AccountCache(store, 10)
    const first = cache.getAccount('a')
    expect(cache.getAccount('a')).toBe(first)
    expect(reads()).toBe(1)
    expect(cache.missing(['a', 'b', 'c'])).toEqual(['b', 'c'])
  })

  test('holds at most its bound and keeps the recently used accounts', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`)
    const { store, reads } = await storeWith(ids.map((id) => account(id)))
    const cache = new AccountCache(store, 10)
    for (const id of ids) {
      cache.getAccount(id)
      cache.getAccount('m0') // used all the time: never evicted
      expect(cache.size).toBeLessThanOrEqual(10)
    }
    const before = reads()
    cache.getAccount('m0')
    cache.getAccount('m49')
    expect(reads()).toBe(before)
    cache.getAccount('m1')
    expect(reads()).toBe(before + 1)
  })

  test('a committed state replaces the cached one; a forgotten one is read again', async () => {
    const { store, reads } = await storeWith([account('a')])
    const cache = new AccountCache(store, 4)
    cache.getAccount('a')
    const next = account('a', 100)
    cache.committed([next, account('new')])
    expect(cache.getAccount('a')).toBe(next)
    expect(cache.getAccount('new')?.id).toBe('new')
    cache.forget([next])
    expect(cache.getAccount('a')?.earned).toBe(0)
    expect(reads()).toBe(2)
    cache.clear()
    expect(cache.size).toBe(0)
  })

  test('an account turned over to the old generation is still a hit, never a stale copy', async () => {
    const { store, reads } = await storeWith([account('a'), account('b'), account('c')])
    const cache = new AccountCache(store, 4) // generations of 2
    cache.getAccount('a')
    const newer = account('a', 5)
    cache.committed([newer])
    cache.getAccount('b')
    cache.getAccount('c') // turnover: a and b are old now
    expect(cache.getAccount('a')).toBe(newer)
    expect(reads()).toBe(3)
  })
})
