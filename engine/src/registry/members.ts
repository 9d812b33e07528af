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
 * How it is stored (registry format 2): `members` maps an id to
 * `[member, identifier keys]`, the keys (`type:value`, sorted) naming every
 * identifier the member holds, so listing them needs no index of their own;
 * `identifiers` maps `type:value` to `[member, issuedAt]` while the
 * identifier is active and unchanged since issued, to the whole record
 * otherwise. Registries written before kept a separate
 * `identifiers-by-member` index: it is folded into the member records when
 * the registry opens (once), then dropped.
 *
 * Bulk loads (`openBulk`, which the CSV import uses) check rows as they
 * arrive, outside the queue, against what is stored and what the load has
 * written and not yet committed, and take the queue only to write a batch;
 * a change made by anyone else meanwhile sends the batch's rows through the
 * stored checks again before it is written. Into an empty registry, a load
 * keeps hashes of everything written since it began, so the checks read the
 * database only on a (rare) hash match.
 *
 * @module
 */
import type { Database, Key, RootDatabase } from 'lmdb'
import { countryCodeProblem } from '../domain/countries.ts'
import { birthDateProblem, unprintableProblem } from '../domain/validate.ts'
import { hash2, hashed } from '../hash.ts'
import { AuditLog, type Actor, type AuditRecord } from './audit.ts'
import { cardTypes, type CardType } from './card-types.ts'
import { exportMembersCsv, importMembersCsv, memberColumns, type CsvSource, type ExportOptions, type ImportOptions, type ImportReport } from './csv.ts'

export type MemberStatus = 'active' | 'suspended' | 'closed'

/** Where lmdb-js keeps a database's shared msgpack structures (outside every key range read here). */
const sharedStructuresKey = Symbol.for('structures')
export type IdentifierType = CardType | 'phone' | 'email'
export type IdentifierStatus = 'active' | 'blocked' | 'lost' | 'replaced' | 'released'

export const identifierTypes: readonly IdentifierType[] = ['card', 'virtual_card', 'nfc', 'fob', 'phone', 'email']
/** The identifiers a reader presents as a number; they share one number space (see `#issued`). */
const cardKinds: readonly IdentifierType[] = cardTypes
const sameNumbers = (a: IdentifierType, b: IdentifierType) => a === b || (cardKinds.includes(a) && cardKinds.includes(b))

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
  /** Set on the member duplicates were merged into: their ids, oldest first (merges since 2026-11-24). */
  mergedFrom?: string[]
  /**
   * The pool accounts of households the member left, the latest first (at
   * most `formerHouseholdsKept`; unlinks since 2026-11-24): its purchases and
   * redemptions made there are recorded on them, and returned there.
   */
  formerHouseholds?: string[]
  /**
   * When the member last began using another account's keys: it joined or
   * left a household, or a duplicate was merged into it (absent before
   * 2026-11-25). For an idempotency window after it, a retry may carry a
   * key stored where the member's commands ran before.
   */
  movedAt?: number
}

/** How many households a member remembers having left (`Member.formerHouseholds`). */
export const formerHouseholdsKept = 16

/**
 * The member after leaving its household: it earns into its own account
 * again, and remembers the pool it leaves, whose account keeps what it
 * bought there.
 */
function leaveHousehold(member: Member, at: number): Member {
  const { household: _household, ...rest } = member
  const pool = member.account
  const former = [pool, ...(member.formerHouseholds ?? []).filter((account) => account !== pool)].slice(0, formerHouseholdsKept)
  return { ...rest, account: member.id, formerHouseholds: former, movedAt: at }
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
  cards?: { type?: CardType; value: string }[]
}

export type MemberChanges = Partial<Omit<NewMember, 'id' | 'program' | 'cards' | 'referrer'>>

/** Profile fields an update may remove, with `null`: a member may be without any of them. */
export const removableProfileFields = [
  'firstName', 'lastName', 'email', 'phone', 'birthDate', 'gender', 'country', 'address',
] as const
type RemovableField = (typeof removableProfileFields)[number]

/** The profile fields every member has (`{}`, `[]`, consents all false at least): never removed. */
const keptProfileFields = ['attributes', 'segments', 'consents'] as const

/**
 * What `update` takes: each field given replaces the stored one, and `null`
 * removes one of the `removableProfileFields` (a removed email or phone
 * releases its identifier). Creating a member, `null` is no value.
 */
export type MemberUpdate = {
  [F in keyof MemberChanges]?: F extends RemovableField ? MemberChanges[F] | null : MemberChanges[F]
}

export interface SearchQuery {
  /**
   * The start of "last name first name", case-insensitive: a prefix of the
   * last name, or a whole last name, a space and a prefix of the first name.
   */
  name?: string
  country?: string
  /** Join date range (epoch ms), inclusive from, exclusive to. */
  joinedFrom?: number
  joinedTo?: number
  status?: MemberStatus
  /**
   * The previous page's `next`: where in the index it stopped, so the next
   * page starts right after that place even if the member there has since
   * changed its name, country or status, or was erased.
   */
  after?: string
  limit?: number
}

/** A search the registry cannot run: a cursor from no search like it, or a country that is no code. */
export class SearchError extends Error {
  override readonly name = 'SearchError'
  constructor(
    readonly field: 'after' | 'country',
    message: string,
  ) {
    super(message)
  }
}

/** The index a search reads, by what it names: a name prefix, a country, or neither (join date). */
type SearchIndex = 'n' | 'c' | 'j'

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

/** A member as stored: its record and its identifiers' keys (`type:value`), sorted. */
type MemberRecord = [member: Member, identifiers: string[]]

/** An identifier as stored: while active and unchanged since issued, only its member and issue time. */
type IdentifierRecord = Identifier | [member: string, issuedAt: number]

export interface BulkOutcome {
  /** The rows written, by their index in the batch. */
  created: { index: number; member: Member }[]
  /** The rows refused, by index, naming the field at fault. */
  rejected: { index: number; field: string; message: string }[]
}

/** A batch handed to the writer. */
export interface BatchWrite {
  /** Settles (never rejects) once the batch is committed and readable, or failed; the next batch is written only after it. */
  committed: Promise<void>
  /** The outcome once the batch is flushed to disk; rejects if it could not be written, and then none of it was. */
  outcome: Promise<BulkOutcome>
}

/** A row of a bulk load that passed the checks. */
interface AcceptedRow {
  index: number
  member: Member
  /** Its identifiers' keys: email, phone, then its cards in input order (until written). */
  keys: string[]
}

/** The rows of a bulk load's current batch, checked one at a time as they arrive. */
interface Batch {
  rows: AcceptedRow[]
  rejected: BulkOutcome['rejected']
  /** Rows added, accepted or not: the next row's index. */
  added: number
  /**
   * The accepted rows' ids and identifier keys, built the first time the
   * load's hashes say a row may repeat one (never, in a clean file).
   */
  exact: { ids: Set<string>; keys: Set<string> } | undefined
  /** Writes by others the load had seen when the batch's first row was checked. */
  foreignSeen: number
  now: number
}

/** Where a row's id or identifier is held already: earlier in its batch, or stored (or about to be). */
type Held = 'batch' | 'stored' | undefined

interface BulkState {
  batch: Batch
  /** Batches handed to the writer and not yet committed: their rows are not readable yet. */
  pending: Batch[]
  /**
   * Hashes of every id and identifier key the load accepted; when `covers`,
   * also of all written by others since. Dropped past `hashedMax` (then
   * every check looks at the batches and the store).
   */
  seen: { ids: HashFilter; keys: HashFilter } | undefined
  /** The registry was empty as the load began: what `seen` has not, is not stored. */
  covers: boolean
  /** Writes by anyone else since the load began, counted as each leaves the queue. */
  foreign: number
  failed: Error | undefined
  closed: boolean
}

/**
 * A bulk load of new members (`MemberRegistry.openBulk`): rows are added one
 * at a time, each checked as `create` checks a member and against every row
 * before it in the load, and written a batch per transaction.
 */

/**
 * Lookups by an id longer than this find nothing. LMDB keys hold at most
 * 1,978 bytes, and lmdb-js throws on a longer one; every id and identifier
 * stored is far shorter (128 characters at most), so a longer one from a
 * caller is simply unknown.
 */
const lookupKeyBytesMax = 1024

function fitsKey(key: string): boolean {
  return key.length <= lookupKeyBytesMax / 4 || Buffer.byteLength(key) <= lookupKeyBytesMax
}

export class BulkSession {
  readonly #add: (input: BulkMember) => { field: string; message: string } | undefined
  readonly #size: () => number
  readonly #write: (actor: Actor, target: string, detail: Record<string, unknown>) => BatchWrite
  readonly #close: () => void

  constructor(port: {
    add: (input: BulkMember) => { field: string; message: string } | undefined
    size: () => number
    write: (actor: Actor, target: string, detail: Record<string, unknown>) => BatchWrite
    close: () => void
  }) {
    this.#add = port.add
    this.#size = port.size
    this.#write = port.write
    this.#close = port.close
  }

  /** Checks a row into the current batch; the refusal, if any, is also in the batch's outcome. */
  add(input: BulkMember): { field: string; message: string } | undefined {
    return this.#add(input)
  }

  /** Rows added to the current batch. */
  get size(): number {
    return this.#size()
  }

  /**
   * Writes the current batch's accepted rows in one transaction with one
   * audit record, after the batches before it; a new batch begins at once.
   * Once a batch fails, every later one fails too.
   */
  write(actor: Actor, target: string, detail: Record<string, unknown> = {}): BatchWrite {
    return this.#write(actor, target, detail)
  }

  /** Ends the load; batches already handed over are still written. */
  close(): void {
    this.#close()
  }
}

/**
 * A set of strings kept as two 32-bit hashes each (open addressing, grown
 * at half full): `has` may say yes for a string never added, at odds of
 * about one in 2^64 per string held, and never says no for one that was.
 * 16 bytes a string at most, whatever its length.
 */
export class HashFilter {
  /** Pairs of hashes; a first hash of 0 marks an empty slot. */
  #slots = new Int32Array(2 << 12)
  #count = 0

  add(text: string): void {
    if ((this.#count + 1) * 4 > this.#slots.length) this.#grow()
    hash2(text)
    if (this.#place(this.#slots, hashed[0]!, hashed[1]!)) this.#count++
  }

  has(text: string): boolean {
    hash2(text)
    const first = hashed[0]!
    const second = hashed[1]!
    const slots = this.#slots
    const mask = (slots.length >> 1) - 1
    for (let i = first & mask; ; i = (i + 1) & mask) {
      const slot = slots[2 * i]!
      if (slot === 0) return false
      if (slot === first && slots[2 * i + 1] === second) return true
    }
  }

  get size(): number {
    return this.#count
  }

  /** Puts a pair of hashes in its slot; false when it was there already. */
  #place(slots: Int32Array, first: number, second: number): boolean {
    const mask = (slots.length >> 1) - 1
    for (let i = first & mask; ; i = (i + 1) & mask) {
      const slot = slots[2 * i]!
      if (slot === 0) {
        slots[2 * i] = first
        slots[2 * i + 1] = second
        return true
      }
      if (slot === first && slots[2 * i + 1] === second) return false
    }
  }

  #grow() {
    const old = this.#slots
    const slots = new Int32Array(old.length * 2)
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.#place(slots, old[i]!, old[i + 1]!)
    this.#slots = slots
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

const searchLimitMax = 200
const talliesKey = 'status'
/** Rows `createMany` checks between yields to the event loop. */
const bulkCheckSlice = 2000
/** Ids and keys a bulk load hashes at most (16 bytes each): past it, a load of many millions checks by reading. */
const hashedMax = 12_000_000
/** Members moved per transaction when folding the old by-member index into member records. */
const migrationChunk = 10_000
const idPattern = /^[A-Za-z0-9_.:-]{1,64}$/
/**
 * An address as mail servers take it: a local part of dot-separated words (no
 * dot first, last or twice), and a domain of dot-separated labels that do not
 * start or end with a hyphen, ending in a top-level label of 2 to 63
 * characters that does not start with a digit (`x@y..com`, `.x@y.com` and
 * `x@-y.com` are refused). Bounded everywhere (local part 64, domain 254, a
 * DNS label 63), so the identifier key fits LMDB's key size.
 */
const emailLabel = '[^\\s@.-](?:[^\\s@.]{0,61}[^\\s@.-])?'
const emailPattern = new RegExp(
  `^(?=[^@]{1,64}@)[^\\s@.]+(?:\\.[^\\s@.]+)*@(?=[^@]{4,254}$)(?:${emailLabel}\\.)+[^\\s@.\\d-][^\\s@.]{0,61}[^\\s@.-]$`,
)
const phonePattern = /^\+[1-9]\d{6,14}$/
const cardPattern = /^[A-Za-z0-9]{6,32}$/
/** A card number already in normal form (as printed ranges are), which needs no normalising. */
const normalCard = /^[A-Z0-9]{6,32}$/
/**
 * The value of every search-index entry (only keys are ever read): msgpack's
 * `true`, as the entries were always written, but as bytes, so nothing is
 * encoded per entry.
 */
const indexEntry = new Uint8Array([0xc3])

function fail<T>(field: string, message: string, status: 'invalid_request' | 'account_not_found' | 'card_blocked' = 'invalid_request'): RegistryResult<T> {
  return { ok: false, status, field, message }
}

/** Dashes of every kind (hyphen, non-breaking hyphen, en and em dash, minus sign...): separators in a number. */
const dashes = /[\p{Pd}\u2212]/gu
/** A Latin letter and a Cyrillic or Greek one in one part of an address: a look-alike (`zoе` with a Cyrillic е). */
const latinLetter = /\p{Script=Latin}/u
const lookAlikeLetter = /[\p{Script=Cyrillic}\p{Script=Greek}]/u

/**
 * Normalises an identifier value for its type, or says why it is not one.
 * Every value is first put in Unicode compatibility form (NFKC): full-width
 * letters and digits become plain ones and a letter with a separate accent
 * the letter with its accent, so each identifier has one spelling. A phone
 * number may start with 00 for + and hold a trunk `(0)` after its country
 * code (`+49 (0)30…` is `+4930…`); a card number may hold spaces and dashes
 * of any kind. An email whose local part or a domain label mixes Latin
 * letters with Cyrillic or Greek ones is refused.
 */
export function normaliseIdentifier(type: IdentifierType, raw: string): { value: string } | { error: string } {
  const text = raw.normalize('NFKC').trim()
  switch (type) {
    case 'email': {
      const value = text.toLowerCase().normalize('NFKC')
      if (!emailPattern.test(value)) return { error: `${raw} is not an email address` }
      const mixed = value.split(/[@.]/).some((part) => latinLetter.test(part) && lookAlikeLetter.test(part))
      return mixed ? { error: `${raw} mixes Latin letters with Cyrillic or Greek look-alikes in one part` } : { value }
    }
    case 'phone': {
      const value = text.replace(/\(0\)/g, '').replace(/[\s().]/g, '').replace(dashes, '').replace(/^00/, '+')
      return phonePattern.test(value) ? { value } : { error: `${raw} is not a phone number in international form (+ and 7 to 15 digits)` }
    }
    default: {
      const value = text.replace(/\s/g, '').replace(dashes, '').toUpperCase()
      return cardPattern.test(value) ? { value } : { error: `${raw} is not a ${type} number (6 to 32 letters or digits)` }
    }
  }
}

const identifierKey = (type: IdentifierType, value: string) => `${type}:${value}`
const nameKey = (m: Pick<Member, 'lastName' | 'firstName' | 'id'>) =>
  [(m.lastName ?? '').toLowerCase(), (m.firstName ?? '').toLowerCase(), m.id]

/**
 * A stretch of one search index: keys from `start` up to, not including,
 * `end`, or while they are `holds` when there is no end.
 */
interface SearchStretch {
  start: Key[]
  end: Key[] | undefined
  holds: (key: Key[]) => boolean
}

/** What of one search index a query reads: one or more stretches, read in turn. */
interface SearchRange {
  index: SearchIndex
  stretches: SearchStretch[]
  /** Whether a key of this index lies in one of the stretches (a cursor must). */
  holds: (key: Key[]) => boolean
  /**
   * The search's name prefix, country and join dates as one text, carried
   * by its cursors: a cursor of another search is refused even when the
   * place it names lies inside this one (`a` after a page of `ab`).
   */
  scope: string
}

function searchRange(query: SearchQuery): SearchRange {
  const range = indexRange(query)
  const name = searchName(query.name)
  const scope = JSON.stringify([name, query.country ?? null, query.joinedFrom ?? null, query.joinedTo ?? null])
  return { ...range, scope }
}

function indexRange(query: SearchQuery): Omit<SearchRange, 'scope'> {
  const from = query.joinedFrom ?? 0
  const to = query.joinedTo ?? Number.MAX_SAFE_INTEGER
  const joined = (at: Key) => typeof at === 'number' && at >= from && at < to
  const name = searchName(query.name)
  if (name !== null) return nameRange(name)
  if (query.country !== undefined) {
    const country = query.country
    return single('c', { start: [country, from], end: [country, to], holds: (k) => k[0] === country && joined(k[1]!) })
  }
  return single('j', { start: [from], end: [to], holds: (k) => joined(k[0]!) })
}

/** A search's name as matched: lower case, spaces at its ends dropped, and runs of them one; null for none. */
function searchName(name: string | undefined): string | null {
  const text = name?.toLowerCase().trim().replace(/\s+/g, ' ')
  return text === undefined || text === '' ? null : text
}

function single(index: SearchIndex, stretch: SearchStretch): Omit<SearchRange, 'scope'> {
  return { index, stretches: [stretch], holds: stretch.holds }
}

/**
 * Names that `text` begins, read as "last name, then first name": for each
 * space in it, the members whose last name is the text before the space and
 * whose first name begins with the text after it ("allen ada" finds Ada
 * Allen, "van der berg j" Jan van der Berg); then the members whose last
 * name begins with the whole text (a last name "Allen Adamson"). Each is a
 * stretch of the name index [last, first, id], read in that order, and no
 * member lies in two of them (their last names differ).
 */
function nameRange(text: string): Omit<SearchRange, 'scope'> {
  const stretches: SearchStretch[] = []
  for (let space = text.indexOf(' '); space > 0; space = text.indexOf(' ', space + 1)) {
    const last = text.slice(0, space)
    const first = text.slice(space + 1)
    stretches.push({ start: [last, first], end: undefined, holds: (k) => k[0] === last && (k[1] as string).startsWith(first) })
  }
  // No end key: the names with the prefix are the keys from it on that start with it. An end of
  // prefix + U+FFFF stopped before a name going on past U+FFFF (an emoji, a CJK extension ideograph).
  stretches.push({ start: [text], end: undefined, holds: (k) => (k[0] as string).startsWith(text) })
  return { index: 'n', stretches, holds: (k) => stretches.some((s) => s.holds(k)) }
}

/** The shape of each index's keys: name [last, first, id], country [country, joinedAt, id], joined [joinedAt, id]. */
const cursorShapes: Record<SearchIndex, readonly ('string' | 'number')[]> = {
  n: ['string', 'string', 'string'],
  c: ['string', 'number', 'string'],
  j: ['number', 'string'],
}

/** An opaque cursor: the index, the search's scope and the key a page ended at, as base64url JSON. */
function cursorOf(range: SearchRange, key: Key[]): string {
  return Buffer.from(JSON.stringify([range.index, range.scope, ...key])).toString('base64url')
}

/** The key a cursor names, if it is a cursor of `range`'s search inside the range. */
function cursorIn(range: SearchRange, cursor: string): Key[] {
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString())
  } catch {
    decoded = undefined
  }
  const shape = Array.isArray(decoded) ? cursorShapes[decoded[0] as SearchIndex] : undefined
  const scope = Array.isArray(decoded) ? decoded[1] : undefined
  const key = Array.isArray(decoded) ? (decoded.slice(2) as Key[]) : []
  if (shape === undefined || typeof scope !== 'string' || key.length !== shape.length || key.some((part, i) => typeof part !== shape[i])) {
    throw new SearchError('after', 'after must be the next of an earlier page of this search, as it was given')
  }
  if ((decoded as unknown[])[0] !== range.index || scope !== range.scope || !range.holds(key)) {
    throw new SearchError('after', 'after is the next of a search with other name, country or join dates: start again without it')
  }
  return key
}

function sameKey(a: readonly Key[], b: readonly Key[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i])
}

/** The type and value an identifier key names. */
function splitKey(key: string): [IdentifierType, string] {
  const colon = key.indexOf(':')
  return [key.slice(0, colon) as IdentifierType, key.slice(colon + 1)]
}

function identifierOf(key: string, stored: IdentifierRecord): Identifier {
  if (!Array.isArray(stored)) return stored
  const [type, value] = splitKey(key)
  const [member, issuedAt] = stored
  return { type, value, member, status: 'active', issuedAt, changedAt: issuedAt }
}

function recordOf(identifier: Identifier): IdentifierRecord {
  const unchanged = identifier.status === 'active' && identifier.changedAt === identifier.issuedAt &&
    identifier.reason === undefined && identifier.replacedBy === undefined
  return unchanged ? [identifier.member, identifier.issuedAt] : identifier
}

/** A stored member, also as a registry before format 2 wrote it (the record alone). */
function memberRecord(stored: MemberRecord | Member): MemberRecord {
  return Array.isArray(stored) ? stored : [stored, []]
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Sorts a few strings (a member's identifier keys) in place, without the garbage of `Array.sort`. */
function sortFew(texts: string[]) {
  for (let i = 1; i < texts.length; i++) {
    const text = texts[i]!
    let j = i - 1
    for (; j >= 0 && texts[j]! > text; j--) texts[j + 1] = texts[j]!
    texts[j + 1] = text
  }
}

/** Rows a batch may have for `keyOrder` to sort it: an index takes 20 of a double's 53 bits. */
const orderedRowsMax = 1 << 20

/**
 * The order of `count` records by rank (a whole number below 2^33), ties
 * in input order: rank·2^20 + index in a Float64Array, sorted natively.
 * Ranks only approximate key order (a few leading characters); that is
 * all writing needs, and it costs a fraction of comparing keys. Past
 * 2^20 records, input order.
 */
function keyOrder(ranks: ArrayLike<number>): Uint32Array {
  const count = ranks.length
  const indexes = new Uint32Array(count)
  if (count > orderedRowsMax) {
    for (let i = 0; i < count; i++) indexes[i] = i
    return indexes
  }
  const order = new Float64Array(count)
  for (let i = 0; i < count; i++) order[i] = ranks[i]! * orderedRowsMax + i
  order.sort()
  for (let i = 0; i < count; i++) indexes[i] = order[i]! % orderedRowsMax
  return indexes
}

/** Four characters of `text` from `from` (up to `length`), a byte each: how its key sorts, roughly. */
function textRank(text: string, from: number, length = 4): number {
  let rank = 0
  for (let i = from; i < from + length; i++) {
    const code = text.charCodeAt(i)
    rank = rank * 256 + (code > 255 ? 255 : code >= 0 ? code : 0)
  }
  return rank
}

/** Ranks of texts by the four characters after the prefix they all share (ids of one range, cards of one series). */
function textRanks(texts: readonly string[]): Float64Array {
  const ranks = new Float64Array(texts.length)
  if (texts.length === 0) return ranks
  const first = texts[0]!
  let shared = first.length
  for (let i = 1; i < texts.length && shared > 0; i++) {
    const text = texts[i]!
    let j = 0
    while (j < shared && text.charCodeAt(j) === first.charCodeAt(j)) j++
    shared = j
  }
  for (let i = 0; i < texts.length; i++) ranks[i] = textRank(texts[i]!, shared)
  return ranks
}

/** Days since 1970 (below 2^17 until the year 2328): a join time's rank within its country. */
const dayOf = (time: number) => Math.min(2 ** 17 - 1, Math.max(0, Math.floor(time / 86_400_000)))

function isEmpty(db: Database<unknown, string>): boolean {
  for (const _ of db.getKeys({ limit: 1 })) return false
  return true
}

function newBatch(): Batch {
  return { rows: [], rejected: [], added: 0, exact: undefined, foreignSeen: 0, now: 0 }
}

/** The exact ids and keys of a batch's accepted rows, built on first use. */
function exactOf(batch: Batch): { ids: Set<string>; keys: Set<string> } {
  if (batch.exact === undefined) {
    const exact = { ids: new Set<string>(), keys: new Set<string>() }
    for (const { member, keys } of batch.rows) {
      exact.ids.add(member.id)
      for (const key of keys) exact.keys.add(key)
    }
    batch.exact = exact
  }
  return batch.exact
}

/** The input field a row's identifier key came from: email, phone, then `cards[i].value`. */
function fieldOf({ member, keys }: AcceptedRow, key: string): string {
  const position = keys.indexOf(key)
  if (member.email !== undefined && position === 0) return 'email'
  const cardsFrom = (member.email === undefined ? 0 : 1) + (member.phone === undefined ? 0 : 1)
  if (member.phone !== undefined && position === cardsFrom - 1) return 'phone'
  return `cards[${position - cardsFrom}].value`
}

/**
 * Folds the by-member identifier index of a registry written before format
 * 2 into the member records, a chunk of members per transaction, then drops
 * it. An interrupted run is simply run again at the next open: a record
 * already folded takes the index's keys again (a union), and the index goes
 * only after the last chunk.
 */
function foldIdentifierIndex(root: RootDatabase, members: Database<MemberRecord | Member, string>): void {
  // `create: false` (lmdb-js reads it; its typings leave it out): a missing database is not made.
  const options = { name: 'identifiers-by-member', create: false } as { name: string }
  const owned = root.openDB(options) as Database<true, string[]> | undefined
  if (owned === undefined) return // never had one: written as format 2 from the start
  let after: string | undefined
  for (let more = true; more; ) {
    more = root.transactionSync(() => {
      const range = after === undefined ? { limit: migrationChunk } : { start: after, limit: migrationChunk + 1 }
      let moved = 0
      for (const { key, value } of members.getRange(range)) {
        if (key === after) continue
        const [member, keys] = memberRecord(value)
        const held = new Set(keys)
        for (const [, type, id] of owned.getKeys({ start: [key], end: [key, '\uffff'] })) {
          held.add(identifierKey(type as IdentifierType, id!))
        }
        members.put(key, [member, [...held].sort(byText)])
        after = key
        moved++
      }
      return moved > 0
    })
  }
  owned.dropSync()
}

export class MemberRegistry {
  readonly #root: RootDatabase
  readonly #members: Database<MemberRecord | Member, string>
  readonly #identifiers: Database<IdentifierRecord, string>
  readonly #byName: Database<Uint8Array, string[]>
  readonly #byCountry: Database<Uint8Array, (string | number)[]>
  readonly #byJoined: Database<Uint8Array, (string | number)[]>
  /** Household members by master: [master, member]. */
  readonly #households: Database<true, string[]>
  /** One record: members per status, kept with every member write. */
  readonly #tallies: Database<Record<MemberStatus, number>, string>
  #byStatus: Record<MemberStatus, number>
  #talliesDirty = false
  readonly audit: AuditLog
  #queue: Promise<unknown> = Promise.resolve()
  readonly #clock: () => number
  /** Bulk loads under way. */
  readonly #bulk = new Set<BulkState>()

  constructor(root: RootDatabase, clock: () => number = Date.now) {
    this.#root = root
    this.#clock = clock
    // Shared structures: a record's field names are stored once per database,
    // not in every record (153 bytes instead of 337 for a typical member,
    // decoded in 2.5 µs instead of 6.6). Records written before without them
    // still decode.
    this.#members = root.openDB({ name: 'members', sharedStructuresKey })
    this.#identifiers = root.openDB({ name: 'identifiers', sharedStructuresKey })
    this.#byName = root.openDB({ name: 'members-by-name', encoding: 'binary' })
    this.#byCountry = root.openDB({ name: 'members-by-country', encoding: 'binary' })
    this.#byJoined = root.openDB({ name: 'members-by-joined', encoding: 'binary' })
    this.#households = root.openDB({ name: 'households' })
    this.#tallies = root.openDB({ name: 'member-tallies' })
    this.audit = new AuditLog(root, clock)
    foldIdentifierIndex(root, this.#members)
    const stored = this.#tallies.get(talliesKey)
    if (stored !== undefined) this.#byStatus = { ...stored }
    else {
      // A registry written before tallies existed: counted once, written with the next change.
      this.#byStatus = { active: 0, suspended: 0, closed: 0 }
      for (const { value } of this.#members.getRange({})) this.#byStatus[memberRecord(value)[0].status] += 1
    }
  }

  /** Members per status. */
  countByStatus(): Record<MemberStatus, number> {
    return { ...this.#byStatus }
  }

  // -------------------------------------------------------------------------
  // Reads (synchronous, any thread)

  get(id: string): Member | undefined {
    return this.#record(id)?.[0]
  }

  identifier(type: IdentifierType, raw: string): Identifier | undefined {
    const normal = normaliseIdentifier(type, raw)
    return 'error' in normal ? undefined : this.#identifierAt(identifierKey(type, normal.value))
  }

  /** The member an identifier belongs to, with the identifier (whatever its status). */
  resolve(type: IdentifierType, raw: string): { member: Member; identifier: Identifier } | undefined {
    const identifier = this.identifier(type, raw)
    if (identifier === undefined) return undefined
    const member = this.get(identifier.member)
    return member === undefined ? undefined : { member, identifier }
  }

  /** The member's identifiers, ordered by type, then value. */
  identifiersOf(member: string): Identifier[] {
    const found: Identifier[] = []
    for (const key of this.#record(member)?.[1] ?? []) {
      const identifier = this.#identifierAt(key)
      if (identifier !== undefined) found.push(identifier)
    }
    return found
  }

  count(): number {
    return this.#members.getCount()
  }

  /**
   * Members by name prefix, country, join date and status, in the order of
   * the most selective index the query allows. A country is matched in
   * capitals, as stored. Throws `SearchError` for an `after` that is no
   * cursor of a search like this one, or a country that is no ISO code.
   */
  search(query: SearchQuery): SearchPage {
    const limit = Math.max(1, Math.min(query.limit ?? 50, searchLimitMax))
    const country = query.country?.trim().toUpperCase()
    if (country !== undefined) {
      const problem = countryCodeProblem('country', country)
      if (problem !== undefined) throw new SearchError('country', problem)
    }
    const matches = (m: Member) =>
      (query.status === undefined || m.status === query.status) &&
      (country === undefined || m.country === country) &&
      (query.joinedFrom === undefined || m.joinedAt >= query.joinedFrom) &&
      (query.joinedTo === undefined || m.joinedAt < query.joinedTo)
    const range = searchRange({ ...query, ...(country === undefined ? {} : { country }) })
    const after = query.after === undefined ? undefined : cursorIn(range, query.after)
    const members: Member[] = []
    let last: Key[] | undefined
    let more = false
    // A cursor lies in one stretch: the page goes on from it there, and the stretches before are done.
    const first = after === undefined ? 0 : range.stretches.findIndex((s) => s.holds(after))
    scan: for (const stretch of range.stretches.slice(first)) {
      const start = after !== undefined && stretch.holds(after) ? after : stretch.start
      for (const key of this.#index(range.index).getKeys(stretch.end === undefined ? { start } : { start, end: stretch.end })) {
        if (!stretch.holds(key)) break
        if (after !== undefined && sameKey(key, after)) continue
        const member = this.get(key[key.length - 1] as string)
        if (member === undefined || !matches(member)) continue
        // One more match past the page: there is a next page, and it starts after the last member shown.
        if (members.length === limit) {
          more = true
          break scan
        }
        members.push(member)
        last = key
      }
    }
    const page: SearchPage = { members }
    if (more) page.next = cursorOf(range, last!)
    return page
  }

  #index(index: SearchIndex): Database<Uint8Array, Key[]> {
    return (index === 'n' ? this.#byName : index === 'c' ? this.#byCountry : this.#byJoined) as Database<Uint8Array, Key[]>
  }

  #record(id: string): MemberRecord | undefined {
    // Nothing longer than a key can be stored, so nothing that long is found (LMDB would throw).
    if (!fitsKey(id)) return undefined
    const stored = this.#members.get(id)
    return stored === undefined ? undefined : memberRecord(stored)
  }

  #identifierAt(key: string): Identifier | undefined {
    if (!fitsKey(key)) return undefined
    const stored = this.#identifiers.get(key)
    return stored === undefined ? undefined : identifierOf(key, stored)
  }

  // -------------------------------------------------------------------------
  // Bulk: imports, exports and changes recorded from elsewhere (see csv.ts)

  /**
   * Creates many members in one transaction with one audit record. Each row
   * is checked as `create` checks it, and also against the rows before it in
   * the batch; refused rows are answered with their index, the rest are
   * written and answered once flushed. For imports: one commit per member is
   * far too slow for millions. The checks yield to the event loop every few
   * thousand rows, and only the writes run as one burst.
   */
  async createMany(
    inputs: readonly BulkMember[],
    actor: Actor,
    target: string,
    detail: Record<string, unknown> = {},
  ): Promise<BulkOutcome> {
    const session = await this.openBulk()
    try {
      for (let index = 0; index < inputs.length; index++) {
        if (index > 0 && index % bulkCheckSlice === 0) await nextTurn()
        session.add(inputs[index]!)
      }
      return await session.write(actor, target, detail).outcome
    } finally {
      session.close()
    }
  }

  /**
   * Begins a bulk load of new members: add rows one at a time (each is
   * checked at once), write a batch whenever enough have gathered, and close
   * the session at the end. Rows are checked outside the write queue, so
   * checking the next batch goes on while the last one is written.
   */
  openBulk(): Promise<BulkSession> {
    return this.#serial(() => {
      const empty = isEmpty(this.#members) && isEmpty(this.#identifiers)
      const state: BulkState = {
        batch: newBatch(),
        pending: [],
        seen: { ids: new HashFilter(), keys: new HashFilter() },
        covers: empty,
        foreign: 0,
        failed: undefined,
        closed: false,
      }
      this.#bulk.add(state)
      return new BulkSession({
        add: (input) => this.#bulkAdd(state, input),
        size: () => state.batch.added,
        write: (actor, target, detail) => this.#bulkWrite(state, actor, target, detail),
        close: () => {
          state.closed = true
          this.#bulk.delete(state)
        },
      })
    })
  }

  /** Members in id order after `after` (exclusive), at most `limit`: exports read in pages. */
  list(after: string | undefined, limit: number): Member[] {
    const members: Member[] = []
    const range = after === undefined ? { limit } : { start: after, limit: limit + 1 }
    for (const { key, value } of this.#members.getRange(range)) {
      if (key === after) continue
      if (members.length === limit) break
      members.push(memberRecord(value)[0])
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

  #bulkAdd(state: BulkState, input: BulkMember): { field: string; message: string } | undefined {
    if (state.closed) throw new Error('the bulk load is closed')
    const batch = state.batch
    if (batch.added === 0) {
      batch.foreignSeen = state.foreign
      batch.now = this.#clock()
    }
    const index = batch.added++
    const checked = this.#checkRow(state, batch, input)
    if (!checked.ok) {
      const { field, message } = checked
      batch.rejected.push({ index, field, message })
      return { field, message }
    }
    const row = checked.value
    row.index = index
    batch.rows.push(row)
    const seen = state.seen
    if (seen !== undefined) {
      seen.ids.add(row.member.id)
      for (const key of row.keys) seen.keys.add(key)
      if (seen.ids.size + seen.keys.size > hashedMax) {
        state.seen = undefined
        state.covers = false
      }
    }
    if (batch.exact !== undefined) {
      batch.exact.ids.add(row.member.id)
      for (const key of row.keys) batch.exact.keys.add(key)
    }
    return undefined
  }

  /**
   * Where a member id (`ids`) or identifier key (`keys`) is held already.
   * The load's hashes answer first: a miss means it is nowhere in the load
   * (and, when they cover the store, not stored either); a hit, or a store
   * they do not cover, takes exact looks.
   */
  #held(state: BulkState, batch: Batch, kind: 'ids' | 'keys', value: string): Held {
    if (state.seen === undefined || state.seen[kind].has(value)) {
      if (exactOf(batch)[kind].has(value)) return 'batch'
      for (const pending of state.pending) if (exactOf(pending)[kind].has(value)) return 'stored'
    } else if (state.covers) return undefined
    const stored = kind === 'ids' ? this.#members : this.#identifiers
    return stored.doesExist(value) ? 'stored' : undefined
  }

  /** `create`'s checks for a row of a bulk load, also against the rows before it in the load. */
  #checkRow(state: BulkState, batch: Batch, input: BulkMember): RegistryResult<AcceptedRow> {
    if (typeof input.id !== 'string' || !idPattern.test(input.id)) {
      return fail('id', 'id must be 1 to 64 letters, digits or _.:-')
    }
    const held = this.#held(state, batch, 'ids', input.id)
    if (held === 'stored') return fail('id', `member ${input.id} exists`)
    if (typeof input.program !== 'string' || input.program === '') {
      return fail('program', 'program is required')
    }
    if (held === 'batch') return fail('id', `member ${input.id} is earlier in this batch`)
    const now = batch.now
    const joinedAt = input.joinedAt ?? now
    if (!Number.isSafeInteger(joinedAt)) return fail('joinedAt', 'joinedAt must be a time in whole milliseconds since 1970')
    if (joinedAt < 0) return fail('joinedAt', 'joinedAt must not be before 1970-01-01')
    if (joinedAt > now) return fail('joinedAt', 'joinedAt must not be in the future')
    const member: Member = {
      id: input.id,
      account: input.id,
      program: input.program,
      attributes: input.attributes ?? {},
      segments: input.segments ?? [],
      consents: input.consents === undefined
        ? { email: false, sms: false, push: false }
        : { email: false, sms: false, push: false, ...input.consents },
      joinedAt,
      status: 'active',
      redemptionAllowed: true,
    }
    const profile = applyProfile(member, input, now)
    if (profile !== undefined && !profile.ok) return fail(profile.field, profile.message)
    if (input.referrer !== undefined) {
      if (this.#held(state, batch, 'ids', input.referrer) === undefined) return fail('referrer', `no member ${input.referrer}`)
      member.referrer = input.referrer
    }
    // Email and phone were normalised with the profile; cards are normalised here.
    const keys: string[] = []
    if (member.email !== undefined) {
      const refused = this.#takeKey(state, batch, keys, 'email', member.email, 'email')
      if (refused !== undefined) return refused
    }
    if (member.phone !== undefined) {
      const refused = this.#takeKey(state, batch, keys, 'phone', member.phone, 'phone')
      if (refused !== undefined) return refused
    }
    const cards = input.cards ?? []
    for (let i = 0; i < cards.length; i++) {
      const card = cards[i]!
      const type = card.type ?? 'card'
      let value = card.value
      if (!normalCard.test(value)) {
        const normal = normaliseIdentifier(type, value)
        if ('error' in normal) return fail(`cards[${i}].value`, normal.error)
        value = normal.value
      }
      const refused = this.#takeKey(state, batch, keys, type, value, () => `cards[${i}].value`)
      if (refused !== undefined) return refused
    }
    return { ok: true, value: { index: 0, member, keys } }
  }

  /** Adds a row's identifier to its keys, or refuses the row when the identifier is held already. */
  #takeKey(state: BulkState, batch: Batch, keys: string[], type: IdentifierType, value: string, field: string | (() => string)): RegistryResult<AcceptedRow> | undefined {
    // A card, fob, NFC UID or virtual card shares one number space with the others (see `#issued`).
    const kinds = cardKinds.includes(type) ? cardKinds : [type]
    const name = () => (typeof field === 'string' ? field : field())
    if (kinds.some((kind) => keys.includes(identifierKey(kind, value)))) return fail(name(), `${type} ${value} is given twice`)
    for (const kind of kinds) {
      const held = this.#held(state, batch, 'keys', identifierKey(kind, value))
      if (held !== undefined) {
        const whose = held === 'batch' ? 'another member earlier in this batch' : 'another member'
        return fail(name(), `${type} ${value} belongs to ${whose}`)
      }
    }
    keys.push(identifierKey(type, value))
    return undefined
  }

  #bulkWrite(state: BulkState, actor: Actor, target: string, detail: Record<string, unknown>): BatchWrite {
    const batch = state.batch
    state.batch = newBatch()
    state.pending.push(batch)
    let flushed: Promise<unknown> = Promise.resolve()
    const written = this.#serial(async (): Promise<BulkOutcome> => {
      try {
        if (state.failed !== undefined) throw new Error(`an earlier batch of this load was not written (${state.failed.message})`)
        // Someone else wrote since the batch's first check: what they wrote is readable now.
        if (state.foreign !== batch.foreignSeen) this.#recheck(batch)
        const outcome: BulkOutcome = {
          created: batch.rows.map((row) => ({ index: row.index, member: row.member })),
          rejected: batch.rejected.sort((a, b) => a.index - b.index),
        }
        if (batch.rows.length === 0) return outcome
        const commit = this.#putNewMembers(batch.rows, batch.now)
        const counts = { created: outcome.created.length, rejected: outcome.rejected.length }
        this.audit.record(actor, 'member.import', target, { ...detail, ...counts })
        this.#noteNewRows(state, batch.rows)
        flushed = new Promise((resolve, reject) => {
          this.#root.flushed.then(resolve, reject)
        })
        await commit
        return outcome
      } catch (error) {
        state.failed ??= error as Error
        throw error
      } finally {
        state.pending.splice(state.pending.indexOf(batch), 1)
      }
    }, state)
    return {
      committed: written.then(() => undefined, () => undefined),
      outcome: written.then(async (outcome) => {
        await flushed
        return outcome
      }),
    }
  }

  /** Checks a batch's rows against the store again (a change by someone else came in between). */
  #recheck(batch: Batch) {
    const kept: AcceptedRow[] = []
    for (const row of batch.rows) {
      const id = row.member.id
      if (this.#members.doesExist(id)) {
        batch.rejected.push({ index: row.index, field: 'id', message: `member ${id} exists` })
        continue
      }
      const taken = row.keys.find((key) => {
        const [type, value] = splitKey(key)
        return this.#issued(type, value)
      })
      if (taken !== undefined) {
        const [type, value] = splitKey(taken)
        batch.rejected.push({ index: row.index, field: fieldOf(row, taken), message: `${type} ${value} belongs to another member` })
        continue
      }
      kept.push(row)
    }
    batch.rows = kept
  }

  #noteNewRows(writer: BulkState, rows: readonly AcceptedRow[]) {
    for (const state of this.#bulk) {
      if (state === writer || !state.covers) continue
      for (const { member, keys } of rows) this.#noteNew(writer, [member.id], keys)
      return
    }
  }

  /** Tells the other bulk loads whose hashes cover the store about ids and identifier keys just written. */
  #noteNew(writer: BulkState | undefined, ids: readonly string[], keys: readonly string[]) {
    for (const state of this.#bulk) {
      if (state === writer || !state.covers || state.seen === undefined) continue
      for (const id of ids) state.seen.ids.add(id)
      for (const key of keys) state.seen.keys.add(key)
    }
  }

  // -------------------------------------------------------------------------
  // Writes (main thread, one at a time)

  /** Creates a member with its contact identifiers (email, phone) and cards. */
  create(input: NewMember, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      if (!idPattern.test(input.id)) return fail('id', 'id must be 1 to 64 letters, digits or _.:-')
      if (this.#members.doesExist(input.id)) return fail('id', `member ${input.id} exists`)
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
      const profile = applyProfile(member, input, now)
      if (profile !== undefined) return profile
      if (input.referrer !== undefined) {
        if (!this.#members.doesExist(input.referrer)) return fail('referrer', `no member ${input.referrer}`)
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
        if (identifiers.some((i) => sameNumbers(i.type, type) && i.value === normal.value)) {
          return fail(field, `${type} ${normal.value} is given twice`)
        }
        if (this.#issued(type, normal.value)) return fail(field, `${type} ${normal.value} belongs to another member`)
        identifiers.push({ type, value: normal.value, member: member.id, status: 'active', issuedAt: now, changedAt: now })
      }
      const keys = identifiers.map((i) => identifierKey(i.type, i.value))
      this.#putMember(undefined, member, keys)
      for (const identifier of identifiers) this.#putIdentifier(identifier)
      this.#noteNew(undefined, [member.id], keys)
      this.audit.record(actor, 'member.create', member.id, { program: member.program, identifiers: identifiers.length })
      return this.#flushed({ ok: true, value: member })
    })
  }

  /**
   * Changes profile fields; `null` removes an optional one (`MemberUpdate`).
   * Email and phone changes move their identifiers, and a removed one is
   * released. Every field is checked before anything is written: a refusal
   * names its field and changes nothing.
   */
  update(id: string, update: MemberUpdate, actor: Actor): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const record = this.#record(id)
      if (record === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      const [before, held] = record
      if (before.erasedAt !== undefined) return fail('id', `member ${id} was erased`)
      if (before.mergedInto !== undefined) return fail('id', `member ${id} was merged into ${before.mergedInto}; change ${before.mergedInto}`)
      for (const field of keptProfileFields) {
        if ((update[field] as unknown) === null) return fail(field, `${field} cannot be removed, only changed`)
      }
      const removed = removableProfileFields.filter((field) => update[field] === null)
      const changes = Object.fromEntries(Object.entries(update).filter(([, value]) => value !== null)) as MemberChanges
      const after: Member = structuredClone(before)
      for (const field of removed) delete after[field]
      const profile = applyProfile(after, changes, this.#clock())
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
        // A closed member gets no new identifier, as it gets no new card: it would find a closed account.
        if (before.status === 'closed') return fail(type, `member ${id} is closed`)
        const taken = this.#identifierAt(identifierKey(type, next))
        if (taken !== undefined && taken.member !== id) return fail(type, `${type} ${next} belongs to another member`)
      }
      const now = this.#clock()
      const keys = new Set(held)
      const added: string[] = []
      for (const [type, old, next] of moves) {
        if (next === old) continue
        if (old !== undefined) {
          this.#removeIdentifier(identifierKey(type, old))
          keys.delete(identifierKey(type, old))
        }
        if (next !== undefined) {
          this.#putIdentifier({ type, value: next, member: id, status: 'active', issuedAt: now, changedAt: now })
          keys.add(identifierKey(type, next))
          added.push(identifierKey(type, next))
        }
      }
      this.#putMember(before, after, [...keys])
      this.#noteNew(undefined, [], added)
      const detail = { fields: Object.keys(update), ...(removed.length > 0 ? { removed } : {}) }
      this.audit.record(actor, 'member.update', id, detail)
      return this.#flushed({ ok: true, value: after })
    })
  }

  /**
   * Whether `value` is issued already as `type`, or, for a card, fob, NFC UID
   * or virtual card, as any of them: they share one number space, since a
   * reader presents a number, and one number must name one member.
   */
  #issued(type: IdentifierType, value: string): boolean {
    const kinds = cardKinds.includes(type) ? cardKinds : [type]
    return kinds.some((kind) => this.#identifiers.doesExist(identifierKey(kind, value)))
  }

  /** Suspends, closes or reactivates a member; the engine refuses points to anything but active. */
  setStatus(id: string, status: MemberStatus, actor: Actor, reason?: string): Promise<RegistryResult<Member>> {
    return this.#change(id, actor, 'member.status', { status, reason }, (m) => {
      // Erased or merged away, a member stays closed: its data is gone, or lives on another member.
      if (m.erasedAt !== undefined) return 'an erased member stays closed'
      if (m.mergedInto !== undefined) return `member ${m.id} was merged into ${m.mergedInto} and stays closed`
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
  issueCard(id: string, card: { type?: CardType; value: string }, actor: Actor): Promise<RegistryResult<Identifier>> {
    return this.#serial(() => {
      const record = this.#record(id)
      if (record === undefined) return fail('member', `no member ${id}`, 'account_not_found')
      if (record[0].status === 'closed') return fail('member', `member ${id} is closed`)
      const type = card.type ?? 'card'
      const normal = normaliseIdentifier(type, card.value)
      if ('error' in normal) return fail('value', normal.error)
      const key = identifierKey(type, normal.value)
      if (this.#issued(type, normal.value)) return fail('value', `${type} ${normal.value} is already issued`)
      const now = this.#clock()
      const identifier: Identifier = { type, value: normal.value, member: id, status: 'active', issuedAt: now, changedAt: now }
      this.#putIdentifier(identifier)
      this.#putKeys(record, [...record[1], key])
      this.#noteNew(undefined, [], [key])
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
      this.#putIdentifier(changed)
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
      // A closed member takes no new card, as `issueCard` says: a replacement would find a closed account.
      const owner = this.#record(old.member)
      if (owner?.[0].status === 'closed') return fail('member', `member ${old.member} is closed`)
      const normal = normaliseIdentifier(type, next)
      if ('error' in normal) return fail('replacement', normal.error)
      const key = identifierKey(type, normal.value)
      if (this.#issued(type, normal.value)) return fail('replacement', `${type} ${normal.value} is already issued`)
      const now = this.#clock()
      const replacement: Identifier = { type, value: normal.value, member: old.member, status: 'active', issuedAt: now, changedAt: now }
      const retired: Identifier = { ...old, status: 'replaced', replacedBy: normal.value, changedAt: now }
      if (reason !== undefined) retired.reason = reason
      this.#putIdentifier(retired)
      this.#putIdentifier(replacement)
      if (owner !== undefined) this.#putKeys(owner, [...owner[1], key])
      this.#noteNew(undefined, [], [key])
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
      const record = this.#record(id)
      if (record === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      const [before, held] = record
      if (before.erasedAt !== undefined) return fail('id', `member ${id} was erased already`)
      const now = this.#clock()
      // An erased member is in no household: it leaves its own, and the members of one it
      // heads go back to their own accounts (the pooled points stay, as on any unlink).
      if (before.household !== undefined) this.#households.remove([before.household, id])
      for (const dependant of this.#dependants(id)) {
        const [member, keys] = this.#record(dependant.id)!
        this.#putMember(member, leaveHousehold(member, this.#clock()), keys)
        this.#households.remove([id, member.id])
        this.audit.record(actor, 'household.unlink', member.id, { master: id, policy: 'points stay with the household', reason: 'master erased' })
      }
      const after: Member = {
        id,
        account: before.household === undefined ? before.account : id,
        program: before.program,
        attributes: {},
        segments: [],
        consents: { email: false, sms: false, push: false },
        joinedAt: before.joinedAt,
        status: 'closed',
        redemptionAllowed: false,
        erasedAt: now,
      }
      for (const key of held) this.#removeIdentifier(key)
      this.#putMember(before, after, [])
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
      const record = this.#record(id)
      const head = this.get(master)
      if (record === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      if (head === undefined) return fail('master', `no member ${master}`, 'account_not_found')
      const [member, held] = record
      if (member.household !== undefined) return fail('id', `member ${id} already belongs to household ${member.household}`)
      if (head.household !== undefined) return fail('master', `member ${master} belongs to household ${head.household} itself`)
      if (this.#dependants(id).length > 0) return fail('id', `member ${id} heads a household`)
      if (member.status !== 'active' || head.status !== 'active') return fail('status', 'both members must be active')
      if (member.program !== head.program) return fail('master', `member ${master} is in program ${head.program}, not ${member.program}`)
      const after = { ...member, household: master, account: head.account, movedAt: this.#clock() }
      this.#putMember(member, after, held)
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
      const record = this.#record(id)
      if (record === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      const [member, held] = record
      if (member.household === undefined) return fail('id', `member ${id} is in no household`)
      const household = member.household
      const after = leaveHousehold(member, this.#clock())
      this.#putMember(member, after, held)
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
      const member = this.get(key[1]!)
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
      if (from === into) return fail('into', 'a member cannot be merged with itself')
      const sourceRecord = this.#record(from)
      const targetRecord = this.#record(into)
      if (sourceRecord === undefined) return fail('from', `no member ${from}`, 'account_not_found')
      if (targetRecord === undefined) return fail('into', `no member ${into}`, 'account_not_found')
      const [source, sourceKeys] = sourceRecord
      const [target, targetKeys] = targetRecord
      if (source.mergedInto !== undefined && source.mergedInto !== into) return fail('from', `member ${from} was merged into ${source.mergedInto}`)
      const moved: string[] = []
      const kept: string[] = []
      for (const key of sourceKeys) {
        const identifier = this.#identifierAt(key)
        if (identifier === undefined) continue
        if (identifier.status === 'replaced' || identifier.status === 'released') {
          kept.push(key)
          continue
        }
        this.#putIdentifier({ ...identifier, member: into, changedAt: this.#clock() })
        moved.push(key)
      }
      const { email: _email, phone: _phone, ...rest } = source
      const closed: Member = { ...rest, status: 'closed', redemptionAllowed: false, mergedInto: into }
      this.#putMember(source, closed, kept)
      const gained = [...targetKeys, ...moved]
      // The target remembers whom it absorbed: a return of a duplicate's purchase finds it there.
      const mergedFrom = target.mergedFrom?.includes(from) === true ? target.mergedFrom : [...(target.mergedFrom ?? []), from]
      // A contact the target lacks comes with its identifier, so the profile shows what finds the member.
      const taken = (type: 'email' | 'phone') => {
        const offered = source[type]
        const lacks = target[type] === undefined && offered !== undefined
        return lacks && moved.includes(identifierKey(type, offered)) ? offered : target[type]
      }
      const email = taken('email')
      const phone = taken('phone')
      const contacts = { ...(email === undefined ? {} : { email }), ...(phone === undefined ? {} : { phone }) }
      this.#putMember(target, { ...target, ...contacts, mergedFrom, movedAt: this.#clock() }, gained)
      this.audit.record(actor, 'member.merge', into, { from, identifiers: moved })
      return this.#flushed({ ok: true, value: closed })
    })
  }

  // -------------------------------------------------------------------------

  #change(id: string, actor: Actor, action: string, detail: Record<string, unknown>, edit: (m: Member) => string | undefined): Promise<RegistryResult<Member>> {
    return this.#serial(() => {
      const record = this.#record(id)
      if (record === undefined) return fail('id', `no member ${id}`, 'account_not_found')
      const [before, held] = record
      const after = structuredClone(before)
      const refusal = edit(after)
      if (refusal !== undefined) return fail('status', refusal)
      this.#putMember(before, after, held)
      this.audit.record(actor, action, id, detail)
      return this.#flushed({ ok: true, value: after })
    })
  }

  /** Writes a member record with its identifiers' keys, and its index entries. */
  #putMember(before: Member | undefined, after: Member, keys: readonly string[]) {
    if (before?.status !== after.status) {
      if (before !== undefined) this.#byStatus[before.status] -= 1
      this.#byStatus[after.status] += 1
      this.#writeTallies()
    }
    if (before !== undefined) {
      this.#byName.remove(nameKey(before))
      if (before.country !== undefined) this.#byCountry.remove([before.country, before.joinedAt, before.id])
    }
    this.#members.put(after.id, [after, [...new Set(keys)].sort(byText)])
    this.#byName.put(nameKey(after), indexEntry)
    if (after.country !== undefined) this.#byCountry.put([after.country, after.joinedAt, after.id], indexEntry)
    if (before === undefined) this.#byJoined.put([after.joinedAt, after.id], indexEntry)
  }

  /** Rewrites a member record with other identifier keys; the indexes are left as they are. */
  #putKeys([member]: MemberRecord, keys: readonly string[]) {
    this.#members.put(member.id, [member, [...new Set(keys)].sort(byText)])
  }

  /**
   * Writes new members and their identifiers, each database's records in
   * (about) key order: LMDB then inserts into one leaf page after another
   * instead of jumping across the tree. Answers the transaction's commit.
   */
  #putNewMembers(rows: readonly AcceptedRow[], now: number): Promise<boolean> {
    let commit: Promise<boolean> = Promise.resolve(true)
    const ids = rows.map((row) => row.member.id)
    const byId = keyOrder(textRanks(ids))
    for (let i = 0; i < byId.length; i++) {
      const { member, keys } = rows[byId[i]!]!
      sortFew(keys)
      commit = this.#members.put(member.id, [member, keys])
    }
    // Identifiers by type (a key begins with its type, and each type with its own letter), then by value.
    const byType = new Map<number, [keys: string[], members: string[]]>()
    for (const { member, keys } of rows) {
      for (const key of keys) {
        const letter = key.charCodeAt(0)
        let group = byType.get(letter)
        if (group === undefined) byType.set(letter, (group = [[], []]))
        group[0].push(key)
        group[1].push(member.id)
      }
    }
    for (const letter of [...byType.keys()].sort((a, b) => a - b)) {
      const [keys, members] = byType.get(letter)!
      const order = keyOrder(textRanks(keys))
      for (let i = 0; i < order.length; i++) this.#identifiers.put(keys[order[i]!]!, [members[order[i]!]!, now])
    }
    const names: string[][] = []
    const lastNames: string[] = []
    const countries: (string | number)[][] = []
    const countryRanks: number[] = []
    const joined: (string | number)[][] = []
    const joinedRanks: number[] = []
    for (const { member } of rows) {
      const name = nameKey(member)
      names.push(name)
      lastNames.push(name[0]!)
      if (member.country !== undefined) {
        countries.push([member.country, member.joinedAt, member.id])
        countryRanks.push(textRank(member.country, 0, 2) * 2 ** 17 + dayOf(member.joinedAt))
      }
      joined.push([member.joinedAt, member.id])
      joinedRanks.push(Math.floor(member.joinedAt / 2 ** 9))
    }
    const writes = [
      [this.#byName, names, textRanks(lastNames)],
      [this.#byCountry, countries, countryRanks],
      [this.#byJoined, joined, joinedRanks],
    ] as const
    for (const [db, keys, ranks] of writes) {
      const order = keyOrder(ranks)
      for (let i = 0; i < order.length; i++) (db as Database<Uint8Array, Key>).put(keys[order[i]!]!, indexEntry)
    }
    this.#byStatus.active += rows.length
    this.#writeTallies()
    return commit
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

  /** Writes an identifier's record; the member record's keys are the caller's to keep. */
  #putIdentifier(identifier: Identifier) {
    this.#identifiers.put(identifierKey(identifier.type, identifier.value), recordOf(identifier))
  }

  #removeIdentifier(key: string) {
    this.#identifiers.remove(key)
  }

  async #flushed<T>(result: T): Promise<T> {
    await this.#root.flushed
    return result
  }

  /**
   * Runs `work` after every write before it has finished. Every bulk load
   * other than `owner` counts the write as it leaves the queue, so a batch
   * checked before it knows to check again.
   */
  #serial<T>(work: () => T | Promise<T>, owner?: BulkState): Promise<T> {
    const result = this.#queue.then(work)
    const settled = () => {
      for (const state of this.#bulk) if (state !== owner) state.foreign++
    }
    this.#queue = result.then(settled, settled)
    return result
  }
}

/**
 * Profile fields as the registry would store them (trimmed names, lower-case
 * email, a phone without spaces), or why it would refuse them: to compare
 * what a caller sends with what is stored.
 */
export function normalisedProfile(input: MemberChanges, now = Date.now()): RegistryResult<Partial<Member>> {
  const scratch = {} as Member
  return applyProfile(scratch, input, now) ?? { ok: true, value: scratch }
}

/**
 * Zero-width joiners and non-joiners between two visible characters: how
 * Persian, Hindi and other scripts spell some names (می‌خواهم), and how
 * emoji sequences are made. Anywhere else they only hide.
 */
const joinerInWord = /(?<=[^\s\u200c\u200d])[\u200c\u200d](?=[^\s\u200c\u200d])/g

/**
 * Copies validated profile fields onto a member; returns the failure for the
 * first bad one. `now` bounds a birth date. A country is stored in capitals.
 */
function applyProfile(member: Member, input: MemberChanges, now: number): RegistryResult<Member> | undefined {
  // Gender travels to the ledger with an enrolment, whose commands cap text at 128.
  const texts = [['firstName', 200], ['lastName', 200], ['gender', 128], ['country', 200]] as const
  for (const [field, max] of texts) {
    const value = input[field]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.trim() === '' || value.length > max) return fail(field, `${field} must be 1 to ${max} characters`)
    // Replaced one for one, so a refusal still points at the right place.
    const visible = field === 'firstName' || field === 'lastName' ? value.replace(joinerInWord, 'x') : value
    const unprintable = unprintableProblem(field, visible)
    if (unprintable !== undefined) return fail(field, unprintable)
    member[field] = value.trim()
  }
  if (member.country !== undefined && input.country !== undefined) {
    member.country = member.country.toUpperCase()
    const problem = countryCodeProblem('country', member.country)
    if (problem !== undefined) return fail('country', problem)
  }
  if (input.birthDate !== undefined) {
    const problem = typeof input.birthDate === 'string' ? birthDateProblem(input.birthDate, now) : 'birthDate must be a date YYYY-MM-DD'
    if (problem !== undefined) return fail('birthDate', problem)
    member.birthDate = input.birthDate
  }
  // Checked before they are normalised: the email pattern takes control characters, and a refusal quotes the value.
  for (const field of ['email', 'phone'] as const) {
    const value = input[field]
    const unprintable = typeof value === 'string' ? unprintableProblem(field, value) : undefined
    if (unprintable !== undefined) return fail(field, unprintable)
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
  if (input.attributes !== undefined) {
    const refused = attributesProblem(input.attributes)
    if (refused !== undefined) return refused
  }
  if (input.address !== undefined) member.address = input.address
  return undefined
}

/** Attributes a member may have, and the lengths of their names and values: alike over REST and in a CSV import. */
export const attributesMax = 50
export const attributeNameLengthMax = 64
export const attributeValueLengthMax = 500

/**
 * Names every object answers without holding them (`constructor`,
 * `toString`, `__proto__`...), and `prototype`: as attribute names they
 * would read as set on every member, and `__proto__` would not be stored.
 */
const inheritedNames = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype'])

/**
 * Why `name` cannot name a member attribute, or undefined. A name has 1 to
 * 64 printable characters and no space at either end; it is none of the
 * names every object inherits, nor, in any case, a column of the member CSV
 * (`id`, `Email`, `card`: an export could not tell it from the column). The
 * CSV import checks its header's attribute columns with it.
 */
export function attributeNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > attributeNameLengthMax) {
    return `attribute names must have 1 to ${attributeNameLengthMax} characters (this one has ${name.length})`
  }
  const unprintable = unprintableProblem('attribute names', name)
  if (unprintable !== undefined) return unprintable
  if (name.trim() === '') return 'attribute names must not be blank'
  if (name.trim() !== name) return `attribute name ${JSON.stringify(name)} must not start or end with a space`
  if (inheritedNames.has(name)) return `attribute name ${name} is not allowed (every JavaScript object has it)`
  const lower = name.toLowerCase()
  const column = memberColumns.find((known) => known.toLowerCase() === lower)
  if (column !== undefined) return `attribute name ${name} is the CSV column ${column}; name it otherwise`
  return undefined
}

/**
 * Why a member's attributes would be refused, or undefined: at most 50, each
 * name as `attributeNameProblem` says (all names are checked before any
 * value, so a refusal never names the field after a bad name), each value a
 * free text (tabs and line breaks allowed) of 1 to 500 characters, not blank.
 */
function attributesProblem(attributes: unknown): RegistryResult<Member> | undefined {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    return fail('attributes', 'attributes must be an object of names and texts')
  }
  const names = Object.keys(attributes)
  if (names.length > attributesMax) {
    return fail('attributes', `a member may have at most ${attributesMax} attributes, not ${names.length}`)
  }
  for (const name of names) {
    const problem = attributeNameProblem(name)
    if (problem !== undefined) return fail('attributes', problem)
  }
  for (const name of names) {
    const field = `attributes.${name}`
    const value: unknown = (attributes as Record<string, unknown>)[name]
    if (typeof value !== 'string') return fail(field, `${field} must be a string`)
    if (value.trim() === '' || value.length > attributeValueLengthMax) {
      return fail(field, `${field} must be 1 to ${attributeValueLengthMax} characters`)
    }
    const unprintable = unprintableProblem(field, value, true)
    if (unprintable !== undefined) return fail(field, unprintable)
  }
  return undefined
}
