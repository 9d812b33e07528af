/**
 * The member registry and how the engine enforces it: identifiers resolve to
 * members, cards go through their lifecycle, a replaced card's successor
 * carries the balance, suspended members and members without redemption
 * rights get their statuses, erasure releases identifiers but keeps the
 * journal, and every change is audited.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openEngine, type Engine } from '../engine.ts'
import { demoRuleset } from '../rules/demo.ts'
import type { Actor } from './audit.ts'

const operator: Actor = { kind: 'admin', id: 'ops', from: 'test' }
let engine: Engine | undefined
afterEach(async () => {
  await engine?.close()
  engine = undefined
})

async function start() {
  engine = await openEngine({ storage: 'memory', shards: 2 })
  await engine.rules.publish(demoRuleset, { activate: true })
  return engine
}

async function member(e: Engine, id: string, extra: Record<string, unknown> = {}) {
  const created = await e.members.create({ id, program: 'demo', ...extra }, operator)
  expect(created).toMatchObject({ ok: true })
  expect((await e.execute({ op: 'enroll', account: id, key: 'join', program: 'demo' })).status).toBe('ok')
}

describe('member registry', () => {
  it('creates a member with normalised identifiers that resolve back to it', async () => {
    const e = await start()
    await member(e, 'm1', { firstName: 'Ada', lastName: 'Lovelace', email: ' Ada@Example.COM ', phone: '+44 20 7946 0958', country: 'GB', cards: [{ value: '6001 0000 0001' }] })
    expect(e.members.resolve('email', 'ada@example.com')?.member.id).toBe('m1')
    expect(e.members.resolve('phone', '+442079460958')?.member.id).toBe('m1')
    expect(e.members.resolve('card', '600100000001')?.identifier).toMatchObject({ status: 'active', member: 'm1' })
    expect(e.members.identifiersOf('m1').map((i) => i.type).sort()).toEqual(['card', 'email', 'phone'])
  })

  it.each([
    [{ id: 'bad id!' }, 'id'],
    [{ email: 'not-an-email' }, 'email'],
    [{ phone: '0123' }, 'phone'],
    [{ birthDate: '1990-02-30x' }, 'birthDate'],
    [{ country: 'Germany' }, 'country'],
    [{ cards: [{ value: '12' }] }, 'cards[0].value'],
    [{ referrer: 'nobody' }, 'referrer'],
  ])('refuses %j naming %s, creating nothing', async (extra, field) => {
    const e = await start()
    const result = await e.members.create({ id: 'x1', program: 'demo', ...extra } as never, operator)
    expect(result).toMatchObject({ ok: false, status: 'invalid_request', field })
    expect(e.members.count()).toBe(0)
  })

  it('refuses a duplicate id, email, phone or card', async () => {
    const e = await start()
    await member(e, 'm1', { email: 'a@example.com', phone: '+15550000001', cards: [{ value: 'CARD0001' }] })
    expect(await e.members.create({ id: 'm1', program: 'demo' }, operator)).toMatchObject({ ok: false, field: 'id' })
    expect(await e.members.create({ id: 'm2', program: 'demo', email: 'A@example.com' }, operator)).toMatchObject({ ok: false, field: 'email' })
    expect(await e.members.create({ id: 'm2', program: 'demo', phone: '+1 555 000 0001' }, operator)).toMatchObject({ ok: false, field: 'phone' })
    expect(await e.members.create({ id: 'm2', program: 'demo', cards: [{ value: 'card0001' }] }, operator)).toMatchObject({ ok: false, field: 'cards[0].value' })
    expect(e.members.get('m2')).toBeUndefined()
  })

  it('runs commands by card, and refuses blocked, lost and replaced cards', async () => {
    const e = await start()
    await member(e, 'm1', { cards: [{ value: 'CARD0001' }] })
    expect(await e.execute({ op: 'earn', card: 'CARD0001', key: 'e1', points: 50 })).toMatchObject({ status: 'ok', balance: { available: 150 } })
    expect(await e.execute({ op: 'earn', card: 'CARD9999', key: 'e2', points: 50 })).toMatchObject({ status: 'account_not_found', field: 'card' })
    expect(await e.execute({ op: 'earn', card: 'CARD0001', account: 'm1', key: 'e3', points: 1 })).toMatchObject({ status: 'invalid_request' })
    await e.members.setCardStatus('card', 'CARD0001', 'blocked', operator, 'fraud check')
    expect(await e.execute({ op: 'redeem', card: 'CARD0001', key: 'r1', points: 10 })).toMatchObject({ status: 'card_blocked' })
    await e.members.setCardStatus('card', 'CARD0001', 'active', operator)
    await e.members.setCardStatus('card', 'CARD0001', 'lost', operator)
    expect(await e.execute({ op: 'balance', card: 'CARD0001' })).toMatchObject({ status: 'card_blocked' })
    const replaced = await e.members.replaceCard('card', 'CARD0001', 'CARD0002', operator, 'lost on the bus')
    expect(replaced).toMatchObject({ ok: true, value: { value: 'CARD0002', member: 'm1' } })
    // The new card carries the same account: balance and history.
    expect(await e.execute({ op: 'balance', card: 'CARD0002' })).toMatchObject({ status: 'ok', balance: { available: 150 } })
    expect((await e.execute({ op: 'history', card: 'CARD0002' })).entries?.length).toBe(3)
    expect(await e.execute({ op: 'balance', card: 'CARD0001' })).toMatchObject({ status: 'card_blocked', message: 'card CARD0001 is replaced' })
    expect(await e.members.setCardStatus('card', 'CARD0001', 'active', operator)).toMatchObject({ ok: false, status: 'card_blocked' })
  })

  it('lets a suspended member be looked at but not earn or burn, and enforces the redemption flag', async () => {
    const e = await start()
    await member(e, 'm1')
    await e.members.setStatus('m1', 'suspended', operator, 'chargeback')
    expect(await e.execute({ op: 'earn', account: 'm1', key: 'e1', points: 5 })).toMatchObject({ status: 'member_suspended' })
    expect(await e.execute({ op: 'balance', account: 'm1' })).toMatchObject({ status: 'ok', balance: { available: 100 } })
    await e.members.setStatus('m1', 'active', operator)
    await e.members.setRedemptionAllowed('m1', false, operator)
    expect(await e.execute({ op: 'redeem', account: 'm1', key: 'r1', points: 5 })).toMatchObject({ status: 'redemption_not_allowed' })
    expect(await e.execute({ op: 'earn', account: 'm1', key: 'e2', points: 5 })).toMatchObject({ status: 'ok' })
  })

  it('erases a member: profile anonymised, identifiers released, journal kept', async () => {
    const e = await start()
    await member(e, 'm1', { firstName: 'Ada', email: 'ada@example.com', cards: [{ value: 'CARD0001' }] })
    expect(await e.members.erase('m1', operator)).toMatchObject({ ok: true, value: { status: 'closed', attributes: {} } })
    expect(e.members.get('m1')?.firstName).toBeUndefined()
    expect(e.members.get('m1')?.email).toBeUndefined()
    expect(e.members.resolve('card', 'CARD0001')).toBeUndefined()
    expect((await e.execute({ op: 'history', account: 'm1' })).entries?.length).toBeGreaterThan(0)
    expect(await e.members.create({ id: 'm2', program: 'demo', email: 'ada@example.com' }, operator)).toMatchObject({ ok: true })
    expect(await e.execute({ op: 'earn', account: 'm1', key: 'late', points: 1 })).toMatchObject({ status: 'member_suspended' })
  })

  it('moves email and phone identifiers with profile updates', async () => {
    const e = await start()
    await member(e, 'm1', { email: 'old@example.com' })
    await member(e, 'm2', { email: 'taken@example.com' })
    expect(await e.members.update('m1', { email: 'taken@example.com' }, operator)).toMatchObject({ ok: false, field: 'email' })
    expect(await e.members.update('m1', { email: 'new@example.com', lastName: 'Byron' }, operator)).toMatchObject({ ok: true })
    expect(e.members.resolve('email', 'old@example.com')).toBeUndefined()
    expect(e.members.resolve('email', 'new@example.com')?.member.lastName).toBe('Byron')
  })

  it('searches by name prefix, country and join date, paged', async () => {
    const e = await start()
    const names = ['Smith', 'Smithers', 'Smyth', 'Jones', 'Smit']
    for (const [i, lastName] of names.entries()) {
      await e.members.create({ id: `s${i}`, program: 'demo', lastName, firstName: 'A', country: i % 2 === 0 ? 'DE' : 'FR' }, operator)
    }
    const smi = e.members.search({ name: 'smi', limit: 2 })
    expect(smi.members.map((m) => m.lastName)).toEqual(['Smit', 'Smith'])
    const rest = e.members.search({ name: 'smi', limit: 2, after: smi.next! })
    expect(rest.members.map((m) => m.lastName)).toEqual(['Smithers'])
    expect(rest.next).toBeUndefined()
    expect(e.members.search({ country: 'FR' }).members.map((m) => m.id).sort()).toEqual(['s1', 's3'])
    expect(e.members.search({ joinedFrom: Date.now() + 60_000 }).members).toEqual([])
  })

  it('audits every change with who, what, to which member, newest first', async () => {
    const e = await start()
    await member(e, 'm1', { cards: [{ value: 'CARD0001' }] })
    await e.members.setCardStatus('card', 'CARD0001', 'blocked', operator, 'stolen')
    await e.members.setStatus('m1', 'suspended', { kind: 'support', id: 'kim' })
    const { records } = e.members.audit.search({ target: 'm1' })
    expect(records.map((r) => r.action)).toEqual(['member.status', 'card.block', 'member.create'])
    expect(records[0]!.actor).toEqual({ kind: 'support', id: 'kim' })
    expect(records[1]!.detail).toMatchObject({ reason: 'stolen', value: 'CARD0001' })
    expect(e.members.audit.search({ actor: 'kim' }).records).toHaveLength(1)
  })
})

describe('member tallies', () => {
  it('count members per status through every change, and survive a reopen or a missing record', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-tallies-'))
    try {
      engine = await openEngine({ dataDir, shards: 1, workers: 0 })
      const e = engine
      for (const id of ['t1', 't2', 't3', 't4']) await e.members.create({ id, program: 'demo' }, operator)
      await e.members.setStatus('t2', 'suspended', operator)
      await e.members.erase('t3', operator)
      const rows = ['id,program', 'b1,demo', 'b2,demo', 'b3,demo'].join('\n')
      expect(await e.members.importCsv([rows], { actor: operator })).toMatchObject({ imported: 3 })
      const expected = { active: 5, suspended: 1, closed: 1 }
      expect(e.members.countByStatus()).toEqual(expected)
      await e.close()
      engine = await openEngine({ dataDir, workers: 0 })
      expect(engine.members.countByStatus()).toEqual(expected)
      await engine.close()
      // A registry written before tallies existed: counted from the members once.
      const { open } = await import('lmdb')
      const root = open({ path: join(dataDir, 'registry'), maxDbs: 32 })
      await root.openDB({ name: 'member-tallies' }).remove('status')
      await root.close()
      engine = await openEngine({ dataDir, workers: 0 })
      expect(engine.members.countByStatus()).toEqual(expected)
    } finally {
      await engine?.close()
      engine = undefined
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
