/**
 * Goal: the ledger's guards and shares where they meet their edges: the
 * points an account (and a ref) may add up to, amounts of several earns or
 * redemptions on one ref, the words of a refusal on a timed-out hold, and
 * returns under the `clamp` policy while points are held.
 * Method: commands run straight through `execute` on one working set (no
 * shard, no store), with a hand-moved clock; after each test every account's
 * journal is checked against the ledger's invariants (`accountProblems`),
 * including that the balance is the journal's sum and the lots' less debt.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { compileRuleset, type CompiledRuleset } from '../rules/compile.ts'
import { demoRuleset } from '../rules/demo.ts'
import { accountPointsMax, ledgerBalance, refTotalMax } from './account.ts'
import { WorkingSet, type StoreReader } from './batch.ts'
import { accountProblems } from './invariants.ts'
import { execute, noQuotas } from './ledger.ts'
import { ledgerConfigDefault, type AccountState, type Command, type Entry, type Reply } from './types.ts'

const hourMs = 3_600_000
const perCommandMax = 1_000_000_000_000

const nothingStored: StoreReader = {
  getAccount: () => undefined,
  getIdem: () => undefined,
  getClosedHold: () => undefined,
  getTxn: () => undefined,
  getBurn: () => undefined,
  getEntries: () => [],
}

/** One working set that every command of a test runs in, as if in one long batch. */
class Ledger {
  readonly ws = new WorkingSet(nothingStored)
  now = Date.UTC(2026, 2, 4, 10) // a Wednesday: no weekend campaign
  rules: CompiledRuleset | undefined
  #keys = 0

  run(command: Record<string, unknown>): Reply {
    const keyed = command['op'] === 'balance' || command['key'] !== undefined ? command : { ...command, key: `k${++this.#keys}` }
    const ctx = { ws: this.ws, now: this.now, config: ledgerConfigDefault, rules: this.rules, quotas: noQuotas }
    return execute(ctx, keyed as unknown as Command)
  }

  ok(command: Record<string, unknown>): Reply {
    const reply = this.run(command)
    expect(reply.status, JSON.stringify(command)).toBe('ok')
    return reply
  }

  /** Runs the ledger under `rules` and enrols `account` in their demo program. */
  join(account: string, rules: CompiledRuleset) {
    this.rules = rules
    this.ok({ op: 'enroll', account, program: 'demo' })
  }

  available(account: string): number {
    return this.run({ op: 'balance', account }).balance!.available
  }

  state(account: string): AccountState {
    return this.ws.account(account)!
  }

  journal(account: string): Entry[] {
    return this.ws.write.entries.filter((e) => e.account === account).map((e) => e.entry)
  }

  /** Earns up to `total` points on `account` in the largest lots a command may carry. */
  fill(account: string, total: number, extra: Record<string, unknown> = {}) {
    for (let left = total; left > 0; left -= perCommandMax) {
      this.ok({ op: 'earn', account, points: Math.min(left, perCommandMax), ...extra })
    }
  }
}

let checked: { ledger: Ledger; accounts: string[] } | undefined

function ledger(...accounts: string[]): Ledger {
  const l = new Ledger()
  checked = { ledger: l, accounts }
  return l
}

/** The balance is the journal's sum and the lots' less debt, and every other invariant holds. */
function checkInvariants(l: Ledger, account: string) {
  const state = l.ws.account(account)
  if (state === undefined) return
  const journal = l.journal(account)
  const sum = journal.reduce((total, e) => total + e.points, 0)
  const b = l.run({ op: 'balance', account }).balance!
  expect(b.available + b.pending, `balance of ${account}`).toBe(sum)
  expect(ledgerBalance(state), `lots less debt of ${account}`).toBe(sum)
  expect(accountProblems(state, journal)).toEqual([])
}

afterEach(() => {
  if (checked !== undefined) for (const account of checked.accounts) checkInvariants(checked.ledger, account)
  checked = undefined
})

/** The demo ruleset with its program changed by `edit`, compiled. */
function programRules(edit: (program: (typeof demoRuleset)['programs'][number]) => void): CompiledRuleset {
  const doc = structuredClone(demoRuleset)
  edit(doc.programs[0]!)
  return compileRuleset(doc, 1)
}

/** The demo program, its returns clamped (`negativeBalanceOnReturn: false`) or not. */
function demoRules(clamp: boolean): CompiledRuleset {
  return programRules((program) => (program.negativeBalanceOnReturn = !clamp))
}

/** The demo program qualifying on `basis`, with these tiers, one point per $1, and no campaigns or activities. */
function plainRules(basis: 'spend' | 'balance', tiers: (typeof demoRuleset)['programs'][number]['tiers']): CompiledRuleset {
  return programRules((program) => {
    program.qualification = { basis, period: 'rolling12Months', review: 'recompute' }
    program.tiers = tiers
    program.rules = [{ id: 'base', name: '1 point per $1', kind: 'perSpend', points: 1, per: 100 }]
    program.campaigns = []
    program.activities = []
  })
}

const tv = (unitPrice: number) => ({ lines: [{ sku: 'tv', category: 'tv', quantity: 1, unitPrice }] })

/** A basket line. */
const item = (sku: string, category: string, unitPrice: number, quantity = 1) => ({ sku, category, quantity, unitPrice })

// ---------------------------------------------------------------------------

describe('an account holds at most 10^15 points', () => {
  it('refuses an earn past the limit, naming it, and applies nothing', () => {
    const l = ledger('whale')
    expect(accountPointsMax).toBe(10 ** 15)
    l.fill('whale', accountPointsMax)
    expect(l.available('whale')).toBe(accountPointsMax)
    const seq = l.state('whale').seq
    const refused = l.run({ op: 'earn', account: 'whale', key: 'small', points: 1 })
    expect(refused).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(refused.message).toContain('at most 1000000000000000 (10^15)')
    expect(l.state('whale').seq).toBe(seq)
    expect(l.available('whale')).toBe(accountPointsMax)
    // Not stored: the same key runs once there is room again, and every point counts.
    expect(l.run({ op: 'redeem', account: 'whale', points: 1 })).toMatchObject({ status: 'ok', balance: { available: accountPointsMax - 1 } })
    expect(l.run({ op: 'earn', account: 'whale', key: 'small', points: 1 })).toMatchObject({ status: 'ok', balance: { available: accountPointsMax } })
    expect(Number.isSafeInteger(l.state('whale').lots[0]!.points)).toBe(true)
  })

  it('counts pending and held points, and refuses a positive adjustment too', () => {
    const l = ledger('a')
    l.fill('a', accountPointsMax - perCommandMax)
    l.ok({ op: 'earn', account: 'a', points: perCommandMax - 100, activeFrom: l.now + hourMs })
    l.ok({ op: 'authorize', account: 'a', points: 500 })
    expect(l.run({ op: 'balance', account: 'a' }).balance).toEqual({
      available: accountPointsMax - perCommandMax - 500,
      pending: perCommandMax - 100,
      held: 500,
    })
    expect(l.run({ op: 'adjust', account: 'a', points: 101, reason: 'goodwill' })).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(l.run({ op: 'earn', account: 'a', points: 101 })).toMatchObject({ status: 'invalid_request', field: 'points' })
    l.ok({ op: 'adjust', account: 'a', points: 100, reason: 'goodwill' })
  })

  it('refuses a refund that would take a topped-up account past the limit', () => {
    const l = ledger('a')
    l.fill('a', accountPointsMax)
    l.ok({ op: 'redeem', account: 'a', points: 10, ref: 'o1', amount: 1000 })
    l.ok({ op: 'earn', account: 'a', points: 10 })
    expect(l.run({ op: 'refund', account: 'a', key: 'f', ref: 'o1' })).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(l.available('a')).toBe(accountPointsMax)
    l.ok({ op: 'redeem', account: 'a', points: 10 })
    expect(l.run({ op: 'refund', account: 'a', key: 'f', ref: 'o1' })).toMatchObject({ status: 'ok', points: 10, balance: { available: accountPointsMax } })
  })

  it('refuses a purchase past the limit before anything of it counts', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.fill('m1', accountPointsMax - 100 - 10)
    const refused = l.run({ op: 'purchase', account: 'm1', key: 'buy', ref: 'p1', basket: tv(5000) })
    expect(refused).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(l.state('m1').program!.purchases).toBe(0)
    expect(l.ws.txn('m1', 'p1')).toBeUndefined()
  })

  it('refuses an enrolment whose welcome points would pass the limit, leaving the account outside the program', () => {
    const l = ledger('m2')
    l.rules = demoRules(false)
    l.fill('m2', accountPointsMax - 50)
    expect(l.run({ op: 'enroll', account: 'm2', key: 'join', program: 'demo' })).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(l.state('m2').program).toBeUndefined()
    l.ok({ op: 'redeem', account: 'm2', points: 50 })
    expect(l.run({ op: 'enroll', account: 'm2', key: 'join', program: 'demo' })).toMatchObject({ status: 'ok', points: 100 })
  })

  it('refuses an earn or a redemption that would take the sums of its ref past 10^15', () => {
    const l = ledger('a')
    expect(refTotalMax).toBe(10 ** 15)
    const cycles = refTotalMax / perCommandMax
    for (let i = 0; i < cycles; i++) {
      l.ok({ op: 'earn', account: 'a', points: perCommandMax, ref: 'R', amount: perCommandMax })
      l.ok({ op: 'redeem', account: 'a', points: perCommandMax, ref: 'O', amount: perCommandMax })
    }
    l.ok({ op: 'earn', account: 'a', points: 5 })
    expect(l.run({ op: 'earn', account: 'a', points: 1, ref: 'R' })).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(l.run({ op: 'redeem', account: 'a', points: 1, ref: 'O' })).toMatchObject({ status: 'invalid_request', field: 'points' })
    expect(l.ws.txn('a', 'R')).toMatchObject({ points: refTotalMax, amount: refTotalMax })
    expect(l.ws.burn('a', 'O')).toMatchObject({ points: refTotalMax, amount: refTotalMax })
    expect(l.available('a')).toBe(5)
  })

  it('refuses the money recorded under one ref past 10^15 as field amount', () => {
    const l = ledger('a')
    for (let i = 0; i < refTotalMax / perCommandMax; i++) l.ok({ op: 'earn', account: 'a', points: 1, ref: 'R', amount: perCommandMax })
    const refused = l.run({ op: 'earn', account: 'a', points: 1, ref: 'R', amount: 1 })
    expect(refused).toMatchObject({ status: 'invalid_request', field: 'amount' })
    l.ok({ op: 'earn', account: 'a', points: 1, ref: 'R' })
  })
})

describe('several earns or redemptions on one ref', () => {
  it('refund by the money each redemption paid: the amounts add up like the points', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 1000 })
    l.ok({ op: 'redeem', account: 'a', points: 100, ref: 'o1', amount: 1000 })
    l.ok({ op: 'redeem', account: 'a', points: 100, ref: 'o1', amount: 1000 })
    expect(l.run({ op: 'refund', account: 'a', ref: 'o1', amount: 1000 })).toMatchObject({ status: 'ok', points: 100, balance: { available: 900 } })
    expect(l.run({ op: 'refund', account: 'a', ref: 'o1', amount: 1000 })).toMatchObject({ status: 'ok', points: 100, balance: { available: 1000 } })
    expect(l.run({ op: 'refund', account: 'a', ref: 'o1', amount: 1 })).toMatchObject({ status: 'reversal_exceeds_original' })
  })

  it('reverse by the money each earn was made on', () => {
    const l = ledger('b')
    l.ok({ op: 'earn', account: 'b', points: 100, ref: 'p1', amount: 1000 })
    l.ok({ op: 'earn', account: 'b', points: 100, ref: 'p1', amount: 1000 })
    expect(l.run({ op: 'reverse', account: 'b', ref: 'p1', amount: 1000 })).toMatchObject({ status: 'ok', points: 100, balance: { available: 100 } })
    expect(l.run({ op: 'reverse', account: 'b', ref: 'p1', amount: 1000 })).toMatchObject({ status: 'ok', points: 100, balance: { available: 0 } })
  })

  it('a bonus earn without an amount adds its points to the ref, not to its money', () => {
    const l = ledger('b')
    l.ok({ op: 'earn', account: 'b', points: 100, ref: 'p1', amount: 1000 })
    l.ok({ op: 'earn', account: 'b', points: 50, ref: 'p1' })
    // Half the money takes back half of base and bonus: floor(150 × 500 / 1000).
    expect(l.run({ op: 'reverse', account: 'b', ref: 'p1', amount: 500 })).toMatchObject({ status: 'ok', points: 75 })
    expect(l.run({ op: 'reverse', account: 'b', ref: 'p1', amount: 500 })).toMatchObject({ status: 'ok', points: 75, balance: { available: 0 } })
  })

  it('a purchase counts its basket once, whatever its breakdown and tier bonus', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' }) // 100 welcome points
    // $10,000 earns 10,000 plus 100 for a first purchase, and reaches Silver (a 500 bonus of its own).
    const bought = l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(1_000_000) })
    expect(bought.breakdown!.map((b) => b.points)).toEqual([10_000, 100, 500])
    expect(l.ws.txn('m1', 'p1')).toMatchObject({ points: 10_100, amount: 1_000_000 })
    // Half of it takes qualification below Silver's 10,000: the Silver bonus goes back with it.
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 500_000 })).toMatchObject({ status: 'ok', points: 5050 + 500 })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 500_000 })).toMatchObject({ status: 'ok', points: 5050, balance: { available: 100 } })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 1 })).toMatchObject({ status: 'reversal_exceeds_original' })
  })
})

describe('refusals on a hold that timed out', () => {
  it('a void says the hold expired at its deadline and was released; a capture that it expired before it was captured', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 100 })
    const deadline = l.now + 60_000
    const hold = l.ok({ op: 'authorize', account: 'a', points: 40, timeoutMs: 60_000 }).hold!
    const hold2 = l.ok({ op: 'authorize', account: 'a', points: 10, timeoutMs: 60_000 }).hold!
    l.now += 2 * hourMs
    const voided = l.run({ op: 'void', account: 'a', hold })
    expect(voided.status).toBe('hold_expired')
    expect(voided.message).toBe(`hold ${hold} expired at ${new Date(deadline).toISOString()} and was released`)
    const captured = l.run({ op: 'capture', account: 'a', hold: hold2 })
    expect(captured.status).toBe('hold_expired')
    expect(captured.message).toBe(`hold ${hold2} expired at ${new Date(deadline).toISOString()} before it was captured`)
    expect(l.available('a')).toBe(100)
  })

  it('a hold closed before its deadline was recorded says when it was released', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 100 })
    const hold = l.ok({ op: 'authorize', account: 'a', points: 40, timeoutMs: 60_000 }).hold!
    l.now += hourMs
    l.available('a') // settles the hold
    delete l.ws.closedHold('a', hold)!.expiresAt
    expect(l.run({ op: 'void', account: 'a', hold }).message).toBe(
      `hold ${hold} expired and was released at ${new Date(l.now).toISOString()}`,
    )
  })
})

describe('a return while the points are held claims them from the hold', () => {
  /** Enrols (100 points), buys a TV earning 600 and holds 600 of the 700. */
  function heldPurchase(l: Ledger, clamp = true): number {
    l.rules = demoRules(clamp)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(50_000) }).points).toBe(600)
    return l.ok({ op: 'authorize', account: 'm1', points: 600 }).hold!
  }

  it('takes what lots hold, then claims held points, owed while held: a void settles them with the held points', () => {
    for (const clamp of [true, false]) {
      const l = ledger('m1')
      const hold = heldPurchase(l, clamp)
      const returned = l.run({ op: 'reverse', account: 'm1', ref: 'p1' })
      // 100 from the lots, 500 claimed from the hold: nothing forgiven.
      expect(returned).toMatchObject({ status: 'ok', points: 600, balance: { available: -500, pending: 0, held: 600 } })
      expect(returned.shortfall).toBeUndefined()
      expect(l.run({ op: 'lots', account: 'm1' })).toMatchObject({ holds: [{ hold, points: 600, claimed: 500 }], debt: 0 })
      expect(l.journal('m1').at(-1)).toMatchObject({ kind: 'reverse', points: -600, held: 0 })
      expect(l.run({ op: 'void', account: 'm1', hold })).toMatchObject({ status: 'ok', points: 600, balance: { available: 100, held: 0 } })
      expect(l.state('m1').debt).toBe(0)
    }
  })

  it('a hold that times out settles them the same', () => {
    const l = ledger('m1')
    heldPurchase(l)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1' })
    l.now += hourMs
    expect(l.run({ op: 'balance', account: 'm1' }).balance).toEqual({ available: 100, pending: 0, held: 0 })
  })

  it('captured, the hold spends the claimed points: they are owed for good, and a later earn pays them', () => {
    for (const shortfall of ['clamp', 'debt'] as const) {
      const l = ledger('m1')
      const hold = heldPurchase(l)
      l.ok({ op: 'reverse', account: 'm1', ref: 'p1', shortfall })
      expect(l.run({ op: 'capture', account: 'm1', hold })).toMatchObject({ status: 'ok', points: 600, balance: { available: -500, held: 0 } })
      expect(l.journal('m1').at(-1)).toMatchObject({ kind: 'capture', points: 0, held: -600 })
      expect(l.state('m1').debt).toBe(500)
      expect(l.run({ op: 'earn', account: 'm1', points: 700 })).toMatchObject({ status: 'ok', balance: { available: 200 } })
    }
  })

  it('an earn while the hold is open does not pay the claim; a capture spending it takes those points first', () => {
    const l = ledger('m1')
    const hold = heldPurchase(l)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1' })
    expect(l.run({ op: 'earn', account: 'm1', points: 300 })).toMatchObject({ status: 'ok', balance: { available: -200, held: 600 } })
    expect(l.run({ op: 'redeem', account: 'm1', points: 1 })).toMatchObject({ status: 'insufficient_points' })
    expect(l.run({ op: 'capture', account: 'm1', hold })).toMatchObject({ status: 'ok', balance: { available: -200, held: 0 } })
    expect(l.state('m1').debt).toBe(200)
    // Voided instead, the claim is settled by the held points, and the earn stays whole.
    const m = ledger('m1')
    const other = heldPurchase(m)
    m.ok({ op: 'reverse', account: 'm1', ref: 'p1' })
    m.ok({ op: 'earn', account: 'm1', points: 300 })
    expect(m.run({ op: 'void', account: 'm1', hold: other })).toMatchObject({ status: 'ok', balance: { available: 400, held: 0 } })
  })

  it('a partial capture spends the unclaimed points first; the claimed rest settles its claim', () => {
    const l = ledger('m1')
    const hold = heldPurchase(l)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1' })
    // 600 held, 500 claimed: capturing 50 spends 50 unclaimed; of the 550 released, 500 settle the claim.
    expect(l.run({ op: 'capture', account: 'm1', hold, points: 50 })).toMatchObject({ status: 'ok', points: 50, balance: { available: 50, held: 0 } })
    expect(l.journal('m1').slice(-2).map((e) => [e.kind, e.points, e.held])).toEqual([['capture', 0, -50], ['release', 550, -550]])
    // Capturing 550 instead spends the 100 unclaimed points and 450 claimed ones, which are owed.
    const m = ledger('m1')
    const other = heldPurchase(m)
    m.ok({ op: 'reverse', account: 'm1', ref: 'p1' })
    expect(m.run({ op: 'capture', account: 'm1', hold: other, points: 550 })).toMatchObject({ status: 'ok', balance: { available: -450, held: 0 } })
    expect(m.state('m1').debt).toBe(450)
  })

  it('claims held points whose lot expires before the hold ends: nothing is forgiven, nothing owed after', () => {
    for (const returnAfterExpiry of [true, false]) {
      const l = ledger('a')
      l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, expiresAt: l.now + 60_000 })
      l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs })
      if (returnAfterExpiry) l.now += 120_000
      const returned = l.run({ op: 'reverse', account: 'a', ref: 'p1', shortfall: 'clamp' })
      expect(returned, `after expiry: ${returnAfterExpiry}`).toMatchObject({ status: 'ok', points: 100, balance: { available: -100, held: 100 } })
      expect(returned.shortfall).toBeUndefined()
      l.now += 2 * hourMs
      expect(l.run({ op: 'balance', account: 'a' }).balance, `after expiry: ${returnAfterExpiry}`).toEqual({ available: 0, pending: 0, held: 0 })
      expect(l.state('a').debt).toBe(0)
    }
  })

  it('clamp forgives only what exceeds the lots and the held points, and reports only that', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 300, ref: 'p1' })
    const hold = l.ok({ op: 'authorize', account: 'a', points: 100 }).hold!
    l.ok({ op: 'redeem', account: 'a', points: 150 })
    // 50 in lots, 100 held, 150 spent.
    const returned = l.run({ op: 'reverse', account: 'a', ref: 'p1', shortfall: 'clamp' })
    expect(returned).toMatchObject({ status: 'ok', points: 150, shortfall: 150, balance: { available: -100, held: 100 } })
    expect(l.run({ op: 'void', account: 'a', hold })).toMatchObject({ status: 'ok', balance: { available: 0, held: 0 } })
  })

  it('claims each held point once, over several returns and holds', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 100, ref: 'A' })
    l.ok({ op: 'earn', account: 'a', points: 50, ref: 'B' })
    const first = l.ok({ op: 'authorize', account: 'a', points: 60 }).hold!
    const second = l.ok({ op: 'authorize', account: 'a', points: 40 }).hold!
    l.ok({ op: 'redeem', account: 'a', points: 50 })
    expect(l.run({ op: 'reverse', account: 'a', ref: 'B' })).toMatchObject({ status: 'ok', points: 50, balance: { available: -50, held: 100 } })
    const returned = l.run({ op: 'reverse', account: 'a', ref: 'A', shortfall: 'clamp' })
    expect(returned).toMatchObject({ status: 'ok', points: 50, shortfall: 50, balance: { available: -100, held: 100 } })
    expect(l.run({ op: 'lots', account: 'a' }).holds).toEqual([
      { hold: first, points: 60, expiresAt: expect.any(Number), claimed: 60 },
      { hold: second, points: 40, expiresAt: expect.any(Number), claimed: 40 },
    ])
    expect(l.run({ op: 'void', account: 'a', hold: first })).toMatchObject({ status: 'ok', balance: { available: -40, held: 40 } })
    expect(l.run({ op: 'capture', account: 'a', hold: second })).toMatchObject({ status: 'ok', balance: { available: -40, held: 0 } })
    expect(l.state('a').debt).toBe(40)
  })

  it('claims the earn\'s own held points before taking the member\'s other lots (review)', () => {
    // Taking the other lot first left the held points to expire on release: the member lost 100 never spent.
    for (const order of ['return-then-timeout', 'timeout-then-return'] as const) {
      const l = ledger('a')
      l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, expiresAt: l.now + 60_000 })
      l.ok({ op: 'earn', account: 'a', ref: 'other', points: 100 })
      l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }) // p1's points, due soonest
      if (order === 'return-then-timeout') {
        l.ok({ op: 'reverse', account: 'a', ref: 'p1' })
        l.now += 2 * hourMs
      } else {
        l.now += 2 * hourMs
        l.ok({ op: 'reverse', account: 'a', ref: 'p1' })
      }
      expect(l.available('a'), order).toBe(100)
    }
  })

  it('takes the member\'s other points soonest expiry first, held or not, so held ones do not expire unused (second review)', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'x', points: 100, expiresAt: l.now + 48 * hourMs })
    l.ok({ op: 'earn', account: 'a', ref: 'soon', points: 100, expiresAt: l.now + 60_000 })
    l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }) // holds 'soon'
    l.ok({ op: 'redeem', account: 'a', points: 100 }) // spends x
    l.ok({ op: 'earn', account: 'a', ref: 'later', points: 100, expiresAt: l.now + 240 * hourMs })
    // Taking 'later' (a lot) before 'soon' (held) let 'soon' expire on release: the member lost 100.
    l.ok({ op: 'reverse', account: 'a', ref: 'x' })
    l.now += 2 * hourMs
    expect(l.available('a')).toBe(100)
  })

  it('does not take other held points whose lot has expired meanwhile: they would be gone had nothing been held (third review)', () => {
    for (const via of ['return', 'capture'] as const) {
      const l = ledger('a')
      l.ok({ op: 'earn', account: 'a', ref: 'x', points: 100, expiresAt: l.now + 48 * hourMs })
      l.ok({ op: 'earn', account: 'a', ref: 'soon', points: 100, expiresAt: l.now + 60_000 })
      const soon = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold! // holds 'soon'
      if (via === 'return') {
        l.ok({ op: 'redeem', account: 'a', points: 100 })
        l.ok({ op: 'earn', account: 'a', ref: 'later', points: 100, expiresAt: l.now + 240 * hourMs })
        l.now += 30 * 60_000 // 'soon' expires while held
        l.ok({ op: 'reverse', account: 'a', ref: 'x' })
      } else {
        const x = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold! // holds x
        l.ok({ op: 'reverse', account: 'a', ref: 'x' }) // claims x's held points
        l.ok({ op: 'earn', account: 'a', ref: 'later', points: 100, expiresAt: l.now + 240 * hourMs })
        l.now += 30 * 60_000
        l.ok({ op: 'capture', account: 'a', hold: x }) // spends them: owed from 'later', not from expired 'soon'
      }
      l.now += 2 * hourMs
      expect(l.available('a'), via).toBe(0)
      expect(l.run({ op: 'lots', account: 'a' }).holds, via).toEqual([])
      expect(soon).toBeGreaterThan(0)
    }
  })

  it('counts only live held points against an older debt: expired ones pay none of it (fourth review)', () => {
    const finals: number[] = []
    for (const old of [false, true]) {
      const l = ledger('a')
      l.ok({ op: 'earn', account: 'a', ref: 'S', points: 100, expiresAt: l.now + 60_000 })
      const soon = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold!
      l.ok({ op: 'earn', account: 'a', ref: 'x', points: 100, expiresAt: l.now + 48 * hourMs })
      l.ok({ op: 'redeem', account: 'a', points: 100 })
      l.ok({ op: 'earn', account: 'a', ref: 'A', points: 100, expiresAt: l.now + 10 * 24 * hourMs })
      const held = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold!
      const slices = structuredClone(l.state('a').holds.find((h) => h.id === held)!.slices)
      l.ok({ op: 'reverse', account: 'a', ref: 'A', shortfall: 'clamp' })
      if (old) {
        // As accounts written before claims hold it: the held points made debt, which the release pays.
        const hold = l.state('a').holds.find((h) => h.id === held)!
        hold.slices = slices
        delete hold.claimed
        l.state('a').debt = 100
      }
      l.now += 30 * 60_000 // the first hold's points expire while held
      l.ok({ op: 'reverse', account: 'a', ref: 'x', shortfall: 'clamp' })
      l.ok({ op: 'void', account: 'a', hold: held })
      l.ok({ op: 'void', account: 'a', hold: soon })
      finals.push(l.available('a'))
    }
    expect(finals).toEqual([0, 0])
  })

  it('another earn\'s expired held points do not let a return claim live held points an older debt is owed from (fifth review)', () => {
    const finals: number[] = []
    for (const withExpiredElsewhere of [false, true]) {
      const l = ledger('a')
      let soon: number | undefined
      if (withExpiredElsewhere) {
        l.ok({ op: 'earn', account: 'a', ref: 'S', points: 100, expiresAt: l.now + 60_000 })
        soon = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold!
      }
      l.ok({ op: 'earn', account: 'a', ref: 'x', points: 200, expiresAt: l.now + 48 * hourMs })
      l.ok({ op: 'redeem', account: 'a', points: 200 })
      l.ok({ op: 'earn', account: 'a', ref: 'A', points: 200, expiresAt: l.now + 10 * 24 * hourMs })
      const held = l.ok({ op: 'authorize', account: 'a', points: 200, timeoutMs: hourMs }).hold!
      const slices = structuredClone(l.state('a').holds.map((h) => h.slices))
      l.ok({ op: 'reverse', account: 'a', ref: 'x', shortfall: 'debt' })
      // As accounts written before claims hold it: x's 200 became debt, which the held points pay on release.
      l.state('a').holds.forEach((h, i) => {
        h.slices = slices[i]!
        delete h.claimed
      })
      l.state('a').debt = 200
      l.now += 30 * 60_000 // S (if any) expires while held: it pays nothing, and is not A's
      l.ok({ op: 'reverse', account: 'a', ref: 'A', points: 100, shortfall: 'clamp' })
      l.ok({ op: 'void', account: 'a', hold: held })
      if (soon !== undefined) l.ok({ op: 'void', account: 'a', hold: soon })
      finals.push(l.available('a'))
    }
    expect(finals).toEqual([0, 0])
  })

  it('does not claim held points an older debt is owed from: their release pays it, as when it was made (review)', () => {
    const finals: number[] = []
    for (const old of [false, true]) {
      const l = ledger('a')
      l.ok({ op: 'earn', account: 'a', ref: 'A', points: 100 })
      l.ok({ op: 'earn', account: 'a', ref: 'B', points: 100, expiresAt: l.now + 10 * 24 * hourMs })
      const hold = l.ok({ op: 'authorize', account: 'a', points: 100 }).hold!
      l.ok({ op: 'redeem', account: 'a', points: 100 })
      l.ok({ op: 'reverse', account: 'a', ref: 'B', shortfall: 'clamp' })
      if (old) {
        // As accounts written before claims hold it: the held points made debt, which the release pays.
        const state = l.state('a')
        const held = state.holds[0]!
        held.slices = [{ lot: 2, points: 100, activeFrom: l.now, expiresAt: l.now + 10 * 24 * hourMs }]
        delete held.claimed
        state.debt = 100
      }
      expect(l.available('a')).toBe(-100)
      l.ok({ op: 'reverse', account: 'a', ref: 'A', shortfall: 'clamp' })
      l.ok({ op: 'void', account: 'a', hold })
      finals.push(l.available('a'))
    }
    expect(finals).toEqual([0, 0])
  })

  it('a replay-only reverse (the engine\'s probe for an old stored step) writes nothing when no return is stored (fifth review)', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100 })
    const entries = l.journal('a').length
    expect(l.run({ op: 'reverse', account: 'a', key: 'gone', ref: 'p1', replayOnly: true })).toMatchObject({ status: 'transaction_not_found' })
    expect(l.journal('a').length).toBe(entries)
    expect(l.available('a')).toBe(100)
    expect(l.run({ op: 'reverse', account: 'a', key: 'gone', ref: 'p1', points: 40 })).toMatchObject({ status: 'ok', points: 40 })
    expect(l.run({ op: 'reverse', account: 'a', key: 'gone', ref: 'p1', points: 40, replayOnly: true })).toMatchObject({ status: 'exists', points: 40 })
  })

  it('without holds, clamp forgives the whole shortfall as before', () => {
    const l = ledger('m1')
    l.rules = demoRules(true)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(50_000) })
    l.ok({ op: 'redeem', account: 'm1', points: 600 })
    const returned = l.run({ op: 'reverse', account: 'm1', ref: 'p1' })
    expect(returned).toMatchObject({ status: 'ok', points: 100, shortfall: 500, balance: { available: 0, held: 0 } })
    expect(l.state('m1').debt).toBe(0)
  })
})

/** The member's qualification as the `member` query reports it. */
function qualificationOf(l: Ledger, account: string): number {
  return l.run({ op: 'member', account }).membership!.qualification
}

/** The demo program qualifying on spend, one point per $1, Silver at $1,000. */
function spendRules(): CompiledRuleset {
  return plainRules('spend', [
    { id: 'bronze', name: 'Bronze', threshold: 0 },
    { id: 'silver', name: 'Silver', threshold: 100_000, bonus: 50 },
  ])
}

describe('a return claws back the tier bonus its purchase paid', () => {
  it('returned whole, the purchase takes its tier bonus back as an entry of its own; the tier stays until the review', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(1_000_000) })
    expect(l.ws.txn('m1', 'p1')!.tierBonuses).toEqual([{ tier: 'silver', points: 500, threshold: 10_000 }])
    const returned = l.run({ op: 'reverse', account: 'm1', key: 'ret', ref: 'p1' })
    expect(returned).toMatchObject({ status: 'ok', points: 10_600, balance: { available: 100 } })
    expect(returned.breakdown).toEqual([{ source: 'tier_bonus', id: 'silver', name: 'Silver', points: -500 }])
    const [own, bonus] = l.journal('m1').slice(-2)
    expect(own).toMatchObject({ kind: 'reverse', points: -10_100, ref: 'p1', key: 'ret' })
    expect(own!.seq).toBe(returned.entry)
    expect(bonus).toMatchObject({ kind: 'reverse', points: -500, ref: 'p1', key: 'ret', reason: 'tier_bonus:silver' })
    expect(l.state('m1').program!.tier).toBe('silver')
    expect(l.ws.txn('m1', 'p1')!.tierBonuses).toEqual([{ tier: 'silver', points: 500, threshold: 10_000, clawedBack: true }])
    // A replay answers the same, breakdown and all, and claws nothing more.
    expect(l.run({ op: 'reverse', account: 'm1', key: 'ret', ref: 'p1' })).toMatchObject({
      status: 'exists',
      points: 10_600,
      breakdown: returned.breakdown,
      balance: { available: 100 },
    })
  })

  it('a partial return that keeps qualification at the threshold keeps the bonus; the one that crosses below claws it back, once', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    // $12,000: 12,000 base + 100 first purchase, and Silver's 500.
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(1_200_000) }).points).toBe(12_600)
    const first = l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 200_000 })
    expect(first).toMatchObject({ status: 'ok', points: 2016, balance: { available: 12_700 - 2016 } })
    expect(first.breakdown).toBeUndefined()
    expect(qualificationOf(l, 'm1')).toBe(10_000)
    const second = l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 100_000 })
    expect(second).toMatchObject({ status: 'ok', points: 1009 + 500, balance: { available: 12_700 - 3025 - 500 } })
    expect(qualificationOf(l, 'm1')).toBe(9000)
    const third = l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 100_000 })
    expect(third).toMatchObject({ status: 'ok', points: 1008 })
    expect(third.breakdown).toBeUndefined()
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1' })).toMatchObject({ status: 'ok', balance: { available: 100 } })
    expect(l.journal('m1').filter((e) => e.reason === 'tier_bonus:silver').map((e) => e.points)).toEqual([500, -500])
    expect(qualificationOf(l, 'm1')).toBe(0)
  })

  it('under clamp, a bonus already spent is forgiven with the points, and reported as shortfall', () => {
    const l = ledger('m1')
    l.rules = demoRules(true)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(1_000_000) })
    l.ok({ op: 'redeem', account: 'm1', points: 10_300 }) // 400 left of 10,700
    const returned = l.run({ op: 'reverse', account: 'm1', ref: 'p1' })
    expect(returned).toMatchObject({ status: 'ok', points: 400, shortfall: 9700 + 500, balance: { available: 0 } })
    expect(l.journal('m1').slice(-1)[0]).toMatchObject({ kind: 'reverse', points: 0, reason: 'tier_bonus:silver' })
    expect(l.state('m1').debt).toBe(0)
  })

  it('under debt, a bonus already spent becomes debt like the points', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(1_000_000) })
    l.ok({ op: 'redeem', account: 'm1', points: 10_700 })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1' })).toMatchObject({ status: 'ok', points: 10_600, balance: { available: -10_600 } })
  })
})

describe('a return claws back the bonuses of tiers it takes qualification below, on a balance basis too', () => {
  it('does not let the claw of a higher bonus take a lower one the return left standing', () => {
    const l = ledger('m')
    l.rules = plainRules('balance', [
      { id: 'bronze', name: 'Bronze', threshold: 0 },
      { id: 'silver', name: 'Silver', threshold: 1000, bonus: 500 },
      { id: 'gold', name: 'Gold', threshold: 2000, bonus: 1000 },
    ])
    l.ok({ op: 'enroll', account: 'm', program: 'demo' })
    expect(l.ok({ op: 'purchase', account: 'm', ref: 'p1', basket: tv(200_000) }).points).toBe(3500)
    expect(l.ok({ op: 'reverse', account: 'm', ref: 'p1', points: 400 }).points).toBe(400)
    // 1,800 left by the return itself: below Gold, still Silver. Only Gold's bonus goes back.
    const second = l.ok({ op: 'reverse', account: 'm', ref: 'p1', points: 1300 })
    expect(second).toMatchObject({ points: 2300, balance: { available: 800 } })
    expect(second.breakdown?.map((line) => line.id)).toEqual(['gold'])
  })
})

describe('returns take their share out of qualification', () => {
  it('a purchase returned item by item leaves none of its qualifying points', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    // 30 items at $3: 90 qualifying points, plus a first-purchase bonus of 100 that does not qualify.
    const basket = { lines: [{ sku: 'x', category: 'misc', quantity: 30, unitPrice: 300 }] }
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket }).points).toBe(190)
    expect(qualificationOf(l, 'm1')).toBe(90)
    for (let i = 0; i < 15; i++) l.ok({ op: 'reverse', account: 'm1', ref: 'p1', amount: 300 })
    expect(qualificationOf(l, 'm1')).toBe(45)
    for (let i = 0; i < 15; i++) l.ok({ op: 'reverse', account: 'm1', ref: 'p1', amount: 300 })
    expect(qualificationOf(l, 'm1')).toBe(0)
    expect(l.ws.txn('m1', 'p1')).toMatchObject({ reversedPoints: 190, qualifyingReturned: 90 })
  })

  it('returned by points, then by the rest, the purchase leaves nothing', () => {
    const l = ledger('m1')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: { lines: [{ sku: 'x', category: 'misc', quantity: 30, unitPrice: 300 }] } })
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', points: 95 }) // half of 190: half of 90
    expect(qualificationOf(l, 'm1')).toBe(45)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1' })
    expect(qualificationOf(l, 'm1')).toBe(0)
  })

  it('a purchase that earned no points still takes its spend back out when returned by amount', () => {
    const l = ledger('m1')
    l.rules = spendRules()
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: 99 }] } }) // 0 points
    l.ok({ op: 'purchase', account: 'm1', ref: 'p2', basket: { lines: [{ sku: 'y', quantity: 1, unitPrice: 1000 }] } })
    expect(qualificationOf(l, 'm1')).toBe(1099)
    const entries = l.journal('m1').length
    const returned = l.run({ op: 'reverse', account: 'm1', key: 'r1', ref: 'p1', amount: 50 })
    expect(returned).toMatchObject({ status: 'ok', points: 0 })
    // The journal still says what came back: a 0-point entry with the return's ref.
    expect(l.journal('m1').length).toBe(entries + 1)
    expect(l.journal('m1').slice(-1)[0]).toMatchObject({ seq: returned.entry, kind: 'reverse', points: 0, ref: 'p1' })
    expect(qualificationOf(l, 'm1')).toBe(1049)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', amount: 49 })
    expect(qualificationOf(l, 'm1')).toBe(1000)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p2', amount: 1000 })
    expect(qualificationOf(l, 'm1')).toBe(0)
    expect(l.run({ op: 'reverse', account: 'm1', key: 'r1', ref: 'p1', amount: 50 })).toMatchObject({ status: 'exists', points: 0 })
  })

  it('a purchase that reached a tier on spend alone gives its bonus back when returned', () => {
    const l = ledger('m1')
    l.rules = spendRules()
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    // $1,000.99 earns 1,000 points and Silver's 50.
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: 100_099 }] } }).points).toBe(1050)
    // $1 back takes floor(1000 × 100 ÷ 100,099) = 0 points, but spend falls below $1,000: the bonus goes back.
    const returned = l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 100 })
    expect(returned).toMatchObject({ status: 'ok', points: 50, balance: { available: 1000 } })
    expect(l.journal('m1').slice(-2)).toMatchObject([
      { seq: returned.entry, kind: 'reverse', points: 0, ref: 'p1' },
      { seq: returned.entry! + 1, kind: 'reverse', points: -50, reason: 'tier_bonus:silver' },
    ])
  })

  it('is exact for large purchases, whose products pass 2^53', () => {
    const l = ledger('m1')
    l.rules = spendRules()
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    const price = 999_999_999_999
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: price }] } })
    const part = 333_333_333_337
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', amount: part })
    expect(qualificationOf(l, 'm1')).toBe(price - part)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', amount: price - part })
    expect(qualificationOf(l, 'm1')).toBe(0)
  })
})

describe('held points whose lot expires while they are held', () => {
  /** A return of 100 spent points while 100 held points come from a lot that expires in a minute. */
  function heldExpiring(l: Ledger): number {
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, amount: 10_000 })
    l.ok({ op: 'earn', account: 'a', points: 100, expiresAt: l.now + 60_000 })
    const hold = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold!
    l.ok({ op: 'redeem', account: 'a', points: 100 })
    // The return claims the held points: owed while the hold is open.
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: -100, held: 100 } })
    l.now += 120_000
    return hold
  }

  // Before claims, the return made them debt and their release after the lot's
  // date did not pay it: the member owed 100 points never spent.
  it('on a void, the held points settle the claim whatever their date, and nothing is owed', () => {
    const l = ledger('a')
    const hold = heldExpiring(l)
    expect(l.run({ op: 'void', account: 'a', hold })).toMatchObject({ status: 'ok', points: 100, balance: { available: 0, held: 0 } })
    expect(l.journal('a').at(-1)).toMatchObject({ kind: 'void', points: 100, held: -100 })
    expect(l.state('a').debt).toBe(0)
  })

  it('on the hold timing out, alike', () => {
    const l = ledger('a')
    heldExpiring(l)
    l.now += hourMs
    expect(l.run({ op: 'balance', account: 'a' }).balance).toEqual({ available: 0, pending: 0, held: 0 })
    expect(l.state('a').debt).toBe(0)
  })

  it('on the release of a partial capture: the claim took the returned purchase\'s own lot first, as from lots', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100 })
    l.ok({ op: 'earn', account: 'a', points: 100, expiresAt: l.now + 60_000 })
    l.ok({ op: 'earn', account: 'a', points: 50 })
    // The hold takes the 100 expiring points and 50 lasting ones; the other 100 are spent.
    const hold = l.ok({ op: 'authorize', account: 'a', points: 150, timeoutMs: hourMs }).hold!
    l.ok({ op: 'redeem', account: 'a', points: 100 })
    // The return claims the 50 lasting held points (p1's lot) and 50 expiring ones.
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: -100, held: 150 } })
    l.now += 120_000
    // Capturing 10 of the 50 unclaimed (expiring) points releases the other 40, whose lot has expired: they expire.
    expect(l.run({ op: 'capture', account: 'a', hold, points: 10 })).toMatchObject({ status: 'ok', balance: { available: 0, held: 0 } })
    expect(l.state('a').debt).toBe(0)
    expect(l.journal('a').slice(-3).map((e) => [e.kind, e.points, e.held])).toEqual([['capture', 0, -10], ['release', 140, -140], ['expire', -40, 0]])
  })

  it('a capture spending claimed points claims another hold\'s points before owing, so their expiry leaves no debt', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 50, expiresAt: l.now + 60_000 })
    const second = l.ok({ op: 'authorize', account: 'a', points: 50, timeoutMs: hourMs }).hold!
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100 })
    const first = l.ok({ op: 'authorize', account: 'a', points: 100, timeoutMs: hourMs }).hold!
    // The return claims the first hold's points (p1's own lot).
    l.ok({ op: 'reverse', account: 'a', ref: 'p1' })
    expect(l.run({ op: 'lots', account: 'a' }).holds?.map((h) => h.claimed)).toEqual([undefined, 100])
    // Capturing it spends those 100: 50 claimed from the other hold, 50 owed.
    expect(l.run({ op: 'capture', account: 'a', hold: first })).toMatchObject({ status: 'ok', balance: { available: -100, held: 50 } })
    expect(l.state('a').debt).toBe(50)
    l.now += 120_000
    expect(l.run({ op: 'void', account: 'a', hold: second })).toMatchObject({ status: 'ok', balance: { available: -50, held: 0 } })
    expect(l.state('a').debt).toBe(50)
  })

  it('a refund still pays debt first with every point, as documented, and only the rest of expired ones expires', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 100, expiresAt: l.now + 60_000 })
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100 })
    l.ok({ op: 'redeem', account: 'a', points: 100, ref: 'o1' }) // the expiring lot
    l.ok({ op: 'redeem', account: 'a', points: 40 })
    l.ok({ op: 'reverse', account: 'a', ref: 'p1' }) // 60 taken, 40 owed
    l.now += 120_000
    expect(l.run({ op: 'refund', account: 'a', ref: 'o1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: 0 } })
    expect(l.state('a').debt).toBe(0)
    expect(l.journal('a').slice(-1)[0]).toMatchObject({ kind: 'expire', points: -60 })
  })
})

describe('a return or refund of nothing', () => {
  it('a reverse after every point was taken back is refused, saying nothing is left', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 's', points: 70, amount: 4000 })
    l.ok({ op: 'reverse', account: 'a', ref: 's' })
    const entries = l.journal('a').length
    const refused = l.run({ op: 'reverse', account: 'a', key: 'again', ref: 's', amount: 2000 })
    expect(refused).toMatchObject({ status: 'reversal_exceeds_original' })
    expect(refused.message).toContain('nothing is left to take back')
    expect(l.run({ op: 'reverse', account: 'a', ref: 's' }).message).toContain('nothing is left to take back')
    expect(l.journal('a').length).toBe(entries)
    // Recorded, and sticky.
    expect(l.ws.idem('a', 'again')).toBeDefined()
    expect(l.run({ op: 'reverse', account: 'a', key: 'again', ref: 's', amount: 2000 })).toMatchObject({ status: 'reversal_exceeds_original' })
  })

  it('a reverse whose share rounds to 0 answers ok with 0 points, writes a 0-point entry, and still counts the money', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 's', points: 70, amount: 40 })
    l.ok({ op: 'reverse', account: 'a', ref: 's', points: 60 })
    const entries = l.journal('a').length
    const zero = l.run({ op: 'reverse', account: 'a', key: 'half', ref: 's', amount: 20 })
    expect(zero).toMatchObject({ status: 'ok', points: 0, balance: { available: 10 } })
    expect(zero.entry).toBeDefined()
    expect(l.journal('a').length).toBe(entries + 1)
    expect(l.ws.idem('a', 'half')).toBeDefined()
    expect(l.run({ op: 'reverse', account: 'a', key: 'half', ref: 's', amount: 20 })).toMatchObject({ status: 'exists', points: 0 })
    expect(l.run({ op: 'reverse', account: 'a', ref: 's', amount: 20 })).toMatchObject({ status: 'ok', points: 10, balance: { available: 0 } })
  })

  it('a refund after every point was refunded is refused; one that rounds to 0 writes a 0-point entry', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', points: 100 })
    l.ok({ op: 'redeem', account: 'a', points: 70, ref: 'o1', amount: 4000 })
    l.ok({ op: 'refund', account: 'a', ref: 'o1', points: 70 })
    const refused = l.run({ op: 'refund', account: 'a', ref: 'o1', amount: 1000 })
    expect(refused).toMatchObject({ status: 'reversal_exceeds_original' })
    expect(refused.message).toContain('nothing is left to take back')
    l.ok({ op: 'redeem', account: 'a', points: 10, ref: 'o2', amount: 4000 })
    const entries = l.journal('a').length
    const zero = l.run({ op: 'refund', account: 'a', key: 'tiny', ref: 'o2', amount: 100 })
    expect(zero).toMatchObject({ status: 'ok', points: 0, balance: { available: 90 } })
    expect(zero.entry).toBeDefined()
    expect(l.journal('a').length).toBe(entries + 1)
    expect(l.ws.idem('a', 'tiny')).toBeDefined()
    expect(l.run({ op: 'refund', account: 'a', ref: 'o2', amount: 300 })).toMatchObject({ status: 'ok', points: 1 })
  })
})

describe('a return after the earn’s points expired unspent', () => {
  const dayMs = 24 * hourMs

  it('takes nothing for them: not from other points, not as debt', () => {
    for (const shortfall of ['debt', 'clamp'] as const) {
      const l = ledger('a')
      l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, amount: 10_000, expiresAt: l.now + dayMs })
      l.ok({ op: 'earn', account: 'a', points: 30 })
      l.now += 2 * dayMs
      const returned = l.run({ op: 'reverse', account: 'a', ref: 'p1', shortfall })
      // Before, the return took the other 30 and owed 70 (debt) or forgave 70 (clamp).
      expect(returned, shortfall).toMatchObject({ status: 'ok', points: 0, lapsed: 100, balance: { available: 30 } })
      expect(returned.shortfall).toBeUndefined()
      expect(l.journal('a').slice(-1)[0]).toMatchObject({ kind: 'reverse', points: 0, lapsed: 100 })
      expect(l.state('a').lapsed).toBeUndefined()
    }
  })

  it('takes the spent part as before: 60 spent and 40 expired owe 60', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, amount: 10_000, expiresAt: l.now + dayMs })
    l.ok({ op: 'earn', account: 'a', points: 50 })
    l.ok({ op: 'redeem', account: 'a', points: 60 }) // from the soonest-expiring lot, p1's
    l.now += 2 * dayMs
    expect(l.available('a')).toBe(50) // 40 expired
    const returned = l.run({ op: 'reverse', account: 'a', ref: 'p1' })
    expect(returned).toMatchObject({ status: 'ok', points: 60, lapsed: 40, balance: { available: -10 } })
    expect(l.state('a').debt).toBe(10)
  })

  it('returned in halves, the first half is written off against what expired, the second is spent', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, amount: 10_000, expiresAt: l.now + dayMs })
    l.ok({ op: 'redeem', account: 'a', points: 60 })
    l.ok({ op: 'earn', account: 'a', points: 200 })
    l.now += 2 * dayMs
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1', amount: 5_000 })).toMatchObject({ status: 'ok', points: 10, lapsed: 40 })
    const second = l.run({ op: 'reverse', account: 'a', ref: 'p1', amount: 5_000 })
    expect(second).toMatchObject({ status: 'ok', points: 50, balance: { available: 140 } })
    expect(second.lapsed).toBeUndefined()
  })

  it('writes off only points of the earn’s own lot terms, and points expired while held count when released', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100 })
    l.ok({ op: 'earn', account: 'a', ref: 'p2', points: 80, expiresAt: l.now + dayMs })
    const hold = l.ok({ op: 'authorize', account: 'a', points: 80, timeoutMs: 2 * dayMs }).hold!
    l.ok({ op: 'redeem', account: 'a', points: 100 })
    l.now += 3 * dayMs // the hold timed out after p2's date: its 80 expire on release
    expect(l.available('a')).toBe(0)
    expect(l.run({ op: 'void', account: 'a', hold })).toMatchObject({ status: 'hold_expired' })
    // p1's points were spent (they never expire): owed. p2's expired in the hold: written off.
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: -100 } })
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p2' })).toMatchObject({ status: 'ok', points: 0, lapsed: 80, balance: { available: -100 } })
  })

  it('a tier bonus clawed back on return is written off when its points expired too', () => {
    const l = ledger('m1')
    const rules = plainRules('spend', [
      { id: 'base', name: 'Base', threshold: 0 },
      { id: 'gold', name: 'Gold', threshold: 50_000, bonus: 300 },
    ])
    // Points that last 7 days, well inside the 12 months the purchase qualifies for.
    l.rules = programRules((program) => {
      Object.assign(program, structuredClone(rules.programs.get('demo')!.doc))
      program.expiry = { kind: 'days', days: 7 }
    })
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(60_000) })).toMatchObject({ tier: 'gold' })
    const expiry = l.state('m1').lots.map((lot) => lot.expiresAt)
    l.now = Math.max(...expiry) + dayMs
    l.ok({ op: 'expire', account: 'm1' })
    expect(l.available('m1')).toBe(0)
    const returned = l.run({ op: 'reverse', account: 'm1', ref: 'p1' })
    expect(returned).toMatchObject({ status: 'ok', points: 0, lapsed: 900, balance: { available: 0 } })
    expect(l.journal('m1').slice(-2)).toMatchObject([
      { kind: 'reverse', points: 0, lapsed: 600 },
      { kind: 'reverse', points: 0, lapsed: 300, reason: 'tier_bonus:gold' },
    ])
  })

  it('writes off a second earn on the ref too, whenever it was made (review R7)', () => {
    const l = ledger('a')
    const expiresAt = l.now + dayMs
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, amount: 10_000, expiresAt })
    l.now += 60_000
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 50, expiresAt })
    l.ok({ op: 'earn', account: 'a', points: 30 })
    l.now += 2 * dayMs
    expect(l.available('a')).toBe(30)
    // It took the bonus's 50 again, as debt: points 50, lapsed 100, available −20.
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 0, lapsed: 150, balance: { available: 30 } })
  })

  it('tells two earns of one date apart: a spent one does not use the other’s expired points (second review)', () => {
    const l = ledger('a')
    const yearEnd = l.now + 30 * dayMs
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, expiresAt: yearEnd })
    // p2's points are pending when the redemption runs: it can only take p1's.
    l.ok({ op: 'earn', account: 'a', ref: 'p2', points: 100, expiresAt: yearEnd, activeFrom: l.now + dayMs })
    l.ok({ op: 'redeem', account: 'a', points: 100 })
    l.now = yearEnd + dayMs
    l.ok({ op: 'expire', account: 'a' }) // p2's 100 expire unspent
    // Keyed by date alone, p1's return used p2's lapsed points and took nothing.
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: -100 } })
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p2' })).toMatchObject({ status: 'ok', points: 0, lapsed: 100, balance: { available: -100 } })
  })

  it('writes off a second earn on the ref that expired on another date (second review)', () => {
    const l = ledger('a')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, amount: 10_000, expiresAt: l.now + dayMs })
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 50, expiresAt: l.now + 2 * dayMs })
    l.ok({ op: 'earn', account: 'a', points: 30 })
    l.now += 3 * dayMs
    expect(l.available('a')).toBe(30)
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 0, lapsed: 150, balance: { available: 30 } })
  })

  it('forgets lapsed points a year after their date, and keeps the latest 64 lots', () => {
    const l = ledger('a', 'b', 'c')
    l.ok({ op: 'earn', account: 'a', ref: 'p1', points: 100, expiresAt: l.now + dayMs })
    l.ok({ op: 'earn', account: 'a', points: 1, expiresAt: l.now + 400 * dayMs })
    l.now += 2 * dayMs
    l.ok({ op: 'expire', account: 'a' })
    expect(l.state('a').lapsed).toEqual([[expect.any(Number), expect.any(Number), 100]])
    l.now += 400 * dayMs
    // Past the year the return takes the points as spent, as it did before lapsed points were kept.
    expect(l.run({ op: 'reverse', account: 'a', ref: 'p1' })).toMatchObject({ status: 'ok', points: 100, balance: { available: -100 } })
    // The 1 point that expired since is kept; p1's 100 were dropped when it was recorded.
    expect(l.state('a').lapsed).toEqual([[expect.any(Number), expect.any(Number), 1]])

    // 70 lots on 70 dates: the latest 64 are kept.
    for (let day = 1; day <= 70; day++) l.ok({ op: 'earn', account: 'b', ref: `d${day}`, points: 10, expiresAt: l.now + day * dayMs })
    // 70 purchases expiring at one year end (each its own lot, by when it was made): the latest 64 are kept.
    const yearEnd = l.now + 80 * dayMs
    for (let i = 1; i <= 70; i++) {
      l.ok({ op: 'earn', account: 'c', ref: `p${i}`, points: 10, expiresAt: yearEnd })
      l.now += 60_000
    }
    l.now = yearEnd + dayMs
    l.ok({ op: 'expire', account: 'b' })
    l.ok({ op: 'expire', account: 'c' })
    const kept = l.state('b').lapsed!
    expect(kept.length).toBe(64)
    expect(kept[0]![1]).toBe(kept[63]![1] - 63 * dayMs)
    expect(l.run({ op: 'reverse', account: 'b', ref: 'd70' })).toMatchObject({ status: 'ok', points: 0, lapsed: 10 })
    expect(l.run({ op: 'reverse', account: 'b', ref: 'd1' })).toMatchObject({ status: 'ok', points: 10, balance: { available: -10 } })
    expect(l.state('c').lapsed!.length).toBe(64)
    expect(l.run({ op: 'reverse', account: 'c', ref: 'p70' })).toMatchObject({ status: 'ok', points: 0, lapsed: 10 })
    expect(l.run({ op: 'reverse', account: 'c', ref: 'p1' })).toMatchObject({ status: 'ok', points: 10, balance: { available: -10 } })
  })
})

describe('returns by basket line', () => {
  /** A $500 TV (earns 500) and a $500 gift card (excluded, earns nothing), plus 100 for a first purchase. */
  function tvAndGiftCard(l: Ledger) {
    l.join('m1', demoRules(false))
    const basket = {
      lines: [item('tv', 'tv', 50_000), item('card', 'gift-cards', 50_000)],
    }
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket }).points).toBe(600)
    expect(l.available('m1')).toBe(700)
  }

  it('returning the TV takes back the TV’s points, not half the basket’s; the gift card then takes the purchase’s bonus', () => {
    const l = ledger('m1')
    tvAndGiftCard(l)
    // By amount it was floor(600 × 50,000 / 100,000) = 300.
    const tv = l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })
    expect(tv).toMatchObject({ status: 'ok', points: 500, balance: { available: 200 } })
    const txn = l.ws.txn('m1', 'p1')!
    expect(txn.returnedAmount).toBe(50_000)
    // The TV's 500 qualifying points and its $500 of eligible spend leave qualification; the gift card had none.
    expect(txn.qualifyingReturned).toBe(500)
    expect(txn.spendReturned).toBe(50_000)
    const card = l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'card', quantity: 1 }] })
    expect(card).toMatchObject({ status: 'ok', points: 100, balance: { available: 100 } })
    expect(l.ws.txn('m1', 'p1')!.returnedAmount).toBe(100_000)
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })).toMatchObject({
      status: 'reversal_exceeds_original',
      message: expect.stringContaining('nothing is left to take back'),
    })
  })

  it('returns units one at a time by each line’s cumulative share, and a whole return leaves nothing', () => {
    const l = ledger('m1')
    l.join('m1', demoRules(false))
    const basket = {
      lines: [item('latte', 'coffee', 450, 3), item('mug', 'home', 1_000)],
    }
    // base floor($23.50) = 23 (latte 13.5 → 13, mug 10) plus coffee 30 (capped at 30 a day) plus 100 first purchase.
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket }).points).toBe(153)
    const lines = l.ws.txn('m1', 'p1')!.lines!
    expect(lines.map(([sku, quantity, points]) => [sku, quantity, points])).toEqual([['latte', 3, 43], ['mug', 1, 10]])
    const one = { op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'latte', quantity: 1 }] }
    expect(l.run(one).points).toBe(14) // floor(43 × 1 / 3)
    expect(l.run(one).points).toBe(14) // floor(43 × 2 / 3) − 14
    expect(l.run({ ...one, lines: [{ sku: 'latte', quantity: 2 }] })).toMatchObject({
      status: 'reversal_exceeds_original',
      message: 'p1 bought 3 of sku "latte" and 1 of them are left to return, fewer than the 2 returned here',
    })
    // A return naming nothing takes everything left: the last latte, the mug and the first-purchase bonus.
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1' })).toMatchObject({ status: 'ok', points: 125, balance: { available: 100 } })
    const txn = l.ws.txn('m1', 'p1')!
    expect(txn.reversedPoints).toBe(153)
    expect(txn.returnedAmount).toBe(2_350)
    expect(txn.lines!.every((line) => line[5] === line[1])).toBe(true)
  })

  it('attributes multipliers, tiers, campaigns and fixed bonuses to the lines they count', () => {
    const l = ledger('m1')
    l.rules = programRules((program) => {
      program.negativeBalanceOnReturn = true
      program.activities = []
      program.tiers = [{ id: 'bronze', name: 'Bronze', threshold: 0, multiplier: 1500 }]
      program.rules = [
        { id: 'base', name: '1 point per $1', kind: 'perSpend', points: 1, per: 100 },
        { id: 'shoes', name: 'Shoes ×2', kind: 'multiplier', multiplier: 2000, items: { categories: ['shoes'] } },
        { id: 'visit', name: '25 a visit', kind: 'fixed', points: 25 },
      ]
      program.campaigns = []
    })
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    const basket = {
      lines: [item('boot', 'shoes', 10_000), item('sock', 'socks', 500, 2)],
    }
    // base 110 + 25 visit = 135; shoes ×2 adds 100; bronze ×1.5 adds floor(135 × 1.5) − 135 = 67 → 302.
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket }).points).toBe(302)
    const lines = l.ws.txn('m1', 'p1')!.lines!
    // boot: 100 base, 23 of the visit's 25 (by money, 22.7 and 2.3, the one left to the larger remainder), 100 shoes,
    // and 61 of the tier's 67 (split by the base, 123 and 12); socks: 10 base, 2 visit, 6 tier.
    expect(lines.map((line) => line[2])).toEqual([100 + 23 + 100 + 61, 10 + 2 + 6])
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'boot', quantity: 1 }] }).points).toBe(284)
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'sock', quantity: 2 }] }).points).toBe(18)
    expect(l.available('m1')).toBe(0)
  })

  it('returns the gift card after the TV took every point: 0 points, its money counted (review R1)', () => {
    const l = ledger('m1')
    l.join('m1', plainRules('spend', [{ id: 'base', name: 'Base', threshold: 0 }]))
    const basket = {
      lines: [item('tv', 'tv', 50_000), item('card', 'gift-cards', 50_000)],
    }
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket }).points).toBe(500)
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'card', quantity: 1 }] })).toMatchObject({ status: 'ok', points: 0 })
    expect(l.ws.txn('m1', 'p1')!.returnedAmount).toBe(100_000)
  })

  it('once every unit is back, a bonus earned on the ref since returns by points or by naming nothing (review R2)', () => {
    const l = ledger('m1')
    l.join('m1', plainRules('spend', [{ id: 'base', name: 'Base', threshold: 0 }]))
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: tv(10_000) })
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })
    l.ok({ op: 'earn', account: 'm1', ref: 'p1', points: 50 })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', points: 20 })).toMatchObject({ status: 'ok', points: 20 })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1' })).toMatchObject({ status: 'ok', points: 30, balance: { available: 0 } })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })).toMatchObject({
      status: 'reversal_exceeds_original',
      field: 'lines[0].quantity',
      message: 'nothing is left to take back: all 1 of sku "tv" on p1 were returned already',
    })
  })

  it('a bonus for a big basket goes back with the money that earned it, not with the $1 line kept (review R4)', () => {
    const l = ledger('m1')
    l.rules = programRules((program) => {
      program.negativeBalanceOnReturn = true
      program.activities = []
      program.campaigns = []
      program.tiers = [{ id: 'base', name: 'Base', threshold: 0 }]
      program.rules = [
        { id: 'base', name: '1 point per $1', kind: 'perSpend', points: 1, per: 100 },
        { id: 'big', name: '500 on a $500 basket', kind: 'fixed', points: 500, when: { minSpend: 50_000 } },
      ]
    })
    l.ok({ op: 'enroll', account: 'm1', program: 'demo' })
    const basket = {
      lines: [item('tv', 'tv', 50_000), item('pen', 'office', 100)],
    }
    expect(l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket }).points).toBe(1001)
    // 500 base and 499 of the bonus (500 × 50,000 / 50,100 = 499.0; the pen's 0.998 gets the point left): the pen keeps 2.
    // It kept all 500 of the bonus when fixed bonuses stayed with the purchase.
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })).toMatchObject({ status: 'ok', points: 999 })
  })

  it('counts a SKU named twice in one return when it says how many were asked (review R6)', () => {
    const l = ledger('m1')
    l.join('m1', plainRules('spend', [{ id: 'base', name: 'Base', threshold: 0 }]))
    l.ok({ op: 'purchase', account: 'm1', ref: 'p1', basket: { lines: [item('latte', 'coffee', 450, 3)] } })
    const refused = l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'latte', quantity: 2 }, { sku: 'latte', quantity: 2 }] })
    expect(refused).toMatchObject({
      status: 'reversal_exceeds_original',
      field: 'lines[1].quantity',
      message: 'p1 bought 3 of sku "latte" and 3 of them are left to return, fewer than the 4 returned here',
    })
    expect(l.ws.txn('m1', 'p1')!.lines![0]![5]).toBe(0)
  })

  it('refuses mixing lines with amount or points on one purchase, an unknown SKU, and lines on an earn', () => {
    const l = ledger('m1')
    tvAndGiftCard(l)
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'radio', quantity: 1 }] })).toMatchObject({
      status: 'invalid_request',
      field: 'lines[0].sku',
      message: 'p1 has no line with sku "radio"',
    })
    l.ok({ op: 'reverse', account: 'm1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', amount: 1_000 })).toMatchObject({ status: 'invalid_request', field: 'amount' })
    expect(l.run({ op: 'reverse', account: 'm1', ref: 'p1', points: 10 })).toMatchObject({ status: 'invalid_request', field: 'points' })

    const other = ledger('m2')
    other.join('m2', demoRules(false))
    other.ok({ op: 'purchase', account: 'm2', ref: 'p1', basket: tv(50_000) })
    other.ok({ op: 'reverse', account: 'm2', ref: 'p1', points: 100 })
    expect(other.run({ op: 'reverse', account: 'm2', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })).toMatchObject({
      status: 'invalid_request',
      field: 'lines',
      message: 'p1 was returned by amount or points: return the rest the same way',
    })
    // Naming nothing still returns the rest, by points.
    expect(other.run({ op: 'reverse', account: 'm2', ref: 'p1' })).toMatchObject({ status: 'ok', points: 500 })

    other.ok({ op: 'earn', account: 'm2', ref: 'e1', points: 10 })
    expect(other.run({ op: 'reverse', account: 'm2', ref: 'e1', lines: [{ sku: 'tv', quantity: 1 }] })).toMatchObject({
      status: 'invalid_request',
      field: 'lines',
    })
  })
})

describe('an account whose points a household link or a merge moves (`move`)', () => {
  it('is marked only when nothing is held, owed or pending, in the step that checks it', () => {
    const l = ledger('held', 'owing', 'waiting')
    l.ok({ op: 'earn', account: 'held', points: 100 })
    l.ok({ op: 'authorize', account: 'held', points: 40 })
    expect(l.run({ op: 'move', account: 'held', move: 'l-1', step: 'begin' })).toMatchObject({ status: 'invalid_request', field: 'account', message: 'account held has 40 points held; capture or void them first', balance: { held: 40 } })
    l.ok({ op: 'earn', account: 'owing', points: 50, ref: 'p1' })
    l.ok({ op: 'redeem', account: 'owing', points: 50 })
    l.ok({ op: 'reverse', account: 'owing', ref: 'p1' })
    expect(l.run({ op: 'move', account: 'owing', move: 'l-2', step: 'begin' })).toMatchObject({ status: 'invalid_request', message: 'account owing owes 50 points; settle them first' })
    l.ok({ op: 'earn', account: 'waiting', points: 30, activeFrom: l.now + hourMs })
    expect(l.run({ op: 'move', account: 'waiting', move: 'l-3', step: 'begin' })).toMatchObject({ status: 'invalid_request', message: 'account waiting has 30 points pending; wait until they are active' })
    for (const account of ['held', 'owing', 'waiting']) expect(l.state(account).moving).toBeUndefined()
    // A hold past its deadline is released first: it no longer stands in the way.
    l.now += 16 * 60_000
    expect(l.run({ op: 'move', account: 'held', move: 'l-1', step: 'begin' })).toMatchObject({ status: 'ok', balance: { available: 100, held: 0 } })
    expect(l.state('held').moving).toBe('l-1')
  })

  it('refuses other authorizations while marked, storing nothing, takes the move\'s own, and is idempotent', () => {
    const l = ledger('kid')
    l.ok({ op: 'earn', account: 'kid', points: 100 })
    expect(l.run({ op: 'move', account: 'kid', move: 'l-1', step: 'begin' })).toMatchObject({ status: 'ok' })
    // Again: the same move's mark stands, another move's is refused naming the one under way.
    expect(l.run({ op: 'move', account: 'kid', move: 'l-1', step: 'begin' })).toMatchObject({ status: 'ok' })
    expect(l.run({ op: 'move', account: 'kid', move: 'm-kid-x', step: 'begin' })).toMatchObject({ status: 'invalid_request', field: 'account', moving: 'l-1' })
    const till = { op: 'authorize', account: 'kid', key: 'till', points: 30 }
    expect(l.run(till)).toMatchObject({ status: 'invalid_request', field: 'account', message: expect.stringMatching(/^account kid is moving its points/) })
    expect(l.run({ op: 'authorize', account: 'kid', key: 'other', points: 30, forTransfer: true, move: 'm-kid-x' })).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect(l.run({ op: 'balance', account: 'kid' }).balance).toEqual({ available: 100, pending: 0, held: 0 })
    expect(l.run({ op: 'authorize', account: 'kid', key: 'moving', points: 100, forTransfer: true, move: 'l-1' })).toMatchObject({ status: 'ok', points: 100 })
    // Another move's end leaves the mark; the move's own clears it, once.
    expect(l.run({ op: 'move', account: 'kid', move: 'm-kid-x', step: 'end' })).toMatchObject({ status: 'ok' })
    expect(l.state('kid').moving).toBe('l-1')
    expect(l.run({ op: 'move', account: 'kid', move: 'l-1', step: 'end' })).toMatchObject({ status: 'ok' })
    expect(l.run({ op: 'move', account: 'kid', move: 'l-1', step: 'end' })).toMatchObject({ status: 'ok' })
    expect(l.state('kid').moving).toBeUndefined()
    // The refusal was not stored: the same key is taken now.
    l.ok({ op: 'earn', account: 'kid', points: 30 })
    expect(l.run(till)).toMatchObject({ status: 'ok', points: 30 })
    // The marks wrote no entry: the journal is the earns and holds.
    expect(l.journal('kid').map((e) => e.kind)).toEqual(['earn', 'hold', 'earn', 'hold'])
  })

  it('refuses, while marked, commands that would credit points or leave them owed or pending, storing nothing; takes spends, settlements, transfer steps and expiries', () => {
    const l = ledger('kid')
    l.rules = demoRules(false)
    l.ok({ op: 'enroll', account: 'kid', key: 'join', program: 'demo' })
    const soon = l.now + hourMs
    l.ok({ op: 'earn', account: 'kid', key: 'p1', points: 200, ref: 'p1', expiresAt: soon })
    l.ok({ op: 'redeem', account: 'kid', key: 'r1', points: 150, ref: 'r1' })
    const before = l.run({ op: 'balance', account: 'kid' }).balance!
    expect(before).toEqual({ available: 150, pending: 0, held: 0 })
    expect(l.run({ op: 'move', account: 'kid', move: 'l-1', step: 'begin' })).toMatchObject({ status: 'ok' })
    const refused = {
      status: 'invalid_request',
      field: 'account',
      message: expect.stringMatching(/^account kid is moving its points to another account/),
    }
    const credits = [
      // Pending points would stay behind on an account nothing reaches.
      { op: 'earn', account: 'kid', key: 'later', points: 40, activeFrom: l.now + hourMs },
      // Active points landing after the move's last balance read would stay behind too.
      { op: 'earn', account: 'kid', key: 'now', points: 40 },
      { op: 'adjust', account: 'kid', key: 'fix', points: 40, reason: 'goodwill' },
      { op: 'purchase', account: 'kid', key: 'buy', ref: 'p2', basket: tv(5000) },
      { op: 'activity', account: 'kid', key: 'news', event: 'newsletter_signup' },
      // Owed points: the return takes 200 of which only 150 are spendable.
      { op: 'reverse', account: 'kid', key: 'ret', ref: 'p1', shortfall: 'debt' },
      // Points given back to the lots a redemption took them from.
      { op: 'refund', account: 'kid', key: 'back', ref: 'r1' },
    ]
    for (const command of credits) expect(l.run(command), JSON.stringify(command)).toMatchObject(refused)
    // An enrolment too (its welcome points; an enrolment of a member already in the program is refused as such).
    expect(l.run({ op: 'enroll', account: 'kid', key: 'join-2', program: 'demo' })).toMatchObject(refused)
    expect(l.run({ op: 'balance', account: 'kid' }).balance).toEqual(before)
    expect(l.journal('kid').map((e) => e.kind)).toEqual(['enroll', 'earn', 'burn'])
    // Spending leaves nothing behind (the move carries what is left), nor does a profile or a debit.
    l.ok({ op: 'redeem', account: 'kid', key: 'r2', points: 10 })
    l.ok({ op: 'adjust', account: 'kid', key: 'minus', points: -10, reason: 'correction' })
    l.ok({ op: 'profile', account: 'kid', key: 'facts', member: { country: 'DE' } })
    // A transfer's own steps are taken: a credit, and the compensation that takes it back.
    l.ok({ op: 'earn', account: 'kid', key: 'saga:t1:credit', points: 25, ref: 'transfer:t1', transferStep: true })
    l.ok({ op: 'reverse', account: 'kid', key: 'saga:t1:uncredit', ref: 'transfer:t1', shortfall: 'debt', transferStep: true })
    // The move's own hold and its capture.
    const hold = l.ok({ op: 'authorize', account: 'kid', key: 'moving', points: 20, forTransfer: true, move: 'l-1' })
    l.ok({ op: 'capture', account: 'kid', key: 'moved', hold: hold.hold })
    expect(l.run({ op: 'balance', account: 'kid' }).balance).toEqual({ available: 110, pending: 0, held: 0 })
    // The sweep: what is left of the first lot expires on its date while the account is marked.
    l.now = soon
    expect(l.run({ op: 'expire', account: 'kid' })).toMatchObject({ status: 'ok' })
    expect(l.run({ op: 'balance', account: 'kid' }).balance).toEqual({ available: 100, pending: 0, held: 0 })
    expect(l.state('kid').moving).toBe('l-1')
    l.ok({ op: 'move', account: 'kid', move: 'l-1', step: 'end' })
    // Nothing refused was stored: the same keys are taken once the mark is gone.
    expect(l.run(credits[1]!)).toMatchObject({ status: 'ok', points: 40 })
    expect(l.run(credits[0]!)).toMatchObject({ status: 'ok', points: 40 })
  })

  it('marks an account that does not exist yet, empty, so that an earn that would create it meanwhile finds the mark', () => {
    const l = ledger('new')
    expect(l.run({ op: 'move', account: 'new', move: 'l-1', step: 'begin' })).toMatchObject({ status: 'ok', balance: { available: 0 } })
    // It used to be taken (points the move might not carry); refused now, as any credit while marked.
    expect(l.run({ op: 'earn', account: 'new', points: 10 })).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect(l.run({ op: 'authorize', account: 'new', points: 10 })).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect(l.run({ op: 'move', account: 'never', move: 'l-2', step: 'end' })).toEqual({ status: 'ok' })
    expect(l.ws.account('never')).toBeUndefined()
  })
})

describe('a transfer\'s capture of points that expired in transit', () => {
  it('counts them as expired and lapsed, not burned, and burns the rest', () => {
    const l = ledger('a')
    const soon = l.now + hourMs
    l.ok({ op: 'earn', account: 'a', points: 300, expiresAt: soon, ref: 'p1' })
    l.ok({ op: 'earn', account: 'a', points: 100 })
    const hold = l.ok({ op: 'authorize', account: 'a', points: 400, forTransfer: true, timeoutMs: 7 * 24 * hourMs })
    expect(hold.heldLots).toEqual([{ points: 300, expiresAt: soon, activeFrom: l.now }, { points: 100, expiresAt: expect.any(Number) }])
    l.now = soon
    const expiredInTransit = [hold.heldLots![0]!]
    expect(l.run({ op: 'capture', account: 'a', key: 'c', hold: hold.hold, expiredInTransit })).toMatchObject({ status: 'ok', points: 400 })
    expect(l.state('a')).toMatchObject({ burned: 100, expired: 300, lapsed: [[soon - hourMs, soon, 300]] })
    expect(l.journal('a').slice(-2).map((e) => [e.kind, e.points, e.held, e.reason])).toEqual([['capture', 0, -100, undefined], ['expire', 0, -300, 'expired_in_transit']])
  })
})
