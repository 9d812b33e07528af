/**
 * Smoke test of the `engine` scenario, run in-process and tiny: the JSON
 * record has the documented fields, the load made progress, and every reply
 * had an expected status.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { Reporter } from '../report.ts'
import { runScenario } from '../run.ts'
import { parseFlags } from '../scenario.ts'
import { scenario } from './engine.ts'

function memory() {
  const chunks: string[] = []
  return { write: (text: string) => chunks.push(text), text: () => chunks.join('') }
}

async function runTiny(args: string[]) {
  const out = memory()
  const err = memory()
  const reporter = new Reporter({ scenario: 'engine', json: true, out, err, progressMs: 0 })
  const options = parseFlags(scenario.flags, ['--accounts', '2000', '--seconds', '1', ...args])
  const record = await runScenario(scenario, options, reporter)
  const lines = out.text().trimEnd().split('\n')
  expect(JSON.parse(lines[lines.length - 1]!)).toEqual(JSON.parse(JSON.stringify(record)))
  return record
}

function expectOnlyExpectedStatuses(statuses: unknown) {
  const names = Object.keys(statuses as object)
  expect(names.length).toBeGreaterThan(0)
  for (const name of names) expect(['ok', 'insufficient_points']).toContain(name)
}

describe('engine scenario', () => {
  it('runs closed loop and reports the required fields', async () => {
    const record = await runTiny(['--concurrency', '256', '--warmup', '0.3'])
    for (const field of ['scenario', 'ops', 'seconds', 'opsPerSec', 'p50Ms', 'p99Ms', 'accounts',
      'shards', 'workers', 'durable', 'seedOpsPerSec', 'statuses', 'machine', 'startedAt']) {
      expect(record).toHaveProperty(field)
    }
    expect(record.scenario).toBe('engine')
    expect(record.opsPerSec).toBeGreaterThan(0)
    expect(record['accounts']).toBe(2000)
    expect(record['shards']).toBe(4)
    expect(record['workers']).toBe(2)
    expect(record['durable']).toBe(true)
    expect(record['cpuUsPerOp']).toBeGreaterThan(0)
    expect(record['seedOps']).toBe(2000)
    expect(record['seedOpsPerSec']).toBeGreaterThan(0)
    expect(record.seconds).toBeLessThanOrEqual(1.001)
    expect(record.p99Ms).toBeGreaterThanOrEqual(record.p50Ms)
    expect(record['seedStatuses']).toEqual({ ok: 2000 })
    expectOnlyExpectedStatuses(record['statuses'])
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
    // The warm-up's commands reached the engine but are not among the measured replies.
    expect(record['warmupSeconds']).toBe(0.3)
    const replies = record['replies'] as number
    expect(replies).toBeGreaterThanOrEqual(record.ops)
    expect(replies).toBeLessThanOrEqual(record.ops + 2 * 256)
    // Seed, warm-up and measured phase each drain before the next starts.
    const warmupReplies = record['warmupReplies'] as number
    expect(warmupReplies).toBeGreaterThan(0)
    const { submitted } = record['engineStats'] as { submitted: number }
    expect(submitted).toBe(2000 + warmupReplies + replies)
  })

  it('runs open loop at a fixed rate without fsync', async () => {
    const record = await runTiny(['--rate', '2000', '--no-sync', '--workers', '1', '--shards', '2', '--warmup', '0.2'])
    expect(record['mode']).toBe('open')
    expect(record['durable']).toBe(false)
    expect(record['workers']).toBe(1)
    expect(record.ops).toBeGreaterThan(1500)
    // About 0.2 s at 2,000 commands/s, not counted.
    expect(record['warmupSeconds']).toBe(0.2)
    const warmupReplies = record['warmupReplies'] as number
    expect(warmupReplies).toBeGreaterThan(200)
    expect(warmupReplies).toBeLessThan(800)
    const { submitted } = record['engineStats'] as { submitted: number }
    expect(submitted).toBe(2000 + warmupReplies + (record['replies'] as number))
    expectOnlyExpectedStatuses(record['statuses'])
  })
})
