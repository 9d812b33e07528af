/**
 * The durable ShardStore: one LMDB environment per shard and one write
 * transaction per batch.
 *
 * Everything that belongs to an account (its state, journal entries,
 * idempotency records, purchases and closed holds) lives in one database under
 * keys that start with the account id, so it sits together in the B-tree: a
 * command dirties about one page instead of one per record kind. With a million
 * accounts, pages written per command, not CPU, set the throughput (format 1
 * kept each kind in its own database and wrote four times the bytes).
 * Timers and the key log are keyed by time and have databases of their own.
 *
 * A batch is written by an async `transaction` (lmdb-js runs the commit off
 * the JS thread); `committed` resolves when it is visible and `durable` when
 * lmdb-js reports it flushed to disk. With `overlappingSync` the flush of one
 * batch overlaps the execution of the next, which is where group commit gets
 * its throughput without giving up durability.
 *
 * @module
 */
import { statfsSync } from 'node:fs'
import { open, type Database, type RootDatabase } from 'lmdb'
import { checkLmdbFile } from './lmdb-file.ts'
import type { ShardTotals } from '../domain/totals.ts'
import type { BatchWrite, ReadPlan } from '../domain/batch.ts'
import type { AccountState, BurnRecord, ClosedHold, Entry, IdemRecord, TxnRecord } from '../domain/types.ts'
import {
  describeStorageError,
  StorageError,
  type CommitHandle,
  type DueTimer,
  type KeyLogRecord,
  type ShardStore,
} from './store.ts'

export interface LmdbStoreOptions {
  path: string
  /** For throwaway benchmarks only: skips fsync, so `durable` means committed. */
  noSync?: boolean
  /**
   * Tests only: stands in for waiting on LMDB's flush to disk, since a disk
   * whose fsync fails cannot be had here.
   */
  flushed?: () => PromiseLike<unknown>
}

type Key = string | number | (string | number)[]

/** The second key element: which kind of record, under its account. */
const Kind = { account: 0, entry: 1, idem: 2, txn: 3, hold: 4, burn: 5 } as const

type AccountRecord = AccountState | Entry | IdemRecord | TxnRecord | ClosedHold | BurnRecord

const accountKey = (id: string): Key => [id, Kind.account]
const entryKey = (account: string, seq: number): Key => [account, Kind.entry, seq]
const idemKey = (account: string, key: string): Key => [account, Kind.idem, key]
const txnKey = (account: string, ref: string): Key => [account, Kind.txn, ref]
const holdKey = (account: string, hold: number): Key => [account, Kind.hold, hold]
const burnKey = (account: string, ref: string): Key => [account, Kind.burn, ref]

/**
 * lmdb-js rejects each write of a failed commit with a generic error whose
 * `commitError` promise rejects with the real cause (ENOSPC, EIO): surface that.
 */
async function commitCause(error: unknown): Promise<unknown> {
  const cause = (error as { commitError?: unknown } | undefined)?.commitError
  if (!(cause instanceof Promise)) return error
  // lmdb-js may settle it before or after this error; never wait long for it.
  const timeout = new Promise((resolve) => setTimeout(resolve, 200).unref())
  return Promise.race([cause.then(() => error, (real: unknown) => real), timeout.then(() => error)])
}

/** Free bytes on the file system holding `path` (undefined if it cannot be told). */
function freeBytes(path: string): number | undefined {
  try {
    const stats = statfsSync(path)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}

/** Free space below which a failed commit is reported as a full disk. */
const nearlyFullBytes = 16 * 1024 * 1024

function rejected(error: Error): CommitHandle {
  const failed = Promise.reject(error)
  failed.catch(() => {})
  return { committed: failed, durable: failed }
}

function isEmpty(write: BatchWrite): boolean {
  return (
    write.accounts.length === 0 &&
    write.entries.length === 0 &&
    write.idem.length === 0 &&
    write.closedHolds.length === 0 &&
    write.txns.length === 0 &&
    write.burns.length === 0 &&
    write.timersAdded.length === 0 &&
    write.timersRemoved.length === 0 &&
    write.idemRemoved.length === 0 &&
    write.keyLogsRemoved.length === 0 &&
    write.quotas.length === 0 &&
    write.totals === undefined &&
    write.keyLog === undefined
  )
}

const totalsKey = 'shard'

/**
 * A prefetch is a round trip to lmdb-js's reader thread: worth it when a
 * batch reads many records (their page faults overlap), not for a few. At
 * 4,000 commands/s a shard's batches held about 19 commands, and their
 * prefetch took 1.2 ms of the batch's 7 ms, while a read that faults costs
 * microseconds (the data file is in the page cache).
 */
const prefetchKeysMin = 64

export class LmdbStore implements ShardStore {
  readonly #root: RootDatabase
  readonly #records: Database<AccountRecord, Key>
  readonly #timers: Database<true, Key>
  readonly #keyLogs: Database<[string, string][], Key>
  readonly #quotas: Database<number, string>
  /** One record: the shard's totals (see domain/totals.ts). */
  readonly #totals: Database<ShardTotals, string>
  readonly #noSync: boolean
  readonly #flushed: () => PromiseLike<unknown>
  readonly #path: string
  #failure: StorageError | undefined
  /** Distinguishes key-log records of this process from those of earlier runs. */
  readonly #runId = Date.now()
  #keyLogSeq = 0

  constructor(options: LmdbStoreOptions) {
    this.#noSync = options.noSync ?? false
    this.#flushed = options.flushed ?? (() => this.#root.flushed)
    this.#path = options.path
    try {
      checkLmdbFile(options.path)
      this.#root = open({ path: options.path, maxDbs: 16, noSync: this.#noSync, noMemInit: true })
    } catch (error) {
      throw new StorageError(`cannot open ${options.path}: ${(error as Error).message}`)
    }
    this.#records = this.#root.openDB({
      name: 'records',
      sharedStructuresKey: Symbol.for('structures'),
    })
    this.#timers = this.#root.openDB({ name: 'timers' })
    this.#keyLogs = this.#root.openDB({ name: 'keylog' })
    this.#quotas = this.#root.openDB({ name: 'quotas' })
    this.#totals = this.#root.openDB({ name: 'totals' })
  }

  getAccount(id: string): AccountState | undefined {
    return this.#records.get(accountKey(id)) as AccountState | undefined
  }

  getIdem(account: string, key: string): IdemRecord | undefined {
    return this.#records.get(idemKey(account, key)) as IdemRecord | undefined
  }

  getClosedHold(account: string, hold: number): ClosedHold | undefined {
    return this.#records.get(holdKey(account, hold)) as ClosedHold | undefined
  }

  getTxn(account: string, ref: string): TxnRecord | undefined {
    return this.#records.get(txnKey(account, ref)) as TxnRecord | undefined
  }

  getBurn(account: string, ref: string): BurnRecord | undefined {
    return this.#records.get(burnKey(account, ref)) as BurnRecord | undefined
  }

  getEntries(account: string, before: number, limit: number): Entry[] {
    if (before <= 1) return []
    const range = this.#records.getRange({
      start: entryKey(account, before - 1),
      end: entryKey(account, 0),
      reverse: true,
      limit,
    })
    return Array.from(range, ({ value }) => value as Entry)
  }

  async prefetch(plan: ReadPlan): Promise<void> {
    const keys: Key[] = plan.accounts.map(accountKey)
    for (const [account, key] of plan.idem) keys.push(idemKey(account, key))
    for (const [account, ref] of plan.txns) keys.push(txnKey(account, ref))
    for (const [account, ref] of plan.burns) keys.push(burnKey(account, ref))
    for (const [account, hold] of plan.holds) keys.push(holdKey(account, hold))
    if (keys.length >= prefetchKeysMin) await this.#records.prefetch(keys)
  }

  commit(write: BatchWrite): CommitHandle {
    if (this.#failure !== undefined) return rejected(this.#failure)
    if (isEmpty(write)) return { committed: Promise.resolve(), durable: Promise.resolve() }
    // Every put below is issued in this one synchronous call, so lmdb-js's
    // event-turn batching puts them all in a single transaction, executed on
    // its write thread; they all resolve together when it commits.
    const committed = this.#apply(write).then(
      () => undefined,
      async (error: unknown) => {
        const cause = await commitCause(error)
        const free = freeBytes(this.#path)
        // After a failed commit LMDB's state is not trusted: refuse writes until a restart.
        this.#failure =
          free !== undefined && free < nearlyFullBytes
            ? new StorageError(`storage is full: ${free} bytes free at ${this.#path}; free disk space, then restart`)
            : new StorageError(`${describeStorageError(cause)}; restart after fixing the cause`)
        throw this.#failure
      },
    )
    const durable = committed.then(() => (this.#noSync ? undefined : this.#flushed())).then(
      () => undefined,
      (error: unknown) => {
        // A failed flush may have lost pages that reads would then fetch from
        // disk as they were (the kernel marks them clean): a later batch built
        // on them must not be acknowledged. Refuse writes until a restart.
        const reason = describeStorageError(error)
        this.#failure ??= new StorageError(`flushing to disk failed: ${reason}; restart after fixing the cause`)
        throw this.#failure
      },
    )
    // Callers attach their handlers later; keep Node from reporting these as unhandled meanwhile.
    committed.catch(() => {})
    durable.catch(() => {})
    return { committed, durable }
  }

  #apply(write: BatchWrite): Promise<unknown> {
    // Writes of one transaction share a few promises; each is watched once so
    // a failed commit is reported through `committed`, not as unhandled.
    const outcomes = new Set<Promise<boolean>>()
    const track = (outcome: Promise<boolean>) => outcomes.add(outcome)
    const records = this.#records
    for (const account of write.accounts) track(records.put(accountKey(account.id), account))
    for (const { account, entry } of write.entries) {
      track(records.put(entryKey(account, entry.seq), entry))
    }
    for (const { account, key, record } of write.idem) {
      track(records.put(idemKey(account, key), record))
    }
    for (const { account, hold } of write.closedHolds) {
      track(records.put(holdKey(account, hold.id), hold))
    }
    for (const { account, txn } of write.txns) track(records.put(txnKey(account, txn.ref), txn))
    for (const { account, burn } of write.burns) track(records.put(burnKey(account, burn.ref), burn))
    // Removed first: a batch may remove a timer and add one back at the same time.
    for (const t of write.timersRemoved) track(this.#timers.remove([t.dueAt, t.account]))
    for (const t of write.timersAdded) track(this.#timers.put([t.dueAt, t.account], true))
    for (const { account, key } of write.idemRemoved) track(records.remove(idemKey(account, key)))
    for (const id of write.keyLogsRemoved) track(this.#keyLogs.remove(id as Key))
    for (const [key, units] of write.quotas) track(this.#quotas.put(key, units))
    if (write.totals !== undefined) track(this.#totals.put(totalsKey, write.totals))
    if (write.keyLog !== undefined) {
      const id = [write.keyLog.at, this.#runId, ++this.#keyLogSeq]
      track(this.#keyLogs.put(id, write.keyLog.keys))
    }
    return Promise.all(outcomes)
  }

  dueTimers(now: number, limit: number): DueTimer[] {
    const keys = this.#timers.getKeys({ start: [0], end: [now + 1], limit })
    return Array.from(keys, (key) => {
      const [dueAt, account] = key as [number, string]
      return { dueAt, account }
    })
  }

  expiredKeyLogs(before: number, limit: number): KeyLogRecord[] {
    const range = this.#keyLogs.getRange({ start: [0], end: [before + 1], limit })
    return Array.from(range, ({ key, value }) => ({ id: key, at: (key as number[])[0]!, keys: value }))
  }

  *keyLogs(): Iterable<KeyLogRecord> {
    for (const { key, value } of this.#keyLogs.getRange({})) yield { id: key, at: (key as number[])[0]!, keys: value }
  }

  totals(): ShardTotals | undefined {
    return this.#totals.get(totalsKey)
  }

  quotaLeases(): Map<string, number> {
    return new Map(Array.from(this.#quotas.getRange({}), ({ key, value }) => [key, value]))
  }

  *scanAccounts(): Iterable<AccountState> {
    for (const { key, value } of this.#records.getRange({})) {
      if ((key as Key[])[1] === Kind.account) yield value as AccountState
    }
  }

  /** Every journal entry of one account, oldest first (for audits and tests). */
  *scanEntries(account: string): Iterable<Entry> {
    const range = { start: entryKey(account, 0), end: entryKey(account, Number.MAX_SAFE_INTEGER) }
    for (const { value } of this.#records.getRange(range)) yield value as Entry
  }

  /** Every idempotency record of the shard (for audits and tests). */
  *scanIdem(): Iterable<{ account: string; key: string; record: IdemRecord }> {
    for (const { key, value } of this.#records.getRange({})) {
      const [account, kind, idem] = key as [string, number, string]
      if (kind === Kind.idem) yield { account, key: idem, record: value as IdemRecord }
    }
  }

  async close(): Promise<void> {
    // After a failed commit lmdb-js's write thread may never finish; closing
    // would wait for it forever. Exiting the process releases the environment.
    if (this.#failure !== undefined) return
    await this.#root.flushed
    await this.#root.close()
  }
}
