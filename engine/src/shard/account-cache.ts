/**
 * A bounded, least-recently-used cache of decoded accounts in front of a
 * shard's store. The shard is the only writer of its accounts, so the cache
 * is always current: batches mutate the cached objects, and if a batch fails
 * to commit, its accounts are dropped so the next read comes from disk.
 *
 * @module
 */
import type { StoreReader } from '../domain/batch.ts'
import type { AccountState } from '../domain/types.ts'
import type { ShardStore } from '../store/store.ts'

export class AccountCache implements StoreReader {
  readonly #store: ShardStore
  readonly #accounts = new Map<string, AccountState>()
  readonly #accountsMax: number

  constructor(store: ShardStore, accountsMax: number) {
    this.#store = store
    this.#accountsMax = accountsMax
  }

  /** The accounts among these that are not cached (worth a prefetch). */
  missing(ids: string[]): string[] {
    return ids.filter((id) => !this.#accounts.has(id))
  }

  getAccount(id: string): AccountState | undefined {
    const cached = this.#accounts.get(id)
    if (cached !== undefined) {
      // Re-insert to mark it most recently used (Maps iterate in insertion order).
      this.#accounts.delete(id)
      this.#accounts.set(id, cached)
      return cached
    }
    const stored = this.#store.getAccount(id)
    if (stored !== undefined) this.#remember(stored)
    return stored
  }

  /** After a commit: these are the current states. */
  committed(accounts: AccountState[]) {
    for (const account of accounts) this.#remember(account)
  }

  /** After a failed commit: these states were never written. */
  forget(accounts: AccountState[]) {
    for (const account of accounts) this.#accounts.delete(account.id)
  }

  clear() {
    this.#accounts.clear()
  }

  #remember(account: AccountState) {
    this.#accounts.delete(account.id)
    this.#accounts.set(account.id, account)
    if (this.#accounts.size > this.#accountsMax) {
      const oldest = this.#accounts.keys().next().value as string
      this.#accounts.delete(oldest)
    }
  }

  getIdem = (account: string, key: string) => this.#store.getIdem(account, key)
  getClosedHold = (account: string, hold: number) => this.#store.getClosedHold(account, hold)
  getTxn = (account: string, ref: string) => this.#store.getTxn(account, ref)
  getBurn = (account: string, ref: string) => this.#store.getBurn(account, ref)
  getEntries = (account: string, before: number, limit: number) =>
    this.#store.getEntries(account, before, limit)
}
