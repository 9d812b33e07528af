/**
 * Smoke test of the `grpc` scenario, in-process and tiny: the gRPC phase and
 * the engine-direct baseline both make progress, the JSON line carries both
 * side by side, every reply had an expected status, and bad flags are refused.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { Reporter } from '../report.ts'
import { runScenario } from '../run.ts'
import { FlagError, parseFlags } from '../scenario.ts'
import { scenario } from './grpc.ts'

const tiny = [
  '--accounts', '300', '--seconds', '0.5', '--streams', '3', '--window', '16', '--warmup', '0.2',
  '--seed-concurrency', '64', '--shards', '2', '--workers', '1',
]

/**
 * Every request sent in the measured phase got one reply with an expected
 * status, and none of the warm-up's was counted: replies equal requests sent,
 * the measured ones plus about a window a stream answered after the phase.
 */
function expectRepliesCounted(record: Record<string, unknown> & { ops: number }) {
  const statuses = record['statuses'] as Record<string, number>
  for (const name of Object.keys(statuses)) expect(['ok', 'insufficient_points']).toContain(name)
  const replies = Object.values(statuses).reduce((sum, n) => sum + n, 0)
  const sent = Object.values(record['opCounts'] as Record<string, number>).reduce((sum, n) => sum + n, 0)
  expect(replies).toBe(sent)
  expect(replies).toBeGreaterThanOrEqual(record.ops)
  // (A load thread learns of the phase's end by its own clock and a message, later on a loaded
  // machine: 1,120 against a bound of one window a stream plus 16, 1,118, in one full run. Two
  // windows a stream still tells a counted warm-up apart, which adds about 0.2 s of replies, 400+.)
  expect(replies).toBeLessThanOrEqual(record.ops + 2 * 3 * 16 + 16)
}

describe('grpc scenario', () => {
  it('measures the gRPC Stream and engine-direct side by side', async () => {
    const chunks: string[] = []
    const out = { write: (text: string) => chunks.push(text) }
    const err = { write: () => true }
    const reporter = new Reporter({ scenario: 'grpc', json: true, out, err, progressMs: 0 })
    const record = await runScenario(scenario, parseFlags(scenario.flags, tiny), reporter)
    const last = chunks.join('').trimEnd().split('\n').at(-1)!
    expect(JSON.parse(last)).toEqual(JSON.parse(JSON.stringify(record)))

    expect(record.scenario).toBe('grpc')
    for (const field of ['ops', 'seconds', 'opsPerSec', 'p50Ms', 'p99Ms', 'machine', 'startedAt']) {
      expect(record).toHaveProperty(field)
    }
    expect(record.ops).toBeGreaterThan(0)
    expect(record.opsPerSec).toBeGreaterThan(0)
    expect(record.seconds).toBeLessThanOrEqual(0.501)
    expect(record.p99Ms).toBeGreaterThanOrEqual(record.p50Ms)
    const setup = { accounts: 300, streams: 3, window: 16, inFlight: 48, shards: 2, workers: 1 }
    expect(record).toMatchObject(setup)
    expect(record['durable']).toBe(true)
    expect(record['seedOps']).toBe(300)

    type Figures = { opsPerSec: number; p50Ms: number; p99Ms: number; statuses: object }
    const direct = record['engineDirect'] as Figures
    expect(direct.opsPerSec).toBeGreaterThan(0)
    expect(direct.p99Ms).toBeGreaterThanOrEqual(direct.p50Ms)
    expect(record['ratio']).toBeCloseTo(record.opsPerSec / direct.opsPerSec, 1)
    for (const statuses of [record['statuses'], direct.statuses]) {
      const names = Object.keys(statuses as object)
      expect(names.length).toBeGreaterThan(0)
      for (const name of names) expect(['ok', 'insufficient_points']).toContain(name)
    }
    const ops = Object.keys(record['opCounts'] as object).sort()
    expect(ops).toEqual(['balance', 'earn', 'redeem'])
    expect(record['loadThread']).toBe(false)
    expect(record).toMatchObject({ batch: 1, call: 'Stream' })
    expectRepliesCounted(record)
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
    expect(chunks.join('')).toMatch(/engine-direct: [\d,]+ ops\/s/)
    expect(chunks.join('')).toMatch(/throughput, same mix, same run\n {2}gRPC Stream +[\d,]+ ops\/s +.*\n {2}engine-direct +[\d,]+ ops\/s +█/)
  })

  it('runs the clients on a load thread of their own with --load-thread', async () => {
    const err = { write: () => true }
    const reporter = new Reporter({ scenario: 'grpc', json: true, out: { write: () => true }, err, progressMs: 0 })
    const record = await runScenario(scenario, parseFlags(scenario.flags, [...tiny, '--load-thread']), reporter)
    expect(record['loadThread']).toBe(true)
    expect(record.ops).toBeGreaterThan(0)
    expectRepliesCounted(record)
    expect(record['mainThreadBusy']).toBeGreaterThan(0)
    expect(record['mainThreadBusy']).toBeLessThanOrEqual(1)
    expect(record['mainThreadUsPerOp']).toBeGreaterThan(0)
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
  })

  it('drives the Bulk call, many requests a message, with --batch', async () => {
    const chunks: string[] = []
    const out = { write: (text: string) => chunks.push(text) }
    const reporter = new Reporter({ scenario: 'grpc', json: true, out, err: { write: () => true }, progressMs: 0 })
    const record = await runScenario(scenario, parseFlags(scenario.flags, [...tiny, '--batch', '8']), reporter)
    expect(record).toMatchObject({ batch: 8, call: 'Bulk' })
    expect(record.ops).toBeGreaterThan(0)
    expectRepliesCounted(record)
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
    expect(chunks.join('')).toMatch(/gRPC Bulk: [\d,]+ ops\/s, .*up to 8 requests a message/)
  })

  it.each([
    ['on the server\'s thread', []],
    ['on a load thread', ['--load-thread']],
  ])('shows the warm-up\'s progress on stderr like every other phase (%s)', async (_, extra) => {
    const lines: string[] = []
    const err = { write: (text: string) => lines.push(text) }
    const reporter = new Reporter({ scenario: 'grpc', json: true, out: { write: () => true }, err, progressMs: 100 })
    const options = parseFlags(scenario.flags, [...tiny, '--warmup', '0.6', ...extra])
    const record = await runScenario(scenario, options, reporter)
    const text = lines.join('')
    // Progress lines while it runs, then its own "done" line, before the measured phase's.
    expect(text).toMatch(/^warm-up \d+\.\d+s {2}[\d,]+ ops {2}[\d,]+ ops\/s/m)
    const done = /^warm-up done: ([\d,]+) ops in /m.exec(text)
    expect(done).not.toBeNull()
    expect(Number(done![1]!.replaceAll(',', ''))).toBeGreaterThan(0)
    expect(text.indexOf('warm-up done:')).toBeLessThan(text.indexOf('grpc done:'))
    // Still not measured: the replies counted are the measured phase's.
    expectRepliesCounted(record)
    expect(record['failures']).toEqual([])
  })

  it('refuses flags out of range', () => {
    expect(() => parseFlags(scenario.flags, ['--batch', '0'])).toThrow(/--batch/)
    expect(() => parseFlags(scenario.flags, ['--streams', '0'])).toThrow(FlagError)
    const many = () => parseFlags(scenario.flags, ['--window', 'many'])
    expect(many).toThrow(/--window must be an integer/)
    expect(() => parseFlags(scenario.flags, ['--clients', '3'])).toThrow(/unknown flag --clients/)
  })
})
