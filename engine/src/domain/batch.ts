/**
 * The working set of one batch: reads go through to the store once and are
 * then served from memory, writes are collected and handed to the store as a
 * single atomic `BatchWrite`. Commands later in a batch see the effects of
 * earlier ones, exactly as if they had run one after another.
 *
 * @module
 */
import assert from './assert.ts'
import { nextDue } from './account.ts'
import { applyChange, copyTotals, figuresOf, type AccountFigures, type ShardTotals } from './totals.ts'
import type { AccountState, BurnRecord, ClosedHold, Entry, IdemRecord, TxnRecord } from './types.ts'

/** Synchronous reads of committed state (LMDB reads are memory-mapped). */
export interface StoreReader {
  getAccount(id: string): AccountState | undefined
  getIdem(account: string, key: string): IdemRecord | undefined
  getClosedHold(account: string, hold: number): ClosedHold | undefined
  getTxn(account: string, ref: string): TxnRecord | undefined
  /** A redemption's burn record, by its `ref`. */
  getBurn(account: string, ref: string): BurnRecord | undefined
  /** Entries with seq below `before`, newest first, at most `limit`. */
  getEntries(account: string, before: number, limit: number): Entry[]
}

/**
 * Records a batch is about to read. A store may warm their pages on another
 * thread, so that the synchronous reads during execution do not fault.
 */
export interface ReadPlan {
  accounts: string[]
  /** Idempotency keys, as [account, key]. */
  idem: [string, string][]
  /** Purchase references, as [account, ref]. */
  txns: [string, string][]
  /** Redemption references, as [account, ref]. */
  burns: [string, string][]
  /** Holds that may be closed already, as [account, hold]. */
  holds: [string, number][]
}

/** Everything one batch changes; applied by the store in one transaction. */
export interface BatchWrite {
  accounts: AccountState[]
  entries: { account: string; entry: Entry }[]
  idem: { account: string; key: string; record: IdemRecord }[]
  closedHolds: { account: string; hold: ClosedHold }[]
  txns: { account: string; txn: TxnRecord }[]
  burns: { account: string; burn: BurnRecord }[]
  timersAdded: { dueAt: number; account: string }[]
  timersRemoved: { dueAt: number; account: string }[]
  idemRemoved: { account: string; key: string }[]
  /** Keys written by this batch, logged so they can be pruned after the window. */
  keyLog: { at: number; keys: [account: string, key: string][] } | undefined
  keyLogsRemoved: unknown[]
  /** Quota leases whose units changed: [quota key, units left]. */
  quotas: [string, number][]
  /** The shard's totals after this batch, when it changed any account. */
  totals: ShardTotals | undefined
}

export function emptyBatchWrite(): BatchWrite {
  return {
    accounts: [],
    entries: [],
    idem: [],
    closedHolds: [],
    txns: [],
    burns: [],
    timersAdded: [],
    timersRemoved: [],
    idemRemoved: [],
    keyLog: undefined,
    keyLogsRemoved: [],
    quotas: [],
    totals: undefined,
  }
}

const pair = (a: string, b: string | number) => `${a}\u0000${b}`

export class WorkingSet {
  readonly #reader: StoreReader
  readonly #accounts = new Map<string, AccountState | undefined>()
  readonly #idem = new Map<string, IdemRecord | undefined>()
  readonly #closedHolds = new Map<string, ClosedHold | undefined>()
  readonly #txns = new Map<string, TxnRecord | undefined>()
  readonly #burns = new Map<string, BurnRecord | undefined>()
  readonly #newEntries = new Map<string, Entry[]>()
  readonly #dirtyAccounts = new Set<string>()
  /** Each account's figures as first read in this batch (undefined: it did not exist). */
  readonly #before = new Map<string, AccountFigures | undefined>()
  readonly write = emptyBatchWrite()

  constructor(reader: StoreReader) {
    this.#reader = reader
  }

  account(id: string): AccountState | undefined {
    if (!this.#accounts.has(id)) {
      const stored = this.#reader.getAccount(id)
      this.#accounts.set(id, stored)
      this.#before.set(id, stored === undefined ? undefined : figuresOf(stored))
    }
    return this.#accounts.get(id)
  }

  /** Marks an account as changed; it is written once at the end of the batch. */
  putAccount(account: AccountState) {
    assert(this.#before.has(account.id), 'an account is read before it is written')
    this.#accounts.set(account.id, account)
    this.#dirtyAccounts.add(account.id)
  }

  idem(account: string, key: string): IdemRecord | undefined {
    const id = pair(account, key)
    if (!this.#idem.has(id)) this.#idem.set(id, this.#reader.getIdem(account, key))
    return this.#idem.get(id)
  }

  putIdem(account: string, key: string, record: IdemRecord) {
    assert(this.idem(account, key) === undefined, 'an idempotency key is written once')
    this.#idem.set(pair(account, key), record)
    this.write.idem.push({ account, key, record })
  }

  closedHold(account: string, hold: number): ClosedHold | undefined {
    const id = pair(account, hold)
    if (!this.#closedHolds.has(id)) {
      this.#closedHolds.set(id, this.#reader.getClosedHold(account, hold))
    }
    return this.#closedHolds.get(id)
  }

  putClosedHold(account: string, hold: ClosedHold) {
    assert(this.closedHold(account, hold.id) === undefined, 'a hold closes once')
    this.#closedHolds.set(pair(account, hold.id), hold)
    this.write.closedHolds.push({ account, hold })
  }

  txn(account: string, ref: string): TxnRecord | undefined {
    const id = pair(account, ref)
    if (!this.#txns.has(id)) this.#txns.set(id, this.#reader.getTxn(account, ref))
    return this.#txns.get(id)
  }

  putTxn(account: string, txn: TxnRecord) {
    this.#txns.set(pair(account, txn.ref), txn)
    this.write.txns.push({ account, txn })
  }

  burn(account: string, ref: string): BurnRecord | undefined {
    const id = pair(account, ref)
    if (!this.#burns.has(id)) this.#burns.set(id, this.#reader.getBurn(account, ref))
    return this.#burns.get(id)
  }

  putBurn(account: string, burn: BurnRecord) {
    this.#burns.set(pair(account, burn.ref), burn)
    this.write.burns.push({ account, burn })
  }

  appendEntry(account: string, entry: Entry) {
    let list = this.#newEntries.get(account)
    if (list === undefined) this.#newEntries.set(account, (list = []))
    assert(list.length === 0 || list[list.length - 1]!.seq + 1 === entry.seq, 'entries are dense')
    list.push(entry)
    this.write.entries.push({ account, entry })
  }

  /** Entries below `before`, newest first, including those written by this batch. */
  entries(account: string, before: number, limit: number): Entry[] {
    const fresh = (this.#newEntries.get(account) ?? []).filter((e) => e.seq < before).reverse()
    const page = fresh.slice(0, limit)
    if (page.length === limit) return page
    const storedBefore = fresh.length > 0 ? fresh[fresh.length - 1]!.seq : before
    return page.concat(this.#reader.getEntries(account, storedBefore, limit - page.length))
  }

  /**
   * Seals the batch: each changed account's timer is set to when it next
   * falls due (`wakeAt`, see `rearm`), the changed accounts are added to the
   * write exactly once, and `totals` (the shard's totals before the batch)
   * brought up to date with their changes.
   *
   * One timer an account, not one a lot date, hold and review: most changes
   * write none, and the timer's sweep arms the next (see `expire`).
   */
  finish(now: number, totals?: ShardTotals): BatchWrite {
    const next = totals === undefined || this.#dirtyAccounts.size === 0 ? undefined : copyTotals(totals)
    for (const id of this.#dirtyAccounts) {
      const account = this.#accounts.get(id)!
      this.#rearm(account, now)
      this.write.accounts.push(account)
      if (next !== undefined) applyChange(next, this.#before.get(id), figuresOf(account))
    }
    this.write.totals = next
    this.#dirtyAccounts.clear()
    return this.write
  }

  /**
   * Points a changed account's timer at what falls due first:
   * - something due sooner than the stored timer (a hold, an earlier lot)
   *   gets a timer of its own; the later one is left to fire and find
   *   nothing, which costs a read, not a write;
   * - a stored timer that would now find nothing due (its hold was
   *   captured or voided, its lot spent) is moved to the next due, or
   *   removed. Left in place it would make the sweep read the account and
   *   write it again just to re-arm it: for a till's hold, a second write of
   *   the account 15 minutes after its capture. The account is written in
   *   this batch anyway, so moving the timer costs only the timer's records.
   * A timer already due (`wakeAt <= now`) is left to the sweep.
   */
  #rearm(account: AccountState, now: number) {
    const due = nextDue(account, now)
    const armed = account.wakeAt
    if (due !== undefined && (armed === undefined || due < armed)) {
      this.write.timersAdded.push({ dueAt: due, account: account.id })
      account.wakeAt = due
    } else if (armed !== undefined && armed > now && armed !== due) {
      this.write.timersRemoved.push({ dueAt: armed, account: account.id })
      if (due === undefined) delete account.wakeAt
      else {
        this.write.timersAdded.push({ dueAt: due, account: account.id })
        account.wakeAt = due
      }
    }
  }
}
