/**
 * The port between a shard and its storage. A shard reads synchronously
 * (committed state only) and writes one `BatchWrite` per batch, atomically.
 *
 * @module
 */
import type { BatchWrite, StoreReader } from '../domain/batch.ts'

export interface CommitHandle {
  /** Resolves when the batch is visible to reads; the next batch may then run. */
  committed: Promise<void>
  /** Resolves when the batch is on disk; only then may its commands be answered. */
  durable: Promise<void>
}

export interface DueTimer {
  dueAt: number
  account: string
}

export interface KeyLogRecord {
  id: unknown
  at: number
  keys: [account: string, key: string][]
}

export interface ShardStore extends StoreReader {
  /** Warms the pages of these accounts so the synchronous reads that follow are fast. */
  prefetch(accounts: string[]): Promise<void>
  commit(write: BatchWrite): CommitHandle
  /** Timers due at or before `now`, oldest first. */
  dueTimers(now: number, limit: number): DueTimer[]
  /** Key-log records written at or before `before`, oldest first. */
  expiredKeyLogs(before: number, limit: number): KeyLogRecord[]
  /** Everything the ledger invariants are checked against, for audits and tests. */
  scanAccounts(): Iterable<import('../domain/types.ts').AccountState>
  close(): Promise<void>
}
