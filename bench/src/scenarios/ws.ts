/**
 * Scenario `ws`: POS terminals over WebSocket. Starts an engine (durable, on
 * a temporary data folder), the gateway and its WebSocket server in this
 * process; seeds accounts engine-direct; then `--terminals` connections each
 * keep `--window` requests in flight (MessagePack frames by default) with a
 * till's mix: earn 40%, redeem 30%, balance 30%. The same mix then runs
 * engine-direct for the same time, so the JSON line carries both
 * (`engineDirect`) from one run on one machine.
 *
 * The clients run in this process too (the `ws` library), so the figure
 * includes their CPU: on a 2-core machine it is a floor for what the
 * gateway does with its clients elsewhere. By default they share the
 * server's main thread; `--load-thread` gives them a worker thread of their
 * own (still on the same cores), as terminals on other machines would not
 * take the gateway's event loop. `mainThreadBusy` tells which was the case.
 *
 * @module
 */
import { performance } from 'node:perf_hooks'
import { Packr } from 'msgpackr'
import WebSocket from 'ws'
import { demoRuleset, openEngine, silentLogger, type Engine } from '@loyalty/engine'
import { Gateway } from '@loyalty/gateway'
import { startWsServer } from '@loyalty/gateway/ws'
import { atOrAfter, closedLoop } from '../load.ts'
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
import { count, type Phase, type PhaseResult, type Reporter, phaseFigures, rateChart } from '../report.ts'
import { between, seededRandom } from '../rng.ts'
import { checkInFlight, defineScenario, limits, shardsMax, type ScenarioResult } from '../scenario.ts'
import { removeTemporaryFolder, temporaryFolder } from '../temp.ts'

const flags = {
  accounts: { kind: 'int', description: 'accounts seeded and used', default: 100_000, min: 1, max: limits.accounts },
  seconds: { kind: 'number', description: 'length of each measured phase', default: 10, min: 0.1 },
  warmup: {
    kind: 'number',
    description: 'seconds of the same load before measuring, not measured',
    default: 2,
    min: 0,
  },
  terminals: { kind: 'int', description: 'WebSocket connections', default: 16, min: 1, max: limits.connections },
  window: { kind: 'int', description: 'requests in flight per connection', default: 256, min: 1, max: limits.connectionWindow },
  encoding: { kind: 'string', description: 'frames', default: 'msgpack', choices: ['msgpack', 'json'] },
  shards: { kind: 'int', description: 'shards of the data folder', default: 4, min: 1, max: shardsMax },
  workers: { kind: 'int', description: 'engine worker threads', default: 2, min: 0, max: limits.workers },
  loadThread: {
    kind: 'boolean',
    description: "run the terminals on their own worker thread (default: on the server's main thread)",
  },
  rngSeed: { kind: 'int', description: 'seed of the mix', default: 1 },
} as const

const packr = new Packr({ useRecords: false })
const terminalSecret = 'bench-terminal-secret-000000'

type Input = Record<string, unknown> & { op: string; account: string }

/** The till's mix: one command per call, with a fresh key. */
function mixer(accounts: number, seed: number): () => Input {
  const random = seededRandom(seed)
  const tag = `w${seed}-${Date.now().toString(36)}-`
  let sequence = 0
  return () => {
    const account = `a${Math.floor(random() * accounts)}`
    const roll = random()
    if (roll < 0.4) return { op: 'earn', account, key: tag + (sequence++).toString(36), points: between(random, 1, 200) }
    if (roll < 0.7) return { op: 'redeem', account, key: tag + (sequence++).toString(36), points: between(random, 1, 20) }
    return { op: 'balance', account }
  }
}

function add(counts: Map<string, number>, name: string): void {
  counts.set(name, (counts.get(name) ?? 0) + 1)
}

/** Seeds every account with one earn; the replies by status. */
async function seed(engine: Engine, phase: Phase, accounts: number): Promise<Map<string, number>> {
  const statuses = new Map<string, number>()
  let next = 0
  await closedLoop(2048, (start) => {
    if (next >= accounts) return false
    const account = `a${next++}`
    return engine.execute({ op: 'earn', account, key: 'seed', points: 100_000 }).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      add(statuses, reply.status)
    })
  })
  return statuses
}

/** Opens one terminal's connection, authenticated at the upgrade. */
async function connect(url: string): Promise<WebSocket> {
  const auth = `Basic ${Buffer.from(`bench-till:${terminalSecret}`).toString('base64')}`
  // A zero mask: masking guards browsers' proxies, and random masks cost the client more CPU than
  // the server spends on the request.
  const ws = new WebSocket(url, { headers: { authorization: auth }, generateMask: () => {} })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return ws
}

/** One terminal keeping `window` requests in flight until the deadline, then until every reply is in. */
async function terminalLoad(ws: WebSocket, deadline: number, window: number, next: () => Input, binary: boolean, sink: LoadSink) {
  const started = new Map<number, number>()
  let id = 0
  let inFlight = 0
  let refillScheduled = false
  let finish: () => void = () => {}
  let fail: (error: Error) => void = () => {}
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve
    fail = reject
  })
  // A connection lost mid-run fails the run at once, saying how, rather than waiting forever.
  ws.once('close', (code: number) => fail(new Error(`a terminal's connection closed (code ${code}) with ${inFlight} requests in flight`)))
  ws.once('error', (error: Error) => fail(error))
  const socket = (ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket
  const send = () => {
    // Corked, the frames sent in one go leave in one write, as a real pipelining client's would.
    socket.cork()
    while (inFlight < window && performance.now() < deadline) {
      const frame = { id: ++id, ...next() }
      started.set(id, performance.now())
      inFlight++
      ws.send(binary ? packr.pack(frame) : JSON.stringify(frame))
    }
    socket.uncork()
    if (inFlight === 0) finish()
  }
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const reply = (isBinary ? packr.unpack(data) : JSON.parse(String(data))) as { id: number; status: string }
    sink.response(performance.now() - started.get(reply.id)!, reply.status)
    started.delete(reply.id)
    inFlight--
    // Replies come in bursts: refill the window once the burst is read, in one write.
    if (!refillScheduled) {
      refillScheduled = true
      setImmediate(() => {
        refillScheduled = false
        send()
      })
    }
  })
  send()
  await done
  ws.removeAllListeners('close')
  ws.close()
}

/** What the terminals need, as plain data (it may cross to a worker thread). */
interface WsLoadSpec {
  url: string
  terminals: number
  window: number
  /** The terminals run this long first, unmeasured, then `durationMs` more. */
  warmupMs: number
  durationMs: number
  accounts: number
  rngSeed: number
  binary: boolean
}

/**
 * Connects every terminal (not measured), then keeps `window` requests in
 * flight on each for the warm-up and the measured phase, on the same
 * connections.
 */
async function terminalsLoad(spec: WsLoadSpec, sink: LoadSink, ready: Ready): Promise<null> {
  const terminals = await Promise.all(Array.from({ length: spec.terminals }, () => connect(spec.url)))
  const deadline = (await ready()) + spec.warmupMs + spec.durationMs
  await Promise.all(
    terminals.map((ws, t) =>
      terminalLoad(ws, deadline, spec.window, mixer(spec.accounts, spec.rngSeed + t), spec.binary, sink),
    ),
  )
  return null
}

const loadRole = 'loyalty-bench-ws-load'

// This module is also the load thread's entry: there it runs the terminals and nothing else.
serveLoadThread(loadRole, terminalsLoad)

/**
 * The terminals against the server, on this thread or on a load thread: the
 * warm-up once they are connected, then the measured phase. Returns the
 * measured replies by status, how many came back in the warm-up, and how
 * busy the main thread was during the measured phase.
 */
async function wsLoad(spec: WsLoadSpec, loadThread: boolean, reporter: Reporter) {
  const statuses = new Map<string, number>()
  let warming: Phase | undefined
  let phase: Phase | undefined
  /** When the measured phase opened (performance.now()); replies before it are the warm-up's. */
  let openedAt = Infinity
  let warmupReplies = 0
  let busy: Promise<MainThreadUse> = Promise.resolve(mainThreadUnmeasured)
  const open = () => {
    if (warming !== undefined) reporter.endPhase()
    phase = reporter.phase('websocket', { durationMs: spec.durationMs })
    openedAt = phase.startedAt
    busy = mainThreadUseFor(spec.durationMs)
  }
  /** Starts the warm-up, then the measured phase no sooner than `warmupMs` after the time it returns (the terminals' deadline counts from it). */
  const begin = () => {
    const start = performance.now()
    if (spec.warmupMs === 0) open()
    else {
      warming = reporter.phase('warm-up', { durationMs: spec.warmupMs })
      atOrAfter(start + spec.warmupMs, open)
    }
    return start
  }
  const record = (latencyMs: number, at: number, status: string) => {
    if (at < openedAt) {
      warming?.record(latencyMs, at)
      warmupReplies++
      return
    }
    phase!.record(latencyMs, at)
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
  }
  if (loadThread) {
    await startLoadThread(import.meta.url, loadRole, spec, {
      onReady: begin,
      onBatch: (batch) =>
        batch.latencies.forEach((latencyMs, i) => record(latencyMs, batch.at[i]! - performance.timeOrigin, batch.labels[i]!)),
    })
  } else {
    const sink: LoadSink = {
      response: (latencyMs, status) => record(latencyMs, performance.now(), status),
      sent() {},
    }
    await terminalsLoad(spec, sink, async () => begin())
  }
  return { statuses, warmupReplies, mainThread: await busy }
}

/** The same mix engine-direct; the replies by status. */
async function engineDirect(engine: Engine, phase: Phase, seconds: number, concurrency: number, next: () => Input) {
  const statuses = new Map<string, number>()
  const deadline = phase.startedAt + seconds * 1000
  await closedLoop(concurrency, (start) => {
    if (start >= deadline) return false
    return engine.execute(next()).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      add(statuses, reply.status)
    })
  })
  return statuses
}

export const scenario = defineScenario({
  name: 'ws',
  description: 'POS terminals over WebSocket (pipelined), beside engine-direct, durable',
  flags,
  check(options) {
    checkInFlight(['terminals', options.terminals], ['window', options.window])
  },
  async run(options, reporter: Reporter): Promise<ScenarioResult> {
    const dataDir = temporaryFolder('loyalty-bench-ws-')
    reporter.note(`ws: data folder ${dataDir} (temporary)`)
    const engine = await openEngine({ dataDir, shards: options.shards, workers: options.workers, logger: silentLogger })
    try {
      await engine.rules.publish(demoRuleset, { activate: true })
      await engine.credentials.issueTerminal({ id: 'bench-till', name: 'Bench till' }, terminalSecret)
      const gateway = new Gateway(engine)
      // Checked once here, so the terminals' upgrades are the synchronous ones a reconnecting
      // till gets, not a first sight's (scrypt, then an asynchronous upgrade: see ws/server.ts).
      await gateway.terminal('bench-till', terminalSecret)
      const server = await startWsServer(gateway, { port: 0, host: '127.0.0.1', logger: silentLogger, inFlightMax: options.window })
      try {
        const seedStatuses = await seed(engine, reporter.phase('seed', { total: options.accounts }), options.accounts)
        reporter.endPhase()
        const durationMs = options.seconds * 1000
        const spec: WsLoadSpec = {
          url: `ws://127.0.0.1:${server.port}/`,
          terminals: options.terminals,
          window: options.window,
          warmupMs: options.warmup * 1000,
          durationMs,
          accounts: options.accounts,
          rngSeed: options.rngSeed,
          binary: options.encoding === 'msgpack',
        }
        const { statuses, warmupReplies, mainThread } = await wsLoad(spec, options.loadThread, reporter)
        const measured = reporter.endPhase()!
        const direct = reporter.phase('engine-direct', { durationMs })
        const directStatuses = await engineDirect(engine, direct, options.seconds, options.terminals * options.window, mixer(options.accounts, options.rngSeed + 1000))
        const directResult = reporter.endPhase()!
        reporter.expectOps(directResult)
        // Balances of 100,000 points outlast redeems of at most 20: every reply is ok.
        const ok = new Set(['ok'])
        reporter.failUnexpected('seed', 'replies with status', seedStatuses, ok)
        reporter.failUnexpected('websocket', 'replies with status', statuses, ok)
        reporter.failUnexpected('engine-direct', 'replies with status', directStatuses, ok)
        const share = directResult.opsPerSec === 0 ? 0 : measured.opsPerSec / directResult.opsPerSec
        const ratio = Math.round(share * 1000) / 1000
        return {
          measured,
          fields: {
            accounts: options.accounts,
            terminals: options.terminals,
            window: options.window,
            warmupSeconds: options.warmup,
            warmupReplies,
            encoding: options.encoding,
            shards: engine.shards,
            workers: engine.workers,
            durable: engine.durable,
            statuses: Object.fromEntries(statuses),
            loadThread: options.loadThread,
            mainThreadBusy: Math.round(mainThread.busy * 1000) / 1000,
            mainThreadUsPerOp: usPerOp(mainThread, measured.ops),
            engineDirect: { ...phaseFigures(directResult), statuses: Object.fromEntries(directStatuses) },
            ratioToEngine: ratio,
          },
          charts: [rateChart('throughput, same mix, same run', 'ops/s', [
            ['websocket', measured.opsPerSec],
            ['engine-direct', directResult.opsPerSec],
          ])],
          notes: [
            `websocket:     ${count(measured.opsPerSec)} ops/s (${(ratio * 100).toFixed(0)}% of engine-direct)`,
            `engine-direct: ${count(directResult.opsPerSec)} ops/s, same mix, ${count(options.terminals * options.window)} in flight`,
            `${options.terminals} terminals × ${options.window} in flight, ${options.encoding} frames, ` +
              `${count(options.accounts)} accounts, durable ${engine.durable}`,
            `main thread (${options.loadThread ? 'gateway; terminals on their own thread' : 'terminals + gateway'}) ` +
              `busy ${(mainThread.busy * 100).toFixed(0)}% of the WebSocket phase${describeCpu(mainThread, measured.ops, 'an operation')}`,
          ],
        }
      } finally {
        await server.close()
      }
    } finally {
      await engine.close()
      removeTemporaryFolder(dataDir)
    }
  },
})
