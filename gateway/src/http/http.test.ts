/**
 * The REST interface end to end over a real socket (`fetch` against the
 * server on a free port, a real engine behind it): account operations and
 * their HTTP codes, idempotency by body key and by header, every class of bad
 * input (nothing applied), authentication and roles, console sessions and
 * their cookie, ruleset publishing and activation, credentials, the audit
 * trail, health, the console's files, and the OpenAPI document against the
 * routes the app really has.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { demoRuleset, openEngine, silentLogger, validateCommand } from '@loyalty/engine'
import { rulesetBytesMax, type RulesetDoc } from '@loyalty/engine/rules'
import { Gateway } from '../core/gateway.ts'
import { gatewayHarness, type GatewayHarness } from '../testing/harness.ts'
import { createHttpApp, type HttpAppOptions } from './app.ts'
import { accountCommands, openApiDocument, openApiPath, operationBodies } from './openapi.ts'
import { bodyBytesMax } from './request.ts'
import { startHttpServer } from './server.ts'

/** Reply bodies are checked by assertions, not by types. */
type Json = any

interface Setup {
  h: GatewayHarness
  base: string
  app: ReturnType<typeof createHttpApp>
  ready: { value: boolean }
  close(): Promise<void>
}

async function setup(options: Partial<HttpAppOptions> = {}): Promise<Setup> {
  const h = await gatewayHarness()
  const ready = { value: true }
  const app = createHttpApp(h.gateway, {
    logger: silentLogger,
    ready: () => ready.value,
    ...options,
  })
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' })
  return {
    h,
    app,
    ready,
    base: `http://127.0.0.1:${server.port}`,
    async close() {
      await server.close()
      await h[Symbol.asyncDispose]()
    },
  }
}

type RequestBody = NonNullable<RequestInit['body']>

interface Call {
  method?: string
  token?: string
  cookie?: string
  /** Sent as JSON with Content-Type application/json. */
  json?: unknown
  /** Sent as is (with the headers given). */
  raw?: RequestBody
  headers?: Record<string, string>
}

interface Answer {
  status: number
  headers: Headers
  body: Json
}

/** One request; every answer, whatever its status, must be JSON. */
async function call(base: string, path: string, options: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`
  if (options.cookie !== undefined) headers['cookie'] = options.cookie
  let body: RequestBody | undefined = options.raw
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json'
    body = JSON.stringify(options.json)
  }
  const init: RequestInit & { duplex?: 'half' } = {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
  }
  if (body !== undefined) init.body = body
  if (body instanceof ReadableStream) init.duplex = 'half'
  const response = await fetch(`${base}${path}`, init)
  const text = await response.text()
  expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/)
  return { status: response.status, headers: response.headers, body: JSON.parse(text) }
}

/** A caller with its credential: an API token or a session cookie. */
class Client {
  constructor(
    readonly base: string,
    readonly credential: { token?: string; cookie?: string } = {},
  ) {}

  get(path: string, options: Call = {}) {
    return call(this.base, path, { ...this.credential, ...options })
  }

  post(path: string, json?: unknown, options: Call = {}) {
    return call(this.base, path, { ...this.credential, method: 'POST', json, ...options })
  }
}

const basket = {
  lines: [
    { sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 },
    { sku: 'book', category: 'books', quantity: 1, unitPrice: 2000 },
  ],
}

describe('REST account operations', () => {
  let s: Setup
  let processor: Client
  let partner: Client
  const op = (account: string, name: string) => `/v1/accounts/${account}/${name}`
  const available = async (account: string) =>
    (await processor.get(op(account, 'balance'))).body.balance.available
  beforeAll(async () => {
    s = await setup()
    processor = new Client(s.base, { token: s.h.processorToken })
    partner = new Client(s.base, { token: s.h.partnerToken })
  })
  afterAll(() => s.close())

  it('transfers points between members: partners and support may, a marketer may not; a retry is the same transfer; bad input names its field', async () => {
    await processor.post(op('tx-giver', 'earn'), { key: 'seed', points: 500 })
    await processor.post(op('tx-taker', 'earn'), { key: 'seed', points: 1 })
    const sent = await partner.post(op('tx-giver', 'transfer'), { key: 't1', to: 'tx-taker', points: 120, reason: 'gift' })
    expect(sent.status).toBe(200)
    expect(sent.body).toMatchObject({ status: 'ok', points: 120, transfer: { state: 'done', from: 'tx-giver', to: 'tx-taker', points: 120 } })
    const again = await partner.post(op('tx-giver', 'transfer'), { to: 'tx-taker', points: 120, reason: 'gift' }, { headers: { 'idempotency-key': 't1' } })
    expect(again.body.transfer.id).toBe(sent.body.transfer.id)
    expect([await available('tx-giver'), await available('tx-taker')]).toEqual([380, 121])
    // Support staff move points from the console, and the audit log says who did.
    const password = 'long enough secret'
    const admin = new Client(s.base, { token: await adminToken(s) })
    await admin.post('/v1/users', { username: 'tx-support', role: 'support', password })
    await admin.post('/v1/users', { username: 'tx-marketer', role: 'marketer', password })
    const support = new Client(s.base, { cookie: (await login(s.base, 'tx-support', password)).cookie })
    expect((await support.post(op('tx-giver', 'transfer'), { key: 't2', to: 'tx-taker', points: 80 })).body).toMatchObject({ status: 'ok' })
    const audit = await admin.get('/v1/audit?action=account.transfer')
    expect(audit.body.records[0]).toMatchObject({ actor: { kind: 'support', id: 'tx-support' }, target: 'tx-giver', detail: { to: 'tx-taker', points: 80 } })
    const marketer = new Client(s.base, { cookie: (await login(s.base, 'tx-marketer', password)).cookie })
    expect((await marketer.post(op('tx-giver', 'transfer'), { key: 't3', to: 'tx-taker', points: 1 })).status).toBe(403)
    // Refusals: nothing moves.
    const refused: [string, unknown, number, string | undefined, string][] = [
      [op('tx-giver', 'transfer'), { key: 't4', to: 'tx-taker', points: 10_000 }, 409, undefined, 'insufficient_points'],
      [op('tx-giver', 'transfer'), { key: 't5', to: 'tx-nobody', points: 1 }, 404, 'to', 'account_not_found'],
      [op('tx-giver', 'transfer'), { key: 't6', to: 'tx-taker', points: 'ten' }, 400, 'points', 'invalid_request'],
      [op('tx-giver', 'transfer'), { key: 't7', to: 'tx-taker', points: 1, source: { store: 'x' } }, 400, 'source', 'invalid_request'],
      [op('tx-giver', 'transfer'), { key: 't8', account: 'tx-taker', to: 'tx-taker', points: 1 }, 400, 'account', 'invalid_request'],
      [op('-', 'transfer'), { key: 't9', card: '6001', to: 'tx-taker', points: 1 }, 400, 'account', 'invalid_request'],
    ]
    for (const [path, body, status, field, named] of refused) {
      const answer = await partner.post(path, body)
      expect(answer.status, JSON.stringify(body)).toBe(status)
      expect(answer.body, JSON.stringify(body)).toMatchObject({ status: named, ...(field === undefined ? {} : { field }) })
    }
    expect([await available('tx-giver'), await available('tx-taker')]).toEqual([300, 201])
  })

  it('enrolls, purchases with a breakdown, earns, redeems, reads balance and member', async () => {
    const enrolled = await processor.post(op('m1', 'enroll'), { key: 'e1', program: 'demo' })
    expect(enrolled.status).toBe(200)
    expect(enrolled.body).toMatchObject({ status: 'ok', tier: 'bronze', points: 100 })
    const purchase = await processor.post(op('m1', 'purchase'), { key: 'p1', basket })
    expect(purchase.status).toBe(200)
    const breakdown: { id: string; points: number }[] = purchase.body.breakdown
    expect(breakdown.map((line) => line.id)).toEqual(expect.arrayContaining(['base', 'coffee']))
    expect(breakdown.reduce((sum, line) => sum + line.points, 0)).toBe(purchase.body.points)
    const earned = await processor.post(op('m1', 'earn'), { key: 'k1', points: 500 })
    expect(earned.body).toMatchObject({ status: 'ok', points: 500 })
    const redeemed = await processor.post(op('m1', 'redeem'), { key: 'r1', points: 50 })
    expect(redeemed.body).toMatchObject({ status: 'ok', points: 50 })
    const expected = 100 + purchase.body.points + 500 - 50
    expect(redeemed.body.balance.available).toBe(expected)
    const balance = await processor.get(op('m1', 'balance'))
    expect(balance.status).toBe(200)
    expect(balance.body).toEqual({
      status: 'ok',
      balance: { available: expected, pending: 0, held: 0 },
    })
    const member = await processor.get(op('m1', 'member'))
    expect(member.body).toMatchObject({
      status: 'ok',
      membership: { program: 'demo', tier: 'bronze', purchases: 1 },
    })
  })

  it('previews a basket for a member without changing anything', async () => {
    await processor.post(op('m2', 'enroll'), { key: 'e', program: 'demo' })
    const preview = await processor.post(op('m2', 'preview'), { basket })
    expect(preview.status).toBe(200)
    expect(preview.body.breakdown).toContainEqual(expect.objectContaining({ id: 'base' }))
    expect(await available('m2')).toBe(100)
  })

  it('pages history with limit and before, and validates both as integers', async () => {
    for (let i = 0; i < 5; i++) {
      await processor.post(op('h1', 'earn'), { key: `h${i}`, points: i + 1 })
    }
    const page = async (query: string) => {
      const answer = await processor.get(`${op('h1', 'history')}?${query}`)
      return { points: answer.body.entries.map((e: Json) => e.points), next: answer.body.next }
    }
    const first = await page('limit=2')
    expect(first.points).toEqual([5, 4])
    const second = await page(`limit=2&before=${first.next}`)
    expect(second.points).toEqual([3, 2])
    const last = await page(`limit=2&before=${second.next}`)
    expect(last).toEqual({ points: [1], next: undefined })
    const bad = ['limit=abc', 'limit=', 'limit=1.5', 'before=1e3', 'limit=99999999999999999999']
    for (const query of bad) {
      const answer = await processor.get(`${op('h1', 'history')}?${query}`)
      expect(answer.status, query).toBe(400)
      expect(answer.body).toMatchObject({ status: 'invalid_request', field: query.split('=')[0] })
    }
    const zero = await processor.get(`${op('h1', 'history')}?limit=0`)
    expect(zero.body).toMatchObject({ status: 'invalid_request', field: 'limit' })
    // The document says what the route does: 100 a page at most, more refused (not cut to 100).
    const documented = (openApiDocument() as Json).paths['/v1/accounts/{account}/history'].get.parameters
      .find((p: Json) => p.name === 'limit').schema
    expect((await processor.get(`${op('h1', 'history')}?limit=${documented.maximum}`)).status).toBe(200)
    const over = await processor.get(`${op('h1', 'history')}?limit=${documented.maximum + 1}`)
    expect(over.body).toMatchObject({ status: 'invalid_request', field: 'limit' })
  })

  it('refuses a path whose %-escapes do not decode, applying nothing (it credited an account named as sent)', async () => {
    for (const account of ['%E0%A4%A', '%ZZ', 'm%FF1']) {
      const answer = await processor.post(op(account, 'earn'), { key: 'k', points: 5 })
      expect(answer.status, account).toBe(400)
      expect(answer.body, account).toMatchObject({ status: 'invalid_request', field: 'path' })
      expect(answer.body.message, account).toMatch(/not valid percent-encoded UTF-8/)
    }
    expect((await processor.get(op('%ZZ', 'balance'))).body).toMatchObject({ status: 'invalid_request', field: 'path' })
    for (const account of ['%E0%A4%A', '%ZZ', 'm%FF1', 'm\uFFFD1']) {
      expect((await s.h.engine.execute({ op: 'balance', account })).status, account).toBe('account_not_found')
    }
    // An escape that decodes is the account it spells.
    const spelt = await processor.post(op('q%2D1', 'earn'), { key: 'k', points: 5 })
    expect(spelt.body).toMatchObject({ status: 'ok', points: 5 })
    expect(await available('q%2D1')).toBe(5)
    expect(await available('q-1')).toBe(5)
  })

  it('refuses a query parameter given twice, or one the route does not take, naming it and applying nothing', async () => {
    for (let i = 0; i < 3; i++) await processor.post(op('qp1', 'earn'), { key: `q${i}`, points: 1 })
    const refused: [string, string][] = [
      // Read as the first before: one page of 1, not the 50 also asked for.
      [`${op('qp1', 'history')}?limit=1&limit=50`, 'limit'],
      [`${op('qp1', 'history')}?limt=1`, 'limt'],
      [`${op('qp1', 'history')}?card=6001`, 'card'],
      [`${op('qp1', 'balance')}?verbose=true`, 'verbose'],
      [`${op('qp1', 'lots')}?limit=1`, 'limit'],
      [`${op('-', 'balance')}?card=6001&card=6002`, 'card'],
      [`${op('-', 'member')}?card=6001&account=qp1`, 'account'],
      ['/v1/lookup?card=6001&card=6002', 'card'],
    ]
    for (const [path, field] of refused) {
      const answer = await processor.get(path)
      expect(answer.status, path).toBe(400)
      expect(answer.body, path).toMatchObject({ status: 'invalid_request', field })
    }
    // A command's fields are its body's: one in the query is refused, not dropped.
    const inQuery = await processor.post(`${op('qp1', 'earn')}?reason=refund`, { key: 'q9', points: 1 })
    expect(inQuery.status).toBe(400)
    expect(inQuery.body).toMatchObject({ status: 'invalid_request', field: 'reason' })
    const previewed = await processor.post(`${op('qp1', 'preview')}?at=1`, { basket })
    expect(previewed.body).toMatchObject({ status: 'invalid_request', field: 'at' })
    expect(await available('qp1')).toBe(3)
    const page = await processor.get(`${op('qp1', 'history')}?limit=2&before=3`)
    expect(page.body.entries.map((e: Json) => e.points)).toEqual([1, 1])
    const admin = new Client(s.base, { token: (await s.h.engine.credentials.issueToken({ name: 'Q', role: 'admin' })).secret })
    for (const [path, field] of [
      ['/v1/stats/live?second=5', 'second'],
      ['/v1/stats/live?seconds=5&seconds=60', 'seconds'],
      ['/v1/stats?program=demo', 'program'],
      ['/v1/members?limit=5&limit=6', 'limit'],
      ['/v1/audit?action=token&action=user', 'action'],
    ]) {
      const answer = await admin.get(path!)
      expect(answer.status, path).toBe(400)
      expect(answer.body, path).toMatchObject({ status: 'invalid_request', field })
    }
    // The export takes no filter: one given would export every member as if it applied.
    const exported = await fetch(`${s.base}/v1/members/export?status=active`, { headers: { authorization: `Bearer ${admin.credential.token}` } })
    expect(exported.status).toBe(400)
    expect(await exported.json()).toMatchObject({ status: 'invalid_request', field: 'status' })
    expect((await admin.get('/v1/stats/live?seconds=5')).body.series).toHaveLength(5)
  })

  it('replays a body key: 200, status exists, the stored result, applied once', async () => {
    await processor.post(op('i1', 'earn'), { key: 'seed', points: 100 })
    const first = await processor.post(op('i1', 'redeem'), { key: 'once', points: 30 })
    const again = await processor.post(op('i1', 'redeem'), { key: 'once', points: 30 })
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ status: 'exists', entry: first.body.entry, points: 30 })
    expect(await available('i1')).toBe(70)
    const different = await processor.post(op('i1', 'redeem'), { key: 'once', points: 31 })
    expect(different.status).toBe(409)
    expect(different.body.status).toBe('exists_with_different_points')
  })

  it('takes the key from the Idempotency-Key header when the body has none', async () => {
    const headers = { 'idempotency-key': 'hdr-1' }
    const first = await processor.post(op('i2', 'earn'), { points: 40 }, { headers })
    expect(first.body).toMatchObject({ status: 'ok', points: 40 })
    const again = await processor.post(op('i2', 'earn'), { points: 40 }, { headers })
    expect(again.status).toBe(200)
    expect(again.body.status).toBe('exists')
    const history = await processor.get(op('i2', 'history'))
    expect(history.body.entries.map((e: Json) => e.key)).toEqual(['hdr-1'])
    const same = { key: 'hdr-1', points: 40 }
    const agreeing = await processor.post(op('i2', 'earn'), same, { headers })
    expect(agreeing.body.status).toBe('exists')
    const clash = await processor.post(op('i2', 'earn'), { key: 'other', points: 40 }, { headers })
    expect(clash.status).toBe(400)
    expect(clash.body).toMatchObject({ status: 'invalid_request', field: 'key' })
    const none = await processor.post(op('i2', 'earn'), { points: 40 })
    expect(none.body).toMatchObject({ status: 'invalid_request', field: 'key' })
    expect(await available('i2')).toBe(40)
  })

  it('maps business refusals to 409 and missing things to 404', async () => {
    await processor.post(op('b1', 'earn'), { key: 'seed', points: 10 })
    const expectStatus = (answer: Answer, http: number, status: string) => {
      expect(answer.status, status).toBe(http)
      expect(answer.body.status).toBe(status)
    }
    expectStatus(await processor.post(op('b1', 'redeem'), { key: 'big', points: 11 }), 409,
      'insufficient_points')
    expectStatus(await processor.get(op('nobody', 'balance')), 404, 'account_not_found')
    expectStatus(await processor.post(op('b1', 'capture'), { key: 'c', hold: 999 }), 404,
      'hold_not_found')
    expectStatus(await processor.post(op('b1', 'reverse'), { key: 'rv', ref: 'never' }), 404,
      'transaction_not_found')
    const hold = await processor.post(op('b1', 'authorize'), { key: 'a', points: 5 })
    await processor.post(op('b1', 'void'), { key: 'v', hold: hold.body.hold })
    expectStatus(await processor.post(op('b1', 'capture'), { key: 'c2', hold: hold.body.hold }),
      409, 'hold_already_voided')
  })

  it('refuses a body account or op that contradicts the path, and applies nothing', async () => {
    const mismatch = await processor.post(op('a1', 'earn'), { account: 'a2', key: 'k', points: 5 })
    expect(mismatch.status).toBe(400)
    expect(mismatch.body).toMatchObject({ status: 'invalid_request', field: 'account' })
    expect((await processor.get(op('a1', 'balance'))).status).toBe(404)
    expect((await processor.get(op('a2', 'balance'))).status).toBe(404)
    const same = await processor.post(op('a1', 'earn'), { account: 'a1', key: 'k', points: 5 })
    expect(same.body.status).toBe('ok')
    const otherOp = await processor.post(op('a1', 'earn'), { op: 'redeem', key: 'k2', points: 5 })
    expect(otherOp.body).toMatchObject({ status: 'invalid_request', field: 'op' })
    expect(await available('a1')).toBe(5)
  })

  it('answers every kind of bad body with 400 (or 415) naming it, applying nothing', async () => {
    const json = { 'content-type': 'application/json' }
    const valid = '{"key":"k","points":5}'
    const tooBig = JSON.stringify({ key: 'k', points: 5, reason: 'x'.repeat(bodyBytesMax) })
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const cases: [string, Call, number, string][] = [
      ['bad JSON', { raw: '{"key": "k", points: 5', headers: json }, 400, 'body'],
      ['a JSON array', { raw: '[1, 2]', headers: json }, 400, 'body'],
      ['a JSON string', { raw: '"earn"', headers: json }, 400, 'body'],
      ['JSON null', { raw: 'null', headers: json }, 400, 'body'],
      ['an empty body', { raw: '', headers: json }, 400, 'body'],
      ['bad UTF-8', { raw: new Uint8Array([0x7b, 0xff, 0x7d]), headers: json }, 400, 'body'],
      ['too big', { raw: tooBig, headers: json }, 400, 'body'],
      ['text/plain', { raw: valid, headers: { 'content-type': 'text/plain' } }, 415,
        'content-type'],
      ['no content type', { raw: new Blob([valid]) }, 415, 'content-type'],
      ['a form', { raw: 'key=k&points=5', headers: form }, 415, 'content-type'],
      // Read as UTF-8 regardless, latin1 text would be taken wrongly or refused as bad UTF-8.
      ['charset=latin1', { raw: valid, headers: { 'content-type': 'application/json; charset=latin1' } }, 415, 'content-type'],
      ['charset=utf-16', { raw: valid, headers: { 'content-type': 'application/json;charset="UTF-16"' } }, 415, 'content-type'],
      ['a bad field', { json: { key: 'k', points: 'five' } }, 400, 'points'],
      ['an unknown field', { json: { key: 'k', points: 5, bonus: true } }, 400, 'bonus'],
      ['a key twice', { raw: '{"key":"k","points":5,"points":7}', headers: json }, 400, 'points'],
      // JSON.parse reads it as 5, which the integer check would take.
      ['a fraction that reads as whole', { raw: '{"key":"k","points":5.0000000000000001}', headers: json }, 400, 'points'],
    ]
    for (const [name, options, status, field] of cases) {
      const answer = await processor.post(op('x1', 'earn'), undefined, options)
      expect(answer.status, name).toBe(status)
      expect(answer.body, name).toMatchObject({ status: 'invalid_request', field })
    }
    expect((await processor.get(op('x1', 'balance'))).status).toBe(404)
    // UTF-8 named, in any spelling, is what JSON is.
    for (const type of ['application/json; charset=utf-8', 'application/json;charset="UTF8"']) {
      const answer = await processor.post(op('x1', 'earn'), undefined, { raw: valid, headers: { 'content-type': type } })
      expect(answer.status, type).toBe(200)
    }
  })

  it('refuses a compressed body with 415 naming content-encoding, rather than reading its bytes as JSON', async () => {
    const body = '{"key":"k","points":5}'
    const gzipped = gzipSync(body)
    // Before: 400 "the body is not valid UTF-8", which sends the caller looking at its JSON.
    const compressed = await processor.post(op('z1', 'earn'), undefined, { raw: gzipped, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    expect(compressed.status).toBe(415)
    expect(compressed.headers.get('accept-encoding')).toBe('identity')
    expect(compressed.body).toEqual({
      status: 'invalid_request',
      field: 'content-encoding',
      message: 'the body must not be compressed: Content-Encoding gzip is not read (send the body as it is, with no Content-Encoding)',
    })
    // Nor plain JSON that says it is compressed: one or the other is wrong, and the server does not guess.
    const claimed = await processor.post(op('z1', 'earn'), undefined, { raw: body, headers: { 'content-type': 'application/json', 'content-encoding': 'br' } })
    expect(claimed.status).toBe(415)
    expect(claimed.body).toMatchObject({ status: 'invalid_request', field: 'content-encoding' })
    expect((await processor.get(op('z1', 'balance'))).status).toBe(404)
    // identity is no coding at all.
    const plain = await processor.post(op('z1', 'earn'), undefined, { raw: body, headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } })
    expect(plain.status).toBe(200)
  })

  it('answers a request Node cannot parse (headers too long, a bad chunk) in JSON naming what is wrong', async () => {
    /** Sends bytes as they are over a fresh connection; the raw answer once the server closes it. */
    const rawExchange = (bytes: string) => new Promise<string>((resolve, reject) => {
      const socket = netConnect(Number(new URL(s.base).port), '127.0.0.1', () => socket.write(bytes))
      const chunks: Buffer[] = []
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
      socket.on('error', reject)
    })
    const parse = (answer: string) => {
      const [head, body] = answer.split('\r\n\r\n')
      return { statusLine: head!.split('\r\n')[0], contentType: /\r\ncontent-type: ([^\r]*)/i.exec(head!)?.[1], body: body === '' ? undefined : JSON.parse(body!) }
    }
    // Before: Node's own answer, a status line with no body (not JSON, as every other answer is).
    const long = parse(await rawExchange(`GET /v1/accounts/m1/balance HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`))
    expect(long.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large')
    expect(long.contentType).toBe('application/json')
    expect(long.body).toEqual({ status: 'invalid_request', field: 'headers', message: expect.stringMatching(/^the request's headers are over the server's limit/) })
    const chunked = `POST ${op('x3', 'earn')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.h.processorToken}\r\n` +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{"key":"k","points":5}\r\n0\r\n\r\n'
    const bad = parse(await rawExchange(chunked))
    expect(bad.statusLine).toBe('HTTP/1.1 400 Bad Request')
    expect(bad.body).toEqual({ status: 'invalid_request', field: 'request', message: expect.stringMatching(/^the request is not well-formed HTTP\/1\.1/) })
    expect((await processor.get(op('x3', 'balance'))).status).toBe(404)
  })

  it('cuts off a chunked body (no Content-Length) past the limit', async () => {
    const chunk = new TextEncoder().encode(`{"key":"k","points":5,"reason":"${'y'.repeat(16_000)}`)
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk)
        else controller.close()
      },
    })
    const headers = { 'content-type': 'application/json' }
    const answer = await processor.post(op('x2', 'earn'), undefined, { raw: stream, headers })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ status: 'invalid_request', field: 'body' })
    expect((await processor.get(op('x2', 'balance'))).status).toBe(404)
  })

  it('answers unknown routes with a JSON 404 and wrong methods with 405 and Allow', async () => {
    const unknown = await processor.get('/v1/nothing/here')
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ status: 'invalid_request', field: 'path' })
    expect((await processor.post(op('m1', 'join'), { key: 'k' })).status).toBe(404)
    const wrongMethod = await processor.get(op('m1', 'earn'))
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('POST')
    expect(wrongMethod.body).toMatchObject({ status: 'invalid_request', field: 'method' })
  })

  it('refuses bad credentials with 401, a role that may not run an op with 403', async () => {
    const path = op('m1', 'balance')
    const noToken = await call(s.base, path)
    expect(noToken.status).toBe(401)
    expect(noToken.body.status).toBe('unauthorized')
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect((await call(s.base, path, { token: `${s.h.processorToken}x` })).status).toBe(401)
    const basic = await call(s.base, path, { headers: { authorization: 'Basic YTpi' } })
    expect(basic.status).toBe(401)
    expect((await call(s.base, op('m1', 'earn'), { raw: 'nonsense' })).status).toBe(401)
    await processor.post(op('r1', 'earn'), { key: 'seed', points: 100 })
    const partnerHold = await partner.post(op('r1', 'authorize'), { key: 'h', points: 5 })
    expect(partnerHold.status).toBe(403)
    expect(partnerHold.body).toEqual({
      status: 'unauthorized',
      message: 'a partner may not run authorize',
    })
    expect((await partner.post(op('r1', 'earn'), { key: 'p', points: 5 })).status).toBe(200)
    const adjust = { key: 'adj', points: 5, reason: 'goodwill' }
    expect((await processor.post(op('r1', 'adjust'), adjust)).status).toBe(403)
    expect(await available('r1')).toBe(105)
  })

  it('stamps the caller on the journal entry', async () => {
    await partner.post(op('st1', 'earn'), { key: 'k', points: 5, source: { channel: 'web' } })
    await processor.post(op('st1', 'earn'), { key: 'k2', points: 5 })
    const history = await processor.get(op('st1', 'history'))
    const tokenId = (name: string) => s.h.engine.credentials.tokens().find((t) => t.name === name)!.id
    expect(history.body.entries.map((e: Json) => e.source)).toEqual([
      { channel: 'processor', via: tokenId('Processor') },
      { channel: 'web', via: tokenId('Partner') },
    ])
  })

  it('answers 503 with Retry-After once the engine is closing', async () => {
    const own = await setup()
    // A session authenticates without the registry, which closes with the engine.
    const session = await login(own.base, own.h.admin.username, own.h.admin.password)
    await own.h.engine.close()
    const browser = new Client(own.base, { cookie: session.cookie })
    const answer = await browser.post(op('m1', 'earn'), { key: 'k', points: 1 })
    expect(answer.status).toBe(503)
    expect(answer.body.status).toBe('unavailable')
    expect(answer.headers.get('retry-after')).toBe('1')
    await own.close().catch(() => {})
  })
})

describe('REST overload', () => {
  it('answers overloaded with 429 and Retry-After', async () => {
    // A real engine whose shards take no command in flight: every command is overloaded.
    const engine = await openEngine({
      storage: 'memory',
      limits: { mailboxDepthMax: 0 },
      logger: silentLogger,
    })
    const token = await engine.credentials.issueToken({ name: 'p', role: 'processor' })
    const app = createHttpApp(new Gateway(engine), { logger: silentLogger, ready: () => true })
    const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' })
    try {
      const client = new Client(`http://127.0.0.1:${server.port}`, { token: token.secret })
      const answer = await client.post('/v1/accounts/m1/earn', { key: 'k', points: 1 })
      expect(answer.status).toBe(429)
      expect(answer.body.status).toBe('overloaded')
      expect(answer.headers.get('retry-after')).toBe('1')
    } finally {
      await server.close()
      await engine.close()
    }
  })
})

/** Logs in; returns the answer, the raw Set-Cookie and the cookie to send back. */
async function login(base: string, username: string, password: string, headers = {}) {
  const response = await fetch(`${base}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password }),
  })
  const setCookie = response.headers.get('set-cookie') ?? ''
  const body: Json = await response.json()
  return { status: response.status, body, setCookie, cookie: setCookie.split(';')[0]! }
}

/** An admin API token for the setup (issued straight in the registry). */
async function adminToken(s: Setup): Promise<string> {
  return (await s.h.engine.credentials.issueToken({ name: 'test admin', role: 'admin' })).secret
}

describe('console sessions', () => {
  const clock = { now: Date.now() }
  let s: Setup
  const adminLogin = (headers = {}) =>
    login(s.base, s.h.admin.username, s.h.admin.password, headers)
  beforeAll(async () => {
    s = await setup({ clock: () => clock.now })
  })
  afterAll(() => s.close())

  it('logs in with an HttpOnly, SameSite=Strict cookie, says who it is, and logs out', async () => {
    const wrong = await login(s.base, s.h.admin.username, 'not the password')
    expect(wrong.status).toBe(401)
    expect(wrong.body.status).toBe('unauthorized')
    expect(wrong.setCookie).toBe('')
    const session = await adminLogin()
    expect(session.status).toBe(200)
    expect(session.body).toMatchObject({ status: 'ok', username: 'admin', role: 'admin' })
    expect(session.cookie).toMatch(/^loyalty_session=[A-Za-z0-9_-]{43}$/)
    expect(session.setCookie).toMatch(/; HttpOnly/)
    expect(session.setCookie).toMatch(/; SameSite=Strict/)
    expect(session.setCookie).toMatch(/; Path=\//)
    expect(session.setCookie).toMatch(/; Max-Age=43200/)
    expect(session.setCookie).not.toMatch(/Secure/)
    const browser = new Client(s.base, { cookie: session.cookie })
    const me = await browser.get('/v1/session')
    expect(me.body).toMatchObject({ status: 'ok', username: 'admin', role: 'admin' })
    const logout = await fetch(`${s.base}/v1/session`, {
      method: 'DELETE',
      headers: { cookie: session.cookie },
    })
    expect(logout.status).toBe(200)
    expect(logout.headers.get('set-cookie')).toMatch(/^loyalty_session=; Max-Age=0/)
    expect((await browser.get('/v1/session')).status).toBe(401)
    const audit = await new Client(s.base, { token: await adminToken(s) }).get('/v1/audit')
    expect(audit.body.records.map((r: Json) => r.action)).toEqual(
      expect.arrayContaining(['session.login', 'session.logout']),
    )
  })

  it('marks the cookie Secure behind an HTTPS proxy', async () => {
    const session = await adminLogin({ 'x-forwarded-proto': 'https' })
    expect(session.setCookie).toMatch(/; Secure/)
  })

  it('authenticates console requests with the cookie, account operations too', async () => {
    const browser = new Client(s.base, { cookie: (await adminLogin()).cookie })
    expect((await browser.get('/v1/terminals')).status).toBe(200)
    const adjust = { key: 'adj', points: 25, reason: 'welcome gift' }
    const adjusted = await browser.post('/v1/accounts/c1/adjust', adjust)
    expect(adjusted.body).toMatchObject({ status: 'ok', points: 25 })
    const history = await browser.get('/v1/accounts/c1/history')
    expect(history.body.entries[0].source).toEqual({ operator: 'admin' })
  })

  it('refuses a session cookie on a cross-origin change', async () => {
    const browser = new Client(s.base, { cookie: (await adminLogin()).cookie })
    const evil = { origin: 'https://evil.example' }
    const token = { name: 'evil', role: 'admin' }
    const refused = await browser.post('/v1/tokens', token, { headers: evil })
    expect(refused.status).toBe(403)
    expect(refused.body).toMatchObject({ status: 'unauthorized', message: expect.stringMatching(/another origin/) })
    expect(s.h.engine.credentials.tokens().map((t) => t.name)).not.toContain('evil')
    const own = { origin: s.base }
    const partnerToken = { name: 'ok', role: 'partner' }
    const allowed = await browser.post('/v1/tokens', partnerToken, { headers: own })
    expect(allowed.status).toBe(201)
    expect(s.h.engine.credentials.tokens().map((t) => t.name)).toContain('ok')
  })

  it('ends sessions at expiry', async () => {
    const browser = new Client(s.base, { cookie: (await adminLogin()).cookie })
    expect((await browser.get('/v1/session')).status).toBe(200)
    clock.now += 12 * 3_600_000
    const expired = await browser.get('/v1/session')
    expect(expired.status).toBe(401)
    expect(expired.body.message).toMatch(/expired/)
  })

  it('validates the login body', async () => {
    const anonymous = new Client(s.base)
    const missing = await anonymous.post('/v1/session', { username: 'admin' })
    expect(missing.status).toBe(400)
    expect(missing.body).toMatchObject({ status: 'invalid_request', field: 'password' })
    const extra = await anonymous.post('/v1/session', { username: 'a', password: 'x', remember: 1 })
    expect(extra.body).toMatchObject({ field: 'remember' })
    // A password typed without its quotes: refused naming the body, and not quoted back.
    const unquoted = await anonymous.post('/v1/session', undefined, {
      raw: '{"username":"admin","password": correct-horse-battery}',
      headers: { 'content-type': 'application/json' },
    })
    expect(unquoted.status).toBe(400)
    expect(unquoted.body).toMatchObject({ status: 'invalid_request', field: 'body' })
    expect(unquoted.body.message).toMatch(/^the body is not valid JSON: Unexpected token 'c'/)
    expect(JSON.stringify(unquoted.body)).not.toContain('correct')
  })
})

/** The demo program with its base rule giving `perDollar` points per $1. */
function demoWithBase(perDollar: number): RulesetDoc {
  const doc = structuredClone(demoRuleset)
  const program = doc.programs[0]!
  program.rules = program.rules.map((rule) =>
    rule.id === 'base' ? { ...rule, points: perDollar } : rule)
  return doc
}

const basePoints = (body: Json): number =>
  body.breakdown.find((line: Json) => line.id === 'base').points

/** The demo ruleset with `count` more campaigns, each about 560 bytes of JSON. */
function demoWithCampaigns(count: number): RulesetDoc {
  const doc = structuredClone(demoRuleset)
  const program = doc.programs[0]!
  for (let i = 0; i < count; i++) {
    program.campaigns!.push({
      id: `pad${i}`, name: 'x'.repeat(400), from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z',
      priority: 0, stacking: 'combinable', rules: [{ id: 'bonus', kind: 'fixed', points: 1 }],
    })
  }
  return doc
}

describe('rulesets over REST', () => {
  let s: Setup
  let admin: Client
  let marketer: Client
  let processor: Client
  beforeAll(async () => {
    s = await setup()
    admin = new Client(s.base, { token: await adminToken(s) })
    processor = new Client(s.base, { token: s.h.processorToken })
    const user = { username: 'mara', role: 'marketer', password: 'campaigns all day' }
    expect((await admin.post('/v1/users', user)).status).toBe(201)
    marketer = new Client(s.base, { cookie: (await login(s.base, 'mara', user.password)).cookie })
  })
  afterAll(() => s.close())

  it('refuses an invalid document with 422 and every error path, storing nothing', async () => {
    const rules = [{ id: 'r', kind: 'perSpend', per: 0 }]
    const bad = { programs: [{ id: 'broken', name: 'Broken', tiers: [], rules }] }
    const answer = await admin.post('/v1/rulesets', bad)
    expect(answer.status).toBe(422)
    expect(answer.body.status).toBe('invalid_request')
    const errors: { path: string; message: string }[] = answer.body.errors
    expect(errors.length).toBeGreaterThan(1)
    for (const error of errors) expect(error.path).toMatch(/^programs\[0\]/)
    expect(answer.body.field).toBe(errors[0]!.path)
    expect((await admin.get('/v1/rulesets')).body.rulesets).toHaveLength(1)
  })

  it('publishes and activates a version: new purchases use it; 1 rolls back', async () => {
    /** A purchase, and the ruleset version its journal entry records. */
    const purchase = async (key: string) => {
      const answer = await processor.post('/v1/accounts/rs1/purchase', { key, basket })
      expect(answer.body.status).toBe('ok')
      const history = await processor.get('/v1/accounts/rs1/history?limit=1')
      expect(history.body.entries[0].key).toBe(key)
      return { body: answer.body, version: history.body.entries[0].rulesetVersion }
    }
    await processor.post('/v1/accounts/rs1/enroll', { key: 'e', program: 'demo' })
    const before = await purchase('before')
    expect(before.version).toBe(1)
    const publish = '/v1/rulesets?activate=true&note=ten%20per%20dollar'
    const published = await admin.post(publish, demoWithBase(10))
    expect(published.status).toBe(201)
    expect(published.body).toEqual({ status: 'ok', version: 2, active: true })
    const after = await purchase('after')
    expect(after.version).toBe(2)
    expect(basePoints(after.body)).toBe(basePoints(before.body) * 10)
    const active = await admin.get('/v1/rulesets/active')
    expect(active.body).toMatchObject({
      status: 'ok',
      ruleset: { version: 2, active: true, note: 'ten per dollar' },
    })
    expect((await marketer.get('/v1/rulesets')).body.rulesets).toEqual([
      expect.objectContaining({ version: 1, active: false }),
      expect.objectContaining({ version: 2, active: true }),
    ])
    const rollback = await admin.post('/v1/rulesets/1/activate')
    expect(rollback.body).toEqual({ status: 'ok', version: 1, active: true })
    const rolledBack = await purchase('rolled-back')
    expect(rolledBack.version).toBe(1)
    expect(basePoints(rolledBack.body)).toBe(basePoints(before.body))
    const one = await admin.get('/v1/rulesets/1')
    expect(one.body).toMatchObject({ ruleset: { version: 1, active: true, doc: demoRuleset } })
    const audit = await admin.get('/v1/audit?action=ruleset.')
    expect(audit.body.records).toEqual(expect.arrayContaining([
      expect.objectContaining({ action: 'ruleset.publish', target: '2', actor: expect.anything() }),
      expect.objectContaining({ action: 'ruleset.activate', target: '1' }),
    ]))
    const publishRecord = audit.body.records.find((r: Json) => r.action === 'ruleset.publish')
    expect(publishRecord.actor.kind).toBe('admin')
    expect(publishRecord.detail).toEqual({ activate: true, note: 'ten per dollar' })
  })

  it('refuses a query parameter it does not know when publishing or activating, naming it', async () => {
    const before = (await admin.get('/v1/rulesets')).body
    const misspelt = await admin.post('/v1/rulesets?activte=true', demoWithBase(4))
    expect(misspelt.status).toBe(400)
    expect(misspelt.body).toMatchObject({ status: 'invalid_request', field: 'activte' })
    expect((await admin.get('/v1/rulesets')).body).toEqual(before)
    const forced = await admin.post('/v1/rulesets/1/activate?forse=true')
    expect(forced.status).toBe(400)
    expect(forced.body).toMatchObject({ status: 'invalid_request', field: 'forse' })
  })

  it('lets a marketer publish and preview, but only an admin activate', async () => {
    const activating = await marketer.post('/v1/rulesets?activate=true', demoWithBase(3))
    expect(activating.status).toBe(403)
    const published = await marketer.post('/v1/rulesets', demoWithBase(3))
    expect(published.status).toBe(201)
    expect(published.body.active).toBe(false)
    const version: number = published.body.version
    expect((await marketer.post(`/v1/rulesets/${version}/activate`)).status).toBe(403)
    const partner = new Client(s.base, { token: s.h.partnerToken })
    expect((await partner.get('/v1/rulesets')).status).toBe(403)
    const stored = await marketer.get(`/v1/rulesets/${version}`)
    expect(stored.body).toMatchObject({ ruleset: { version, active: false } })
  })

  it('previews drafts, stored versions and the active one', async () => {
    const preview = (json: object) => marketer.post('/v1/rulesets/preview', json)
    const active = await preview({ program: 'demo', basket })
    expect(active.status).toBe(200)
    expect(active.body).toMatchObject({ status: 'ok', tier: 'bronze' })
    const member = { tier: 'gold', facts: { segments: ['vip'] } }
    const draft = await preview({ program: 'demo', basket, ruleset: demoWithBase(10), member })
    expect(draft.body).toMatchObject({ status: 'ok', version: 'draft', tier: 'gold' })
    expect(basePoints(draft.body)).toBeGreaterThan(basePoints(active.body))
    expect((await preview({ program: 'demo', basket, version: 2 })).body.version).toBe(2)
    const invalidDraft = await preview({ program: 'demo', basket, ruleset: { programs: 'none' } })
    expect(invalidDraft.status).toBe(422)
    const zero = { lines: [{ sku: 'x', quantity: 0, unitPrice: 1 }] }
    const badBasket = await preview({ program: 'demo', basket: zero })
    expect(badBasket.status).toBe(400)
    expect(badBasket.body.field).toBe('basket.lines[0].quantity')
    const facts = { facts: { birthDate: 'yesterday' } }
    const badFacts = await preview({ program: 'demo', basket, member: facts })
    expect(badFacts.body.field).toBe('member.facts.birthDate')
    const both = await preview({ program: 'demo', basket, version: 1, ruleset: demoRuleset })
    expect(both.body.field).toBe('version')
  })

  it('answers 404 for a missing version and 400 for one that is not a number', async () => {
    expect((await admin.get('/v1/rulesets/99')).status).toBe(404)
    expect((await admin.post('/v1/rulesets/99/activate')).status).toBe(404)
    const bad = await admin.get('/v1/rulesets/one')
    expect(bad.status).toBe(400)
    expect(bad.body.field).toBe('version')
    expect((await admin.post('/v1/rulesets?activate=yes', demoRuleset)).body.field).toBe('activate')
  })

  it('answers 409 naming the program when a version would strand members enrolled in it', async () => {
    expect(await s.h.engine.execute({ op: 'enroll', account: 'stranded-1', key: 'j', program: 'demo' })).toMatchObject({ status: 'ok' })
    const active = s.h.engine.rules.active()!.version
    const renamed = { programs: demoRuleset.programs.map((p) => ({ ...p, id: 'other' })) }
    const refused = await admin.post('/v1/rulesets?activate=true', renamed)
    expect(refused.status).toBe(409)
    expect(refused.body).toMatchObject({ status: 'invalid_request', field: 'programs' })
    expect(refused.body.errors[0].message).toMatch(/^program demo is missing, and \d+ accounts are enrolled in it$/)
    const stored = await admin.post('/v1/rulesets', renamed)
    expect(stored.status).toBe(201)
    const activating = await admin.post(`/v1/rulesets/${stored.body.version}/activate`)
    expect(activating.status).toBe(409)
    expect(activating.body.field).toBe('programs')
    expect(s.h.engine.rules.active()!.version).toBe(active)
    // Forced, it is activated, and the audit trail says so; then the demo comes back.
    const forced = await admin.post(`/v1/rulesets/${stored.body.version}/activate?force=true`)
    expect(forced.status).toBe(200)
    const audit = await admin.get('/v1/audit?action=ruleset.activate')
    const record = audit.body.records.find((r: Json) => r.target === String(stored.body.version))
    expect(record).toMatchObject({ action: 'ruleset.activate', detail: { force: true } })
    expect((await admin.post(`/v1/rulesets/${active}/activate?force=true`)).status).toBe(200)
  })

  it('publishes a ruleset larger than other bodies up to the engine\'s rulesetBytesMax, and refuses a larger one with 422 naming the limit', async () => {
    const before = (await admin.get('/v1/rulesets')).body.rulesets.length
    // Past the 64 KiB of other bodies, which used to refuse it, though the engine took it directly.
    const large = demoWithCampaigns(200)
    expect(JSON.stringify(large).length).toBeGreaterThan(bodyBytesMax)
    const published = await marketer.post('/v1/rulesets', large)
    expect(published.status).toBe(201)
    // Indented, it is read whole: the limit is on the document, not on how it was sent.
    const indented = await call(s.base, '/v1/rulesets', { cookie: marketer.credential.cookie!, raw: JSON.stringify(large, null, 8), headers: { 'content-type': 'application/json' } })
    expect(indented.status).toBe(201)
    const tooLarge = demoWithCampaigns(2000)
    const bytes = Buffer.byteLength(JSON.stringify(tooLarge))
    expect(bytes).toBeGreaterThan(rulesetBytesMax)
    const refused = await marketer.post('/v1/rulesets', tooLarge)
    expect(refused.status).toBe(422)
    const message = `a ruleset may have at most ${rulesetBytesMax} bytes as JSON (rulesetBytesMax), this one has ${bytes}`
    expect(refused.body).toMatchObject({ status: 'invalid_request', field: '$', errors: [{ path: '$', message }] })
    const preview = await marketer.post('/v1/rulesets/preview', { ruleset: tooLarge, program: 'demo', basket })
    expect(preview.status).toBe(422)
    expect(preview.body).toMatchObject({ errors: [{ path: '$', message }] })
    expect((await admin.get('/v1/rulesets')).body.rulesets.length).toBe(before + 2)
  })
})

describe('credentials over REST', () => {
  let s: Setup
  let admin: Client
  beforeAll(async () => {
    s = await setup()
    admin = new Client(s.base, { token: await adminToken(s) })
  })
  afterAll(() => s.close())

  it('issues a terminal whose secret then authenticates; disables and enables it', async () => {
    const terminal = { id: 'pos-9', name: 'Till 9', store: 'store-3' }
    const issued = await admin.post('/v1/terminals', terminal)
    expect(issued.status).toBe(201)
    const secret: string = issued.body.secret
    expect(secret.length).toBeGreaterThanOrEqual(24)
    expect(issued.body.terminal).toMatchObject({ ...terminal, disabled: false })
    const principal = { kind: 'terminal', id: 'pos-9', store: 'store-3' }
    expect(await s.h.gateway.terminal('pos-9', secret)).toEqual(principal)
    expect(await s.h.gateway.terminal('pos-9', `${secret}x`)).toBeUndefined()
    const list = await admin.get('/v1/terminals')
    expect(list.body.terminals).toContainEqual(expect.objectContaining({ id: 'pos-9' }))
    expect(JSON.stringify(list.body)).not.toContain(secret)
    const duplicate = await admin.post('/v1/terminals', { id: 'pos-9', name: 'Again' })
    expect(duplicate.status).toBe(409)
    expect(duplicate.body.field).toBe('id')
    const disabled = await admin.post('/v1/terminals/pos-9/disable')
    expect(disabled.body).toMatchObject({ status: 'ok', terminal: { id: 'pos-9', disabled: true } })
    expect(await s.h.gateway.terminal('pos-9', secret)).toBeUndefined()
    await admin.post('/v1/terminals/pos-9/enable')
    expect(await s.h.gateway.terminal('pos-9', secret)).toMatchObject({ id: 'pos-9' })
    expect((await admin.post('/v1/terminals/pos-404/disable')).status).toBe(404)
    const badId = await admin.post('/v1/terminals', { id: 'has space', name: 'x' })
    expect(badId.body).toMatchObject({ status: 'invalid_request', field: 'id' })
    // A name that would show as something else, or forge a log line, is refused; so is a token's.
    const forged = await admin.post('/v1/terminals', { id: 'pos-10', name: 'Till\n2026-11-24 admin logged in' })
    expect(forged.body).toEqual({ status: 'invalid_request', field: 'name', message: 'name must not contain control or invisible characters (U+000A at 4)' })
    const hidden = await admin.post('/v1/tokens', { name: 'Shop\u202e', role: 'partner' })
    expect(hidden.body).toMatchObject({ status: 'invalid_request', field: 'name' })
    expect((await admin.get('/v1/terminals')).body.terminals.some((t: Json) => t.id === 'pos-10')).toBe(false)
  })

  it('issues API tokens that authenticate with their role', async () => {
    const issued = await admin.post('/v1/tokens', { name: 'Shop', role: 'partner' })
    expect(issued.status).toBe(201)
    const shop = new Client(s.base, { token: issued.body.secret })
    expect((await shop.get('/v1/session')).body).toMatchObject({ role: 'partner' })
    const hold = await shop.post('/v1/accounts/t1/authorize', { key: 'k', points: 1 })
    expect(hold.status).toBe(403)
    const badRole = await admin.post('/v1/tokens', { name: 'x', role: 'terminal' })
    expect(badRole.body).toMatchObject({ status: 'invalid_request', field: 'role' })
    expect((await shop.post('/v1/tokens', { name: 'x', role: 'admin' })).status).toBe(403)
  })

  it('adds and lists console users', async () => {
    const password = 'long enough secret'
    const added = await admin.post('/v1/users', { username: 'sam', role: 'support', password })
    expect(added.status).toBe(201)
    expect(added.body.user).toMatchObject({ username: 'sam', role: 'support' })
    expect(JSON.stringify(added.body)).not.toContain(password)
    const users = await admin.get('/v1/users')
    expect(users.body.users.map((u: Json) => u.username).sort()).toEqual(['admin', 'sam'])
    expect((await login(s.base, 'sam', password)).body).toMatchObject({ role: 'support' })
    const again = await admin.post('/v1/users', { username: 'sam', role: 'admin', password })
    expect(again.status).toBe(409)
    const weak = { username: 'kim', role: 'admin', password: 'short' }
    const short = await admin.post('/v1/users', weak)
    expect(short.body).toMatchObject({ status: 'invalid_request', field: 'password' })
  })

  it('records every change in the durable audit log, newest first, with the actor', async () => {
    const records: Json[] = (await admin.get('/v1/audit')).body.records
    const changes = records.map((r) => `${r.action} ${r.target}`)
    expect(changes).toEqual(expect.arrayContaining([
      'terminal.issue pos-9', 'terminal.disable pos-9', 'terminal.enable pos-9', 'user.add sam',
    ]))
    expect(changes.some((change) => change.startsWith('token.issue tok_'))).toBe(true)
    const seqs = records.map((r) => r.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a))
    for (const record of records) expect(record.at).toBeGreaterThan(0)
    const userAdd = records.find((r) => r.action === 'user.add')
    expect(userAdd.actor).toMatchObject({ kind: 'admin', id: expect.stringMatching(/^tok_/) })
    expect(userAdd.actor.from).toMatch(/127\.0\.0\.1/)
    // The same records are in the registry's log, where they outlive this process.
    expect(s.h.engine.members.audit.search({ action: 'user.add' }).records).toHaveLength(1)
    const two = await admin.get('/v1/audit?limit=2')
    expect(two.body.records).toHaveLength(2)
    const rest = await admin.get(`/v1/audit?limit=500&cursor=${two.body.next}`)
    expect(rest.body.records.map((r: Json) => r.seq)).toEqual(seqs.slice(2))
    expect((await admin.get('/v1/audit?action=terminal.')).body.records).toHaveLength(3)
    const sam = (await admin.get('/v1/audit?target=sam&order=oldest')).body.records
    expect(sam.map((r: Json) => r.action)).toEqual(['user.add', 'session.login'])
    // A misspelt filter is refused, not ignored: the whole trail would answer as if it matched.
    for (const bad of ['limit=0', 'limit=501', 'cursor=x', 'from=yesterday', 'order=up', 'from=2026-02-31', 'to=2026-04-31T10:00Z', 'actr=sam', 'target=sam&action=user.&tagret=x']) {
      const answer = await admin.get(`/v1/audit?${bad}`)
      expect(answer.status, bad).toBe(400)
      expect(answer.body.field).toBe(bad.split('&').at(-1)!.split('=')[0])
    }
    const processor = new Client(s.base, { token: s.h.processorToken })
    expect((await processor.get('/v1/audit')).status).toBe(403)
  })

  it('refuses bad bodies on the admin routes naming what is wrong, creating nothing', async () => {
    const { credentials, rules } = s.h.engine
    const counts = () => [credentials.terminals().length, credentials.tokens().length, credentials.users().length, rules.list().length]
    const before = counts()
    const json = { 'content-type': 'application/json' }
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const cases: [string, Call, number, string][] = [
      ['/v1/terminals', { raw: '{"id": "pos-x"', headers: json }, 400, 'body'],
      ['/v1/terminals', { json: { id: 'pos-x', name: 'X', till: 3 } }, 400, 'till'],
      ['/v1/tokens', { raw: '[]', headers: json }, 400, 'body'],
      ['/v1/tokens', { json: { name: 'x', role: 'partner', admin: true } }, 400, 'admin'],
      ['/v1/users', { raw: 'username=x&role=admin', headers: form }, 415, 'content-type'],
      ['/v1/users', { json: { username: 'x', role: 'support', password: 'long enough secret', mail: 'x' } }, 400, 'mail'],
      ['/v1/rulesets', { raw: '{"programs": [', headers: json }, 400, 'body'],
    ]
    for (const [path, options, status, field] of cases) {
      const answer = await admin.post(path, undefined, options)
      expect(answer.status, `${path} ${field}`).toBe(status)
      expect(answer.body, `${path} ${field}`).toMatchObject({ status: 'invalid_request', field })
    }
    expect(counts()).toEqual(before)
  })
})

describe('health, console files and the OpenAPI document', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })

  it('answers /healthz without credentials, 503 when not ready', async () => {
    const s = await setup()
    cleanups.push(() => s.close())
    const ok = await call(s.base, '/healthz')
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual({ status: 'ok' })
    s.ready.value = false
    const down = await call(s.base, '/healthz')
    expect(down.status).toBe(503)
    expect(down.body).toEqual({ status: 'unavailable' })
  })

  it('serves the console folder at /, index.html for its routes, nothing without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loyalty-console-'))
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>')
    writeFileSync(join(dir, 'app.js'), 'export const x = 1')
    const s = await setup({ consoleDir: dir })
    const none = await setup({ consoleDir: join(dir, 'missing') })
    cleanups.push(async () => {
      await s.close()
      await none.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const index = await fetch(`${s.base}/`)
    expect(index.headers.get('content-type')).toMatch(/text\/html/)
    expect(await index.text()).toContain('<title>console</title>')
    expect(await (await fetch(`${s.base}/app.js`)).text()).toBe('export const x = 1')
    expect(await (await fetch(`${s.base}/members/42`)).text()).toContain('<title>console</title>')
    // A member id with a dot is a console route too, not a missing file.
    expect(await (await fetch(`${s.base}/members/john.doe`)).text()).toContain('<title>console</title>')
    expect((await fetch(`${s.base}/assets/gone-1234.js`)).status).toBe(404)
    expect((await fetch(`${s.base}/missing.js`)).status).toBe(404)
    expect((await fetch(`${s.base}/%2e%2e/package.json`)).status).toBe(404)
    expect((await call(s.base, '/v1/unknown')).status).toBe(404)
    expect((await call(none.base, '/')).status).toBe(404)
  })

  it('documents exactly the routes the app registers', async () => {
    const s = await setup()
    cleanups.push(() => s.close())
    const served = await call(s.base, '/openapi.json')
    expect(served.status).toBe(200)
    const document = served.body
    expect(document).toEqual(JSON.parse(JSON.stringify(openApiDocument())))
    expect(document.openapi).toBe('3.1.0')
    const registered = s.app.routes
      .filter((route) => route.method !== 'ALL')
      .map((route) => `${route.method.toLowerCase()} ${openApiPath(route.path)}`)
    const documented = Object.entries(document.paths as Record<string, Json>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
    expect(new Set(registered).size).toBe(registered.length)
    expect([...registered].sort()).toEqual([...documented].sort())
    for (const [path, methods] of Object.entries(document.paths as Record<string, Json>)) {
      for (const [method, operation] of Object.entries(methods as Record<string, Json>)) {
        expect(Object.keys(operation.responses).length, `${method} ${path}`).toBeGreaterThan(0)
      }
    }
    // The ruleset routes take force=true past a stranding refusal (409); the document said neither.
    const paths = document.paths as Record<string, Record<string, Json>>
    for (const [path, names] of [['/v1/rulesets', ['activate', 'note', 'force']], ['/v1/rulesets/{version}/activate', ['force']]] as const) {
      const operation = paths[path]!['post']!
      expect(operation.parameters.filter((p: Json) => p.in === 'query').map((p: Json) => p.name), path).toEqual(names)
      expect(operation.responses['409'], path).toBeDefined()
    }
    const refs = JSON.stringify(document).match(/#\/components\/(schemas|responses)\/\w+/g) ?? []
    for (const ref of new Set(refs)) {
      const [, , kind, name] = ref.split('/')
      expect(document.components[kind!]?.[name!], ref).toBeDefined()
    }
  })

  it('documents request fields the engine knows, and the engine refuses others', () => {
    for (const op of [...accountCommands, 'preview'] as const) {
      const schema = operationBodies[op] as { properties: Record<string, unknown> }
      for (const field of Object.keys(schema.properties)) {
        // An absurd value: the engine may refuse it, but never as an unknown field.
        const validation = validateCommand({ op, account: 'a', key: 'k', [field]: { x: 1 } })
        const message = validation.ok ? '' : validation.reply.message
        expect(message, `${op}.${field}`).not.toMatch(/is not a field of/)
      }
      const unknown = validateCommand({ op, account: 'a', key: 'k', undocumented: 1 })
      expect(unknown).toMatchObject({ ok: false, reply: { field: 'undocumented' } })
    }
  })

  it('documents the join fields the gateway knows, and the gateway refuses others', async () => {
    const s = await setup()
    cleanups.push(() => s.close())
    const partner = { kind: 'partner' as const, id: 'shop' }
    const schema = openApiDocument() as Json
    const join = schema.components.schemas.JoinRequest
    const count = s.h.engine.members.count()
    const refusedAs = async (fields: Record<string, unknown>) => {
      const reply = await s.h.gateway.execute(partner, 'join', { key: 'k', program: 'demo', ...fields })
      expect(reply.status, JSON.stringify(fields)).toBe('invalid_request')
      return reply.message ?? ''
    }
    // Absurd values: refused, but never as unknown fields.
    for (const field of Object.keys(join.properties).filter((f) => f !== 'member')) {
      expect(await refusedAs({ [field]: 5 }), field).not.toMatch(/is not a field of|not a known field/)
    }
    for (const field of Object.keys(join.properties.member.properties)) {
      expect(await refusedAs({ member: { [field]: { x: 1 } } }), `member.${field}`).not.toMatch(/is not a field of|not a known field/)
    }
    expect(await refusedAs({ undocumented: 1 })).toMatch(/is not a field of join/)
    expect(await refusedAs({ member: { undocumented: 1 } })).toMatch(/not a known field/)
    expect(s.h.engine.members.count()).toBe(count)
  })
})

describe('revoking API tokens and disabling console users', () => {
  it('lists tokens without secrets, and a revoked token authenticates nothing until restored', async () => {
    const s = await setup()
    try {
      const admin = new Client(s.base, { token: await adminToken(s) })
      const issued = await admin.post('/v1/tokens', { name: 'Shop', role: 'partner' })
      const shop = new Client(s.base, { token: issued.body.secret })
      expect((await shop.get('/v1/session')).status).toBe(200)
      const listed = await admin.get('/v1/tokens')
      expect(listed.body.tokens).toEqual(expect.arrayContaining([
        expect.objectContaining({ id: issued.body.token.id, name: 'Shop', role: 'partner', disabled: false }),
      ]))
      expect(JSON.stringify(listed.body)).not.toContain(issued.body.secret.split('.')[1])
      const revoked = await admin.post(`/v1/tokens/${issued.body.token.id}/revoke`)
      expect(revoked.body.token).toMatchObject({ disabled: true })
      expect((await shop.get('/v1/session')).status).toBe(401)
      await admin.post(`/v1/tokens/${issued.body.token.id}/restore`)
      expect((await shop.get('/v1/session')).status).toBe(200)
      expect((await admin.post('/v1/tokens/tok_nope/revoke')).status).toBe(404)
      expect((await shop.get('/v1/tokens')).status).toBe(403)
      const actions = s.h.engine.members.audit.search({ action: 'token.' }).records.map((r) => r.action)
      expect(actions.sort()).toEqual(['token.issue', 'token.restore', 'token.revoke'])
    } finally {
      await s.close()
    }
  })

  it('a disabled user cannot log in and its open sessions end at once; nobody disables themselves', async () => {
    const s = await setup()
    try {
      const admin = new Client(s.base, { token: await adminToken(s) })
      const password = 'long enough secret'
      await admin.post('/v1/users', { username: 'kim', role: 'support', password })
      const session = await login(s.base, 'kim', password)
      const kim = new Client(s.base, { cookie: session.cookie })
      expect((await kim.get('/v1/session')).status).toBe(200)
      const disabled = await admin.post('/v1/users/kim/disable')
      expect(disabled.body.user).toMatchObject({ username: 'kim', disabled: true })
      expect((await kim.get('/v1/session')).status).toBe(401)
      expect((await login(s.base, 'kim', password)).status).toBe(401)
      await admin.post('/v1/users/kim/enable')
      expect((await login(s.base, 'kim', password)).status).toBe(200)
      expect((await admin.post('/v1/users/nobody/disable')).status).toBe(404)
      await admin.post('/v1/users', { username: 'boss', role: 'admin', password })
      const boss = new Client(s.base, { cookie: (await login(s.base, 'boss', password)).cookie })
      const self = await boss.post('/v1/users/boss/disable')
      expect(self.status).toBe(409)
      expect(self.body.field).toBe('username')
    } finally {
      await s.close()
    }
  })
})
