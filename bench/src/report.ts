/**
 * The shared reporter: live progress on stderr while a phase runs (redrawn in
 * place on a TTY, one line every ~2 s otherwise), then a human summary, a
 * throughput chart and latency percentiles on stdout and, with `--json`, one
 * JSON object as the last line of stdout.
 *
 * Latencies go into fixed-size histograms and throughput into per-second
 * counters, so a phase keeps no per-operation state however long it runs.
 *
 * @module
 */
import { performance } from 'node:perf_hooks'
import { barChart, horizontalBars, sparkline } from './chart.ts'
import { Histogram } from './histogram.ts'
import { machine } from './machine.ts'
import type { Comparison, ScenarioResult } from './scenario.ts'

export interface Output {
  write(text: string): unknown
  isTTY?: boolean
}

export interface ReporterOptions {
  scenario: string
  json?: boolean
  out?: Output
  err?: Output
  /** Progress period; default 1000 ms on a TTY, 2000 ms otherwise. 0 disables progress. */
  progressMs?: number
}

export interface PhaseOptions {
  /** Operations expected, to show a percentage. */
  total?: number
  /** Operations completing after this long are not counted (closed-loop drain). */
  durationMs?: number
}

export interface PhaseResult {
  name: string
  ops: number
  seconds: number
  opsPerSec: number
  histogram: Histogram
  /**
   * Ops completed in each second of the phase; the last, partial one scaled
   * to a second, or left out when under 0.2 s (unless it is the only one).
   */
  perSecond: number[]
}

/** The JSON line: the common fields first, then the scenario's own. */
export interface BenchRecord {
  scenario: string
  ops: number
  seconds: number
  opsPerSec: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
  [field: string]: unknown
}

const percentiles = [
  ['p50', 50],
  ['p90', 90],
  ['p99', 99],
  ['p99.9', 99.9],
] as const

export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/** Milliseconds with about three significant digits. */
export function ms(valueMs: number): string {
  if (valueMs >= 100) return valueMs.toFixed(0)
  if (valueMs >= 10) return valueMs.toFixed(1)
  if (valueMs >= 1) return valueMs.toFixed(2)
  return valueMs.toFixed(3)
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000
}

/** One running phase: record each completed operation with its latency. */
export class Phase {
  readonly name: string
  readonly #total: number | undefined
  readonly #startedAt = performance.now()
  readonly #endAt: number
  readonly #all = new Histogram()
  readonly #interval = new Histogram()
  readonly #perSecond: number[] = []
  #intervalStart = this.#startedAt
  #intervalOps = 0
  #result: PhaseResult | undefined

  constructor(name: string, options: PhaseOptions = {}) {
    this.name = name
    this.#total = options.total
    this.#endAt = options.durationMs === undefined ? Infinity : this.#startedAt + options.durationMs
  }

  get ops(): number {
    return this.#all.count
  }

  /** When the phase started (`performance.now()` time). */
  get startedAt(): number {
    return this.#startedAt
  }

  /**
   * Records one completed operation.
   *
   * @param latencyMs from its send (or scheduled send) time to its reply
   * @param now `performance.now()` at the reply; ignored past the phase's duration
   * @param times operations completed together with that latency (a batch's)
   */
  record(latencyMs: number, now: number, times = 1): void {
    if (now > this.#endAt || this.#result !== undefined) return
    const us = latencyMs * 1000
    this.#all.record(us, times)
    this.#interval.record(us, times)
    this.#intervalOps += times
    const second = Math.floor((now - this.#startedAt) / 1000)
    while (this.#perSecond.length <= second) this.#perSecond.push(0)
    this.#perSecond[second]! += times
  }

  /** The progress line for the time since the last one, then starts a new interval. */
  progress(now = performance.now()): string {
    const elapsed = (now - this.#startedAt) / 1000
    const span = Math.max(1e-3, (now - this.#intervalStart) / 1000)
    const done = this.#total === undefined ? `${count(this.ops)} ops` : this.#ofTotal()
    const rate = count(this.#intervalOps / span)
    const p50 = ms(this.#interval.percentile(50) / 1000)
    const p99 = ms(this.#interval.percentile(99) / 1000)
    this.#interval.reset()
    this.#intervalOps = 0
    this.#intervalStart = now
    return `${this.name} ${elapsed.toFixed(1)}s  ${done}  ${rate} ops/s  ` +
      `p50 ${p50} ms  p99 ${p99} ms`
  }

  #ofTotal(): string {
    const total = this.#total ?? 0
    const share = total === 0 ? 100 : Math.floor((this.ops / total) * 100)
    return `${count(this.ops)}/${count(total)} ops (${share}%)`
  }

  /** Ends the phase (idempotent) and returns its figures. */
  stop(at = performance.now()): PhaseResult {
    if (this.#result !== undefined) return this.#result
    const now = Math.min(at, this.#endAt)
    const seconds = (now - this.#startedAt) / 1000
    const perSecond = [...this.#perSecond]
    const partial = seconds - Math.floor(seconds)
    if (perSecond.length > Math.floor(seconds)) {
      const last = perSecond.pop()!
      // A sliver of a second scaled up says little, unless it is all the phase had.
      if (partial >= 0.2 || (perSecond.length === 0 && partial > 0)) perSecond.push(Math.round(last / partial))
    }
    this.#result = {
      name: this.name,
      ops: this.ops,
      seconds,
      opsPerSec: seconds === 0 ? 0 : this.ops / seconds,
      histogram: this.#all,
      perSecond,
    }
    return this.#result
  }
}

export class Reporter {
  readonly scenario: string
  readonly json: boolean
  readonly startedAt = new Date().toISOString()
  readonly warnings: string[] = []
  /** What made the run fail (unexpected statuses, errors, nothing measured); the CLI then exits 1. */
  readonly failures: string[] = []
  readonly #out: Output
  readonly #err: Output
  readonly #tty: boolean
  readonly #progressMs: number
  #timer: NodeJS.Timeout | undefined
  #current: Phase | undefined

  constructor(options: ReporterOptions) {
    this.scenario = options.scenario
    this.json = options.json ?? false
    this.#out = options.out ?? process.stdout
    this.#err = options.err ?? process.stderr
    this.#tty = this.#err.isTTY === true
    this.#progressMs = options.progressMs ?? (this.#tty ? 1000 : 2000)
  }

  /** Starts a phase and its progress display. */
  phase(name: string, options: PhaseOptions = {}): Phase {
    this.endPhase()
    const phase = new Phase(name, options)
    this.#current = phase
    if (this.#progressMs > 0) {
      this.#timer = setInterval(() => this.#draw(phase.progress()), this.#progressMs)
      this.#timer.unref()
    }
    return phase
  }

  /** Stops the current phase's display with a final progress line and returns its figures. */
  endPhase(): PhaseResult | undefined {
    const phase = this.#current
    if (phase === undefined) return undefined
    this.#current = undefined
    clearInterval(this.#timer)
    this.#timer = undefined
    const result = phase.stop()
    if (this.#progressMs > 0) {
      this.#draw(`${phase.name} done: ${count(result.ops)} ops in ${result.seconds.toFixed(1)}s, ` +
        `${count(result.opsPerSec)} ops/s`)
      if (this.#tty) this.#err.write('\n')
    }
    return result
  }

  /** An informational line on stderr. */
  note(message: string): void {
    this.#line(message)
  }

  /** A warning on stderr, also listed in the JSON line. */
  warn(message: string): void {
    this.warnings.push(message)
    this.#line(`warning: ${message}`)
  }

  /**
   * A failure on stderr, listed in the JSON line's `failures`: the run still
   * reports its figures, but the CLI exits with 1.
   */
  fail(message: string): void {
    this.failures.push(message)
    this.#line(`error: ${message}`)
  }

  /**
   * Fails the run for every name in `counts` (replies by status, responses by
   * code) that `allowed` does not hold, e.g. "measure: 12 replies with status
   * account_not_found" for `('measure', 'replies with status', ...)`.
   */
  failUnexpected(
    phase: string,
    noun: string,
    counts: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
    allowed: ReadonlySet<string>,
    hint = '',
  ): void {
    const entries = counts instanceof Map ? [...counts] : Object.entries(counts)
    for (const [name, n] of entries) {
      if (!allowed.has(name)) this.fail(`${phase}: ${count(n)} ${noun} ${name}${hint}`)
    }
  }

  /**
   * Fails the run when a phase completed no operations: its figures, and any
   * comparison with it, would be empty. Every measured phase is checked by
   * `finish`; scenarios check their comparison phases (engine-direct, ...).
   */
  expectOps(phase: PhaseResult): void {
    if (phase.ops > 0) return
    this.fail(`the phase "${phase.name}" completed no operations in ${phase.seconds.toFixed(1)} s ` +
      '(a longer --seconds may help)')
  }

  #line(message: string) {
    if (this.#tty && this.#current !== undefined) this.#err.write('\r\x1b[K')
    this.#err.write(`${message}\n`)
  }

  #draw(line: string) {
    if (this.#tty) this.#err.write(`\r\x1b[K${line}`)
    else this.#err.write(`${line}\n`)
  }

  /** Builds the JSON record for a measured phase plus scenario fields. */
  record(measured: PhaseResult, fields: Record<string, unknown>): BenchRecord {
    const h = measured.histogram
    const p = (q: number) => round3(h.percentile(q) / 1000)
    return {
      scenario: this.scenario,
      ops: measured.ops,
      seconds: round3(measured.seconds),
      opsPerSec: Math.round(measured.opsPerSec),
      p50Ms: p(50),
      p90Ms: p(90),
      p99Ms: p(99),
      p999Ms: p(99.9),
      maxMs: round3(h.max / 1000),
      meanMs: round3(h.mean / 1000),
      ...fields,
      perSecond: measured.perSecond,
      warnings: this.warnings,
      failures: this.failures,
      machine: machine(),
      startedAt: this.startedAt,
    }
  }

  /** Prints the summary and charts (and the JSON line) and returns the record. */
  finish(result: ScenarioResult): BenchRecord {
    this.endPhase()
    this.expectOps(result.measured)
    const record = this.record(result.measured, result.fields)
    const lines = summary(record, result.measured, result.notes ?? [], result.charts ?? [])
    this.#out.write(`${lines.join('\n')}\n`)
    if (this.json) this.#out.write(`${JSON.stringify(record)}\n`)
    return record
  }
}

/** The human summary: headline, throughput chart and latency percentiles. */
export function summary(
  record: BenchRecord,
  measured: PhaseResult,
  notes: string[],
  charts: readonly Comparison[] = [],
): string[] {
  const h = measured.histogram
  const lines = [
    '',
    `${record.scenario}: ${count(record.ops)} ops in ${record.seconds.toFixed(1)} s = ` +
      `${count(record.opsPerSec)} ops/s`,
    ...notes.map((note) => `  ${note}`),
    '',
    `throughput, ops/s per second  ${sparkline(measured.perSecond)}`,
    ...barChart(measured.perSecond, { height: 8, width: 60, unit: 's' }),
    '',
    `latency (${count(h.count)} samples, mean ${ms(h.mean / 1000)} ms)`,
    ...horizontalBars([
      ...percentiles.map(([label, q]) => {
        const value = h.percentile(q) / 1000
        return { label, value, text: `${ms(value)} ms` }
      }),
      { label: 'max', value: h.max / 1000, text: `${ms(h.max / 1000)} ms` },
    ]),
    '',
    ...charts.flatMap((chart) => [chart.title, ...horizontalBars(chart.rows), '']),
  ]
  return lines
}

/** A phase's headline figures, for scenarios that report two phases side by side. */
export function phaseFigures(result: PhaseResult): { opsPerSec: number; p50Ms: number; p99Ms: number } {
  const h = result.histogram
  return {
    opsPerSec: Math.round(result.opsPerSec),
    p50Ms: Math.round(h.percentile(50)) / 1000,
    p99Ms: Math.round(h.percentile(99)) / 1000,
  }
}

/** A chart of rates side by side, e.g. a gateway's ops/s beside engine-direct's. */
export function rateChart(title: string, unit: string, rates: readonly (readonly [string, number])[]): Comparison {
  return { title, rows: rates.map(([label, value]) => ({ label, value, text: `${count(value)} ${unit}` })) }
}
