/**
 * Smoke test of the `http` scenario, tiny: the server answered every request
 * it was sent with 200 (or a balance running out), each HTTP request became
 * one engine command, the engine-direct comparison ran beside it, and the
 * JSON line is the record. Once with autocannon on the main thread, once on
 * its own thread.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { Reporter, type BenchRecord } from '../report.ts'
import { runScenario } from '../run.ts'
import { parseFlags } from '../scenario.ts'
import { scenario } from './http.ts'

async function runTiny(extra: string[]): Promise<BenchRecord> {
  const chunks: string[] = []
  const out = { write: (text: string) => chunks.push(text) }
  const err = { write: () => true }
  const reporter = new Reporter({ scenario: 'http', json: true, out, err, progressMs: 0 })
  const options = parseFlags(scenario.flags, [
    '--accounts', '500', '--seconds', '1', '--connections', '8', '--pipelining', '2',
    '--seed-concurrency', '64', '--warmup', '0.5', ...extra,
  ])
  const record = await runScenario(scenario, options, reporter)
  const last = chunks.join('').trimEnd().split('\n').at(-1)!
  expect(JSON.parse(last)).toEqual(JSON.parse(JSON.stringify(record)))
  return record
}

function expectSound(record: BenchRecord) {
  expect(record.scenario).toBe('http')
  expect(record.opsPerSec).toBeGreaterThan(0)
  expect(record.p99Ms).toBeGreaterThanOrEqual(record.p50Ms)
  expect(record['seedStatuses']).toEqual({ ok: 500 })
  const codes = record['httpCodes'] as Record<string, number>
  for (const code of Object.keys(codes)) expect(['200', '409']).toContain(code)
  const sent = record['requestsSent'] as Record<string, number>
  expect(sent['redeem']).toBeGreaterThan(0)
  expect(sent['balance']).toBeGreaterThan(0)
  // Every answered request was one engine command (stragglers past the window count too).
  // A request in flight when the measured phase opened may have had its command answered
  // just before: at most one a pipeline slot (8 × 2 here).
  const answered = Object.values(codes).reduce((sum, n) => sum + n, 0)
  expect(record['engineCommands']).toBeGreaterThanOrEqual(answered - 16)
  expect(record['engineCommands']).toBeLessThanOrEqual(answered + 16)
  expect(record.ops).toBeLessThanOrEqual(answered)
  const direct = record['engineDirect'] as {
    opsPerSec: number
    p50Ms: number
    p99Ms: number
    statuses: object
  }
  expect(direct.opsPerSec).toBeGreaterThan(0)
  expect(direct.p99Ms).toBeGreaterThanOrEqual(direct.p50Ms)
  for (const status of Object.keys(direct.statuses)) {
    expect(['ok', 'insufficient_points']).toContain(status)
  }
  expect(record['httpShare']).toBeCloseTo(record.opsPerSec / direct.opsPerSec, 2)
  expect(record['durable']).toBe(true)
  expect(record['mainThreadUsPerRequest']).toBeGreaterThan(0)
  expect(record['warnings']).toEqual([])
  expect(record['failures']).toEqual([])
}

describe('http scenario', () => {
  it('measures REST beside engine-direct with autocannon on the main thread', async () => {
    const record = await runTiny([])
    expectSound(record)
    // The warm-up ran the same load first, and none of it is in the measured figures.
    expect(record['warmupSeconds']).toBe(0.5)
    expect(record['warmupResponses']).toBeGreaterThan(0)
    const sent = Object.values(record['requestsSent'] as Record<string, number>).reduce((sum, n) => sum + n, 0)
    const answered = Object.values(record['httpCodes'] as Record<string, number>).reduce((sum, n) => sum + n, 0)
    expect(sent - answered).toBeLessThanOrEqual(8 * 2)
    expect(record['loadThread']).toBe(false)
    expect(record['connections']).toBe(8)
    expect(record['pipelining']).toBe(2)
  })

  it('runs autocannon on its own thread with --load-thread', async () => {
    const record = await runTiny(['--load-thread', '--warmup', '0'])
    expectSound(record)
    expect(record['warmupResponses']).toBe(0)
    expect(record['loadThread']).toBe(true)
  })
})
