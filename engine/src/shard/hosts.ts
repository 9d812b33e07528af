/**
 * Where shards run. `LocalHost` runs them on the calling thread (tests, fake
 * clocks); `WorkerHost` runs a set of them on a worker thread and supervises
 * it: if the thread dies, every command in flight is answered `unavailable`
 * (nothing unacknowledged is half-applied, so a retry with the same key is
 * safe) and the thread is started again on the same shards.
 *
 * @module
 */
import { Worker } from 'node:worker_threads'
import type { Command, LedgerConfig, Reply } from '../domain/types.ts'
import { compileRuleset } from '../rules/compile.ts'
import type { RulesetDoc } from '../rules/types.ts'
import type { Logger } from '../logger.ts'
import type { FromWorker, ToWorker } from './protocol.ts'
import type { ShardStore } from '../store/store.ts'
import type { Shard, ShardLimits } from './shard.ts'
import type { ShardTotals } from '../domain/totals.ts'

export interface ShardHost {
  submit(shard: number, command: Command): Promise<Reply>
  /** A shard's accounts, points and tiers, as of its last committed batch. */
  totals(shard: number): Promise<ShardTotals>
  /** Hands a ruleset version to every shard; resolves once each has it queued for its next batch. */
  setRules(version: number, doc: RulesetDoc): Promise<void>
  close(): Promise<void>
}

export class LocalHost implements ShardHost {
  constructor(private readonly shards: Map<number, { shard: Shard; store: ShardStore }>) {}

  submit(shard: number, command: Command): Promise<Reply> {
    return this.shards.get(shard)!.shard.submit(command)
  }

  async totals(shard: number): Promise<ShardTotals> {
    return this.shards.get(shard)!.shard.totals()
  }

  async setRules(version: number, doc: RulesetDoc): Promise<void> {
    const rules = compileRuleset(doc, version)
    for (const { shard } of this.shards.values()) shard.setRules(rules)
  }

  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map(({ shard }) => shard.close()))
    await Promise.all([...this.shards.values()].map(({ store }) => store.close()))
  }
}

export interface WorkerHostOptions {
  shards: { index: number; path: string }[]
  config: Partial<LedgerConfig>
  limits: Partial<ShardLimits>
  noSync: boolean
  logger: Logger
  /** The ruleset the worker starts with (and restarts with). */
  rules: { version: number; doc: RulesetDoc } | undefined
  lease: (quotaKey: string, quota: number, wanted: number) => Promise<number>
}

/** From source, a small entry registers the TypeScript loader first; built, the worker is plain JS. */
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url)
const restartDelayMsMax = 5000
/**
 * A shard keeps every command of a batch, its records and its reply alive
 * until the batch is flushed, so with V8's default young generation (16 MB
 * semi-spaces) most of them survive a scavenge or two and are copied, then
 * promoted. Three times the 64 MB semi-space lets them die young: on the
 * engine benchmark the CPU per command fell by about 15% (GC had been 28% of
 * the shard's time).
 */
const youngGenerationMb = 192
/** How long a worker may take to drain and close before it is terminated. */
const closeTimeoutMs = 10_000

export class WorkerHost implements ShardHost {
  readonly #options: WorkerHostOptions
  #worker!: Worker
  #ready!: Promise<void>
  #pending = new Map<number, (reply: Reply) => void>()
  #outgoing: (number | Command)[] = []
  #flushScheduled = false
  #nextId = 1
  #closing = false
  /** False between the thread's death and its restart: commands are refused, not queued. */
  #alive = false
  #restartDelayMs = 100
  /** The pending restart of a dead thread (cancelled by close). */
  #restart: NodeJS.Timeout | undefined
  #closed: (() => void) | undefined
  #rulesWaiting = new Map<number, () => void>()
  #totalsWaiting = new Map<number, (totals: ShardTotals | undefined) => void>()

  constructor(options: WorkerHostOptions) {
    this.#options = options
    this.#start()
  }

  /** Resolves once the worker has opened its stores; rejects if it could not. */
  get ready(): Promise<void> {
    return this.#ready
  }

  #start() {
    this.#worker = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb } })
    this.#alive = true
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          this.#restartDelayMs = 100
          resolve()
          this.#flush()
        } else if (message.type === 'failed') this.#failed(message.message, reject)
        else if (message.type === 'replies') this.#answer(message.items)
        else if (message.type === 'rulesSet') this.#rulesSet(message.version)
        else if (message.type === 'lease') this.#lease(message.id, message.quotaKey, message.quota, message.wanted)
        else if (message.type === 'totals') this.#totalsAnswered(message.id, message.totals)
        else this.#closed?.()
      })
      this.#worker.on('error', (error: Error) => {
        reject(error)
        this.#options.logger.error(`shard worker failed: ${error.stack ?? error.message}`)
      })
      this.#worker.on('exit', (code) => this.#exited(code))
    })
    this.#ready.catch(() => {})
    const { shards, config, limits, noSync, rules } = this.#options
    this.#worker.postMessage({ type: 'init', shards, config, limits, noSync, rules } satisfies ToWorker)
  }

  /**
   * The thread could not open its stores: it is of no use (it would answer
   * that its shards are not on it), so it is ended and, unless the host is
   * closing (a failed open), started again like one that died.
   */
  #failed(message: string, reject: (error: Error) => void) {
    const shards = this.#options.shards.map((s) => s.index).join(', ')
    this.#options.logger.error(`shard worker for shards ${shards} could not open its stores: ${message}`)
    reject(new Error(message))
    void this.#worker.terminate()
  }

  #exited(code: number) {
    this.#alive = false
    // Its successor starts with the newest ruleset, so nobody waits for this one.
    for (const resolve of this.#rulesWaiting.values()) resolve()
    this.#rulesWaiting.clear()
    for (const resolve of this.#totalsWaiting.values()) resolve(undefined)
    this.#totalsWaiting.clear()
    const lost = this.#pending
    this.#pending = new Map()
    this.#outgoing = []
    for (const resolve of lost.values()) {
      resolve({ status: 'unavailable', message: 'the shard worker stopped; retry with the same key' })
    }
    if (this.#closing) return
    const shards = this.#options.shards.map((s) => s.index).join(', ')
    this.#options.logger.warn(`shard worker for shards ${shards} exited (${code}); restarting`)
    this.#restart = setTimeout(() => this.#start(), this.#restartDelayMs).unref()
    this.#restartDelayMs = Math.min(this.#restartDelayMs * 2, restartDelayMsMax)
  }

  submit(shard: number, command: Command): Promise<Reply> {
    if (this.#closing) {
      return Promise.resolve({ status: 'unavailable', message: 'the engine is shutting down' })
    }
    if (!this.#alive) {
      return Promise.resolve({ status: 'unavailable', message: 'the shard worker is restarting' })
    }
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      this.#outgoing.push(id, shard, command)
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  async setRules(version: number, doc: RulesetDoc): Promise<void> {
    // A worker that restarts later starts with this version.
    this.#options.rules = { version, doc }
    if (!this.#alive || this.#closing) return
    const set = new Promise<void>((resolve) => this.#rulesWaiting.set(version, resolve))
    this.#worker.postMessage({ type: 'rules', version, doc } satisfies ToWorker)
    await set
  }

  async totals(shard: number): Promise<ShardTotals> {
    if (!this.#alive || this.#closing) throw new Error(`shard ${shard} is unavailable (its worker is restarting or closing)`)
    const id = this.#nextId++
    const answered = new Promise<ShardTotals | undefined>((resolve) => this.#totalsWaiting.set(id, resolve))
    this.#worker.postMessage({ type: 'totals', id, shard } satisfies ToWorker)
    const totals = await answered
    if (totals === undefined) throw new Error(`shard ${shard} did not answer with its totals`)
    return totals
  }

  #totalsAnswered(id: number, totals: ShardTotals | undefined) {
    this.#totalsWaiting.get(id)?.(totals)
    this.#totalsWaiting.delete(id)
  }

  #rulesSet(version: number) {
    this.#rulesWaiting.get(version)?.()
    this.#rulesWaiting.delete(version)
  }

  #lease(id: number, quotaKey: string, quota: number, wanted: number) {
    const worker = this.#worker
    const answer = (units: number) => {
      if (worker === this.#worker && this.#alive) {
        worker.postMessage({ type: 'leaseGranted', id, units } satisfies ToWorker)
      }
    }
    this.#options.lease(quotaKey, quota, wanted).then(answer, (error: unknown) => {
      this.#options.logger.error(`quota lease for ${quotaKey} failed: ${String(error)}`)
      answer(0)
    })
  }

  #flush() {
    this.#flushScheduled = false
    if (this.#outgoing.length === 0 || !this.#alive) return
    const items = this.#outgoing
    this.#outgoing = []
    this.#worker.postMessage({ type: 'commands', items } satisfies ToWorker)
  }

  #answer(items: (number | Reply)[]) {
    for (let i = 0; i < items.length; i += 2) {
      const id = items[i] as number
      const resolve = this.#pending.get(id)
      if (resolve === undefined) continue
      this.#pending.delete(id)
      resolve(items[i + 1] as Reply)
    }
  }

  async close(): Promise<void> {
    this.#closing = true
    // A dead thread has nothing in flight (its commands were answered when it
    // exited) and is not waited for: it is not started again.
    clearTimeout(this.#restart)
    if (!this.#alive) return
    this.#flush()
    await this.#ready.catch(() => {})
    const closed = new Promise<void>((resolve) => (this.#closed = resolve))
    this.#worker.postMessage({ type: 'close' } satisfies ToWorker)
    const exited = new Promise((r) => this.#worker.once('exit', r))
    const stuck = new Promise((r) => setTimeout(r, closeTimeoutMs).unref())
    await Promise.race([closed, exited, stuck])
    await this.#worker.terminate()
  }
}
