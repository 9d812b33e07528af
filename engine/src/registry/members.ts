/**
 * Members and their identifiers, in the registry environment.
 *
 * A member has a profile, a status (active, suspended, closed), a
 * redemption-allowed flag and the account its points live in (its own id by
 * default). Identifiers (plastic, virtual and NFC cards, key fobs, phone
 * numbers, email addresses) each resolve to one member with one synchronous
 * LMDB read, from any thread that opens the environment.
 *
 * Writes go through one queue on the main thread, so uniqueness checks and
 * the writes that follow them never race; each change and its audit record are
 * written together and answered only once flushed. Indexes (name, country and
 * join date) are kept in the same writes, so a search never sees a member its
 * index does not.
 *
 * @module
 */
import type { Database, Key, RootDatabase } from 'lmdb'
import { AuditLog, type Actor, type AuditRecord } from './audit.ts'
import { exportMembersCsv, importMembersCsv, type CsvSource, type ExportOptions, type ImportOptions, type ImportReport } from './csv.ts'

export type MemberStatus = 'active' | 'suspended' | 'closed'
export type IdentifierType = 'card' | 'virtual_card' | 'nfc' | 'fob' | 'phone' | 'email'
export type IdentifierStatus = 'active' | 'blocked' | 'lost' | 'replaced' | 'released'

export const identifierTypes: readonly IdentifierType[] = ['card', 'virtual_card', 'nfc', 'fob', 'phone', 'email']

export interface Consents {
  email: boolean
  sms: boolean
  push: boolean
}

export interface Address {
  line1?: string
  line2?: string
  city?: string
  postalCode?: string
  region?: string
  country?: string
}

export interface Member {
  id: string
  /** The account the member earns into and burns from (a household's master account when linked). */
  account: string
  program: string
  firstName?: string
  lastName?: string
  email?: string
  phone?: string
  birthDate?: string
  gender?: string
  country?: string
  address?: Address
  attributes: Record<string, string>
  segments: string[]
  consents: Consents
  joinedAt: number
  referrer?: string
  status: MemberStatus
  redemptionAllowed: boolean
  erasedAt?: number
  /** The household's master member, when this member pools its points there. */
  household?: string
  /** Set on a duplicate merged into another member. */
  mergedInto?: string
}

export interface Identifier {
  type: IdentifierType
  value: string
  member: string
  status: IdentifierStatus
  issuedAt: number
  changedAt: number
  reason?: string
  replacedBy?: string
}

/** What a registry write answers: the record, or a status naming the field at fault. */
export type RegistryResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: 'invalid_request' | 'account_not_found' | 'card_blocked'; field: string; message: string }

export interface NewMember {
  id: string
  program: string
  firstName?: string
  lastName?: string
  email?: string
  phone?: string
  birthDate?: string
  gender?: string
  country?: string
  address?: Address
  attributes?: Record<string, string>
  segments?: string[]
  consents?: Partial<Consents>
  referrer?: string
  /** Cards (or fobs, NFC UIDs) to issue with the member. */
  cards?: { type?: 'card' | 'virtual_card' | 'nfc' | 'fob'; value: string }[]
}

export type MemberChanges = Partial<Omit<NewMember, 'id' | 'program' | 'cards' | 'referrer'>>

export interface SearchQuery {
  /** Prefix of the last name (then first name), case-insensitive. */
  name?: string
  country?: string
  /** Join date range (epoch ms), inclusive from, exclusive to. */
  joinedFrom?: number
  joinedTo?: number
  status?: MemberStatus
  /** The id of the last member of the previous page. */
  after?: string
  limit?: number
}

export interface SearchPage {
  members: Member[]
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string
}

/** One row of a bulk import: a new member, with when it joined when that is not now. */
export interface BulkMember extends NewMember {
  /** When the member joined (epoch ms): a migration keeps the old system's dates. Default now. */
  joinedAt?: number
}

/** What the rows before this one in a batch took: checked, but not readable until written. */
interface Taken {
  ids: Set<string>
  keys: Set<string>
}

/** A row of a batch that passed the checks: the member, its identifiers and their keys. */
interface CheckedMember {
  member: Member
  identifiers: Identifier[]
  keys: string[]
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

export interface BulkOutcome {
  /** The rows written, by their index in the batch. */
  created: { index: number; member: Member }[]
  /** The rows refused, by index, naming the field at fault. */
  rejected: { index: number; field: string; message: string }[]
}

/** Orders LMDB keys (strings, numbers and arrays of them) about as the database does. */
function compareKeys(a: Key, b: Key): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const order = compareKeys(a[i] as Key, b[i] as Key)
      if (order !== 0) return order
    }
    return a.length - b.length
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const [x, y] = [String(a), String(b)]
  return x < y ? -1 : x > y ? 1 : 0
}

const searchLimitMax = 200
const talliesKey = 'status'
/** Rows `createMany` checks between yields to the event loop. */
const bulkCheckSlice = 2000
const idPattern = /^[A-Za-z0-9_.:-]{1,64}$/
const emailPattern = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,}$/
const phonePattern = /^\+[1-9]\d{6,14}$/
const cardPattern = /^[A-Za-z0-9]{6,32}$/
const datePattern = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/

function fail<T>(field: string, message: string, status: 'invalid_request' | 'account_not_found' | 'card_blocked' = 'invalid_request'): RegistryResult<T> {
  return { ok: false, status, field, message }
}

/** Normalises an identifier value for its type, or says why it is not one. */
export function normaliseIdentifier(type: IdentifierType, raw: string): { value: string } | { error: string } {
  const text = raw.trim()
  switch (type) {
    case 'email': {
      const value = text.toLowerCase()
      return emailPattern.test(value) ? { value } : { error: `${raw} is not an email address` }
    }
    case 'phone': {
      const value = text.replace(/[\s().-]/g, '')
      return phonePattern.test(value) ? { value } : { error: `${raw} is not a phone number in international form (+ and 7 to 15 digits)` }
    }
    default: {
      const value = text.replace(/[\s-]/g, '').toUpperCase()
      return cardPattern.test(value) ? { value } : { error: `${raw} is not a ${type} number (6 to 32 letters or digits)` }
    }
  }
}

const identifierKey = (type: IdentifierType, value: string) => `${type}:${value}`
const nameKey = (m: Pick<Member, 'lastName' | 'firstName' | 'id'>) =>
  [(m.lastName ?? '').toLowerCase(), (m.firstName ?? '').toLowerCase(), m.id]

export class MemberRegistry {
  readonly #root: RootDatabase
  readonly #members: Database<Member, string>
  readonly #identifiers: Database<Identifier, string>
  /** Identifiers of each member: [member, type, value]. */
  readonly #owned: Database<true, (string | number)[]>
  readonly #byName: Database<true, string[]>
  readonly #byCountry: Database<true, (string | number)[]>
  readonly #byJoined: Database<true, (string | number)[]>
  /** Household members by master: [master, member]. */
  readonly #households: Database<true, string[]>
  /** One record: members per status, kept with every member write. */
  readonly #tallies: Database<Record<MemberStatus, number>, string>
  #byStatus: Record<MemberStatus, number>
  #talliesDirty = false
  readonly audit: AuditLog
  #queue: Promise<unknown> = Promise.resolve()
  readonly #clock: () => number

  constructor(root: RootDatabase, clock: () => number = Date.now) {
    this.#root = root
    this.#clock = clock
    this.#members = root.openDB({ name: 'members' })
    this.#identifiers = root.openDB({ name: 'identifiers' })
    this.#owned = root.openDB({ name: 'identifiers-by-member' })
    this.#byName = root.openDB({ name: 'members-by-name' })
    this.#byCountry = root.openDB({ name: 'members-by-country' })
    this.#byJoined = root.openDB({ name: 'members-by-joined' })
    this.#households = root.openDB({ name: 'households' })
    this.#tallies = root.openDB({ name: 'member-tallies' })
    this.audit = new AuditLog(root, clock)
    const stored = this.#tallies.get(talliesKey)
    if (stored !== undefined) this.#byStatus = { ...stored }
    else {
      // A registry written before tallies existed: counted once, written with the next change.
      this.#byStatus = { active: 0, suspended: 0, closed: 0 }
      for (const { value } of this.#members.getRange({})) this.#byStatus[value.status] += 1
    }
  }

  /** Members per status. */
  countByStatus(): Record<MemberStatus, number> {
    return { ...this.#byStatus }
  }

  // -------------------------------------------------------------------------
  // Reads (synchronous, any thread)

  get(id: string): Member | undefined {
    return this.#members.get(id)
  }

  identifier(type: IdentifierType, raw: string): Identifier | undefined {
    const normal = normaliseIdentifier(type, raw)
    return 'error' in normal ? undefined : this.#identifiers.get(identifierKey(type, normal.value))
  }

  /** The member an identifier belongs to, with the identifier (whatever its status). */
  resolve(type: IdentifierType, raw: string): { member: Member; identifier: Identifier } | undefined {
    const identifier = this.identifier(type, raw)
    if (identifier === undefined) return undefined
    const member = this.#members.get(identifier.member)
    return member === undefined ? undefined : { member, identifier }
  }

  identifiersOf(member: string): Identifier[] {
    const keys = this.#owned.getKeys({ start: [member], end: [member, '\uffff'] })
    const found: Identifier[] = []
    for (const key of keys) {
      const [, type, value] = key as [string, IdentifierType, string]
      const identifier = this.#identifiers.get(identifierKey(type, value))
      if (identifier !== undefined) found.push(identifier)
    }
    return found
  }

  count(): number {
    return this.#members.getCount()
  }

  /** Members by name prefix, country, join date and status, paged by id order within the index. */
  search(query: SearchQuery): SearchPage {
    const limit = Math.min(query.limit ?? 50, searchLimitMax)
    const matches = (m: Member) =>
      (query.status === undefined || m.status === query.status) &&
      (query.country === undefined || m.country === query.country) &&
      (query.joinedFrom === undefined || m.joinedAt >= query.joinedFrom) &&
      (query.joinedTo === undefined || m.joinedAt < query.joinedTo)
    const ids = this.#candidates(query)
    const members: Member[] = []
    let skipping = query.after !== undefined
    for (const id of ids) {
      if (skipping) {
        if (id === query.after) skipping = false
        continue
      }
      const member = this.#members.get(id)
      if (member === undefined || !matches(member)) continue
      members.push(member)
      if (members.length === limit + 1) break
    }
    const page: SearchPage = { members: members.slice(0, limit) }
    if (members.length > limit) page.next = members[limit - 1]!.id
    return page
  }

  /** Member ids from the most selective index the query allows, in a stable order. */
  *#candidates(query: SearchQuery): Iterable<string> {
    if (query.name !== undefined && query.name !== '') {
      const prefix = query.name.toLowerCase()
      for (const key of this.#byName.getKeys({ start: [prefix], end: [prefix + '\uffff'] })) yield (key as string[])[2]!
      return
    }
    if (query.country !== undefined) {
      const start = [query.country, query.joinedFrom ?? 0]
      const end = [query.country, query.joinedTo ?? Number.MAX_SAFE_INTEGER]
      for (const key of this.#byCountry.getKeys({ start, end })) yield (key as [string, number, string])[2]
      return
    }
    const start = [query.joinedFrom ?? 0]
    const end = [query.joinedTo ?? Number.MAX_SAFE_INTEGER]
    for (const key of this.#byJoined.getKeys({ start, end })) yield (key as [number, string])[1]
  }

  // -------------------------------------------------------------------------
  // Bulk: imports, exports and changes recorded from elsewhere (see csv.ts)

  /**
   * Creates many members in one transaction with one audit record. Each row
   * is checked as `create` checks it, and also against the rows before it in
   * the batch; refused rows are answered with their index, the rest are
   * written and answered once flushed. For imports: one commit per member is
   * far too slow for millions. The queue is held for the whole batch, so the
   * checks stay true until the write; the checks yield to the event loop
   * every few thousand rows, and only the writes run as one burst.
   */
  createMany(
    inputs: readonly BulkMember[],
    actor: Actor,
    target: string,
    detail: Record<string, unknown> = {},
  ): Promise<BulkOutcome> {
    return this.#serial(async () => {
      const now = this.#clock()
      // Checked, not yet written (so not readable): the batch's own ids and identifier keys.
      const taken: Taken = { ids: new Set(), keys: new Set() }
      const outcome: BulkOutcome = { created: [], rejected: [] }
      const accepted: { member: Member; identifiers: Identifier[] }[] = []
      for (let index = 0; index < inputs.length; index++) {
        if (index > 0 && index % bulkCheckSlice === 0) await nextTurn()
        const checked = this.#checkNew(inputs[index]!, now, taken)
        if (!checked.ok) {
          outcome.rejected.push({ index, field: checked.field, message: checked.message })
          continue
        }
        const { member, identifiers, keys } = checked.value
        taken.ids.add(member.id)
        for (const key of keys) taken.keys.add(key)
        accepted.push({ member, identifiers })
        outcome.created.push({ index, member })
      }
      if (accepted.length === 0) return outcome
      // Issued in one event turn: lmdb commits them (and the audit record) as one transaction.
      this.#putNewMembers(accepted)
      const counts = { created: outcome.created.length, rejected: outcome.rejected.length }
      this.audit.record(actor, 'member.import', target, { ...detail, ...counts })
      return this.#flushed(outcome)
    })
  }

  /** Members in id order after `after` (exclusive), at most `limit`: exports read in pages. */
  list(after: string | undefined, limit: number): Member[] {
    const members: Member[] = []
    const range = after === undefined ? { limit } : { start: after, limit: limit + 1 }
    for (const { key, value } of this.#members.getRange(range)) {
      if (key === after) continue
      if (members.length === limit) break
      members.push(value)
    }
    return members
  }

  /** Records a change made outside the registry (credentials, rulesets, sessions), once flushed. */
  recordAudit(
    actor: Actor,
    action: string,
    target: string,
    detail: Record<string, unknown> = {},
  ): Promise<AuditRecord> {
    return this.#serial(() => this.#flushed(this.audit.record(actor, action, target, detail)))
  }

  /** Imports members (and their cards) from CSV text; see `importMembersCsv`. */
  importCsv(source: CsvSource, options: ImportOptions): Promise<ImportReport> {
    return importMembersCsv(this, source, options)
  }

  /** The members as CSV text, in chunks; see `exportMembersCsv`. */
  exportCsv(options: ExportOptions = {}): AsyncGenerator<string> {
    return exportMembersCsv(this, options)
  }

  /** `create`'s checks for a row of a batch; `taken`: ids and identifiers of earlier rows. */
  #checkNew(input: BulkMember, now: number, taken: Taken): RegistryResult<CheckedMember> {
    if (typeof input.id !== 'string' || !idPattern.test(input.id)) {
      return fail('id', 'id must be 1 to 64 letters, digits or _.:-')
    }
    // doesExist: no record decoded, no garbage made, for a check that is nearly always false.
    if (this.#members.doesExist(input.id)) return fail('id', `member ${input.id} exists`)
    if (typeof input.program !== 'string' || input.program === '') {
      return fail('program', 'program is required')
    }
    if (taken.ids.has(input.id)) return fail('id', `member ${input.id} is earlier in this batch`)
    const joinedAt = input.joinedAt ?? now
    if (!Number.isSafeInteger(joinedAt) || joinedAt < 0 || joinedAt > now) {
      return fail('joinedAt', 'joinedAt must be a time (ms) not in the future')
    }
    const member: Member = {
      id: input.id,
      account: input.id,
      program: input.program,
      attributes: input.attributes ?? {},
      segments: input.segments ?? [],
      consents: { email: false, sms: false, push: false, ...input.consents },
      joinedAt,
      status: 'active',
      redemptionAllowed: true,
    }
    const profile = applyProfile(member, input)
    if (profile !== undefined && !profile.ok) return fail(profile.field, profile.message)
    if (input.referrer !== undefined) {
      const known = this.#members.doesExist(input.referrer) || taken.ids.has(input.referrer)
      if (!known) return fail('referrer', `no member ${input.referrer}`)
      member.referrer = input.referrer
    }
    const wanted: [IdentifierType, string, string][] = []
    if (member.email !== undefined) wanted.push(['email', member.email, 'email'])
    if (member.phone !== undefined) wanted.push(['phone', member.phone, 'phone'])
    for (const [i, card] of (input.cards ?? []).entries()) {
      wanted.push([card.type ?? 'card', card.value, `cards[${i}].value`])
    }
    const identifiers: Identifier[] = []
    const keys: string[] = []
    for (const [type, raw, field] of wanted) {
      const normal = normaliseIdentifier(type, raw)
      if ('error' in normal) return fail(field, normal.error)
      const key = identifierKey(type, normal.value)
      const owner = keys.includes(key) || this.#identifiers.doesExist(key)
      if (owner) return fail(field, `${type} ${normal.value} belongs to another member`)
      if (taken.keys.has(key)) {
        return fail(field, `${type} ${normal.value} belongs to another member earlier in this batch`)
      }
      const issued = { status: 'active' as const, issuedAt: now, changedAt: now }
      identifiers.push({ type, value: normal.value, member: member.id, ...issued })
      keys.push(key)
    }
    return { ok: true, value: { member, identifiers, keys } }
  }

  // -------------------------------------------------------------------------
  // Writes (main thread, one at a time)

  /** Creates a member with its contact identifiers (email, phone) and cards. */
  create(input: NewMember, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      if (!idPattern.test(input.id)) return fail('id', 'id must be 1 to 64 letters, digits or _.:-')
      if (this.#members.get(input.id) !== undefined) return fail('id', `member ${input.id} exists`)
      const now = this.#clock()
      const member: Member = {
        id: input.id,
        account: input.id,
        program: input.program,
        attributes: input.attributes ?? {},
        segments: input.segments ?? [],
        consents: { email: false, sms: false, push: false, ...input.consents },
        joinedAt: now,
        status: 'active',
        redemptionAllowed: true,
      }
      const profile = applyProfile(member, input)
      if (profile !== undefined) return profile
      if (input.referrer !== undefined) {
        if (this.#members.get(input.referrer) === undefined) return fail('referrer', `no member ${input.referrer}`)
        member.referrer = input.referrer
      }
      const wanted: [IdentifierType, string, string][] = []
      if (member.email !== undefined) wanted.push(['email', member.email, 'email'])
      if (member.phone !== undefined) wanted.push(['phone', member.phone, 'phone'])
      ;(input.cards ?? []).forEach((card, i) => wanted.push([card.type ?? 'card', card.value, `cards[${i}].value`]))
      const identifiers: Identifier[] = []
      for (const [type, raw, field] of wanted) {
        const normal = normaliseIdentifier(type, raw)
        if ('error' in normal) return fail(field, normal.error)
        if (this.#identifiers.get(identifierKey(type, normal.value)) !== undefined || identifiers.some((i) => i.type === type && i.value === normal.value)) {
          return fail(field, `${type} ${normal.value} belongs to another member`)
        }
        identifiers.push({ type, value: normal.value, member: member.id, status: 'active', issuedAt: now, changedAt: now })
      }
      this.#putMember(undefined, member)
      for (const identifier of identifiers) this.#putIdentifier(identifier)
      this.audit.record(actor, 'member.create', member.id, { program: member.program, identifiers: identifiers.length })
      return this.#flushed({ ok: true, value: member })
    })
  }

  /** Changes profile fields; email and phone changes move their identifiers. */
  update(id: string, changes: MemberChanges, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const before = this.#members.get(id)
      if (before === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      if (before.erasedAt !== undefined) return fail('id', `member ${id} was erased`)
      const after: Member = structuredClone(before)
      const profile = applyProfile(after, changes)
      if (profile !== undefined) return profile
      if (changes.attributes !== undefined) after.attributes = changes.attributes
      if (changes.segments !== undefined) after.segments = changes.segments
      if (changes.consents !== undefined) after.consents = { ...after.consents, ...changes.consents }
      const moves: [IdentifierType, string | undefined, string | undefined][] = [
        ['email', before.email, after.email],
        ['phone', before.phone, after.phone],
      ]
      for (const [type, old, next] of moves) {
        if (next === old || next === undefined) continue
        const taken = this.#identifiers.get(identifierKey(type, next))
        if (taken !== undefined && taken.member !== id) return fail(type, `${type} ${next} belongs to another member`)
      }
      const now = this.#clock()
      for (const [type, old, next] of moves) {
        if (next === old) continue
        if (old !== undefined) this.#removeIdentifier(type, old, id)
        if (next !== undefined) this.#putIdentifier({ type, value: next, member: id, status: 'active', issuedAt: now, changedAt: now })
      }
      this.#putMember(before, after)
      this.audit.record(actor, 'member.update', id, { fields: Object.keys(changes) })
      return this.#flushed({ ok: true, value: after })
    })
  }

  /** Suspends, closes or reactivates a member; the engine refuses points to anything but active. */
  setStatus(id: string, status: MemberStatus, actor: Actor, reason?: string): Promise<RegistryResult<Member>> {
    return this.#change(id, actor, 'member.status', { status, reason }, (m) => {
      if (m.erasedAt !== undefined && status === 'active') return 'an erased member cannot be reactivated'
      m.status = status
      return undefined
    })
  }

  setRedemptionAllowed(id: string, allowed: boolean, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#change(id, actor, 'member.redemption', { allowed }, (m) => {
      m.redemptionAllowed = allowed
      return undefined
    })
  }

  /** Issues a card (or fob, NFC UID, virtual card) to a member. */
  issueCard(id: string, card: { type?: 'card' | 'virtual_card' | 'nfc' | 'fob'; value: string }, actor: Actor): Promise<RegistryResult<Identifier>> {
    return this.#serial(() => {
      const member = this.#members.get(id)
      if (member === undefined) return fail('member', `no member ${id}`, 'account_not_found')
      if (member.status === 'closed') return fail('member', `member ${id} is closed`)
      const type = card.type ?? 'card'
      const normal = normaliseIdentifier(type, card.value)
      if ('error' in normal) return fail('value', normal.error)
      if (this.#identifiers.get(identifierKey(type, normal.value)) !== undefined) return fail('value', `${type} ${normal.value} is already issued`)
      const now = this.#clock()
      const identifier: Identifier = { type, value: normal.value, member: id, status: 'active', issuedAt: now, changedAt: now }
      this.#putIdentifier(identifier)
      this.audit.record(actor, 'card.issue', id, { type, value: normal.value })
      return this.#flushed({ ok: true, value: identifier })
    })
  }

  /** Blocks, unblocks or reports a card lost; a card replaced or released stays so. */
  setCardStatus(type: IdentifierType, raw: string, status: 'active' | 'blocked' | 'lost', actor: Actor, reason?: string): Promise<RegistryResult<Identifier>> {
    return this.#serial(() => {
      const identifier = this.identifier(type, raw)
      if (identifier === undefined) return fail('value', `no ${type} ${raw}`, 'account_not_found')
      if (identifier.status === 'replaced' || identifier.status === 'released') {
        return fail('value', `${type} ${identifier.value} was ${identifier.status}; issue a new one`, 'card_blocked')
      }
      const changed: Identifier = { ...identifier, status, changedAt: this.#clock() }
      if (reason !== undefined) changed.reason = reason
      else delete changed.reason
      this.#identifiers.put(identifierKey(type, identifier.value), changed)
      this.audit.record(actor, `card.${status === 'active' ? 'unblock' : status === 'lost' ? 'lost' : 'block'}`, identifier.member, { type, value: identifier.value, reason })
      return this.#flushed({ ok: true, value: changed })
    })
  }

  /**
   * Replaces a card (lost, damaged): the old one is marked replaced and
   * refused from now on, the new one belongs to the same member and so
   * carries the same account, balance and history.
   */
  replaceCard(type: IdentifierType, raw: string, next: string, actor: Actor, reason?: string): Promise<RegistryResult<Identifier>> {
    return this.#serial(() => {
      const old = this.identifier(type, raw)
      if (old === undefined) return fail('value', `no ${type} ${raw}`, 'account_not_found')
      if (old.status === 'replaced' || old.status === 'released') return fail('value', `${type} ${old.value} was ${old.status} already`)
      const normal = normaliseIdentifier(type, next)
      if ('error' in normal) return fail('replacement', normal.error)
      if (this.#identifiers.get(identifierKey(type, normal.value)) !== undefined) return fail('replacement', `${type} ${normal.value} is already issued`)
      const now = this.#clock()
      const replacement: Identifier = { type, value: normal.value, member: old.member, status: 'active', issuedAt: now, changedAt: now }
      const retired: Identifier = { ...old, status: 'replaced', replacedBy: normal.value, changedAt: now }
      if (reason !== undefined) retired.reason = reason
      this.#identifiers.put(identifierKey(type, old.value), retired)
      this.#putIdentifier(replacement)
      this.audit.record(actor, 'card.replace', old.member, { type, old: old.value, new: normal.value, reason })
      return this.#flushed({ ok: true, value: replacement })
    })
  }

  /**
   * Erases a member on request: the profile is anonymised, identifiers are
   * released (free to issue again), the member is closed. The journal of its
   * account is kept for accounting.
   */
  erase(id: string, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const before = this.#members.get(id)
      if (before === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      if (before.erasedAt !== undefined) return fail('id', `member ${id} was erased already`)
      const now = this.#clock()
      const after: Member = {
        id,
        account: before.account,
        program: before.program,
        attributes: {},
        segments: [],
        consents: { email: false, sms: false, push: false },
        joinedAt: before.joinedAt,
        status: 'closed',
        redemptionAllowed: false,
        erasedAt: now,
      }
      for (const identifier of this.identifiersOf(id)) this.#removeIdentifier(identifier.type, identifier.value, id)
      this.#putMember(before, after)
      this.audit.record(actor, 'member.erase', id, {})
      return this.#flushed({ ok: true, value: after })
    })
  }

  /**
   * Links a member to a household: from now on it earns into and burns from
   * the master's account. Returns the member's own account, whose points the
   * caller moves to the master (a transfer saga).
   */
  linkHousehold(id: string, master: string, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      if (id === master) return fail('master', 'a member cannot be its own household')
      const member = this.#members.get(id)
      const head = this.#members.get(master)
      if (member === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      if (head === undefined) return fail('master', `no member ${master}`, 'account_not_found')
      if (member.household !== undefined) return fail('id', `member ${id} already belongs to household ${member.household}`)
      if (head.household !== undefined) return fail('master', `member ${master} belongs to household ${head.household} itself`)
      if (this.#dependants(id).length > 0) return fail('id', `member ${id} heads a household`)
      if (member.status !== 'active' || head.status !== 'active') return fail('status', 'both members must be active')
      if (member.program !== head.program) return fail('master', `member ${master} is in program ${head.program}, not ${member.program}`)
      const after = { ...member, household: master, account: head.account }
      this.#putMember(member, after)
      this.#households.put([master, id], true)
      this.audit.record(actor, 'household.link', id, { master, account: head.account })
      return this.#flushed({ ok: true, value: after })
    })
  }

  /**
   * Unlinks a member from its household. The policy is explicit and fixed:
   * the pooled points stay with the household; the member earns into its own
   * account again from now on.
   */
  unlinkHousehold(id: string, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const member = this.#members.get(id)
      if (member === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      if (member.household === undefined) return fail('id', `member ${id} is in no household`)
      const { household, ...rest } = member
      const after: Member = { ...rest, account: member.id }
      this.#putMember(member, after)
      this.#households.remove([household, id])
      this.audit.record(actor, 'household.unlink', id, { master: household, policy: 'points stay with the household' })
      return this.#flushed({ ok: true, value: after })
    })
  }

  /** Members whose household is `id`. */
  householdOf(id: string): Member[] {
    return this.#dependants(id)
  }

  #dependants(id: string): Member[] {
    const found: Member[] = []
    for (const key of this.#households.getKeys({ start: [id], end: [id, '\uffff'] })) {
      const member = this.#members.get(key[1]!)
      if (member !== undefined) found.push(member)
    }
    return found
  }

  /**
   * The registry half of merging duplicate `from` into `into`: every active
   * identifier of `from` moves to `into`, and `from` is closed and marked
   * merged. Idempotent: a repeat finds nothing left to move.
   */
  absorb(from: string, into: string, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const source = this.#members.get(from)
      const target = this.#members.get(into)
      if (source === undefined) return fail('from', `no member ${from}`, 'account_not_found')
      if (target === undefined) return fail('into', `no member ${into}`, 'account_not_found')
      if (source.mergedInto !== undefined && source.mergedInto !== into) return fail('from', `member ${from} was merged into ${source.mergedInto}`)
      const moved: string[] = []
      for (const identifier of this.identifiersOf(from)) {
        if (identifier.status === 'replaced' || identifier.status === 'released') continue
        this.#removeIdentifier(identifier.type, identifier.value, from)
        this.#putIdentifier({ ...identifier, member: into, changedAt: this.#clock() })
        moved.push(`${identifier.type}:${identifier.value}`)
      }
      const { email: _email, phone: _phone, ...rest } = source
      const closed: Member = { ...rest, status: 'closed', redemptionAllowed: false, mergedInto: into }
      this.#putMember(source, closed)
      if (target.email === undefined && source.email !== undefined && moved.includes(`email:${source.email}`)) {
        this.#putMember(target, { ...target, email: source.email })
      }
      this.audit.record(actor, 'member.merge', into, { from, identifiers: moved })
      return this.#flushed({ ok: true, value: closed })
    })
  }

  // -------------------------------------------------------------------------

  #change(id: string, actor: Actor, action: string, detail: Record<string, unknown>, edit: (m: Member) => string | undefined): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const before = this.#members.get(id)
      if (before === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      const after = structuredClone(before)
      const refusal = edit(after)
      if (refusal !== undefined) return fail('status', refusal)
      this.#putMember(before, after)
      this.audit.record(actor, action, id, detail)
      return this.#flushed({ ok: true, value: after })
    })
  }

  #putMember(before: Member | undefined, after: Member) {
    if (before?.status !== after.status) {
      if (before !== undefined) this.#byStatus[before.status] -= 1
      this.#byStatus[after.status] += 1
      this.#writeTallies()
    }
    if (before !== undefined) {
      this.#byName.remove(nameKey(before))
      if (before.country !== undefined) this.#byCountry.remove([before.country, before.joinedAt, before.id])
    }
    this.#members.put(after.id, after)
    this.#byName.put(nameKey(after), true)
    if (after.country !== undefined) this.#byCountry.put([after.country, after.joinedAt, after.id], true)
    if (before === undefined) this.#byJoined.put([after.joinedAt, after.id], true)
  }

  /**
   * Writes new members and their identifiers, each index's records in key
   * order: LMDB then inserts into one leaf page after another instead of
   * jumping across the tree, which is what makes a large import fast.
   */
  #putNewMembers(rows: readonly { member: Member; identifiers: Identifier[] }[]) {
    const members = rows.map((row) => row.member)
    const put = <K extends Key>(db: Database<unknown, K>, keys: K[], value: (key: K) => unknown) => {
      keys.sort(compareKeys)
      for (const key of keys) db.put(key, value(key))
    }
    const byId = new Map(members.map((member) => [member.id, member]))
    put(this.#members, members.map((m) => m.id), (id) => byId.get(id))
    put(this.#byName, members.map(nameKey), () => true)
    const countries = members.filter((m) => m.country !== undefined)
    put(this.#byCountry, countries.map((m) => [m.country!, m.joinedAt, m.id]), () => true)
    put(this.#byJoined, members.map((m) => [m.joinedAt, m.id]), () => true)
    const identifiers = rows.flatMap((row) => row.identifiers)
    const byKey = new Map(identifiers.map((i) => [identifierKey(i.type, i.value), i]))
    put(this.#identifiers, [...byKey.keys()], (key) => byKey.get(key))
    put(this.#owned, identifiers.map((i) => [i.member, i.type, i.value]), () => true)
    this.#byStatus.active += members.length
    this.#writeTallies()
  }

  /**
   * Writes the tallies once per event turn, however many members changed in
   * it: the put lands in the same lmdb transaction as the members' own.
   */
  #writeTallies() {
    if (this.#talliesDirty) return
    this.#talliesDirty = true
    queueMicrotask(() => {
      this.#talliesDirty = false
      this.#tallies.put(talliesKey, { ...this.#byStatus })
    })
  }

  #putIdentifier(identifier: Identifier) {
    this.#identifiers.put(identifierKey(identifier.type, identifier.value), identifier)
    this.#owned.put([identifier.member, identifier.type, identifier.value], true)
  }

  #removeIdentifier(type: IdentifierType, value: string, member: string) {
    this.#identifiers.remove(identifierKey(type, value))
    this.#owned.remove([member, type, value])
  }

  async #flushed<T>(result: T): Promise<T> {
    await this.#root.flushed
    return result
  }

  #serial<T>(work: () => T | Promise<T>): Promise<T> {
    const result = this.#queue.then(work)
    this.#queue = result.catch(() => {})
    return result
  }
}

/** Copies validated profile fields onto a member; returns the failure for the first bad one. */
function applyProfile(member: Member, input: MemberChanges): RegistryResult<Member> | undefined {
  const texts = ['firstName', 'lastName', 'gender', 'country'] as const
  for (const field of texts) {
    const value = input[field]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.trim() === '' || value.length > 200) return fail(field, `${field} must be 1 to 200 characters`)
    member[field] = value.trim()
  }
  if (input.country !== undefined && !/^[A-Z]{2}$/.test(input.country)) return fail('country', 'country must be an ISO 3166 alpha-2 code such as DE')
  if (input.birthDate !== undefined) {
    if (!datePattern.test(input.birthDate)) return fail('birthDate', 'birthDate must be a date YYYY-MM-DD')
    member.birthDate = input.birthDate
  }
  if (input.email !== undefined) {
    const normal = normaliseIdentifier('email', input.email)
    if ('error' in normal) return fail('email', normal.error)
    member.email = normal.value
  }
  if (input.phone !== undefined) {
    const normal = normaliseIdentifier('phone', input.phone)
    if ('error' in normal) return fail('phone', normal.error)
    member.phone = normal.value
  }
  if (input.address !== undefined) member.address = input.address
  return undefined
}
