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
    const options = parseFlags(scenario.flags, ['--accounts', '300', '--seconds', '0.5', '--terminals', '3', '--window', '16', '--encoding', encoding])
    const record = await runScenario(scenario, options, reporter)
    expect(JSON.parse(chunks.join('').trimEnd().split('\n').at(-1)!)).toEqual(JSON.parse(JSON.stringify(record)))
    expect(record.scenario).toBe('ws')
    expect(record.opsPerSec).toBeGreaterThan(0)
    expect(Object.keys(record['statuses'] as object)).toEqual(['ok'])
    expect((record['engineDirect'] as { opsPerSec: number }).opsPerSec).toBeGreaterThan(0)
    expect(record['durable']).toBe(true)
    expect(record['warnings']).toEqual([])
  })
})
