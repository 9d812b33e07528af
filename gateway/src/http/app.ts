/**
 * The REST interface, on hono: e-shops and partners run account operations
 * (`/v1/accounts/:account/<op>`) and sign new members up (`POST /v1/join`,
 * the gateway's `join`), and the admin console logs in and manages
 * rulesets, terminals, tokens and users (`admin.ts`). `GET /openapi.json`
 * describes every route (`openapi.ts`), `GET /healthz` says whether the
 * process takes traffic, and a built console, if there is one, is served at `/`.
 *
 * Every account operation goes through `Gateway.execute`, so roles, source
 * stamping and validation are the core's and the engine's, as on every other
 * interface; this adapter only moves JSON. The account in the path is the
 * account, or `-` when the member is named by `card`, `phone` or `email` (in
 * the body, or the query of a GET): the engine resolves it and refuses a
 * blocked card or a suspended member. The idempotency key is the body's `key`
 * or the `Idempotency-Key` header. A reply's body is the engine's Reply, with
 * `status`; its HTTP code follows `status.ts`. Members, cards and the CSV
 * import and export are `members.ts`; the audit trail is `audit.ts`.
 *
 * A request the adapter refuses (bad credentials, a body that is not a JSON
 * object of at most 64 KiB, a bad query parameter) is answered in the same
 * shape, and never reaches the engine.
 *
 * @module
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'
import { HTTPException } from 'hono/http-exception'
import type { CookieOptions } from 'hono/utils/cookie'
import type { Logger, MemberRegistry, Reply } from '@loyalty/engine'
import { isJoinConflict, type Gateway, type OperationName, type Principal } from '../core/gateway.ts'
import { registerAdmin } from './admin.ts'
import { consoleCaching } from './console.ts'
import { actorOf, AuditLog } from './audit.ts'
import {
  guarded,
  sessionCookieName,
  unauthenticated,
  type Caller,
  type HttpDeps,
} from './guard.ts'
import { accountCommands, openApiDocument } from './openapi.ts'
import {
  invalid,
  jsonBody,
  onlyFields,
  queryFields,
  queryInteger,
  Refusal,
  text,
  type Body,
} from './request.ts'
import { registerMembers } from './members.ts'
import { registerStats } from './stats.ts'
import { SessionStore, sessionDefaults, type Session } from './sessions.ts'
import { httpStatusOf, retryHeaders } from './status.ts'

export interface HttpAppOptions {
  logger: Logger
  /** False while the process is starting or draining: `/healthz` answers 503. */
  ready: () => boolean
  /** The built admin console, served at `/` when the folder exists. */
  consoleDir?: string
  /** Console session lifetime; default 12 hours. */
  sessionTtlMs?: number
  /** Console sessions kept at most (the oldest is dropped); default 10,000. */
  sessionsMax?: number
  /** The clock sessions read (tests); audit records carry the registry's. */
  clock?: () => number
}

/**
 * The REST app for a gateway. Serve it with `startHttpServer`, or call
 * `app.fetch(request)` directly.
 *
 * @example
 *   const app = createHttpApp(gateway, { logger, ready: () => true })
 *   const server = await startHttpServer(app, { port: 8080 })
 */
export function createHttpApp(gateway: Gateway, options: HttpAppOptions): Hono {
  const clock = options.clock ?? Date.now
  const deps: HttpDeps = {
    gateway,
    engine: gateway.engine,
    logger: options.logger,
    sessions: new SessionStore({
      ttlMs: options.sessionTtlMs ?? sessionDefaults.ttlMs,
      max: options.sessionsMax ?? sessionDefaults.max,
      clock,
    }),
    audit: new AuditLog(gateway.engine.members, options.logger),
  }
  const app = new Hono()
  registerMeta(app, options.ready)
  app.use('/v1/*', wellFormedRequest())
  registerSession(app, deps)
  registerAccounts(app, deps)
  registerJoin(app, deps)
  registerMembers(app, deps)
  registerAdmin(app, deps)
  registerStats(app, deps)
  const consoleDir = options.consoleDir === undefined ? undefined : resolve(options.consoleDir)
  app.use('*', consoleCaching())
  if (consoleDir !== undefined && isDirectory(consoleDir)) app.use('*', consoleFiles(consoleDir))
  app.notFound(notFound(app))
  app.onError((error, c) => failed(error, c, options.logger))
  return app
}

function registerMeta(app: Hono, ready: () => boolean) {
  app.get('/healthz', (c) => {
    return ready() ? c.json({ status: 'ok' }) : c.json({ status: 'unavailable' }, 503)
  })
  const document = openApiDocument()
  app.get('/openapi.json', (c) => c.json(document))
}

/** The engine's reply, with the HTTP code its status maps to. */
function replied(c: Context, reply: Reply): Response {
  return c.json(reply, httpStatusOf[reply.status], retryHeaders(reply.status))
}

/**
 * Callers whose ledger commands go to the audit log as well as the journal:
 * people (console users and admin tokens) changing balances by hand. Machine
 * traffic (terminals, processors, partners) is recorded in the journal only,
 * with its source, at full rate.
 */
const operators: ReadonlySet<string> = new Set(['admin', 'support', 'marketer'])

/** The member a command changed: named in the path, or found by the identifier it gave (`-`). */
function accountOf(c: Context, fields: Body, members: MemberRegistry): string {
  const named = c.req.param('account')
  if (named !== undefined && named !== '-') return named
  for (const type of ['card', 'phone', 'email'] as const) {
    const value = fields[type]
    if (typeof value === 'string') return members.resolve(type, value)?.member.id ?? value
  }
  return '-'
}

function registerAccounts(app: Hono, deps: HttpDeps) {
  const run = (c: Context, caller: Caller, op: OperationName, fields: Body) =>
    deps.gateway.execute(caller.principal, op, fields).then((reply) => replied(c, reply))
  for (const op of accountCommands) {
    app.post(`/v1/accounts/:account/${op}`, guarded(deps, 'anyone', async (c, caller) => {
      // The fields are the body's: one sent in the query would be dropped, silently.
      queryFields(c, [])
      const fields = withIdempotencyKey(c, accountFields(c, await jsonBody(c), op))
      const reply = await deps.gateway.execute(caller.principal, op, fields)
      if (reply.status === 'ok' && operators.has(caller.principal.kind)) {
        await deps.audit.record(actorOf(c, caller.principal), `account.${op}`, accountOf(c, fields, deps.engine.members), {
          key: fields['key'],
          ...(reply.entry === undefined ? {} : { entry: reply.entry }),
          // As asked (signed, for an adjustment), else as applied.
          ...(typeof fields['points'] === 'number' ? { points: fields['points'] } : {}),
          ...(typeof fields['points'] !== 'number' && reply.points !== undefined ? { points: reply.points } : {}),
          ...(typeof fields['reason'] === 'string' ? { reason: fields['reason'] } : {}),
        })
      }
      return replied(c, reply)
    }))
  }
  app.post('/v1/accounts/:account/transfer', guarded(deps, 'anyone', async (c, caller) => {
    queryFields(c, [])
    if (c.req.param('account') === byIdentifier) {
      throw invalid('account', 'a transfer names its sender by member id in the path, not by card, phone or email')
    }
    const fields = withIdempotencyKey(c, accountFields(c, await jsonBody(c), 'transfer'))
    const reply = await deps.gateway.execute(caller.principal, 'transfer', fields)
    if (reply.status === 'ok' && operators.has(caller.principal.kind)) {
      await deps.audit.record(actorOf(c, caller.principal), 'account.transfer', String(fields['account']), {
        key: fields['key'],
        to: fields['to'],
        points: fields['points'],
        ...(reply.transfer === undefined ? {} : { transfer: reply.transfer.id }),
        ...(typeof fields['reason'] === 'string' ? { reason: fields['reason'] } : {}),
      })
    }
    return replied(c, reply)
  }))
  app.post('/v1/accounts/:account/preview', guarded(deps, 'anyone', async (c, caller) => {
    queryFields(c, [])
    return run(c, caller, 'preview', accountFields(c, await jsonBody(c), 'preview'))
  }))
  for (const op of ['balance', 'member', 'lots'] as const) {
    app.get(`/v1/accounts/:account/${op}`, guarded(deps, 'anyone', (c, caller) => {
      return run(c, caller, op, queryMember(c, []))
    }))
  }
  app.get('/v1/accounts/:account/history', guarded(deps, 'anyone', (c, caller) => {
    // A misspelt limit (`?limt=5`) must not answer the default page as if all were well.
    const fields = queryMember(c, ['limit', 'before'])
    // Ranges are the engine's to check (it answers at most historyLimitMax entries a page).
    const limit = queryInteger(c, 'limit')
    const before = queryInteger(c, 'before')
    if (limit !== undefined) fields['limit'] = limit
    if (before !== undefined) fields['before'] = before
    return run(c, caller, 'history', fields)
  }))
}

/**
 * `POST /v1/join`: a new member (registry record, optional card, program
 * enrolment) in one idempotent step, the gateway's `join` with the fields of
 * the WebSocket frame and the gRPC `JoinRequest`. There is no account in the
 * path: the member id is `member.id`, or derived from the caller and the key,
 * so a retry answers the same member and `exists`. A refusal for what the
 * registry holds (a taken card, email, phone or id; a retry naming other
 * details) is 409, as on `POST /v1/members`; other refusals follow `status.ts`.
 */
function registerJoin(app: Hono, deps: HttpDeps) {
  app.post('/v1/join', guarded(deps, 'anyone', async (c, caller) => {
    // The fields are the body's: one sent in the query would be dropped, silently.
    queryFields(c, [])
    const fields = withIdempotencyKey(c, await jsonBody(c))
    const reply = await deps.gateway.execute(caller.principal, 'join', fields)
    if (isJoinConflict(reply)) return c.json(reply, 409)
    if (reply.status === 'ok' && operators.has(caller.principal.kind) && reply.member !== undefined) {
      await deps.audit.record(actorOf(c, caller.principal), 'account.join', reply.member.id, {
        key: fields['key'],
        program: fields['program'],
        ...(reply.entry === undefined ? {} : { entry: reply.entry }),
        ...(reply.points === undefined ? {} : { points: reply.points }),
      })
    }
    return replied(c, reply)
  }))
}

/** The path's account that stands for "the member the identifier names". */
export const byIdentifier = '-'
const identifierFields = ['card', 'phone', 'email'] as const

function oneIdentifier(fields: Body, where: string): void {
  const named = identifierFields.filter((field) => fields[field] !== undefined)
  if (named.length !== 1) {
    const message = `with ${byIdentifier} as the account, name the member by exactly one ` +
      `of card, phone or email in the ${where}`
    throw invalid(named[1] ?? 'card', message)
  }
}

/**
 * The body's fields with the path's account. A body may repeat the account or
 * the op, but not contradict them: a request must not mean two things. With
 * `-` as the account, the body's card, phone or email names the member.
 */
function accountFields(c: Context, body: Body, op: OperationName): Body {
  const account = c.req.param('account')
  if (body['account'] !== undefined && body['account'] !== account) {
    const named = JSON.stringify(body['account'])
    throw invalid('account', `the body names account ${named}, the path ${account}`)
  }
  if (body['op'] !== undefined && body['op'] !== op) {
    throw invalid('op', `the body names op ${JSON.stringify(body['op'])}, the path ${op}`)
  }
  const { op: _op, ...fields } = body
  if (account === byIdentifier) {
    delete fields['account']
    oneIdentifier(fields, 'body')
    return fields
  }
  fields['account'] = account
  return fields
}

/**
 * A query's member: the path's account, or with `-` the query's card, phone or email.
 * Refuses query parameters other than those and `allowed`.
 */
function queryMember(c: Context, allowed: readonly string[]): Body {
  const account = c.req.param('account') ?? ''
  const named = Object.keys(c.req.query())
  if (account !== byIdentifier) {
    const identifier = named.find((name) => (identifierFields as readonly string[]).includes(name))
    if (identifier !== undefined) {
      throw invalid(identifier, `${identifier} names the member only with ${byIdentifier} as the account; the path names ${account}`)
    }
    queryFields(c, allowed)
    return { account }
  }
  queryFields(c, [...allowed, ...identifierFields])
  const fields: Body = {}
  for (const field of identifierFields) {
    const value = c.req.query(field)
    if (value !== undefined) fields[field] = value
  }
  oneIdentifier(fields, 'query')
  return fields
}

/** The body's `key`, or else the `Idempotency-Key` header; both must agree if both are given. */
function withIdempotencyKey(c: Context, fields: Body): Body {
  const header = c.req.header('idempotency-key')
  if (header === undefined) return fields
  if (fields['key'] === undefined) fields['key'] = header
  else if (fields['key'] !== header) {
    throw invalid('key', 'the body\'s key and the Idempotency-Key header differ')
  }
  return fields
}

function registerSession(app: Hono, deps: HttpDeps) {
  app.post('/v1/session', async (c) => {
    const body = await jsonBody(c)
    onlyFields(body, ['username', 'password'])
    const username = text(body, 'username', { max: 64 })
    const password = text(body, 'password', { max: 1024, characters: 'any' })
    const principal = await deps.gateway.user(username, password)
    if (principal === undefined) {
      deps.logger.warn(`http: failed console login as ${JSON.stringify(username)}`)
      throw unauthenticated('wrong user name or password')
    }
    const session = deps.sessions.create(principal)
    setCookie(c, sessionCookieName, session.id, {
      ...cookieOptions(c),
      maxAge: Math.floor(deps.sessions.ttlMs / 1000),
    })
    await deps.audit.record(actorOf(c, principal), 'session.login', principal.id)
    return c.json(whoAmI(principal, session))
  })
  app.get('/v1/session', guarded(deps, 'anyone', (c, caller) => {
    return c.json(whoAmI(caller.principal, caller.session))
  }))
  // Logging out needs no valid session: it always ends up logged out.
  app.delete('/v1/session', async (c) => {
    const id = deleteCookie(c, sessionCookieName, cookieOptions(c))
    const session = id === undefined ? undefined : deps.sessions.get(id)
    if (session !== undefined) {
      deps.sessions.delete(session.id)
      const principal = session.principal
      await deps.audit.record(actorOf(c, principal), 'session.logout', principal.id)
    }
    return c.json({ status: 'ok' })
  })
}

/**
 * HttpOnly (scripts never see it), SameSite=Strict (no other site's page can
 * send it), Secure when the request came over HTTPS (directly or, as a
 * proxy's X-Forwarded-Proto says, to the proxy): a plain-HTTP console on a
 * private network can still log in.
 */
function cookieOptions(c: Context): CookieOptions {
  const https = new URL(c.req.url).protocol === 'https:' ||
    c.req.header('x-forwarded-proto') === 'https'
  return { path: '/', httpOnly: true, sameSite: 'Strict', secure: https }
}

function whoAmI(principal: Principal, session: Session | undefined) {
  const who = { status: 'ok', username: principal.id, role: principal.kind }
  return session === undefined ? who : { ...who, expiresAt: session.expiresAt }
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true
}

/**
 * What every API request must be before a route reads it: a path whose %-escapes decode
 * (hono hands a parameter it cannot decode over as it was, so `/v1/accounts/%E0%A4%A/earn`
 * credited an account named `%E0%A4%A`), and a query that names each parameter once
 * (`?limit=5&limit=500` read as the first, as JSON with a key twice would be read as the last).
 */
function wellFormedRequest(): MiddlewareHandler {
  return async (c, next) => {
    // Every REST request passes here: most have neither an escape nor a query, and pay two string scans.
    const url = c.req.url
    const queryAt = url.indexOf('?')
    if (url.lastIndexOf('%', queryAt === -1 ? undefined : queryAt) !== -1) {
      for (const segment of new URL(url).pathname.split('/')) {
        try {
          decodeURIComponent(segment)
        } catch {
          throw invalid('path', `the path segment ${JSON.stringify(segment)} is not valid percent-encoded UTF-8`)
        }
      }
    }
    if (queryAt !== -1) {
      const seen = new Set<string>()
      for (const name of new URLSearchParams(url.slice(queryAt + 1)).keys()) {
        if (seen.has(name)) throw invalid(name, `the query has the parameter ${JSON.stringify(name)} twice`)
        seen.add(name)
      }
    }
    await next()
  }
}

const apiPath = /^\/(?:v1(?:\/|$)|healthz$|openapi\.json$)/

/**
 * The console's files; a path with no file extension that is not a file gets
 * `index.html`, so the console's own routes survive a reload.
 */
function consoleFiles(root: string): MiddlewareHandler {
  const files = serveStatic({ root })
  const index = serveStatic({ root, path: 'index.html' })
  return async (c, next) => {
    if (apiPath.test(c.req.path)) return next()
    let missing = false
    const found = await files(c, async () => {
      missing = true
    })
    if (!missing) return found
    return isPage(c.req.path) ? index(c, next) : next()
  }
}

/** Files the console is built of: what a missing path with one of these endings was after. */
const assetPath = /^\/assets\/|\.(?:js|mjs|css|map|html|json|txt|ico|png|jpe?g|gif|svg|webp|woff2?|webmanifest)$/i

/** A console route (`/members/42`, `/members/john.doe`), not a file (`/app.js`). */
function isPage(path: string): boolean {
  return !assetPath.test(path)
}

/** 405 with `Allow` when the path exists with other methods, else 404; both as replies. */
function notFound(app: Hono) {
  let table: { pattern: RegExp; method: string }[] | undefined
  return (c: Context): Response => {
    // Built on first use: every route is registered by then.
    table ??= app.routes
      .filter((route) => route.method !== 'ALL')
      .map((route) => ({ pattern: routePattern(route.path), method: route.method }))
    const matching = table.filter((route) => route.pattern.test(c.req.path))
    const allowed = [...new Set(matching.map((route) => route.method))]
    if (allowed.length > 0) {
      const message = `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}`
      return c.json({ status: 'invalid_request', field: 'method', message }, 405, {
        Allow: allowed.join(', '),
      })
    }
    const message = `no route ${c.req.method} ${c.req.path}; see /openapi.json`
    return c.json({ status: 'invalid_request', field: 'path', message }, 404)
  }
}

function routePattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${source}/?$`)
}

function failed(error: Error, c: Context, logger: Logger): Response {
  if (error instanceof Refusal) return c.json(error.reply, error.httpStatus, error.headers)
  if (error instanceof HTTPException && error.status < 500) {
    const status = error.status === 401 ? 'unauthorized' : 'invalid_request'
    return c.json({ status, message: error.message }, error.status)
  }
  logger.error(`http: ${c.req.method} ${c.req.path} failed: ${error.stack ?? error.message}`)
  const message = 'internal error; the server log has the cause'
  return c.json({ status: 'unavailable', message }, 500)
}
