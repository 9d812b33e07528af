/**
 * Scenario `http`: what the REST interface costs. One process runs a durable
 * engine (LMDB in a temporary folder, the demo ruleset active), the gateway
 * and its HTTP server; accounts are seeded engine-direct (one earn each).
 * Then autocannon drives a mix of `POST /v1/accounts/:account/redeem` (a new
 * idempotency key each) and `GET /v1/accounts/:account/balance` over many
 * keep-alive connections with pipelining, and, in the same run and for as
 * long, the same mix goes straight to `engine.execute` with as many commands
 * in flight as HTTP had requests outstanding (connections × pipelining).
 *
 * The JSON line's main figures are HTTP's; `engineDirect` carries the
 * engine-direct run and `httpShare` the ratio.
 *
 * Autocannon runs in this process, on the main thread, beside hono and the
 * gateway (the shards have their own worker threads): the load generator's
 * CPU is taken from the server's. `mainThreadBusy` (event-loop utilization
 * during the HTTP phase) shows when that thread was the limit; figures are
 * then a floor for a server with its own process. `mainThreadUsPerRequest`
 * is that thread's CPU time per measured response: unlike throughput, other
 * work on the machine hardly moves it, so it compares code changes.
 *
 * @module
 */
import type { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'
import autocannon from 'autocannon'
import { demoRuleset, openEngine, type Engine, type Logger } from '@loyalty/engine'
import { Gateway } from '@loyalty/gateway'
// The gateway package does not export its HTTP adapter (yet); it is used from source.
import { createHttpApp } from '@loyalty/gateway/http'
import { startHttpServer, type HttpServer } from '@loyalty/gateway/http'
import { atOrAfter, closedLoop, type Step } from '../load.ts'
import {
  describeCpu,
  mainThreadUnmeasured,
  mainThreadUseFor,
  serveLoadThread,
  startLoadThread,
  usPerOp,
  type MainThreadUse,
} from '../load-thread.ts'
import { count, ms, type Phase, type PhaseResult, type Reporter, rateChart } from '../report.ts'
import { between, seededRandom } from '../rng.ts'
import { checkInFlight, defineScenario, limits, shardsMax, type Options, type ScenarioResult } from '../scenario.ts'
import { removeTemporaryFolder, temporaryFolder } from '../temp.ts'

const flags = {
  accounts: { kind: 'int', description: 'accounts seeded and used', default: 100_000, min: 1, max: limits.accounts },
  seconds: { kind: 'number', description: 'length of each measured phase', default: 10, min: 0.1 },
  // The first seconds of a fresh process serve a third to a half of the steady rate (code
  // still being compiled, 256 connections opening): measured, they describe start-up.
  warmup: {
    kind: 'number',
    description: 'seconds of the same HTTP load before measuring, not measured',
    default: 2,
    min: 0,
  },
  // 256 × 4: a durable engine answers a batch per flush, so throughput is what is in flight
  // divided by latency. With --load-thread, 64 × 4 (256 in flight) measured that latency
  // (5,788 req/s at a 38 ms p50, main thread 84% busy), not what the REST path carries (9,333
  // with 1,024 in flight, main thread 98% busy). With autocannon on the server's thread both
  // settings are held to about the same figure by that thread, at three times the latency.
  connections: { kind: 'int', description: 'HTTP keep-alive connections', default: 256, min: 1, max: limits.connections },
  pipelining: { kind: 'int', description: 'requests in flight per connection', default: 4, min: 1, max: limits.pipelining },
  redeemShare: {
    kind: 'number',
    description: 'share of redeems in the mix (the rest are balance reads)',
    default: 0.5,
    min: 0,
    max: 1,
  },
  shards: { kind: 'int', description: 'shards of the data folder', default: 4, min: 1, max: shardsMax },
  workers: { kind: 'int', description: 'worker threads (0: main thread)', default: 2, min: 0, max: limits.workers },
  seedConcurrency: { kind: 'int', description: 'seeding earns in flight', default: 4096, min: 1, max: limits.inFlight },
  noSync: { kind: 'boolean', description: 'skip fsync (replies are then not durable)' },
  loadThread: {
    kind: 'boolean',
    description: 'run autocannon on its own worker thread (default: on the server\'s main thread)',
  },
  rngSeed: { kind: 'int', description: 'seed of the random mix', default: 1 },
} as const

type HttpOptions = Options<typeof flags>

const seedPoints = 1000
/** Redeems take 1 to this many points: seeded balances last for the whole run. */
const redeemPointsMax = 10
/** Statuses a correct run may answer with: a balance may (rarely) run out. */
const expectedHttpCodes = new Set(['200', '409'])
const expectedStatuses = new Set(['ok', 'insufficient_points'])

/** Counts by name, e.g. replies per status. */
class Tally {
  readonly counts: Record<string, number> = {}

  add(name: string) {
    this.counts[name] = (this.counts[name] ?? 0) + 1
  }

  describe(): string {
    return Object.entries(this.counts).map(([name, n]) => `${name} ${count(n)}`).join(', ')
  }

  total(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0)
  }
}

const accountId = (index: number) => `m${index}`

interface Rig {
  engine: Engine
  server: HttpServer
  base: string
  token: string
}

/** Engine, demo ruleset, a processor token, gateway and HTTP server on a free port. */
async function startRig(dataDir: string, options: HttpOptions, reporter: Reporter): Promise<Rig> {
  const engine = await openEngine({
    dataDir,
    shards: options.shards,
    workers: options.workers,
    noSync: options.noSync,
  })
  try {
    const published = await engine.rules.publish(demoRuleset, { activate: true, note: 'bench' })
    if (!published.ok) {
      throw new Error(`the demo ruleset does not validate: ${JSON.stringify(published.errors)}`)
    }
    const token = await engine.credentials.issueToken({ name: 'bench', role: 'processor' })
    // Anything the app logs during a run is a problem with the run: a warning, or, for an
    // error, a failure of the run.
    const logger: Logger = {
      info() {},
      warn: (message: string) => reporter.warn(message),
      error: (message: string) => reporter.fail(message),
    }
    const app = createHttpApp(new Gateway(engine), { logger, ready: () => true })
    const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' })
    return { engine, server, base: `http://127.0.0.1:${server.port}`, token: token.secret }
  } catch (error) {
    await engine.close()
    throw error
  }
}

async function seed(engine: Engine, phase: Phase, options: HttpOptions): Promise<Tally> {
  const statuses = new Tally()
  let next = 0
  const step: Step = (start) => {
    if (next >= options.accounts) return false
    const earn = { op: 'earn', account: accountId(next++), key: 'seed', points: seedPoints }
    return engine.execute(earn).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      statuses.add(reply.status)
    })
  }
  await closedLoop(options.seedConcurrency, step)
  return statuses
}

/** The mix: which op, on which account, with which key and points. */
function mixer(options: HttpOptions, seedOffset: number, tag: string) {
  const random = seededRandom(options.rngSeed + seedOffset)
  let sequence = 0
  return () => {
    const account = accountId(Math.floor(random() * options.accounts))
    if (random() >= options.redeemShare) return { op: 'balance' as const, account }
    const points = between(random, 1, redeemPointsMax)
    return { op: 'redeem' as const, account, key: `${tag}${(sequence++).toString(36)}`, points }
  }
}

interface HttpRun {
  codes: Tally
  sent: Tally
  /** Responses that came back during the warm-up, not measured. */
  warmupResponses: number
  autocannon: autocannon.Result
  mainThread: MainThreadUse
  engineCommands: number
}

/** What the load generator needs, as plain data (it may cross to a worker thread). */
interface LoadSpec {
  base: string
  token: string
  tag: string
  options: HttpOptions
}

/** Called per response: latency, when it came (epoch ms, comparable across threads), HTTP code. */
type OnResponse = (latencyMs: number, atEpochMs: number, code: number) => void

/** Runs autocannon with the mix; `onSent` hears each request's op as it is built. */
function runAutocannon(spec: LoadSpec, onResponse: OnResponse, onSent: (op: string) => void) {
  const next = mixer(spec.options, 0, spec.tag)
  const authorization = `Bearer ${spec.token}`
  const postHeaders = { authorization, 'content-type': 'application/json' }
  const getHeaders = { authorization }
  const setupRequest = (request: autocannon.Request): autocannon.Request => {
    const command = next()
    onSent(command.op)
    if (command.op === 'balance') {
      request.method = 'GET'
      request.path = `/v1/accounts/${command.account}/balance`
      request.headers = getHeaders
      request.body = ''
    } else {
      request.method = 'POST'
      request.path = `/v1/accounts/${command.account}/redeem`
      request.headers = postHeaders
      request.body = JSON.stringify({ key: command.key, points: command.points })
    }
    return request
  }
  const settings = {
    url: spec.base,
    connections: spec.options.connections,
    pipelining: spec.options.pipelining,
    // One run for the warm-up and the measured phase: the same connections and the same
    // (warm) load thread carry on, where a second run would open and compile them again.
    duration: spec.options.warmup + spec.options.seconds,
  }
  return new Promise<autocannon.Result>((resolve, reject) => {
    const finished = (error: unknown, done: autocannon.Result) => {
      if (error) reject(error)
      // Off the main thread autocannon leaves its result raw, for its own workers' parent.
      else resolve(isMainThread ? done : aggregated(done, settings))
    }
    const instance = autocannon({ ...settings, requests: [{ setupRequest }] }, finished)
    // The typings omit the client the event is emitted with first.
    const events = instance as unknown as EventEmitter
    events.on('response', (_client: unknown, code: number, _bytes: number, latencyMs: number) => {
      onResponse(latencyMs, performance.timeOrigin + performance.now(), code)
    })
  })
}

/** Autocannon's own aggregation (untyped): histograms to percentiles. */
function aggregated(raw: autocannon.Result, settings: autocannon.Options): autocannon.Result {
  const api = autocannon as unknown as {
    aggregateResult(results: unknown[], options: autocannon.Options): autocannon.Result
  }
  return api.aggregateResult([raw], settings)
}

const loadRole = 'loyalty-bench-http-load'

// This module is also the load thread's entry: there it runs autocannon and nothing else.
serveLoadThread(loadRole, async (spec: LoadSpec, sink, ready) => {
  await ready()
  return runAutocannon(spec, (latencyMs, _at, code) => sink.response(latencyMs, String(code)), (op) => sink.sent(op))
})

/**
 * Autocannon against the server for the warm-up and then the measured phase;
 * each response's latency goes into the phase it came back in. The clock
 * starts once the load thread, if any, has loaded, so its start-up is not
 * counted; the measured phase opens `warmup` seconds later.
 */
async function httpLoad(rig: Rig, reporter: Reporter, options: HttpOptions): Promise<HttpRun> {
  const tag = `h${Date.now().toString(36)}-`
  const spec: LoadSpec = { base: rig.base, token: rig.token, tag, options }
  const codes = new Tally()
  const sent = new Tally()
  let warming: Phase | undefined
  let phase: Phase | undefined
  /** When the measured phase opened, in epoch ms (responses from before it are the warm-up's). */
  let openedAt = Infinity
  let warmupResponses = 0
  let answeredBefore = 0
  let busy: Promise<MainThreadUse> = Promise.resolve(mainThreadUnmeasured)
  const open = () => {
    if (warming !== undefined) reporter.endPhase()
    phase = reporter.phase('http', { durationMs: options.seconds * 1000 })
    openedAt = performance.timeOrigin + performance.now()
    answeredBefore = rig.engine.stats().answered
    busy = mainThreadUseFor(options.seconds * 1000)
  }
  const begin = () => {
    if (options.warmup === 0) return open()
    warming = reporter.phase('warm-up', { durationMs: options.warmup * 1000 })
    atOrAfter(performance.now() + options.warmup * 1000, open)
  }
  const record: OnResponse = (latencyMs, atEpochMs, code) => {
    const at = atEpochMs - performance.timeOrigin
    if (atEpochMs < openedAt) {
      warming?.record(latencyMs, at)
      warmupResponses++
      return
    }
    phase!.record(latencyMs, at)
    codes.add(String(code))
  }
  const onSent = (op: string) => {
    if (phase !== undefined) sent.add(op)
  }
  let result: autocannon.Result
  if (options.loadThread) {
    result = await startLoadThread<LoadSpec, autocannon.Result>(import.meta.url, loadRole, spec, {
      onReady: begin,
      onBatch: (batch) => {
        batch.latencies.forEach((latencyMs, i) => record(latencyMs, batch.at[i]!, Number(batch.labels[i])))
        for (const op of batch.sent) onSent(op)
      },
    })
  } else {
    begin()
    result = await runAutocannon(spec, record, onSent)
  }
  return {
    codes,
    sent,
    warmupResponses,
    autocannon: result,
    mainThread: await busy,
    engineCommands: rig.engine.stats().answered - answeredBefore,
  }
}

/** The same mix through `engine.execute`, with as many commands in flight as HTTP had. */
async function engineLoad(engine: Engine, phase: Phase, options: HttpOptions): Promise<Tally> {
  const next = mixer(options, 1, `e${Date.now().toString(36)}-`)
  const statuses = new Tally()
  const deadline = phase.startedAt + options.seconds * 1000
  const step: Step = (start) => {
    if (start >= deadline) return false
    return engine.execute(next()).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      statuses.add(reply.status)
    })
  }
  await closedLoop(options.connections * options.pipelining, step)
  return statuses
}

const round3 = (value: number) => Math.round(value * 1000) / 1000

function figures(result: PhaseResult) {
  return {
    ops: result.ops,
    opsPerSec: Math.round(result.opsPerSec),
    p50Ms: round3(result.histogram.percentile(50) / 1000),
    p99Ms: round3(result.histogram.percentile(99) / 1000),
  }
}

/** Fails the run for responses and replies a correct server would not give, and for lost requests. */
function checkRun(reporter: Reporter, seedStatuses: Tally, http: HttpRun, direct: Tally) {
  reporter.failUnexpected('seed', 'replies with status', seedStatuses.counts, new Set(['ok']))
  reporter.failUnexpected('http', 'responses with HTTP', http.codes.counts, expectedHttpCodes)
  reporter.failUnexpected('engine-direct', 'replies with status', direct.counts, expectedStatuses)
  const failures = http.autocannon.errors + http.autocannon.timeouts
  if (failures > 0) reporter.fail(`http: ${count(failures)} connection errors or timeouts`)
}

async function runOnRig(rig: Rig, options: HttpOptions, reporter: Reporter) {
  const seeding = reporter.phase('seed', { total: options.accounts })
  const seedStatuses = await seed(rig.engine, seeding, options)
  const seeded = reporter.endPhase()!
  const durationMs = options.seconds * 1000
  const http = await httpLoad(rig, reporter, options)
  const measured = reporter.endPhase()!
  const directPhase = reporter.phase('engine-direct', { durationMs })
  const direct = await engineLoad(rig.engine, directPhase, options)
  const directResult = reporter.endPhase()!
  reporter.expectOps(directResult)
  const engineDirect = figures(directResult)
  checkRun(reporter, seedStatuses, http, direct)
  const httpShare = round3(measured.opsPerSec / Math.max(1, engineDirect.opsPerSec))
  const latency = http.autocannon.latency
  const fields = {
    accounts: options.accounts,
    connections: options.connections,
    pipelining: options.pipelining,
    redeemShare: options.redeemShare,
    shards: rig.engine.shards,
    workers: rig.engine.workers,
    durable: rig.engine.durable,
    seedOps: seeded.ops,
    seedOpsPerSec: Math.round(seeded.opsPerSec),
    seedStatuses: seedStatuses.counts,
    warmupSeconds: options.warmup,
    warmupResponses: http.warmupResponses,
    httpCodes: http.codes.counts,
    requestsSent: http.sent.counts,
    engineCommands: http.engineCommands,
    // Autocannon's own figures span the warm-up and the measured phase (one run).
    autocannon: {
      requests: http.autocannon.requests.total,
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      errors: http.autocannon.errors,
      timeouts: http.autocannon.timeouts,
      non2xx: http.autocannon.non2xx,
    },
    loadThread: options.loadThread,
    mainThreadBusy: round3(http.mainThread.busy),
    mainThreadUsPerRequest: usPerOp(http.mainThread, measured.ops),
    engineDirect: { ...engineDirect, statuses: direct.counts },
    httpShare,
  }
  const httpFigures = figures(measured)
  const mainThread = options.loadThread
    ? 'hono + gateway; autocannon on its own thread'
    : 'autocannon + hono + gateway'
  const notes = [
    `seed: ${count(seeded.ops)} earns at ${count(seeded.opsPerSec)} ops/s (engine-direct)`,
    `HTTP:          ${count(measured.opsPerSec)} req/s, p50 ${ms(httpFigures.p50Ms)} ms, ` +
      `p99 ${ms(httpFigures.p99Ms)} ms (${options.connections} connections × ` +
      `${options.pipelining} pipelined), ` +
      (options.warmup > 0 ? `after ${options.warmup} s of the same load (not counted)` : 'without a warm-up (--warmup 0)'),
    `engine-direct: ${count(engineDirect.opsPerSec)} ops/s, p50 ${ms(engineDirect.p50Ms)} ms, ` +
      `p99 ${ms(engineDirect.p99Ms)} ms (${options.connections * options.pipelining} in flight)`,
    `HTTP reaches ${(httpShare * 100).toFixed(0)}% of engine-direct; ` +
      `HTTP codes: ${http.codes.describe()}; sent: ${http.sent.describe()}`,
    `main thread (${mainThread}) ` +
      `busy ${(http.mainThread.busy * 100).toFixed(0)}% of the HTTP phase` +
      `${describeCpu(http.mainThread, measured.ops, 'a request')}; ` +
      `${rig.engine.shards} shards on ${rig.engine.workers} workers, durable ${rig.engine.durable}`,
  ]
  const charts = [rateChart('throughput, same mix, same run (requests or commands a second)', '/s', [
    ['http', measured.opsPerSec],
    ['engine-direct', directResult.opsPerSec],
  ])]
  return { measured, fields, notes, charts }
}

export const scenario = defineScenario({
  name: 'http',
  description: 'REST throughput and latency (autocannon) beside engine-direct, same mix',
  flags,
  check(options) {
    checkInFlight(['connections', options.connections], ['pipelining', options.pipelining])
  },
  async run(options, reporter): Promise<ScenarioResult> {
    const dataDir = temporaryFolder('loyalty-bench-http-')
    reporter.note(`http: data folder ${dataDir} (temporary)`)
    try {
      const rig = await startRig(dataDir, options, reporter)
      try {
        return await runOnRig(rig, options, reporter)
      } finally {
        await rig.server.close()
        await rig.engine.close()
      }
    } finally {
      removeTemporaryFolder(dataDir)
    }
  },
})
