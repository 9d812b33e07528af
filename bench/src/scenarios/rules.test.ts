/**
 * Smoke test of the `rules` scenario, in-process and tiny: both phases run,
 * the comparison fields are there, every purchase was answered ok, and the
 * generated large program is one the validator accepts.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { validateRuleset } from '@loyalty/engine/rules'
import { Reporter } from '../report.ts'
import { runScenario } from '../run.ts'
import { parseFlags } from '../scenario.ts'
import { manyRulesDoc, scenario } from './rules.ts'

describe('rules scenario', () => {
  it('generates a valid program with the asked number of rules and campaigns', () => {
    const doc = manyRulesDoc(100, 3)
    expect(validateRuleset(doc)).toMatchObject({ ok: true })
    const program = doc.programs[0]!
    expect(program.rules.length + program.campaigns!.length).toBe(100)
  })

  it('measures one rule and many rules side by side', async () => {
    const chunks: string[] = []
    const out = { write: (text: string) => chunks.push(text) }
    const progress: string[] = []
    const err = { write: (text: string) => progress.push(text) }
    const reporter = new Reporter({ scenario: 'rules', json: true, out, err, progressMs: 50 })
    const options = parseFlags(scenario.flags, ['--members', '500', '--seconds', '0.5', '--concurrency', '64', '--evaluator-seconds', '0.1'])
    const record = await runScenario(scenario, options, reporter)
    const last = chunks.join('').trimEnd().split('\n').at(-1)!
    expect(JSON.parse(last)).toEqual(JSON.parse(JSON.stringify(record)))
    expect(record.scenario).toBe('rules')
    expect(chunks.join('')).toMatch(/engine, purchases\/s\n {2}1 rule +[\d,]+ purchases\/s .*\n {2}100 rules +[\d,]+ purchases\/s/)
    expect(chunks.join('')).toMatch(/evaluator alone, baskets\/s\n {2}1 rule +[\d,]+ baskets\/s +█/)
    expect(record.opsPerSec).toBeGreaterThan(0)
    const one = record['oneRule'] as { opsPerSec: number; statuses: Record<string, number> }
    const many = record['manyRules'] as { opsPerSec: number; statuses: Record<string, number> }
    expect(Object.keys(one.statuses)).toEqual(['ok'])
    expect(Object.keys(many.statuses)).toEqual(['ok'])
    expect(record['ratio']).toBeCloseTo(many.opsPerSec / one.opsPerSec, 2)
    const evaluator = record['evaluator'] as { oneRule: number; manyRules: number }
    expect(evaluator.oneRule).toBeGreaterThan(evaluator.manyRules)
    expect(record['warnings']).toEqual([])
    // The evaluator runs show progress like the engine's phases.
    expect(progress.join('')).toMatch(/evaluator, 1 rule done: [\d,]+ ops in 0\.1s/)
    expect(progress.join('')).toMatch(/evaluator, 100 rules done: [\d,]+ ops/)
    expect(record['failures']).toEqual([])
  })
})
