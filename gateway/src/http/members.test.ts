/**
 * Members and cards over REST, end to end over a real socket: creating
 * members (and what makes a create 409 or 400), reading them with their
 * balance, operations that name the member by card, phone or email, the card
 * lifecycle (block, lost, replace: the new card carries balance and history),
 * suspension and the redemption flag, profile changes reaching the engine,
 * erasure, search with paging, CSV import and export, roles, and the audit
 * record of every change with who made it and from where.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '@loyalty/engine'
import { gatewayHarness, type GatewayHarness } from '../testing/harness.ts'
import { createHttpApp } from './app.ts'
import { startHttpServer, type HttpServer } from './server.ts'

/** Reply bodies are checked by assertions, not by types. */
type Json = any

interface Answer {
  status: number
  headers: Headers
  body: Json
  text: string
}

interface Call {
  method?: string
  json?: unknown
  raw?: string | Uint8Array<ArrayBuffer>
  headers?: Record<string, string>
}

class Client {
  constructor(
    readonly base: string,
    readonly credential: { token?: string; cookie?: string },
  ) {}

  async call(path: string, options: Call = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers }
    const { token, cookie } = this.credential
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`
    if (cookie !== undefined) headers['cookie'] = cookie
    let body: string | Uint8Array<ArrayBuffer> | undefined = options.raw
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.json)
    }
    const method = options.method ?? (body === undefined ? 'GET' : 'POST')
    const response = await fetch(`${this.base}${path}`, { method, headers, body })
    const text = await response.text()
    const json = (response.headers.get('content-type') ?? '').startsWith('application/json')
    const parsed = json ? JSON.parse(text) : undefined
    return { status: response.status, headers: response.headers, body: parsed, text }
  }

  get(path: string) {
    return this.call(path)
  }

  post(path: string, json: unknown = {}) {
    return this.call(path, { method: 'POST', json })
  }

  patch(path: string, json: unknown) {
    return this.call(path, { method: 'PATCH', json })
  }

  delete(path: string) {
    return this.call(path, { method: 'DELETE' })
  }
}

interface Setup {
  h: GatewayHarness
  server: HttpServer
  admin: Client
  processor: Client
  partner: Client
  support: Client
  marketer: Client
  adminTokenId: string
}

async function login(base: string, username: string, password: string): Promise<Client> {
  const response = await fetch(`${base}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  expect(response.status).toBe(200)
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0]!
  return new Client(base, { cookie })
}

async function setup(): Promise<Setup> {
  const h = await gatewayHarness()
  const app = createHttpApp(h.gateway, { logger: silentLogger, ready: () => true })
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${server.port}`
  const adminToken = await h.engine.credentials.issueToken({ name: 'test admin', role: 'admin' })
  const password = 'long enough password'
  await h.engine.credentials.addUser({ username: 'sue', role: 'support' }, password)
  await h.engine.credentials.addUser({ username: 'mia', role: 'marketer' }, password)
  return {
    h,
    server,
    admin: new Client(base, { token: adminToken.secret }),
    processor: new Client(base, { token: h.processorToken }),
    partner: new Client(base, { token: h.partnerToken }),
    support: await login(base, 'sue', password),
    marketer: await login(base, 'mia', password),
    adminTokenId: adminToken.token.id,
  }
}

const basket = { lines: [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }] }

let s: Setup
beforeAll(async () => {
  s = await setup()
})
afterAll(async () => {
  await s.server.close()
  await s.h[Symbol.asyncDispose]()
})

/** Creates a member through REST and checks it was enrolled. */
async function createMember(id: string, extra: Record<string, unknown> = {}) {
  const created = await s.support.post('/v1/members', { id, program: 'demo', ...extra })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  expect(created.body.enrolment).toBeUndefined()
  return created.body
}

const available = async (client: Client, path: string): Promise<number> =>
  (await client.get(path)).body.balance.available

describe('creating and reading members', () => {
  it('creates a member with identifiers, enrolled at once, and reads it with its balance', async () => {
    const created = await s.processor.post('/v1/members', {
      id: 'ada',
      program: 'demo',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: ' Ada@Example.COM ',
      phone: '+44 20 7946 0958',
      birthDate: '1985-12-10',
      country: 'GB',
      segments: ['vip'],
      consents: { email: true },
      address: { city: 'London' },
      attributes: { legacyId: 'L-7' },
      cards: [{ value: '6001 0000 0001' }],
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      status: 'ok',
      member: { id: 'ada', account: 'ada', email: 'ada@example.com', phone: '+442079460958' },
      tier: 'bronze',
      balance: { available: 100 },
    })
    expect(created.body.member.status).toBe('active')
    expect(created.body.identifiers.map((i: Json) => `${i.type}:${i.value}`).sort()).toEqual([
      'card:600100000001', 'email:ada@example.com', 'phone:+442079460958',
    ])
    const read = await s.marketer.get('/v1/members/ada')
    expect(read.status).toBe(200)
    expect(read.body).toMatchObject({
      member: { firstName: 'Ada', consents: { email: true, sms: false }, address: { city: 'London' } },
      tier: 'bronze',
      balance: { available: 100 },
      membership: { program: 'demo', member: { segments: ['vip'], country: 'GB' } },
    })
    expect(read.body.identifiers).toHaveLength(3)
    expect((await s.processor.get('/v1/members/ada')).status).toBe(403)
    expect((await s.marketer.get('/v1/members/nobody')).body).toMatchObject({
      status: 'account_not_found', field: 'id',
    })
    expect((await s.marketer.get('/v1/members/nobody')).status).toBe(404)
  })

  it('answers 409 naming the field for a taken id, email, phone or card, creating nothing', async () => {
    await createMember('dup1', {
      email: 'dup@example.com', phone: '+15550000001', cards: [{ value: 'DUPCARD1' }],
    })
    const count = s.h.engine.members.count()
    const cases: [Record<string, unknown>, string][] = [
      [{ id: 'dup1' }, 'id'],
      [{ id: 'dup2', email: 'DUP@example.com' }, 'email'],
      [{ id: 'dup2', phone: '+1 (555) 000-0001' }, 'phone'],
      [{ id: 'dup2', cards: [{ value: 'LEGIT001' }, { value: 'dup-card-1' }] }, 'cards[1].value'],
    ]
    for (const [extra, field] of cases) {
      const answer = await s.support.post('/v1/members', { program: 'demo', ...extra })
      expect(answer.status, field).toBe(409)
      expect(answer.body, field).toMatchObject({ status: 'invalid_request', field })
    }
    expect(s.h.engine.members.count()).toBe(count)
    expect(s.h.engine.members.identifier('card', 'LEGIT001')).toBeUndefined()
  })

  it('answers 400 naming the field for each invalid input, creating nothing', async () => {
    const count = s.h.engine.members.count()
    const cases: [Record<string, unknown>, string][] = [
      [{ phone: '0123' }, 'phone'],
      [{ phone: 5551234 }, 'phone'],
      [{ email: 'not-an-email' }, 'email'],
      [{ birthDate: '10/12/1815' }, 'birthDate'],
      [{ country: 'Germany' }, 'country'],
      [{ firstName: '' }, 'firstName'],
      [{ id: 'has space' }, 'id'],
      [{ program: 'nope' }, 'program'],
      [{ cards: [{ value: '12' }] }, 'cards[0].value'],
      [{ cards: [{ type: 'phone', value: 'CARD0099' }] }, 'cards[0].type'],
      [{ cards: 'CARD0099' }, 'cards'],
      [{ segments: ['ok', ''] }, 'segments.1'],
      [{ attributes: { tier: 3 } }, 'attributes.tier'],
      [{ consents: { fax: true } }, 'consents.fax'],
      [{ address: { planet: 'Mars' } }, 'address.planet'],
      [{ referrer: 'nobody' }, 'referrer'],
      [{ nickname: 'x' }, 'nickname'],
    ]
    for (const [extra, field] of cases) {
      const answer = await s.support.post('/v1/members', { id: 'bad1', program: 'demo', ...extra })
      expect(answer.status, field).toBe(400)
      expect(answer.body, field).toMatchObject({ status: 'invalid_request', field })
    }
    const missing = await s.support.post('/v1/members', { program: 'demo' })
    expect(missing.body).toMatchObject({ status: 'invalid_request', field: 'id' })
    expect(s.h.engine.members.count()).toBe(count)
  })

  it('refuses attribute names that are no plain names on create and change, and the export stays whole', async () => {
    await createMember('attr1', { attributes: { tier: 'gold' } })
    const fiftyOne = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, 'v']))
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ constructor: 'x' }, 'attributes', /^attribute name constructor is not allowed/],
      // JSON.parse makes `__proto__` an own key, as the gateway's body parser does.
      [JSON.parse('{"__proto__":"x"}'), 'attributes', /^attribute name __proto__ is not allowed/],
      [{ toString: 'x' }, 'attributes', /^attribute name toString is not allowed/],
      [{ 'a\u0001b': 'x', '  ': 'y' }, 'attributes', /control or invisible characters \(U\+0001 at 1\)$/],
      [{ '  ': 'y' }, 'attributes', /^attribute names must not be blank$/],
      [{ '': 'y' }, 'attributes', /^attribute names must have 1 to 64 characters/],
      [{ id: 'x' }, 'attributes', /^attribute name id is the CSV column id/],
      [{ Email: 'x' }, 'attributes', /^attribute name Email is the CSV column email/],
      [{ card: 'x' }, 'attributes', /^attribute name card is the CSV column card/],
      [{ tier: 'a\u0007' }, 'attributes.tier', /U\+0007 at 1/],
      [{ tier: 'y'.repeat(501) }, 'attributes.tier', /1 to 500 characters/],
      [fiftyOne, 'attributes', /at most 50 attributes/],
    ]
    for (const [attributes, field, message] of cases) {
      const label = JSON.stringify(attributes).slice(0, 40)
      const created = await s.support.post('/v1/members', { id: 'attr2', program: 'demo', attributes })
      expect(created.status, label).toBe(400)
      expect(created.body, label).toMatchObject({ status: 'invalid_request', field, message: expect.stringMatching(message) })
      const changed = await s.support.patch('/v1/members/attr1', { attributes })
      expect(changed.status, label).toBe(400)
      expect(changed.body, label).toMatchObject({ status: 'invalid_request', field, message: expect.stringMatching(message) })
    }
    expect((await s.marketer.get('/v1/members/attr2')).status).toBe(404)
    expect((await s.marketer.get('/v1/members/attr1')).body.member.attributes).toEqual({ tier: 'gold' })
    // A name every object inherits, held by one member, made the export die after its header.
    const exported = await s.admin.get('/v1/members/export')
    expect(exported.status).toBe(200)
    const [head, ...rows] = exported.text.trimEnd().split('\r\n')
    expect(head).not.toMatch(/constructor|__proto__/)
    expect(rows.filter((row) => row.startsWith('attr1,'))).toHaveLength(1)
  })

  it('lets processors and partners create and look up, but not change or search', async () => {
    const created = await s.partner.post('/v1/members', {
      id: 'pa1', program: 'demo', email: 'pa1@example.com',
    })
    expect(created.status).toBe(201)
    const found = await s.partner.get('/v1/lookup?email=PA1@example.com')
    expect(found.body).toMatchObject({
      status: 'ok', member: { id: 'pa1' }, balance: { available: 100 },
    })
    expect((await s.partner.patch('/v1/members/pa1', { firstName: 'P' })).status).toBe(403)
    expect((await s.processor.get('/v1/members?name=p')).status).toBe(403)
    expect((await s.marketer.patch('/v1/members/pa1', { firstName: 'P' })).status).toBe(403)
    expect((await s.marketer.post('/v1/members', { id: 'mk1', program: 'demo' })).status).toBe(403)
    expect((await s.marketer.get('/v1/lookup?email=pa1@example.com')).status).toBe(200)
  })
})

describe('operations by identifier and the card lifecycle', () => {
  it('runs operations naming the member by card, phone or email with - as the account', async () => {
    await createMember('crd1', {
      phone: '+4915112345678', email: 'crd1@example.com', cards: [{ value: 'CRD10001' }],
    })
    const purchase = await s.processor.post('/v1/accounts/-/purchase', {
      card: 'crd1-0001', key: 'p1', basket,
    })
    expect(purchase.status).toBe(200)
    expect(purchase.body.points).toBeGreaterThan(0)
    const expected = 100 + purchase.body.points
    expect(await available(s.processor, '/v1/accounts/-/balance?card=CRD10001')).toBe(expected)
    expect(await available(s.processor, '/v1/accounts/-/balance?phone=%2B4915112345678')).toBe(expected)
    expect(await available(s.processor, '/v1/accounts/crd1/balance')).toBe(expected)
    const earned = await s.processor.post('/v1/accounts/-/earn', {
      email: 'CRD1@example.com', key: 'e1', points: 5,
    })
    expect(earned.body).toMatchObject({ status: 'ok', balance: { available: expected + 5 } })
    const history = await s.processor.get('/v1/accounts/-/history?card=CRD10001&limit=1')
    expect(history.body.entries[0].key).toBe('e1')
    const member = await s.processor.get('/v1/accounts/-/member?email=crd1@example.com')
    expect(member.body).toMatchObject({ status: 'ok', membership: { program: 'demo' } })
  })

  it('answers 404 for an unknown card and 400 when the identifier is missing or ambiguous', async () => {
    const unknown = await s.processor.post('/v1/accounts/-/earn', {
      card: 'NOSUCH01', key: 'k', points: 1,
    })
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ status: 'account_not_found', field: 'card' })
    const lookup = await s.processor.get('/v1/lookup?card=NOSUCH01')
    expect(lookup.status).toBe(404)
    expect(lookup.body).toMatchObject({ status: 'account_not_found', field: 'card' })
    const none = await s.processor.post('/v1/accounts/-/earn', { key: 'k', points: 1 })
    expect(none.status).toBe(400)
    expect(none.body.field).toBe('card')
    const both = await s.processor.post('/v1/accounts/-/earn', {
      card: 'CRD10001', email: 'crd1@example.com', key: 'k', points: 1,
    })
    expect(both.body).toMatchObject({ status: 'invalid_request', field: 'email' })
    const withAccount = await s.processor.post('/v1/accounts/crd1/earn', {
      card: 'CRD10001', key: 'k', points: 1,
    })
    expect(withAccount.body).toMatchObject({ status: 'invalid_request', field: 'card' })
    expect((await s.processor.get('/v1/accounts/-/balance')).status).toBe(400)
    expect((await s.processor.get('/v1/lookup?card=CRD10001&pin=1234')).body.field).toBe('pin')
    expect((await s.processor.get('/v1/lookup')).status).toBe(400)
  })

  it('refuses a blocked card with 409 card_blocked until it is unblocked', async () => {
    await createMember('blk1', { cards: [{ value: 'BLK10001' }] })
    const blocked = await s.support.post('/v1/cards/card/BLK10001/block', { reason: 'fraud check' })
    expect(blocked.status).toBe(200)
    expect(blocked.body.identifier).toMatchObject({
      status: 'blocked', reason: 'fraud check', member: 'blk1',
    })
    const purchase = await s.processor.post('/v1/accounts/-/purchase', {
      card: 'BLK10001', key: 'p1', basket,
    })
    expect(purchase.status).toBe(409)
    expect(purchase.body).toMatchObject({ status: 'card_blocked', field: 'card' })
    expect((await s.processor.get('/v1/lookup?card=BLK10001')).body.status).toBe('card_blocked')
    expect(await available(s.processor, '/v1/accounts/blk1/balance')).toBe(100)
    const unblocked = await s.support.call('/v1/cards/card/BLK10001/unblock', { method: 'POST' })
    expect(unblocked.body.identifier.status).toBe('active')
    const again = await s.processor.post('/v1/accounts/-/purchase', {
      card: 'BLK10001', key: 'p1', basket,
    })
    expect(again.body.status).toBe('ok')
    expect((await s.support.post('/v1/cards/card/NOSUCH01/block')).status).toBe(404)
    const badType = await s.support.post('/v1/cards/phone/BLK10001/block')
    expect(badType.body).toMatchObject({ status: 'invalid_request', field: 'type' })
    const marketer = await s.marketer.post('/v1/cards/card/BLK10001/block')
    expect(marketer.status).toBe(403)
  })

  it('replaces a lost card: the new card carries balance and history, the old one is refused', async () => {
    await createMember('lst1', { cards: [{ value: 'LST10001' }] })
    await createMember('lst2', { cards: [{ value: 'LST20001' }] })
    await s.processor.post('/v1/accounts/-/earn', { card: 'LST10001', key: 'before-loss', points: 40 })
    const lost = await s.support.post('/v1/cards/card/LST10001/lost', { reason: 'lost on the bus' })
    expect(lost.body.identifier.status).toBe('lost')
    const refused = await s.processor.post('/v1/accounts/-/earn', {
      card: 'LST10001', key: 'k2', points: 1,
    })
    expect(refused.status).toBe(409)
    expect(refused.body.status).toBe('card_blocked')
    const taken = await s.support.post('/v1/cards/card/LST10001/replace', { replacement: 'LST20001' })
    expect(taken.status).toBe(409)
    expect(taken.body.field).toBe('replacement')
    const invalid = await s.support.post('/v1/cards/card/LST10001/replace', { replacement: '12' })
    expect(invalid.status).toBe(400)
    expect(invalid.body.field).toBe('replacement')
    const replaced = await s.support.post('/v1/cards/card/LST10001/replace', {
      replacement: 'LST10002', reason: 'lost',
    })
    expect(replaced.status).toBe(200)
    expect(replaced.body.identifier).toMatchObject({
      value: 'LST10002', member: 'lst1', status: 'active',
    })
    const found = await s.processor.get('/v1/lookup?card=LST10002')
    expect(found.body).toMatchObject({
      status: 'ok', member: { id: 'lst1' }, balance: { available: 140 },
    })
    const history = await s.processor.get('/v1/accounts/-/history?card=LST10002')
    expect(history.body.entries.map((e: Json) => e.key)).toContain('before-loss')
    expect((await s.processor.get('/v1/lookup?card=LST10001')).body.status).toBe('card_blocked')
    expect((await s.support.post('/v1/cards/card/LST10001/unblock')).status).toBe(409)
    const twice = await s.support.post('/v1/cards/card/LST10001/replace', { replacement: 'LST10003' })
    expect(twice.status).toBe(409)
    expect(twice.body.field).toBe('value')
  })

  it('refuses to replace a card of a closed member with 409 naming member, both cards left as they were', async () => {
    await createMember('rcl1', { cards: [{ value: 'RCL10001' }] })
    expect((await s.support.post('/v1/cards/card/RCL10001/lost', { reason: 'stolen' })).status).toBe(200)
    expect((await s.support.post('/v1/members/rcl1/status', { status: 'closed' })).status).toBe(200)
    const refused = await s.support.post('/v1/cards/card/RCL10001/replace', { replacement: 'RCL10002' })
    expect(refused.status).toBe(409)
    expect(refused.body).toMatchObject({ status: 'invalid_request', field: 'member' })
    const read = await s.support.get('/v1/members/rcl1')
    expect(read.body.identifiers).toEqual([expect.objectContaining({ value: 'RCL10001', status: 'lost' })])
    expect((await s.processor.get('/v1/lookup?card=RCL10002')).status).toBe(404)
  })

  it('answers 409 for an email, phone or card taken under another spelling (full-width, 00, Unicode dash)', async () => {
    await createMember('spl1', { email: 'spl1@example.com', phone: '+4930555001', cards: [{ value: 'SPL10001' }] })
    const spellings: [Record<string, unknown>, string][] = [
      [{ email: 'ｓｐｌ１@example.com' }, 'email'],
      [{ phone: '0049 30 555001' }, 'phone'],
      [{ cards: [{ value: 'ＳＰＬ1\u20130001' }] }, 'cards[0].value'],
    ]
    for (const [input, field] of spellings) {
      const taken = await s.support.post('/v1/members', { id: 'spl2', program: 'demo', ...input })
      expect(taken.status, JSON.stringify(input)).toBe(409)
      expect(taken.body.field).toBe(field)
    }
    expect((await s.support.get('/v1/members/spl2')).status).toBe(404)
    expect((await s.processor.get(`/v1/lookup?email=${encodeURIComponent('ｓｐｌ１@example.com')}`)).body.member.id).toBe('spl1')
  })

  it('issues more cards to a member: 201, 409 for a taken one, 404 for an unknown member', async () => {
    await createMember('iss1')
    const issued = await s.support.post('/v1/members/iss1/cards', { type: 'fob', value: 'FOB00001' })
    expect(issued.status).toBe(201)
    expect(issued.body.identifier).toMatchObject({ type: 'fob', value: 'FOB00001', member: 'iss1' })
    expect(await available(s.processor, '/v1/accounts/-/balance?card=FOB00001')).toBe(100)
    const taken = await s.support.post('/v1/members/iss1/cards', { type: 'fob', value: 'fob-00001' })
    expect(taken.status).toBe(409)
    expect(taken.body.field).toBe('value')
    expect((await s.support.post('/v1/members/iss1/cards', { value: 'x' })).status).toBe(400)
    expect((await s.support.post('/v1/members/iss1/cards', {
      type: 'email', value: 'FOB00002',
    })).body.field).toBe('type')
    expect((await s.support.post('/v1/members/nobody/cards', { value: 'FOB00003' })).status).toBe(404)
  })
  it('answers 409 for a number taken as another kind of card, which shares its number space', async () => {
    await createMember('kind1', { cards: [{ type: 'nfc', value: 'KIND0001' }] })
    await createMember('kind2', { cards: [{ value: 'KIND0002' }] })
    const count = s.h.engine.members.count()
    const created = await s.support.post('/v1/members', { id: 'kind3', program: 'demo', cards: [{ value: 'KIND0001' }] })
    expect(created.status).toBe(409)
    expect(created.body).toMatchObject({ status: 'invalid_request', field: 'cards[0].value' })
    expect(s.h.engine.members.count()).toBe(count)
    const issued = await s.support.post('/v1/members/kind2/cards', { type: 'fob', value: 'kind-0001' })
    expect(issued.status).toBe(409)
    expect(issued.body.field).toBe('value')
    const replaced = await s.support.post('/v1/cards/card/KIND0002/replace', { replacement: 'KIND0001' })
    expect(replaced.status).toBe(409)
    expect(replaced.body.field).toBe('replacement')
    expect(s.h.engine.members.identifier('card', 'KIND0002')?.status).toBe('active')
  })
})

describe('member standing', () => {
  it('refuses earning to a suspended member (409 member_suspended) but still shows its balance', async () => {
    await createMember('sus1', { cards: [{ value: 'SUS10001' }] })
    const suspended = await s.support.post('/v1/members/sus1/status', {
      status: 'suspended', reason: 'chargeback',
    })
    expect(suspended.body).toMatchObject({ status: 'ok', member: { status: 'suspended' } })
    const earn = await s.processor.post('/v1/accounts/sus1/earn', { key: 'e1', points: 5 })
    expect(earn.status).toBe(409)
    expect(earn.body.status).toBe('member_suspended')
    const byCard = await s.processor.post('/v1/accounts/-/earn', {
      card: 'SUS10001', key: 'e1', points: 5,
    })
    expect(byCard.body.status).toBe('member_suspended')
    const balance = await s.processor.get('/v1/accounts/sus1/balance')
    expect(balance.status).toBe(200)
    expect(balance.body.balance.available).toBe(100)
    await s.support.post('/v1/members/sus1/status', { status: 'active' })
    expect((await s.processor.post('/v1/accounts/sus1/earn', {
      key: 'e1', points: 5,
    })).body.status).toBe('ok')
    const badStatus = await s.support.post('/v1/members/sus1/status', { status: 'frozen' })
    expect(badStatus.body).toMatchObject({ status: 'invalid_request', field: 'status' })
    expect((await s.support.post('/v1/members/nobody/status', { status: 'active' })).status).toBe(404)
  })

  it('refuses redeeming when redemption is not allowed (409), earning still works', async () => {
    await createMember('red1')
    const off = await s.support.post('/v1/members/red1/redemption', { allowed: false })
    expect(off.body.member.redemptionAllowed).toBe(false)
    const redeem = await s.processor.post('/v1/accounts/red1/redeem', { key: 'r1', points: 10 })
    expect(redeem.status).toBe(409)
    expect(redeem.body.status).toBe('redemption_not_allowed')
    expect((await s.processor.post('/v1/accounts/red1/earn', {
      key: 'e1', points: 10,
    })).body.status).toBe('ok')
    await s.support.post('/v1/members/red1/redemption', { allowed: true })
    expect((await s.processor.post('/v1/accounts/red1/redeem', {
      key: 'r1', points: 10,
    })).body.status).toBe('ok')
    const missing = await s.support.post('/v1/members/red1/redemption', {})
    expect(missing.body).toMatchObject({ status: 'invalid_request', field: 'allowed' })
    expect((await s.support.post('/v1/members/red1/redemption', {
      allowed: 'no',
    })).body.field).toBe('allowed')
  })

  it('changes the profile: email moves, a taken one is 409, facts reach the engine', async () => {
    await createMember('upd1', { email: 'old@example.com', lastName: 'Before' })
    await createMember('upd2', { email: 'taken@example.com' })
    const taken = await s.support.patch('/v1/members/upd1', { email: 'Taken@example.com' })
    expect(taken.status).toBe(409)
    expect(taken.body.field).toBe('email')
    const invalid = await s.support.patch('/v1/members/upd1', { phone: '12' })
    expect(invalid.status).toBe(400)
    expect(invalid.body.field).toBe('phone')
    expect((await s.support.patch('/v1/members/upd1', {})).body.field).toBe('body')
    expect((await s.support.patch('/v1/members/nobody', { lastName: 'X' })).status).toBe(404)
    const changed = await s.support.patch('/v1/members/upd1', {
      email: 'new@example.com', lastName: 'After', segments: ['vip'],
    })
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({
      status: 'ok', member: { email: 'new@example.com', lastName: 'After' },
    })
    expect(changed.body.profile).toBeUndefined()
    expect((await s.processor.get('/v1/lookup?email=old@example.com')).status).toBe(404)
    expect((await s.processor.get('/v1/lookup?email=new@example.com')).body.member.id).toBe('upd1')
    const membership = await s.processor.get('/v1/accounts/upd1/member')
    expect(membership.body.membership.member).toEqual({ segments: ['vip'] })
  })

  it('removes an optional profile field sent as null: the email is released and the facts leave the engine', async () => {
    await createMember('clr1', {
      firstName: 'Clara', lastName: 'Clear', email: 'clara@example.com', phone: '+4930123456',
      birthDate: '1990-05-04', country: 'DE', gender: 'f', address: { city: 'Berlin' }, segments: ['vip'],
    })
    expect((await s.processor.get('/v1/accounts/clr1/member')).body.membership.member)
      .toMatchObject({ birthDate: '1990-05-04', country: 'DE', gender: 'f' })
    const cleared = await s.support.patch('/v1/members/clr1', {
      email: null, phone: null, birthDate: null, country: null, address: null, firstName: 'Klara',
    })
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200)
    expect(cleared.body.profile).toBeUndefined()
    const { member, identifiers } = (await s.support.get('/v1/members/clr1')).body
    expect(member).toMatchObject({ firstName: 'Klara', lastName: 'Clear', gender: 'f', segments: ['vip'] })
    for (const field of ['email', 'phone', 'birthDate', 'country', 'address']) expect(member).not.toHaveProperty(field)
    expect(identifiers).toEqual([])
    expect((await s.processor.get('/v1/lookup?email=clara@example.com')).status).toBe(404)
    // The engine's copy of the facts rules read lost them too.
    expect((await s.processor.get('/v1/accounts/clr1/member')).body.membership.member).toEqual({ gender: 'f', segments: ['vip'] })
    await createMember('clr2', { email: 'clara@example.com' })
  })

  it('refuses an empty text, and null on a field every member has, naming the field and changing nothing', async () => {
    await createMember('clr3', { firstName: 'Nora', email: 'nora@example.com', segments: ['vip'], attributes: { tier: 'old' } })
    const refusals: [Record<string, unknown>, string, RegExp][] = [
      [{ firstName: '' }, 'firstName', /must not be empty; send null to remove it/],
      [{ email: null, lastName: '  ' }, 'lastName', /must not be empty/],
      [{ email: null, segments: null }, 'segments', /cannot be removed.*\[\]/],
      [{ firstName: null, attributes: null }, 'attributes', /cannot be removed/],
      [{ firstName: null, consents: null }, 'consents', /cannot be removed/],
      [{ firstName: null, consents: { email: null } }, 'consents.email', /true or false/],
      [{ email: null, address: { city: null } }, 'address.city', /must be a string/],
      [{ email: null, attributes: { tier: null } }, 'attributes.tier', /must be a string/],
      [{ email: null, id: null }, 'id', /not a known field/],
    ]
    for (const [body, field, message] of refusals) {
      const refused = await s.support.patch('/v1/members/clr3', body)
      expect([refused.status, refused.body.status, refused.body.field], JSON.stringify(body)).toEqual([400, 'invalid_request', field])
      expect(refused.body.message).toMatch(message)
    }
    const { member, identifiers } = (await s.support.get('/v1/members/clr3')).body
    expect(member).toMatchObject({ firstName: 'Nora', email: 'nora@example.com', segments: ['vip'], attributes: { tier: 'old' } })
    expect(identifiers).toHaveLength(1)
    expect(s.h.engine.members.audit.search({ target: 'clr3', action: 'member.update' }).records).toEqual([])
  })

  it('erases a member: identifiers released, the journal kept, the email free again', async () => {
    await createMember('era1', {
      firstName: 'Eve', email: 'eve@example.com', cards: [{ value: 'ERA10001' }],
    })
    await s.processor.post('/v1/accounts/era1/earn', { key: 'kept', points: 7 })
    const erased = await s.support.delete('/v1/members/era1')
    expect(erased.status).toBe(200)
    expect(erased.body.member).toMatchObject({
      id: 'era1', status: 'closed', erasedAt: expect.any(Number),
    })
    expect(erased.body.member.firstName).toBeUndefined()
    expect(erased.body.member.email).toBeUndefined()
    expect((await s.processor.get('/v1/lookup?card=ERA10001')).status).toBe(404)
    expect((await s.processor.get('/v1/lookup?email=eve@example.com')).status).toBe(404)
    const history = await s.processor.get('/v1/accounts/era1/history')
    expect(history.body.entries.map((e: Json) => e.key)).toContain('kept')
    const reused = await s.support.post('/v1/members', {
      id: 'era2', program: 'demo', email: 'eve@example.com', cards: [{ value: 'ERA10001' }],
    })
    expect(reused.status).toBe(201)
    expect((await s.support.delete('/v1/members/era1')).status).toBe(409)
    expect((await s.support.delete('/v1/members/nobody')).status).toBe(404)
    expect((await s.support.post('/v1/members/era1/status', { status: 'active' })).status).toBe(409)
    expect((await s.processor.post('/v1/accounts/era1/earn', {
      key: 'late', points: 1,
    })).body.status).toBe('member_suspended')
  })
})

describe('search, import and export', () => {
  const header = 'id,program,firstName,lastName,email,phone,birthDate,gender,country,card,joinedAt'
  const people = [
    ['s01', 'Anna', 'Schmidt', 'DE', '2021-01-10'],
    ['s02', 'Ben', 'Schneider', 'DE', '2021-02-10'],
    ['s03', 'Carl', 'Schmidt', 'AT', '2021-03-10'],
    ['s04', 'Dora', 'Müller', 'DE', '2021-04-10'],
    ['s05', 'Emil', 'schmitz', 'DE', '2021-05-10'],
    ['s06', 'Fay', 'Weber', 'DE', '2022-06-10'],
  ]
  const csv = [
    header,
    ...people.map(([id, first, last, country, joined]) =>
      `${id},demo,${first},${last},${id}@example.com,,,,${country},CARD${id!.toUpperCase()}X,${joined}`),
    's07,demo,Bad,Row,not-an-email,,,,DE,,2021-07-10',
    's08,demo,Short,Row',
  ].join('\r\n')
  const importCsv = (client: Client, body: string, type = 'text/csv') =>
    client.call('/v1/members/import', { method: 'POST', raw: body, headers: { 'content-type': type } })

  it('imports CSV with a report of refused rows, and enrols the members', async () => {
    const answer = await importCsv(s.admin, csv)
    expect(answer.status).toBe(200)
    expect(answer.body.report).toMatchObject({ rows: 8, imported: 6, rejected: 2, enrolled: 6 })
    expect(answer.body.report.rejections).toEqual([
      { line: 8, field: 'email', message: expect.stringMatching(/email/) },
      { line: 9, field: 'row', message: 'the row has 4 fields, the header 11' },
    ])
    expect(await available(s.processor, '/v1/accounts/-/balance?card=CARDS04X')).toBe(100)
    const audit = await s.admin.get(`/v1/audit?target=${answer.body.report.importId}`)
    expect(audit.body.records).toEqual([expect.objectContaining({ action: 'member.import' })])
  })

  it('refuses an import that is not CSV, has no header, or comes from another role', async () => {
    expect((await importCsv(s.admin, csv, 'application/json')).status).toBe(415)
    const empty = await importCsv(s.admin, '')
    expect(empty.status).toBe(400)
    expect(empty.body).toMatchObject({ status: 'invalid_request', field: 'header' })
    const noProgram = await importCsv(s.admin, 'id,firstName\nx1,X\n')
    expect(noProgram.body.message).toMatch(/^line 1: the header has no program column/)
    expect((await importCsv(s.support, csv)).status).toBe(403)
    const again = await importCsv(s.admin, csv)
    expect(again.body.report).toMatchObject({ imported: 0, rejected: 8 })
  })

  it('refuses a compressed import with 415 naming content-encoding, importing nothing', async () => {
    const file = [header, 'g01,demo,Gus,Zip,,,,,,,'].join('\n')
    const answer = await s.admin.call('/v1/members/import', { method: 'POST', raw: new Uint8Array(gzipSync(file)), headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' } })
    expect(answer.status).toBe(415)
    expect(answer.body).toMatchObject({ status: 'invalid_request', field: 'content-encoding' })
    // A plain file labelled compressed is not guessed at either.
    const labelled = await s.admin.call('/v1/members/import', { method: 'POST', raw: file, headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' } })
    expect(labelled.status).toBe(415)
    expect(s.h.engine.members.get('g01')).toBeUndefined()
  })

  it('stops an import at a quote left open or at lines ending with CR alone, naming the line', async () => {
    const open = await importCsv(s.admin, [header, 'q01,demo,Ann,One,,,,,,,', 'q02,demo,"Bob,Two,,,,,,,', 'q03,demo,Cy,Three,,,,,,,'].join('\n'))
    expect(open.status).toBe(400)
    expect(open.body).toMatchObject({
      status: 'invalid_request',
      field: 'record',
      message: 'line 3: the quote opened on line 3 is not closed before the end of the file (everything after it would be one field)',
      report: { rows: 1, imported: 1, rejected: 0 },
    })
    expect(s.h.engine.members.get('q03')).toBeUndefined()
    const mac = await importCsv(s.admin, [header, 'q04,demo,Cy,Four,,,,,,,'].join('\r'))
    expect(mac.status).toBe(400)
    expect(mac.body).toMatchObject({ field: 'record', message: 'line 1: lines end with CR only; use LF or CRLF' })
    const badName = await importCsv(s.admin, `${header},constructor\nq05,demo,,,,,,,,,,x\n`)
    expect(badName.status).toBe(400)
    expect(badName.body).toMatchObject({ field: 'header', message: 'line 1: column 12: attribute name constructor is not allowed (every JavaScript object has it)' })
  })

  it('exports a cell a spreadsheet would run as a formula after a quote', async () => {
    const formula = "=cmd|' /C calc'!A0"
    await createMember('xl1', { firstName: formula, attributes: { note: '@SUM(1+1)' } })
    const answer = await s.admin.get('/v1/members/export')
    const row = answer.text.split('\r\n').find((line) => line.startsWith('xl1,'))!
    expect(row.startsWith(`xl1,demo,'${formula},`)).toBe(true)
    expect(row).toContain(",'@SUM(1+1)")
    expect(row).not.toMatch(/,[=+\-@]/)
  })

  it('searches by name prefix, country and join dates, a page at a time', async () => {
    const ids = (answer: Answer) => answer.body.members.map((m: Json) => m.id)
    expect(ids(await s.marketer.get('/v1/members?name=schm'))).toEqual(['s01', 's03', 's05'])
    expect(ids(await s.marketer.get('/v1/members?name=SCHMIDT'))).toEqual(['s01', 's03'])
    const range = 'country=DE&joinedFrom=2021-01-01&joinedTo=2022-01-01'
    const seen: string[] = []
    let next: string | undefined
    for (let page = 0; page < 5; page++) {
      const after = next === undefined ? '' : `&after=${next}`
      const answer = await s.marketer.get(`/v1/members?${range}&limit=2${after}`)
      expect(answer.status).toBe(200)
      expect(answer.body.members.length).toBeLessThanOrEqual(2)
      seen.push(...ids(answer))
      next = answer.body.next
      if (next === undefined) break
    }
    expect(seen).toEqual(['s01', 's02', 's04', 's05'])
    const since = Date.UTC(2022, 0, 1)
    expect(ids(await s.marketer.get(`/v1/members?joinedFrom=${since}&name=w`))).toEqual(['s06'])
    await s.support.post('/v1/members/s02/status', { status: 'suspended' })
    expect(ids(await s.marketer.get('/v1/members?name=schn&status=suspended'))).toEqual(['s02'])
    expect(ids(await s.marketer.get('/v1/members?country=de&joinedFrom=2021-01-01&joinedTo=2022-01-01'))).toEqual(['s01', 's02', 's04', 's05'])
    const nameCursor = (await s.marketer.get('/v1/members?name=s&limit=1')).body.next
    const bad = [
      'limit=0', 'limit=201', 'joinedFrom=yesterday', 'joinedFrom=2021-02-29', 'joinedTo=2021-06-31T00:00Z', 'status=gone', 'country=DEU', 'country=XX', 'country=UK', 'nme=x',
      'after=s01', `after=${nameCursor}&country=DE`, `after=${nameCursor}&name=t`,
    ]
    for (const query of bad) {
      const answer = await s.marketer.get(`/v1/members?${query}`)
      expect(answer.status, query).toBe(400)
      expect(answer.body.field, query).toBe(query.split('=')[0])
      expect(answer.body.message, query).toMatch(query.startsWith('after') ? /^after / : /./)
    }
  })

  it('exports members as CSV in the import columns, streamed, audited, admin only', async () => {
    const answer = await s.admin.get('/v1/members/export')
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^text\/csv/)
    const lines = answer.text.trimEnd().split('\r\n')
    expect(lines[0]!.startsWith(header)).toBe(true)
    const s04 = lines.find((line) => line.startsWith('s04,'))
    expect(s04).toBe('s04,demo,Dora,Müller,s04@example.com,,,,DE,CARDS04X,2021-04-10T00:00:00.000Z' +
      ','.repeat(lines[0]!.split(',').length - 11))
    expect(lines.some((line) => line.startsWith('era1,'))).toBe(false)
    expect((await s.marketer.get('/v1/members/export')).status).toBe(403)
    const audit = await s.admin.get('/v1/audit?action=member.export')
    expect(audit.body.records[0].actor).toMatchObject({ kind: 'admin', id: s.adminTokenId })
  })
})

describe('the audit trail of member changes', () => {
  it('records each change with the actor, its address, and what changed', async () => {
    await createMember('aud1', { cards: [{ value: 'AUD10001' }] })
    await s.support.patch('/v1/members/aud1', { firstName: 'Audrey' })
    await s.support.post('/v1/members/aud1/status', { status: 'suspended', reason: 'check' })
    await s.support.post('/v1/members/aud1/redemption', { allowed: false })
    await s.support.post('/v1/cards/card/AUD10001/block', { reason: 'stolen' })
    await s.support.post('/v1/cards/card/AUD10001/replace', { replacement: 'AUD10002' })
    await s.support.post('/v1/members/aud1/cards', { value: 'AUD10003' })
    await s.support.delete('/v1/members/aud1')
    const records: Json[] = (await s.admin.get('/v1/audit?target=aud1&order=oldest')).body.records
    expect(records.map((r) => r.action)).toEqual([
      'member.create', 'member.update', 'member.status', 'member.redemption', 'card.block',
      'card.replace', 'card.issue', 'member.erase',
    ])
    for (const record of records) {
      expect(record.actor).toEqual({
        kind: 'support', id: 'sue', from: expect.stringMatching(/127\.0\.0\.1/),
      })
    }
    expect(records[2].detail).toEqual({ status: 'suspended', reason: 'check' })
    // Card numbers are masked in the trail, but for their last four characters.
    expect(records[4].detail).toEqual({ type: 'card', value: '****0001', reason: 'stolen' })
    expect(records[5].detail).toEqual({ type: 'card', old: '****0001', new: '****0002' })
    expect(records[6].detail).toEqual({ type: 'card', value: '****0003' })
    for (const number of ['AUD10001', 'AUD10002', 'AUD10003']) expect(JSON.stringify(records)).not.toContain(number)
    const bySue = await s.admin.get('/v1/audit?actor=sue&action=card.')
    const actions = bySue.body.records.map((r: Json) => r.action)
    expect(actions).toEqual(expect.arrayContaining(['card.block', 'card.replace']))
  })
})

describe('households and merges', () => {
  it('links a member to a household with its points, pools earnings, and unlinks keeping them', async () => {
    await createMember('hh-master', { cards: [{ value: 'HHM00001' }] })
    await createMember('hh-kid', { cards: [{ value: 'HHK00001' }] })
    await s.processor.post('/v1/accounts/hh-kid/earn', { key: 'e1', points: 40 })
    const linked = await s.support.post('/v1/members/hh-kid/household', { master: 'hh-master' })
    expect(linked.status).toBe(200)
    // The kid's 100 welcome points and the 40 earned move to the household.
    expect(linked.body).toMatchObject({ status: 'ok', member: { household: 'hh-master', account: 'hh-master' }, moved: 140 })
    expect(await available(s.support, '/v1/accounts/hh-master/balance')).toBe(240)
    // A purchase with the kid's card earns into the pooled account.
    const bought = await s.processor.post('/v1/accounts/-/earn', { card: 'HHK00001', key: 'kid-e2', points: 10 })
    expect(bought.body.balance.available).toBe(250)
    const household = await s.marketer.get('/v1/members/hh-kid/household')
    expect(household.body).toEqual({ status: 'ok', master: 'hh-master', account: 'hh-master', members: ['hh-kid'] })
    const unlinked = await s.support.delete('/v1/members/hh-kid/household')
    expect(unlinked.status).toBe(200)
    expect(unlinked.body.member.household).toBeUndefined()
    expect(unlinked.body.member.account).toBe('hh-kid')
    expect(unlinked.body.member.formerHouseholds).toEqual(['hh-master'])
    expect(await available(s.support, '/v1/accounts/hh-master/balance')).toBe(250)
    // Returned after the unlink, the kid's purchase in the household takes its points back from the pool.
    const returned = await s.processor.post('/v1/accounts/-/reverse', { card: 'HHK00001', key: 'kid-r1', ref: 'kid-e2' })
    expect(returned.body).toMatchObject({ status: 'ok', points: 10, balance: { available: 0 } })
    expect(await available(s.support, '/v1/accounts/hh-master/balance')).toBe(240)
    expect((await s.marketer.get('/v1/members/hh-master/household')).body.members).toEqual([])
  })

  it('refuses bad household requests naming the field, changing nothing', async () => {
    await createMember('hh-a')
    await createMember('hh-b')
    const self = await s.support.post('/v1/members/hh-a/household', { master: 'hh-a' })
    expect(self.body).toMatchObject({ status: 'invalid_request', field: 'master' })
    expect(self.status).toBe(400)
    const noMaster = await s.support.post('/v1/members/hh-a/household', { master: 'nobody' })
    expect(noMaster.status).toBe(404)
    expect(noMaster.body.field).toBe('master')
    expect((await s.support.post('/v1/members/nobody/household', { master: 'hh-a' })).status).toBe(404)
    const missing = await s.support.post('/v1/members/hh-a/household', {})
    expect(missing.body).toMatchObject({ status: 'invalid_request', field: 'master' })
    const extra = await s.support.post('/v1/members/hh-a/household', { master: 'hh-b', points: 5 })
    expect(extra.body).toMatchObject({ status: 'invalid_request', field: 'points' })
    const notLinked = await s.support.delete('/v1/members/hh-a/household')
    expect(notLinked.status).toBe(409)
    expect(notLinked.body.field).toBe('id')
    expect((await s.marketer.post('/v1/members/hh-a/household', { master: 'hh-b' })).status).toBe(403)
    expect(s.h.engine.members.get('hh-a')!.household).toBeUndefined()
    expect(await available(s.support, '/v1/accounts/hh-a/balance')).toBe(100)
  })

  it('merges a duplicate: cards and points move, the duplicate is closed, once', async () => {
    await createMember('dup-keep', { cards: [{ value: 'DPK00001' }] })
    await createMember('dup-gone', { cards: [{ value: 'DPG00001' }] })
    await s.processor.post('/v1/accounts/dup-gone/earn', { key: 'e1', points: 25 })
    const merged = await s.support.post('/v1/members/dup-gone/merge', { into: 'dup-keep' })
    expect(merged.status).toBe(200)
    expect(merged.body).toMatchObject({ status: 'ok', merge: { state: 'done', from: 'dup-gone', into: 'dup-keep' } })
    expect(await available(s.support, '/v1/accounts/dup-keep/balance')).toBe(225)
    expect((await s.processor.get('/v1/lookup?card=DPG00001')).body.member.id).toBe('dup-keep')
    expect((await s.marketer.get('/v1/members/dup-gone')).body.member.status).toBe('closed')
    // Again: the same merge, answered from its record; nothing moves twice.
    const again = await s.support.post('/v1/members/dup-gone/merge', { into: 'dup-keep' })
    expect(again.body.merge.state).toBe('done')
    expect(await available(s.support, '/v1/accounts/dup-keep/balance')).toBe(225)
    const itself = await s.support.post('/v1/members/dup-keep/merge', { into: 'dup-keep' })
    expect(itself.body).toMatchObject({ status: 'invalid_request', field: 'into' })
    const unknown = await s.support.post('/v1/members/nobody/merge', { into: 'dup-keep' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.field).toBe('id')
    expect((await s.support.post('/v1/members/dup-keep/merge', {})).body.field).toBe('into')
  })
})

describe('program figures for the dashboard', () => {
  it('counts members, points and tiers, and follows a change at once', async () => {
    // At least one enrolled member, whichever tests ran before.
    await createMember('fig0')
    const before = await s.marketer.get('/v1/stats')
    expect(before.status).toBe(200)
    const figures = before.body
    expect(figures.members.total).toBe(s.h.engine.members.count())
    expect(figures.members.total).toBe(figures.members.active + figures.members.suspended + figures.members.closed)
    expect(figures.tiers[0]).toMatchObject({ program: 'demo', tier: 'bronze', name: 'Bronze' })
    const demo = figures.liability.find((l: Json) => l.program === 'demo')
    expect(demo.money).toBe(demo.points * 1)
    expect(demo.currency).toBe('USD')
    await createMember('fig1')
    await s.processor.post('/v1/accounts/fig1/earn', { key: 'e', points: 30 })
    await s.processor.post('/v1/accounts/fig1/redeem', { key: 'r', points: 20 })
    const after = (await s.support.get('/v1/stats')).body
    expect(after.members.total).toBe(figures.members.total + 1)
    expect(after.members.active).toBe(figures.members.active + 1)
    // The welcome bonus (100) and the earn (30) were issued; 20 redeemed.
    expect(after.points.issued - figures.points.issued).toBe(130)
    expect(after.points.redeemed - figures.points.redeemed).toBe(20)
    expect(after.points.outstanding - figures.points.outstanding).toBe(110)
    const bronze = (body: Json) => body.tiers.find((t: Json) => t.tier === 'bronze').accounts
    expect(bronze(after)).toBe(bronze(figures) + 1)
    expect((await s.processor.get('/v1/stats')).status).toBe(403)
  })

  it('draws the last seconds of traffic, and refuses a bad window', async () => {
    // Some traffic of this test's own, then a second for it to be complete.
    await createMember('live0')
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const live = await s.marketer.get('/v1/stats/live?seconds=5')
    expect(live.status).toBe(200)
    expect(live.body.series).toHaveLength(5)
    const ats = live.body.series.map((x: Json) => x.at)
    expect(ats).toEqual([...ats].sort((a: number, b: number) => a - b))
    expect(ats[4] - ats[0]).toBe(4000)
    for (const sample of live.body.series) expect(sample.p99Ms).toBeGreaterThanOrEqual(sample.p50Ms)
    const total = (await s.marketer.get('/v1/stats/live')).body.series.reduce((n: number, x: Json) => n + x.ops, 0)
    expect(total).toBeGreaterThan(0)
    const bad = await s.marketer.get('/v1/stats/live?seconds=61')
    expect(bad.body).toMatchObject({ status: 'invalid_request', field: 'seconds' })
  })

  it('lists the lots behind a balance with their expiry dates, and the holds', async () => {
    await createMember('lots1')
    const held = await s.processor.post('/v1/accounts/lots1/authorize', { key: 'h', points: 30 })
    const lots = await s.marketer.get('/v1/accounts/lots1/lots')
    expect(lots.body).toMatchObject({ status: 'ok', debt: 0, balance: { available: 70, held: 30 } })
    expect(lots.body.lots).toEqual([{ points: 70, activeFrom: expect.any(Number), expiresAt: expect.any(Number) }])
    expect(lots.body.holds).toEqual([{ hold: held.body.hold, points: 30, expiresAt: expect.any(Number) }])
  })
})

describe('the audit trail of balance changes by hand', () => {
  it('records operators\' ledger commands, not machine traffic', async () => {
    await createMember('adj1', { cards: [{ value: 'ADJ10001' }] })
    const adjusted = await s.support.post('/v1/accounts/adj1/adjust', { key: 'goodwill-1', points: 75, reason: 'late delivery' })
    expect(adjusted.body.status).toBe('ok')
    await s.support.post('/v1/accounts/-/adjust', { card: 'ADJ10001', key: 'goodwill-2', points: -5, reason: 'typo' })
    await s.processor.post('/v1/accounts/adj1/earn', { key: 'shop-1', points: 10 })
    // A refused command changes nothing and is not recorded.
    await s.support.post('/v1/accounts/adj1/adjust', { key: 'too-much', points: -1_000_000, reason: 'x' })
    const records: Json[] = (await s.admin.get('/v1/audit?action=account.&target=adj1&order=oldest')).body.records
    expect(records.map((r) => [r.action, r.detail.key, r.detail.points, r.detail.reason])).toEqual([
      ['account.adjust', 'goodwill-1', 75, 'late delivery'],
      ['account.adjust', 'goodwill-2', -5, 'typo'],
    ])
    expect(records[0].actor).toMatchObject({ kind: 'support', id: 'sue' })
  })
})

describe('what support agents read of the program', () => {
  it('reads the live ruleset (tier names, point value) but no other version, and cannot publish', async () => {
    const live = await s.support.get('/v1/rulesets/active')
    expect(live.status).toBe(200)
    expect(live.body.ruleset.doc.programs[0].tiers[0]).toMatchObject({ id: 'bronze', name: 'Bronze' })
    expect((await s.support.get('/v1/rulesets')).status).toBe(403)
    expect((await s.support.get('/v1/rulesets/1')).status).toBe(403)
    expect((await s.support.post('/v1/rulesets', live.body.ruleset.doc)).status).toBe(403)
  })
})

describe('refunds of purchases paid with points', () => {
  it('gives back a proportional share to a returned purchase, over REST', async () => {
    await createMember('rfd1')
    const paid = await s.processor.post('/v1/accounts/rfd1/redeem', { key: 'pay', points: 80, ref: 'web-77', amount: 4000 })
    expect(paid.body).toMatchObject({ status: 'ok', balance: { available: 20 } })
    const back = await s.processor.post('/v1/accounts/rfd1/refund', { key: 'ret-1', ref: 'web-77', amount: 1000, reason: 'one item returned' })
    expect(back.body).toMatchObject({ status: 'ok', points: 20, balance: { available: 40 } })
    const again = await s.processor.post('/v1/accounts/rfd1/refund', { key: 'ret-1', ref: 'web-77', amount: 1000, reason: 'one item returned' })
    expect(again.body.status).toBe('exists')
    const unknown = await s.processor.post('/v1/accounts/rfd1/refund', { key: 'ret-2', ref: 'web-78' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.status).toBe('transaction_not_found')
    const bad = await s.processor.post('/v1/accounts/rfd1/refund', { key: 'ret-3', ref: 'web-77', amount: -5 })
    expect(bad.body).toMatchObject({ status: 'invalid_request', field: 'amount' })
    const history = await s.processor.get('/v1/accounts/rfd1/history?limit=1')
    expect(history.body.entries[0]).toMatchObject({ kind: 'refund', points: 20, ref: 'web-77', reason: 'one item returned' })
    expect((await s.marketer.post('/v1/accounts/rfd1/refund', { key: 'm', ref: 'web-77' })).status).toBe(403)
  })
})

describe('joining a member over REST (POST /v1/join)', () => {
  /** The member id the gateway derives for a caller's key, as for WebSocket and gRPC. */
  const derived = (kind: string, token: string, key: string) =>
    'm' + createHash('sha256').update(`${kind}:${token.split('.')[0]}:${key}`).digest('hex').slice(0, 20)
  const join = (client: Client, body: unknown, headers: Record<string, string> = {}) =>
    client.call('/v1/join', { method: 'POST', json: body, headers })

  it('joins a new member with a card in one step; a retry with the same key answers the same member and exists', async () => {
    const count = s.h.engine.members.count()
    const body = {
      key: 'signup-1', program: 'demo', card: 'JOIN 0001',
      member: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada.join@example.com', country: 'GB' },
    }
    const joined = await join(s.partner, body)
    expect(joined.status, JSON.stringify(joined.body)).toBe(200)
    const id = derived('partner', s.h.partnerToken, 'signup-1')
    expect(joined.body).toMatchObject({
      status: 'ok', tier: 'bronze', points: 100,
      member: { id, account: id, program: 'demo', status: 'active', firstName: 'Ada', lastName: 'Lovelace' },
    })
    expect(s.h.engine.members.count()).toBe(count + 1)
    // The journal says the partner's token sent it, as on the other interfaces.
    const history = await s.partner.get(`/v1/accounts/${id}/history`)
    expect(history.body.entries[0]).toMatchObject({ kind: 'enroll', key: 'signup-1', source: { channel: 'partner' } })
    expect(history.body.entries[0].source.via).toBe(s.h.partnerToken.split('.')[0])
    // The same sign-up sent again (key in the header this time): the same member, nothing new.
    const { key: _key, ...rest } = body
    const again = await join(s.partner, rest, { 'idempotency-key': 'signup-1' })
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ status: 'exists', member: { id } })
    expect(s.h.engine.members.count()).toBe(count + 1)
    expect(await available(s.partner, `/v1/accounts/${id}/balance`)).toBe(100)
    expect((await s.partner.get('/v1/lookup?card=JOIN0001')).body).toMatchObject({ status: 'ok', member: { id } })
    // Machine traffic is in the journal, not the audit log.
    expect((await s.admin.get(`/v1/audit?action=account.join&target=${id}`)).body.records).toEqual([])
  })

  it('lets processors and admins join, the admin audited; the same key from two callers makes two members', async () => {
    const byProcessor = await join(s.processor, { key: 'signup-2', program: 'demo' })
    const byPartner = await join(s.partner, { key: 'signup-2', program: 'demo' })
    expect([byProcessor.status, byPartner.status]).toEqual([200, 200])
    expect(byProcessor.body.member.id).toBe(derived('processor', s.h.processorToken, 'signup-2'))
    expect(byProcessor.body.member.id).not.toBe(byPartner.body.member.id)
    const byAdmin = await join(s.admin, { key: 'signup-3', program: 'demo', member: { id: 'joined-by-admin', firstName: 'Grace' } })
    expect(byAdmin.body).toMatchObject({ status: 'ok', member: { id: 'joined-by-admin', firstName: 'Grace' } })
    const records: Json[] = (await s.admin.get('/v1/audit?action=account.join&target=joined-by-admin')).body.records
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ actor: { kind: 'admin', id: s.adminTokenId }, detail: { key: 'signup-3', program: 'demo' } })
    expect(records[0].actor.from).toBeDefined()
  })

  it('refuses bad input naming the field, with no member, card or account made', async () => {
    await createMember('join-taken', { email: 'taken.join@example.com', phone: '+15550000077', cards: [{ value: 'JOINTAKEN1' }] })
    const count = s.h.engine.members.count()
    const cases: [string, unknown, number, string, string?][] = [
      ['unknown field', { key: 'bad-1', program: 'demo', shoeSize: 44 }, 400, 'shoeSize'],
      ['op is no field', { key: 'bad-1', program: 'demo', op: 'earn' }, 400, 'op'],
      ['account is no field', { key: 'bad-1', program: 'demo', account: 'someone' }, 400, 'account'],
      ['unknown member field', { key: 'bad-1', program: 'demo', member: { shoeSize: 44 } }, 400, 'member.shoeSize'],
      ['missing key', { program: 'demo' }, 400, 'key'],
      ['key not a string', { key: 5, program: 'demo' }, 400, 'key'],
      ['key with a control character', { key: 'bad\u0000', program: 'demo' }, 400, 'key'],
      ['missing program', { key: 'bad-1' }, 400, 'program'],
      ['program not a string', { key: 'bad-1', program: ['demo'] }, 400, 'program'],
      ['unknown program', { key: 'bad-1', program: 'nope' }, 400, 'program'],
      ['member not an object', { key: 'bad-1', program: 'demo', member: 'Ada' }, 400, 'member'],
      ['member a list', { key: 'bad-1', program: 'demo', member: [] }, 400, 'member'],
      ['member id not a string', { key: 'bad-1', program: 'demo', member: { id: 5 } }, 400, 'member.id'],
      ['member id empty', { key: 'bad-1', program: 'demo', member: { id: '' } }, 400, 'member.id'],
      ['email not a string', { key: 'bad-1', program: 'demo', member: { email: 5 } }, 400, 'member.email'],
      ['first name not a string', { key: 'bad-1', program: 'demo', member: { firstName: 5 } }, 400, 'member.firstName'],
      ['bad email', { key: 'bad-1', program: 'demo', member: { email: 'not-an-email' } }, 400, 'member.email'],
      ['bad birth date', { key: 'bad-1', program: 'demo', member: { birthDate: '2001-02-31' } }, 400, 'member.birthDate'],
      ['segments not a list', { key: 'bad-1', program: 'demo', member: { segments: 'vip' } }, 400, 'member.segments'],
      ['card not a string', { key: 'bad-1', program: 'demo', card: 60012345 }, 400, 'card'],
      ['card empty', { key: 'bad-1', program: 'demo', card: '' }, 400, 'card'],
      ['card not a card number', { key: 'bad-1', program: 'demo', card: 'x!' }, 400, 'card'],
      ['source not an object', { key: 'bad-1', program: 'demo', source: 'web' }, 400, 'source'],
      ['source.via claimed', { key: 'bad-1', program: 'demo', source: { via: 'someone' } }, 400, 'source.via'],
      ['source.operator claimed', { key: 'bad-1', program: 'demo', source: { operator: 'admin' } }, 400, 'source.operator'],
      ['card taken', { key: 'bad-1', program: 'demo', card: 'jointaken1' }, 409, 'card'],
      ['email taken', { key: 'bad-1', program: 'demo', member: { email: 'TAKEN.join@example.com' } }, 409, 'member.email'],
      ['phone taken', { key: 'bad-1', program: 'demo', member: { phone: '+1 555 000 0077' } }, 409, 'member.phone'],
    ]
    for (const [what, body, status, field] of cases) {
      const answer = await join(s.partner, body)
      expect(answer.status, what).toBe(status)
      expect(answer.body, what).toMatchObject({ status: 'invalid_request', field })
      expect(answer.body.message, what).toEqual(expect.any(String))
    }
    // The request itself: a query parameter, keys that disagree, a body that is not JSON.
    const query = await s.partner.call('/v1/join?program=demo', { method: 'POST', json: { key: 'bad-1' } })
    expect([query.status, query.body.field]).toEqual([400, 'program'])
    const keys = await join(s.partner, { key: 'bad-1', program: 'demo' }, { 'idempotency-key': 'bad-2' })
    expect([keys.status, keys.body.field]).toEqual([400, 'key'])
    const notJson = await s.partner.call('/v1/join', { method: 'POST', raw: '{"key":', headers: { 'content-type': 'application/json' } })
    expect([notJson.status, notJson.body.field]).toEqual([400, 'body'])
    const notJsonType = await s.partner.call('/v1/join', { method: 'POST', raw: 'key=bad-1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    expect([notJsonType.status, notJsonType.body.field]).toEqual([415, 'content-type'])
    const twice = await s.partner.call('/v1/join', { method: 'POST', raw: '{"key":"bad-1","program":"demo","program":"demo"}', headers: { 'content-type': 'application/json' } })
    expect([twice.status, twice.body.field]).toEqual([400, 'program'])
    // Nothing stayed behind: no member, no card, no account.
    expect(s.h.engine.members.count()).toBe(count)
    const id = derived('partner', s.h.partnerToken, 'bad-1')
    expect(s.h.engine.members.get(id)).toBeUndefined()
    expect((await s.h.engine.execute({ op: 'balance', account: id })).status).toBe('account_not_found')
    expect(s.h.engine.members.identifier('card', 'X!')).toBeUndefined()
  })

  it('refuses a retry that contradicts the member the key made, changing nothing', async () => {
    const first = await join(s.partner, { key: 'signup-4', program: 'demo', card: 'JOIN0004', member: { firstName: 'Bo' } })
    expect(first.body.status).toBe('ok')
    const id = first.body.member.id
    const count = s.h.engine.members.count()
    const cases: [string, unknown, string][] = [
      ['another first name', { key: 'signup-4', program: 'demo', card: 'JOIN0004', member: { firstName: 'Mallory' } }, 'member.firstName'],
      ['another card', { key: 'signup-4', program: 'demo', card: 'JOIN0005', member: { firstName: 'Bo' } }, 'card'],
      ['someone else\'s card', { key: 'signup-4', program: 'demo', card: 'JOIN0001', member: { firstName: 'Bo' } }, 'card'],
    ]
    for (const [what, body, field] of cases) {
      const answer = await join(s.partner, body)
      expect(answer.status, what).toBe(409)
      expect(answer.body, what).toMatchObject({ status: 'invalid_request', field })
      expect(answer.body.message, what).toMatch(new RegExp(`member ${id} exists already`))
    }
    expect(s.h.engine.members.count()).toBe(count)
    expect(s.h.engine.members.get(id)).toMatchObject({ firstName: 'Bo' })
    expect(s.h.engine.members.identifier('card', 'JOIN0005')).toBeUndefined()
    expect(await available(s.partner, `/v1/accounts/${id}/balance`)).toBe(100)
  })

  it('refuses roles that may not join (403) and callers without credentials (401), making nothing', async () => {
    const count = s.h.engine.members.count()
    for (const [who, client] of [['marketer', s.marketer], ['support', s.support]] as const) {
      const answer = await join(client, { key: 'role-1', program: 'demo', card: 'JOINROLE1' })
      expect(answer.status, who).toBe(403)
      expect(answer.body, who).toMatchObject({ status: 'unauthorized', message: `a ${who} may not run join` })
    }
    const anonymous = await join(new Client(s.admin.base, {}), { key: 'role-1', program: 'demo', card: 'JOINROLE1' })
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.status).toBe('unauthorized')
    const wrongToken = await join(new Client(s.admin.base, { token: `${s.h.partnerToken}x` }), { key: 'role-1', program: 'demo' })
    expect(wrongToken.status).toBe(401)
    expect(s.h.engine.members.count()).toBe(count)
    expect(s.h.engine.members.identifier('card', 'JOINROLE1')).toBeUndefined()
  })
})
