/**
 * The REST API's bodies as the console reads them (`GET /openapi.json` is the
 * reference). The ruleset document's types are the engine's own: that file
 * imports nothing, so the browser build type-checks it without Node.
 *
 * @module
 */
import type {
  ActivityDoc,
  BreakdownLine,
  CampaignDoc,
  Caps,
  Channel,
  Conditions,
  ExpiryPolicy,
  ItemFilter,
  ProgramDoc,
  QualificationDoc,
  RuleDoc,
  RulesetDoc,
  TierDoc,
} from '../../../engine/src/rules/types.ts'

export type {
  ActivityDoc,
  BreakdownLine,
  CampaignDoc,
  Caps,
  Channel,
  Conditions,
  ExpiryPolicy,
  ItemFilter,
  ProgramDoc,
  QualificationDoc,
  RuleDoc,
  RulesetDoc,
  TierDoc,
}

export type Role = 'admin' | 'marketer' | 'support'
export type CallerRole = Role | 'processor' | 'partner'

/** A console user (`GET /v1/users`); the password is never sent back. */
export interface ConsoleUser {
  username: string
  role: Role
  createdAt: number
  disabled: boolean
}

export interface SessionInfo {
  status: 'ok'
  username: string
  role: CallerRole
  /** Sessions only (ms). */
  expiresAt?: number
}

// The ledger's own reply shapes: that file imports only types, so the browser build checks it too.
export type {
  Balance,
  Entry,
  EntryKind,
  Membership,
  MemberSummary,
  Source,
} from '../../../engine/src/domain/types.ts'
export type { MemberFacts } from '../../../engine/src/rules/types.ts'
import type { MemberFacts } from '../../../engine/src/rules/types.ts'
import type { Balance, Entry, Membership, MemberSummary } from '../../../engine/src/domain/types.ts'

/** Every account operation answers a Reply; fields are there when the operation has them. */
export interface Reply {
  status: string
  field?: string
  message?: string
  entry?: number
  points?: number
  balance?: Balance
  entries?: Entry[]
  next?: number
  breakdown?: BreakdownLine[]
  tier?: string
  membership?: Membership
  rulesetVersion?: number
  member?: MemberSummary
}


export type MemberStatus = 'active' | 'suspended' | 'closed'

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
  consents: { email: boolean; sms: boolean; push: boolean }
  joinedAt: number
  referrer?: string
  status: MemberStatus
  redemptionAllowed: boolean
  erasedAt?: number
  household?: string
  mergedInto?: string
  formerHouseholds?: string[]
}

export type IdentifierType = 'card' | 'virtual_card' | 'nfc' | 'fob' | 'phone' | 'email'
export type CardType = 'card' | 'virtual_card' | 'nfc' | 'fob'
export type IdentifierStatus = 'active' | 'blocked' | 'lost' | 'replaced' | 'released'

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

export interface MemberDetail {
  status: 'ok'
  member: Member
  identifiers: Identifier[]
  balance?: Balance
  tier?: string
  membership?: Membership
}

/** What `POST /v1/members` takes: the id, the program to join, a profile and cards. */
export interface NewMember {
  id: string
  program: string
  firstName?: string
  lastName?: string
  email?: string
  phone?: string
  birthDate?: string
  country?: string
  consents?: Partial<Member['consents']>
  cards?: { type?: CardType; value: string }[]
}

/**
 * A created member, with its standing when it joined its program, or with
 * `enrolment` when joining failed (the member exists; enrolment can be retried).
 */
export interface CreatedMember {
  status: 'ok'
  member: Member
  identifiers: Identifier[]
  balance?: Balance
  tier?: string
  membership?: Membership
  enrolment?: { status: string; message?: string }
}

export interface MemberPage {
  status: 'ok'
  members: Member[]
  next?: string
}

/** Profile fields a PATCH may remove by sending `null`. */
export type RemovableMemberField = 'firstName' | 'lastName' | 'email' | 'phone' | 'birthDate' | 'gender' | 'country' | 'address'

/** A PATCH of a member: the fields to change; `null` removes an optional one ("" is refused). */
export type MemberChanges = {
  [F in RemovableMemberField]?: Member[F] | null
} & Partial<Pick<Member, 'segments'> & { consents: Partial<Member['consents']> }>

export interface Lots {
  status: 'ok'
  lots: { points: number; activeFrom: number; expiresAt: number }[]
  holds: { hold: number; points: number; expiresAt: number; claimed?: number }[]
  debt?: number
  balance?: Balance
}

export interface History {
  status: 'ok'
  entries: Entry[]
  next?: number
}

/**
 * A member's household: `master` heads it (the member itself when it heads
 * one or is in none), `members` are the members pooling into the master's
 * account (the master not among them).
 */
export interface Household {
  status: 'ok'
  master: string
  account?: string
  members: string[]
}

export interface MergeSaga {
  id: string
  state: string
  from: string
  into: string
}

/** Outstanding points of a program and their worth; `money` in minor units of `currency`. */
export interface Liability {
  program?: string
  points: number
  money: number
  currency: string
}

export interface Stats {
  status: 'ok'
  at: number
  members: { total: number; active: number; suspended: number; closed: number }
  /** Accounts in the ledger (newer gateways); demo accounts may have no member record. */
  accounts?: number
  points: {
    issued: number
    redeemed: number
    expired: number
    outstanding: number
    held: number
    debt?: number
  }
  /** One entry per program (a gateway may send a single object: the client makes it a list). */
  liability: Liability[]
  tiers: { program: string; tier: string; name?: string; accounts: number }[]
}

export interface LiveSample {
  /** The second (ms since the epoch). */
  at: number
  ops: number
  p50Ms: number
  p99Ms: number
}

export interface LiveStats {
  status: 'ok'
  series: LiveSample[]
}

export interface RulesetInfo {
  version: number
  publishedAt: number
  note?: string
  active: boolean
}

export interface StoredRuleset extends RulesetInfo {
  doc: RulesetDoc
}

export interface RulesetError {
  path: string
  message: string
}

export interface Basket {
  lines: { sku: string; category?: string; quantity: number; unitPrice: number; discount?: number }[]
  store?: string
  channel?: Channel
  tender?: string
  promoCodes?: string[]
}

export interface PreviewRequest {
  ruleset?: RulesetDoc
  version?: number
  program: string
  basket: Basket
  member?: { tier?: string; facts?: MemberFacts; firstPurchase?: boolean }
  at?: number
}

export interface PreviewResult {
  status: 'ok'
  version: number | 'draft'
  tier: string
  points: number
  qualifyingPoints?: number
  spend?: number
  paid?: number
  breakdown: BreakdownLine[]
  campaigns: string[]
}

export interface Terminal {
  id: string
  name: string
  store?: string
  createdAt: number
  disabled: boolean
  /** Whether it has a WebSocket connection open now (newer gateways). */
  connected?: boolean
}

export interface IssuedTerminal {
  status: 'ok'
  terminal: Terminal
  secret: string
}

/** What an API token may do (`Authorization: Bearer <id>.<secret>`). */
export type TokenRole = 'processor' | 'partner' | 'admin'

/** An API token (`GET /v1/tokens`); its secret is never sent back. */
export interface ApiToken {
  id: string
  name: string
  role: TokenRole
  createdAt: number
  /** Revoked: requests with it are refused (401). */
  disabled: boolean
}

/** A token just issued: `secret` is the whole `<id>.<secret>` text, shown only in this reply. */
export interface IssuedToken {
  status: 'ok'
  token: ApiToken
  secret: string
}

export interface AuditRecord {
  at: number
  seq: number
  actor: { kind: string; id: string; from?: string }
  action: string
  target: string
  detail: Record<string, unknown>
}

export interface AuditPage {
  status: 'ok'
  records: AuditRecord[]
  next?: string
}

export interface AuditQuery {
  from?: string
  to?: string
  actor?: string
  action?: string
  target?: string
  order?: 'newest' | 'oldest'
  limit?: number
  cursor?: string
}

export interface MemberSearch {
  name?: string
  country?: string
  status?: MemberStatus
  joinedFrom?: string
  joinedTo?: string
  after?: string
  limit?: number
}
