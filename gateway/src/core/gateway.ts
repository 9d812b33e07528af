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
import { createHash } from 'node:crypto'
import { normalisedProfile, validateCommand, type Engine, type Member, type MemberChanges, type MemberSummary, type NewMember, type Reply, type Terminal } from '@loyalty/engine'

export const operations = [
  'earn',
  'authorize',
  'capture',
  'void',
  'redeem',
  'reverse',
  'refund',
  'adjust',
  'enroll',
  'purchase',
  'activity',
  'profile',
  'balance',
  'history',
  'preview',
  'member',
  'lookup',
  'join',
  'transfer',
  'lots',
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
    'earn', 'authorize', 'capture', 'void', 'redeem', 'reverse', 'refund', 'enroll', 'purchase',
    'balance', 'history', 'preview', 'member', 'lots', 'lookup', 'join',
  ]),
  processor: new Set([
    'earn', 'authorize', 'capture', 'void', 'redeem', 'reverse', 'refund', 'enroll', 'purchase',
    'activity', 'balance', 'history', 'preview', 'member', 'lots', 'lookup', 'join', 'transfer',
  ]),
  partner: new Set([
    'earn', 'redeem', 'reverse', 'refund', 'enroll', 'purchase', 'activity', 'balance', 'history',
    'preview', 'member', 'lots', 'lookup', 'join', 'transfer',
  ]),
  admin: new Set(operations),
  marketer: new Set(['balance', 'history', 'preview', 'member', 'lots', 'lookup']),
  support: new Set([
    'adjust', 'profile', 'balance', 'history', 'preview', 'member', 'lots', 'lookup', 'transfer',
  ]),
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

/** What an adapter with terminal connections (the WebSocket server) tells and does about them. */
export interface TerminalSessions {
  /** Open, authenticated connections of this terminal. */
  count(terminal: string): number
  /** Closes every connection of this terminal, saying why (its secret was rotated, it was disabled). */
  close(terminal: string, reason: string): void
}

/** What an adapter with long-lived calls made with an API token (gRPC streams) does about them. */
export interface TokenCalls {
  /** Ends every open call made with this token, saying why (it was revoked). */
  end(token: string, reason: string): void
}

export class Gateway {
  readonly engine: Engine
  readonly #pushListeners = new Set<PushListener>()
  readonly #sessions = new Set<TerminalSessions>()
  readonly #tokenCalls = new Set<TokenCalls>()

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
  /**
   * Runs one operation for a caller. Never throws: a programmer error on the
   * way becomes a rejected promise, which every interface answers
   * `unavailable` (and logs), so one bad request cannot stop the process.
   */
  execute(principal: Principal, op: unknown, fields: Record<string, unknown>): Promise<Reply> {
    try {
      return this.#execute(principal, op, fields)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #execute(principal: Principal, op: unknown, fields: Record<string, unknown>): Promise<Reply> {
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
    const claim = sourceClaim(principal, fields) ?? transferRef(fields)
    if (claim !== undefined) return Promise.resolve(claim)
    if (op === 'lookup') return lookup(this.engine, fields)
    if (op === 'join') return join(this.engine, principal, fields)
    if (op === 'transfer') return transfer(this.engine, principal, fields)
    return this.engine.execute({ ...fields, op, ...stamp(principal, op, fields) })
  }

  /** Authenticates a terminal by id and secret. */
  async terminal(id: string, secret: string): Promise<Principal | undefined> {
    const terminal: Terminal | undefined = await this.engine.credentials.verifyTerminal(id, secret)
    return terminal === undefined ? undefined : principalOf(terminal)
  }

  /**
   * `terminal` without waiting, where the registry can tell (see
   * `CredentialStore.verifyTerminalKnown`): a principal let in, or
   * `undefined` when only the asynchronous check can judge.
   */
  terminalKnown(id: string, secret: string): Principal | undefined {
    const terminal = this.engine.credentials.verifyTerminalKnown(id, secret)
    return terminal === undefined ? undefined : principalOf(terminal)
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

  addSessions(sessions: TerminalSessions): () => void {
    this.#sessions.add(sessions)
    return () => this.#sessions.delete(sessions)
  }

  /** Open connections of a terminal, over every adapter. */
  connections(terminal: string): number {
    let count = 0
    for (const sessions of this.#sessions) count += sessions.count(terminal)
    return count
  }

  /** Closes a terminal's connections: after its secret changed or it was disabled. */
  disconnect(terminal: string, reason: string) {
    for (const sessions of this.#sessions) sessions.close(terminal, reason)
  }

  addTokenCalls(calls: TokenCalls): () => void {
    this.#tokenCalls.add(calls)
    return () => this.#tokenCalls.delete(calls)
  }

  /**
   * Ends the open calls made with an API token, after it was revoked. A
   * unary call or REST request checks its token each time; a stream checked
   * it once, when it opened.
   */
  endTokenCalls(token: string, reason: string) {
    for (const calls of this.#tokenCalls) calls.end(token, reason)
  }
}

const queries: ReadonlySet<string> = new Set(['balance', 'history', 'preview', 'member', 'lots'])

/**
 * The source recorded on the journal: a terminal is always itself (and its
 * store); other callers' own claims are kept under their identity.
 */
function principalOf(terminal: Terminal): Principal {
  const principal: Principal = { kind: 'terminal', id: terminal.id }
  if (terminal.store !== undefined) principal.store = terminal.store
  return principal
}

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
    // A processor or partner relays terminals' and shops' traffic: their terminal, store and
    // channel are its to name, but the journal also says which token sent it.
    source['channel'] = typeof source['channel'] === 'string' ? source['channel'] : principal.kind
    source['via'] = principal.id
  }
  return { source }
}

/**
 * What a caller may not claim about a command's source: `via`, ever; an
 * operator, unless it is a person at the console or the till (a terminal
 * names its cashier), since a processor naming operator "admin" would read
 * as a console user's change.
 */
function sourceClaim(principal: Principal, fields: Record<string, unknown>): Reply | undefined {
  const claimed = fields['source']
  if (typeof claimed !== 'object' || claimed === null) return undefined
  if ('via' in claimed) return invalid('source.via', 'source.via is set by the gateway from the caller\'s token; do not send it')
  if ('operator' in claimed && !operatorKinds.has(principal.kind)) {
    return invalid('source.operator', `a ${principal.kind} cannot name an operator; the journal names its token as source.via`)
  }
  return undefined
}

/**
 * Refs beginning `transfer:` name the engine's transfer credits. A caller's
 * `reverse` of one would take a gift back from the receiver without
 * returning it to the sender, and an `earn` with one would pass for a
 * transfer: both are refused.
 */
function transferRef(fields: Record<string, unknown>): Reply | undefined {
  const ref = fields['ref']
  if (typeof ref !== 'string' || !ref.startsWith('transfer:')) return undefined
  return invalid('ref', 'refs beginning transfer: name the engine\'s transfers; a transfer is not returned or earned on by ref')
}

const operatorKinds: ReadonlySet<PrincipalKind> = new Set(['terminal', 'admin', 'support', 'marketer'])

const lookupFields = ['card', 'phone', 'email'] as const

function invalid(field: string, message: string): Reply {
  return { status: 'invalid_request', field, message }
}

function summary(member: Member): MemberSummary {
  const result: MemberSummary = {
    id: member.id,
    account: member.account,
    program: member.program,
    status: member.status,
    redemptionAllowed: member.redemptionAllowed,
  }
  if (member.firstName !== undefined) result.firstName = member.firstName
  if (member.lastName !== undefined) result.lastName = member.lastName
  return result
}

/** Who a card, phone or email belongs to, with their standing, tier and balance. */
async function lookup(engine: Engine, fields: Record<string, unknown>): Promise<Reply> {
  for (const name of Object.keys(fields)) {
    if (!(lookupFields as readonly string[]).includes(name)) return invalid(name, `${name} is not a field of lookup`)
  }
  const given = lookupFields.filter((f) => fields[f] !== undefined)
  if (given.length !== 1) return invalid('card', 'give exactly one of card, phone or email')
  const field = given[0]!
  const value = fields[field]
  if (typeof value !== 'string' || value === '') return invalid(field, `${field} must be a non-empty string`)
  const types = field === 'card' ? cardTypes : [field]
  const found = types.map((type) => engine.members.resolve(type, value)).find((r) => r !== undefined)
  if (found === undefined) return { status: 'account_not_found', field, message: `no member has ${field} ${value}` }
  if (found.identifier.status !== 'active') {
    return { status: 'card_blocked', field, message: `${found.identifier.type} ${found.identifier.value} is ${found.identifier.status}` }
  }
  const standing = await engine.execute({ op: 'member', account: found.member.account })
  const reply: Reply = { status: 'ok', member: summary(found.member) }
  if (standing.balance !== undefined) reply.balance = standing.balance
  if (standing.tier !== undefined) reply.tier = standing.tier
  return reply
}

const joinFields = ['key', 'program', 'member', 'card', 'source']
const profileFields = ['id', 'firstName', 'lastName', 'email', 'phone', 'birthDate', 'gender', 'country', 'segments']

/** Join refusals that come from what the registry holds, not from the request (see `isJoinConflict`). */
const joinConflicts = new WeakSet<Reply>()

/**
 * Whether a join was refused for what the registry holds rather than for
 * what the request says: its card, email, phone or member id is another
 * member's, or the member it names (a retry's) exists already with other
 * details. Such a request is valid and fails again unchanged: REST answers
 * it 409, as it does a taken identifier on `POST /v1/members`; the reply is
 * the same `invalid_request` naming the field on every interface.
 */
export function isJoinConflict(reply: Reply): boolean {
  return joinConflicts.has(reply)
}

function conflict(reply: Reply): Reply {
  joinConflicts.add(reply)
  return reply
}

/**
 * Enrols a new member at the till: the registry record (with the card handed
 * over) and the program enrolment. The member id is derived from the caller
 * and the idempotency key unless given, so a retry finds the member it made
 * and the enrolment answers `exists`.
 */
async function join(engine: Engine, principal: Principal, fields: Record<string, unknown>): Promise<Reply> {
  for (const name of Object.keys(fields)) {
    if (!joinFields.includes(name)) return invalid(name, `${name} is not a field of join`)
  }
  const { key, program, card } = fields
  if (typeof key !== 'string' || key === '' || key.length > 128) return invalid('key', 'key must be a string of 1 to 128 characters')
  if (typeof program !== 'string' || program === '') return invalid('program', 'program must be a non-empty string')
  if (card !== undefined && (typeof card !== 'string' || card === '')) return invalid('card', 'card must be a non-empty string')
  const profile = fields['member'] ?? {}
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) return invalid('member', 'member must be an object')
  const facts = profile as Record<string, unknown>
  for (const name of Object.keys(facts)) {
    if (!profileFields.includes(name)) return invalid(`member.${name}`, `member.${name} is not a known field`)
    // The registry reads these as text (an email of 5 threw in it): refused here, naming the field.
    if (name !== 'segments' && typeof facts[name] !== 'string') return invalid(`member.${name}`, `member.${name} must be a string`)
  }
  // Before anything is created: a member made for a program that does not exist would stay behind.
  if (!(engine.rules.active()?.doc.programs.some((p) => p.id === program) ?? false)) {
    return invalid('program', `no program ${program} in the active ruleset`)
  }
  const id = typeof facts['id'] === 'string' ? facts['id'] : derivedId(principal, key)
  const existing = engine.members.get(id)
  const enrolment: Record<string, unknown> = { op: 'enroll', account: existing?.account ?? id, key, program }
  const ruleFacts = pick(facts, ['birthDate', 'country', 'gender', 'segments'])
  if (Object.keys(ruleFacts).length > 0) enrolment['member'] = ruleFacts
  Object.assign(enrolment, stamp(principal, 'enroll', fields))
  // A source that is not an object is left unstamped: carried over, so the check below names it.
  if (enrolment['source'] === undefined && fields['source'] !== undefined) enrolment['source'] = fields['source']
  // The enrolment is checked whole before the member is created: a member made
  // for an enrolment refused afterwards would stay behind, in no program.
  const checked = validateCommand(enrolment)
  if (!checked.ok) {
    const { reply } = checked
    return reply.field === 'account' ? { ...reply, field: 'member.id', message: (reply.message ?? '').replace(/^account\b/, 'member.id') } : reply
  }
  if (existing === undefined) {
    const input = { ...facts, id, program, ...(card === undefined ? {} : { cards: [{ value: card as string }] }) } as NewMember
    const created = await engine.members.create(input, { kind: principal.kind, id: principal.id })
    if (!created.ok) {
      const field = created.field === 'id' || created.field.startsWith('cards') ? (created.field === 'id' ? 'member.id' : 'card') : `member.${created.field}`
      const reply: Reply = { status: created.status, field, message: created.message }
      return taken(engine, field, id, facts, card) ? conflict(reply) : reply
    }
  } else {
    // A retry finds the member it made; a join naming someone else's details must not drop them silently.
    const conflict = contradiction(engine, existing, facts, card as string | undefined)
    if (conflict !== undefined) return conflict
  }
  const member = engine.members.get(id)!
  const reply = await engine.execute(enrolment)
  return { ...reply, member: summary(member) }
}

/**
 * Where a join's card or profile differs from the member it names, who
 * exists already: join creates members, it does not change them (that is
 * the member operations' job, with their audit trail).
 */
function contradiction(engine: Engine, member: Member, facts: Record<string, unknown>, card: string | undefined): Reply | undefined {
  const refuse = (field: string, what: string) => conflict(invalid(field, `member ${member.id} exists already with ${what}; join does not change a member (use the member operations)`))
  // Compared as the registry stores them, so a retry of the same join is no contradiction.
  const { id: _id, segments, ...profile } = facts
  const normal = normalisedProfile(profile as MemberChanges)
  if (!normal.ok) return { status: normal.status, field: `member.${normal.field}`, message: normal.message }
  for (const name of Object.keys(profile)) {
    const stored = member[name as keyof Member]
    const wanted = normal.value[name as keyof Member]
    if (JSON.stringify(stored) !== JSON.stringify(wanted)) return refuse(`member.${name}`, `another ${name}`)
  }
  // No segments and an empty list are the same.
  const listed = (value: unknown) => (Array.isArray(value) && value.length > 0 ? JSON.stringify(value) : undefined)
  if (segments !== undefined && listed(segments) !== listed(member.segments)) return refuse('member.segments', 'other segments')
  if (card !== undefined) {
    const holder = cardTypes.map((type) => engine.members.resolve(type, card)).find((r) => r !== undefined)
    if (holder?.member.id !== member.id) return refuse('card', `other cards than ${card}`)
  }
  return undefined
}

const cardTypes = ['card', 'virtual_card', 'nfc', 'fob'] as const

/** Whether the registry refused a new member's field because another member holds it (any kind of card, in any state). */
function taken(engine: Engine, field: string, id: string, facts: Record<string, unknown>, card: unknown): boolean {
  const members = engine.members
  if (field === 'member.id') return members.get(id) !== undefined
  if (field === 'card') return typeof card === 'string' && cardTypes.some((type) => members.identifier(type, card) !== undefined)
  if (field === 'member.email' || field === 'member.phone') {
    const type = field === 'member.email' ? 'email' : 'phone'
    const value = facts[type]
    return typeof value === 'string' && members.identifier(type, value) !== undefined
  }
  return false
}

function derivedId(principal: Principal, key: string): string {
  return 'm' + createHash('sha256').update(`${principal.kind}:${principal.id}:${key}`).digest('hex').slice(0, 20)
}

function pick(source: Record<string, unknown>, names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((n) => source[n] !== undefined).map((n) => [n, source[n]]))
}

const transferFields = ['account', 'key', 'to', 'points', 'reason']

/** A member-to-member transfer: runs the saga to its end and says how it ended. */
async function transfer(engine: Engine, principal: Principal, fields: Record<string, unknown>): Promise<Reply> {
  for (const name of Object.keys(fields)) {
    if (!transferFields.includes(name)) return invalid(name, `${name} is not a field of transfer`)
  }
  const { account, key, to, points, reason } = fields
  for (const [name, value] of [['account', account], ['key', key], ['to', to]] as const) {
    if (typeof value !== 'string' || value === '' || value.length > 128) return invalid(name, `${name} must be a string of 1 to 128 characters`)
  }
  if (typeof points !== 'number' || !Number.isSafeInteger(points)) return invalid('points', 'points must be an integer')
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) return invalid('reason', 'reason must be a string of at most 500 characters')
  const request = { from: account as string, to: to as string, points, key: key as string, ...(reason === undefined ? {} : { reason: reason as string }) }
  const result = await engine.sagas.transfer(request, { kind: principal.kind, id: principal.id })
  // The saga names the sender `from`; this operation's callers named it `account`.
  if ('status' in result) return result.field === 'from' ? { ...result, field: 'account', message: (result.message ?? '').replace(/^from\b/, 'account') } : result
  const saga = result.saga
  const reply: Reply = {
    status: saga.state === 'done' ? 'ok' : ((saga.failure?.status ?? 'unavailable') as Reply['status']),
    points: saga.points,
    transfer: { id: saga.id, state: saga.state, from: saga.from, to: saga.to, points: saga.points },
  }
  if (saga.failure?.message !== undefined) reply.message = saga.failure.message
  return reply
}
