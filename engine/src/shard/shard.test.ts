/**
 * Goal: every command a shard takes is answered, even when its batch fails
 * before the commit (a quota lease the engine cannot grant, a read that
 * fails), and the shard serves the next batch afterwards.
 * Method: a real shard on the memory store, with a campaign quota whose lease
 * request fails once, as it does when the registry cannot record the grant.
 */
import { describe, expect, it } from 'vitest'
import { compileRuleset } from '../rules/compile.ts'
import { MemoryStore } from '../store/memory-store.ts'
import { FakeClock } from '../testing/clock.ts'
import { oneProgram } from '../testing/programs.ts'
import { Shard } from './shard.ts'

const campaigns = [{
  id: 'first', name: 'first 10', from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', priority: 1,
  stacking: 'combinable' as const, quota: 10, rules: [{ id: 'f', kind: 'fixed' as const, points: 1000 }],
}]

describe('a shard whose batch fails before its commit', () => {
  it('answers that batch unavailable and runs the next', async () => {
    const store = new MemoryStore()
    let leaseFails = true
    const fatal: unknown[] = []
    const shard = new Shard({
      store,
      clock: new FakeClock().read,
      rules: compileRuleset(oneProgram({ campaigns }), 1),
      requestLease: async () => {
        if (leaseFails) throw new Error('the registry could not record the grant')
        return 10
      },
      onFatal: (error) => fatal.push(error),
    })
    const enrolled = await shard.submit({ op: 'enroll', account: 'a', key: 'join', program: 'p' })
    expect(enrolled.status).toBe('ok')
    const basket = { lines: [{ sku: 's', quantity: 1, unitPrice: 100 }] }
    const failed = await Promise.race([
      shard.submit({ op: 'purchase', account: 'a', key: 'p1', basket }),
      new Promise((resolve) => setTimeout(() => resolve('no answer'), 2000)),
    ])
    expect(failed).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/could not record the grant/) })
    expect(fatal).toHaveLength(1)
    leaseFails = false
    expect(await shard.submit({ op: 'purchase', account: 'a', key: 'p1', basket })).toMatchObject({ status: 'ok', points: 1001 })
    await shard.close()
  })
})
