/**
 * Scenario `engine`: engine-direct throughput and latency. Seeds every account
 * with one earn, then runs a realistic mix (earn with expiry, authorize then
 * capture, redeem, balance, a few void/reverse/history) through
 * `engine.execute` over all accounts, closed loop or at a fixed open-loop rate.
 *
 * @module
 */
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { openEngine, type Engine, type Reply } from '@loyalty/engine'
import { closedLoop, openLoop, type Step } from '../load.ts'
import { count, Phase, type PhaseResult, type Reporter } from '../report.ts'
import { between, seededRandom } from '../rng.ts'
import { defineScenario, FlagError, limits, shardsMax, type Options, type ScenarioResult } from '../scenario.ts'
import { removeTemporaryFolder, temporaryFolder } from '../temp.ts'

const flags = {
  accounts: { kind: 'int', description: 'accounts seeded and used', default: 1_000_000, min: 1, max: limits.accounts },
  seconds: { kind: 'number', description: 'length of the measured phase', default: 20, min: 0.1 },
  warmup: {
    kind: 'number',
    description: 'seconds of the same load before measuring, not measured',
    default: 2,
    min: 0,
  },
  shards: { kind: 'int', description: 'shards of a new data folder (default 4; a --data folder made before keeps its own)', min: 1, max: shardsMax },
  workers: { kind: 'int', description: 'worker threads (0: main thread)', default: 2, min: 0, max: limits.workers },
  concurrency: { kind: 'int', description: 'commands in flight', default: 4096, min: 1, max: limits.inFlight },
  rate: { kind: 'number', description: 'open loop at this many commands/s instead', min: 1, max: limits.rate },
  cachedAccounts: { kind: 'int', description: "decoded accounts a shard keeps in memory (default: the engine's)", min: 2, max: limits.accounts },
  noSync: { kind: 'boolean', description: 'skip fsync (replies are then not durable)' },
  data: { kind: 'string', description: 'data folder to use and keep (default: temporary)' },
  skipSeed: { kind: 'boolean', description: 'skip seeding (a --data folder seeded before)' },
  hotAccounts: { kind: 'int', description: 'hot set size, 0 for uniform', default: 0, min: 0, max: limits.accounts },
  hotShare: {
    kind: 'number',
    description: 'share of picks in the hot set',
    default: 0.5,
    min: 0,
    max: 1,
  },
  rngSeed: { kind: 'int', description: 'seed of the random mix', default: 1 },
  holdTimeout: {
    kind: 'number',
    description: "seconds the mix's holds last (default: the engine's, 15 minutes); shorter makes their deadlines fall due during the run, as they do in a system up for longer than that",
    min: 0.1,
    max: 604_800,
  },
} as const

type EngineOptions = Options<typeof flags>

function endOfDay(time: number): number {
  return Math.ceil(time / dayMs) * dayMs
}

/** Units of the measured mix with their weights (percent of units). */
const mix = [
  ['earn', 45],
  ['authorizeCapture', 15],
  ['redeem', 15],
  ['balance', 15],
  ['authorizeVoid', 4],
  ['reverse', 3],
  ['history', 3],
] as const

type UnitKind = (typeof mix)[number][0]

/** Commands per unit on average (a hold pair is two), to turn a command rate into units. */
const commandsPerUnit = mix.reduce(
  (sum, [kind, weight]) => sum + (weight / 100) * (kind.startsWith('authorize') ? 2 : 1),
  0,
)

const seedPoints = 1000
const seedAmount = 10_000
const dayMs = 86_400_000
/** Statuses a correct engine may answer the measured mix with. */
const expectedStatuses = new Set(['ok', 'insufficient_points'])
/** Seeding a reused data folder replays its keys: `exists` is fine there. */
const expectedSeedStatuses = new Set(['ok', 'exists'])

/** Counts by name, e.g. replies per status. */
class Counter {
  readonly #counts = new Map<string, number>()

  add(name: string): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1)
  }

  get(name: string): number {
    return this.#counts.get(name) ?? 0
  }

  total(): number {
    let sum = 0
    for (const n of this.#counts.values()) sum += n
    return sum
  }

  names(): string[] {
    return [...this.#counts.keys()]
  }

  #sorted(): [string, number][] {
    return [...this.#counts].sort((a, b) => b[1] - a[1])
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#sorted())
  }

  describe(): string {
    return this.#sorted().map(([name, n]) => `${name} ${count(n)}`).join(', ')
  }
}

/** What every command of a phase shares. */
interface Run {
  engine: Engine
  phase: Phase
  statuses: Counter
  ops: Counter
}

/** Untrusted-shaped input, as a client would send it; `execute` validates it. */
interface Input {
  op: string
  account: string
  [field: string]: unknown
}

function newRun(engine: Engine, phase: Phase): Run {
  return { engine, phase, statuses: new Counter(), ops: new Counter() }
}

async function send(run: Run, input: Input, startMs: number): Promise<Reply> {
  const reply = await run.engine.execute(input)
  const now = performance.now()
  run.phase.record(now - startMs, now)
  run.statuses.add(reply.status)
  run.ops.add(input.op)
  return reply
}

function accountId(index: number): string {
  return `m${index}`
}

async function seed(run: Run, options: EngineOptions): Promise<void> {
  let next = 0
  const step: Step = (start) => {
    if (next >= options.accounts) return false
    const account = accountId(next++)
    const earn = { op: 'earn', account, key: 'seed', points: seedPoints, amount: seedAmount }
    return send(run, earn, start).then(() => {})
  }
  await closedLoop(options.concurrency, step)
}

/** Builds the measured mix: each call picks a unit and runs its one or two commands. */
function mixer(run: Run, options: EngineOptions, label: string): (start: number) => Promise<void> {
  const random = seededRandom(options.rngSeed)
  // The label keeps the warm-up's keys apart from the measured phase's.
  const tag = `b${label}${Date.now().toString(36)}-`
  let sequence = 0
  const key = () => tag + (sequence++).toString(36)
  const pickAccount = () => {
    const hot = options.hotAccounts > 0 && random() < options.hotShare
    const range = hot ? Math.min(options.hotAccounts, options.accounts) : options.accounts
    return accountId(Math.floor(random() * range))
  }
  const pickKind = (): UnitKind => {
    let roll = random() * 100
    for (const [kind, weight] of mix) if ((roll -= weight) < 0) return kind
    return 'earn'
  }
  const holdTimeout = options.holdTimeout === undefined ? {} : { timeoutMs: Math.round(options.holdTimeout * 1000) }
  const holdThen = async (account: string, start: number, close: 'capture' | 'void') => {
    const points = between(random, 1, 100)
    const reply = await send(run, { op: 'authorize', account, key: key(), points, ...holdTimeout }, start)
    if (reply.status !== 'ok' || reply.hold === undefined) return
    const command: Input = { op: close, account, key: key(), hold: reply.hold }
    if (close === 'capture' && random() < 0.5) command['points'] = Math.ceil(points / 2)
    await send(run, command, performance.now())
  }
  const one = (input: Input, start: number) => send(run, input, start).then(() => {})
  return (start) => {
    const account = pickAccount()
    switch (pickKind()) {
      case 'earn': {
        // Programs expire points at a day boundary (or month end), so earns of
        // one day share a lot; expiry to the millisecond would make a lot per earn.
        const expiresAt = endOfDay(Date.now() + between(random, 30, 365) * dayMs)
        const points = between(random, 1, 200)
        const amount = points * 10
        return one({ op: 'earn', account, key: key(), points, expiresAt, amount }, start)
      }
      case 'authorizeCapture':
        return holdThen(account, start, 'capture')
      case 'authorizeVoid':
        return holdThen(account, start, 'void')
      case 'redeem':
        return one({ op: 'redeem', account, key: key(), points: between(random, 1, 50) }, start)
      case 'balance':
        return one({ op: 'balance', account }, start)
      case 'reverse':
        return one({ op: 'reverse', account, key: key(), ref: 'seed', points: 1 }, start)
      case 'history':
        return one({ op: 'history', account, limit: 10 }, start)
    }
  }
}

/** Runs the measured mix; returns the load mode's own JSON fields. */
async function measure(run: Run, options: EngineOptions, label = 'm'): Promise<Record<string, unknown>> {
  const unit = mixer(run, options, label)
  if (options.rate === undefined) {
    const deadline = run.phase.startedAt + options.seconds * 1000
    await closedLoop(options.concurrency, (start) => (start >= deadline ? false : unit(start)))
    return { mode: 'closed', concurrency: options.concurrency }
  }
  const unitsPerSec = options.rate / commandsPerUnit
  const units = Math.max(1, Math.round(unitsPerSec * options.seconds))
  const result = await openLoop(unitsPerSec, units, unit)
  return { mode: 'open', targetRate: options.rate, inFlightMax: result.inFlightMax }
}

/** Fails the run for replies whose status a correct engine would not give this phase. */
function checkStatuses(reporter: Reporter, phase: string, statuses: Counter, allowed: Set<string>) {
  for (const name of statuses.names()) {
    if (allowed.has(name)) continue
    const refused = name === 'unavailable' || name === 'overloaded'
    const hint = refused ? ' (the engine refused or failed commands)' : ' (unexpected: a bug?)'
    reporter.fail(`${phase}: ${count(statuses.get(name))} replies with status ${name}${hint}`)
  }
}

function checkRate(reporter: Reporter, measured: PhaseResult, options: EngineOptions) {
  if (options.rate !== undefined && measured.opsPerSec < options.rate * 0.95) {
    const got = count(measured.opsPerSec)
    reporter.warn(`achieved ${got} ops/s, below the target rate ${count(options.rate)}`)
  }
}

function describeSetup(engine: Engine, options: EngineOptions): string {
  const load = options.rate === undefined
    ? `closed loop, concurrency ${count(options.concurrency)}`
    : `open loop at ${count(options.rate)} commands/s`
  return `${count(options.accounts)} accounts, ${engine.shards} shards, ` +
    `${engine.workers} workers, durable ${engine.durable}, ${load}`
}

function seedFields(seeded: PhaseResult, statuses: Counter) {
  return {
    seedOps: seeded.ops,
    seedSeconds: Math.round(seeded.seconds * 1000) / 1000,
    seedOpsPerSec: Math.round(seeded.opsPerSec),
    seedP99Ms: Math.round(seeded.histogram.percentile(99)) / 1000,
    seedStatuses: statuses.toJSON(),
  }
}

async function runOnEngine(
  engine: Engine,
  options: EngineOptions,
  reporter: Reporter,
): Promise<ScenarioResult> {
  const seeding = newRun(engine, options.skipSeed
    ? new Phase('seed')
    : reporter.phase('seed', { total: options.accounts }))
  if (!options.skipSeed) await seed(seeding, options)
  const seeded = options.skipSeed ? seeding.phase.stop() : reporter.endPhase()!
  checkStatuses(reporter, 'seed', seeding.statuses, expectedSeedStatuses)
  // The same load, not counted, before measuring: a cold start's first
  // seconds are slower (compiled code and pages still to come). It drains
  // before the measured phase starts, so a closed loop starts that phase with
  // a full window at once.
  const warming = newRun(engine, new Phase('warm-up'))
  if (options.warmup > 0) {
    const warmupMs = options.rate === undefined ? options.warmup * 1000 : undefined
    warming.phase = reporter.phase('warm-up', { durationMs: warmupMs })
    await measure(warming, { ...options, seconds: options.warmup, rngSeed: options.rngSeed + 1000 }, 'w')
    reporter.endPhase()
    checkStatuses(reporter, 'warm-up', warming.statuses, expectedStatuses)
  }
  const durationMs = options.rate === undefined ? options.seconds * 1000 : undefined
  const run = newRun(engine, reporter.phase('measure', { durationMs }))
  const cpuBefore = process.cpuUsage()
  const mode = await measure(run, options)
  const cpu = process.cpuUsage(cpuBefore)
  const measured = reporter.endPhase()!
  // CPU of every thread of the process (client, router, shards, LMDB's
  // writers, GC), user and system, per reply: a noisy machine moves it far
  // less than throughput, and 100,000 commands/s on two cores is 20 µs.
  const cpuUsPerOp = run.statuses.total() === 0 ? 0 : Math.round(((cpu.user + cpu.system) * 10) / run.statuses.total()) / 10
  checkStatuses(reporter, 'measure', run.statuses, expectedStatuses)
  checkRate(reporter, measured, options)
  const fields = {
    accounts: options.accounts,
    shards: engine.shards,
    workers: engine.workers,
    durable: engine.durable,
    warmupSeconds: options.warmup,
    warmupReplies: warming.statuses.total(),
    ...mode,
    ...seedFields(seeded, seeding.statuses),
    replies: run.statuses.total(),
    statuses: run.statuses.toJSON(),
    opCounts: run.ops.toJSON(),
    hotAccounts: options.hotAccounts,
    holdTimeoutSeconds: options.holdTimeout ?? null,
    cpuUsPerOp,
    engineStats: engine.stats(),
  }
  const notes = [
    `seed: ${count(seeded.ops)} earns in ${seeded.seconds.toFixed(1)} s = ` +
      `${count(seeded.opsPerSec)} ops/s`,
    describeSetup(engine, options),
    options.warmup > 0
      ? `measured after ${options.warmup} s of the same load (not counted)`
      : 'measured without a warm-up (--warmup 0)',
    `statuses of all ${count(run.statuses.total())} replies (the deadline's stragglers too): ` +
      run.statuses.describe(),
    `commands: ${run.ops.describe()}`,
    `CPU: ${cpuUsPerOp} µs a command, all threads, user and system (100,000/s on ${cpus().length} cores would allow ${Math.round(cpus().length * 10)} µs)`,
  ]
  return { measured, fields, notes }
}

export const scenario = defineScenario({
  name: 'engine',
  description: 'engine-direct throughput and latency: seed every account, then a mixed load',
  flags,
  check(options) {
    // A new temporary folder has no accounts: every command would fail.
    if (options.skipSeed && options.data === undefined) {
      throw new FlagError('--skip-seed needs --data (a data folder seeded by an earlier run)')
    }
    if (options.hotAccounts > options.accounts) {
      throw new FlagError(`--hot-accounts must be from 0 to --accounts (${options.accounts}), not ${options.hotAccounts}`)
    }
  },
  async run(options, reporter): Promise<ScenarioResult> {
    const dataDir = options.data ?? temporaryFolder('loyalty-bench-')
    const temporary = options.data === undefined ? ' (temporary)' : ''
    reporter.note(`engine: data folder ${dataDir}${temporary}`)
    try {
      const engine = await openEngine({
        dataDir,
        shards: options.shards,
        workers: options.workers,
        noSync: options.noSync,
        ...(options.cachedAccounts === undefined ? {} : { limits: { cachedAccountsMax: options.cachedAccounts } }),
      })
      try {
        return await runOnEngine(engine, options, reporter)
      } finally {
        await engine.close()
      }
    } finally {
      if (options.data === undefined) removeTemporaryFolder(dataDir)
    }
  },
})
