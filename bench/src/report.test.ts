/**
 * Tests of the reporter: phase accounting, the charts, and the shape of the
 * JSON line that ends stdout with `--json`.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { barChart, fit, horizontalBars, sparkline } from './chart.ts'
import { Phase, rateChart, Reporter } from './report.ts'
import { describeFlags, FlagError, parseFlags } from './scenario.ts'

function memory(isTTY = false) {
  const chunks: string[] = []
  return { chunks, isTTY, write: (text: string) => chunks.push(text), text: () => chunks.join('') }
}

function filledPhase(): Phase {
  const phase = new Phase('measure', { durationMs: 3500 })
  const t0 = phase.startedAt
  for (let i = 0; i < 3000; i++) phase.record(1 + (i % 10), t0 + (i % 3) * 1000 + 1)
  phase.record(50, t0 + 3200)
  phase.record(99, t0 + 3600) // past the duration: not counted
  return phase
}

describe('Phase', () => {
  it('counts per second and stops at its duration', () => {
    const result = filledPhase().stop(Number.POSITIVE_INFINITY)
    expect(result.ops).toBe(3001)
    expect(result.seconds).toBeCloseTo(3.5, 6)
    expect(result.perSecond).toEqual([1000, 1000, 1000, 2])
    expect(result.histogram.max).toBe(50_000)
  })
})

describe('Phase batches', () => {
  it('records a batch of operations completed together', () => {
    const phase = new Phase('evaluator')
    phase.record(0.002, phase.startedAt + 10, 1000)
    phase.record(0.004, phase.startedAt + 1500, 500)
    const result = phase.stop(phase.startedAt + 2000)
    expect(result.ops).toBe(1500)
    expect(result.histogram.percentile(50)).toBe(2)
    expect(result.histogram.percentile(99)).toBe(4)
    expect(result.perSecond).toEqual([1000, 500])
  })
})

describe('Phase shorter than a second', () => {
  it('keeps its one partial second, scaled, so the throughput chart has data', () => {
    const phase = new Phase('lookup', { durationMs: 100 })
    for (let i = 0; i < 50; i++) phase.record(0.01, phase.startedAt + i)
    const result = phase.stop(Number.POSITIVE_INFINITY)
    expect(result.ops).toBe(50)
    expect(result.perSecond).toEqual([500])
    const out = memory()
    new Reporter({ scenario: 'demo', out, err: memory(), progressMs: 0 }).finish({ measured: result, fields: {} })
    expect(out.text()).not.toContain('(no data)')
  })
})

describe('Reporter', () => {
  it('ends stdout with one JSON object holding the required fields', () => {
    const out = memory()
    const err = memory()
    const reporter = new Reporter({ scenario: 'demo', json: true, out, err, progressMs: 0 })
    const measured = filledPhase().stop(Number.POSITIVE_INFINITY)
    const record = reporter.finish({ measured, fields: { extra: 7 }, notes: ['a note'] })
    const lines = out.text().trimEnd().split('\n')
    const parsed = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>
    expect(parsed).toEqual(JSON.parse(JSON.stringify(record)))
    for (const field of ['scenario', 'ops', 'seconds', 'opsPerSec', 'p50Ms', 'p99Ms', 'p999Ms',
      'maxMs', 'machine', 'startedAt']) {
      expect(parsed).toHaveProperty(field)
    }
    expect(parsed['scenario']).toBe('demo')
    expect(parsed['extra']).toBe(7)
    expect(parsed['ops']).toBe(3001)
    expect(Math.abs((parsed['p50Ms'] as number) - 6)).toBeLessThan(6 / 128)
    expect(parsed['maxMs']).toBe(50)
    expect(Object.keys(parsed['machine'] as object).sort())
      .toEqual(['arch', 'cores', 'cpuModel', 'memoryGiB', 'node', 'platform'])
    expect(Number.isNaN(Date.parse(parsed['startedAt'] as string))).toBe(false)
    expect(out.text()).toContain('a note')
    expect(out.text()).toContain('█')
  })

  it('draws the figures a scenario compares as bars after the latency bars', () => {
    const out = memory()
    const reporter = new Reporter({ scenario: 'demo', out, err: memory(), progressMs: 0 })
    const charts = [rateChart('throughput, same run', 'ops/s', [['websocket', 500], ['engine-direct', 1000]])]
    reporter.finish({ measured: filledPhase().stop(), fields: {}, charts })
    const lines = out.text().split('\n')
    const title = lines.indexOf('throughput, same run')
    expect(title).toBeGreaterThan(lines.findIndex((line) => line.startsWith('latency')))
    expect(lines[title + 1]).toBe(`  websocket        500 ops/s  ${'█'.repeat(20)}`)
    expect(lines[title + 2]).toBe(`  engine-direct  1,000 ops/s  ${'█'.repeat(40)}`)
  })

  it('prints no JSON without --json, and warnings to stderr', () => {
    const out = memory()
    const err = memory()
    const reporter = new Reporter({ scenario: 'demo', out, err, progressMs: 0 })
    reporter.warn('careful')
    const record = reporter.finish({ measured: filledPhase().stop(), fields: {} })
    expect(out.text()).not.toContain('{')
    expect(err.text()).toContain('warning: careful')
    expect(record['warnings']).toEqual(['careful'])
    // A warning alone does not fail the run.
    expect(record['failures']).toEqual([])
  })

  it('fails a run whose measured phase completed nothing', () => {
    const out = memory()
    const err = memory()
    const reporter = new Reporter({ scenario: 'demo', json: true, out, err, progressMs: 0 })
    const empty = new Phase('grpc', { durationMs: 100 }).stop(Number.POSITIVE_INFINITY)
    const record = reporter.finish({ measured: empty, fields: {} })
    expect(record.ops).toBe(0)
    expect(reporter.failures).toHaveLength(1)
    expect(record['failures']).toEqual(reporter.failures)
    expect(reporter.failures[0]).toContain('"grpc" completed no operations')
    expect(err.text()).toContain('error: the phase "grpc" completed no operations')
    // The JSON line is still the last line of stdout, with the failure in it.
    const last = JSON.parse(out.text().trimEnd().split('\n').at(-1)!) as Record<string, unknown>
    expect(last['failures']).toEqual(reporter.failures)
  })

  it('fails a run whose comparison phase completed nothing', () => {
    const reporter = new Reporter({ scenario: 'demo', out: memory(), err: memory(), progressMs: 0 })
    reporter.expectOps(filledPhase().stop())
    expect(reporter.failures).toEqual([])
    reporter.expectOps(new Phase('engine-direct', { durationMs: 100 }).stop(Number.POSITIVE_INFINITY))
    expect(reporter.failures).toEqual(['the phase "engine-direct" completed no operations in 0.1 s (a longer --seconds may help)'])
  })

  it('fails on statuses a scenario does not expect, and only on those', () => {
    const err = memory()
    const reporter = new Reporter({ scenario: 'demo', out: memory(), err, progressMs: 0 })
    const allowed = new Set(['ok', 'insufficient_points'])
    reporter.failUnexpected('measure', 'replies with status', { ok: 10, insufficient_points: 2 }, allowed)
    expect(reporter.failures).toEqual([])
    reporter.failUnexpected('measure', 'replies with status', new Map([['ok', 5], ['unavailable', 1200]]), allowed, ' (refused)')
    expect(reporter.failures).toEqual(['measure: 1,200 replies with status unavailable (refused)'])
    expect(err.text()).toBe('error: measure: 1,200 replies with status unavailable (refused)\n')
    const record = reporter.finish({ measured: filledPhase().stop(), fields: {} })
    expect(record['failures']).toEqual(['measure: 1,200 replies with status unavailable (refused)'])
    expect(record['warnings']).toEqual([])
  })

  it('shows progress lines while a phase runs', async () => {
    const err = memory()
    const reporter = new Reporter({ scenario: 'demo', out: memory(), err, progressMs: 20 })
    const phase = reporter.phase('seed', { total: 10 })
    phase.record(1, phase.startedAt + 1)
    await new Promise((resolve) => setTimeout(resolve, 70))
    reporter.endPhase()
    expect(err.text()).toMatch(/seed \d+\.\ds {2}1\/10 ops \(10%\) {2}[\d,]+ ops\/s {2}p50 /)
    expect(err.text()).toContain('seed done: 1 ops')
  })
})

describe('charts', () => {
  it('draws a bar chart with one row per level', () => {
    const lines = barChart([10, 20, 40, 80], { height: 4, width: 8, unit: 's' })
    expect(lines).toHaveLength(6)
    expect(lines[0]).toMatch(/^80 ┤ {6}██$/)
    expect(lines[3]).toMatch(/^ {2} ┤▄▄██████$/)
    expect(lines[4]).toBe(' 0 └────────')
  })

  it('averages long series down to the width', () => {
    const series = Array.from({ length: 120 }, (_, i) => i)
    // Each column is the mean of two neighbours: (0 + 1) / 2, (2 + 3) / 2, ...
    expect(fit(series, 60)).toEqual({ per: 2, values: Array.from({ length: 60 }, (_, i) => 2 * i + 0.5) })
    // A last group that is short is the mean of what it has.
    expect(fit([1, 2, 3, 4, 5], 2)).toEqual({ per: 3, values: [2, 4.5] })
    const lines = barChart(series, { width: 60 })
    expect(lines[lines.length - 1]).toContain('2 values averaged')
  })

  it('draws sparklines and horizontal bars', () => {
    expect(sparkline([0, 1, 4, 8])).toBe(' ▁▄█')
    const rows = [
      { label: 'p50', value: 1, text: '1 ms' },
      { label: 'max', value: 4, text: '4 ms' },
    ]
    const bars = horizontalBars(rows, 8)
    expect(bars[1]).toBe('  max  4 ms  ████████')
    expect(bars[0]).toBe('  p50  1 ms  ██')
  })
})

describe('flags', () => {
  const flags = {
    accounts: { kind: 'int', description: 'accounts', default: 10, min: 1 },
    rate: { kind: 'number', description: 'rate' },
    noSync: { kind: 'boolean', description: 'no fsync' },
  } as const

  it('parses kebab-case flags with defaults', () => {
    expect(parseFlags(flags, [])).toEqual({ accounts: 10, rate: undefined, noSync: false })
    expect(parseFlags(flags, ['--accounts', '1_000', '--rate=2.5', '--no-sync']))
      .toEqual({ accounts: 1000, rate: 2.5, noSync: true })
  })

  it('rejects bad flags clearly', () => {
    expect(() => parseFlags(flags, ['--acounts', '3'])).toThrow(FlagError)
    expect(() => parseFlags(flags, ['--acounts', '3'])).toThrow('unknown flag --acounts')
    expect(() => parseFlags(flags, ['--accounts', '1.5'])).toThrow(/must be an integer/)
    expect(() => parseFlags(flags, ['--accounts', '0'])).toThrow(/from 1 to 9007199254740991, not 0/)
    expect(() => parseFlags(flags, ['--rate'])).toThrow(/needs a value/)
    expect(() => parseFlags(flags, ['extra'])).toThrow(/unexpected argument/)
    expect(describeFlags(flags)).toContain('--no-sync')
  })

  it('refuses a string flag outside its choices, and lists them in help', () => {
    const withChoices = { encoding: { kind: 'string', description: 'frames', default: 'a', choices: ['a', 'b'] } } as const
    expect(parseFlags(withChoices, ['--encoding', 'b'])).toEqual({ encoding: 'b' })
    expect(() => parseFlags(withChoices, ['--encoding=c'])).toThrow(FlagError)
    expect(() => parseFlags(withChoices, ['--encoding', 'c'])).toThrow('--encoding must be one of a, b, not "c"')
    expect(describeFlags(withChoices)).toContain('--encoding <a|b>')
  })
})
