/**
 * The API client against a fake fetch: the requests it sends (method, path,
 * query, JSON body, same-origin credentials), the bodies it resolves to, and
 * how refusals become ApiErrors: the field, ruleset errors with paths, 401s
 * reported to the session (but not a failed login's), missing routes, and a
 * server that cannot be reached.
 */
import { describe, expect, it } from 'vitest'
import { ApiError, createClient, normalizeStats, queryString, strandingRefusal } from './client.ts'

interface Sent {
  url: string
  method: string
  body: unknown
  headers: Record<string, string>
  credentials: RequestCredentials | undefined
}

function fakeServer(reply: (sent: Sent) => { status: number; body?: unknown; type?: string }) {
  const sent: Sent[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request: Sent = {
      url: String(input),
      method: init?.method ?? 'GET',
      body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
      headers: (init?.headers ?? {}) as Record<string, string>,
      credentials: init?.credentials,
    }
    sent.push(request)
    const answer = reply(request)
    const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body)
    return new Response(text, { status: answer.status, headers: { 'content-type': answer.type ?? 'application/json' } })
  }
  return { fetch: fetch as typeof globalThis.fetch, sent }
}

describe('queryString', () => {
  it('leaves out undefined and empty values and escapes the rest', () => {
    expect(queryString(undefined)).toBe('')
    expect(queryString({ a: undefined, b: '' })).toBe('')
    expect(queryString({ name: 'de la', limit: 5, flag: true, none: undefined })).toBe('?name=de+la&limit=5&flag=true')
  })
})

describe('requests', () => {
  it('sends JSON with same-origin credentials and resolves to the reply body', async () => {
    const server = fakeServer(() => ({ status: 200, body: { status: 'ok', entry: 7, balance: { available: 350, pending: 0, held: 0 } } }))
    const client = createClient({ fetch: server.fetch })
    const reply = await client.accounts.adjust('member 1', { key: 'k1', points: -40, reason: 'goodwill' })
    expect(reply.balance?.available).toBe(350)
    expect(server.sent).toEqual([{
      url: '/v1/accounts/member%201/adjust',
      method: 'POST',
      body: { key: 'k1', points: -40, reason: 'goodwill' },
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
    }])
  })

  it('puts query parameters in the URL and escapes path segments', async () => {
    const server = fakeServer(() => ({ status: 200, body: { status: 'ok', members: [] } }))
    const client = createClient({ fetch: server.fetch, baseUrl: 'http://gw' })
    await client.members.search({ name: 'lov', status: 'active', limit: 20 })
    await client.accounts.history('a/b', { limit: 25, before: 12 })
    await client.cards.setStatus('block', 'card', '4000 1234', 'stolen')
    await client.rulesets.publish({ programs: [] }, { activate: true, note: 'spring' })
    await client.rulesets.publish({ programs: [] }, { activate: false })
    await client.rulesets.publish({ programs: [] }, { activate: true, force: true })
    await client.rulesets.publish({ programs: [] }, { activate: false, force: true })
    await client.rulesets.activate(3)
    await client.rulesets.activate(3, { force: true })
    expect(server.sent.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET http://gw/v1/members?name=lov&status=active&limit=20',
      'GET http://gw/v1/accounts/a%2Fb/history?limit=25&before=12',
      'POST http://gw/v1/cards/card/4000%201234/block',
      'POST http://gw/v1/rulesets?activate=true&note=spring',
      'POST http://gw/v1/rulesets',
      'POST http://gw/v1/rulesets?activate=true&force=true',
      'POST http://gw/v1/rulesets',
      'POST http://gw/v1/rulesets/3/activate',
      'POST http://gw/v1/rulesets/3/activate?force=true',
    ])
    expect(server.sent[2]!.body).toEqual({ reason: 'stolen' })
  })

  it('makes a single liability object a list', async () => {
    const raw = {
      status: 'ok' as const, at: 1, members: { total: 1, active: 1, suspended: 0, closed: 0 },
      points: { issued: 10, redeemed: 0, expired: 0, outstanding: 10, held: 0 },
      liability: { points: 10, money: 10, currency: 'USD' }, tiers: [],
    }
    expect(normalizeStats(raw).liability).toEqual([{ points: 10, money: 10, currency: 'USD' }])
    const server = fakeServer(() => ({ status: 200, body: { ...raw, liability: [{ program: 'demo', points: 10, money: 10, currency: 'USD' }] } }))
    const stats = await createClient({ fetch: server.fetch }).stats.summary()
    expect(stats.liability).toEqual([{ program: 'demo', points: 10, money: 10, currency: 'USD' }])
  })
})

describe('API tokens and user access', () => {
  const token = { id: 'tok_1a2b', name: 'Acme payments', role: 'processor', createdAt: 1, disabled: false }

  it('lists, issues, revokes and restores tokens, escaping the id', async () => {
    const server = fakeServer((sent) => sent.url === '/v1/tokens' && sent.method === 'POST'
      ? { status: 201, body: { status: 'ok', token, secret: 'tok_1a2b.s3cr3t' } }
      : sent.method === 'GET'
        ? { status: 200, body: { status: 'ok', tokens: [token] } }
        : { status: 200, body: { status: 'ok', token: { ...token, disabled: sent.url.endsWith('/revoke') } } })
    const client = createClient({ fetch: server.fetch })
    expect((await client.tokens.list()).tokens).toEqual([token])
    const issued = await client.tokens.issue({ name: 'Acme payments', role: 'processor' })
    expect(issued).toEqual({ status: 'ok', token, secret: 'tok_1a2b.s3cr3t' })
    expect((await client.tokens.revoke('tok 1/a')).token.disabled).toBe(true)
    expect((await client.tokens.restore('tok_1a2b')).token.disabled).toBe(false)
    expect(server.sent.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /v1/tokens',
      'POST /v1/tokens',
      'POST /v1/tokens/tok%201%2Fa/revoke',
      'POST /v1/tokens/tok_1a2b/restore',
    ])
    expect(server.sent[1]!.body).toEqual({ name: 'Acme payments', role: 'processor' })
    expect(server.sent[2]!.body).toEqual({})
  })

  it('carries the field of a refused token', async () => {
    const server = fakeServer(() => ({ status: 400, body: { status: 'invalid_request', field: 'role', message: 'role must be one of processor, partner, admin' } }))
    const error = await createClient({ fetch: server.fetch }).tokens.issue({ name: 'x', role: 'processor' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ httpStatus: 400, field: 'role', message: expect.stringContaining('one of') })
  })

  it('disables and enables a user, and keeps the 409 for disabling yourself', async () => {
    const user = { username: 'j.doe', role: 'support', createdAt: 1, disabled: true }
    const server = fakeServer((sent) => sent.url.includes('admin')
      ? { status: 409, body: { status: 'invalid_request', field: 'username', message: 'you cannot disable yourself' } }
      : { status: 200, body: { status: 'ok', user: { ...user, disabled: sent.url.endsWith('/disable') } } })
    const client = createClient({ fetch: server.fetch })
    expect((await client.users.disable('j.doe')).user.disabled).toBe(true)
    expect((await client.users.enable('j.doe')).user.disabled).toBe(false)
    const refused = (await client.users.disable('admin').catch((e: unknown) => e)) as ApiError
    expect(refused).toMatchObject({ httpStatus: 409, field: 'username', message: 'you cannot disable yourself' })
    expect(refused.unauthenticated).toBe(false)
    expect(server.sent.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /v1/users/j.doe/disable',
      'POST /v1/users/j.doe/enable',
      'POST /v1/users/admin/disable',
    ])
  })
})

describe('refusals', () => {
  it('carries the status, field and message of an invalid request', async () => {
    const server = fakeServer(() => ({ status: 400, body: { status: 'invalid_request', field: 'reason', message: 'reason is required' } }))
    const error = await createClient({ fetch: server.fetch }).accounts.adjust('a', { key: 'k', points: 5, reason: '' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ httpStatus: 400, status: 'invalid_request', field: 'reason', message: 'reason is required' })
    expect((error as ApiError).unauthenticated).toBe(false)
  })

  it('keeps every ruleset error with its path (422)', async () => {
    const errors = [
      { path: 'programs[0].rules[1].per', message: 'must be an integer from 1 to 1000000000000, got 0' },
      { path: 'programs[0].tiers[2].id', message: 'duplicate "gold" (already at [1])' },
    ]
    const server = fakeServer(() => ({ status: 422, body: { status: 'invalid_request', field: errors[0]!.path, message: '2 errors', errors } }))
    const error = (await createClient({ fetch: server.fetch }).rulesets.publish({ programs: [] }, { activate: false }).catch((e: unknown) => e)) as ApiError
    // A rejection, not the 422 body resolved as if it were a publish result.
    expect(error).toBeInstanceOf(ApiError)
    expect(error.httpStatus).toBe(422)
    expect(error.errors).toEqual(errors)
    expect(error.field).toBe('programs[0].rules[1].per')
    expect(strandingRefusal(error)).toBe(false)
  })

  it('tells a refusal to strand accounts (409) from the validator\'s errors', async () => {
    const errors = [
      { path: 'programs[demo].tiers', message: 'tier bronze of program demo is missing, and 6 accounts are in it' },
      { path: '$', message: 'move those accounts first, or activate with force to leave them where they are' },
    ]
    const server = fakeServer(() => ({ status: 409, body: { status: 'invalid_request', field: errors[0]!.path, message: '2 errors', errors } }))
    const error = await createClient({ fetch: server.fetch }).rulesets.publish({ programs: [] }, { activate: true }).catch((e: unknown) => e)
    expect(strandingRefusal(error)).toBe(true)
    expect((error as ApiError).errors).toEqual(errors)
    expect(strandingRefusal(new ApiError(409, { status: 'invalid_request', message: 'taken' }))).toBe(false)
    expect(strandingRefusal(new Error('no'))).toBe(false)
  })

  it('reports a 401 to the session, except a failed login', async () => {
    const reported: ApiError[] = []
    const server = fakeServer(() => ({ status: 401, body: { status: 'unauthorized', message: 'the session has expired or ended; log in again' } }))
    const client = createClient({ fetch: server.fetch, onUnauthenticated: (e) => reported.push(e) })
    await expect(client.session.login('admin', 'nope')).rejects.toMatchObject({ httpStatus: 401 })
    expect(reported).toHaveLength(0)
    await expect(client.members.get('ada')).rejects.toMatchObject({ unauthenticated: true })
    expect(reported).toHaveLength(1)
    expect(reported[0]!.message).toContain('expired')
  })

  it('tells a missing route (an older gateway) from a missing thing', async () => {
    const server = fakeServer((sent) => sent.url.includes('stats')
      ? { status: 404, body: { status: 'invalid_request', field: 'path', message: 'no route GET /v1/stats; see /openapi.json' } }
      : { status: 404, body: { status: 'account_not_found', field: 'id', message: 'no member x' } })
    const client = createClient({ fetch: server.fetch })
    const missing = (await client.stats.summary().catch((e: unknown) => e)) as ApiError
    const unknown = (await client.members.get('x').catch((e: unknown) => e)) as ApiError
    expect([missing.missingRoute, missing.notFound]).toEqual([true, false])
    expect([unknown.missingRoute, unknown.notFound]).toEqual([false, true])
  })

  it('forbidden is a 403, and a reply without JSON is still an ApiError', async () => {
    const server = fakeServer((sent) => sent.url.includes('terminals')
      ? { status: 403, body: { status: 'unauthorized', message: 'a marketer may not manage terminals (allowed: admin)' } }
      : { status: 502, body: '<html>bad gateway</html>', type: 'text/html' })
    const client = createClient({ fetch: server.fetch })
    await expect(client.terminals.list()).rejects.toMatchObject({ forbidden: true, status: 'unauthorized' })
    await expect(client.audit.search({})).rejects.toMatchObject({ httpStatus: 502, status: 'unavailable' })
  })

  it('a server that cannot be reached is status network, HTTP 0', async () => {
    const client = createClient({ fetch: () => Promise.reject(new TypeError('Failed to fetch')) })
    await expect(client.session.current()).rejects.toMatchObject({ httpStatus: 0, status: 'network', message: expect.stringContaining('Failed to fetch') })
  })
})
