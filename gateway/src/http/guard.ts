/**
 * Who is calling a REST route, and whether they may: an API token
 * (`Authorization: Bearer <token>`) or the console's session cookie. A route
 * says which roles it admits; account operations admit every caller and let
 * `Gateway.execute` decide per operation, as every interface does.
 *
 * Missing or wrong credentials are 401; a known caller whose role may not do
 * something is 403. A session cookie is refused on a state-changing request
 * that says it comes from another origin (defence in depth next to the
 * cookie's SameSite=Strict).
 *
 * @module
 */
import type { Context } from 'hono'
import { getCookie } from 'hono/cookie'
import type { Engine, Logger } from '@loyalty/engine'
import type { Gateway, Principal, PrincipalKind } from '../core/gateway.ts'
import type { AuditLog } from './audit.ts'
import { forbidden, Refusal } from './request.ts'
import type { Session, SessionStore } from './sessions.ts'

export const sessionCookieName = 'loyalty_session'

/** What every route handler may use. */
export interface HttpDeps {
  gateway: Gateway
  engine: Engine
  logger: Logger
  sessions: SessionStore
  audit: AuditLog
}

export interface Caller {
  principal: Principal
  /** Present when the caller came with the session cookie. */
  session?: Session
}

/** Who may use a route: `anyone` authenticated, or these roles, to do `action`. */
export type Admits = 'anyone' | { roles: readonly PrincipalKind[]; action: string }

export type GuardedHandler = (c: Context, caller: Caller) => Promise<Response> | Response

export function unauthenticated(message: string): Refusal {
  const challenge = { 'WWW-Authenticate': 'Bearer realm="loyalty"' }
  return new Refusal(401, { status: 'unauthorized', message }, challenge)
}

const bearer = /^Bearer +(\S+) *$/i

/** The caller, or a 401 refusal. An Authorization header, if any, is the only credential read. */
export function authenticate(c: Context, deps: HttpDeps): Caller {
  const authorization = c.req.header('authorization')
  if (authorization !== undefined) {
    const match = bearer.exec(authorization)
    if (match === null) throw unauthenticated('Authorization must be "Bearer <api token>"')
    const principal = deps.gateway.token(match[1]!)
    if (principal === undefined) throw unauthenticated('the API token is wrong or disabled')
    return { principal }
  }
  const id = getCookie(c, sessionCookieName)
  if (id === undefined) throw unauthenticated('send Authorization: Bearer <api token> or log in')
  const session = deps.sessions.get(id)
  if (session === undefined) throw unauthenticated('the session has expired or ended; log in again')
  return { principal: session.principal, session }
}

/** A state-changing request whose Origin names another host than the one it was sent to. */
function crossOrigin(c: Context): boolean {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return false
  const origin = c.req.header('origin')
  if (origin === undefined) return false
  try {
    return new URL(origin).host !== c.req.header('host')
  } catch {
    return true
  }
}

/** Wraps a handler with authentication and the route's role check. */
export function guarded(deps: HttpDeps, admits: Admits, handler: GuardedHandler) {
  return async (c: Context): Promise<Response> => {
    const caller = authenticate(c, deps)
    if (caller.session !== undefined && crossOrigin(c)) {
      throw forbidden('a console session may not be used from another origin')
    }
    if (admits !== 'anyone' && !admits.roles.includes(caller.principal.kind)) {
      const who = caller.principal.kind
      throw forbidden(`a ${who} may not ${admits.action} (allowed: ${admits.roles.join(', ')})`)
    }
    return handler(c, caller)
  }
}
