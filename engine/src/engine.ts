/**
 * The engine: opens a data folder, starts its shards (on worker threads by
 * default), and routes each command to the shard that owns its account.
 * Validation happens here, at the edge, before anything crosses a thread.
 *
 * @module
 */
import { availableParallelism } from 'node:os'
import { mkdirSync } from 'node:fs'
import type { CaptureCommand, Command, EnrollCommand, HeldLot, LedgerCommand, LedgerConfig, LotTerms, MoveCommand, RefundCommand, Reply, ReverseCommand, VoidCommand } from './domain/types.ts'
import { sumTotals, type ShardTotals } from './domain/totals.ts'
import { LiveMetrics, type LiveSample } from './metrics.ts'
import { validateCommand } from './domain/validate.ts'
import { isMovingRefusal } from './domain/ledger.ts'
import { ledgerConfigDefault } from './domain/types.ts'
import { lockDataDir, openDataDir, registryPath, shardPath } from './data-dir.ts'
import type { CredentialStore } from './registry/credentials.ts'
import type { IdentifierType, Member, MemberRegistry } from './registry/members.ts'
import { cardTypes } from './registry/card-types.ts'
import { openRegistry, type Registry } from './registry/registry.ts'
import { compileRuleset } from './rules/compile.ts'
import { RulesService, type EngineRules } from './rules-service.ts'
import { Sagas, type TransferLimits } from './sagas.ts'
import { stderrLogger, type Logger } from './logger.ts'
import { LocalHost, WorkerHost, type ShardHost } from './shard/hosts.ts'
import { Shard, shardLimitsDefault, type ShardLimits } from './shard/shard.ts'
import { shardOf } from './shard-of.ts'
import { LmdbStore } from './store/lmdb-store.ts'
import { MemoryStore } from './store/memory-store.ts'
import { StorageError, type ShardStore } from './store/store.ts'

export interface EngineOptions {
  /** The data folder; created with `shards` shards when missing or empty. */
  dataDir?: string
  /** Shard count for a new data folder (default 4); must match an existing one if given. */
  shards?: number
  /** Worker threads; 0 runs shards on the calling thread. Default: min(shards, cores). */
  workers?: number
  /** `memory` keeps nothing (tests); it runs in-process only. Default `lmdb`. */
  storage?: 'lmdb' | 'memory'
  /** In-process only: the clock shards read. */
  clock?: () => number
  config?: Partial<LedgerConfig>
  limits?: Partial<ShardLimits>
  /** Skips fsync (throwaway benchmarks only); `durable` reports false. */
  noSync?: boolean
  logger?: Logger
  /** Limits on member-to-member transfers. */
  transferLimits?: Partial<TransferLimits>
}

export interface EngineStats {
  submitted: number
  answered: number
  inFlight: number
  overloaded: number
}

export interface Engine {
  /** Ruleset versions (publish, activate, preview) and campaign quota leases. */
  readonly rules: EngineRules
  /** Terminals, API tokens and console users (main thread only). */
  readonly credentials: CredentialStore
  /** Members, identifiers, search and the audit log (writes on the main thread only). */
  readonly members: MemberRegistry
  /** Point transfers between accounts as durable sagas (across shards, exactly once). */
  readonly sagas: Sagas
  readonly shards: number
  readonly workers: number
  /** True when every reply waits for its batch to be flushed to disk. */
  readonly durable: boolean
  /**
   * Validates untrusted input and runs it.
   *
   * @example
   *   const reply = await engine.execute({ op: 'earn', account: 'm1', key: 'pos-17-0042', points: 120 })
   */
  execute(input: unknown): Promise<Reply>
  /** Runs an already validated command. */
  submit(command: Command): Promise<Reply>
  stats(): EngineStats
  /**
   * Accounts, points earned, burned, expired and outstanding, and accounts
   * per tier, summed over the shards as of their last committed batches.
   */
  totals(): Promise<ShardTotals>
  /** Commands answered per second, with their p50 and p99 latency, for the last minute. */
  live(seconds?: number): LiveSample[]
  /** Stops taking commands, answers those in flight, flushes and closes the stores. */
  close(): Promise<void>
}

export async function openEngine(options: EngineOptions = {}): Promise<Engine> {
  const storage = options.storage ?? 'lmdb'
  const limits = { ...shardLimitsDefault, ...options.limits }
  const clock = options.clock ?? Date.now
  let shardCount: number
  let host: ShardHost
  let workers: number
  let rules: RulesService
  let registry: Registry
  /** Releases the data folder's lock (once everything in it is closed). */
  let unlock = () => {}
  if (storage === 'memory') {
    shardCount = options.shards ?? 4
    workers = 0
    registry = openRegistry(undefined, clock)
    rules = new RulesService(registry.rules, shardCount, clock)
    host = await localHost(shardCount, () => new MemoryStore(), options, rules)
  } else {
    if (options.dataDir === undefined) throw new Error('dataDir is required for lmdb storage')
    shardCount = openDataDir(options.dataDir, { shards: options.shards }).shards
    unlock = lockDataDir(options.dataDir)
    workers = Math.min(shardCount, options.workers ?? Math.max(1, availableParallelism()))
    try {
      registry = openRegistry(registryPath(options.dataDir), clock)
    } catch (error) {
      unlock()
      throw new StorageError(`cannot open ${registryPath(options.dataDir)}: ${(error as Error).message}`)
    }
    rules = new RulesService(registry.rules, shardCount, clock)
    try {
      host = await lmdbHost(options.dataDir, shardCount, workers, options, rules)
    } catch (error) {
      await registry.close()
      unlock()
      throw error
    }
  }
  const durable = !(options.noSync ?? false)
  const router = new Router(host, rules, registry, shardCount, workers, limits.mailboxDepthMax, durable, {
    clock,
    keyWindowMs: options.config?.idempotencyWindowMs ?? ledgerConfigDefault.idempotencyWindowMs,
    logger: options.logger ?? stderrLogger,
    ...(options.transferLimits === undefined ? {} : { transferLimits: options.transferLimits }),
    unlock,
  })
  rules.connect((version, doc) => host.setRules(version, doc), () => router.totals())
  await router.sagas.resume()
  return router
}

async function localHost(
  shards: number,
  store: (index: number) => ShardStore,
  options: EngineOptions,
  rulesService: RulesService,
): Promise<LocalHost> {
  const start = rulesService.activeForStart()
  const rules = start === undefined ? undefined : compileRuleset(start.doc, start.version)
  const map = new Map<number, { shard: Shard; store: ShardStore }>()
  try {
    for (let index = 0; index < shards; index++) {
      const shardStore = store(index)
      const shard = new Shard({
        store: shardStore,
        clock: options.clock,
        config: options.config,
        limits: options.limits,
        rules,
        requestLease: (key, quota, wanted) => rulesService.lease(key, quota, wanted),
      })
      map.set(index, { shard, store: shardStore })
    }
  } catch (error) {
    // The shards opened before the one that failed are closed, not left holding their files.
    await new LocalHost(map).close()
    throw error
  }
  return new LocalHost(map)
}

async function lmdbHost(
  dataDir: string,
  shards: number,
  workers: number,
  options: EngineOptions,
  rules: RulesService,
): Promise<ShardHost> {
  const paths = Array.from({ length: shards }, (_, index) => {
    const path = shardPath(dataDir, index)
    mkdirSync(path, { recursive: true })
    return { index, path }
  })
  const noSync = options.noSync ?? false
  if (workers === 0) {
    return localHost(shards, (index) => new LmdbStore({ path: paths[index]!.path, noSync }), options, rules)
  }
  const hosts = Array.from({ length: workers }, (_, w) => new WorkerHost({
    shards: paths.filter((p) => p.index % workers === w),
    config: options.config ?? {},
    limits: options.limits ?? {},
    noSync,
    logger: options.logger ?? stderrLogger,
    rules: rules.activeForStart(),
    lease: (key, quota, wanted) => rules.lease(key, quota, wanted),
  }))
  try {
    await Promise.all(hosts.map((h) => h.ready))
  } catch (error) {
    await Promise.all(hosts.map((h) => h.close().catch(() => {})))
    throw error
  }
  return {
    submit: (shard, command) => hosts[shard % workers]!.submit(shard, command),
    totals: (shard) => hosts[shard % workers]!.totals(shard),
    setRules: async (version, doc) => void (await Promise.all(hosts.map((h) => h.setRules(version, doc)))),
    close: async () => void (await Promise.all(hosts.map((h) => h.close()))),
  }
}

class Router implements Engine {
  readonly #host: ShardHost
  readonly #rules: RulesService
  readonly #registry: Registry
  readonly sagas: Sagas
  readonly #inFlight: Int32Array
  readonly #mailboxDepthMax: number
  readonly #stats: EngineStats = { submitted: 0, answered: 0, inFlight: 0, overloaded: 0 }
  readonly #live: LiveMetrics
  #closing = false
  readonly #clock: () => number
  /** How long the shards keep idempotency keys. */
  readonly #keyWindowMs: number
  /** Captures and voids by members with households left, in flight, by member and key. */
  readonly #settlingHolds = new Map<string, Promise<Reply>>()
  readonly #unlock: () => void

  constructor(
    host: ShardHost,
    rules: RulesService,
    registry: Registry,
    readonly shards: number,
    readonly workers: number,
    mailboxDepthMax: number,
    readonly durable: boolean,
    options: { clock: () => number; logger: Logger; transferLimits?: Partial<TransferLimits>; keyWindowMs: number; unlock: () => void },
  ) {
    this.#host = host
    this.#unlock = options.unlock
    this.#clock = options.clock
    this.#keyWindowMs = options.keyWindowMs
    this.#rules = rules
    this.#registry = registry
    this.sagas = new Sagas({
      store: registry.sagas,
      members: registry.members,
      clock: options.clock,
      logger: options.logger,
      ...(options.transferLimits === undefined ? {} : { limits: options.transferLimits }),
      // Saga steps were admitted when the saga started: they skip the member checks, so a
      // member suspended half-way cannot strand held points.
      submit: (input) => {
        if (this.#closing) return Promise.resolve({ status: 'unavailable', message: 'the engine is shutting down' })
        // The engine's own: marking an account's points as moving (no caller's command is one).
        if (input['op'] === 'move') return this.submit(input as unknown as MoveCommand)
        // Fields only the engine sets, kept out of the caller's validation and put back after it.
        const { move, expiredInTransit, ...fields } = input
        const validation = validateCommand(fields)
        if (!validation.ok) return Promise.resolve(validation.reply)
        const command = validation.command
        if (command.op === 'authorize') {
          // A transfer's hold is the engine's: no member's capture or void settles it.
          return this.submit({ ...command, forTransfer: true, ...(typeof move === 'string' ? { move } : {}) })
        }
        if (command.op === 'capture' && Array.isArray(expiredInTransit)) return this.submit({ ...command, expiredInTransit: expiredInTransit as HeldLot[] })
        // A credit, or its taking back, is taken on an account whose points are moving, as a caller's is not.
        if (command.op === 'earn' || command.op === 'reverse') return this.submit({ ...command, transferStep: true })
        return this.submit(command)
      },
    })
    this.#live = new LiveMetrics({ clock: options.clock })
    this.#inFlight = new Int32Array(shards)
    this.#mailboxDepthMax = mailboxDepthMax
  }

  get rules(): EngineRules {
    return this.#rules
  }

  get credentials(): CredentialStore {
    return this.#registry.credentials
  }

  get members(): MemberRegistry {
    return this.#registry.members
  }

  execute(input: unknown): Promise<Reply> {
    if (this.#closing) return Promise.resolve({ status: 'unavailable', message: 'the engine is shutting down' })
    const admitted = admit(this.#registry.members, input)
    if ('status' in admitted) return Promise.resolve(admitted)
    const validation = validateCommand(admitted.input)
    if (!validation.ok) return Promise.resolve(validation.reply)
    const command = validation.command
    const elsewhere = 'key' in command ? this.#keysElsewhere(command, admitted) : []
    // No named closure on this path: under tsx (keepNames) each costs an Object.defineProperty call.
    if (elsewhere.length === 0) return this.#run(command, admitted)
    return this.#orStoredElsewhere(command as LedgerCommand, admitted.pooledFor, elsewhere, () => this.#run(command, admitted))
  }

  #run(command: Command, admitted: Admitted): Promise<Reply> {
    return command.op === 'enroll' && command.referredBy !== undefined ? this.#enrollReferred(command, admitted.pooledFor) : this.#route(command, admitted)
  }

  /**
   * Where else than where `command` runs now its key may be stored, for a
   * member that moved within the idempotency window (joined or left a
   * household, or absorbed a duplicate): its own account while it is
   * pooled, the households it left, and its duplicates' accounts and the
   * households they left. A retry of a command made before the move is
   * answered from there, not run again where the member's commands run
   * now (an earn retried across a link would credit twice; a redemption
   * retried across an unlink would spend twice). Returns have their own
   * search (see `#submitRecorded`), and so do captures and voids of a
   * member that has left households or absorbed duplicates (`#settleHold`).
   */
  #keysElsewhere(command: LedgerCommand, admitted: Admitted): Place[] {
    const member = admitted.member
    if (member === undefined || command.op === 'reverse' || command.op === 'refund') return []
    const duplicates = admitted.mergedAll ?? []
    const settlesHold = command.op === 'capture' || command.op === 'void'
    if (settlesHold && (member.formerHouseholds !== undefined || duplicates.length > 0)) return []
    const history = member.household !== undefined || member.formerHouseholds !== undefined || duplicates.length > 0
    // Members that moved before moves were dated count as moved then.
    const moved = member.movedAt ?? (history ? movedAtSince : undefined)
    if (moved === undefined || this.#clock() - moved >= this.#keyWindowMs) return []
    return this.#keyPlaces(admitted, command.account)
  }

  /**
   * Every place other than where the member's commands run now (`account`,
   * under `admitted.pooledFor`'s scope) where its keys may be stored: its
   * own account while it is pooled, the households it left (under its
   * scope), and each duplicate merged into it, with the households that
   * duplicate left (under the duplicate's scope).
   */
  #keyPlaces(admitted: Admitted, account: string): Place[] {
    const member = admitted.member
    if (member === undefined) return []
    const here = admitted.pooledFor
    const places: Place[] = []
    if (here !== undefined) places.push({ account: member.id })
    for (const pool of member.formerHouseholds ?? []) if (!(member.id === here && pool === account)) places.push({ member: member.id, account: pool })
    for (const duplicate of admitted.mergedAll ?? []) {
      places.push({ account: duplicate })
      for (const pool of this.#registry.members.get(duplicate)?.formerHouseholds ?? []) places.push({ member: duplicate, account: pool })
    }
    return places
  }

  /** `command` looked up at `place` (scoped there for `place.member`): its stored result, or `transaction_not_found`. */
  #storedAt(command: LedgerCommand, place: Place): Promise<Reply> {
    const lookUp = { ...command, replayOnly: true as const }
    return place.member === undefined ? this.submit({ ...lookUp, account: place.account }) : this.#submitScoped(lookUp, place.member, place.account)
  }

  /**
   * `run`, unless `command`'s key is stored in one of `places` and not where
   * it runs now (`pooledFor`'s scope on its account): then that result, as
   * the member sees it. A place that cannot answer just now makes the reply
   * `overloaded` only if no other place has the result.
   */
  async #orStoredElsewhere(command: LedgerCommand, pooledFor: string | undefined, places: Place[], run: () => Promise<Reply>): Promise<Reply> {
    const [here, ...stored] = await Promise.all([{ member: pooledFor, account: command.account }, ...places].map((place) => this.#storedAt(command, place)))
    if (transient(here!)) return here!
    if (here!.status !== 'transaction_not_found') return run()
    const found = stored.find((reply) => reply.status !== 'transaction_not_found' && !transient(reply))
    if (found !== undefined) return this.#asMembers(found, command.account)
    return stored.find(transient) ?? run()
  }

  #route(command: Command, admitted: Admitted): Promise<Reply> {
    if (command.op === 'capture' || command.op === 'void') return this.#settleHold(command, admitted)
    if (command.op !== 'reverse' && command.op !== 'refund') {
      return admitted.pooledFor !== undefined ? this.#submitPooled(command, admitted.pooledFor) : this.submit(command)
    }
    const ran =
      admitted.pooledFor !== undefined
        ? this.#orFromDuplicates(this.#submitPooled(command, admitted.pooledFor), command, admitted.mergedFrom ?? [])
        : admitted.mergedFrom !== undefined
          ? this.#submitMerged(command, admitted.mergedFrom)
          : this.#submitRecorded(command, { account: command.account, member: command.account, scoped: false }, admitted.formerHouseholds?.pools[0])
    const found = admitted.formerHouseholds === undefined ? ran : this.#orInFormerHouseholds(ran, command, admitted.formerHouseholds)
    return found.then(withoutInternal)
  }

  /**
   * A return or refund run on `recorded.account` (scoped for its member when
   * `scoped`), where the member's command lands now. If it is a retry of one
   * the engine settled with another account (a member's purchase from
   * before it joined a household, retried after an unlink, a merge or a
   * new link), the settlement's steps are replayed too, so the retry
   * answers what the first attempt did. `legacyPool`: the pool a return
   * stored before 2026-11-24 with `shortfall: 'debt'` in its terms was
   * settled with (the household the member left last), if known.
   */
  async #submitRecorded(
    command: ReverseCommand | RefundCommand,
    recorded: { account: string; member: string; scoped: boolean },
    legacyPool?: string,
  ): Promise<Reply> {
    const base: Command = recorded.scoped ? scopedTo(command, recorded.member, recorded.account) : { ...command, account: recorded.account }
    let reply = await this.submit(base.op === 'reverse' ? { ...base, withOrigins: true } : base)
    if (reply.status === 'exists_with_different_payload' && base.op === 'reverse' && !recorded.scoped) {
      const legacy = await this.#legacyPreJoinReturn(base)
      if (legacy !== undefined) reply = legacyPool === undefined ? legacy : { settledWith: legacyPool, ...legacy }
    }
    const { origins, settledWith, ...ran } = recorded.scoped ? unscoped(reply, recorded.member) : reply
    if (settledWith === undefined || ran.status !== 'exists') return ran
    const settled = await this.#settle(command, recorded, settledWith, ran, origins)
    if (settled.status !== 'ok' && settled.status !== 'exists') return settled
    // The balance the member sees is of the account it uses now.
    const now = (await this.submit({ op: 'balance', account: command.account })).balance
    return now === undefined ? settled : { ...settled, balance: now }
  }

  /**
   * A return or refund not found where the member's points are now may be
   * of a purchase or redemption it made in a household it has left: that is
   * recorded on the household's pool account, under the member's scope, and
   * is returned there as it was while the member belonged to it (its points
   * are there: the pool keeps them on an unlink). A retry after an unlink of
   * a return made before it finds its stored result there too. If the pool's
   * points have moved on since (its owner was merged into another member,
   * or joined a household itself), the return is recorded on the pool and
   * settled with the account they are in now, as a household member's
   * early purchase is. The reply shows the member's own balance, and no
   * entry of the pool's journal.
   */
  async #orInFormerHouseholds(
    ran: Promise<Reply>,
    command: ReverseCommand | RefundCommand,
    former: { member: string; pools: readonly string[] },
  ): Promise<Reply> {
    const reply = await ran
    if (reply.status !== 'transaction_not_found' && reply.status !== 'account_not_found') return reply
    for (const pool of former.pools) {
      const holder = this.#pointsNowIn(pool)
      // Settled with the holder only when the points moved on; a retry settles as the first attempt did.
      const there = await this.#returnRecordedOn(command, { account: pool, member: former.member, scoped: true }, holder, holder !== pool)
      if (there === undefined || there.status === 'transaction_not_found' || there.status === 'account_not_found') continue
      return this.#asMembers(there, command.account)
    }
    return reply
  }

  /**
   * A capture or void. A household member's runs on the pool, and finds
   * only a hold the member took itself (its authorization's key carries the
   * member's scope), never another member's or the head's.
   *
   * A member that has left households (or absorbed a duplicate that had)
   * may still hold the id of a hold it took in one: the till keeps the
   * authorization's hold id, which is the pool's. Hold ids count up on each
   * account, so the same id may name a hold where the member's points are
   * now too. In that case:
   * - a retry answers the result stored under its key, wherever the member
   *   made it (a key stored there for another operation or hold is another
   *   command);
   * - otherwise the command settles the open hold of that id the member
   *   took, wherever it is (the latest authorized, if several are open;
   *   where the points are now, on a tie), or, with none open, answers for
   *   the latest closed one. Holds the engine took itself (a transfer's)
   *   are not the member's to settle.
   * A hold taken in the household before the unlink is so captured or
   * voided there, and the points the till took as payment are spent, not
   * handed back at the deadline. Replies from a household left show the
   * balance of the account the member uses now, and no entry of the
   * pool's journal. A shard that is overloaded on the way makes the reply
   * `overloaded`, to retry with the same key.
   */
  async #settleHold(command: CaptureCommand | VoidCommand, admitted: Admitted): Promise<Reply> {
    const here = admitted.pooledFor
    const member = { ...command, byMember: true as const }
    const left = this.#householdsLeft(admitted)
    const duplicates = admitted.mergedAll ?? []
    if (left.length === 0 && duplicates.length === 0) {
      return here === undefined ? this.submit(member) : this.#submitScoped({ ...member, holdOf: here }, here, command.account)
    }
    // Two attempts with one key at once would each see the other's result not yet stored: one at a time.
    const id = `${here ?? command.account}\u0000${command.key}`
    const before = this.#settlingHolds.get(id) ?? Promise.resolve()
    const settled = before.then(() => this.#settleHoldOfLeaver(member, here, left, this.#keyPlaces(admitted, command.account)))
    this.#settlingHolds.set(id, settled)
    // The caller sees any failure through `settled`; this bookkeeping copy must not report it again.
    settled
      .finally(() => {
        if (this.#settlingHolds.get(id) === settled) this.#settlingHolds.delete(id)
      })
      .catch(() => {})
    return settled
  }

  /**
   * `#settleHold` for a member with households left or duplicates merged
   * into it: `left`, the households whose holds may be its own; `keyPlaces`,
   * every other place its keys may be stored (see `#keyPlaces`).
   */
  async #settleHoldOfLeaver(
    command: (CaptureCommand | VoidCommand) & { byMember: true },
    here: string | undefined,
    left: { member: string; pool: string }[],
    keyPlaces: Place[],
  ): Promise<Reply> {
    const run = (member: string | undefined, account: string) =>
      member === undefined ? this.submit(command) : this.#submitScoped({ ...command, holdOf: member }, member, account)
    const answer = (place: number, reply: Reply) => (place === 0 || transient(reply) ? reply : this.#asMembers(reply, command.account))
    const stored = await Promise.all([{ member: here, account: command.account }, ...keyPlaces].map((place) => this.#storedAt(command, place)))
    const retried = stored.findIndex((reply) => reply.status !== 'transaction_not_found')
    if (retried >= 0) return answer(retried, stored[retried]!)
    const places = [{ member: here, pool: command.account }, ...left.filter(({ member, pool }) => !(member === here && pool === command.account))]
    const found = await Promise.all(places.map(({ member, pool }) => this.#memberHold(pool, command.hold, member)))
    const busy = found.find((hold): hold is Reply => hold !== undefined && 'status' in hold)
    if (busy !== undefined) return busy
    const holds = found as ({ at: number; open: boolean } | undefined)[]
    let best: number | undefined
    for (let place = 0; place < places.length; place++) {
      const hold = holds[place]
      if (hold === undefined) continue
      const bestHold = best === undefined ? undefined : holds[best]!
      if (bestHold === undefined || (hold.open && !bestHold.open) || (hold.open === bestHold.open && hold.at > bestHold.at)) best = place
    }
    const place = best ?? 0
    return answer(place, await run(places[place]!.member, places[place]!.pool))
  }

  /**
   * Hold `hold` on `account` if the member took it: when it was
   * authorized, and whether it is still open. Undefined if there is no such
   * hold, or it is not the member's (another household member's, the
   * head's, or, on a member's own account, a transfer's); the reply if the
   * account's shard could not answer.
   */
  async #memberHold(account: string, hold: number, member: string | undefined): Promise<{ at: number; open: boolean } | undefined | Reply> {
    const page = await this.submit({ op: 'history', account, before: hold + 1, limit: 1 })
    if (transient(page)) return page
    const entry = page.entries?.[0]
    if (entry === undefined || entry.seq !== hold || entry.kind !== 'hold') return undefined
    const mine = member === undefined ? !this.#transferHold(entry.key) : entry.key?.endsWith(`\u0000${member}`) === true
    if (!mine) return undefined
    const lots = await this.submit({ op: 'lots', account })
    return transient(lots) ? lots : { at: entry.at, open: lots.holds?.some((open) => open.hold === hold) === true }
  }

  /** Whether an authorization's key is a transfer saga's own (`saga:<id>:hold`, with such a saga stored). */
  #transferHold(key: string | undefined): boolean {
    const saga = key === undefined ? null : /^saga:(.+):hold$/.exec(key)
    return saga !== null && this.sagas.get(saga[1]!) !== undefined
  }

  /**
   * The households whose holds may be the member's: those it left, then
   * those each duplicate merged into it had left (a hold is found under the
   * scope of the member that took it).
   */
  #householdsLeft(admitted: Admitted): { member: string; pool: string }[] {
    const left: { member: string; pool: string }[] = []
    const former = admitted.formerHouseholds
    if (former !== undefined) for (const pool of former.pools) left.push({ member: former.member, pool })
    for (const duplicate of admitted.mergedAll ?? []) {
      for (const pool of this.#registry.members.get(duplicate)?.formerHouseholds ?? []) left.push({ member: duplicate, pool })
    }
    return left
  }

  /**
   * A reply from a pool the member has left, as the member sees it: the
   * balance of `account`, where its points are now (none when it has no
   * account yet; left out if it cannot be read just now), and no entry of
   * the pool's journal.
   */
  async #asMembers(there: Reply, account: string): Promise<Reply> {
    const { balance: _pool, entry: _entry, ...answer } = there
    return this.#withBalanceOf(answer, account)
  }

  /**
   * `reply` with the balance of `account` (none when it has no account yet),
   * or without a balance if it cannot be read just now.
   */
  async #withBalanceOf(reply: Reply, account: string): Promise<Reply> {
    const { balance: _other, ...rest } = reply
    const now = await this.submit({ op: 'balance', account })
    if (now.status === 'ok' && now.balance !== undefined) return { ...rest, balance: now.balance }
    return now.status === 'account_not_found' ? { ...rest, balance: { available: 0, pending: 0, held: 0 } } : rest
  }

  /**
   * The account whose points `account`'s owner now spends: its own, its
   * household's pool, or that of the member it was merged into (followed a
   * few steps at most).
   */
  #pointsNowIn(account: string): string {
    let at = account
    for (let step = 0; step < 8; step++) {
      const owner = this.#registry.members.get(at)
      if (owner === undefined) return at
      const next = owner.mergedInto !== undefined ? (this.#registry.members.get(owner.mergedInto)?.account ?? owner.mergedInto) : owner.account
      if (next === at) return at
      at = next
    }
    return at
  }

  /**
   * A return or refund by a member that absorbed duplicates: a purchase the
   * member does not have may be one a duplicate made before the merge. It is
   * returned on the duplicate's account, where it is recorded, and settled
   * with the member's as a household member's early purchase is.
   */
  async #submitMerged(command: ReverseCommand | RefundCommand, mergedFrom: readonly string[]): Promise<Reply> {
    return this.#orFromDuplicates(this.#submitRecorded(command, { account: command.account, member: command.account, scoped: false }), command, mergedFrom)
  }

  /**
   * A return or refund not found where the member's purchases are (`ran`)
   * may be of a duplicate merged into it: made on the duplicate's account
   * (settled with `command.account`, where the points are now: the
   * member's own, or its household's if it joined one since), or in a
   * household the duplicate had left.
   */
  async #orFromDuplicates(ran: Promise<Reply>, command: ReverseCommand | RefundCommand, mergedFrom: readonly string[]): Promise<Reply> {
    const reply = await ran
    if (reply.status !== 'transaction_not_found') return reply
    for (const duplicate of mergedFrom) {
      const settled = await this.#returnFromOwnAccount(command, duplicate)
      // Settled with where the points were then; the member sees where they are now.
      if (settled !== undefined) return settled.balance === undefined ? settled : this.#withBalanceOf(settled, command.account)
    }
    // Or one a duplicate made in a household it had left before the merge.
    for (const duplicate of mergedFrom) {
      const pools = this.#registry.members.get(duplicate)?.formerHouseholds
      if (pools === undefined) continue
      const there = await this.#orInFormerHouseholds(Promise.resolve(reply), command, { member: duplicate, pools })
      if (there !== reply) return there
    }
    return reply
  }

  /**
   * A household member's command, run on the household's account with its
   * key and purchase or redemption ref scoped by the member: each member's
   * keys are its own (the same key from two members of a household is two
   * commands, not a replay, which would answer `exists` and credit nothing),
   * and a return names the member's own purchase. The scope is the member's
   * id after a NUL, which no caller's key may hold; replies' messages are
   * given back without it.
   */
  async #submitPooled(command: Command, member: string): Promise<Reply> {
    if (!('key' in command)) return this.submit(command)
    if (command.op !== 'reverse' && command.op !== 'refund') return this.#submitScoped(command, member, command.account)
    const reply = await this.#submitRecorded(command, { account: command.account, member, scoped: true })
    if (reply.status === 'transaction_not_found') {
      const settled = await this.#returnFromOwnAccount(command, member)
      // Settled with where the points were then; the member sees where they are now.
      if (settled !== undefined) return settled.balance === undefined ? settled : this.#withBalanceOf(settled, command.account)
    }
    return reply
  }

  /** `command` run on `pool` with its key and ref scoped by `member`, as a household member's are. */
  async #submitScoped(command: Command & { key: string }, member: string, pool: string): Promise<Reply> {
    return unscoped(await this.submit(scopedTo(command, member, pool)), member)
  }

  /**
   * A return or refund of a purchase recorded on another account than the
   * points are now in: a household member's made before it joined (the
   * points moved to the pool), or a merged duplicate's (they moved to the
   * member it was merged into; `member` is then the duplicate, the pool the
   * surviving member's account).
   * The return runs on the member's own account, then the pool settles with
   * it by a transfer saga: a reverse's claw-back (owed on the own account,
   * whose points moved) is paid from the pool as far as the pool has points,
   * the rest stays owed on the member's own account (its earns pay it after
   * an unlink); a refund's points move on to the pool. Each step's key comes
   * from the caller's, so a retry after a crash finishes the settlement; the
   * amount decided is kept as the transfer's record even when it is 0, so a
   * retry settles what the first attempt did (see `#settle`). Undefined when
   * the member's own account has no such purchase either.
   */
  #returnFromOwnAccount(command: ReverseCommand | RefundCommand, member: string): Promise<Reply | undefined> {
    return this.#returnRecordedOn(command, { account: member, member, scoped: false }, command.account, true)
  }

  /**
   * A return or refund run where the purchase is recorded (`recorded`: an
   * account, and whether the member's scope applies to its key and ref),
   * and, with `settle`, settled with `pool`, where its points are now (see
   * `#returnFromOwnAccount`). The recorded reply names the account it was
   * settled with (`settledWith`): a retry settles with that one (its steps
   * answer `exists`), whatever `settle` and `pool` say now, and a return
   * first made without settling is not settled by its retry. Undefined when
   * no such purchase is recorded there.
   */
  async #returnRecordedOn(
    command: ReverseCommand | RefundCommand,
    recorded: { account: string; member: string; scoped: boolean },
    pool: string,
    settle: boolean,
  ): Promise<Reply | undefined> {
    const { account, member, scoped } = recorded
    const base: Command = scoped ? scopedTo(command, member, account) : { ...command, account }
    const own: Command =
      base.op === 'reverse'
        ? { ...base, withOrigins: true, ...(settle ? { settleWith: pool } : {}) }
        : { ...base, ...(settle ? { settleWith: pool } : {}) }
    let answered = await this.submit(own)
    if (answered.status === 'exists_with_different_payload' && own.op === 'reverse' && !scoped) {
      const legacy = await this.#legacyPreJoinReturn(own)
      if (legacy !== undefined) answered = { settledWith: pool, ...legacy }
    }
    const { origins, settledWith, ...ran } = scoped ? unscoped(answered, member) : answered
    if (ran.status === 'transaction_not_found' || ran.status === 'account_not_found') return undefined
    if (ran.status !== 'ok' && ran.status !== 'exists') return ran
    if (settledWith === undefined) return ran
    return this.#settle(command, recorded, settledWith, ran, origins)
  }

  /**
   * A reverse refused as another payload may be the engine's own account
   * step of a pre-join return stored before `settledWithSince`: that step
   * carried `shortfall: 'debt'` in its terms, in place of the caller's. Its
   * stored reply (`exists`) if so: the terms match with `debt`, and its
   * entry was written before then. A caller's own return with `debt`, retried
   * with another policy, is refused as before, unless as old as that.
   */
  async #legacyPreJoinReturn(command: ReverseCommand): Promise<Reply | undefined> {
    if (command.shortfall === 'debt') return undefined
    const before = await this.submit({ ...command, withOrigins: true, shortfall: 'debt', replayOnly: true })
    if (before.status !== 'exists' || before.entry === undefined) return undefined
    const page = await this.submit({ op: 'history', account: command.account, before: before.entry + 1, limit: 1 })
    const at = page.entries?.[0]?.seq === before.entry ? page.entries[0].at : undefined
    return at !== undefined && at < settledWithSince ? before : undefined
  }

  /**
   * The settlement of a return or refund `ran` on `recorded.account` with
   * `pool` (see `#returnFromOwnAccount`): points that lapsed in the pool,
   * then a transfer. Every step's key comes from the caller's, so a retry
   * repeats none of them. The transfer's points are decided once, from the
   * balances then, and kept as its record before the reply, also when they
   * are 0 (a system transfer of 0 points is saved done, moving nothing): a
   * retry settles that amount, not what the balances would give by then.
   * One stopped before the record (or first made by a version that kept no
   * 0-point record) is decided by its retry.
   */
  async #settle(
    command: ReverseCommand | RefundCommand,
    recorded: { account: string; member: string; scoped: boolean },
    pool: string,
    ran: Reply,
    origins: LotTerms[] | undefined,
  ): Promise<Reply> {
    const { account, member, scoped } = recorded
    const actor = { kind: 'system', id: 'household-return' }
    // Recorded on a pool the member shares: the keys also name the pool (a member id holds no '@').
    const key = scoped ? `return:${member}@${account}:${command.key}` : `return:${member}:${command.key}`
    const reason = `${command.op} of ${command.ref}, bought on account ${account}${scoped ? ` by ${member}` : ''}`
    // Each return settles its own points (so two at once do not both settle the whole debt),
    // no more than the recorded account owes or holds, nor than the pool has.
    if (command.op === 'reverse') {
      const lapsed = await this.#lapsedInPool(command, recorded, pool, ran.points ?? 0, origins)
      if (typeof lapsed !== 'number') return lapsed
      if (lapsed > 0) {
        ran.points = (ran.points ?? 0) - lapsed
        ran.lapsed = (ran.lapsed ?? 0) + lapsed
      }
      const ownBalance = (await this.submit({ op: 'balance', account })).balance
      const owed = Math.max(0, -(ownBalance?.available ?? 0))
      const poolBalance = (await this.submit({ op: 'balance', account: pool })).balance
      const due = Math.min(ran.points ?? 0, owed, Math.max(0, poolBalance?.available ?? 0))
      // The first attempt's decision, kept even when it was to pay nothing: a retry pays what it paid.
      const points = this.sagas.transferOf(pool, key)?.points ?? due
      await this.sagas.transfer({ from: pool, to: account, points, key, reason }, actor, true)
    } else {
      const ownBalance = (await this.submit({ op: 'balance', account })).balance
      const due = Math.min(ran.points ?? 0, Math.max(0, ownBalance?.available ?? 0))
      const points = this.sagas.transferOf(account, key)?.points ?? due
      await this.sagas.transfer({ from: account, to: pool, points, key, reason }, actor, true)
    }
    const balance = (await this.submit({ op: 'balance', account: pool })).balance
    return balance === undefined ? ran : { ...ran, balance }
  }

  /**
   * For a return run on the member's own account: the purchase's points
   * moved to the pool, and may have expired there unspent. Those are written
   * off on the pool (up to what the return took, `taken`), and the member's
   * own account is credited as many, cancelling the debt the return took for
   * them there. Returns how many, or the refusal of a step (overloaded,
   * shutting down), which the caller's retry finishes. Both steps' keys come
   * from the caller's, after a NUL, so a retry repeats neither and no
   * caller's key can collide with them.
   */
  async #lapsedInPool(
    command: ReverseCommand,
    recorded: { account: string; member: string; scoped: boolean },
    pool: string,
    taken: number,
    origins: LotTerms[] | undefined,
  ): Promise<number | Reply> {
    if (origins === undefined || taken <= 0) return 0
    const { account, member, scoped } = recorded
    // Keys after a NUL, which no caller's key may hold, then a '/', which no member id may hold
    // (a household member's keys in the pool are `key\u0000member`): they cannot collide with one.
    const off = await this.submit({
      op: 'reverse',
      account: pool,
      key: `${command.key}\u0000/lapsed/${member}`,
      ref: command.ref,
      points: taken,
      lapsedOf: origins,
    })
    if (off.status !== 'ok' && off.status !== 'exists') return off
    const lapsed = off.lapsed ?? 0
    if (lapsed === 0) return 0
    const credited = await this.submit({
      op: 'adjust',
      account,
      // On a pool, other members' returns may use the same key: this one's names its member.
      key: `${command.key}\u0000/lapsed-credit${scoped ? `/${member}` : ''}`,
      points: lapsed,
      reason: `${lapsed} points of ${command.ref} expired unspent on ${pool}: not taken again`,
    })
    // Not credited (overloaded, shutting down): the caller retries with its key, which finishes it.
    if (credited.status !== 'ok' && credited.status !== 'exists') return credited
    return lapsed
  }

  /**
   * An enrolment naming its referrer: the referrer must be a member or hold an
   * account, or the new member's referral bonus would be paid for nobody and
   * the referrer's reward lost.
   */
  async #enrollReferred(command: EnrollCommand, pooledFor: string | undefined): Promise<Reply> {
    const referrer = command.referredBy!
    if (referrer === command.account || referrer === pooledFor) {
      return { status: 'invalid_request', field: 'referredBy', message: 'a member cannot refer themselves' }
    }
    if (this.#registry.members.get(referrer) === undefined) {
      const known = await this.submit({ op: 'balance', account: referrer })
      if (known.status === 'account_not_found') {
        return { status: 'account_not_found', field: 'referredBy', message: `no member or account ${referrer} to credit for the referral` }
      }
    }
    // A household member's, like its other commands, is scoped on the pool (its key is its own).
    return pooledFor === undefined ? this.submit(command) : this.#submitScoped(command, pooledFor, command.account)
  }

  submit(command: Command): Promise<Reply> {
    if (this.#closing) return Promise.resolve({ status: 'unavailable', message: 'the engine is shutting down' })
    const shard = shardOf(command.account, this.shards)
    if (this.#inFlight[shard]! >= this.#mailboxDepthMax) {
      this.#stats.overloaded++
      return Promise.resolve({
        status: 'overloaded',
        message: `shard ${shard} has ${this.#mailboxDepthMax} commands in flight (mailboxDepthMax)`,
      })
    }
    this.#inFlight[shard]!++
    this.#stats.submitted++
    const started = performance.now()
    return this.#host.submit(shard, command).then((reply) => {
      this.#inFlight[shard]!--
      this.#stats.answered++
      this.#live.record(performance.now() - started)
      if (command.op === 'enroll' && command.referredBy !== undefined) this.#rewardReferrer(command, reply)
      return reply
    })
  }

  /**
   * The referrer's reward is a command on another account (often another
   * shard), sent after the enrolment is durable. Its key is derived from the
   * new member, so it is applied once however often it is sent: a retried
   * enrolment (answered `exists`) sends it again, which repairs a crash
   * between the two.
   */
  #rewardReferrer(command: EnrollCommand, reply: Reply) {
    if (reply.status !== 'ok' && reply.status !== 'exists') return
    // The member referred: a household member's enrolment is scoped by its id on the pool.
    const scope = command.key.indexOf('\u0000')
    const referred = scope < 0 ? command.account : command.key.slice(scope + 1)
    const referral = {
      op: 'activity' as const,
      account: command.referredBy!,
      key: `referral:${referred}`,
      event: 'referral_referrer',
    }
    // A referrer whose points a household link or a merge is moving refuses it for the moment
    // (`isMovingRefusal`); a move takes well under a second, so it is sent again until the mark ends.
    const send = (tries: number) => {
      void this.submit(referral).then((sent) => {
        if (tries > 0 && !this.#closing && isMovingRefusal(sent, referral.account)) setTimeout(() => send(tries - 1), 200).unref()
      })
    }
    send(300)
  }

  stats(): EngineStats {
    return { ...this.#stats, inFlight: this.#stats.submitted - this.#stats.answered }
  }

  live(seconds?: number): LiveSample[] {
    return this.#live.series(seconds)
  }

  async totals(): Promise<ShardTotals> {
    const shards = Array.from({ length: this.shards }, (_, shard) => this.#host.totals(shard))
    return sumTotals(await Promise.all(shards))
  }

  async close(): Promise<void> {
    this.#closing = true
    this.sagas.stop()
    await this.#host.close()
    await this.#rules.close()
    await this.#registry.close()
    this.#unlock()
  }
}

/** Identifier fields a command may name its member by, instead of `account`. */
const identifierFields = ['card', 'phone', 'email'] as const
const queryOps = new Set(['balance', 'history', 'preview', 'member', 'lots', 'expire'])
const burnOps = new Set(['redeem', 'authorize', 'capture'])
/** Where a member's keys may be stored: an account, under a member's scope when it is a household's pool. */
interface Place {
  member?: string
  account: string
}

/** Statuses that say nothing of the command, which may be retried with the same key. */
const transient = (reply: Reply) => reply.status === 'overloaded' || reply.status === 'unavailable'
/**
 * Commands that only settle what is already there: release a hold, give back
 * points of a returned purchase, claw back points of a returned item. A
 * suspended member must still be able to return goods (or the points earned
 * on them would stay), and a till must be able to cancel its hold.
 */
const settlingOps = new Set(['void', 'refund', 'reverse'])

/**
 * Resolves a card, phone or email to the member's account, and enforces the
 * member's standing: a blocked, lost or replaced card is `card_blocked`, a
 * suspended or closed member may only be looked at (`member_suspended`), and
 * a member without redemption rights may not burn (`redemption_not_allowed`),
 * capture included: a hold taken before the right was withdrawn stays held
 * until it is voided or times out. A suspended member's holds may still be
 * voided and its returns refunded and reversed (`settlingOps`); a closed
 * (erased or merged-away) member's may not.
 * Accounts that belong to no member pass as they are.
 */
/**
 * `command` as run on `pool` for household member `member`: its key and its
 * ref (an earn's or purchase's, its key when it has none) carry the member's
 * id after a NUL, which no caller's key or ref may hold.
 */
function scopedTo(command: Command & { key: string }, member: string, pool: string): Command {
  const scope = `\u0000${member}`
  const scoped: Record<string, unknown> = { ...command, account: pool, key: command.key + scope }
  if (command.op === 'earn' || command.op === 'purchase') scoped['ref'] = (command.ref ?? command.key) + scope
  else if ('ref' in command && typeof command.ref === 'string') scoped['ref'] = command.ref + scope
  return scoped as unknown as Command
}

/** A reply to a command scoped for `member`, with the scope taken out of its message. */
function unscoped(reply: Reply, member: string): Reply {
  const scope = `\u0000${member}`
  return reply.message?.includes(scope) === true ? { ...reply, message: reply.message.replaceAll(scope, '') } : reply
}

/**
 * Since when the engine's own-account step of a pre-join return keeps the
 * caller's `shortfall` in its terms and records the account it is settled
 * with (`settleWith`); steps stored before carried `shortfall: 'debt'`.
 */
const settledWithSince = Date.UTC(2026, 10, 25)

/** Since when members record when they moved (`Member.movedAt`); earlier moves count as made then. */
const movedAtSince = Date.UTC(2026, 10, 25)

/** A reply without the fields the engine asks the ledger for its own use. */
function withoutInternal(reply: Reply): Reply {
  if (reply.origins === undefined && reply.settledWith === undefined) return reply
  const { origins: _origins, settledWith: _settledWith, ...rest } = reply
  return rest
}

/** A command admitted for its member: the account it runs on, and where else a return may be recorded. */
interface Admitted {
  input: unknown
  /** The member whose command runs on its household's pool. */
  pooledFor?: string
  /** Duplicates merged into the member. */
  mergedFrom?: readonly string[]
  /** The member and the pools of the households it left. */
  formerHouseholds?: { member: string; pools: readonly string[] }
  /** The member named (absent for an account no member owns). */
  member?: Member
  /** Every duplicate merged into the member, through merges of merges too (see `mergedInto`). */
  mergedAll?: readonly string[]
}

/**
 * Every duplicate merged into `member`, also through duplicates that had
 * absorbed others themselves (nearest first; a few hundred at most).
 */
function mergedInto(members: MemberRegistry, member: Member): string[] {
  const found: string[] = []
  const seen = new Set([member.id])
  const waiting = [...(member.mergedFrom ?? [])]
  while (waiting.length > 0 && found.length < 256) {
    const id = waiting.shift()!
    if (seen.has(id)) continue
    seen.add(id)
    found.push(id)
    waiting.push(...(members.get(id)?.mergedFrom ?? []))
  }
  return found
}

function admit(members: MemberRegistry, input: unknown): Admitted | Reply {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { input }
  const fields = input as Record<string, unknown>
  const named = identifierFields.filter((f) => fields[f] !== undefined)
  if (named.length === 0 && fields['account'] === undefined) return { input }
  if (named.length > 1 || (named.length === 1 && fields['account'] !== undefined)) {
    return { status: 'invalid_request', field: named[named.length - 1]!, message: 'name the member by one of account, card, phone or email' }
  }
  let member
  let rest = fields
  if (named.length === 1) {
    const field = named[0]!
    const value = fields[field]
    if (typeof value !== 'string' || value === '') {
      return { status: 'invalid_request', field, message: `${field} must be a non-empty string` }
    }
    const types: readonly IdentifierType[] = field === 'card' ? cardTypes : [field]
    const found = types.map((type) => members.resolve(type, value)).find((r) => r !== undefined)
    if (found === undefined) return { status: 'account_not_found', field, message: `no member has ${field} ${value}` }
    if (found.identifier.status !== 'active') {
      return { status: 'card_blocked', field, message: `${found.identifier.type} ${found.identifier.value} is ${found.identifier.status}` }
    }
    member = found.member
    const { [field]: _identifier, ...others } = fields
    rest = { ...others, account: member.account }
  } else if (typeof fields['account'] === 'string') {
    member = members.get(fields['account'])
    // A member in a household earns into and burns from the household's account.
    if (member !== undefined && member.account !== member.id) rest = { ...fields, account: member.account }
  }
  if (member === undefined || queryOps.has(String(fields['op']))) return { input: rest }
  const settling = member.status === 'suspended' && settlingOps.has(String(fields['op']))
  if (member.status !== 'active' && !settling) {
    return { status: 'member_suspended', message: `member ${member.id} is ${member.status}` }
  }
  if (!member.redemptionAllowed && burnOps.has(String(fields['op']))) {
    return { status: 'redemption_not_allowed', message: `member ${member.id} may not redeem` }
  }
  const admitted: Admitted = { input: rest, member }
  if (member.account !== member.id) admitted.pooledFor = member.id
  if (member.mergedFrom !== undefined) {
    // Returns search the direct duplicates by ref (a deeper one's purchase could be returned twice
    // across an upgrade); key look-ups and holds follow every merge.
    admitted.mergedFrom = member.mergedFrom
    admitted.mergedAll = mergedInto(members, member)
  }
  if (member.formerHouseholds !== undefined) admitted.formerHouseholds = { member: member.id, pools: member.formerHouseholds }
  return admitted
}
