/**
 * Smoke test of the `ws` scenario, in-process and tiny: both phases run, the
 * JSON line carries the WebSocket figures beside engine-direct, and every
 * reply was ok.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { Reporter } from '../report.ts'
import { runScenario } from '../run.ts'
import { parseFlags } from '../scenario.ts'
import { scenario } from './ws.ts'

describe('ws scenario', () => {
  it.each(['msgpack', 'json'])('measures WebSocket beside engine-direct (%s frames)', async (encoding) => {
    const chunks: string[] = []
    const reporter = new Reporter({ scenario: 'ws', json: true, out: { write: (t: string) => chunks.push(t) }, err: { write: () => true }, progressMs: 0 })
    const options = parseFlags(scenario.flags, ['--accounts', '300', '--seconds', '0.5', '--terminals', '3', '--window', '16', '--encoding', encoding, '--warmup', '0.3'])
    const record = await runScenario(scenario, options, reporter)
    expect(JSON.parse(chunks.join('').trimEnd().split('\n').at(-1)!)).toEqual(JSON.parse(JSON.stringify(record)))
    expect(record.scenario).toBe('ws')
    // The comparison is charted: one bar each.
    expect(chunks.join('')).toMatch(/throughput, same mix, same run\n {2}websocket +[\d,]+ ops\/s +█*.*\n {2}engine-direct +[\d,]+ ops\/s +█/)
    expect(record.opsPerSec).toBeGreaterThan(0)
    expect(Object.keys(record['statuses'] as object)).toEqual(['ok'])
    expect((record['engineDirect'] as { opsPerSec: number }).opsPerSec).toBeGreaterThan(0)
    expect(record['durable']).toBe(true)
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
    // Every reply is counted once: the measured ones, plus at most a window a terminal answered after the deadline.
    const ok = (record['statuses'] as { ok: number }).ok
    expect(ok).toBeGreaterThanOrEqual(record.ops)
    expect(ok).toBeLessThanOrEqual(record.ops + 3 * 16)
    // The warm-up ran first on the same connections, and none of it is in the measured figures.
    expect(record['warmupSeconds']).toBe(0.3)
    expect(record['warmupReplies']).toBeGreaterThan(0)
    expect(record['loadThread']).toBe(false)
  })

  it('runs the terminals on a load thread of their own with --load-thread', async () => {
    const reporter = new Reporter({ scenario: 'ws', json: true, out: { write: () => true }, err: { write: () => true }, progressMs: 0 })
    const options = parseFlags(scenario.flags, ['--accounts', '300', '--seconds', '0.5', '--terminals', '2', '--window', '8', '--load-thread', '--warmup', '0.3'])
    const record = await runScenario(scenario, options, reporter)
    expect(record['loadThread']).toBe(true)
    expect(record.ops).toBeGreaterThan(0)
    expect(record['warmupReplies']).toBeGreaterThan(0)
    // The thread's latencies came back in batches, each counted once with its status; the
    // thread stops sending when the phase ends, so about a window a terminal comes after (its
    // clock may differ from the main thread's by a fraction of a millisecond: a few more).
    expect(Object.keys(record['statuses'] as object)).toEqual(['ok'])
    const ok = (record['statuses'] as { ok: number }).ok
    expect(ok).toBeGreaterThanOrEqual(record.ops)
    expect(ok).toBeLessThanOrEqual(record.ops + 2 * 8 + 8)
    expect(record['mainThreadBusy']).toBeGreaterThan(0)
    expect(record['mainThreadBusy']).toBeLessThanOrEqual(1)
    expect(record['mainThreadUsPerOp']).toBeGreaterThan(0)
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
  })
})
