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
import { SearchError } from './members.ts'

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
    [{ birthDate: '2020-02-31' }, 'birthDate'],
    [{ country: 'Germany' }, 'country'],
    [{ country: 'XX' }, 'country'],
    [{ country: 'EU' }, 'country'],
    [{ birthDate: '0000-01-01' }, 'birthDate'],
    [{ birthDate: '1899-12-31' }, 'birthDate'],
    [{ birthDate: '2999-01-01' }, 'birthDate'],
    [{ email: 'x@y..com' }, 'email'],
    [{ email: '.x@y.com' }, 'email'],
    [{ email: 'x..y@z.com' }, 'email'],
    [{ email: 'x@-y.com' }, 'email'],
    [{ email: 'x@y.1com' }, 'email'],
    [{ firstName: '\u200dAda' }, 'firstName'],
    [{ lastName: 'Love\u200d\u200dlace' }, 'lastName'],
    [{ lastName: 'Love\u200blace' }, 'lastName'],
    [{ cards: [{ value: '12' }] }, 'cards[0].value'],
    [{ referrer: 'nobody' }, 'referrer'],
  ])('refuses %j naming %s, creating nothing', async (extra, field) => {
    const e = await start()
    const result = await e.members.create({ id: 'x1', program: 'demo', ...extra } as never, operator)
    expect(result).toMatchObject({ ok: false, status: 'invalid_request', field })
    expect(e.members.count()).toBe(0)
  })

  it('takes a leap day as a birth date, in a leap year only', async () => {
    const e = await start()
    expect(await e.members.create({ id: 'leap', program: 'demo', birthDate: '2000-02-29' }, operator)).toMatchObject({ ok: true })
    expect(await e.members.create({ id: 'noleap', program: 'demo', birthDate: '1900-02-29' }, operator)).toMatchObject({ ok: false, field: 'birthDate' })
  })

  it('takes birth dates from 1900 to today, and says which bound a date is past', async () => {
    const noon = Date.UTC(2026, 10, 24, 12)
    engine = await openEngine({ storage: 'memory', shards: 2, clock: () => noon })
    const e = engine
    const at = (birthDate: string) => e.members.create({ id: `b${birthDate}`, program: 'demo', birthDate }, operator)
    expect(await at('1900-01-01')).toMatchObject({ ok: true })
    expect(await at('2026-11-24')).toMatchObject({ ok: true })
    // Already the 25th in Kiribati (UTC+14) at noon UTC on the 24th; the 26th is nowhere yet.
    expect(await at('2026-11-25')).toMatchObject({ ok: true })
    expect(await at('2026-11-26')).toMatchObject({ ok: false, field: 'birthDate', message: 'birthDate must not be in the future (after 2026-11-25)' })
    expect(await at('1899-12-31')).toMatchObject({ ok: false, message: 'birthDate must not be before 1900-01-01' })
  })

  it('stores a country in capitals, and names the code for a common mistake', async () => {
    const e = await start()
    expect(await e.members.create({ id: 'c1', program: 'demo', country: ' de ' }, operator)).toMatchObject({ ok: true, value: { country: 'DE' } })
    expect(await e.members.update('c1', { country: 'xk' }, operator)).toMatchObject({ ok: true, value: { country: 'XK' } })
    expect(await e.members.update('c1', { country: 'UK' }, operator)).toMatchObject({ ok: false, field: 'country', message: 'country UK is not an ISO 3166 code: use GB (the United Kingdom)' })
    expect(e.members.get('c1')?.country).toBe('XK')
  })

  it('takes a zero-width joiner or non-joiner inside a name (Persian, Indic scripts, emoji), nowhere else', async () => {
    const e = await start()
    expect(await e.members.create({ id: 'p1', program: 'demo', firstName: 'نرگس', lastName: 'می\u200cخواه' }, operator)).toMatchObject({ ok: true, value: { lastName: 'می\u200cخواه' } })
    expect(await e.members.create({ id: 'p2', program: 'demo', firstName: 'क्\u200dष' }, operator)).toMatchObject({ ok: true })
    expect(await e.members.create({ id: 'p3', program: 'demo', firstName: 'Ada\u200c' }, operator)).toMatchObject({
      ok: false, field: 'firstName', message: 'firstName must not contain control or invisible characters (U+200C at 3)',
    })
    // Gender is no name: joiners stay refused there.
    expect(await e.members.create({ id: 'p4', program: 'demo', gender: 'f\u200cx' }, operator)).toMatchObject({ ok: false, field: 'gender' })
  })

  it('names an id or card longer than any key as too long or unknown, and never throws', async () => {
    const e = await start()
    const long = 'a'.repeat(5000)
    expect(await e.execute({ op: 'balance', account: long })).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect(await e.execute({ op: 'earn', account: long, key: 'k', points: 5 })).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect(await e.execute({ op: 'earn', card: '9'.repeat(5000), key: 'k', points: 5 })).toMatchObject({ status: 'account_not_found', field: 'card' })
    expect(e.members.get(long)).toBeUndefined()
    expect(e.members.resolve('email', `${long}@example.com`)).toBeUndefined()
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

  it('keeps an identifier one member\'s however it is spelt: full-width or decomposed characters, Unicode dashes, 00 or (0) in a phone', async () => {
    const e = await start()
    await member(e, 'u1', { email: 'zoë@example.com', phone: '+4930123456', cards: [{ value: '600100000001' }] })
    const taken: [Record<string, unknown>, string][] = [
      [{ email: 'ＺＯË@ｅｘａｍｐｌｅ．ｃｏｍ' }, 'email'],
      [{ email: 'zoe\u0308@example.com' }, 'email'],
      [{ phone: '0049 30 123456' }, 'phone'],
      [{ phone: '+49 (0)30 123456' }, 'phone'],
      [{ phone: '＋４９ ３０ １２３４５６' }, 'phone'],
      [{ cards: [{ value: '６００１ ００００ ０００１' }] }, 'cards[0].value'],
      [{ cards: [{ value: '6001\u20110000\u20110001' }] }, 'cards[0].value'],
      [{ cards: [{ value: '6001\u20130000\u20130001' }] }, 'cards[0].value'],
    ]
    for (const [input, field] of taken) {
      const created = await e.members.create({ id: 'u2', program: 'demo', ...input }, operator)
      expect(created, JSON.stringify(input)).toMatchObject({ ok: false, field, message: expect.stringContaining('belongs to another member') })
    }
    expect(e.members.get('u2')).toBeUndefined()
    expect(e.members.resolve('email', 'ＺＯË@example.com')?.member.id).toBe('u1')
    expect(e.members.resolve('phone', '0049 30 123456')?.member.id).toBe('u1')
    expect(e.members.resolve('card', '６００１-００００-０００１')?.member.id).toBe('u1')
    // A look-alike letter of another script inside a Latin address is refused, naming the field.
    expect(await e.members.create({ id: 'u3', program: 'demo', email: 'zo\u0435@example.com' }, operator))
      .toMatchObject({ ok: false, field: 'email', message: expect.stringContaining('mixes') })
    const fresh = await e.members.create({ id: 'u4', program: 'demo', phone: '0044 (0)20 7946 0958' }, operator)
    expect(fresh).toMatchObject({ ok: true, value: { phone: '+442079460958' } })
  })

  it('refuses to replace a card of a closed member, leaving both cards as they were', async () => {
    const e = await start()
    await member(e, 'c1', { cards: [{ value: 'CLSD0001' }] })
    expect(await e.members.setCardStatus('card', 'CLSD0001', 'lost', operator)).toMatchObject({ ok: true })
    expect(await e.members.setStatus('c1', 'closed', operator)).toMatchObject({ ok: true })
    const audited = e.members.audit.search({ target: 'c1' }).records.length
    expect(await e.members.replaceCard('card', 'CLSD0001', 'CLSD0002', operator)).toMatchObject({ ok: false, field: 'member' })
    expect(e.members.identifier('card', 'CLSD0001')).toMatchObject({ status: 'lost', member: 'c1' })
    expect(e.members.identifier('card', 'CLSD0002')).toBeUndefined()
    expect(e.members.identifiersOf('c1').map((i) => i.value)).toEqual(['CLSD0001'])
    expect(e.members.audit.search({ target: 'c1' }).records).toHaveLength(audited)
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
    // The new card carries the same account: balance and history (the
    // enrolment with its welcome points, and the earn).
    expect(await e.execute({ op: 'balance', card: 'CARD0002' })).toMatchObject({ status: 'ok', balance: { available: 150 } })
    expect((await e.execute({ op: 'history', card: 'CARD0002' })).entries?.map((x) => [x.kind, x.points])).toEqual([['earn', 50], ['enroll', 100]])
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

  it('lets a suspended member settle (void a hold, refund, reverse a return) but not capture; no capture without redemption rights', async () => {
    const e = await start()
    await member(e, 'm1')
    expect(await e.execute({ op: 'earn', account: 'm1', key: 'e1', points: 50, ref: 'sale-1' })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'redeem', account: 'm1', key: 'r1', points: 30, ref: 'paid-1' })).toMatchObject({ status: 'ok' })
    const first = await e.execute({ op: 'authorize', account: 'm1', key: 'a1', points: 20 })
    const second = await e.execute({ op: 'authorize', account: 'm1', key: 'a2', points: 10 })
    expect([first.status, second.status]).toEqual(['ok', 'ok'])
    await e.members.setStatus('m1', 'suspended', operator, 'chargeback')
    // Burning stays refused while suspended, capture of an earlier hold included.
    expect(await e.execute({ op: 'capture', account: 'm1', key: 'c1', hold: first.hold! })).toMatchObject({ status: 'member_suspended' })
    expect(await e.execute({ op: 'void', account: 'm1', key: 'v1', hold: first.hold! })).toMatchObject({ status: 'ok' })
    // The returned item's points come back off the balance; the points-paid purchase gives its points back.
    expect(await e.execute({ op: 'reverse', account: 'm1', key: 'rv1', ref: 'sale-1' })).toMatchObject({ status: 'ok', points: 50 })
    expect(await e.execute({ op: 'refund', account: 'm1', key: 'rf1', ref: 'paid-1' })).toMatchObject({ status: 'ok', points: 30 })
    expect(await e.execute({ op: 'balance', account: 'm1' })).toMatchObject({ balance: { available: 90, held: 10 } })
    // Withdrawing redemption rights stops the capture of a hold taken before; the hold can still be voided.
    await e.members.setStatus('m1', 'active', operator)
    await e.members.setRedemptionAllowed('m1', false, operator)
    expect(await e.execute({ op: 'capture', account: 'm1', key: 'c2', hold: second.hold! })).toMatchObject({ status: 'redemption_not_allowed' })
    expect(await e.execute({ op: 'void', account: 'm1', key: 'v2', hold: second.hold! })).toMatchObject({ status: 'ok' })
    expect(await e.execute({ op: 'balance', account: 'm1' })).toMatchObject({ balance: { available: 100, held: 0 } })
  })

  it('keeps a closed member closed to settling too', async () => {
    const e = await start()
    await member(e, 'm1')
    const hold = await e.execute({ op: 'authorize', account: 'm1', key: 'a1', points: 20 })
    await e.execute({ op: 'void', account: 'm1', key: 'v0', hold: hold.hold! })
    expect(await e.members.erase('m1', operator)).toMatchObject({ ok: true })
    expect(await e.execute({ op: 'void', account: 'm1', key: 'v1', hold: hold.hold! })).toMatchObject({ status: 'member_suspended' })
  })

  it('erases a member: profile anonymised, identifiers released, journal kept', async () => {
    const e = await start()
    await member(e, 'm1', { firstName: 'Ada', email: 'ada@example.com', cards: [{ value: 'CARD0001' }] })
    expect(await e.members.erase('m1', operator)).toMatchObject({ ok: true, value: { status: 'closed', attributes: {} } })
    expect(e.members.get('m1')?.firstName).toBeUndefined()
    expect(e.members.get('m1')?.email).toBeUndefined()
    expect(e.members.resolve('card', 'CARD0001')).toBeUndefined()
    // The journal keeps the enrolment's points, though the profile is gone.
    expect((await e.execute({ op: 'history', account: 'm1' })).entries).toEqual([
      expect.objectContaining({ kind: 'enroll', points: 100, balance: 100, key: 'join' }),
    ])
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

  it('removes an optional profile field given null (a removed email or phone is released), and refuses null on a field every member has, changing nothing', async () => {
    const e = await start()
    const full = { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '+441632960001', birthDate: '1990-12-10', gender: 'f', country: 'GB', address: { city: 'London' }, segments: ['vip'] }
    await member(e, 'm1', full)
    const removed = await e.members.update('m1', { email: null, phone: null, birthDate: null, country: null, address: null, lastName: 'Byron' }, operator)
    expect(removed).toMatchObject({ ok: true, value: { firstName: 'Ada', lastName: 'Byron', gender: 'f', segments: ['vip'] } })
    const after = e.members.get('m1')!
    for (const field of ['email', 'phone', 'birthDate', 'country', 'address'] as const) expect(after).not.toHaveProperty(field)
    expect(e.members.resolve('email', 'ada@example.com')).toBeUndefined()
    expect(e.members.resolve('phone', '+441632960001')).toBeUndefined()
    expect(e.members.identifiersOf('m1')).toEqual([])
    expect(e.members.search({ country: 'GB' }).members).toEqual([])
    // Released: another member may take them.
    await member(e, 'm2', { email: 'ada@example.com', phone: '+441632960001' })
    expect(e.members.audit.search({ target: 'm1', action: 'member.update' }).records[0]!.detail).toMatchObject({ removed: ['email', 'phone', 'birthDate', 'country', 'address'] })

    // Null on a field every member has is refused naming it; the other fields of the change are not applied.
    for (const field of ['segments', 'attributes', 'consents'] as const) {
      const refused = await e.members.update('m1', { firstName: null, gender: 'x', [field]: null } as never, operator)
      expect(refused).toMatchObject({ ok: false, status: 'invalid_request', field })
    }
    // An empty text is refused as before: null, not "", removes.
    expect(await e.members.update('m1', { firstName: '', gender: null }, operator)).toMatchObject({ ok: false, field: 'firstName' })
    expect(e.members.get('m1')).toMatchObject({ firstName: 'Ada', gender: 'f', segments: ['vip'], consents: { email: false } })
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
    expect(e.members.search({ country: 'fr' }).members.map((m) => m.id).sort()).toEqual(['s1', 's3'])
    expect(e.members.search({ joinedFrom: Date.now() + 60_000 }).members).toEqual([])
  })

  it('finds by "last name first name": a whole last name, a space and a first-name prefix, paged across last names', async () => {
    const e = await start()
    const people: [string, string, string][] = [
      ['p1', 'Allen', 'Ada'],
      ['p2', 'Allen', 'Adam'],
      ['p3', 'Allen', 'Bob'],
      ['p4', 'Allen Adamson', 'Zoe'],
      ['p5', 'van der Berg', 'Jan'],
      ['p6', 'van der Berg', 'Anna'],
      ['p7', 'Vance', 'Jan'],
      ['p8', 'Allenby', 'Ada'],
    ]
    for (const [id, lastName, firstName] of people) await e.members.create({ id, program: 'demo', lastName, firstName }, operator)
    const ids = (name: string) => e.members.search({ name }).members.map((m) => m.id)
    // Before, only last names were matched: "allen ada" found nobody.
    expect(ids('Allen Ada')).toEqual(['p1', 'p2', 'p4'])
    expect(ids('allen adam')).toEqual(['p2', 'p4'])
    // Spaces at the ends and runs of them do not count.
    expect(ids('  Allen   Ada ')).toEqual(['p1', 'p2', 'p4'])
    expect(ids('allen b')).toEqual(['p3'])
    expect(ids('allen')).toEqual(['p1', 'p2', 'p3', 'p4', 'p8'])
    expect(ids('van der berg j')).toEqual(['p5'])
    expect(ids('van der')).toEqual(['p6', 'p5'])
    expect(ids('van j')).toEqual([])
    expect(ids('Ada Allen')).toEqual([])
    // Pages go on across the stretches: the Allens named Ada*, then the last names beginning "allen ada".
    const one = e.members.search({ name: 'allen ada', limit: 1 })
    expect(one.members.map((m) => m.id)).toEqual(['p1'])
    const two = e.members.search({ name: 'allen ada', limit: 1, after: one.next! })
    expect(two.members.map((m) => m.id)).toEqual(['p2'])
    const three = e.members.search({ name: 'allen ada', limit: 1, after: two.next! })
    expect(three.members.map((m) => m.id)).toEqual(['p4'])
    expect(three.next).toBeUndefined()
    // A cursor of another name is refused as before.
    expect(() => e.members.search({ name: 'allen b', after: one.next! })).toThrow(/other name, country or join dates/)
  })

  it('finds by name prefix a name whose next character lies past U+FFFF (CJK extension, emoji)', async () => {
    const e = await start()
    await e.members.create({ id: 'u1', program: 'demo', lastName: '\u{20B9F}\u7530' }, operator)
    await e.members.create({ id: 'u2', program: 'demo', lastName: 'Ab\u{1F600}' }, operator)
    await e.members.create({ id: 'u3', program: 'demo', lastName: 'Abc' }, operator)
    await e.members.create({ id: 'u4', program: 'demo', lastName: 'Ac' }, operator)
    expect(e.members.search({ name: 'ab' }).members.map((m) => m.id)).toEqual(['u3', 'u2'])
    expect(e.members.search({ name: '\u{20B9F}' }).members.map((m) => m.id)).toEqual(['u1'])
    const first = e.members.search({ name: 'ab', limit: 1 })
    expect(e.members.search({ name: 'ab', limit: 1, after: first.next! }).members.map((m) => m.id)).toEqual(['u2'])
  })

  it('pages on from where the last page ended even when the member there has changed or gone', async () => {
    const e = await start()
    for (const [i, lastName] of ['Aa', 'Ab', 'Ac', 'Ad', 'Ae'].entries()) {
      await e.members.create({ id: `q${i}`, program: 'demo', lastName, country: 'DE' }, operator)
    }
    const first = e.members.search({ name: 'a', limit: 2 })
    expect(first.members.map((m) => m.id)).toEqual(['q0', 'q1'])
    // The last member shown leaves the search (renamed), another one is erased.
    await e.members.update('q1', { lastName: 'Zz' }, operator)
    await e.members.erase('q2', operator)
    const second = e.members.search({ name: 'a', limit: 2, after: first.next! })
    expect(second.members.map((m) => m.id)).toEqual(['q3', 'q4'])
    expect(second.next).toBeUndefined()
    const byCountry = e.members.search({ country: 'DE', limit: 1 })
    await e.members.update(byCountry.members[0]!.id, { country: 'AT' }, operator)
    expect(e.members.search({ country: 'DE', limit: 10, after: byCountry.next! }).members).toHaveLength(3)
  })

  it.each([
    ['not a cursor at all', () => 'q1', 'after must be the next of an earlier page of this search, as it was given'],
    ['a cursor of a key of the wrong shape', () => Buffer.from('["n",1,2,3]').toString('base64url'), 'as it was given'],
    ['a cursor of another index', (next: string) => next, 'other name, country or join dates'],
  ])('refuses %s as after, naming it', async (_, cursor, message) => {
    const e = await start()
    for (const i of [0, 1, 2]) await e.members.create({ id: `q${i}`, program: 'demo', lastName: `A${i}`, country: 'DE' }, operator)
    const next = e.members.search({ country: 'DE', limit: 1 }).next!
    let thrown: unknown
    try {
      e.members.search({ name: 'a', after: cursor(next) })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(SearchError)
    expect(thrown).toMatchObject({ field: 'after', message: expect.stringContaining(message) })
    expect(() => e.members.search({ country: 'DE', after: next })).not.toThrow()
    expect(() => e.members.search({ country: 'DE', joinedFrom: Date.now() + 60_000, after: next })).toThrow(SearchError)
    expect(() => e.members.search({ country: 'XX' })).toThrow('country must be an ISO 3166 alpha-2 country code such as DE (not "XX")')
  })

  it('refuses a cursor of a search with another name prefix or other join dates, though it points inside this one', async () => {
    const e = await start()
    for (const i of [0, 1, 2]) await e.members.create({ id: `r${i}`, program: 'demo', lastName: `Ab${i}`, country: 'DE' }, operator)
    const next = e.members.search({ name: 'ab', limit: 1 }).next!
    expect(() => e.members.search({ name: 'a', after: next })).toThrow('other name, country or join dates')
    expect(() => e.members.search({ name: 'ab', joinedFrom: 1, after: next })).toThrow(SearchError)
    const until = Date.now() + 60_000
    const dated = e.members.search({ country: 'DE', joinedTo: until, limit: 1 }).next!
    expect(() => e.members.search({ country: 'DE', after: dated })).toThrow(SearchError)
    // The same search written otherwise (capitals, a status) goes on where it stopped.
    expect(e.members.search({ name: 'AB', after: next }).members.map((m) => m.id)).toEqual(['r1', 'r2'])
    expect(e.members.search({ name: 'ab', status: 'active', after: next }).members.map((m) => m.id)).toEqual(['r1', 'r2'])
    expect(e.members.search({ country: 'de', joinedTo: until, after: dated }).members).toHaveLength(2)
  })

  it('audits every change with who, what, to which member, newest first', async () => {
    const e = await start()
    await member(e, 'm1', { cards: [{ value: 'CARD0001' }] })
    await e.members.setCardStatus('card', 'CARD0001', 'blocked', operator, 'stolen')
    await e.members.setStatus('m1', 'suspended', { kind: 'support', id: 'kim' })
    const { records } = e.members.audit.search({ target: 'm1' })
    expect(records.map((r) => r.action)).toEqual(['member.status', 'card.block', 'member.create'])
    expect(records[0]!.actor).toEqual({ kind: 'support', id: 'kim' })
    // The card number is masked in the trail (audit.test.ts).
    expect(records[1]!.detail).toMatchObject({ reason: 'stolen', value: '****0001' })
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

describe('registry format 2', () => {
  it('keeps identifier keys on the member record through every change of identifiers', async () => {
    const e = await start()
    const keys = (id: string) => e.members.identifiersOf(id).map((i) => `${i.type}:${i.value}:${i.status}:${i.member}`)
    await member(e, 'm1', { email: 'a@example.com', phone: '+15550000001', cards: [{ value: 'CARD0001' }] })
    await member(e, 'm2', { email: 'b@example.com' })
    expect(keys('m1')).toEqual(['card:CARD0001:active:m1', 'email:a@example.com:active:m1', 'phone:+15550000001:active:m1'])
    expect((await e.members.issueCard('m1', { type: 'fob', value: 'FOB00001' }, operator)).ok).toBe(true)
    expect((await e.members.replaceCard('card', 'CARD0001', 'CARD0002', operator)).ok).toBe(true)
    expect((await e.members.update('m1', { phone: '+15550000002' }, operator)).ok).toBe(true)
    expect(keys('m1')).toEqual([
      'card:CARD0001:replaced:m1', 'card:CARD0002:active:m1', 'email:a@example.com:active:m1',
      'fob:FOB00001:active:m1', 'phone:+15550000002:active:m1',
    ])
    expect(e.members.resolve('phone', '+15550000001')).toBeUndefined()
    // A merge moves the active ones; the replaced card stays with the duplicate.
    expect((await e.members.absorb('m1', 'm2', operator)).ok).toBe(true)
    expect(keys('m1')).toEqual(['card:CARD0001:replaced:m1'])
    expect(keys('m2')).toEqual([
      'card:CARD0002:active:m2', 'email:a@example.com:active:m2', 'email:b@example.com:active:m2',
      'fob:FOB00001:active:m2', 'phone:+15550000002:active:m2',
    ])
    expect(e.members.resolve('fob', 'FOB00001')?.member.id).toBe('m2')
    // The profile keeps its own email and takes the phone it lacked, with its identifier.
    expect(e.members.get('m2')).toMatchObject({ email: 'b@example.com', phone: '+15550000002' })
    expect((await e.members.absorb('m1', 'm2', operator)).ok).toBe(true)
    expect(keys('m2')).toHaveLength(5)
    await e.members.setCardStatus('card', 'CARD0002', 'blocked', operator, 'stolen')
    expect(e.members.identifier('card', 'CARD0002')).toMatchObject({ status: 'blocked', reason: 'stolen', member: 'm2' })
    await e.members.setCardStatus('card', 'CARD0002', 'active', operator)
    expect(e.members.identifier('card', 'CARD0002')).toMatchObject({ status: 'active', member: 'm2' })
    expect(e.members.identifier('card', 'CARD0002')?.reason).toBeUndefined()
    expect((await e.members.erase('m2', operator)).ok).toBe(true)
    expect(keys('m2')).toEqual([])
    for (const [type, value] of [['card', 'CARD0002'], ['email', 'a@example.com'], ['fob', 'FOB00001'], ['phone', '+15550000002']] as const) {
      expect(e.members.identifier(type, value), value).toBeUndefined()
    }
    expect((await e.members.issueCard('m1', { value: 'CARD0002' }, operator))).toMatchObject({ ok: false, field: 'member' })
    expect((await e.members.create({ id: 'm3', program: 'demo', cards: [{ value: 'CARD0002' }] }, operator)).ok).toBe(true)
  })

  it('keeps one number to one member whatever kind of card it is issued as, and names a number given twice', async () => {
    const e = await start()
    await member(e, 'm1', { cards: [{ value: 'CARD0001' }] })
    await member(e, 'm2')
    for (const type of ['fob', 'nfc', 'virtual_card'] as const) {
      expect(await e.members.issueCard('m2', { type, value: 'CARD0001' }, operator)).toMatchObject({ ok: false, field: 'value', message: `${type} CARD0001 is already issued` })
    }
    expect(await e.members.create({ id: 'm3', program: 'demo', cards: [{ type: 'fob', value: 'CARD0001' }] }, operator)).toMatchObject({ ok: false, message: 'fob CARD0001 belongs to another member' })
    expect(await e.members.create({ id: 'm3', program: 'demo', cards: [{ value: 'XCARD1' }, { type: 'nfc', value: 'xcard1' }] }, operator)).toMatchObject({ ok: false, field: 'cards[1].value', message: 'nfc XCARD1 is given twice' })
    await e.members.issueCard('m2', { type: 'fob', value: 'FOB00001' }, operator)
    expect(await e.members.replaceCard('fob', 'FOB00001', 'CARD0001', operator)).toMatchObject({ ok: false, field: 'replacement' })
    expect(e.members.identifiersOf('m2').map((i) => `${i.type}:${i.value}:${i.status}`)).toEqual(['fob:FOB00001:active'])
  })

  it('keeps an erased or merged-away member closed', async () => {
    const e = await start()
    for (const id of ['gone', 'dupe', 'keep']) await member(e, id)
    await e.members.erase('gone', operator)
    await e.members.absorb('dupe', 'keep', operator)
    for (const status of ['active', 'suspended'] as const) {
      expect(await e.members.setStatus('gone', status, operator)).toMatchObject({ ok: false, message: 'an erased member stays closed' })
      expect(await e.members.setStatus('dupe', status, operator)).toMatchObject({ ok: false, message: 'member dupe was merged into keep and stays closed' })
    }
    expect(await e.members.issueCard('gone', { value: 'NEW0001' }, operator)).toMatchObject({ ok: false, field: 'member' })
    expect(await e.members.issueCard('dupe', { value: 'NEW0001' }, operator)).toMatchObject({ ok: false, field: 'member' })
    // Nor does a merged-away member take a new email or phone: it would lead to a closed account.
    expect(await e.members.update('dupe', { email: 'dupe@example.com' }, operator)).toMatchObject({
      ok: false,
      field: 'id',
      message: 'member dupe was merged into keep; change keep',
    })
    expect(e.members.resolve('email', 'dupe@example.com')).toBeUndefined()
    expect(e.members.get('dupe')?.status).toBe('closed')
  })

  it('gives a closed member no new email or phone, but lets its name be corrected', async () => {
    const e = await start()
    await member(e, 'shut')
    await e.members.setStatus('shut', 'closed', operator)
    expect(await e.members.update('shut', { phone: '+44 20 7946 0000' }, operator)).toMatchObject({ ok: false, field: 'phone', message: 'member shut is closed' })
    expect(await e.members.update('shut', { lastName: 'Lovelace' }, operator)).toMatchObject({ ok: true, value: { lastName: 'Lovelace' } })
  })

  it('refuses an email too long to be one (and to be an LMDB key), in create and createMany alike', async () => {
    const e = await start()
    const input = { id: 'x1', program: 'demo', email: `a@b.${'c'.repeat(64)}` }
    expect(await e.members.create(input, operator)).toMatchObject({ ok: false, field: 'email' })
    expect((await e.members.createMany([input], operator, 'test')).rejected).toMatchObject([{ index: 0, field: 'email' }])
    expect(await e.members.create({ ...input, email: `a@b.${'c'.repeat(63)}` }, operator)).toMatchObject({ ok: true })
  })

  it('folds a registry written before it (an identifiers-by-member index) into member records, once, even after an interruption', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { open } = await import('lmdb')
    const { openDataDir, registryPath } = await import('../data-dir.ts')
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-format1-'))
    try {
      openDataDir(dataDir, { shards: 1 })
      // Written as format 1 wrote it: plain member records, whole identifier records, the by-member index.
      const root = open({ path: registryPath(dataDir), maxDbs: 32 })
      const members = root.openDB({ name: 'members' })
      const identifiers = root.openDB({ name: 'identifiers' })
      const owned = root.openDB({ name: 'identifiers-by-member' })
      const byName = root.openDB({ name: 'members-by-name' })
      const byJoined = root.openDB({ name: 'members-by-joined' })
      const joinedAt = Date.UTC(2020, 0, 1)
      const old = (id: string, extra: object) => ({
        id, account: id, program: 'demo', attributes: {}, segments: [], consents: { email: false, sms: false, push: false },
        joinedAt, status: 'active', redemptionAllowed: true, ...extra,
      })
      const identifier = (type: string, value: string, member: string, extra: object = {}) =>
        ({ type, value, member, status: 'active', issuedAt: joinedAt, changedAt: joinedAt, ...extra })
      const held: [string, string, string, object?][] = [
        ['o1', 'email', 'one@example.com'],
        ['o1', 'card', 'OLDCARD1', { status: 'blocked', changedAt: joinedAt + 1, reason: 'stolen' }],
        ['o2', 'card', 'OLDCARD2'],
      ]
      await root.transaction(() => {
        members.put('o1', old('o1', { lastName: 'One', email: 'one@example.com' }))
        members.put('o2', old('o2', { lastName: 'Two' }))
        // Interrupted before: o3 was folded already, and the index still names one of its cards.
        members.put('o3', [old('o3', { lastName: 'Three' }), ['card:OLDCARD3']])
        held.push(['o3', 'card', 'OLDCARD4'])
        identifiers.put('card:OLDCARD3', identifier('card', 'OLDCARD3', 'o3'))
        for (const [id, type, value, extra] of held) {
          identifiers.put(`${type}:${value}`, identifier(type, value, id, extra))
          owned.put([id, type, value], true)
        }
        for (const id of ['o1', 'o2', 'o3']) {
          byName.put([id === 'o1' ? 'one' : id === 'o2' ? 'two' : 'three', '', id], true)
          byJoined.put([joinedAt, id], true)
        }
      })
      await root.close()

      engine = await openEngine({ dataDir, workers: 0 })
      const e = engine
      expect(e.members.identifiersOf('o1').map((i) => [i.type, i.value, i.status])).toEqual([
        ['card', 'OLDCARD1', 'blocked'], ['email', 'one@example.com', 'active'],
      ])
      expect(e.members.identifiersOf('o3').map((i) => i.value)).toEqual(['OLDCARD3', 'OLDCARD4'])
      expect(e.members.resolve('card', 'OLDCARD2')?.member).toMatchObject({ id: 'o2', lastName: 'Two' })
      expect(e.members.search({ name: 'tw' }).members.map((m) => m.id)).toEqual(['o2'])
      expect(e.members.countByStatus()).toEqual({ active: 3, suspended: 0, closed: 0 })
      // New writes go on from there; an import into it checks against the old identifiers.
      const report = await e.members.importCsv(['id,program,email,card\nn1,demo,one@example.com,\nn2,demo,,OLDCARD4\nn3,demo,,NEWCARD1\n'], { actor: operator })
      expect(report.rejections.map((r) => [r.line, r.field])).toEqual([[2, 'email'], [3, 'card']])
      expect((await e.members.erase('o1', operator)).ok).toBe(true)
      expect(e.members.identifier('card', 'OLDCARD1')).toBeUndefined()
      await e.close()
      engine = undefined

      // The old index is gone, and opening again changes nothing.
      const after = open({ path: registryPath(dataDir), maxDbs: 32 })
      expect(after.openDB({ name: 'identifiers-by-member', create: false } as { name: string })).toBeUndefined()
      await after.close()
      engine = await openEngine({ dataDir, workers: 0 })
      expect(engine.members.identifiersOf('o3').map((i) => i.value)).toEqual(['OLDCARD3', 'OLDCARD4'])
      expect(engine.members.identifiersOf('n3').map((i) => i.value)).toEqual(['NEWCARD1'])
    } finally {
      await engine?.close()
      engine = undefined
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('HashFilter', () => {
  it('never forgets a string it was given, grows as it fills, and rarely claims one it was not', async () => {
    const { HashFilter } = await import('./members.ts')
    const filter = new HashFilter()
    const count = 50_000
    for (let i = 0; i < count; i++) filter.add(`card:6001${String(i).padStart(10, '0')}`)
    filter.add('card:60010000000007')
    expect(filter.size).toBe(count)
    for (let i = 0; i < count; i++) expect(filter.has(`card:6001${String(i).padStart(10, '0')}`)).toBe(true)
    let claimed = 0
    for (let i = count; i < 4 * count; i++) if (filter.has(`card:6001${String(i).padStart(10, '0')}`)) claimed++
    expect(claimed).toBe(0)
    expect(filter.has('')).toBe(false)
    filter.add('')
    expect(filter.has('')).toBe(true)
  })
})
