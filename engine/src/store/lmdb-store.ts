/**
 * The durable ShardStore: one LMDB environment per shard, one named database
 * per record kind, and one write transaction per batch.
 *
 * A batch is written by an async `transaction` (lmdb-js runs the commit off
 * the JS thread); `committed` resolves when it is visible and `durable` when
 * lmdb-js reports it flushed to disk. With `overlappingSync` the flush of one
 * batch overlaps the execution of the next, which is where group commit gets
 * its throughput without giving up durability.
 *
 * @module
 */
import { open, type Database, type RootDatabase } from 'lmdb'
import type { BatchWrite } from '../domain/batch.ts'
import type { AccountState, ClosedHold, Entry, IdemRecord, TxnRecord } from '../domain/types.ts'
import type { CommitHandle, DueTimer, KeyLogRecord, ShardStore } from './store.ts'

export interface LmdbStoreOptions {
  path: string
  /** For throwaway benchmarks only: skips fsync, so `durable` means committed. */
  noSync?: boolean
}

type Key = string | number | (string | number)[]

/** A disk-level failure worth a clear message (full disk, I/O error). */
export class StorageError extends Error {
  override name = 'StorageError'
}

export function describeStorageError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  if (/ENOSPC|MDB_MAP_FULL|No space left|-30792/.test(text)) {
    return `storage is full (${text}): free disk space, then restart`
  }
  return `storage failed: ${text}`
}

export class LmdbStore implements ShardStore {
  readonly #root: RootDatabase
  readonly #accounts: Database<AccountState, string>
  readonly #entries: Database<Entry, Key>
  readonly #idem: Database<IdemRecord, Key>
  readonly #holds: Database<ClosedHold, Key>
  readonly #txns: Database<TxnRecord, Key>
  readonly #timers: Database<true, Key>
  readonly #keyLogs: Database<[string, string][], Key>
  readonly #noSync: boolean
  /** Distinguishes key-log records of this process from those of earlier runs. */
  readonly #runId = Date.now()
  #keyLogSeq = 0

  constructor(options: LmdbStoreOptions) {
    this.#noSync = options.noSync ?? false
    this.#root = open({ path: options.path, maxDbs: 16, noSync: this.#noSync, noMemInit: true })
    const structured = { sharedStructuresKey: Symbol.for('structures') }
    this.#accounts = this.#root.openDB({ name: 'accounts', ...structured })
    this.#entries = this.#root.openDB({ name: 'entries', ...structured })
    this.#idem = this.#root.openDB({ name: 'idem', ...structured })
    this.#holds = this.#root.openDB({ name: 'holds', ...structured })
    this.#txns = this.#root.openDB({ name: 'txns', ...structured })
    this.#timers = this.#root.openDB({ name: 'timers' })
    this.#keyLogs = this.#root.openDB({ name: 'keylog' })
  }

  getAccount(id: string): AccountState | undefined {
    return this.#accounts.get(id)
  }

  getIdem(account: string, key: string): IdemRecord | undefined {
    return this.#idem.get([account, key])
  }

  getClosedHold(account: string, hold: number): ClosedHold | undefined {
    return this.#holds.get([account, hold])
  }

  getTxn(account: string, ref: string): TxnRecord | undefined {
    return this.#txns.get([account, ref])
  }

  getEntries(account: string, before: number, limit: number): Entry[] {
    if (before <= 1) return []
    const range = this.#entries.getRange({
      start: [account, before - 1],
      end: [account, 0],
      reverse: true,
      limit,
    })
    return Array.from(range, ({ value }) => value)
  }

  async prefetch(accounts: string[]): Promise<void> {
    await this.#accounts.prefetch(accounts)
  }

  commit(write: BatchWrite): CommitHandle {
    const committed = this.#root.transaction(() => this.#apply(write)).then(() => undefined)
    const durable = committed.then(() => (this.#noSync ? undefined : this.#root.flushed)).then(
      () => undefined,
    )
    // Callers attach their handlers later; keep Node from reporting these as unhandled meanwhile.
    committed.catch(() => {})
    durable.catch(() => {})
    return { committed, durable }
  }

  #apply(write: BatchWrite) {
    for (const account of write.accounts) this.#accounts.put(account.id, account)
    for (const { account, entry } of write.entries) this.#entries.put([account, entry.seq], entry)
    for (const { account, key, record } of write.idem) this.#idem.put([account, key], record)
    for (const { account, hold } of write.closedHolds) this.#holds.put([account, hold.id], hold)
    for (const { account, txn } of write.txns) this.#txns.put([account, txn.ref], txn)
    for (const t of write.timersAdded) this.#timers.put([t.dueAt, t.account], true)
    for (const t of write.timersRemoved) this.#timers.remove([t.dueAt, t.account])
    for (const { account, key } of write.idemRemoved) this.#idem.remove([account, key])
    for (const id of write.keyLogsRemoved) this.#keyLogs.remove(id as Key)
    if (write.keyLog !== undefined) {
      const id = [write.keyLog.at, this.#runId, ++this.#keyLogSeq]
      this.#keyLogs.put(id, write.keyLog.keys)
    }
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

  *scanAccounts(): Iterable<AccountState> {
    for (const { value } of this.#accounts.getRange({})) yield value
  }

  /** Every journal entry of one account, oldest first (for audits and tests). */
  *scanEntries(account: string): Iterable<Entry> {
    for (const { value } of this.#entries.getRange({ start: [account, 0], end: [account, Number.MAX_SAFE_INTEGER] })) {
      yield value
    }
  }

  async close(): Promise<void> {
    await this.#root.flushed
    await this.#root.close()
  }
}
