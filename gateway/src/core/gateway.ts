/**
 * The gateway's transport-neutral core. Every interface (WebSocket, gRPC,
 * REST) authenticates its caller to a `Principal`, then hands each request to
 * `Gateway.execute`: the operation is checked against the caller's role, the
 * source is stamped from who the caller is (a terminal cannot claim to be
 * another), and the command goes to the engine, which validates every field.
 * Adapters only move bytes; what a request means is decided here, once.
 *
 * @module
 */
import type { Engine, Reply, Terminal } from '@loyalty/engine'

export const operations = [
  'earn',
  'authorize',
  'capture',
  'void',
  'redeem',
  'reverse',
  'adjust',
  'enroll',
  'purchase',
  'activity',
  'profile',
  'balance',
  'history',
  'preview',
  'member',
] as const

export type OperationName = (typeof operations)[number]

const operationSet: ReadonlySet<string> = new Set(operations)

export function isOperation(name: unknown): name is OperationName {
  return typeof name === 'string' && operationSet.has(name)
}

export type PrincipalKind = 'terminal' | 'processor' | 'partner' | 'admin' | 'marketer' | 'support'

/** Who is calling, as established by an adapter's authentication. */
export interface Principal {
  kind: PrincipalKind
  id: string
  /** The store a terminal stands in. */
  store?: string
}

/** Operations each kind of caller may run; everything else is `unauthorized`. */
const allowed: Record<PrincipalKind, ReadonlySet<OperationName>> = {
  terminal: new Set([
    'earn', 'authorize', 'capture', 'void', 'redeem', 'reverse', 'enroll', 'purchase',
    'balance', 'history', 'preview', 'member',
  ]),
  processor: new Set([
    'earn', 'authorize', 'capture', 'void', 'redeem', 'reverse', 'enroll', 'purchase',
    'activity', 'balance', 'history', 'preview', 'member',
  ]),
  partner: new Set([
    'earn', 'redeem', 'reverse', 'enroll', 'purchase', 'activity', 'balance', 'history',
    'preview', 'member',
  ]),
  admin: new Set(operations),
  marketer: new Set(['balance', 'history', 'preview', 'member']),
  support: new Set(['adjust', 'profile', 'balance', 'history', 'preview', 'member']),
}

export function mayRun(principal: Principal, op: OperationName): boolean {
  return allowed[principal.kind].has(op)
}

/** Something pushed to a terminal without a request (a card on its paired reader). */
export interface PushMessage {
  push: string
  [field: string]: unknown
}

export type PushListener = (terminal: string, message: PushMessage) => boolean

export class Gateway {
  readonly engine: Engine
  readonly #pushListeners = new Set<PushListener>()

  constructor(engine: Engine) {
    this.engine = engine
  }

  /**
   * Runs one operation for a caller. `fields` are the request's own fields
   * (without `op` or a correlation id); they are validated by the engine.
   *
   * @example
   *   await gateway.execute(terminal, 'redeem', { account: 'm42', key: 'pos7-1', points: 50 })
   */
  execute(principal: Principal, op: unknown, fields: Record<string, unknown>): Promise<Reply> {
    if (!isOperation(op)) {
      return Promise.resolve({
        status: 'invalid_request',
        field: 'op',
        message: `op must be one of ${operations.join(', ')}`,
      })
    }
    if (!mayRun(principal, op)) {
      return Promise.resolve({
        status: 'unauthorized',
        message: `a ${principal.kind} may not run ${op}`,
      })
    }
    return this.engine.execute({ ...fields, op, ...stamp(principal, op, fields) })
  }

  /** Authenticates a terminal by id and secret. */
  async terminal(id: string, secret: string): Promise<Principal | undefined> {
    const terminal: Terminal | undefined = await this.engine.credentials.verifyTerminal(id, secret)
    if (terminal === undefined) return undefined
    const principal: Principal = { kind: 'terminal', id: terminal.id }
    if (terminal.store !== undefined) principal.store = terminal.store
    return principal
  }

  /** Authenticates an API token (`Authorization: Bearer <token>`). */
  token(text: string): Principal | undefined {
    const token = this.engine.credentials.verifyToken(text)
    return token === undefined ? undefined : { kind: token.role, id: token.id }
  }

  /** Console users log in through the REST adapter's session; this checks the password. */
  async user(username: string, password: string): Promise<Principal | undefined> {
    const user = await this.engine.credentials.verifyUser(username, password)
    return user === undefined ? undefined : { kind: user.role, id: user.username }
  }

  /** Delivers a push to a connected terminal; false when it is not connected. */
  push(terminal: string, message: PushMessage): boolean {
    let delivered = false
    for (const listener of this.#pushListeners) delivered = listener(terminal, message) || delivered
    return delivered
  }

  onPush(listener: PushListener): () => void {
    this.#pushListeners.add(listener)
    return () => this.#pushListeners.delete(listener)
  }
}

const queries: ReadonlySet<string> = new Set(['balance', 'history', 'preview', 'member'])

/**
 * The source recorded on the journal: a terminal is always itself (and its
 * store); other callers' own claims are kept under their identity.
 */
function stamp(principal: Principal, op: OperationName, fields: Record<string, unknown>) {
  if (queries.has(op)) return {}
  const claimed = fields['source']
  // Not an object: leave it for the engine, which names the bad field.
  if (claimed !== undefined && (typeof claimed !== 'object' || claimed === null || Array.isArray(claimed))) return {}
  const source: Record<string, unknown> =
    typeof claimed === 'object' && claimed !== null && !Array.isArray(claimed) ? { ...claimed } : {}
  if (principal.kind === 'terminal') {
    source['terminal'] = principal.id
    if (principal.store !== undefined) source['store'] = principal.store
    else delete source['store']
  } else if (principal.kind === 'admin' || principal.kind === 'support' || principal.kind === 'marketer') {
    source['operator'] = principal.id
  } else {
    source['channel'] = typeof source['channel'] === 'string' ? source['channel'] : principal.kind
  }
  return { source }
}
