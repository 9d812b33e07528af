/**
 * The port between a shard and its storage. A shard reads synchronously
 * (committed state only) and writes one `BatchWrite` per batch, atomically.
 *
 * @module
 */
import type { BatchWrite, ReadPlan, StoreReader } from '../domain/batch.ts'
import type { ShardTotals } from '../domain/totals.ts'

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
  /** Warms the pages of these records so the synchronous reads that follow are fast. */
  prefetch(plan: ReadPlan): Promise<void>
  commit(write: BatchWrite): CommitHandle
  /** Timers due at or before `now`, oldest first. */
  dueTimers(now: number, limit: number): DueTimer[]
  /** Key-log records written at or before `before`, oldest first. */
  expiredKeyLogs(before: number, limit: number): KeyLogRecord[]
  /** Every key-log record, oldest first (the shard's key filter is built from them at open). */
  keyLogs(): Iterable<KeyLogRecord>
  /** The shard's totals as last written; undefined in a store written before totals existed. */
  totals(): ShardTotals | undefined
  /** The shard's quota leases: quota key → units it may still grant. */
  quotaLeases(): Map<string, number>
  /** Everything the ledger invariants are checked against, for audits and tests. */
  scanAccounts(): Iterable<import('../domain/types.ts').AccountState>
  close(): Promise<void>
}

/** A disk-level failure worth a clear message (full disk, I/O error). */
export class StorageError extends Error {
  override name = 'StorageError'
}

export function describeStorageError(error: unknown): string {
  if (error instanceof StorageError) return error.message
  const text = error instanceof Error ? error.message : String(error)
  if (/ENOSPC|MDB_MAP_FULL|No space left|-30792/.test(text)) {
    return `storage is full (${text}): free disk space, then restart`
  }
  return `storage failed: ${text}`
}
