/**
 * Scenario `grpc`: the gRPC bidirectional Stream against engine-direct, in
 * one run (with `--batch` above 1, the `Bulk` call, many requests a message). Opens a durable engine on a temporary LMDB folder with the demo
 * ruleset, seeds every account with one earn (engine-direct), then starts a
 * gateway and the gRPC server in-process and drives `--streams` Streams
 * (each on its own connection) that keep `--window` requests in flight, with
 * a mix of earn, redeem and balance. The same mix then runs engine-direct for
 * the same time with the same number of commands in flight
 * (`streams × window`), so the JSON line carries both: the main figures are
 * gRPC's, `engineDirect` is the baseline.
 *
 * The clients run in the server's process, by default on its thread, so they
 * compete with the server for CPU: the gRPC figure is a lower bound for the
 * server. `--load-thread` gives them a worker thread of their own (on the
 * same cores); `mainThreadBusy` says how busy the server's thread was.
 *
 * @module
 */
import { performance } from 'node:perf_hooks'
import { Client, credentials, Metadata } from '@grpc/grpc-js'
import { loadSync, type MethodDefinition, type ServiceDefinition } from '@grpc/proto-loader'
import { demoRuleset, openEngine, silentLogger, type Engine } from '@loyalty/engine'
import { Gateway } from '@loyalty/gateway'
// The gateway package exports its core only; the gRPC adapter is imported by path.
import {
  loyaltyProtoPath,
  protoLoadOptions,
  serviceName,
  startGrpcServer,
} from '@loyalty/gateway/grpc'
import { closedLoop } from '../load.ts'
import {
  describeCpu,
  mainThreadUnmeasured,
  mainThreadUseFor,
  serveLoadThread,
  startLoadThread,
  usPerOp,
  type LoadSink,
  type MainThreadUse,
  type Ready,
} from '../load-thread.ts'
import { count, ms, type Phase, type PhaseResult, type Reporter, phaseFigures, rateChart } from '../report.ts'
import { between, seededRandom } from '../rng.ts'
import { checkInFlight, defineScenario, limits, shardsMax, type Options, type ScenarioResult } from '../scenario.ts'
import { removeTemporaryFolder, temporaryFolder } from '../temp.ts'

const flags = {
  accounts: { kind: 'int', description: 'accounts seeded and used', default: 100_000, min: 1, max: limits.accounts },
  seconds: { kind: 'number', description: 'length of each measured phase', default: 10, min: 0.1 },
  streams: {
    kind: 'int',
    description: 'concurrent gRPC Streams, one connection each',
    default: 16,
    min: 1,
    max: limits.connections,
  },
  window: { kind: 'int', description: 'requests in flight per Stream', default: 256, min: 1, max: limits.streamWindow },
  batch: {
    kind: 'int',
    description: 'requests per message: 1 drives the Stream call, more the Bulk call',
    default: 1,
    min: 1,
    max: limits.streamWindow,
  },
  warmup: {
    kind: 'number',
    description: 'unmeasured gRPC seconds before measuring',
    default: 2,
    min: 0,
  },
  shards: { kind: 'int', description: 'shards of the data folder', default: 4, min: 1, max: shardsMax },
  workers: { kind: 'int', description: 'worker threads (0: main thread)', default: 2, min: 0, max: limits.workers },
  seedConcurrency: { kind: 'int', description: 'seed earns in flight', default: 4096, min: 1, max: limits.inFlight },
  loadThread: {
    kind: 'boolean',
    description: "run the gRPC clients on their own worker thread (default: on the server's main thread)",
  },
  rngSeed: { kind: 'int', description: 'seed of the random mix', default: 1 },
} as const

type GrpcOptions = Options<typeof flags>

/** The measured mix, percent per operation. */
const mix = [
  ['earn', 40],
  ['redeem', 30],
  ['balance', 30],
] as const

type Op = (typeof mix)[number][0]

const seedPoints = 1000
/** Statuses a correct server may answer the mix with. */
const expectedStatuses = new Set(['ok', 'insufficient_points'])

interface Command {
  op: Op
  fields: Record<string, unknown>
}

/** Replies per status and commands per operation of one phase. */
interface Tally {
  statuses: Map<string, number>
  ops: Map<string, number>
}

function newTally(): Tally {
  return { statuses: new Map(), ops: new Map() }
}

function add(counts: Map<string, number>, name: string): void {
  counts.set(name, (counts.get(name) ?? 0) + 1)
}

function sorted(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]))
}

function describe(counts: Map<string, number>): string {
  return Object.entries(sorted(counts)).map(([name, n]) => `${name} ${count(n)}`).join(', ')
}

function accountId(index: number): string {
  return `m${index}`
}

/** The mix as a generator of commands; keys are unique per run. */
function mixer(accounts: number, seed: number): () => Command {
  const random = seededRandom(seed)
  const tag = `g${seed}-${Date.now().toString(36)}-`
  let sequence = 0
  const pickOp = (): Op => {
    let roll = random() * 100
    for (const [op, weight] of mix) if ((roll -= weight) < 0) return op
    return 'earn'
  }
  return () => {
    const account = accountId(Math.floor(random() * accounts))
    const op = pickOp()
    if (op === 'balance') return { op, fields: { account } }
    const key = tag + (sequence++).toString(36)
    const points = op === 'earn' ? between(random, 1, 200) : between(random, 1, 50)
    return { op, fields: { account, key, points } }
  }
}

async function seed(engine: Engine, phase: Phase, options: GrpcOptions, tally: Tally) {
  let next = 0
  await closedLoop(options.seedConcurrency, (start) => {
    if (next >= options.accounts) return false
    const command = { op: 'earn', account: accountId(next++), key: 'seed', points: seedPoints }
    return engine.execute(command).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      add(tally.statuses, reply.status)
    })
  })
}

type Message = Record<string, unknown>

/** The call the load drives: `Stream` for one request a message, `Bulk` for more. */
const callName = (batch: number) => (batch === 1 ? 'Stream' : 'Bulk')

/** The method as the client sees it: decoded without defaults, like the server. */
function streamMethod(name: string): MethodDefinition<Message, Message> {
  const definition = loadSync(loyaltyProtoPath, protoLoadOptions)
  const method = (definition[serviceName] as ServiceDefinition)[name]
  if (method === undefined) throw new Error(`${serviceName} has no ${name} method`)
  return method as MethodDefinition<Message, Message>
}

interface StreamLoad {
  method: MethodDefinition<Message, Message>
  metadata: Metadata
  window: number
  /** Requests per message (the `Bulk` call when above 1). */
  batch: number
  /** `performance.now()` time after which no request is sent. */
  deadline: number
  next: () => Command
  sink: LoadSink
}

/**
 * One Stream (or Bulk call) keeping `window` requests in flight until the
 * deadline, then half-closing once every reply is in. Resolves when the
 * server ends it. With `batch` above 1 the requests of one turn leave
 * together, up to `batch` a message.
 */
function driveStream(client: Client, load: StreamLoad): Promise<void> {
  const { method, batch } = load
  const call = client.makeBidiStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    load.metadata,
  )
  const sent = new Map<string, { start: number; op: Op }>()
  let sequence = 0
  let closing = false
  let outgoing: Message[] = []
  let flushScheduled = false
  const flush = () => {
    flushScheduled = false
    if (outgoing.length === 0) return
    call.write({ requests: outgoing })
    outgoing = []
  }
  const send = () => {
    if (performance.now() >= load.deadline) {
      if (!closing && sent.size === 0) {
        closing = true
        call.end()
      }
      return
    }
    const { op, fields } = load.next()
    const id = (sequence++).toString(36)
    load.sink.sent(op)
    sent.set(id, { start: performance.now(), op })
    if (batch === 1) {
      call.write({ id, [op]: fields })
      return
    }
    outgoing.push({ id, [op]: fields })
    if (outgoing.length >= batch) flush()
    else if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
  }
  return new Promise((resolve, reject) => {
    const answered = (message: Message, now: number) => {
      const id = String(message['id'] ?? '')
      const request = sent.get(id)
      if (request === undefined) {
        reject(new Error(`a reply with unknown id ${JSON.stringify(id)}`))
        return
      }
      sent.delete(id)
      const reply = message['reply'] as Message | undefined
      // proto3 leaves the zero enum (OK) off the wire, and the client keeps no defaults.
      load.sink.response(now - request.start, String(reply?.['status'] ?? 'OK').toLowerCase())
      send()
    }
    call.on('data', (message: Message) => {
      const now = performance.now()
      if (batch === 1) answered(message, now)
      else for (const reply of (message['replies'] as Message[] | undefined) ?? []) answered(reply, now)
    })
    call.on('end', resolve)
    call.on('error', reject)
    for (let i = 0; i < load.window; i++) send()
  })
}

/** What the clients need, as plain data (it may cross to a worker thread). */
interface GrpcLoadSpec {
  port: number
  token: string
  streams: number
  window: number
  batch: number
  accounts: number
  warmupMs: number
  durationMs: number
  rngSeed: number
}

/** What every Stream of a run shares. */
interface StreamSetup {
  clients: Client[]
  method: MethodDefinition<Message, Message>
  metadata: Metadata
}

/** Runs the mix over every client's Stream until `deadline` (a `performance.now()` time). */
async function streamsLoad(setup: StreamSetup, spec: GrpcLoadSpec, deadline: number, seed: number, sink: LoadSink) {
  await Promise.all(setup.clients.map((client, i) => driveStream(client, {
    method: setup.method,
    metadata: setup.metadata,
    window: spec.window,
    batch: spec.batch,
    deadline,
    next: mixer(spec.accounts, seed + i),
    sink,
  })))
}

/**
 * Connects and warms up (unmeasured: reported to `sink` after `warmingUp()`,
 * for progress), says it is ready, then runs the load for the phase.
 */
async function clientsLoad(spec: GrpcLoadSpec, sink: LoadSink, ready: Ready, warmingUp: () => void): Promise<null> {
  const metadata = new Metadata()
  metadata.set('authorization', `Bearer ${spec.token}`)
  const setup = { clients: openClients(spec.port, spec.streams), method: streamMethod(callName(spec.batch)), metadata }
  try {
    if (spec.warmupMs > 0) {
      warmingUp()
      await streamsLoad(setup, spec, performance.now() + spec.warmupMs, spec.rngSeed + 1000, sink)
    }
    const deadline = (await ready()) + spec.durationMs
    await streamsLoad(setup, spec, deadline, spec.rngSeed, sink)
  } finally {
    for (const client of setup.clients) client.close()
  }
  return null
}

const loadRole = 'loyalty-bench-grpc-load'

// This module is also the load thread's entry: there it runs the clients and nothing else.
serveLoadThread(loadRole, clientsLoad)

/**
 * The clients against the server, on this thread or on a load thread; the
 * warm-up shows its progress as a phase of its own, and the measured phase
 * opens after it. Returns the tally and how busy the main thread was during
 * the measured phase.
 */
async function grpcLoad(spec: GrpcLoadSpec, loadThread: boolean, phases: { warmup: () => Phase; measured: () => Phase }) {
  const tally = newTally()
  let warming: Phase | undefined
  let phase: Phase | undefined
  let busy: Promise<MainThreadUse> = Promise.resolve(mainThreadUnmeasured)
  const warm = () => {
    warming = phases.warmup()
  }
  const start = () => {
    phase = phases.measured()
    busy = mainThreadUseFor(spec.durationMs)
  }
  const record = (latencyMs: number, at: number, status: string) => {
    phase!.record(latencyMs, at)
    add(tally.statuses, status)
  }
  if (loadThread) {
    await startLoadThread(import.meta.url, loadRole, spec, {
      onReady: start,
      onBatch: (batch) => {
        batch.latencies.forEach((latencyMs, i) => record(latencyMs, batch.at[i]! - performance.timeOrigin, batch.labels[i]!))
        for (const op of batch.sent) add(tally.ops, op)
      },
      onWarmingUp: warm,
      onWarmupBatch: (batch) =>
        batch.latencies.forEach((latencyMs, i) => warming?.record(latencyMs, batch.at[i]! - performance.timeOrigin)),
    })
  } else {
    let measuring = false
    const sink: LoadSink = {
      response: (latencyMs, status) => {
        if (measuring) record(latencyMs, performance.now(), status)
        else warming?.record(latencyMs, performance.now())
      },
      sent: (op) => measuring && add(tally.ops, op),
    }
    const ready = async () => {
      start()
      measuring = true
      return phase!.startedAt
    }
    await clientsLoad(spec, sink, ready, warm)
  }
  return { tally, mainThread: await busy }
}

/** The same mix engine-direct, with `streams × window` commands in flight. */
async function engineLoad(engine: Engine, options: GrpcOptions, phase: Phase, seed: number) {
  const tally = newTally()
  const next = mixer(options.accounts, seed)
  const deadline = phase.startedAt + options.seconds * 1000
  await closedLoop(options.streams * options.window, (start) => {
    if (start >= deadline) return false
    const { op, fields } = next()
    return engine.execute({ op, ...fields }).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      add(tally.statuses, reply.status)
      add(tally.ops, op)
    })
  })
  return tally
}

function describeFigures(f: { opsPerSec: number; p50Ms: number; p99Ms: number }): string {
  return `${count(f.opsPerSec)} ops/s, p50 ${ms(f.p50Ms)} ms, p99 ${ms(f.p99Ms)} ms`
}

/** Fails the run for replies whose status a correct server would not give. */
function checkStatuses(reporter: Reporter, phase: string, tally: Tally, allowed: Set<string>) {
  reporter.failUnexpected(phase, 'replies with status', tally.statuses, allowed)
}

function openClients(port: number, streams: number): Client[] {
  // A local subchannel pool gives each client its own connection, as separate
  // callers would have; grpc-js otherwise shares one per target.
  const channelOptions = { 'grpc.use_local_subchannel_pool': 1 }
  return Array.from({ length: streams }, () =>
    new Client(`127.0.0.1:${port}`, credentials.createInsecure(), channelOptions))
}

async function runOnEngine(
  engine: Engine,
  options: GrpcOptions,
  reporter: Reporter,
): Promise<ScenarioResult> {
  const seedTally = newTally()
  await seed(engine, reporter.phase('seed', { total: options.accounts }), options, seedTally)
  const seeded = reporter.endPhase()!
  checkStatuses(reporter, 'seed', seedTally, new Set(['ok']))

  const issued = await engine.credentials.issueToken({ name: 'bench', role: 'processor' })
  const token = issued.secret
  const gateway = new Gateway(engine)
  const listen = { port: 0, host: '127.0.0.1', logger: silentLogger }
  const server = await startGrpcServer(gateway, listen)
  let grpcTally: Tally
  let measured: PhaseResult
  let mainThread: MainThreadUse
  try {
    const spec: GrpcLoadSpec = {
      port: server.port,
      token,
      streams: options.streams,
      window: options.window,
      batch: options.batch,
      accounts: options.accounts,
      warmupMs: options.warmup * 1000,
      durationMs: options.seconds * 1000,
      rngSeed: options.rngSeed,
    }
    if (options.warmup > 0) {
      const where = options.loadThread ? ' on the load thread' : ''
      reporter.note(`grpc: ${options.streams} streams warming up for ${options.warmup} s${where} (not measured)`)
    }
    const run = await grpcLoad(spec, options.loadThread, {
      warmup: () => reporter.phase('warm-up', { durationMs: spec.warmupMs }),
      measured: () => reporter.phase('grpc', { durationMs: spec.durationMs }),
    })
    grpcTally = run.tally
    mainThread = run.mainThread
    measured = reporter.endPhase()!
  } finally {
    await server.close()
  }
  checkStatuses(reporter, 'grpc', grpcTally, expectedStatuses)

  const direct = reporter.phase('engine-direct', { durationMs: options.seconds * 1000 })
  const directTally = await engineLoad(engine, options, direct, options.rngSeed + 7)
  const baseline = reporter.endPhase()!
  reporter.expectOps(baseline)
  checkStatuses(reporter, 'engine-direct', directTally, expectedStatuses)

  const grpcFigures = phaseFigures(measured)
  const engineDirect = { ...phaseFigures(baseline), statuses: sorted(directTally.statuses) }
  const share = baseline.opsPerSec === 0 ? 0 : measured.opsPerSec / baseline.opsPerSec
  const ratio = Math.round(share * 1000) / 1000
  const inFlight = options.streams * options.window
  return {
    measured,
    fields: {
      accounts: options.accounts,
      streams: options.streams,
      window: options.window,
      batch: options.batch,
      call: callName(options.batch),
      inFlight,
      shards: engine.shards,
      workers: engine.workers,
      durable: engine.durable,
      seedOps: seeded.ops,
      seedOpsPerSec: Math.round(seeded.opsPerSec),
      statuses: sorted(grpcTally.statuses),
      opCounts: sorted(grpcTally.ops),
      loadThread: options.loadThread,
      mainThreadBusy: Math.round(mainThread.busy * 1000) / 1000,
      mainThreadUsPerOp: usPerOp(mainThread, measured.ops),
      engineDirect,
      ratio,
    },
    charts: [rateChart('throughput, same mix, same run', 'ops/s', [
      [`gRPC ${callName(options.batch)}`, measured.opsPerSec],
      ['engine-direct', baseline.opsPerSec],
    ])],
    notes: [
      `gRPC ${callName(options.batch)}: ${describeFigures(grpcFigures)} ` +
        `(${options.streams} streams × ${options.window} in flight` +
        `${options.batch > 1 ? `, up to ${options.batch} requests a message` : ''})`,
      `engine-direct: ${describeFigures(engineDirect)} (${count(inFlight)} in flight); ` +
        `gRPC = ${(ratio * 100).toFixed(0)}% of it`,
      `seed: ${count(seeded.ops)} earns at ${count(seeded.opsPerSec)} ops/s; ` +
        `${count(options.accounts)} accounts, ${engine.shards} shards, ` +
        `${engine.workers} workers, durable ${engine.durable}`,
      `gRPC statuses: ${describe(grpcTally.statuses)}; commands sent: ${describe(grpcTally.ops)}`,
      `engine-direct statuses: ${describe(directTally.statuses)}`,
      `main thread (${options.loadThread ? 'server; clients on their own thread' : 'clients + server'}) ` +
        `busy ${(mainThread.busy * 100).toFixed(0)}% of the gRPC phase${describeCpu(mainThread, measured.ops, 'an operation')}`,
    ],
  }
}

export const scenario = defineScenario({
  name: 'grpc',
  description: 'gRPC bidirectional Stream (or Bulk) throughput and latency, beside engine-direct',
  flags,
  check(options) {
    checkInFlight(['streams', options.streams], ['window', options.window])
  },
  async run(options, reporter): Promise<ScenarioResult> {
    const dataDir = temporaryFolder('loyalty-bench-grpc-')
    reporter.note(`grpc: data folder ${dataDir} (temporary)`)
    try {
      const engine = await openEngine({ dataDir, shards: options.shards, workers: options.workers })
      try {
        const published = await engine.rules.publish(demoRuleset, { activate: true })
        if (!published.ok) {
          throw new Error(`the demo ruleset does not validate: ${JSON.stringify(published.errors)}`)
        }
        return await runOnEngine(engine, options, reporter)
      } finally {
        await engine.close()
      }
    } finally {
      removeTemporaryFolder(dataDir)
    }
  },
})
