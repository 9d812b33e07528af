/**
 * Members and cards over REST, for the console and API clients: create, read,
 * change, suspend, erase and search members; issue, block, unblock, report
 * lost and replace cards; look a member up by card, phone or email; import
 * and export members as CSV.
 *
 * Who may: admin and support change members and cards; marketers may read
 * and search too; processor and partner tokens may create members and look
 * them up by identifier (the gateway's own `lookup` operation, so every
 * interface answers it alike). Only an admin imports or exports in bulk: an
 * export is every member's personal data.
 *
 * The registry answers a refused change with the field at fault. Here that
 * becomes 404 for an unknown member or card, 409 when the request is valid
 * but the registry's state refuses it (the id, email, phone or card is taken;
 * the card was replaced; the member was erased), 400 otherwise. Member and
 * card changes are audited by the registry itself, in the same write.
 *
 * A member created here also joins its program in the engine (idempotency
 * key `member-enroll`, as imports use), so it has a balance and a tier at
 * once; changes to the facts rules read (birth date, country, gender,
 * segments) are sent to the engine as a `profile` command.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Context, Hono } from 'hono'
import {
  normalisedProfile,
  removableProfileFields,
  SearchError,
  validateCommand,
  type Engine,
  type IdentifierType,
  type Member,
  type MemberChanges,
  type MemberUpdate,
  type MemberRegistry,
  type NewMember,
  type RegistryResult,
  type Reply,
  type SearchPage,
  type SearchQuery,
} from '@loyalty/engine'
import type { Principal, PrincipalKind } from '../core/gateway.ts'
import { actorOf, queryText, queryTime } from './audit.ts'
import { guarded, type HttpDeps } from './guard.ts'
import {
  invalid,
  jsonBody,
  object,
  onlyFields,
  oneOf,
  optionalBoolean,
  optionalText,
  queryFields,
  queryInteger,
  Refusal,
  text,
  type Body,
  type TextRule,
  uncompressed,
} from './request.ts'
import { httpStatusOf, retryHeaders } from './status.ts'

/** Who may use the member routes, by kind of route (the OpenAPI document reads these too). */
export const memberRoles = {
  create: ['admin', 'support', 'processor', 'partner'],
  read: ['admin', 'support', 'marketer'],
  change: ['admin', 'support'],
  bulk: ['admin'],
} as const satisfies Record<string, readonly PrincipalKind[]>

const admits = (kind: keyof typeof memberRoles, action: string) =>
  ({ roles: memberRoles[kind], action })

export const cardTypes = ['card', 'virtual_card', 'nfc', 'fob'] as const
type CardType = (typeof cardTypes)[number]
export const cardActions = { block: 'blocked', unblock: 'active', lost: 'lost' } as const

/** The idempotency key of a member's enrolment, the same as a CSV import's. */
const enrollKey = 'member-enroll'
const searchLimitDefault = 50
export const searchLimitMax = 200

/** Generous bounds on sizes; the registry checks formats and names the field. */
const idRule: TextRule = { max: 64 }
const valueRule: TextRule = { max: 320 }
const reasonRule: TextRule = { max: 500, characters: 'text' }
const segmentsMax = 100
const cardsMax = 10

export const profileFields = [
  'firstName', 'lastName', 'email', 'phone', 'birthDate', 'gender', 'country',
] as const
const structuredFields = ['address', 'attributes', 'segments', 'consents'] as const
const addressFields = ['line1', 'line2', 'city', 'postalCode', 'region', 'country'] as const
/** Fields the engine's rules read: a change to one is sent as a `profile` command. */
const factFields = new Set(['birthDate', 'country', 'gender', 'segments'])

export function registerMembers(app: Hono, deps: HttpDeps) {
  // Before `/v1/members/:id`, which would otherwise take `export` for an id.
  registerBulk(app, deps)
  registerMemberRoutes(app, deps)
  registerHouseholds(app, deps)
  registerCards(app, deps)
  app.get('/v1/lookup', guarded(deps, 'anyone', async (c, caller) => {
    const fields = queryFields(c, ['card', 'phone', 'email'])
    return replied(c, await deps.gateway.execute(caller.principal, 'lookup', fields))
  }))
}

// ---------------------------------------------------------------------------
// Members

function registerMemberRoutes(app: Hono, deps: HttpDeps) {
  const members = deps.engine.members
  const change = admits('change', 'change members')
  app.post('/v1/members', guarded(deps, admits('create', 'create members'), async (c, caller) => {
    const input = newMember(await jsonBody(c))
    if (!activePrograms(deps.engine).has(input.program)) {
      throw invalid('program', `no program ${input.program} in the active ruleset`)
    }
    const created = await members.create(input, actorOf(c, caller.principal))
    if (!created.ok) throw refusal(created, createConflict(members, input, created.field))
    const member = created.value
    const enrolment = await enrol(deps.engine, member, caller.principal)
    const body = { status: 'ok', member, identifiers: members.identifiersOf(member.id) }
    if (enrolment.status === 'ok' || enrolment.status === 'exists') {
      return c.json({ ...body, ...standingOf(enrolment) }, 201)
    }
    // The member exists; its enrolment can be retried with POST /v1/accounts/:account/enroll.
    const failed = { status: enrolment.status, message: enrolment.message }
    return c.json({ ...body, enrolment: failed }, 201)
  }))
  app.get('/v1/members', guarded(deps, admits('read', 'search members'), (c) => {
    const page = searchPage(members, searchQuery(c))
    const body = { status: 'ok', members: page.members }
    return c.json(page.next === undefined ? body : { ...body, next: page.next })
  }))
  app.get('/v1/members/:id', guarded(deps, admits('read', 'read members'), async (c) => {
    const member = knownMember(members, c.req.param('id') ?? '')
    const standing = await deps.engine.execute({ op: 'member', account: member.account })
    const identifiers = members.identifiersOf(member.id)
    return c.json({ status: 'ok', member, identifiers, ...standingOf(standing) })
  }))
  app.patch('/v1/members/:id', guarded(deps, change, async (c, caller) => {
    const id = c.req.param('id') ?? ''
    const changes = memberChanges(await jsonBody(c))
    const changed = await members.update(id, changes, actorOf(c, caller.principal))
    if (!changed.ok) throw refusal(changed, updateConflict(members, id, changes, changed.field))
    const member = changed.value
    const body = { status: 'ok', member }
    if (!Object.keys(changes).some((field) => factFields.has(field))) return c.json(body)
    const profile = await syncFacts(deps.engine, member, caller.principal)
    return c.json(profile === undefined ? body : { ...body, profile })
  }))
  app.post('/v1/members/:id/status', guarded(deps, change, async (c, caller) => {
    const id = c.req.param('id') ?? ''
    const body = await jsonBody(c)
    onlyFields(body, ['status', 'reason'])
    const status = oneOf(body, 'status', ['active', 'suspended', 'closed'])
    const reason = optionalText(body, 'reason', reasonRule)
    const changed = await members.setStatus(id, status, actorOf(c, caller.principal), reason)
    // The one refusal of a known member: an erased member cannot be made active again.
    if (!changed.ok) throw refusal(changed, members.get(id) !== undefined)
    return c.json({ status: 'ok', member: changed.value })
  }))
  app.post('/v1/members/:id/redemption', guarded(deps, change, async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['allowed'])
    const allowed = optionalBoolean(body, 'allowed')
    if (allowed === undefined) throw invalid('allowed', 'allowed is required (true or false)')
    const id = c.req.param('id') ?? ''
    const changed = await members.setRedemptionAllowed(id, allowed, actorOf(c, caller.principal))
    if (!changed.ok) throw refusal(changed, false)
    return c.json({ status: 'ok', member: changed.value })
  }))
  const erase = admits('change', 'erase members')
  app.delete('/v1/members/:id', guarded(deps, erase, async (c, caller) => {
    const id = c.req.param('id') ?? ''
    // Through the sagas: the ledger's copy of the member's facts goes too.
    const erased = await deps.engine.sagas.erase(id, actorOf(c, caller.principal))
    // A known member refused is one erased already.
    if (!erased.ok) throw refusal(erased, members.get(id) !== undefined)
    return c.json({ status: 'ok', member: erased.value })
  }))
}

// ---------------------------------------------------------------------------
// Households and merges

function registerHouseholds(app: Hono, deps: HttpDeps) {
  const { members, sagas } = deps.engine
  const change = admits('change', 'change households')
  app.get('/v1/members/:id/household', guarded(deps, admits('read', 'read households'), (c) => {
    const member = knownMember(members, c.req.param('id') ?? '')
    const master = member.household ?? member.id
    const linked = members.householdOf(master).map((m) => m.id)
    return c.json({ status: 'ok', master, account: members.get(master)?.account ?? master, members: linked })
  }))
  // Links the member to the household headed by `master`; its spendable points move there.
  app.post('/v1/members/:id/household', guarded(deps, change, async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['master'])
    const master = text(body, 'master', idRule)
    const id = c.req.param('id') ?? ''
    knownMember(members, id)
    if (members.get(master) === undefined) {
      throw new Refusal(404, { status: 'account_not_found', field: 'master', message: `no member ${master}` })
    }
    const linked = await sagas.linkHousehold(id, master, actorOf(c, caller.principal))
    if (linked.status !== 'ok') return replied(c, linked)
    return c.json({ status: 'ok', member: members.get(id), moved: linked.points ?? 0 })
  }))
  // Unlinks the member: the pooled points stay with the household, it earns into its own account again.
  app.delete('/v1/members/:id/household', guarded(deps, change, async (c, caller) => {
    const id = c.req.param('id') ?? ''
    knownMember(members, id)
    const unlinked = await members.unlinkHousehold(id, actorOf(c, caller.principal))
    if (!unlinked.ok) throw refusal(unlinked, true)
    return c.json({ status: 'ok', member: unlinked.value })
  }))
  // Merges duplicate member :id into `into`: identifiers and spendable points move, :id is closed.
  app.post('/v1/members/:id/merge', guarded(deps, change, async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['into'])
    const into = text(body, 'into', idRule)
    const from = c.req.param('id') ?? ''
    const merged = await sagas.merge(from, into, actorOf(c, caller.principal))
    if ('status' in merged) {
      const field = merged.field === 'from' ? 'id' : merged.field
      return replied(c, field === undefined ? merged : { ...merged, field })
    }
    const { id, state, failure } = merged.merge
    const merge = failure === undefined ? { id, state, from, into } : { id, state, from, into, failure }
    return c.json({ status: state === 'failed' ? failure!.status : 'ok', merge }, state === 'failed' ? 409 : 200)
  }))
}

function knownMember(members: MemberRegistry, id: string): Member {
  const member = members.get(id)
  if (member === undefined) {
    throw new Refusal(404, { status: 'account_not_found', field: 'id', message: `no member ${id}` })
  }
  return member
}

/** The balance, tier and membership of a `member` (or `enroll`) reply, when it has them. */
function standingOf(reply: Reply): Partial<Pick<Reply, 'balance' | 'tier' | 'membership'>> {
  if (reply.status !== 'ok' && reply.status !== 'exists') return {}
  const standing: Partial<Pick<Reply, 'balance' | 'tier' | 'membership'>> = {}
  if (reply.balance !== undefined) standing.balance = reply.balance
  if (reply.tier !== undefined) standing.tier = reply.tier
  if (reply.membership !== undefined) standing.membership = reply.membership
  return standing
}

function activePrograms(engine: Engine): Set<string> {
  return new Set(engine.rules.active()?.doc.programs.map((program) => program.id) ?? [])
}

/** The journal's source for a change made here, as the gateway stamps it for operations. */
function sourceOf(principal: Principal): Record<string, string> {
  const console = principal.kind === 'admin' || principal.kind === 'support' ||
    principal.kind === 'marketer'
  return console ? { operator: principal.id } : { channel: principal.kind }
}

function factsOf(member: Member): Record<string, unknown> {
  const facts: Record<string, unknown> = {}
  for (const field of ['birthDate', 'country', 'gender'] as const) {
    if (member[field] !== undefined) facts[field] = member[field]
  }
  if (member.segments.length > 0) facts['segments'] = member.segments
  return facts
}

/** Joins the new member's program; a referrer's reward goes to the referrer's account. */
function enrol(engine: Engine, member: Member, principal: Principal): Promise<Reply> {
  const command: Body = {
    op: 'enroll',
    account: member.account,
    key: enrollKey,
    program: member.program,
    source: sourceOf(principal),
  }
  const facts = factsOf(member)
  if (Object.keys(facts).length > 0) command['member'] = facts
  if (member.referrer !== undefined) {
    command['referredBy'] = engine.members.get(member.referrer)?.account ?? member.referrer
  }
  return engine.execute(command)
}

/**
 * Sends the member's facts to the engine after a change. Skipped for a member
 * pooling into a household's account: the rules read the master's facts there.
 * Sent with `submit`, past the member checks: a suspended member's facts still
 * change. Answers the status when it is not ok.
 */
async function syncFacts(engine: Engine, member: Member, principal: Principal) {
  if (member.account !== member.id) return undefined
  const validation = validateCommand({
    op: 'profile',
    account: member.account,
    key: `member-update-${randomUUID()}`,
    member: factsOf(member),
    source: sourceOf(principal),
  })
  const reply = validation.ok ? await engine.submit(validation.command) : validation.reply
  if (reply.status === 'ok') return undefined
  const failed = { status: reply.status }
  return reply.message === undefined ? failed : { ...failed, message: reply.message }
}

// ---------------------------------------------------------------------------
// Bodies

function newMember(body: Body): NewMember {
  onlyFields(body, ['id', 'program', 'referrer', 'cards', ...profileFields, ...structuredFields])
  const input: NewMember = {
    id: text(body, 'id', idRule),
    program: text(body, 'program', idRule),
    ...profile(body),
  }
  const referrer = optionalText(body, 'referrer', idRule)
  if (referrer !== undefined) input.referrer = referrer
  if (body['cards'] !== undefined) input.cards = cards(body['cards'])
  return input
}

/**
 * A PATCH body: the fields given replace the stored ones, and `null` removes
 * an optional one (a name, email, phone, birth date, gender, country or the
 * address). `null` on a field every member has (attributes, segments,
 * consents) and an empty text are refused naming the field; the whole body
 * is checked before anything changes.
 */
function memberChanges(body: Body): MemberUpdate {
  onlyFields(body, [...profileFields, ...structuredFields])
  if (Object.keys(body).length === 0) throw invalid('body', 'name at least one field to change')
  for (const [field, how] of Object.entries(keptFields)) {
    if (body[field] === null) throw invalid(field, `${field} cannot be removed, only changed (${how})`)
  }
  for (const field of profileFields) {
    const value = body[field]
    if (typeof value === 'string' && value.trim() === '') {
      throw invalid(field, `${field} must not be empty; send null to remove it`)
    }
  }
  const given = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null))
  const changes: MemberUpdate = profile(given)
  for (const field of removableProfileFields) {
    if (body[field] === null) changes[field] = null
  }
  return changes
}

/** The fields every member has, which a change may empty but not remove, and how to empty them. */
const keptFields = {
  attributes: 'send {} for none',
  segments: 'send [] for none',
  consents: 'set email, sms and push to false for none',
} as const

/** The profile fields of a body, type-checked; their formats are the registry's to check. */
function profile(body: Body): MemberChanges {
  const changes: MemberChanges = {}
  for (const field of profileFields) {
    const value = optionalText(body, field, valueRule)
    if (value !== undefined) changes[field] = value
  }
  if (body['address'] !== undefined) changes.address = address(body['address'])
  if (body['attributes'] !== undefined) changes.attributes = attributes(body['attributes'])
  if (body['segments'] !== undefined) changes.segments = segments(body['segments'])
  if (body['consents'] !== undefined) changes.consents = consents(body['consents'])
  return changes
}

function address(value: unknown): NonNullable<MemberChanges['address']> {
  const body = object(value, 'address')
  onlyFields(body, addressFields, 'address')
  const result: NonNullable<MemberChanges['address']> = {}
  for (const field of addressFields) {
    const line = optionalText(body, field, { max: 200 }, 'address')
    if (line !== undefined) result[field] = line
  }
  return result
}

/**
 * Attributes checked here as the registry checks them, and a CSV import's:
 * at most 50, printable names that are no CSV column nor `constructor` or
 * `__proto__`, free-text values (`normalisedProfile` names the field).
 * Copied as own properties, so the check sees every name given:
 * `result[name] = value` would take `__proto__` for the prototype and
 * store nothing.
 */
function attributes(value: unknown): Record<string, string> {
  const body = object(value, 'attributes')
  const result = Object.fromEntries(Object.entries(body)) as Record<string, string>
  const checked = normalisedProfile({ attributes: result })
  if (!checked.ok) throw invalid(checked.field, checked.message)
  return result
}

function segments(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > segmentsMax) {
    throw invalid('segments', `segments must be an array of at most ${segmentsMax} strings`)
  }
  return value.map((item, i) => text({ [i]: item }, String(i), idRule, 'segments'))
}

function consents(value: unknown): NonNullable<MemberChanges['consents']> {
  const body = object(value, 'consents')
  onlyFields(body, ['email', 'sms', 'push'], 'consents')
  const result: NonNullable<MemberChanges['consents']> = {}
  for (const channel of ['email', 'sms', 'push'] as const) {
    const given = optionalBoolean(body, channel, 'consents')
    if (given !== undefined) result[channel] = given
  }
  return result
}

function cards(value: unknown): NonNullable<NewMember['cards']> {
  if (!Array.isArray(value) || value.length > cardsMax) {
    throw invalid('cards', `cards must be an array of at most ${cardsMax} cards`)
  }
  return value.map((item, i) => {
    const parent = `cards[${i}]`
    const body = object(item, parent)
    onlyFields(body, ['type', 'value'], parent)
    const card: { type?: CardType; value: string } = { value: text(body, 'value', idRule, parent) }
    if (body['type'] !== undefined) card.type = cardType(body['type'], `${parent}.type`)
    return card
  })
}

function cardType(value: unknown, field: string): CardType {
  if (typeof value !== 'string' || !(cardTypes as readonly string[]).includes(value)) {
    throw invalid(field, `${field} must be one of ${cardTypes.join(', ')}`)
  }
  return value as CardType
}

const searchParameters = ['name', 'country', 'joinedFrom', 'joinedTo', 'status', 'after', 'limit']
/** Longer than any cursor a search gives (an index key of two 200-character names and an id, and the search's name and dates, base64url). */
const searchCursorLengthMax = 4096

/** The registry's page, or its refusal of a country or cursor as a 400 naming the parameter. */
function searchPage(members: MemberRegistry, query: SearchQuery): SearchPage {
  try {
    return members.search(query)
  } catch (error) {
    if (error instanceof SearchError) throw invalid(error.field, error.message)
    throw error
  }
}

function searchQuery(c: Context): SearchQuery {
  queryFields(c, searchParameters)
  const query: SearchQuery = {
    limit: queryInteger(c, 'limit', { min: 1, max: searchLimitMax }) ?? searchLimitDefault,
  }
  const name = queryText(c, 'name', 200)
  const country = queryText(c, 'country', 64)
  const joinedFrom = queryTime(c, 'joinedFrom')
  const joinedTo = queryTime(c, 'joinedTo')
  const after = queryText(c, 'after', searchCursorLengthMax)
  const status = c.req.query('status')
  if (name !== undefined) query.name = name
  if (country !== undefined) query.country = country
  if (joinedFrom !== undefined) query.joinedFrom = joinedFrom
  if (joinedTo !== undefined) query.joinedTo = joinedTo
  if (after !== undefined) query.after = after
  if (status !== undefined) {
    query.status = oneOf({ status }, 'status', ['active', 'suspended', 'closed'])
  }
  return query
}

// ---------------------------------------------------------------------------
// Registry refusals

type RegistryFailure = Extract<RegistryResult<unknown>, { ok: false }>

/** A registry refusal as a reply: 404 unknown, 409 refused by the registry's state, else 400. */
function refusal(failure: RegistryFailure, conflict: boolean): Refusal {
  const { status, field, message } = failure
  const refused = status === 'card_blocked' || conflict
  const http = status === 'account_not_found' ? 404 : refused ? 409 : 400
  return new Refusal(http, { status, field, message })
}

/**
 * Whether an identifier is issued already (to anyone, in any state); a card
 * number as any kind of card, since they share one number space.
 */
function issued(members: MemberRegistry, type: IdentifierType, raw: string | undefined): boolean {
  const kinds: readonly IdentifierType[] = (cardTypes as readonly string[]).includes(type) ? cardTypes : [type]
  return raw !== undefined && kinds.some((kind) => members.identifier(kind, raw) !== undefined)
}

/** Whether a refused create names something taken (409) rather than something invalid (400). */
function createConflict(members: MemberRegistry, input: NewMember, field: string): boolean {
  if (field === 'id') return members.get(input.id) !== undefined
  if (field === 'email' || field === 'phone') return issued(members, field, input[field])
  const card = /^cards\[(\d+)\]\.value$/.exec(field)
  const given = card === null ? undefined : input.cards?.[Number(card[1])]
  return given !== undefined && issued(members, given.type ?? 'card', given.value)
}

function updateConflict(
  members: MemberRegistry,
  id: string,
  changes: MemberUpdate,
  field: string,
): boolean {
  if (field === 'email' || field === 'phone') return issued(members, field, changes[field] ?? undefined)
  // A known member refused as a whole is one erased.
  return field === 'id' && members.get(id) !== undefined
}

// ---------------------------------------------------------------------------
// Cards

function registerCards(app: Hono, deps: HttpDeps) {
  const members = deps.engine.members
  const issue = admits('change', 'issue cards')
  app.post('/v1/members/:id/cards', guarded(deps, issue, async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['type', 'value'])
    const value = text(body, 'value', idRule)
    const type = body['type'] === undefined ? 'card' : cardType(body['type'], 'type')
    const id = c.req.param('id') ?? ''
    const result = await members.issueCard(id, { type, value }, actorOf(c, caller.principal))
    if (!result.ok) {
      // Refused for a known member: the card is taken, or the member is closed.
      const closed = members.get(id) !== undefined && result.field !== 'value'
      throw refusal(result, closed || issued(members, type, value))
    }
    return c.json({ status: 'ok', identifier: result.value }, 201)
  }))
  const changeCards = admits('change', 'change cards')
  for (const [action, status] of Object.entries(cardActions)) {
    app.post(`/v1/cards/:type/:value/${action}`, guarded(deps, changeCards, async (c, caller) => {
      const type = cardType(c.req.param('type'), 'type')
      const body = await optionalJsonBody(c)
      onlyFields(body, ['reason'])
      const reason = optionalText(body, 'reason', reasonRule)
      const value = c.req.param('value') ?? ''
      const actor = actorOf(c, caller.principal)
      const result = await members.setCardStatus(type, value, status, actor, reason)
      if (!result.ok) throw refusal(result, false)
      return c.json({ status: 'ok', identifier: result.value })
    }))
  }
  const replace = admits('change', 'replace cards')
  app.post('/v1/cards/:type/:value/replace', guarded(deps, replace, async (c, caller) => {
    const type = cardType(c.req.param('type'), 'type')
    const body = await jsonBody(c)
    onlyFields(body, ['replacement', 'reason'])
    const replacement = text(body, 'replacement', idRule)
    const reason = optionalText(body, 'reason', reasonRule)
    const value = c.req.param('value') ?? ''
    const actor = actorOf(c, caller.principal)
    const result = await members.replaceCard(type, value, replacement, actor, reason)
    if (!result.ok) {
      // Taken replacement, an old card replaced or released already, or its member closed: the state refuses.
      const old = members.identifier(type, value)
      const spent = old !== undefined && (old.status === 'replaced' || old.status === 'released')
      const taken = result.field === 'replacement' && issued(members, type, replacement)
      throw refusal(result, taken || (result.field === 'value' && spent) || result.field === 'member')
    }
    return c.json({ status: 'ok', identifier: result.value })
  }))
}

/** A JSON body that may be left out entirely (no body, no Content-Type): `{}`. */
async function optionalJsonBody(c: Context): Promise<Body> {
  const length = c.req.header('content-length')
  const empty = length === undefined || length === '0'
  const none = c.req.header('content-type') === undefined && empty
  return none ? {} : jsonBody(c)
}

// ---------------------------------------------------------------------------
// Lookup, import and export

function replied(c: Context, reply: Reply): Response {
  return c.json(reply, httpStatusOf[reply.status], retryHeaders(reply.status))
}

const csvType = /^text\/csv\s*(?:;|$)/i

function registerBulk(app: Hono, deps: HttpDeps) {
  const members = deps.engine.members
  const importing = admits('bulk', 'import members')
  app.post('/v1/members/import', guarded(deps, importing, async (c, caller) => {
    if (!csvType.test(c.req.header('content-type') ?? '')) {
      const message = 'the body must be CSV, sent with Content-Type: text/csv'
      throw new Refusal(415, { status: 'invalid_request', field: 'content-type', message })
    }
    uncompressed(c)
    const report = await members.importCsv(c.req.raw.body ?? [], {
      actor: actorOf(c, caller.principal),
      programs: activePrograms(deps.engine),
      enroll: (command) => deps.engine.submit(command),
    })
    const stop = report.aborted
    if (stop === undefined) return c.json({ status: 'ok', report })
    const message = `line ${stop.line}: ${stop.message}`
    // A batch the registry could not write (storage failed): the file was fine, a retry imports the rest.
    if (stop.field === 'batch') return c.json({ status: 'unavailable', message, report }, 503, retryHeaders('unavailable'))
    return c.json({ status: 'invalid_request', field: stop.field, message, report }, 400)
  }))
  const exporting = admits('bulk', 'export members')
  app.get('/v1/members/export', guarded(deps, exporting, async (c, caller) => {
    // It takes no filter: one given (`?status=active`) must not export everyone, as if applied.
    queryFields(c, [])
    const detail = { members: members.count() }
    await deps.audit.record(actorOf(c, caller.principal), 'member.export', 'members', detail)
    return csvResponse(members.exportCsv())
  }))
}

/** Streams CSV chunks as the client reads them; a client that goes away stops the export. */
function csvResponse(chunks: AsyncGenerator<string>): Response {
  const encoder = new TextEncoder()
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next()
      if (next.done === true) controller.close()
      else controller.enqueue(encoder.encode(next.value))
    },
    async cancel() {
      await chunks.return(undefined)
    },
  })
  return new Response(stream, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="members.csv"',
    },
  })
}
