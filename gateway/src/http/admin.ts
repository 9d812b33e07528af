/**
 * Administration routes for the console: ruleset versions (list, read,
 * publish, activate, preview), terminals, API tokens, console users and the
 * audit trail. Admin role unless a route says otherwise; marketers may read,
 * publish and preview rulesets, but only an admin makes a version active
 * (also through `?activate=true`), as activation changes what every member
 * earns from the next batch on.
 *
 * Every change is recorded in the registry's durable audit log (`audit.ts`),
 * and answered once the record is flushed. Secrets (terminal secrets, API
 * tokens) are in the reply that issues them and nowhere else.
 *
 * @module
 */
import type { Context, Hono } from 'hono'
import {
  validateCommand,
  type PreviewInput,
  type PreviewQuery,
  type ProfileCommand,
  type Terminal,
} from '@loyalty/engine'
import { rulesetBytesMax } from '@loyalty/engine/rules'
import { actorOf, registerAudit } from './audit.ts'
import { guarded, type HttpDeps } from './guard.ts'
import {
  bodyBytesMax,
  invalid,
  jsonBody,
  object,
  onlyFields,
  oneOf,
  optionalBoolean,
  optionalInteger,
  optionalText,
  pathInteger,
  queryBoolean,
  queryFields,
  Refusal,
  text,
  type Body,
  type TextRule,
} from './request.ts'

const adminOnly = (action: string) => ({ roles: ['admin'] as const, action })
const rulesetRoles = (action: string) => ({ roles: ['admin', 'marketer'] as const, action })

const identifier = {
  test: /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/,
  says: 'may only have letters, digits and . _ : @ -',
}
const idRule: TextRule = { max: 64, pattern: identifier }
const nameRule: TextRule = { max: 200 }
const noteRule: TextRule = { max: 500, characters: 'text' }
/**
 * A ruleset body may be larger than other bodies: the engine's limit is on
 * the document's compact JSON (`rulesetBytesMax`), and a body as sent may be
 * indented, so twice that is read and the engine judges the document,
 * naming its limit, as it does for any caller.
 */
const rulesetBodyBytesMax = 2 * rulesetBytesMax
/** Long enough to resist guessing, short enough not to make scrypt a denial of service. */
const passwordRule: TextRule = { min: 12, max: 1024, characters: 'any' }

export function registerAdmin(app: Hono, deps: HttpDeps) {
  registerRulesets(app, deps)
  registerTerminals(app, deps)
  registerTokens(app, deps)
  registerUsers(app, deps)
  registerAudit(app, deps)
}

function rulesetNotFound(version: number | undefined): Refusal {
  const message = version === undefined ? 'no ruleset is active' : `no ruleset version ${version}`
  return invalid('version', message, 404)
}

interface RulesetError {
  path: string
  message: string
}

/** 422: the document (or preview) does not validate; every error with its path. */
/** 422: the document is wrong; 409: it is fine, but members are in programs or tiers it lacks. */
function rulesetErrors(c: Context, errors: RulesetError[], httpStatus: 409 | 422 = 422): Response {
  const first = errors[0]
  const message = errors.length === 1
    ? `${first?.path}: ${first?.message}`
    : `${errors.length} errors, the first: ${first?.path}: ${first?.message}`
  return c.json({ status: 'invalid_request', field: first?.path ?? '', message, errors }, httpStatus)
}

function registerRulesets(app: Hono, deps: HttpDeps) {
  const rules = deps.engine.rules
  app.get('/v1/rulesets', guarded(deps, rulesetRoles('read rulesets'), (c) => {
    return c.json({ status: 'ok', rulesets: rules.list() })
  }))
  // Registered before `/:version`, which would otherwise take `active` for a version.
  // Support agents read the live program too: tier names, thresholds and point value.
  const liveReaders = { roles: ['admin', 'marketer', 'support'] as const, action: 'read the live ruleset' }
  app.get('/v1/rulesets/active', guarded(deps, liveReaders, (c) => {
    const active = rules.active()
    if (active === undefined) throw rulesetNotFound(undefined)
    return c.json({ status: 'ok', ruleset: { ...active, active: true } })
  }))
  app.post('/v1/rulesets/preview', guarded(deps, rulesetRoles('preview rulesets'), async (c) => {
    const result = rules.preview(previewInput(await jsonBody(c, rulesetBodyBytesMax + bodyBytesMax)))
    if (!result.ok) return rulesetErrors(c, result.errors)
    const { ok: _ok, lines, campaigns, usage: _usage, ...figures } = result
    const applied = campaigns.map((campaign) => campaign.id)
    return c.json({ status: 'ok', ...figures, breakdown: lines, campaigns: applied })
  }))
  app.get('/v1/rulesets/:version', guarded(deps, rulesetRoles('read rulesets'), (c) => {
    const version = pathInteger(c, 'version')
    const stored = rules.get(version)
    if (stored === undefined) throw rulesetNotFound(version)
    const active = rules.active()?.version === version
    return c.json({ status: 'ok', ruleset: { ...stored, active } })
  }))
  app.post('/v1/rulesets', guarded(deps, rulesetRoles('publish rulesets'), async (c, caller) => {
    // A misspelt ?activate=true must not publish without activating, as if all were well.
    queryFields(c, ['activate', 'note', 'force'])
    const activate = queryBoolean(c, 'activate')
    if (activate && caller.principal.kind !== 'admin') {
      throw new Refusal(403, {
        status: 'unauthorized',
        message: 'only an admin may activate a ruleset; publish it without activate=true',
      })
    }
    const note = optionalText({ note: c.req.query('note') }, 'note', noteRule)
    const force = queryBoolean(c, 'force')
    // The engine refuses a document over its limit (rulesetBytesMax), naming it, whoever publishes.
    const result = await rules.publish(await jsonBody(c, rulesetBodyBytesMax), { activate, note, force })
    if (!result.ok) return rulesetErrors(c, result.errors, result.stranding === true ? 409 : 422)
    const detail = { activate, ...(note === undefined ? {} : { note }), ...(force ? { force } : {}) }
    const actor = actorOf(c, caller.principal)
    await deps.audit.record(actor, 'ruleset.publish', String(result.version), detail)
    return c.json({ status: 'ok', version: result.version, active: result.active }, 201)
  }))
  const activate = guarded(deps, adminOnly('activate rulesets'), async (c, caller) => {
    queryFields(c, ['force'])
    const version = pathInteger(c, 'version')
    if (rules.get(version) === undefined) throw rulesetNotFound(version)
    const force = queryBoolean(c, 'force')
    const activated = await rules.activate(version, { force })
    if (!activated.ok) return rulesetErrors(c, activated.errors, 409)
    await deps.audit.record(actorOf(c, caller.principal), 'ruleset.activate', String(version), force ? { force } : undefined)
    return c.json({ status: 'ok', version, active: true })
  })
  app.post('/v1/rulesets/:version/activate', activate)
}

/**
 * The console's preview request: the basket and member facts are checked by
 * the engine's own command validator, so they mean exactly what they mean in
 * a purchase; the ruleset document is validated by the preview itself.
 */
function previewInput(body: Body): PreviewInput {
  onlyFields(body, ['ruleset', 'version', 'program', 'basket', 'member', 'at'])
  const version = optionalInteger(body, 'version', 1)
  if (body['ruleset'] !== undefined && version !== undefined) {
    throw invalid('version', 'give a draft ruleset or a stored version, not both')
  }
  const input: PreviewInput = {
    program: text(body, 'program', idRule),
    basket: basket(body['basket']),
  }
  if (body['ruleset'] !== undefined) input.ruleset = body['ruleset']
  if (version !== undefined) input.version = version
  const member = previewMember(body['member'])
  if (member !== undefined) input.member = member
  const at = optionalInteger(body, 'at', 0)
  if (at !== undefined) input.at = at
  return input
}

function basket(value: unknown): PreviewQuery['basket'] {
  const validation = validateCommand({ op: 'preview', account: 'preview', basket: value })
  if (!validation.ok) {
    throw invalid(validation.reply.field ?? 'basket', validation.reply.message ?? '')
  }
  return (validation.command as PreviewQuery).basket
}

function previewMember(value: unknown): PreviewInput['member'] {
  if (value === undefined) return undefined
  const body = object(value, 'member')
  onlyFields(body, ['tier', 'facts', 'firstPurchase'], 'member')
  const member: NonNullable<PreviewInput['member']> = {}
  const tier = optionalText(body, 'tier', idRule, 'member')
  if (tier !== undefined) member.tier = tier
  const firstPurchase = optionalBoolean(body, 'firstPurchase', 'member')
  if (firstPurchase !== undefined) member.firstPurchase = firstPurchase
  if (body['facts'] !== undefined) {
    const profile = { op: 'profile', account: 'preview', key: 'preview', member: body['facts'] }
    const validation = validateCommand(profile)
    if (!validation.ok) {
      // The validator names `member...`; here the facts sit at `member.facts...`.
      const field = (validation.reply.field ?? 'member').replace(/^member/, 'member.facts')
      throw invalid(field, validation.reply.message ?? '')
    }
    member.facts = (validation.command as ProfileCommand).member
  }
  return member
}

/** The credential store refuses a duplicate id with a RangeError: a 409 naming the field. */
async function alreadyThere<T>(work: Promise<T>, field: string): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (error instanceof RangeError) throw invalid(field, error.message, 409)
    throw error
  }
}

function registerTerminals(app: Hono, deps: HttpDeps) {
  const credentials = deps.engine.credentials
  const findTerminal = (id: string) => credentials.terminals().find((t) => t.id === id)
  const withPresence = (terminal: Terminal) => {
    const connections = deps.gateway.connections(terminal.id)
    return { ...terminal, connected: connections > 0, connections }
  }
  app.get('/v1/terminals', guarded(deps, adminOnly('manage terminals'), (c) => {
    return c.json({ status: 'ok', terminals: credentials.terminals().map(withPresence) })
  }))
  app.post('/v1/terminals', guarded(deps, adminOnly('manage terminals'), async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['id', 'name', 'store'])
    const terminal = { id: text(body, 'id', idRule), name: text(body, 'name', nameRule) }
    const store = optionalText(body, 'store', idRule)
    const issued = await alreadyThere(
      credentials.issueTerminal(store === undefined ? terminal : { ...terminal, store }),
      'id',
    )
    const detail = store === undefined ? undefined : { store }
    await deps.audit.record(actorOf(c, caller.principal), 'terminal.issue', terminal.id, detail)
    return c.json({ status: 'ok', terminal: issued.terminal, secret: issued.secret }, 201)
  }))
  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    const toggle = guarded(deps, adminOnly('manage terminals'), async (c, caller) => {
      const id = c.req.param('id') ?? ''
      if (findTerminal(id) === undefined) throw invalid('id', `no terminal ${id}`, 404)
      await credentials.setTerminalDisabled(id, disabled)
      if (disabled) deps.gateway.disconnect(id, 'terminal disabled')
      await deps.audit.record(actorOf(c, caller.principal), `terminal.${action}`, id)
      return c.json({ status: 'ok', terminal: withPresence(findTerminal(id)!) })
    })
    app.post(`/v1/terminals/:id/${action}`, toggle)
  }
  app.post('/v1/terminals/:id/rotate', guarded(deps, adminOnly('manage terminals'), async (c, caller) => {
    const id = c.req.param('id') ?? ''
    if (findTerminal(id) === undefined) throw invalid('id', `no terminal ${id}`, 404)
    const rotated = await credentials.rotateTerminalSecret(id)
    // Connections made with the old secret end now; the terminal reconnects with the new one.
    deps.gateway.disconnect(id, 'terminal secret rotated')
    await deps.audit.record(actorOf(c, caller.principal), 'terminal.rotate', id)
    return c.json({ status: 'ok', terminal: withPresence(rotated.terminal), secret: rotated.secret })
  }))
}

function registerTokens(app: Hono, deps: HttpDeps) {
  app.post('/v1/tokens', guarded(deps, adminOnly('issue API tokens'), async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['name', 'role'])
    const name = text(body, 'name', nameRule)
    const role = oneOf(body, 'role', ['processor', 'partner', 'admin'])
    const issued = await deps.engine.credentials.issueToken({ name, role })
    const detail = { role, name }
    await deps.audit.record(actorOf(c, caller.principal), 'token.issue', issued.token.id, detail)
    return c.json({ status: 'ok', token: issued.token, secret: issued.secret }, 201)
  }))
  app.get('/v1/tokens', guarded(deps, adminOnly('manage API tokens'), (c) => {
    return c.json({ status: 'ok', tokens: deps.engine.credentials.tokens() })
  }))
  for (const [action, disabled] of [['revoke', true], ['restore', false]] as const) {
    app.post(`/v1/tokens/:id/${action}`, guarded(deps, adminOnly('manage API tokens'), async (c, caller) => {
      const id = c.req.param('id') ?? ''
      const known = deps.engine.credentials.tokens().some((t) => t.id === id)
      if (!known) throw invalid('id', `no token ${id}`, 404)
      const token = await deps.engine.credentials.setTokenDisabled(id, disabled)
      // Streams opened with the token end now, not when their caller closes them.
      if (disabled) deps.gateway.endTokenCalls(id, 'the API token was revoked')
      await deps.audit.record(actorOf(c, caller.principal), `token.${action}`, id)
      return c.json({ status: 'ok', token })
    }))
  }
}

function registerUsers(app: Hono, deps: HttpDeps) {
  const credentials = deps.engine.credentials
  app.get('/v1/users', guarded(deps, adminOnly('manage users'), (c) => {
    return c.json({ status: 'ok', users: credentials.users() })
  }))
  app.post('/v1/users', guarded(deps, adminOnly('manage users'), async (c, caller) => {
    const body = await jsonBody(c)
    onlyFields(body, ['username', 'role', 'password'])
    const username = text(body, 'username', idRule)
    const role = oneOf(body, 'role', ['admin', 'marketer', 'support'])
    const password = text(body, 'password', passwordRule)
    const user = await alreadyThere(credentials.addUser({ username, role }, password), 'username')
    await deps.audit.record(actorOf(c, caller.principal), 'user.add', username, { role })
    return c.json({ status: 'ok', user }, 201)
  }))
  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/v1/users/:username/${action}`, guarded(deps, adminOnly('manage users'), async (c, caller) => {
      const username = c.req.param('username') ?? ''
      if (!credentials.users().some((u) => u.username === username)) {
        throw invalid('username', `no user ${username}`, 404)
      }
      if (disabled && caller.principal.id === username) {
        throw invalid('username', 'you cannot disable yourself', 409)
      }
      const user = await credentials.setUserDisabled(username, disabled)
      // A disabled user's open sessions end now, not when they expire.
      if (disabled) deps.sessions.endFor(user.role, username)
      await deps.audit.record(actorOf(c, caller.principal), `user.${action}`, username)
      return c.json({ status: 'ok', user })
    }))
  }
}
