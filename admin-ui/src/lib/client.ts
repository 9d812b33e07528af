/**
 * The typed REST client the console talks to the gateway with. One method per
 * route the console uses (`GET /openapi.json` documents them all); each
 * resolves to the reply body, or rejects with an `ApiError` carrying the
 * server's `status`, the `field` at fault and, for rulesets, every error with
 * its path. The session cookie is same-origin and HttpOnly: the client never
 * sees it, and a 401 from any route (the session expired or ended) is handed
 * to `onUnauthenticated` so the console can return to its login page.
 *
 * Pure `fetch`, no framework: the console's Solid layer (`api.ts`) wraps the
 * reads in keyed queries, and tests run it against a fake `fetch`.
 *
 * @example
 *   const client = createClient({ onUnauthenticated: () => navigate('/login') })
 *   await client.session.login('admin', 'admin-demo-password')
 *   const page = await client.members.search({ name: 'smi' })
 *
 * @module
 */
import type {
  ApiToken,
  AuditPage,
  AuditQuery,
  CardType,
  ConsoleUser,
  CreatedMember,
  History,
  Household,
  Identifier,
  IssuedTerminal,
  IssuedToken,
  Liability,
  LiveStats,
  Lots,
  Member,
  MemberChanges,
  MemberDetail,
  MemberPage,
  MemberSearch,
  MemberStatus,
  MergeSaga,
  NewMember,
  PreviewRequest,
  PreviewResult,
  Reply,
  Role,
  RulesetDoc,
  RulesetError,
  RulesetInfo,
  SessionInfo,
  Stats,
  StoredRuleset,
  Terminal,
  TokenRole,
} from './types.ts'

/**
 * Whether a ruleset publish or activation was refused because accounts are in
 * a program or tier the version lacks (409): not the validator's errors about
 * the document, but the server's reasons, which `force` overrides.
 */
export function strandingRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && error.httpStatus === 409 && error.errors.length > 0
}

/** A request the server refused, or one that never reached it (`httpStatus` 0). */
export class ApiError extends Error {
  /** The HTTP status; 0 when the server could not be reached. */
  readonly httpStatus: number
  /** The reply's `status` (`invalid_request`, `insufficient_points`, ...), or `network`. */
  readonly status: string
  /** With `invalid_request`: the field (or document path) at fault. */
  readonly field: string | undefined
  /** With a refused ruleset (422): every error, each with its path. */
  readonly errors: readonly RulesetError[]

  constructor(
    httpStatus: number,
    body: { status: string; message?: string; field?: string; errors?: RulesetError[] },
  ) {
    super(body.message ?? `${body.status} (HTTP ${httpStatus})`)
    this.name = 'ApiError'
    this.httpStatus = httpStatus
    this.status = body.status
    this.field = body.field
    this.errors = body.errors ?? []
  }

  /** No session, or it expired or ended: log in again. */
  get unauthenticated(): boolean {
    return this.httpStatus === 401
  }

  /** Logged in, but the role may not do this. */
  get forbidden(): boolean {
    return this.httpStatus === 403
  }

  /** The gateway has no such route (an older gateway than this console). */
  get missingRoute(): boolean {
    return this.httpStatus === 404 && this.field === 'path'
  }

  /** The thing named does not exist (an unknown member, account, version, terminal). */
  get notFound(): boolean {
    return this.httpStatus === 404 && !this.missingRoute
  }
}

export interface ClientOptions {
  /** Prefix of every path; '' (same origin) by default. */
  baseUrl?: string
  /** The fetch to use (tests pass a fake). */
  fetch?: typeof fetch
  /** Called with every 401 except a failed login's. */
  onUnauthenticated?: (error: ApiError) => void
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
type QueryValue = string | number | boolean | undefined

interface RequestOptions {
  body?: unknown
  query?: Record<string, QueryValue>
  /** A 401 here is an answer (wrong password), not an expired session. */
  loginAttempt?: boolean
}

/** `?a=1&b=x`, leaving out undefined and empty values; '' when nothing is left. */
export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (query === undefined) return ''
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue
    params.set(name, String(value))
  }
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

/** Stats as the console reads them: the liability always a list (one entry per program). */
export function normalizeStats(raw: Omit<Stats, 'liability'> & { liability: Liability | Liability[] }): Stats {
  const liability = Array.isArray(raw.liability) ? raw.liability : [raw.liability]
  return { ...raw, liability }
}

/** A path segment, escaped (member ids may hold `:` or `@`, card numbers spaces). */
const segment = (value: string | number) => encodeURIComponent(String(value))

async function replyBody(response: Response): Promise<Record<string, unknown> | undefined> {
  const type = response.headers.get('content-type') ?? ''
  if (!type.includes('application/json')) return undefined
  try {
    return (await response.json()) as Record<string, unknown>
  } catch {
    return undefined
  }
}

function refusedWith(response: Response, body: Record<string, unknown> | undefined): ApiError {
  if (body === undefined || typeof body['status'] !== 'string') {
    const message = `the server answered HTTP ${response.status} without a reply`
    return new ApiError(response.status, { status: 'unavailable', message })
  }
  return new ApiError(response.status, body as { status: string })
}

/**
 * A client for the gateway's REST API.
 *
 * @example
 *   const client = createClient()
 *   const { rulesets } = await client.rulesets.list()
 */
export function createClient(options: ClientOptions = {}) {
  const base = options.baseUrl ?? ''
  const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init))

  async function request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    const init: RequestInit = { method, credentials: 'same-origin', headers: {} }
    if (opts.body !== undefined) {
      init.headers = { 'content-type': 'application/json' }
      init.body = JSON.stringify(opts.body)
    }
    let response: Response
    try {
      response = await fetcher(`${base}${path}${queryString(opts.query)}`, init)
    } catch (error) {
      const message = `cannot reach the server (${(error as Error).message})`
      throw new ApiError(0, { status: 'network', message })
    }
    const body = await replyBody(response)
    if (response.ok && body !== undefined) return body as T
    const error = response.ok
      ? new ApiError(response.status, { status: 'unavailable', message: 'the reply is not JSON' })
      : refusedWith(response, body)
    if (error.unauthenticated && opts.loginAttempt !== true) options.onUnauthenticated?.(error)
    throw error
  }

  const get = <T>(path: string, query?: Record<string, QueryValue>) =>
    request<T>('GET', path, { query })
  const post = <T>(path: string, body: unknown = {}, query?: Record<string, QueryValue>) =>
    request<T>('POST', path, { body, query })

  return {
    session: {
      login: (username: string, password: string) =>
        request<SessionInfo>('POST', '/v1/session', {
          body: { username, password },
          loginAttempt: true,
        }),
      current: () => get<SessionInfo>('/v1/session'),
      logout: () => request<{ status: 'ok' }>('DELETE', '/v1/session'),
    },
    stats: {
      summary: async () => normalizeStats(await get<Parameters<typeof normalizeStats>[0]>('/v1/stats')),
      live: () => get<LiveStats>('/v1/stats/live'),
    },
    rulesets: {
      list: () => get<{ status: 'ok'; rulesets: RulesetInfo[] }>('/v1/rulesets'),
      active: () => get<{ status: 'ok'; ruleset: StoredRuleset }>('/v1/rulesets/active'),
      get: (version: number) =>
        get<{ status: 'ok'; ruleset: StoredRuleset }>(`/v1/rulesets/${segment(version)}`),
      /**
       * 422 with `errors` (each with its path) when the document does not
       * validate; 409 with `errors` when activating it would strand accounts
       * (see `strandingRefusal`), which `force` overrides.
       */
      publish: (doc: RulesetDoc, how: { activate: boolean; note?: string; force?: boolean }) =>
        post<{ status: 'ok'; version: number; active: boolean }>('/v1/rulesets', doc, {
          activate: how.activate ? 'true' : undefined,
          note: how.note,
          force: how.activate && how.force === true ? 'true' : undefined,
        }),
      /** 409 with `errors` when accounts are in a program or tier the version lacks; `force` activates it anyway. */
      activate: (version: number, how: { force?: boolean } = {}) =>
        post<{ status: 'ok'; version: number; active: true }>(
          `/v1/rulesets/${segment(version)}/activate`,
          {},
          { force: how.force === true ? 'true' : undefined },
        ),
      preview: (input: PreviewRequest) => post<PreviewResult>('/v1/rulesets/preview', input),
    },
    members: {
      search: (query: MemberSearch) =>
        get<MemberPage>('/v1/members', query as Record<string, QueryValue>),
      get: (id: string) => get<MemberDetail>(`/v1/members/${segment(id)}`),
      /** 201 even when joining the program failed: then the reply has `enrolment`. */
      create: (member: NewMember) => post<CreatedMember>('/v1/members', member),
      update: (id: string, changes: MemberChanges) =>
        request<{ status: 'ok'; member: Member }>('PATCH', `/v1/members/${segment(id)}`, {
          body: changes,
        }),
      setStatus: (id: string, status: MemberStatus, reason?: string) =>
        post<{ status: 'ok'; member: Member }>(`/v1/members/${segment(id)}/status`, {
          status,
          reason,
        }),
      setRedemption: (id: string, allowed: boolean) =>
        post<{ status: 'ok'; member: Member }>(`/v1/members/${segment(id)}/redemption`, {
          allowed,
        }),
      erase: (id: string) =>
        request<{ status: 'ok'; member: Member }>('DELETE', `/v1/members/${segment(id)}`),
      household: (id: string) => get<Household>(`/v1/members/${segment(id)}/household`),
      /** Pools the member's points into `master`'s account; `moved` points went there now. */
      linkHousehold: (id: string, master: string) =>
        post<{ status: 'ok'; member: Member; moved: number }>(
          `/v1/members/${segment(id)}/household`,
          { master },
        ),
      /** The member earns into its own account again; pooled points stay with the household. */
      unlinkHousehold: (id: string) =>
        request<{ status: 'ok'; member: Member }>('DELETE', `/v1/members/${segment(id)}/household`),
      merge: (id: string, into: string) =>
        post<{ status: 'ok'; merge: MergeSaga }>(`/v1/members/${segment(id)}/merge`, { into }),
      issueCard: (id: string, card: { type: CardType; value: string }) =>
        post<{ status: 'ok'; identifier: Identifier }>(`/v1/members/${segment(id)}/cards`, card),
    },
    cards: {
      /** `block`, `unblock` or `lost`, with an optional reason. */
      setStatus: (action: 'block' | 'unblock' | 'lost', type: CardType, value: string,
        reason?: string) =>
        post<{ status: 'ok'; identifier: Identifier }>(
          `/v1/cards/${segment(type)}/${segment(value)}/${action}`,
          reason === undefined ? {} : { reason },
        ),
      replace: (type: CardType, value: string, replacement: string, reason?: string) =>
        post<{ status: 'ok'; identifier: Identifier }>(
          `/v1/cards/${segment(type)}/${segment(value)}/replace`,
          reason === undefined ? { replacement } : { replacement, reason },
        ),
    },
    /** Who a card, phone or email belongs to. */
    lookup: (by: { card: string } | { phone: string } | { email: string }) =>
      get<Reply>('/v1/lookup', by as Record<string, string>),
    accounts: {
      member: (account: string) => get<Reply>(`/v1/accounts/${segment(account)}/member`),
      balance: (account: string) => get<Reply>(`/v1/accounts/${segment(account)}/balance`),
      lots: (account: string) => get<Lots>(`/v1/accounts/${segment(account)}/lots`),
      history: (account: string, page: { limit?: number; before?: number } = {}) =>
        get<History>(`/v1/accounts/${segment(account)}/history`, page),
      /** A signed correction; `key` makes a retried request apply once. */
      adjust: (account: string, adjustment: { key: string; points: number; reason: string }) =>
        post<Reply>(`/v1/accounts/${segment(account)}/adjust`, adjustment),
      /** Spendable points to another member, by the transfer saga; `key` makes a retry move them once. */
      transfer: (member: string, transfer: { key: string; to: string; points: number; reason?: string }) =>
        post<Reply>(`/v1/accounts/${segment(member)}/transfer`, transfer),
    },
    terminals: {
      list: () => get<{ status: 'ok'; terminals: Terminal[] }>('/v1/terminals'),
      issue: (terminal: { id: string; name: string; store?: string }) =>
        post<IssuedTerminal>('/v1/terminals', terminal),
      disable: (id: string) =>
        post<{ status: 'ok'; terminal: Terminal }>(`/v1/terminals/${segment(id)}/disable`),
      enable: (id: string) =>
        post<{ status: 'ok'; terminal: Terminal }>(`/v1/terminals/${segment(id)}/enable`),
      /** A new secret (shown once); the old one stops working. */
      rotate: (id: string) => post<IssuedTerminal>(`/v1/terminals/${segment(id)}/rotate`),
    },
    users: {
      list: () => get<{ status: 'ok'; users: ConsoleUser[] }>('/v1/users'),
      /** 409 on `username` when taken; 400 on `password` when the server's rules refuse it. */
      add: (user: { username: string; role: Role; password: string }) =>
        post<{ status: 'ok'; user: ConsoleUser }>('/v1/users', user),
      /** The user can no longer log in and their open sessions end; 409 on `username` for yourself. */
      disable: (username: string) =>
        post<{ status: 'ok'; user: ConsoleUser }>(`/v1/users/${segment(username)}/disable`),
      enable: (username: string) =>
        post<{ status: 'ok'; user: ConsoleUser }>(`/v1/users/${segment(username)}/enable`),
    },
    tokens: {
      list: () => get<{ status: 'ok'; tokens: ApiToken[] }>('/v1/tokens'),
      /** 201 with the secret (`<id>.<secret>`), shown only in this reply; 400 on `name` or `role`. */
      issue: (token: { name: string; role: TokenRole }) => post<IssuedToken>('/v1/tokens', token),
      /** Requests with the token are refused (401) from now on. */
      revoke: (id: string) =>
        post<{ status: 'ok'; token: ApiToken }>(`/v1/tokens/${segment(id)}/revoke`),
      restore: (id: string) =>
        post<{ status: 'ok'; token: ApiToken }>(`/v1/tokens/${segment(id)}/restore`),
    },
    audit: {
      search: (query: AuditQuery) => get<AuditPage>('/v1/audit', { ...query }),
    },
  }
}

export type Client = ReturnType<typeof createClient>
