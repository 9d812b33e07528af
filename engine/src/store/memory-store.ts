/**
 * An in-memory ShardStore with the same semantics as the LMDB one: values are
 * copied through msgpack on the way in and out (so callers can never alias
 * stored state), a batch applies all at once, and `durable` resolves on a
 * later tick. Used by tests and the property-based model check.
 *
 * @module
 */
import { pack, unpack } from 'msgpackr'
import type { BatchWrite } from '../domain/batch.ts'
import type { ShardTotals } from '../domain/totals.ts'
import type { AccountState, BurnRecord, ClosedHold, Entry, IdemRecord, TxnRecord } from '../domain/types.ts'
import type { CommitHandle, DueTimer, KeyLogRecord, ShardStore } from './store.ts'

const pair = (a: string, b: string | number) => `${a}\u0000${b}`

export class MemoryStore implements ShardStore {
  readonly #accounts = new Map<string, Buffer>()
  readonly #entries = new Map<string, Buffer[]>()
  readonly #idem = new Map<string, Buffer>()
  readonly #holds = new Map<string, Buffer>()
  readonly #txns = new Map<string, Buffer>()
  readonly #burns = new Map<string, Buffer>()
  readonly #timers = new Map<string, DueTimer>()
  readonly #keyLogs = new Map<number, KeyLogRecord>()
  readonly #quotas = new Map<string, number>()
  #totals: Buffer | undefined
  #keyLogSeq = 0
  /** Set by tests to make the next commit fail, as a full disk would. */
  failNextCommit: Error | undefined

  getAccount(id: string): AccountState | undefined {
    const bytes = this.#accounts.get(id)
    return bytes === undefined ? undefined : unpack(bytes)
  }

  getIdem(account: string, key: string): IdemRecord | undefined {
    const bytes = this.#idem.get(pair(account, key))
    return bytes === undefined ? undefined : unpack(bytes)
  }

  getClosedHold(account: string, hold: number): ClosedHold | undefined {
    const bytes = this.#holds.get(pair(account, hold))
    return bytes === undefined ? undefined : unpack(bytes)
  }

  getTxn(account: string, ref: string): TxnRecord | undefined {
    const bytes = this.#txns.get(pair(account, ref))
    return bytes === undefined ? undefined : unpack(bytes)
  }

  getBurn(account: string, ref: string): BurnRecord | undefined {
    const bytes = this.#burns.get(pair(account, ref))
    return bytes === undefined ? undefined : unpack(bytes)
  }

  getEntries(account: string, before: number, limit: number): Entry[] {
    const list = this.#entries.get(account) ?? []
    const end = Math.min(before - 1, list.length)
    const page: Entry[] = []
    for (let i = end - 1; i >= 0 && page.length < limit; i--) page.push(unpack(list[i]!))
    return page
  }

  async prefetch(): Promise<void> {}

  commit(write: BatchWrite): CommitHandle {
    const failure = this.failNextCommit
    this.failNextCommit = undefined
    if (failure !== undefined) {
      const rejected = Promise.reject(failure)
      rejected.catch(() => {})
      return { committed: rejected, durable: rejected }
    }
    this.#apply(write)
    return { committed: Promise.resolve(), durable: new Promise((r) => setImmediate(r)) }
  }

  #apply(write: BatchWrite) {
    for (const account of write.accounts) this.#accounts.set(account.id, pack(account))
    for (const { account, entry } of write.entries) {
      let list = this.#entries.get(account)
      if (list === undefined) this.#entries.set(account, (list = []))
      list[entry.seq - 1] = pack(entry)
    }
    for (const { account, key, record } of write.idem) this.#idem.set(pair(account, key), pack(record))
    for (const { account, hold } of write.closedHolds) this.#holds.set(pair(account, hold.id), pack(hold))
    for (const { account, txn } of write.txns) this.#txns.set(pair(account, txn.ref), pack(txn))
    for (const { account, burn } of write.burns) this.#burns.set(pair(account, burn.ref), pack(burn))
    // Removed first: a batch may remove a timer and add one back at the same time.
    for (const t of write.timersRemoved) this.#timers.delete(pair(t.account, t.dueAt))
    for (const t of write.timersAdded) this.#timers.set(pair(t.account, t.dueAt), t)
    for (const { account, key } of write.idemRemoved) this.#idem.delete(pair(account, key))
    for (const id of write.keyLogsRemoved) this.#keyLogs.delete(id as number)
    for (const [key, units] of write.quotas) this.#quotas.set(key, units)
    if (write.totals !== undefined) this.#totals = pack(write.totals)
    if (write.keyLog !== undefined) {
      const id = ++this.#keyLogSeq
      this.#keyLogs.set(id, { id, ...structuredClone(write.keyLog) })
    }
  }

  dueTimers(now: number, limit: number): DueTimer[] {
    return [...this.#timers.values()]
      .filter((t) => t.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, limit)
  }

  expiredKeyLogs(before: number, limit: number): KeyLogRecord[] {
    return [...this.#keyLogs.values()].filter((r) => r.at <= before).slice(0, limit)
  }

  keyLogs(): Iterable<KeyLogRecord> {
    return [...this.#keyLogs.values()].sort((a, b) => a.at - b.at)
  }

  totals(): ShardTotals | undefined {
    return this.#totals === undefined ? undefined : unpack(this.#totals)
  }

  quotaLeases(): Map<string, number> {
    return new Map(this.#quotas)
  }

  *scanAccounts(): Iterable<AccountState> {
    for (const bytes of this.#accounts.values()) yield unpack(bytes)
  }

  async close(): Promise<void> {}
}
