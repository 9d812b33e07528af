/**
 * The ruleset size limit on the engine's own publish path: `engine.rules.publish`
 * (and a draft's preview) refuse a document over `rulesetBytesMax` bytes of
 * JSON, naming the limit, and store nothing, whoever calls them. Only REST
 * had a limit (its body size) before.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openEngine, type Engine } from '../engine.ts'
import { oneProgram } from '../testing/programs.ts'
import type { CampaignDoc, RulesetDoc } from './types.ts'
import { rulesetBytesMax } from './validate.ts'

let engine: Engine | undefined
afterEach(async () => {
  await engine?.close()
  engine = undefined
})

function bytesOf(doc: unknown): number {
  return Buffer.byteLength(JSON.stringify(doc))
}

function campaign(i: number, name: string): CampaignDoc {
  return {
    id: `c${i}`,
    name,
    from: '2026-01-01T00:00:00Z',
    to: '2027-01-01T00:00:00Z',
    priority: 0,
    stacking: 'combinable',
    rules: [{ id: 'bonus', kind: 'fixed', points: 1 }],
  }
}

/** A valid ruleset of exactly `bytes` bytes of JSON: campaigns, the last one's name filling up. */
function rulesetOf(bytes: number, letter = 'x'): RulesetDoc {
  const campaigns: CampaignDoc[] = []
  const doc = oneProgram({ campaigns })
  const letterBytes = Buffer.byteLength(letter)
  let size = bytesOf(doc)
  for (let i = 0; ; i++) {
    const last = campaign(i, letter)
    campaigns.push(last)
    // The campaign, and a comma before all but the first.
    size += bytesOf(last) + (i > 0 ? 1 : 0)
    const missing = bytes - size
    if (missing < 0) throw new Error('overshot')
    // A name holds at most 500 characters.
    if (missing <= 400 * letterBytes) {
      if (missing % letterBytes !== 0) throw new Error('cannot fill exactly')
      last.name = letter.repeat(1 + missing / letterBytes)
      return doc
    }
    last.name = letter.repeat(400)
    size += 399 * letterBytes
  }
}

describe('ruleset size limit on engine.rules.publish', () => {
  it('stores a ruleset of exactly rulesetBytesMax bytes, and refuses one byte more naming the limit, storing nothing', async () => {
    engine = await openEngine({ storage: 'memory', shards: 2 })
    const atLimit = rulesetOf(rulesetBytesMax)
    expect(bytesOf(atLimit)).toBe(rulesetBytesMax)
    expect(await engine.rules.publish(atLimit)).toEqual({ ok: true, version: 1, active: false })

    const over = rulesetOf(rulesetBytesMax + 1)
    const message = `a ruleset may have at most ${rulesetBytesMax} bytes as JSON (rulesetBytesMax), this one has ${rulesetBytesMax + 1}`
    expect(await engine.rules.publish(over, { activate: true })).toEqual({ ok: false, errors: [{ path: '$', message }] })
    expect(await engine.rules.publish(over, { activate: true, force: true })).toEqual({ ok: false, errors: [{ path: '$', message }] })
    // Nothing half-applied: no version stored, none activated.
    expect(engine.rules.list().map((v) => v.version)).toEqual([1])
    expect(engine.rules.active()).toBeUndefined()
  })

  it('counts bytes, not characters, and refuses a far larger document the same way, before validating it', async () => {
    engine = await openEngine({ storage: 'memory', shards: 2 })
    // Two bytes a character in UTF-8: under the limit in characters, over it in bytes.
    const accented = rulesetOf(rulesetBytesMax + 2, 'é')
    expect(JSON.stringify(accented).length).toBeLessThan(rulesetBytesMax)
    expect(await engine.rules.publish(accented)).toMatchObject({ ok: false, errors: [{ path: '$', message: expect.stringContaining(`this one has ${rulesetBytesMax + 2}`) }] })
    // Far over, and invalid too: the size is the one error (its thousands of others are not worth finding).
    const huge = { programs: Array.from({ length: 20_000 }, (_, i) => ({ id: `p${i}`, bogus: 'y'.repeat(100) })) }
    const refused = await engine.rules.publish(huge)
    expect(refused).toMatchObject({ ok: false, errors: [{ path: '$', message: expect.stringMatching(/^a ruleset may have at most 1048576 bytes as JSON \(rulesetBytesMax\), this one has \d+$/) }] })
    expect(engine.rules.list()).toEqual([])
  })

  it('refuses a document that is not JSON data instead of throwing, and a draft preview over the limit', async () => {
    engine = await openEngine({ storage: 'memory', shards: 2 })
    const cyclic: Record<string, unknown> = { programs: [] }
    cyclic['self'] = cyclic
    expect(await engine.rules.publish(cyclic)).toEqual({ ok: false, errors: [{ path: '$', message: expect.stringMatching(/^a ruleset must be JSON data: Converting circular structure to JSON/) }] })
    const preview = engine.rules.preview({ ruleset: rulesetOf(rulesetBytesMax + 1), program: 'p', basket: { lines: [{ sku: 'a', quantity: 1, unitPrice: 100 }] } })
    expect(preview).toMatchObject({ ok: false, errors: [{ path: '$', message: expect.stringMatching(/^a ruleset may have at most/) }] })
    expect(engine.rules.list()).toEqual([])
  })
})
