/**
 * A shard: the single thread of control over a set of accounts and their
 * store. Commands queue in a bounded mailbox and run in batches:
 *
 *   1. drain up to `batchMax` commands;
 *   2. prefetch the records they read (accounts, keys, purchases, holds);
 *   3. execute them in memory, synchronously, in arrival order (idempotency
 *      checked first, inside the ledger);
 *   4. write everything in one transaction;
 *   5. answer each command only once that transaction is durable, while the
 *      next batch is already executing.
 *
 * The same loop applies due expiries (timers) and prunes idempotency keys
 * older than the window, so all writes go through one path.
 *
 * @module
 */
import { AssertionError } from '../domain/assert.ts'
import { WorkingSet, type BatchWrite, type ReadPlan } from '../domain/batch.ts'
import assert from '../domain/assert.ts'
import { execute, planReads, type LedgerContext } from '../domain/ledger.ts'
import { totalsOf, type ShardTotals } from '../domain/totals.ts'
import type { QuotaLeases } from '../domain/membership.ts'
import type { CompiledRuleset } from '../rules/compile.ts'
import type { Command, LedgerConfig, Reply } from '../domain/types.ts'
import { ledgerConfigDefault } from '../domain/types.ts'
import { describeStorageError, type DueTimer, type ShardStore } from '../store/store.ts'
import { AccountCache } from './account-cache.ts'

export interface ShardLimits {
  /** Commands executed and committed together at most. */
  batchMax: number
  /** Commands waiting at most; past it `overloaded` is answered at once. */
  mailboxDepthMax: number
  /** Committed batches waiting for their flush at most, before execution pauses. */
  flushesPendingMax: number
  /** How often due timers and old idempotency keys are looked for. */
  sweepIntervalMs: number
  /** Timers handled per batch at most. */
  timersPerBatchMax: number
  /** Key-log records pruned per batch at most. */
  keyLogsPerBatchMax: number
  /**
   * Decoded accounts kept in memory at most. The cache keeps two generations
   * of half this each, so it holds between half and all of it. Small on
   * purpose: a miss costs an LMDB read of a memory-mapped page and a decode
   * (a few µs), while every account kept is live heap that each major GC
   * marks. With 1,000,000 accounts, 400,000 a shard made the enrolled
   * import 84 s and 169 s of CPU against 66 s and 131 s with 20,000, and
   * the engine benchmark 8 to 12% slower.
   */
  cachedAccountsMax: number
}

export const shardLimitsDefault: ShardLimits = {
  batchMax: 4096,
  mailboxDepthMax: 65_536,
  flushesPendingMax: 2,
  sweepIntervalMs: 1000,
  timersPerBatchMax: 1024,
  keyLogsPerBatchMax: 64,
  cachedAccountsMax: 20_000,
}

/**
 * Asks the engine for at least `wanted` more units of a campaign's global
 * quota (it may grant more, or fewer when the quota runs out); resolves with
 * the units granted.
 */
export type LeaseRequest = (quotaKey: string, quota: number, wanted: number) => Promise<number>

export interface ShardOptions {
  store: ShardStore
  clock?: () => number
  /** The ruleset active when the shard opens. */
  rules?: CompiledRuleset
  /** Where quota leases come from; without it campaigns with a quota never apply. */
  requestLease?: LeaseRequest
  config?: Partial<LedgerConfig>
  limits?: Partial<ShardLimits>
  /** Called on a programmer error (failed assertion); the default rethrows. */
  onFatal?: (error: unknown) => void
}

interface Pending {
  command: Command
  resolve: (reply: Reply) => void
}

export class Shard {
  readonly #store: ShardStore
  readonly #cache: AccountCache
  readonly #clock: () => number
  readonly #config: LedgerConfig
  readonly #limits: ShardLimits
  readonly #onFatal: (error: unknown) => void
  #mailbox: Pending[] = []
  #running = false
  #closing = false
  #sweepDue = true
  #flushesPending = 0
  #lastDurable: Promise<unknown> = Promise.resolve()
  #rules: CompiledRuleset | undefined
  /** A newer ruleset, switched to at the next batch boundary. */
  #rulesNext: CompiledRuleset | undefined
  readonly #leases: QuotaBook
  readonly #requestLease: LeaseRequest | undefined
  #idle: Promise<void> = Promise.resolve()
  /** As of the last committed batch. */
  #totals: ShardTotals
  readonly #sweepTimer: NodeJS.Timeout

  constructor(options: ShardOptions) {
    this.#store = options.store
    this.#clock = options.clock ?? Date.now
    this.#config = { ...ledgerConfigDefault, ...options.config }
    this.#limits = { ...shardLimitsDefault, ...options.limits }
    this.#cache = new AccountCache(this.#store, this.#limits.cachedAccountsMax)
    for (const log of this.#store.keyLogs()) {
      for (const [account, key] of log.keys) this.#cache.keys.add(account, key, log.at)
    }
    this.#rules = options.rules
    this.#requestLease = options.requestLease
    this.#leases = new QuotaBook(this.#store.quotaLeases())
    // A store written before totals existed has them counted once, and written with the next batch.
    this.#totals = this.#store.totals() ?? totalsOf(this.#store.scanAccounts())
    this.#onFatal =
      options.onFatal ??
      ((error) => {
        throw error
      })
    this.#sweepTimer = setInterval(() => this.requestSweep(), this.#limits.sweepIntervalMs)
    this.#sweepTimer.unref()
    this.#wake()
  }

  /**
   * Queues a validated command; resolves with its reply once durable.
   *
   * @example
   *   const reply = await shard.submit({ op: 'earn', account: 'a1', key: 'k1', points: 100 })
   */
  submit(command: Command): Promise<Reply> {
    if (this.#closing) {
      return Promise.resolve({ status: 'unavailable', message: 'the shard is shutting down' })
    }
    if (this.#mailbox.length >= this.#limits.mailboxDepthMax) {
      return Promise.resolve({
        status: 'overloaded',
        message: `the shard mailbox holds ${this.#limits.mailboxDepthMax} commands (mailboxDepthMax)`,
      })
    }
    return new Promise((resolve) => {
      this.#mailbox.push({ command, resolve })
      this.#wake()
    })
  }

  /**
   * Switches to a new ruleset at the next batch boundary: commands already
   * executing finish under the old one, every later one runs under the new.
   */
  setRules(rules: CompiledRuleset) {
    this.#rulesNext = rules
  }

  /** Accounts, points and tiers of this shard, as of the last committed batch. */
  totals(): ShardTotals {
    return this.#totals
  }

  /** Looks for due timers and prunable keys at the next batch. */
  requestSweep() {
    this.#sweepDue = true
    this.#wake()
  }

  /** Stops taking commands, finishes what is queued and waits until it is durable. */
  async close(): Promise<void> {
    this.#closing = true
    clearInterval(this.#sweepTimer)
    await this.#idle
    await this.#lastDurable
  }

  #wake() {
    if (this.#running) return
    if (this.#mailbox.length === 0 && !(this.#sweepDue && !this.#closing)) return
    this.#running = true
    this.#idle = new Promise((done) => setImmediate(() => this.#runLoop().finally(done)))
  }

  async #runLoop() {
    let batch: Pending[] = []
    try {
      while (this.#mailbox.length > 0 || (this.#sweepDue && !this.#closing)) {
        batch = this.#takeBatch()
        await this.#runBatch(batch)
      }
    } catch (error) {
      // The batch that failed (in its prefetch, lease requests or execution) is answered too.
      answerUnavailable(batch, error)
      this.#failAll(error)
      this.#onFatal(error)
    } finally {
      this.#running = false
    }
  }

  #takeBatch(): Pending[] {
    if (this.#mailbox.length <= this.#limits.batchMax) {
      const batch = this.#mailbox
      this.#mailbox = []
      return batch
    }
    return this.#mailbox.splice(0, this.#limits.batchMax)
  }

  async #runBatch(batch: Pending[]) {
    if (this.#rulesNext !== undefined) {
      this.#rules = this.#rulesNext
      this.#rulesNext = undefined
      this.#leases.forgetExhausted()
    }
    // Due timers are listed before the prefetch, so the accounts they wake are warmed with the batch's.
    const timers = this.#sweepDue ? this.#store.dueTimers(this.#clock(), this.#limits.timersPerBatchMax) : undefined
    await this.#store.prefetch(this.#planReads(batch, timers ?? []))
    const now = this.#clock()
    await this.#ensureLeases(batch, now)
    const ws = new WorkingSet(this.#cache)
    const ctx = this.#context(ws, now)
    let replies: Reply[]
    let write: BatchWrite
    /** Set when this batch prunes every key at or before it: the filter may then forget them. */
    let prunedThrough: number | undefined
    try {
      replies = batch.map((p) => execute(ctx, p.command))
      if (timers !== undefined) prunedThrough = this.#sweep(ws, now, timers)
      write = ws.finish(now, this.#totals)
    } catch (error) {
      // A programmer error: nothing of this batch is written; it crashes the shard (the loop answers the batch).
      this.#cache.clear()
      throw error
    }
    if (write.idem.length > 0) {
      write.keyLog = { at: now, keys: write.idem.map((i) => [i.account, i.key]) }
      // Before the commit: a key of a failed commit stays in the filter, which only costs a read.
      for (const { account, key } of write.idem) this.#cache.keys.add(account, key, now)
    }
    write.quotas = this.#leases.takeChanges()
    await this.#commit(batch, replies, write, prunedThrough)
  }

  #context(ws: WorkingSet, now: number): LedgerContext {
    return { ws, now, config: this.#config, rules: this.#rules, quotas: this.#leases }
  }

  /**
   * Before a batch with purchases runs, every live campaign quota this shard
   * has run out of is topped up from the engine (a round trip to the main
   * thread, once per chunk), so the first purchases after a campaign starts
   * are not refused for want of a lease.
   */
  async #ensureLeases(batch: Pending[], now: number) {
    const rules = this.#rules
    if (rules === undefined || this.#requestLease === undefined) return
    let purchases = 0
    for (const p of batch) if (p.command.op === 'purchase') purchases++
    if (purchases === 0) return
    // Each purchase takes at most one unit of each campaign.
    const wanted: [string, number, number][] = []
    for (const program of rules.programs.values()) {
      if (!program.hasQuotas) continue
      for (const c of program.campaigns) {
        if (c.quota === undefined || now < c.from || now >= c.to) continue
        const short = purchases - this.#leases.left(c.quotaKey)
        if (short > 0 && !this.#leases.isExhausted(c.quotaKey)) wanted.push([c.quotaKey, c.quota, short])
      }
    }
    await Promise.all(
      wanted.map(async ([key, quota, short]) => {
        this.#leases.grant(key, await this.#requestLease!(key, quota, short))
      }),
    )
  }

  #planReads(batch: Pending[], timers: DueTimer[]): ReadPlan {
    const plan: ReadPlan = { accounts: [], idem: [], txns: [], burns: [], holds: [] }
    const accounts = new Set<string>()
    for (const { command } of batch) {
      accounts.add(command.account)
      planReads(plan, command)
    }
    for (const timer of timers) accounts.add(timer.account)
    plan.accounts = this.#cache.missing([...accounts])
    plan.idem = plan.idem.filter(([account, key]) => this.#cache.keys.mayContain(account, key))
    return plan
  }

  async #commit(batch: Pending[], replies: Reply[], write: BatchWrite, prunedThrough: number | undefined) {
    const handle = this.#store.commit(write)
    try {
      await handle.committed
    } catch (error) {
      this.#cache.forget(write.accounts)
      this.#leases.reset(this.#store.quotaLeases())
      answerUnavailable(batch, error)
      return
    }
    this.#cache.committed(write.accounts)
    if (prunedThrough !== undefined) this.#cache.keys.dropThrough(prunedThrough)
    if (write.totals !== undefined) this.#totals = write.totals
    this.#flushesPending += 1
    const answered = Promise.all([this.#lastDurable, handle.durable]).then(
      () => batch.forEach((p, i) => p.resolve(replies[i]!)),
      (error) => answerUnavailable(batch, error),
    )
    this.#lastDurable = answered.finally(() => (this.#flushesPending -= 1))
    if (this.#flushesPending >= this.#limits.flushesPendingMax) await this.#lastDurable
  }

  /**
   * Adds due expiries and idempotency pruning to the batch being formed.
   * Returns the time through which every key is pruned once the batch
   * commits, when it prunes all that is due.
   */
  #sweep(ws: WorkingSet, now: number, timers: DueTimer[]): number | undefined {
    const ctx = this.#context(ws, now)
    for (const account of new Set(timers.map((t) => t.account))) {
      execute(ctx, { op: 'expire', account })
    }
    ws.write.timersRemoved.push(...timers)
    const cutoff = now - this.#config.idempotencyWindowMs
    const logs = this.#store.expiredKeyLogs(cutoff, this.#limits.keyLogsPerBatchMax)
    for (const log of logs) {
      for (const [account, key] of log.keys) ws.write.idemRemoved.push({ account, key })
      ws.write.keyLogsRemoved.push(log.id)
    }
    const more =
      timers.length === this.#limits.timersPerBatchMax ||
      logs.length === this.#limits.keyLogsPerBatchMax
    this.#sweepDue = more
    return logs.length < this.#limits.keyLogsPerBatchMax ? cutoff : undefined
  }

  #failAll(error: unknown) {
    const queued = this.#mailbox
    this.#mailbox = []
    answerUnavailable(queued, error)
  }
}

/**
 * The shard's quota leases: units of each campaign's global quota it may
 * grant. Units taken in a batch are written with that batch; units granted by
 * the engine are written with the next one (if the shard dies first they are
 * lost: a quota may be under-granted by a chunk, never over-granted).
 */
class QuotaBook implements QuotaLeases {
  #units: Map<string, number>
  readonly #changed = new Set<string>()
  readonly #exhausted = new Set<string>()

  constructor(units: Map<string, number>) {
    this.#units = units
  }

  left(key: string): number {
    return this.#units.get(key) ?? 0
  }

  take(key: string) {
    const units = this.left(key)
    assert(units > 0, `no quota left to take for ${key}`)
    this.#units.set(key, units - 1)
    this.#changed.add(key)
  }

  grant(key: string, units: number) {
    if (units === 0) this.#exhausted.add(key)
    else {
      this.#units.set(key, this.left(key) + units)
      this.#changed.add(key)
    }
  }

  isExhausted(key: string): boolean {
    return this.#exhausted.has(key)
  }

  /** A new ruleset may raise a quota: ask again. */
  forgetExhausted() {
    this.#exhausted.clear()
  }

  takeChanges(): [string, number][] {
    const changes = [...this.#changed].map((key): [string, number] => [key, this.left(key)])
    this.#changed.clear()
    return changes
  }

  /** After a failed commit: back to what is stored. */
  reset(stored: Map<string, number>) {
    this.#units = stored
    this.#changed.clear()
  }
}

function answerUnavailable(batch: Pending[], error: unknown) {
  const message =
    error instanceof AssertionError ? `internal error: ${error.message}` : describeStorageError(error)
  for (const p of batch) p.resolve({ status: 'unavailable', message })
}
