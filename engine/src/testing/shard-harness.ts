/**
 * Builds a shard over either store for tests, with a fake clock and a temp
 * folder that is removed on dispose: `await using h = await shardHarness('lmdb')`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Entry } from '../domain/types.ts'
import { validateCommand } from '../domain/validate.ts'
import type { Reply } from '../domain/types.ts'
import { Shard, type ShardLimits } from '../shard/shard.ts'
import { LmdbStore } from '../store/lmdb-store.ts'
import { MemoryStore } from '../store/memory-store.ts'
import type { ShardStore } from '../store/store.ts'
import { FakeClock } from './clock.ts'

export type StoreKind = 'memory' | 'lmdb'
export const storeKinds: StoreKind[] = ['memory', 'lmdb']

export interface ShardHarness extends AsyncDisposable {
  shard: Shard
  store: ShardStore
  clock: FakeClock
  /** Validates like the edge does, then submits. */
  send(input: Record<string, unknown>): Promise<Reply>
  /** Every entry of an account, oldest first. */
  journal(account: string): Entry[]
  /** Runs one sweep (due timers, pruning) and waits for it to be durable. */
  sweep(): Promise<void>
}

export async function shardHarness(
  kind: StoreKind,
  options: { limits?: Partial<ShardLimits>; config?: object } = {},
): Promise<ShardHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'loyalty-shard-'))
  const store: ShardStore = kind === 'memory' ? new MemoryStore() : new LmdbStore({ path: dir })
  const clock = new FakeClock()
  const shard = new Shard({
    store,
    clock: clock.read,
    limits: { sweepIntervalMs: 3_600_000, ...options.limits },
    config: options.config ?? {},
  })
  const send = async (input: Record<string, unknown>) => {
    const v = validateCommand(input)
    return v.ok ? shard.submit(v.command) : v.reply
  }
  return {
    shard,
    store,
    clock,
    send,
    journal: (account) => store.getEntries(account, Number.MAX_SAFE_INTEGER, 1_000_000).reverse(),
    async sweep() {
      shard.requestSweep()
      await shard.submit({ op: 'balance', account: '__sweep__' })
    },
    async [Symbol.asyncDispose]() {
      await shard.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
