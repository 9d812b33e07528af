/**
 * Goal: both stores give a batch the same meaning: every record lands,
 * whatever the order of its accounts, and a key written and pruned in one
 * batch ends pruned. (A change that reorders the LMDB store's puts, such as
 * writing them in key order for locality, must keep this.)
 * Method: batches written straight to a real store (LMDB in a temp folder),
 * then read back.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAccount } from '../domain/account.ts'
import { emptyBatchWrite, type BatchWrite } from '../domain/batch.ts'
import type { IdemRecord } from '../domain/types.ts'
import { LmdbStore } from './lmdb-store.ts'
import { MemoryStore } from './memory-store.ts'
import type { ShardStore } from './store.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

function lmdbStore(): LmdbStore {
  const path = mkdtempSync(join(tmpdir(), 'loyalty-store-'))
  folders.push(path)
  return new LmdbStore({ path })
}

function idemRecord(at: number): IdemRecord {
  return { terms: ['earn', 10, null, null, null, ''], reply: { status: 'ok', entry: at, points: 10 }, at }
}

/** Accounts whose ids sort in another order than they are given, with an idempotency record each. */
function scrambled(): BatchWrite {
  const write = emptyBatchWrite()
  for (const id of ['m-9', 'm-10', 'a', 'm-1', 'z', 'm-100', 'b']) {
    write.accounts.push({ ...createAccount(id, 1), earned: id.length })
    write.idem.push({ account: id, key: `k-${id}`, record: idemRecord(id.length) })
  }
  return write
}

describe.each([
  ['lmdb', lmdbStore],
  ['memory', () => new MemoryStore()],
] as const)('%s store', (_name, open: () => ShardStore) => {
  it('stores every record of a batch given out of key order', async () => {
    const store = open()
    try {
      const write = scrambled()
      await store.commit(write).durable
      for (const account of write.accounts) {
        expect(store.getAccount(account.id)?.earned).toBe(account.id.length)
        expect(store.getIdem(account.id, `k-${account.id}`)?.at).toBe(account.id.length)
      }
    } finally {
      await store.close()
    }
  })

  it('applies a key written and pruned in one batch in the batch order: pruned', async () => {
    const store = open()
    try {
      const first = emptyBatchWrite()
      first.accounts.push(createAccount('a', 1))
      first.idem.push({ account: 'a', key: 'k', record: idemRecord(1) })
      await store.commit(first).durable
      const write = emptyBatchWrite()
      write.idem.push({ account: 'a', key: 'k', record: idemRecord(2) }, { account: 'a', key: 'other', record: idemRecord(2) })
      write.idemRemoved.push({ account: 'a', key: 'k' })
      await store.commit(write).durable
      expect(store.getIdem('a', 'k')).toBeUndefined()
      expect(store.getIdem('a', 'other')?.at).toBe(2)
      expect(store.getAccount('a')?.id).toBe('a')
    } finally {
      await store.close()
    }
  })
})

describe('lmdb store, a flush that fails', () => {
  it('refuses every later batch until a restart, so nothing built on the lost pages is acknowledged', async () => {
    const path = mkdtempSync(join(tmpdir(), 'loyalty-store-'))
    folders.push(path)
    let flushes = 0
    const store = new LmdbStore({
      path,
      flushed: () => (++flushes === 1 ? Promise.reject(new Error('EIO: i/o error, fdatasync')) : Promise.resolve()),
    })
    try {
      await expect(store.commit(scrambled()).durable).rejects.toThrow(/flushing to disk failed: storage failed: EIO/)
      const later = emptyBatchWrite()
      later.accounts.push(createAccount('later', 1))
      const handle = store.commit(later)
      await expect(handle.committed).rejects.toThrow(/flushing to disk failed/)
      await expect(handle.durable).rejects.toThrow(/flushing to disk failed/)
      expect(store.getAccount('later')).toBeUndefined()
    } finally {
      await store.close()
    }
  })
})
