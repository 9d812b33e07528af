/**
 * A load generator on its own worker thread. Clients that run on the server's
 * event loop take its time: a terminal, an e-shop or a processor is another
 * machine, so a scenario may move its clients to a thread of their own (they
 * still share the machine's cores, which the figures then include).
 *
 * The scenario's module is also the thread's entry: at its top level it calls
 * `serveLoadThread(role, run)`, which does nothing on the main thread or on
 * another role's thread. `startLoadThread` starts the module again on a
 * worker; `run` sets up (connects, warms up), then calls `ready()`, which
 * lets the main thread open the measured phase and resolves on its go.
 * Latencies go back in batches, ten a second. A load with a warm-up of its
 * own before `ready()` calls `warmingUp()` as it starts, so the main thread
 * can show its progress (`onWarmingUp`, `onWarmupBatch`).
 *
 * @example
 *   const role = 'loyalty-bench-ws-load'
 *   serveLoadThread(role, async (spec: Spec, sink, ready) => {
 *     const clients = await connect(spec)
 *     const startedAt = await ready()
 *     return runClients(clients, startedAt + spec.durationMs, sink)
 *   })
 *   const result = await startLoadThread(import.meta.url, role, spec, {
 *     onReady: () => (phase = reporter.phase('websocket', { durationMs })),
 *     onBatch: (batch) => batch.latencies.forEach((ms, i) => phase.record(ms, batch.at[i]! - performance.timeOrigin)),
 *   })
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'

/** Responses measured on the load thread since the last batch. */
export interface LatencyBatch {
  latencies: Float64Array
  /** When each response came, as epoch milliseconds (comparable across threads). */
  at: Float64Array
  /** One label a response: an HTTP code, a reply status. */
  labels: string[]
  /** One label a request sent: its operation. */
  sent: string[]
}

/** Where the load thread's clients report. */
export interface LoadSink {
  /** A response: its latency, and a label such as its status. */
  response(latencyMs: number, label: string): void
  /** A request sent, labelled with its operation. */
  sent(op: string): void
}

type FromLoadThread<R> =
  | ({ type: 'batch'; warmup: boolean } & LatencyBatch)
  | { type: 'warming' }
  | { type: 'ready' }
  | { type: 'done'; result: R }
  | { type: 'failed'; message: string }

const batchIntervalMs = 100

/**
 * Says the load is set up and waits for the go; resolves with the measured
 * phase's start as a `performance.now()` time of the calling thread, so the
 * load can end exactly when the phase does.
 */
export type Ready = () => Promise<number>

/**
 * What a load thread runs: set up, `await ready()`, then the measured load,
 * reporting to `sink`. What it reports before `ready()` resolves is dropped,
 * unless it called `warmingUp()` first: then it goes to the main thread as
 * the warm-up's (not measured, shown as progress).
 */
export type LoadRun<Spec, R> = (spec: Spec, sink: LoadSink, ready: Ready, warmingUp: () => void) => Promise<R>

/**
 * On a load thread started for `role`: runs `run` with a sink that batches to
 * the main thread, and sends its result. Elsewhere it does nothing.
 */
export function serveLoadThread<Spec, R>(role: string, run: LoadRun<Spec, R>) {
  const data = workerData as { role?: string; spec?: Spec } | null
  if (isMainThread || data?.role !== role) return
  const port = parentPort!
  const post = (message: FromLoadThread<R>) => port.postMessage(message)
  let latencies: number[] = []
  let at: number[] = []
  let labels: string[] = []
  let sent: string[] = []
  const clear = () => {
    latencies = []
    at = []
    labels = []
    sent = []
  }
  let measuring = false
  let warming = false
  const flush = () => {
    if (measuring || warming) {
      post({ type: 'batch', warmup: !measuring, latencies: Float64Array.from(latencies), at: Float64Array.from(at), labels, sent })
    }
    clear()
  }
  const warmingUp = () => {
    clear()
    warming = true
    post({ type: 'warming' })
  }
  const sink: LoadSink = {
    response(latencyMs, label) {
      latencies.push(latencyMs)
      at.push(performance.timeOrigin + performance.now())
      labels.push(label)
    },
    sent(op) {
      sent.push(op)
    },
  }
  // Unref'd: a load that hangs lets the thread exit, which the main thread reports.
  const timer = setInterval(flush, batchIntervalMs).unref()
  let readyCalled = false
  const ready: Ready = () => {
    if (readyCalled) return Promise.reject(new Error('ready() is called once'))
    readyCalled = true
    return new Promise((resolve) => {
      // The warm-up's last replies go first, as the warm-up's.
      flush()
      port.once('message', (go: { startedAtEpochMs: number }) => {
        clear()
        measuring = true
        resolve(go.startedAtEpochMs - performance.timeOrigin)
      })
      post({ type: 'ready' })
    })
  }
  const finish = async () => {
    const result = await run(data.spec as Spec, sink, ready, warmingUp)
    if (!measuring) throw new Error('the load ended without calling ready()')
    return result
  }
  finish().then(
    (result) => {
      clearInterval(timer)
      flush()
      post({ type: 'done', result })
    },
    (error: unknown) => {
      clearInterval(timer)
      post({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
    },
  )
}

export interface LoadThreadHooks {
  /** The thread is set up and about to start measuring: open the measured phase here. */
  onReady(): void
  onBatch(batch: LatencyBatch): void
  /** The load's own warm-up (before `ready()`) starts: open a phase to show it. */
  onWarmingUp?(): void
  /** Responses of that warm-up: progress only, not measured. */
  onWarmupBatch?(batch: LatencyBatch): void
}

/**
 * Starts `moduleUrl` on a worker thread as the load generator for `role`.
 * Worker threads do not inherit the TypeScript loader, so the thread
 * registers tsx before importing the module. Resolves with what its `run`
 * returned; rejects if it failed or the thread died.
 */
export function startLoadThread<Spec, R>(moduleUrl: string, role: string, spec: Spec, hooks: LoadThreadHooks): Promise<R> {
  const tsxApi = import.meta.resolve('tsx/esm/api')
  const boot =
    `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); ` +
    `return import(${JSON.stringify(moduleUrl)}) })`
  const worker = new Worker(boot, { eval: true, workerData: { role, spec } })
  const finished = new Promise<R>((resolve, reject) => {
    worker.on('message', (message: FromLoadThread<R>) => {
      if (message.type === 'ready') {
        hooks.onReady()
        worker.postMessage({ startedAtEpochMs: performance.timeOrigin + performance.now() })
      } else if (message.type === 'warming') hooks.onWarmingUp?.()
      else if (message.type === 'batch' && message.warmup) hooks.onWarmupBatch?.(message)
      else if (message.type === 'batch') hooks.onBatch(message)
      else if (message.type === 'done') resolve(message.result)
      else reject(new Error(`the load thread failed: ${message.message}`))
    })
    worker.on('error', reject)
    worker.on('exit', (code) => reject(new Error(`the load thread exited with code ${code}`)))
  })
  return finished.finally(() => worker.terminate())
}

/** How the main thread was used over the measured phase. */
export interface MainThreadUse {
  /** Event-loop utilization, 0 to 1: the share of wall time it was not idle (waiting for a core counts as busy). */
  busy: number
  /** CPU time it ran, from /proc (Linux); undefined elsewhere. Unlike `busy`, a crowded machine does not inflate it. */
  cpuMs: number | undefined
}

/** Before the measured phase opens: nothing measured yet. */
export const mainThreadUnmeasured: MainThreadUse = { busy: 0, cpuMs: undefined }

/**
 * The main thread's use over the next `durationMs` (the measured phase),
 * taken when it ends rather than when the load has drained.
 */
export function mainThreadUseFor(durationMs: number): Promise<MainThreadUse> {
  const before = performance.eventLoopUtilization()
  const cpuBefore = mainThreadCpuMs()
  return new Promise((resolve) => {
    setTimeout(() => {
      const cpuAfter = mainThreadCpuMs()
      resolve({
        busy: performance.eventLoopUtilization(before).utilization,
        cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
      })
    }, durationMs)
  })
}

/** CPU time the main thread (its thread id is the process id) has run, in ms: the first field of its schedstat, in ns. */
function mainThreadCpuMs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
  } catch {
    return undefined
  }
}

/** ", 41.3 µs of its CPU a request" for a summary line, or nothing when the CPU time is not known. */
export function describeCpu(use: MainThreadUse, ops: number, each: string): string {
  const us = usPerOp(use, ops)
  return us === undefined ? '' : `, ${us} µs of its CPU ${each}`
}

/** Main-thread CPU µs an operation, rounded to 0.1, when the CPU time is known. */
export function usPerOp(use: MainThreadUse, ops: number): number | undefined {
  return use.cpuMs === undefined || ops === 0 ? undefined : Math.round((use.cpuMs * 10_000) / ops) / 10
}
