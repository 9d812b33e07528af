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
import { execute, planReads } from '../domain/ledger.ts'
import type { Command, LedgerConfig, Reply } from '../domain/types.ts'
import { ledgerConfigDefault } from '../domain/types.ts'
import { describeStorageError, type ShardStore } from '../store/store.ts'
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
  /** Decoded accounts kept in memory at most. */
  cachedAccountsMax: number
}

export const shardLimitsDefault: ShardLimits = {
  batchMax: 4096,
  mailboxDepthMax: 65_536,
  flushesPendingMax: 2,
  sweepIntervalMs: 1000,
  timersPerBatchMax: 1024,
  keyLogsPerBatchMax: 64,
  cachedAccountsMax: 200_000,
}

export interface ShardOptions {
  store: ShardStore
  clock?: () => number
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
  #idle: Promise<void> = Promise.resolve()
  readonly #sweepTimer: NodeJS.Timeout

  constructor(options: ShardOptions) {
    this.#store = options.store
    this.#clock = options.clock ?? Date.now
    this.#config = { ...ledgerConfigDefault, ...options.config }
    this.#limits = { ...shardLimitsDefault, ...options.limits }
    this.#cache = new AccountCache(this.#store, this.#limits.cachedAccountsMax)
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
    try {
      while (this.#mailbox.length > 0 || (this.#sweepDue && !this.#closing)) {
        await this.#runBatch(this.#takeBatch())
      }
    } catch (error) {
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
    await this.#store.prefetch(this.#planReads(batch))
    const now = this.#clock()
    const ws = new WorkingSet(this.#cache)
    const ctx = { ws, now, config: this.#config }
    let replies: Reply[]
    let write: BatchWrite
    try {
      replies = batch.map((p) => execute(ctx, p.command))
      if (this.#sweepDue) this.#sweep(ws, now)
      write = ws.finish()
    } catch (error) {
      // A programmer error: nothing of this batch is written; it crashes the shard.
      this.#cache.clear()
      answerUnavailable(batch, error)
      throw error
    }
    if (write.idem.length > 0) {
      write.keyLog = { at: now, keys: write.idem.map((i) => [i.account, i.key]) }
    }
    await this.#commit(batch, replies, write)
  }

  #planReads(batch: Pending[]): ReadPlan {
    const plan: ReadPlan = { accounts: [], idem: [], txns: [], holds: [] }
    const accounts = new Set<string>()
    for (const { command } of batch) {
      accounts.add(command.account)
      planReads(plan, command)
    }
    plan.accounts = this.#cache.missing([...accounts])
    return plan
  }

  async #commit(batch: Pending[], replies: Reply[], write: BatchWrite) {
    const handle = this.#store.commit(write)
    try {
      await handle.committed
    } catch (error) {
      this.#cache.forget(write.accounts)
      answerUnavailable(batch, error)
      return
    }
    this.#cache.committed(write.accounts)
    this.#flushesPending += 1
    const answered = Promise.all([this.#lastDurable, handle.durable]).then(
      () => batch.forEach((p, i) => p.resolve(replies[i]!)),
      (error) => answerUnavailable(batch, error),
    )
    this.#lastDurable = answered.finally(() => (this.#flushesPending -= 1))
    if (this.#flushesPending >= this.#limits.flushesPendingMax) await this.#lastDurable
  }

  /** Adds due expiries and idempotency pruning to the batch being formed. */
  #sweep(ws: WorkingSet, now: number) {
    const timers = this.#store.dueTimers(now, this.#limits.timersPerBatchMax)
    const ctx = { ws, now, config: this.#config }
    for (const account of new Set(timers.map((t) => t.account))) {
      execute(ctx, { op: 'expire', account })
    }
    ws.write.timersRemoved.push(...timers)
    const logs = this.#store.expiredKeyLogs(
      now - this.#config.idempotencyWindowMs,
      this.#limits.keyLogsPerBatchMax,
    )
    for (const log of logs) {
      for (const [account, key] of log.keys) ws.write.idemRemoved.push({ account, key })
      ws.write.keyLogsRemoved.push(log.id)
    }
    const more =
      timers.length === this.#limits.timersPerBatchMax ||
      logs.length === this.#limits.keyLogsPerBatchMax
    this.#sweepDue = more
  }

  #failAll(error: unknown) {
    const queued = this.#mailbox
    this.#mailbox = []
    answerUnavailable(queued, error)
  }
}

function answerUnavailable(batch: Pending[], error: unknown) {
  const message =
    error instanceof AssertionError ? `internal error: ${error.message}` : describeStorageError(error)
  for (const p of batch) p.resolve({ status: 'unavailable', message })
}
