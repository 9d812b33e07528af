/**
 * Hot reload under load, on LMDB with worker threads: new ruleset versions
 * are activated while purchases stream in. No purchase may fail, every
 * journal entry must name the version that evaluated it, the points must be
 * what that version gives, versions never go backwards within an account,
 * and a reopened engine starts on the active version.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Reply } from './domain/types.ts'
import { openEngine, type Engine } from './engine.ts'
import type { RulesetDoc } from './rules/types.ts'
import { oneProgram } from './testing/programs.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Version n gives n points per $1, so every reply says which version evaluated it. */
function ratePerDollar(points: number): RulesetDoc {
  return oneProgram({
    name: 'Reload',
    tiers: [{ id: 't', name: 'T', threshold: 0 }],
    qualification: { basis: 'points', period: 'rolling12Months', review: 'oneDown' },
    rules: [{ id: 'spend', kind: 'perSpend', points, per: 100 }],
  })
}

const members = 200
const purchases = 4000

describe('hot reload', () => {
  it('switches versions under load without a failed request, and records them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-reload-'))
    dirs.push(dataDir)
    let engine: Engine = await openEngine({ dataDir, shards: 4, workers: 2 })
    expect(await engine.rules.publish(ratePerDollar(1), { activate: true })).toMatchObject({ ok: true, version: 1 })
    for (let i = 0; i < members; i++) {
      expect((await engine.execute({ op: 'enroll', account: `m${i}`, key: 'join', program: 'p' })).status).toBe('ok')
    }
    const replies: Reply[] = []
    let sent = 0
    const lane = async () => {
      while (sent < purchases) {
        const n = sent++
        const basket = { lines: [{ sku: 'x', quantity: 1, unitPrice: 1000 }] }
        replies.push(await engine.execute({ op: 'purchase', account: `m${n % members}`, key: `p${n}`, basket }))
      }
    }
    const load = Promise.all(Array.from({ length: 64 }, lane))
    // Two switches while the load runs, each once some purchases have gone through.
    for (const version of [2, 3]) {
      while (replies.length < (purchases * (version - 1)) / 3) await new Promise((r) => setTimeout(r, 2))
      expect(await engine.rules.publish(ratePerDollar(version), { activate: true })).toMatchObject({ ok: true, version })
    }
    await load

    expect(replies.filter((r) => r.status !== 'ok')).toEqual([])
    const byPoints = new Map<number, number>()
    for (const reply of replies) byPoints.set(reply.points!, (byPoints.get(reply.points!) ?? 0) + 1)
    // Every purchase earned exactly what one of the versions gives, and every version was used.
    expect([...byPoints.keys()].sort()).toEqual([10, 20, 30])

    let checked = 0
    for (let i = 0; i < members; i++) {
      const history = await engine.execute({ op: 'history', account: `m${i}`, limit: 100 })
      const bought = (history.entries ?? []).filter((e) => e.reason === 'purchase').reverse()
      let last = 0
      for (const entry of bought) {
        expect(entry.rulesetVersion).toBeDefined()
        expect(entry.points).toBe(10 * entry.rulesetVersion!)
        expect(entry.rulesetVersion!).toBeGreaterThanOrEqual(last)
        last = entry.rulesetVersion!
        checked++
      }
    }
    expect(checked).toBe(purchases)
    await engine.close()

    engine = await openEngine({ dataDir, workers: 2 })
    try {
      expect(engine.rules.active()?.version).toBe(3)
      expect(engine.rules.list().map((v) => v.version)).toEqual([1, 2, 3])
      const after = await engine.execute({
        op: 'purchase', account: 'm0', key: 'after-reopen', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: 1000 }] },
      })
      expect(after).toMatchObject({ status: 'ok', points: 30 })
    } finally {
      await engine.close()
    }
  })
})
