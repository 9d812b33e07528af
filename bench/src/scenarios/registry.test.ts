/**
 * Smoke test of the `registry` scenario, in-process and tiny: every generated
 * member is imported and enrolled, every look-up finds its member, both kinds
 * of search are timed, and the JSON line carries the figures.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { Reporter } from '../report.ts'
import { runScenario } from '../run.ts'
import { parseFlags } from '../scenario.ts'
import { cardOf, scenario } from './registry.ts'

describe('registry scenario', () => {
  it('imports, looks up and searches, and reports it all in the JSON line', async () => {
    const chunks: string[] = []
    const out = { write: (text: string) => chunks.push(text) }
    const err = { write: () => true }
    const reporter = new Reporter({ scenario: 'registry', json: true, out, err, progressMs: 0 })
    const argv = ['--members', '400', '--batch', '150', '--lookup-seconds', '0.2', '--searches', '30']
    const record = await runScenario(scenario, parseFlags(scenario.flags, argv), reporter)
    const last = chunks.join('').trimEnd().split('\n').at(-1)!
    expect(JSON.parse(last)).toEqual(JSON.parse(JSON.stringify(record)))
    expect(record.scenario).toBe('registry')
    expect(chunks.join('')).toMatch(/search latency, first page of 50\n {2}name prefix p50 +[\d.]+ ms .*\n {2}name prefix p99 /)
    expect(record.ops).toBeGreaterThan(0)
    expect(record.opsPerSec).toBeGreaterThan(0)
    expect(record['lookupsPerSec']).toBe(record.opsPerSec)
    expect(record['members']).toBe(400)
    expect(record['import']).toMatchObject({
      imported: 400, rejected: 0, enrolled: 400, enrollFailed: 0, batch: 150,
    })
    type Figures = { queries: number; p50Ms: number; p99Ms: number; meanResults: number }
    const search = record['search'] as Record<string, Figures>
    for (const kind of ['namePrefix', 'countryJoined']) {
      expect(search[kind]!.queries, kind).toBe(30)
      expect(search[kind]!.p99Ms, kind).toBeGreaterThanOrEqual(search[kind]!.p50Ms)
    }
    expect(search['namePrefix']!.meanResults).toBeGreaterThan(0)
    expect(record['warnings']).toEqual([])
    expect(record['failures']).toEqual([])
  })

  it('gives every member its own card number', () => {
    expect(cardOf(0)).toBe('60010000000000')
    expect(cardOf(999_999)).toBe('60010000999999')
  })
})
