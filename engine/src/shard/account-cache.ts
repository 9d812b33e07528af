/**
 * What a shard reads through: a bounded cache of recently used decoded
 * accounts and a filter of the idempotency keys its store may hold, in front
 * of the store. The shard is the only writer of its accounts, so the cache
 * is always current: batches mutate the cached objects, and if a batch fails
 * to commit, its accounts are dropped so the next read comes from disk.
 *
 * @module
 */
import type { StoreReader } from '../domain/batch.ts'
import type { AccountState } from '../domain/types.ts'
import type { ShardStore } from '../store/store.ts'
import { KeyFilter } from './key-filter.ts'

export class AccountCache implements StoreReader {
  readonly #store: ShardStore
  /**
   * Two generations instead of a strict LRU list: an account used since the
   * last turnover is in `#young`; at turnover the old generation is dropped
   * and the young one takes its place. A hit costs one Map read (re-inserting
   * into an ordered Map on every access had cost 5% of a shard's time), and
   * the accounts kept are still the recently used ones.
   */
  #young = new Map<string, AccountState>()
  #old = new Map<string, AccountState>()
  readonly #generationMax: number

  /** Idempotency keys the store may hold; any other key is answered "not stored" without a read. */
  readonly keys: KeyFilter

  constructor(store: ShardStore, accountsMax: number, keys = new KeyFilter()) {
    this.#store = store
    this.keys = keys
    this.#generationMax = Math.max(1, Math.floor(accountsMax / 2))
  }

  /** The accounts among these that are not cached (worth a prefetch). */
  missing(ids: string[]): string[] {
    return ids.filter((id) => !this.#young.has(id) && !this.#old.has(id))
  }

  getAccount(id: string): AccountState | undefined {
    const young = this.#young.get(id)
    if (young !== undefined) return young
    const account = this.#old.get(id) ?? this.#store.getAccount(id)
    if (account !== undefined) this.#remember(account)
    return account
  }

  /** After a commit: these are the current states. */
  committed(accounts: AccountState[]) {
    for (const account of accounts) {
      if (this.#young.get(account.id) !== account) this.#remember(account)
    }
  }

  /** After a failed commit: these states were never written. */
  forget(accounts: AccountState[]) {
    for (const { id } of accounts) {
      this.#young.delete(id)
      this.#old.delete(id)
    }
  }

  clear() {
    this.#young.clear()
    this.#old.clear()
  }

  /** Accounts held (for tests). */
  get size(): number {
    let size = this.#young.size
    for (const id of this.#old.keys()) if (!this.#young.has(id)) size++
    return size
  }

  #remember(account: AccountState) {
    if (this.#young.size >= this.#generationMax) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(account.id, account)
  }

  getIdem = (account: string, key: string) =>
    this.keys.mayContain(account, key) ? this.#store.getIdem(account, key) : undefined
  getClosedHold = (account: string, hold: number) => this.#store.getClosedHold(account, hold)
  getTxn = (account: string, ref: string) => this.#store.getTxn(account, ref)
  getBurn = (account: string, ref: string) => this.#store.getBurn(account, ref)
  getEntries = (account: string, before: number, limit: number) =>
    this.#store.getEntries(account, before, limit)
}
