/**
 * The REST interface's OpenAPI 3.1 document, served at `/openapi.json`. It is
 * built from `routeDocs`, one entry per route the app registers; a test keeps
 * the two lists equal, so a route cannot be added (or dropped) without its
 * documentation. Field names and meanings are those of `proto/loyalty.proto`
 * in lowerCamelCase; statuses are `proto/src/status.ts`; the roles allowed to
 * run each account operation come from the gateway's own table.
 *
 * @module
 */
import { identifierTypes, removableProfileFields } from '@loyalty/engine'
import { statuses, statusNames } from '@loyalty/proto'
import { mayRun, type OperationName, type PrincipalKind } from '../core/gateway.ts'
import { auditLimitMax } from './audit.ts'
import { cardActions, memberRoles, searchLimitMax } from './members.ts'
import { httpStatusOf, retryAfterSeconds } from './status.ts'

/** The operations that change an account, each `POST /v1/accounts/:account/<op>`. */
export const accountCommands = [
  'earn', 'authorize', 'capture', 'void', 'redeem', 'reverse', 'refund', 'adjust', 'enroll',
  'purchase', 'activity', 'profile',
] as const satisfies readonly OperationName[]

/** Who calls REST: terminals use the WebSocket interface. */
const restCallers: readonly PrincipalKind[] = [
  'processor', 'partner', 'admin', 'marketer', 'support',
]

/** The roles the gateway lets run an operation, from the gateway's own table. */
function rolesFor(op: OperationName): PrincipalKind[] {
  return restCallers.filter((kind) => mayRun({ kind, id: '' }, op))
}

type Schema = Record<string, unknown>

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
const bool = (description: string): Schema => ({ type: 'boolean', description })

function int(description: string, extra: Schema = {}): Schema {
  return { type: 'integer', description, ...extra }
}

function str(description: string, extra: Schema = {}): Schema {
  return { type: 'string', description, ...extra }
}

function array(items: Schema, description?: string): Schema {
  const schema: Schema = { type: 'array', items }
  if (description !== undefined) schema['description'] = description
  return schema
}

/** A closed object: the engine refuses fields it does not know. */
function object(properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}) {
  const schema: Schema = { type: 'object', properties, additionalProperties: false, ...extra }
  if (required.length > 0) schema['required'] = required
  return schema
}

const pointsMax = 1_000_000_000_000
const points = (description: string) => int(description, { minimum: 1, maximum: pointsMax })
const money = (description: string, minimum: number) =>
  int(`${description} (minor units)`, { minimum, maximum: pointsMax })
const time = (description: string) =>
  int(`${description} (ms since the Unix epoch)`, { minimum: 0 })
const id = (description: string) => str(description, { minLength: 1, maxLength: 128 })
const holdId = () => int('The hold id from authorize.', { minimum: 1 })

/** Fields every account command shares. */
const commandFields: Record<string, Schema> = {
  account: id('Optional: if given it must equal the account in the path.'),
  key: id('Idempotency key, unique per account; required unless Idempotency-Key gives it.'),
  source: ref('Source'),
}

function command(fields: Record<string, Schema>, required: string[], description: string) {
  return object({ ...commandFields, ...fields }, required, { description })
}

/** Request bodies of the account operations, by operation. */
export const operationBodies: Record<string, Schema> = {
  earn: command({
    points: points('Points credited as a new lot.'),
    expiresAt: time('When the points expire; omitted means never'),
    activeFrom: time('The points are pending (not spendable) until then'),
    ref: id('The purchase this earn belongs to, for later reversals; default `key`.'),
    amount: money('Money the points were earned on, for proportional reversals', 0),
    reason: str('Why, for the journal.', { maxLength: 500 }),
  }, ['points'], 'Credit points.'),
  authorize: command({
    points: points('Points to hold.'),
    timeoutMs: int('How long the hold lasts (default 15 minutes, at most 7 days).', { minimum: 1 }),
  }, ['points'], 'Hold points for a later capture or void; the reply has `hold`.'),
  capture: command({
    hold: holdId(),
    points: points('Points to burn; omitted means the whole hold.'),
  }, ['hold'], 'Burn all or part of a hold; the rest goes back to the balance.'),
  void: command({ hold: holdId() }, ['hold'], 'Release a hold in full.'),
  redeem: command({
    points: points('Points to burn.'),
    ref: id('The purchase paid with the points; a later refund names it.'),
    amount: money('Money the points paid for, for proportional refunds', 1),
  }, ['points'], 'Burn points in one step.'),
  refund: command({
    ref: id('The redemption (its `ref`) to give points back from.'),
    amount: money('Money returned: a proportional share of the points comes back', 1),
    points: points('Points to give back (instead of amount).'),
    reason: str('Why, for the journal.', { maxLength: 500 }),
  }, ['ref'], 'Give back points burned by a redemption (a returned purchase paid with ' +
    'points); they return to their lots with their dates. Neither amount nor points gives ' +
    'back all not yet refunded.'),
  reverse: command({
    ref: id('The earn (purchase) to claw back from.'),
    amount: money('Money returned: a proportional share is taken back', 1),
    points: points('Points to take back (instead of amount).'),
    lines: {
      ...array(ref('ReturnLine'), 'The purchase\'s lines returned, by SKU and units (instead of amount or points): ' +
        'takes back the points the purchase gave those lines. At most 1,000.'),
      minItems: 1,
    },
    shortfall: str('When the points were spent: `debt` or `clamp`; omitted means the ' +
      'program\'s policy (`negativeBalanceOnReturn`: debt when true, clamp when false).', {
      enum: ['debt', 'clamp'],
    }),
  }, ['ref'], 'Take back a share of an earlier earn (a return); none of amount, points or lines ' +
    'takes all that is left. A purchase is returned by lines, or by amount and points, not both.'),
  adjust: command({
    points: int('Signed correction, not zero.', {
      minimum: -pointsMax,
      maximum: pointsMax,
      not: { const: 0 },
    }),
    reason: str('Why (required).', { minLength: 1, maxLength: 500 }),
    expiresAt: time('When credited points expire'),
    activeFrom: time('Credited points are pending until then'),
  }, ['points', 'reason'], 'A signed manual correction.'),
  enroll: command({
    program: id('The program to join.'),
    member: ref('MemberFacts'),
    referredBy: id('The account that referred this member.'),
  }, ['program'], 'Join a program: first tier and its bonus, registration and referral rewards.'),
  purchase: command({
    basket: ref('Basket'),
    ref: id('The purchase id returns refer to; default `key`.'),
  }, ['basket'], 'A purchase: the program\'s rules turn the basket into points (see `breakdown`).'),
  activity: command({ event: id('The event, e.g. `newsletter_signup`.') }, ['event'],
    'An activity reward.'),
  profile: command({ member: ref('MemberFacts') }, ['member'],
    'Replace the member facts rules look at.'),
  preview: object({ account: commandFields['account']!, basket: ref('Basket') }, ['basket'], {
    description: 'What a basket would earn this member now; nothing changes.',
  }),
}

const schemas: Record<string, Schema> = {
  Status: str('What happened; see the HTTP status mapping in the API description.', {
    enum: statusNames,
    'x-descriptions': Object.fromEntries(statusNames.map((name) => [name, statuses[name].doc])),
  }),
  Reply: {
    type: 'object',
    description: 'The reply to every operation; fields are present when the operation has them.',
    required: ['status'],
    properties: {
      status: ref('Status'),
      field: str('With invalid_request: the path of the offending field.'),
      message: str('A human explanation.'),
      entry: int('The journal entry the command produced.'),
      hold: int('With authorize: the hold id.'),
      heldLots: array(object({
        points: int('Points held of this lot.'),
        expiresAt: int('Their expiry (ms); 8640000000000000 for points that never expire.'),
        activeFrom: int('For points that expire: the lot\'s start (ms).'),
      }, ['points', 'expiresAt']), 'With authorize, when some held points expire: the held points by lot (expiry, then start), soonest first; those that never expire last, as one.'),
      points: int('Points moved by the command.'),
      shortfall: int('With reverse under `clamp`: points forgiven because they were spent.'),
      lapsed: int('With reverse: points of the returned share that had expired unspent, so were not taken again (from other points, or as debt).'),
      balance: ref('Balance'),
      entries: array(ref('Entry'), 'With history: journal entries, newest first.'),
      next: int('With history: the `before` cursor of the next (older) page; none on the last.'),
      breakdown: array(ref('BreakdownLine'), 'Which rule gave how many points.'),
      tier: str('The member\'s tier after the command.'),
      membership: ref('Membership'),
      rulesetVersion: int('The ruleset version that evaluated the command.'),
      lots: array(object({
        points: int('Points left in the lot.'),
        activeFrom: int('Spendable from (ms); later than now while pending.'),
        expiresAt: int('Expires at (ms).'),
      }, ['points', 'activeFrom', 'expiresAt']), 'With lots: lots with points left, soonest expiry first.'),
      holds: array(object({
        hold: int('The hold id (for capture and void).'),
        points: int('Points reserved.'),
        expiresAt: int('Released by itself at (ms).'),
        claimed: int('Of them, points a return took back while they were held: owed until the hold closes; a release settles them with the held points, a capture that spends them owes them for good.'),
      }, ['hold', 'points', 'expiresAt']), 'With lots: the open holds.'),
      debt: int('With lots: points owed after reversals of spent points.'),
    },
  },
  Balance: object({
    available: int('Spendable now; negative when the account owes points.'),
    pending: int('Credited but not yet spendable.'),
    held: int('Reserved by open holds.'),
  }, ['available', 'pending', 'held']),
  Source: object({
    terminal: id('Set by the gateway for terminals.'),
    store: id('Store.'),
    channel: id('Defaults to the caller\'s role (processor, partner).'),
    operator: id('Set by the gateway for console users.'),
  }, [], { description: 'Where the command came from; recorded on the journal entry.' }),
  JoinRequest: object({
    key: id('Idempotency key, per caller; required unless Idempotency-Key gives it.'),
    program: id('A program of the active ruleset.'),
    member: object({
      id: str('Member id (also its account); default: derived from the caller and the key.', { minLength: 1, maxLength: 64 }),
      firstName: str('First name.', { maxLength: 200 }),
      lastName: str('Last name.', { maxLength: 200 }),
      email: str('Email address; unique among members.', { maxLength: 320 }),
      phone: str('Phone number in international form (`+4930123456`); unique.'),
      birthDate: str('YYYY-MM-DD.', { format: 'date' }),
      gender: str('Gender.', { maxLength: 200 }),
      country: str('ISO 3166 alpha-2 code, e.g. `DE`.', { pattern: '^[A-Z]{2}$' }),
      segments: array(id('A segment tag.'), 'At most 100.'),
    }, [], { description: 'The new member\'s profile (`JoinProfile`).' }),
    card: str('A card number handed over with the sign-up: 6 to 32 letters or digits (spaces and dashes are ignored).'),
    source: ref('Source'),
  }, ['program'], { description: 'A new member: profile, optional card, program.' }),
  MemberFacts: object({
    birthDate: str('YYYY-MM-DD.', { format: 'date' }),
    country: id('Country.'),
    gender: id('Gender.'),
    segments: array(id('A segment tag.'), 'At most 100.'),
  }),
  BasketLine: object({
    sku: id('SKU.'),
    category: id('Category.'),
    quantity: int('Units.', { minimum: 1 }),
    unitPrice: int('Minor units per unit.', { minimum: 0 }),
    discount: int('Minor units off the line as a whole.', { minimum: 0 }),
  }, ['sku', 'quantity', 'unitPrice']),
  ReturnLine: object({
    sku: id('SKU, as on the purchase.'),
    quantity: int('Units returned.', { minimum: 1 }),
  }, ['sku', 'quantity']),
  Basket: object({
    lines: { ...array(ref('BasketLine')), minItems: 1 },
    store: id('Store.'),
    channel: str('Channel.', { enum: ['store', 'web', 'app', 'partner'] }),
    tender: id('Tender.'),
    promoCodes: array(id('A promo code.'), 'At most 20.'),
  }, ['lines']),
  BreakdownLine: object({
    source: str('What gave the points.', {
      enum: ['rule', 'tier', 'campaign', 'activity', 'tier_bonus'],
    }),
    id: str('Rule id.'),
    name: str('Rule name.'),
    points: int('Points it gave.'),
    cut: str('A cap, limit or quota cut its points.', { enum: ['cap', 'limit', 'quota'] }),
  }, ['source', 'id', 'points']),
  Entry: {
    type: 'object',
    description: 'An immutable journal line.',
    required: ['seq', 'kind', 'at', 'points', 'held', 'balance'],
    properties: {
      seq: int('Sequence number in the account.'),
      kind: str('Kind.', {
        enum: [
          'earn', 'burn', 'hold', 'capture', 'release', 'void', 'expire', 'adjust', 'reverse',
          'tier', 'enroll', 'profile',
        ],
      }),
      at: time('When'),
      points: int('Change to the balance.'),
      held: int('Change to the held points.'),
      balance: int('Balance after the entry.'),
      key: str('Idempotency key.'),
      ref: str('Transaction reference.'),
      hold: int('Hold id.'),
      reason: str('Reason.'),
      expiresAt: time('Expiry of credited points'),
      source: ref('Source'),
      rulesetVersion: int('Ruleset version.'),
      breakdown: array(ref('BreakdownLine')),
      tierFrom: str('With tier entries: the tier before.'),
      tierTo: str('With tier entries: the tier after.'),
      lapsed: int('With reverse entries: points of the share that had expired unspent, so were not taken.'),
    },
  },
  Membership: {
    type: 'object',
    properties: {
      program: str('Program.'),
      tier: str('Tier.'),
      enrolledAt: time('Enrolment'),
      qualification: int('Qualification value in the current period.'),
      reviewAt: time('Next tier review'),
      member: ref('MemberFacts'),
      purchases: int('Purchases so far.'),
    },
  },
  RulesetErrors: {
    type: 'object',
    description: 'A ruleset (or preview) that does not validate: each error with its path.',
    required: ['status', 'errors'],
    properties: {
      status: { const: 'invalid_request' },
      field: str('The first error\'s path.'),
      message: str('Summary.'),
      errors: array(object({
        path: str('Path in the document, e.g. `programs[0].rules[1].per`.'),
        message: str('What is wrong.'),
      }, ['path', 'message'])),
    },
  },
  RulesetDocument: {
    type: 'object',
    description: 'A complete ruleset: every program (see engine/src/rules/types.ts). ' +
      'Validated on publish; errors come back as 422 RulesetErrors.',
    required: ['programs'],
    properties: { programs: array({ type: 'object' }) },
  },
  RulesetInfo: {
    type: 'object',
    required: ['version', 'publishedAt', 'active'],
    properties: {
      version: int('Version number, from 1.'),
      publishedAt: time('Publication'),
      note: str('Note given at publication.'),
      active: bool('Whether it is the active version.'),
    },
  },
  StoredRuleset: {
    type: 'object',
    required: ['version', 'publishedAt', 'active', 'doc'],
    properties: {
      version: int('Version number.'),
      publishedAt: time('Publication'),
      note: str('Note.'),
      active: bool('Whether it is the active version.'),
      doc: ref('RulesetDocument'),
    },
  },
  RulesetPreviewRequest: object({
    ruleset: ref('RulesetDocument'),
    version: int('A stored version (default: the active one); not with `ruleset`.', { minimum: 1 }),
    program: id('The program.'),
    basket: ref('Basket'),
    member: object({
      tier: id('Tier (default: the first).'),
      facts: ref('MemberFacts'),
      firstPurchase: bool('Whether this is the member\'s first purchase.'),
    }),
    at: time('Evaluate as of this time (default now)'),
  }, ['program', 'basket'], {
    description: 'A draft document, a stored version, or the active version.',
  }),
  RulesetPreview: {
    type: 'object',
    required: ['status', 'version', 'tier', 'points', 'breakdown'],
    properties: {
      status: { const: 'ok' },
      version: { oneOf: [int('The stored version.'), { const: 'draft' }] },
      tier: str('The tier evaluated for.'),
      points: int('Points the basket would earn.'),
      qualifyingPoints: int('Points counting toward tier qualification.'),
      spend: int('Eligible spend (minor units).'),
      paid: int('What the basket cost after discounts.'),
      breakdown: array(ref('BreakdownLine')),
      campaigns: array(str('Campaign id.'), 'Campaigns that applied.'),
    },
  },
  Terminal: {
    type: 'object',
    required: ['id', 'name', 'createdAt', 'disabled'],
    properties: {
      id: str('Terminal id.'),
      name: str('Name.'),
      store: str('The store it stands in.'),
      createdAt: time('Issued'),
      disabled: bool('A disabled terminal cannot connect.'),
      connected: bool('Whether it has an open WebSocket connection now (in listings).'),
      connections: int('Its open WebSocket connections (in listings).'),
    },
  },
  ApiToken: {
    type: 'object',
    required: ['id', 'name', 'role', 'createdAt', 'disabled'],
    properties: {
      id: str('Token id (the part before the dot).'),
      name: str('Name.'),
      role: str('Role.', { enum: ['processor', 'partner', 'admin'] }),
      createdAt: time('Issued'),
      disabled: bool('Disabled.'),
    },
  },
  User: {
    type: 'object',
    required: ['username', 'role', 'createdAt', 'disabled'],
    properties: {
      username: str('User name.'),
      role: str('Role.', { enum: ['admin', 'marketer', 'support'] }),
      createdAt: time('Added'),
      disabled: bool('Disabled.'),
    },
  },
  Session: {
    type: 'object',
    required: ['status', 'username', 'role'],
    properties: {
      status: { const: 'ok' },
      username: str('The user (or, with a token, the token id).'),
      role: str('Role.', { enum: ['admin', 'marketer', 'support', 'processor', 'partner'] }),
      expiresAt: time('When the session ends (sessions only)'),
    },
  },
  AuditRecord: {
    type: 'object',
    required: ['at', 'seq', 'actor', 'action', 'target', 'detail'],
    properties: {
      at: time('When'),
      seq: int('Sequence number, increasing across the log\'s life.'),
      actor: object({
        kind: str('Role: admin, support, marketer, processor, partner, ...'),
        id: str('User name or token id.'),
        from: str('The client\'s address, when known.'),
      }, ['kind', 'id']),
      action: str('The change, e.g. `member.create`, `card.replace`, `terminal.issue`, ' +
        '`ruleset.activate`, `session.login`, `member.import` (one per batch).'),
      target: str('What it changed: a member id, a terminal id, a version, a user name, an ' +
        'import id.'),
      detail: { type: 'object' },
    },
  },
  ...memberSchemas(),
}

/** The profile's schemas, those a change may remove also taking `null`. */
function removable(profile: Record<string, Schema>): Record<string, Schema> {
  const removableFields: readonly string[] = removableProfileFields
  return Object.fromEntries(Object.entries(profile).map(([name, schema]) =>
    [name, removableFields.includes(name) ? { anyOf: [schema, { type: 'null' }] } : schema]))
}

function memberSchemas(): Record<string, Schema> {
  const text = (description: string) => str(description, { maxLength: 200 })
  const profile: Record<string, Schema> = {
    firstName: text('First name.'),
    lastName: text('Last name.'),
    email: str('Email address; an identifier, unique among members.', { maxLength: 320 }),
    phone: str('Phone number in international form (`+4930123456`); an identifier, unique.'),
    birthDate: str('YYYY-MM-DD.', { format: 'date' }),
    gender: text('Gender.'),
    country: str('ISO 3166 alpha-2 code, e.g. `DE`.', { pattern: '^[A-Z]{2}$' }),
    address: ref('Address'),
    attributes: {
      type: 'object',
      description: 'Free attributes (at most 50), e.g. from a legacy system.',
      additionalProperties: { type: 'string', maxLength: 500 },
    },
    segments: array(id('A segment tag.'), 'At most 100; rules and campaigns read them.'),
    consents: object({
      email: bool('May be emailed.'),
      sms: bool('May be texted.'),
      push: bool('May get push messages.'),
    }),
  }
  const card = object({
    type: str('Type (default `card`).', { enum: ['card', 'virtual_card', 'nfc', 'fob'] }),
    value: str('The number: 6 to 32 letters or digits (spaces and dashes are ignored).'),
  }, ['value'])
  return {
    Address: object({
      line1: text('Line 1.'),
      line2: text('Line 2.'),
      city: text('City.'),
      postalCode: text('Postal code.'),
      region: text('Region.'),
      country: text('Country.'),
    }),
    Member: {
      type: 'object',
      description: 'A member of the registry.',
      required: ['id', 'account', 'program', 'attributes', 'segments', 'consents', 'joinedAt',
        'status', 'redemptionAllowed'],
      properties: {
        id: str('Member id.'),
        account: str('The account its points live in (its id, or a household\'s master\'s).'),
        program: str('Program.'),
        ...profile,
        joinedAt: time('Joined'),
        referrer: str('The member who referred it.'),
        status: str('Only active members earn and redeem.', {
          enum: ['active', 'suspended', 'closed'],
        }),
        redemptionAllowed: bool('Whether it may redeem.'),
        erasedAt: time('When its personal data was erased'),
        household: str('The household\'s master member, while it pools its points there.'),
        formerHouseholds: array(
          str('A pool account.'),
          'The pool accounts of households it left, the latest first (at most 16): a return or refund of what it bought there is made there.',
        ),
        mergedInto: str('On a duplicate merged into another member: that member.'),
        mergedFrom: array(str('A member id.'), 'The duplicates merged into it, oldest first.'),
        movedAt: time('When it last joined or left a household or absorbed a duplicate: for the idempotency window after it, a retry of a command made before is answered from where it was made'),
      },
    },
    Identifier: {
      type: 'object',
      required: ['type', 'value', 'member', 'status', 'issuedAt', 'changedAt'],
      properties: {
        type: str('Type.', { enum: [...identifierTypes] }),
        value: str('The normalised value.'),
        member: str('The member it belongs to.'),
        status: str('Only active identifiers name a member in operations.', {
          enum: ['active', 'blocked', 'lost', 'replaced', 'released'],
        }),
        issuedAt: time('Issued'),
        changedAt: time('Last status change'),
        reason: str('Why its status last changed.'),
        replacedBy: str('With replaced: the new card.'),
      },
    },
    NewMember: object({
      id: str('Member id: 1 to 64 letters, digits or `_.:-`; also its account.'),
      program: id('A program of the active ruleset; the member joins it at once.'),
      ...profile,
      referrer: id('The member who referred it; gets its referral reward.'),
      cards: { ...array(card, 'Cards to issue with the member (at most 10).'), maxItems: 10 },
    }, ['id', 'program']),
    MemberChanges: object(removable(profile), [], {
      description: 'The fields to change (at least one); email and phone changes move the ' +
        'identifiers. `null` removes an optional field (names, email, phone, birthDate, gender, ' +
        'country, address; a removed email or phone is released); an empty text, and `null` on ' +
        'attributes, segments or consents, are refused naming the field.',
      minProperties: 1,
    }),
    MemberDetail: okBody({
      member: ref('Member'),
      identifiers: array(ref('Identifier'), 'Every identifier, whatever its status.'),
      balance: ref('Balance'),
      tier: str('Tier, when enrolled.'),
      membership: ref('Membership'),
      enrolment: ref('Reply'),
      profile: ref('Reply'),
    }, ['member']),
    MemberPage: okBody({
      members: array(ref('Member')),
      next: str('Pass as `after` for the next page; absent on the last.'),
    }, ['members']),
    ImportReport: {
      type: 'object',
      required: ['importId', 'rows', 'imported', 'rejected', 'enrolled', 'enrollFailed',
        'attributes', 'rejections', 'enrollFailures', 'seconds'],
      properties: {
        importId: str('The audit target of every batch of this import.'),
        rows: int('Data rows read.'),
        imported: int('Members created.'),
        rejected: int('Rows refused.'),
        enrolled: int('Members enrolled in their program.'),
        enrollFailed: int('Members created whose enrolment failed.'),
        attributes: array(str('Column.'), 'Columns read as attributes.'),
        rejections: array(object({
          line: int('Line the row starts on (the header is 1).'),
          field: str('Column (or `row`).'),
          message: str('Why.'),
        }, ['line', 'field', 'message']), 'The first 1,000 refused rows.'),
        enrollFailures: array({ type: 'object' }, 'The first 1,000 failed enrolments.'),
        aborted: object({ line: int('Line.'), field: str('Field.'), message: str('Why.') }, [], {
          description: 'The file could not be read on from `line` (rows before it were ' +
            'imported), or (field `batch`) the rows from `line` could not be stored.',
        }),
        seconds: { type: 'number', description: 'How long the import took.' },
      },
    },
  }
}

function okBody(properties: Record<string, Schema>, required: string[]): Schema {
  return {
    type: 'object',
    required: ['status', ...required],
    properties: { status: { const: 'ok' }, ...properties },
  }
}

function json(description: string, schema: Schema, headers?: Schema): Schema {
  const response: Schema = { description, content: { 'application/json': { schema } } }
  if (headers !== undefined) response['headers'] = headers
  return response
}

const retryAfter = {
  'Retry-After': {
    description: `Seconds to wait (${retryAfterSeconds}).`,
    schema: { type: 'integer' },
  },
}

const reply = ref('Reply')

const responses: Record<string, Schema> = {
  Invalid: json('invalid_request: `field` names what is wrong; nothing was applied.', reply),
  Unauthenticated: json('unauthorized: credentials missing or wrong.', reply),
  Forbidden: json('unauthorized: the caller\'s role may not do this.', reply),
  NotFound: json('account_not_found, hold_not_found or transaction_not_found (admin routes: ' +
    'the item named does not exist, status invalid_request).', reply),
  Refused: json('A business refusal: insufficient_points, exists_with_different_*, ' +
    'hold_already_captured, hold_already_voided, hold_expired, capture_exceeds_hold, ' +
    'reversal_exceeds_original, card_blocked, member_suspended or redemption_not_allowed. ' +
    'Retrying unchanged fails again.', reply),
  Conflict: json('invalid_request: the id is taken.', reply),
  UnsupportedMediaType: json('invalid_request naming `content-type` (send JSON) or `content-encoding` (send the body uncompressed).', reply),
  Unprocessable: json('The ruleset does not validate.', ref('RulesetErrors')),
  Stranding: json('The version is valid, but activating it would leave members in programs or tiers it ' +
    'lacks (the errors name them); nothing was stored or activated. `force=true` goes ahead.', ref('RulesetErrors')),
  Overloaded: json('overloaded: retry later with the same key.', reply, retryAfter),
  Unavailable: json('unavailable: storage failed or the engine is stopping; retry later with ' +
    'the same key.', reply, retryAfter),
}

type Method = 'get' | 'post' | 'patch' | 'delete'

/** One route of the app, documented. `path` is in the app's own syntax (`:account`). */
export interface RouteDoc {
  method: Method
  path: string
  operationId: string
  tag: string
  /** `none`: no credentials; `any`: any authenticated caller; else these roles. */
  roles: 'none' | 'any' | readonly string[]
  summary: string
  /** Success code, its description and body schema. */
  ok: [code: number, description: string, schema: Schema]
  /** Error responses by code, as names of `components.responses`. */
  errors: Record<number, string>
  description?: string
  query?: Schema[]
  headers?: Schema[]
  body?: Schema
  /** The body's media type; default `application/json`. */
  bodyType?: string
  /** The success response's media type; default `application/json`. */
  okType?: string
}

const authErrors = { 401: 'Unauthenticated', 403: 'Forbidden' }
const bodyErrors = { 400: 'Invalid', 415: 'UnsupportedMediaType' }
const engineErrors = { 404: 'NotFound', 409: 'Refused', 429: 'Overloaded', 503: 'Unavailable' }
const admin = ['admin'] as const
const rulesetRoles = ['admin', 'marketer'] as const

const idempotencyHeader: Schema = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'The idempotency key, when the body has no `key`; if both are given, they agree.',
  schema: { type: 'string', minLength: 1, maxLength: 128 },
}

function queryParam(name: string, description: string, schema: Schema): Schema {
  return { name, in: 'query', required: false, description, schema }
}

const requestSchemaName = (op: string) => `${op[0]!.toUpperCase()}${op.slice(1)}Request`
const byIdentifierName = (op: string) => `${requestSchemaName(op)}ByIdentifier`
const memberIdentifiers = ['card', 'phone', 'email'] as const

/**
 * The same request naming the member by card, phone or email (with `-` as the
 * path's account): the engine resolves it, and refuses a blocked card or a
 * suspended member.
 */
function byIdentifier(schema: Schema): Schema {
  const { account: _account, ...properties } = schema['properties'] as Record<string, Schema>
  return {
    ...schema,
    description: `${String(schema['description'])} By identifier: the path's account is \`-\`` +
      ' and exactly one of card, phone or email names the member.',
    properties: {
      ...properties,
      card: id('A card, virtual card, NFC tag or fob number.'),
      phone: id('A phone number.'),
      email: id('An email address.'),
    },
    oneOf: memberIdentifiers.map((field) => ({ required: [field] })),
  }
}

const identifierQuery = memberIdentifiers.map((field) => queryParam(field,
  `With \`-\` as the account: the member's ${field} (exactly one of card, phone, email).`,
  { type: 'string' }))

function accountRoutes(): RouteDoc[] {
  const commands = accountCommands.map((op): RouteDoc => ({
    method: 'post',
    path: `/v1/accounts/:account/${op}`,
    operationId: op,
    tag: 'accounts',
    roles: rolesFor(op),
    summary: String(operationBodies[op]!['description']),
    headers: [idempotencyHeader],
    body: { oneOf: [ref(requestSchemaName(op)), ref(byIdentifierName(op))] },
    ok: [200, 'Applied (ok), or a replayed key (exists, with the stored result).', reply],
    errors: { ...bodyErrors, ...authErrors, ...engineErrors },
  }))
  const query = (op: 'balance' | 'member' | 'lots', summary: string, what: string): RouteDoc => ({
    method: 'get',
    path: `/v1/accounts/:account/${op}`,
    operationId: op,
    tag: 'accounts',
    roles: rolesFor(op),
    summary,
    query: identifierQuery,
    ok: [200, what, reply],
    errors: { 400: 'Invalid', ...authErrors, ...engineErrors },
  })
  return [
    ...commands,
    query('balance', 'The balance: available, pending, held.', 'The balance.'),
    query('member', 'Program, tier, qualification and member facts.', 'The membership.'),
    query('lots', 'Lots with their dates, open holds and debt: what the balance is made of.',
      'The lots, holds and debt.'),
    {
      method: 'get',
      path: '/v1/accounts/:account/history',
      operationId: 'history',
      tag: 'accounts',
      roles: rolesFor('history'),
      summary: 'Journal entries, newest first, a page at a time.',
      query: [
        queryParam('limit', 'Entries per page (default 20, at most 100: more is refused).', {
          type: 'integer',
          minimum: 1,
          maximum: 100,
        }),
        queryParam('before', 'The `next` cursor of the previous page.', {
          type: 'integer',
          minimum: 1,
        }),
        ...identifierQuery,
      ],
      ok: [200, 'A page of entries, and `next` unless it is the last.', reply],
      errors: { 400: 'Invalid', ...authErrors, ...engineErrors },
    },
    {
      method: 'post',
      path: '/v1/accounts/:account/transfer',
      operationId: 'transfer',
      tag: 'accounts',
      roles: rolesFor('transfer'),
      summary: 'Move spendable points from this member to another (a durable saga: held, credited, captured).',
      description: 'The sender is the member in the path (by id; not `-`). Points are taken soonest-expiry ' +
        'first and keep their dates at the receiver. The reply\'s `transfer` names the saga and its state; ' +
        'a retry with the same key returns the same transfer. Refused when the sender has too few spendable points ' +
        '(`insufficient_points`), either member is unknown or suspended, or both are the same account.',
      headers: [idempotencyHeader],
      body: object({
        account: id('Optional: if given it must equal the member in the path.'),
        key: id('Idempotency key; required unless Idempotency-Key gives it.'),
        to: id('The receiving member (or account).'),
        points: points('Points to move.'),
        reason: str('Why, for both journals.', { maxLength: 500 }),
      }, ['to', 'points']),
      ok: [200, 'Moved (ok), or a replayed key (the same transfer).', reply],
      errors: { ...bodyErrors, ...authErrors, ...engineErrors },
    },
    {
      method: 'post',
      path: '/v1/join',
      operationId: 'join',
      tag: 'accounts',
      roles: rolesFor('join'),
      summary: 'A new member in one step: registry record, optional card and program enrolment (an e-shop\'s sign-up).',
      description: 'The fields of the WebSocket `join` frame and the gRPC `JoinRequest`. The member id is ' +
        '`member.id`, or derived from the caller and the key, so a retry with the same key answers the same ' +
        'member and `exists` for the enrolment, creating nothing. Nothing is created when the request is ' +
        'refused. A card, email, phone or member id that is another member\'s, and a retry naming other ' +
        'details or another card than the member it made, are 409 `invalid_request` naming the field (join ' +
        'does not change a member).',
      headers: [idempotencyHeader],
      body: ref('JoinRequest'),
      ok: [200, 'Joined (ok, with `member`, tier and points), or a replayed key (exists, the same member).', reply],
      errors: { ...bodyErrors, ...authErrors, ...engineErrors },
    },
    {
      method: 'post',
      path: '/v1/accounts/:account/preview',
      operationId: 'preview',
      tag: 'accounts',
      roles: rolesFor('preview'),
      summary: 'What a basket would earn this member now; changes nothing.',
      body: { oneOf: [ref('PreviewRequest'), ref(byIdentifierName('preview'))] },
      ok: [200, 'The breakdown and points.', reply],
      errors: { ...bodyErrors, ...authErrors, ...engineErrors },
    },
  ]
}

function sessionRoutes(): RouteDoc[] {
  const credentials = object({
    username: str('User name.', { maxLength: 64 }),
    password: str('Password.', { maxLength: 1024 }),
  }, ['username', 'password'])
  return [
    {
      method: 'post',
      path: '/v1/session',
      operationId: 'login',
      tag: 'session',
      roles: 'none',
      summary: 'Console login: sets the session cookie.',
      description: 'Sets `loyalty_session` (HttpOnly, SameSite=Strict, Path=/, Secure over ' +
        'HTTPS), valid 12 hours by default.',
      body: credentials,
      ok: [200, 'Logged in.', ref('Session')],
      errors: { ...bodyErrors, 401: 'Unauthenticated' },
    },
    {
      method: 'get',
      path: '/v1/session',
      operationId: 'whoAmI',
      tag: 'session',
      roles: 'any',
      summary: 'Who the caller is (session or token).',
      ok: [200, 'The caller.', ref('Session')],
      errors: { 401: 'Unauthenticated' },
    },
    {
      method: 'delete',
      path: '/v1/session',
      operationId: 'logout',
      tag: 'session',
      roles: 'none',
      summary: 'Console logout: ends the session and clears the cookie.',
      ok: [200, 'Logged out (also when there was no session).', okBody({}, [])],
      errors: {},
    },
  ]
}

function rulesetRoutes(): RouteDoc[] {
  const stored = okBody({ ruleset: ref('StoredRuleset') }, ['ruleset'])
  const published = okBody({
    version: int('The new version.'),
    active: bool('Whether it was activated.'),
  }, ['version', 'active'])
  return [
    {
      method: 'get',
      path: '/v1/rulesets',
      operationId: 'listRulesets',
      tag: 'rulesets',
      roles: rulesetRoles,
      summary: 'Every stored version, oldest first, without documents.',
      ok: [200, 'The versions.', okBody({ rulesets: array(ref('RulesetInfo')) }, ['rulesets'])],
      errors: authErrors,
    },
    {
      method: 'get',
      path: '/v1/rulesets/active',
      operationId: 'activeRuleset',
      tag: 'rulesets',
      roles: ['admin', 'marketer', 'support'],
      summary: 'The active version with its document.',
      ok: [200, 'The active version.', stored],
      errors: { ...authErrors, 404: 'NotFound' },
    },
    {
      method: 'post',
      path: '/v1/rulesets/preview',
      operationId: 'previewRuleset',
      tag: 'rulesets',
      roles: rulesetRoles,
      summary: 'What a basket would earn under a draft, a stored or the active version.',
      description: 'Errors in the draft (one over 1 MiB as compact JSON among them), an unknown program, tier or version are 422.',
      body: ref('RulesetPreviewRequest'),
      ok: [200, 'The evaluation.', ref('RulesetPreview')],
      errors: { ...bodyErrors, ...authErrors, 422: 'Unprocessable' },
    },
    {
      method: 'get',
      path: '/v1/rulesets/:version',
      operationId: 'getRuleset',
      tag: 'rulesets',
      roles: rulesetRoles,
      summary: 'One stored version with its document.',
      ok: [200, 'The version.', stored],
      errors: { 400: 'Invalid', ...authErrors, 404: 'NotFound' },
    },
    {
      method: 'post',
      path: '/v1/rulesets',
      operationId: 'publishRuleset',
      tag: 'rulesets',
      roles: rulesetRoles,
      summary: 'Validate and store a new version; optionally activate it.',
      description: 'Marketers may publish; only an admin may publish with `activate=true`. ' +
        'A document over 1 MiB (1,048,576 bytes) as compact JSON is 422 naming `$` and the limit (`rulesetBytesMax`), ' +
        'as it is for any caller of the engine; the body as sent (indented, say) may have up to 2 MiB.',
      query: [
        queryParam('activate', 'Make it the active version at once (admin only).', {
          type: 'string',
          enum: ['true', 'false'],
        }),
        queryParam('note', 'A note stored with the version.', { type: 'string', maxLength: 500 }),
        forceParam,
      ],
      body: ref('RulesetDocument'),
      ok: [201, 'Published.', published],
      errors: { ...bodyErrors, ...authErrors, 409: 'Stranding', 422: 'Unprocessable' },
    },
    {
      method: 'post',
      path: '/v1/rulesets/:version/activate',
      operationId: 'activateRuleset',
      tag: 'rulesets',
      roles: admin,
      summary: 'Make a stored version active (also to roll back).',
      description: 'Every shard switches at its next batch; resolves once all have it.',
      query: [forceParam],
      ok: [200, 'Active.', okBody({ version: int('Version.'), active: { const: true } }, [
        'version', 'active',
      ])],
      errors: { 400: 'Invalid', ...authErrors, 404: 'NotFound', 409: 'Stranding' },
    },
  ]
}

/** Activation is refused (409) when members are in programs or tiers the version lacks; `force=true` goes ahead. */
const forceParam = queryParam(
  'force',
  'Activate even though members are in programs or tiers this version lacks (otherwise refused with 409, naming them).',
  { type: 'string', enum: ['true', 'false'] },
)

function terminalRoutes(): RouteDoc[] {
  const terminal = okBody({ terminal: ref('Terminal') }, ['terminal'])
  const toggle = (action: 'disable' | 'enable', summary: string): RouteDoc => ({
    method: 'post',
    path: `/v1/terminals/:id/${action}`,
    operationId: `${action}Terminal`,
    tag: 'terminals',
    roles: admin,
    summary,
    ok: [200, 'Done.', terminal],
    errors: { ...authErrors, 404: 'NotFound' },
  })
  return [
    {
      method: 'get',
      path: '/v1/terminals',
      operationId: 'listTerminals',
      tag: 'terminals',
      roles: admin,
      summary: 'Every terminal (never their secrets).',
      ok: [200, 'Terminals.', okBody({ terminals: array(ref('Terminal')) }, ['terminals'])],
      errors: authErrors,
    },
    {
      method: 'post',
      path: '/v1/terminals',
      operationId: 'issueTerminal',
      tag: 'terminals',
      roles: admin,
      summary: 'Register a terminal; the reply has its secret, shown this once.',
      body: object({
        id: str('Terminal id.', { maxLength: 64 }),
        name: str('Name.', { maxLength: 200 }),
        store: str('The store it stands in.', { maxLength: 64 }),
      }, ['id', 'name']),
      ok: [201, 'Issued.', okBody({
        terminal: ref('Terminal'),
        secret: str('The terminal secret; not stored, never shown again.'),
      }, ['terminal', 'secret'])],
      errors: { ...bodyErrors, ...authErrors, 409: 'Conflict' },
    },
    toggle('disable', 'Disable a terminal: it can no longer connect; open connections close.'),
    toggle('enable', 'Enable a disabled terminal.'),
    {
      method: 'post',
      path: '/v1/terminals/:id/rotate',
      operationId: 'rotateTerminalSecret',
      tag: 'terminals',
      roles: admin,
      summary: 'Give a terminal a new secret, shown this once; the old one stops working and ' +
        'open connections close.',
      ok: [200, 'Rotated.', okBody({
        terminal: ref('Terminal'),
        secret: str('The new secret; not stored, never shown again.'),
      }, ['terminal', 'secret'])],
      errors: { ...authErrors, 404: 'NotFound' },
    },
  ]
}

function statsRoutes(): RouteDoc[] {
  const staff = ['admin', 'marketer', 'support'] as const
  const count = (what: string) => int(what)
  return [
    {
      method: 'get',
      path: '/v1/stats',
      operationId: 'programFigures',
      tag: 'stats',
      roles: staff,
      summary: 'Members, points issued, redeemed, expired and outstanding, the liability in ' +
        'money, and accounts per tier: running totals, current to the last committed batch.',
      ok: [200, 'The figures.', okBody({
        at: time('When they were read'),
        members: object({
          total: count('Members.'),
          active: count('Active members.'),
          suspended: count('Suspended members.'),
          closed: count('Closed (or erased) members.'),
        }, ['total', 'active', 'suspended', 'closed']),
        accounts: count('Ledger accounts.'),
        points: object({
          issued: count('Points ever credited.'),
          redeemed: count('Points ever burned (redeemed, captured).'),
          expired: count('Points ever expired.'),
          outstanding: count('Points members hold (spendable, pending, held) less debt.'),
          held: count('Points reserved by open holds.'),
          debt: count('Points owed after reversals of spent points.'),
        }, ['issued', 'redeemed', 'expired', 'outstanding', 'held', 'debt']),
        liability: array(object({
          program: str('Program id.'),
          points: count('Outstanding points in the program.'),
          money: count('Their worth in minor units (points × point value).'),
          currency: str('ISO 4217.'),
        }, ['program', 'points', 'money', 'currency']), 'Per program of the active ruleset.'),
        tiers: array(object({
          program: str('Program id.'),
          tier: str('Tier id.'),
          name: str('Tier name.'),
          accounts: count('Accounts in the tier.'),
        }, ['program', 'tier', 'name', 'accounts']), 'Lowest tier first.'),
      }, ['at', 'members', 'accounts', 'points', 'liability', 'tiers'])],
      errors: authErrors,
    },
    {
      method: 'get',
      path: '/v1/stats/live',
      operationId: 'liveTraffic',
      tag: 'stats',
      roles: staff,
      summary: 'Commands answered per second with p50 and p99 latency, oldest first.',
      query: [queryParam('seconds', 'How many complete seconds (default and most 60).', {
        type: 'integer', minimum: 1, maximum: 60,
      })],
      ok: [200, 'The series.', okBody({
        series: array(object({
          at: time('The second\'s start'),
          ops: count('Commands answered in it.'),
          p50Ms: { type: 'number', description: 'Median latency (ms).' },
          p99Ms: { type: 'number', description: '99th percentile latency (ms).' },
        }, ['at', 'ops', 'p50Ms', 'p99Ms'])),
      }, ['series'])],
      errors: { 400: 'Invalid', ...authErrors },
    },
  ]
}

function userRoutes(): RouteDoc[] {
  return [
    {
      method: 'post',
      path: '/v1/tokens',
      operationId: 'issueToken',
      tag: 'tokens',
      roles: admin,
      summary: 'Issue an API token; the reply has it, shown this once.',
      body: object({
        name: str('Name.', { maxLength: 200 }),
        role: str('Role.', { enum: ['processor', 'partner', 'admin'] }),
      }, ['name', 'role']),
      ok: [201, 'Issued.', okBody({
        token: ref('ApiToken'),
        secret: str('The token `<id>.<secret>`, for Authorization: Bearer.'),
      }, ['token', 'secret'])],
      errors: { ...bodyErrors, ...authErrors },
    },
    {
      method: 'get',
      path: '/v1/tokens',
      operationId: 'listTokens',
      tag: 'tokens',
      roles: admin,
      summary: 'Every API token (never a secret).',
      ok: [200, 'Tokens.', okBody({ tokens: array(ref('ApiToken')) }, ['tokens'])],
      errors: authErrors,
    },
    ...(['revoke', 'restore'] as const).map((action): RouteDoc => ({
      method: 'post',
      path: `/v1/tokens/:id/${action}`,
      operationId: `${action}Token`,
      tag: 'tokens',
      roles: admin,
      summary: action === 'revoke'
        ? 'Revoke a token: from now on it authenticates nothing.'
        : 'Restore a revoked token.',
      ok: [200, 'Done.', okBody({ token: ref('ApiToken') }, ['token'])],
      errors: { ...authErrors, 404: 'NotFound' },
    })),
    {
      method: 'get',
      path: '/v1/users',
      operationId: 'listUsers',
      tag: 'users',
      roles: admin,
      summary: 'Every console user.',
      ok: [200, 'Users.', okBody({ users: array(ref('User')) }, ['users'])],
      errors: authErrors,
    },
    {
      method: 'post',
      path: '/v1/users',
      operationId: 'addUser',
      tag: 'users',
      roles: admin,
      summary: 'Add a console user.',
      body: object({
        username: str('User name.', { maxLength: 64 }),
        role: str('Role.', { enum: ['admin', 'marketer', 'support'] }),
        password: str('Password.', { minLength: 12, maxLength: 1024 }),
      }, ['username', 'role', 'password']),
      ok: [201, 'Added.', okBody({ user: ref('User') }, ['user'])],
      errors: { ...bodyErrors, ...authErrors, 409: 'Conflict' },
    },
    ...(['disable', 'enable'] as const).map((action): RouteDoc => ({
      method: 'post',
      path: `/v1/users/:username/${action}`,
      operationId: `${action}User`,
      tag: 'users',
      roles: admin,
      summary: action === 'disable'
        ? 'Disable a console user: it cannot log in, and its open sessions end now.'
        : 'Enable a disabled console user.',
      ok: [200, 'Done.', okBody({ user: ref('User') }, ['user'])],
      errors: { ...authErrors, 404: 'NotFound', 409: 'Conflict' },
    })),
    {
      method: 'get',
      path: '/v1/audit',
      operationId: 'audit',
      tag: 'audit',
      roles: admin,
      summary: 'Search the durable audit log: every change, by whom, when, from where.',
      description: 'Newest first unless `order=oldest`, a page at a time (`cursor`). Card numbers in ' +
        'records (card issues, blocks, replacements, merges) are masked but for their last four characters.',
      query: [
        queryParam('from', 'From this time (inclusive): ms, YYYY-MM-DD or ISO 8601.', {
          type: 'string',
        }),
        queryParam('to', 'Before this time (exclusive).', { type: 'string' }),
        queryParam('actor', 'The actor\'s id (user name or token id).', { type: 'string' }),
        queryParam('action', 'An action or its prefix (`card.`, `member.create`).', {
          type: 'string',
        }),
        queryParam('target', 'The target (a member id, a terminal id, ...).', { type: 'string' }),
        queryParam('order', 'newest (default) or oldest first.', {
          type: 'string',
          enum: ['newest', 'oldest'],
        }),
        queryParam('limit', 'Records per page (default 100).', {
          type: 'integer',
          minimum: 1,
          maximum: auditLimitMax,
        }),
        queryParam('cursor', 'The `next` of the previous page.', { type: 'string' }),
      ],
      ok: [200, 'Records, and `next` unless it is the last page.', okBody({
        records: array(ref('AuditRecord')),
        next: str('Pass as `cursor` for the next page.'),
      }, ['records'])],
      errors: { 400: 'Invalid', ...authErrors },
    },
  ]
}

function metaRoutes(): RouteDoc[] {
  return [
    {
      method: 'get',
      path: '/healthz',
      operationId: 'health',
      tag: 'meta',
      roles: 'none',
      summary: 'Whether the process takes traffic.',
      ok: [200, 'Ready: {"status":"ok"}.', okBody({}, [])],
      errors: { 503: 'Unavailable' },
    },
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      tag: 'meta',
      roles: 'none',
      summary: 'This document.',
      ok: [200, 'The OpenAPI document.', { type: 'object' }],
      errors: {},
    },
  ]
}

const memberErrors = { ...authErrors, 404: 'NotFound', 409: 'Refused' }
const memberDetail = ref('MemberDetail')
const memberReply = okBody({ member: ref('Member') }, ['member'])
const identifierReply = okBody({ identifier: ref('Identifier') }, ['identifier'])
const reasonBody = object({ reason: str('Why (kept on the card and in the audit log).', {
  maxLength: 500,
}) })

function memberRoutes(): RouteDoc[] {
  const member = (method: Method, path: string, operationId: string, summary: string) => ({
    method,
    path,
    operationId,
    tag: 'members',
    summary,
  })
  return [
    {
      ...member('post', '/v1/members', 'createMember',
        'Create a member with its identifiers; it joins its program at once.'),
      roles: memberRoles.create,
      description: 'A taken id, email, phone or card is 409 naming the field; an invalid one ' +
        '400. If the enrolment fails (the member exists regardless) the reply has ' +
        '`enrolment`; retry it with POST /v1/accounts/{account}/enroll, key `member-enroll`.',
      body: ref('NewMember'),
      ok: [201, 'Created.', memberDetail],
      errors: { ...bodyErrors, ...authErrors, 409: 'Refused' },
    },
    {
      ...member('get', '/v1/members', 'searchMembers',
        'Search by name (last name first), country, join dates and status; names come in order of last name, then first.'),
      roles: memberRoles.read,
      query: [
        queryParam('name', 'Last name first, any case: a prefix of the last name (`smi`), or a whole last name, a space and a prefix of the first name (`Smith J`). Spaces at the ends do not count.', {
          type: 'string',
        }),
        queryParam('country', 'ISO 3166 alpha-2, any case.', { type: 'string' }),
        queryParam('joinedFrom', 'Joined at or after: ms, YYYY-MM-DD or ISO 8601.', {
          type: 'string',
        }),
        queryParam('joinedTo', 'Joined before.', { type: 'string' }),
        queryParam('status', 'Status.', {
          type: 'string',
          enum: ['active', 'suspended', 'closed'],
        }),
        queryParam('after', 'The `next` of the previous page of this search (an opaque cursor; one from another search is refused).', { type: 'string', maxLength: 4096 }),
        queryParam('limit', 'Members per page (default 50).', {
          type: 'integer',
          minimum: 1,
          maximum: searchLimitMax,
        }),
      ],
      ok: [200, 'A page of members.', ref('MemberPage')],
      errors: { 400: 'Invalid', ...authErrors },
    },
    {
      ...member('get', '/v1/members/:id', 'getMember',
        'A member, its identifiers, and its balance and tier from the engine.'),
      roles: memberRoles.read,
      ok: [200, 'The member.', memberDetail],
      errors: { ...authErrors, 404: 'NotFound' },
    },
    {
      ...member('patch', '/v1/members/:id', 'updateMember', 'Change profile fields.'),
      roles: memberRoles.change,
      description: 'Changes to birthDate, country, gender or segments are sent to the engine ' +
        '(rules read them); if that fails the reply has `profile`.',
      body: ref('MemberChanges'),
      ok: [200, 'Changed.', memberDetail],
      errors: { ...bodyErrors, ...memberErrors },
    },
    {
      ...member('post', '/v1/members/:id/status', 'setMemberStatus',
        'Suspend, close or reactivate: only active members earn and redeem.'),
      roles: memberRoles.change,
      body: object({
        status: str('Status.', { enum: ['active', 'suspended', 'closed'] }),
        reason: str('Why.', { maxLength: 500 }),
      }, ['status']),
      ok: [200, 'Changed.', memberReply],
      errors: { ...bodyErrors, ...memberErrors },
    },
    {
      ...member('post', '/v1/members/:id/redemption', 'setRedemptionAllowed',
        'Allow or forbid redeeming (earning goes on).'),
      roles: memberRoles.change,
      body: object({ allowed: bool('Whether the member may redeem.') }, ['allowed']),
      ok: [200, 'Changed.', memberReply],
      errors: { ...bodyErrors, ...memberErrors },
    },
    {
      ...member('delete', '/v1/members/:id', 'eraseMember',
        'Erase personal data on request: the record is anonymised and closed, identifiers ' +
        'released; the account\'s journal is kept.'),
      roles: memberRoles.change,
      ok: [200, 'The anonymised record.', memberReply],
      errors: memberErrors,
    },
    {
      ...member('get', '/v1/members/:id/household', 'getHousehold',
        'The household the member belongs to (or heads): its master and linked members.'),
      roles: memberRoles.read,
      ok: [200, 'The household.', okBody({
        master: str('The master member (the member itself when it is in no household).'),
        account: str('The pooled account.'),
        members: array(str('A linked member.'), 'Members linked to the master.'),
      }, ['master', 'account', 'members'])],
      errors: { ...authErrors, 404: 'NotFound' },
    },
    {
      ...member('post', '/v1/members/:id/household', 'linkHousehold',
        'Link the member to the household headed by `master`: it earns into and burns from ' +
        'the pooled account, and its spendable points move there (a saga).'),
      roles: memberRoles.change,
      body: object({ master: str('The master member.', { maxLength: 64 }) }, ['master']),
      ok: [200, 'Linked.', okBody({
        member: ref('Member'),
        moved: int('Points moved into the household.'),
      }, ['member', 'moved'])],
      errors: { ...bodyErrors, ...memberErrors },
    },
    {
      ...member('delete', '/v1/members/:id/household', 'unlinkHousehold',
        'Unlink the member: the pooled points stay with the household; it earns into its ' +
        'own account again.'),
      roles: memberRoles.change,
      ok: [200, 'Unlinked.', memberReply],
      errors: memberErrors,
    },
    {
      ...member('post', '/v1/members/:id/merge', 'mergeMember',
        'Merge duplicate member :id into `into`: identifiers and spendable points move, :id ' +
        'is closed; its journal stays on its account. Exactly once, also across a crash.'),
      roles: memberRoles.change,
      body: object({ into: str('The member that stays.', { maxLength: 64 }) }, ['into']),
      ok: [200, 'Merged.', okBody({
        merge: object({
          id: str('The merge saga.'),
          state: str('done (or failed, with 409).'),
          from: str('The member merged away.'),
          into: str('The member that stays.'),
        }, ['id', 'state', 'from', 'into']),
      }, ['merge'])],
      errors: { ...bodyErrors, ...memberErrors },
    },
    {
      ...member('post', '/v1/members/:id/cards', 'issueCard', 'Issue a card, NFC tag or fob.'),
      tag: 'cards',
      roles: memberRoles.change,
      body: object({
        type: str('Type (default `card`).', { enum: ['card', 'virtual_card', 'nfc', 'fob'] }),
        value: str('The number.', { maxLength: 64 }),
      }, ['value']),
      ok: [201, 'Issued.', identifierReply],
      errors: { ...bodyErrors, ...memberErrors },
    },
    ...Object.keys(cardActions).map((action): RouteDoc => ({
      ...member('post', `/v1/cards/:type/:value/${action}`, `${action}Card`,
        action === 'unblock' ? 'Make a blocked or lost card usable again.'
          : `Mark a card ${action === 'lost' ? 'lost' : 'blocked'}: operations by it are ` +
            'refused (card_blocked).'),
      tag: 'cards',
      roles: memberRoles.change,
      body: reasonBody,
      description: 'The body may be left out. A replaced card stays replaced (409).',
      ok: [200, 'Changed.', identifierReply],
      errors: { ...bodyErrors, ...memberErrors },
    })),
    {
      ...member('post', '/v1/cards/:type/:value/replace', 'replaceCard',
        'Replace a card: the new one belongs to the same member, so it carries the balance ' +
        'and history; the old one is refused from now on.'),
      tag: 'cards',
      roles: memberRoles.change,
      body: object({
        replacement: str('The new card\'s number.', { maxLength: 64 }),
        reason: str('Why.', { maxLength: 500 }),
      }, ['replacement']),
      ok: [200, 'The new card.', identifierReply],
      errors: { ...bodyErrors, ...memberErrors },
    },
    {
      ...member('get', '/v1/lookup', 'lookupMember',
        'Who a card, phone or email belongs to, with standing, tier and balance.'),
      roles: rolesFor('lookup'),
      query: memberIdentifiers.map((field) => queryParam(field,
        `The ${field} (exactly one of card, phone, email).`, { type: 'string' })),
      description: 'Unknown: 404 account_not_found; blocked, lost or replaced card: 409 ' +
        'card_blocked.',
      ok: [200, 'The member summary, balance and tier.', reply],
      errors: { 400: 'Invalid', ...authErrors, 404: 'NotFound', 409: 'Refused' },
    },
    {
      ...member('post', '/v1/members/import', 'importMembers',
        'Import members (and cards) from CSV, streamed; each joins its program.'),
      roles: memberRoles.bulk,
      description: 'Header: id, program (required), firstName, lastName, email, phone, ' +
        'birthDate, gender, country, card (several separated by `|`), joinedAt (YYYY-MM-DD or ' +
        'ISO 8601); other columns become attributes. RFC 4180 quoting. Refused rows are ' +
        'reported (line, field, why) and the rest imported, in batches of one transaction and ' +
        'one audit record each. A file that cannot be read on (no header, bad UTF-8) is 400 ' +
        'with the report so far; a batch that could not be stored is 503 with the report so far ' +
        '(none of that batch applied; importing the file again imports the rest).',
      body: { type: 'string', description: 'CSV text (UTF-8).' },
      bodyType: 'text/csv',
      ok: [200, 'The report.', okBody({ report: ref('ImportReport') }, ['report'])],
      errors: { ...bodyErrors, ...authErrors, 503: 'Unavailable' },
    },
    {
      ...member('get', '/v1/members/export', 'exportMembers',
        'Every member (erased ones aside) as CSV, streamed, in the import\'s columns.'),
      roles: memberRoles.bulk,
      description: 'Attributes follow as extra columns; only active plastic cards are ' +
        'written. Audited (`member.export`).',
      ok: [200, 'CSV text.', { type: 'string' }],
      okType: 'text/csv',
      errors: authErrors,
    },
  ]
}

/** Every route the app registers (the console's static files aside). */
export const routeDocs: readonly RouteDoc[] = [
  ...metaRoutes(),
  ...sessionRoutes(),
  ...accountRoutes(),
  ...memberRoutes(),
  ...rulesetRoutes(),
  ...terminalRoutes(),
  ...userRoutes(),
  ...statsRoutes(),
]

const pathParams: Record<string, string> = {
  account: 'The account (member) id, or `-` to name the member by card, phone or email ' +
    '(in the body, or the query of a GET).',
  version: 'A ruleset version number.',
  id: 'A terminal id (terminal routes), a token id (token routes) or a member id (member routes).',
  username: 'A console user name.',
  type: 'The card\'s type: card, virtual_card, nfc or fob.',
  value: 'The card number (spaces and dashes are ignored).',
}

/** `/v1/accounts/:account/earn` → `/v1/accounts/{account}/earn`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}')
}

function parameters(route: RouteDoc): Schema[] {
  const inPath = [...route.path.matchAll(/:([A-Za-z]+)/g)].map(([, name = '']) => ({
    name,
    in: 'path',
    required: true,
    description: pathParams[name] ?? name,
    schema: { type: 'string' },
  }))
  return [...inPath, ...(route.query ?? []), ...(route.headers ?? [])]
}

function responsesOf(route: RouteDoc): Schema {
  const [code, description, schema] = route.ok
  const errors = Object.entries(route.errors).map(([status, name]) => [
    status,
    { $ref: `#/components/responses/${name}` },
  ])
  const ok = route.okType === undefined
    ? json(description, schema)
    : { description, content: { [route.okType]: { schema } } }
  return { [code]: ok, ...Object.fromEntries(errors) }
}

function operation(route: RouteDoc): Schema {
  const op: Schema = {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    responses: responsesOf(route),
  }
  const roles = typeof route.roles === 'string' ? undefined : `Roles: ${route.roles.join(', ')}.`
  const text = [roles, route.description].filter((part) => part !== undefined).join(' ')
  if (text !== '') op['description'] = text
  if (roles !== undefined) op['x-roles'] = route.roles
  if (route.roles === 'none') op['security'] = []
  const params = parameters(route)
  if (params.length > 0) op['parameters'] = params
  if (route.body !== undefined) {
    const media = route.bodyType ?? 'application/json'
    op['requestBody'] = { required: true, content: { [media]: { schema: route.body } } }
  }
  return op
}

function statusTable(): string {
  const rows = statusNames.map((name) => `| ${name} | ${httpStatusOf[name]} |`)
  return ['| status | HTTP |', '|---|---|', ...rows].join('\n')
}

const description = [
  'The Loyalty Engine\'s REST interface.',
  'Authenticate with `Authorization: Bearer <api token>` (processor, partner or admin ' +
    'tokens) or with the console\'s session cookie (`POST /v1/session`). Missing or wrong ' +
    'credentials are 401; a role that may not do something is 403.',
  'Request bodies are JSON objects (`Content-Type: application/json`, else 415) of at most ' +
    '65,536 bytes; a body that is not JSON, not an object or too big is 400 ' +
    '`invalid_request` naming `body`, and nothing is applied. Every response body is JSON ' +
    'with a `status` (a Reply for account operations). An unknown path is 404 (field ' +
    '`path`), a known path with another method 405 (field `method`, with `Allow`). A path ' +
    'whose %-escapes are not UTF-8 is 400 naming `path`; a query parameter given twice, or ' +
    'one an account, stats or export route does not take, is 400 naming it.',
  'Account operations map statuses to HTTP codes as below; `exists` (an idempotent replay) ' +
    'is 200 with its body status kept. Business refusals are 409: the request is valid, and ' +
    'retrying it unchanged fails again. 429 and 503 carry `Retry-After`: retry with the ' +
    'same idempotency key.',
  statusTable(),
].join('\n\n')

const tags = [
  'accounts', 'members', 'cards', 'session', 'rulesets', 'terminals', 'tokens', 'users', 'audit',
  'meta',
]

/** The OpenAPI 3.1 document of the REST interface. */
export function openApiDocument(): Schema {
  const paths: Record<string, Record<string, Schema>> = {}
  for (const route of routeDocs) {
    const path = (paths[openApiPath(route.path)] ??= {})
    path[route.method] = operation(route)
  }
  const requests = Object.entries(operationBodies).flatMap(([op, schema]) => [
    [requestSchemaName(op), schema],
    [byIdentifierName(op), byIdentifier(schema)],
  ])
  return {
    openapi: '3.1.0',
    info: { title: 'Loyalty Engine REST API', version: '0.1.0', description },
    tags: tags.map((name) => ({ name })),
    security: [{ bearerAuth: [] }, { sessionCookie: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token `<id>.<secret>`' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: 'loyalty_session',
          description: 'The console session (POST /v1/session).',
        },
      },
      schemas: { ...schemas, ...Object.fromEntries(requests) },
      responses,
    },
  }
}
