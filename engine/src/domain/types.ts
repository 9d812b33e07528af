/**
 * The ledger's vocabulary: commands in, replies out, and the records a shard
 * keeps. Every amount is an integer number of points (or money minor units);
 * every time is milliseconds since the Unix epoch.
 *
 * @module
 */
import type { StatusName } from '@loyalty/proto'
import type { Basket, BreakdownLine, MemberFacts } from '../rules/types.ts'

/** Lots that never expire carry this expiry (the largest valid Date). */
export const neverExpires = 8_640_000_000_000_000

/** Where a command came from; recorded on the journal entry it produces. */
export interface Source {
  terminal?: string
  store?: string
  channel?: string
  operator?: string
  /** The API token a processor or partner sent the command with (set by the gateway, not claimed). */
  via?: string
}

interface CommandBase {
  /** The account (the actor) the command runs on. */
  account: string
  /** Idempotency key, unique per account. */
  key: string
  source?: Source
  /**
   * Internal, set by the engine (callers' commands may not carry it): only a
   * replay of this command stored under this key; with none stored, or one
   * of another operation (for a capture or void, also of another hold),
   * `transaction_not_found` and nothing is written.
   */
  replayOnly?: true
  /**
   * Internal, set by the engine on a transfer saga's steps (callers' commands
   * may not carry it): a credit (`earn`) or the `reverse` that takes one back
   * is taken on an account whose points are moving (`MoveCommand`), which
   * refuses a caller's.
   */
  transferStep?: true
}

/** Credit points as a new lot. */
export interface EarnCommand extends CommandBase {
  op: 'earn'
  points: number
  /** When the points expire; omitted means never. */
  expiresAt?: number
  /** Points are pending (not spendable) until this time. */
  activeFrom?: number
  /** The purchase this earn belongs to, for later reversals; defaults to `key`. */
  ref?: string
  /** The money amount (minor units) the points were earned on, for proportional reversal. */
  amount?: number
  reason?: string
}

/** Reserve points for a later capture or void. */
export interface AuthorizeCommand extends CommandBase {
  op: 'authorize'
  points: number
  /** How long the hold lasts before it is released by itself. */
  timeoutMs?: number
  /** Internal, set by the engine for a transfer saga's hold: no member's capture or void settles it. */
  forTransfer?: true
  /**
   * Internal, set by the engine: the household link or merge (`MoveCommand`)
   * this hold moves the points for. While an account's points are moving,
   * only that move's own holds are taken.
   */
  move?: string
}

/** Fields the engine sets on a capture or void (callers' commands may not carry them). */
interface HoldInternals {
  /**
   * Internal: only a hold household member `holdOf` took (its
   * authorization's key carries the member's scope) is found; any other
   * answers `hold_not_found`.
   */
  holdOf?: string
  /** Internal: a member's capture or void (a till's, a caller's), which never settles a transfer's hold. */
  byMember?: true
}

/** Burn all or part of a hold; the rest goes back to the balance. */
export interface CaptureCommand extends CommandBase, HoldInternals {
  op: 'capture'
  hold: number
  /** Points to burn; omitted means the whole hold. */
  points?: number
  /**
   * Internal, set by the engine on a transfer saga's capture of its whole
   * hold: the held lots whose date came before they could be credited to the
   * receiver (they were not). Their points expired in transit: the capture
   * counts them as expired, not burned (and keeps them as lapsed, by their
   * terms, as expiry on the account would have).
   */
  expiredInTransit?: HeldLot[]
}

/** Release a hold in full. */
export interface VoidCommand extends CommandBase, HoldInternals {
  op: 'void'
  hold: number
}

/** Burn points in one step. */
export interface RedeemCommand extends CommandBase {
  op: 'redeem'
  points: number
  /** The purchase paid with the points; a later `refund` names it. */
  ref?: string
  /** The money (minor units) the points paid for, for proportional refunds. */
  amount?: number
}

/**
 * Give back points burned by an earlier redemption (a returned purchase paid
 * with points). Give `amount` (money returned, for a proportional share), or
 * `points`, or neither (all not yet refunded). The points return to the lots
 * they came from, with their dates: points whose lot has expired since expire
 * again at once.
 */
export interface RefundCommand extends CommandBase {
  op: 'refund'
  ref: string
  amount?: number
  points?: number
  reason?: string
  /** Internal, set by the engine: as a reverse's `settleWith`. */
  settleWith?: string
}

/**
 * Claw back a share of an earlier earn (a returned item). Give `amount` (money
 * returned, for a proportional share), or `points`, or neither (all that is left).
 */
export interface ReverseCommand extends CommandBase {
  op: 'reverse'
  ref: string
  amount?: number
  points?: number
  /**
   * The basket lines returned, by SKU and units (a purchase's own lines,
   * earliest first where a SKU is on several): takes back the points the
   * purchase attributed to them. One of `amount`, `points` or `lines`.
   */
  lines?: ReturnLine[]
  /** Internal, set by the engine (callers' commands may not carry it): the reply lists the earn's lot terms (`origins`). */
  withOrigins?: true
  /**
   * Internal, set by the engine: the return is recorded here but its points
   * are on account `settleWith` (a household's pool, a merged-into member),
   * which the engine settles with. The shortfall is owed (`debt`) whatever
   * the caller's `shortfall` and the program's policy (which stay the terms
   * a replay compares), and the reply names the account (`settledWith`), so
   * that a retry settles with the same one.
   */
  settleWith?: string
  /**
   * Internal, set by the engine: not a return but its write-off on another
   * account. A purchase recorded on one account (a household member's from
   * before it joined, a merged duplicate's) whose points moved to this one
   * and expired here: up to `points` of the points that lapsed here from
   * lots with these terms are written off, for the return on the other
   * account not to take them as spent.
   */
  lapsedOf?: LotTerms[]
  /**
   * What to do when the points were already spent: `debt` (default) takes the
   * balance below zero, so later earns pay it back; `clamp` takes only what is
   * left and forgives the rest (reported as `shortfall`).
   */
  shortfall?: ShortfallPolicy
}

export type ShortfallPolicy = 'debt' | 'clamp'

/** Held points of one lot (`Reply.heldLots`): its expiry and, for points that expire, its start. */
export interface HeldLot {
  points: number
  expiresAt: number
  activeFrom?: number
}

/** Units of one SKU returned. */
export interface ReturnLine {
  sku: string
  quantity: number
}

/** A signed manual correction with a reason. */
export interface AdjustCommand extends CommandBase {
  op: 'adjust'
  points: number
  reason: string
  expiresAt?: number
  activeFrom?: number
}

/** Join a program: the first tier (and its bonus), registration and referral rewards. */
export interface EnrollCommand extends CommandBase {
  op: 'enroll'
  program: string
  member?: MemberFacts
  /** The account that referred this member; it gets its `referral_referrer` reward. */
  referredBy?: string
}

/** A purchase: the program's rules turn the basket into points. */
export interface PurchaseCommand extends CommandBase {
  op: 'purchase'
  basket: Basket
  /** The purchase id returns refer to; defaults to `key`. */
  ref?: string
}

/** An activity event: a custom one (`newsletter_signup`) or `referral_referrer`. */
export interface ActivityCommand extends CommandBase {
  op: 'activity'
  event: string
}

/** Replace the member facts rules look at (segments, country, birth date...). */
export interface ProfileCommand extends CommandBase {
  op: 'profile'
  member: MemberFacts
}

/**
 * Internal, set by the engine (no caller's command may carry it): a
 * household link or a merge (`move`, its saga's id) starts or ends moving
 * the account's points to another account. `begin` marks the account as
 * moving, in the same step that checks nothing is held, owed or pending
 * (refused otherwise, naming which); while it is marked, authorizations
 * other than the move's own are refused, and so is any other command that
 * could leave points held, owed or pending there, or credit points the move
 * may no longer carry (see `refusedWhileMoving` in the ledger). `end` clears
 * the mark. Both are
 * idempotent: a `begin` of the move already marked, or an `end` of a move
 * not (or no longer) marked, changes nothing and answers `ok`.
 */
export interface MoveCommand {
  op: 'move'
  account: string
  move: string
  step: 'begin' | 'end'
}

/** The points ledger's own commands, which need no program. */
export type PointsCommand =
  | EarnCommand
  | AuthorizeCommand
  | CaptureCommand
  | VoidCommand
  | RedeemCommand
  | ReverseCommand
  | AdjustCommand

/** Mutating commands: each carries an idempotency key. */
export type LedgerCommand =
  | PointsCommand
  | RefundCommand
  | EnrollCommand
  | PurchaseCommand
  | ActivityCommand
  | ProfileCommand

/** Apply due expiries (lots and holds) to one account now. */
export interface ExpireCommand {
  op: 'expire'
  account: string
}

export interface BalanceQuery {
  op: 'balance'
  account: string
}

/** Journal entries newest first; `before` is the `next` cursor of the previous page. */
export interface HistoryQuery {
  op: 'history'
  account: string
  before?: number
  limit?: number
}

/** What a basket would earn this member now, with nothing changed. */
export interface PreviewQuery {
  op: 'preview'
  account: string
  basket: Basket
}

/** The member's program, tier, qualification and the facts rules see. */
export interface MemberQuery {
  op: 'member'
  account: string
}

/** The account's lots (with their dates), open holds and debt: what makes up the balance. */
export interface LotsQuery {
  op: 'lots'
  account: string
}

/** Commands of the points ledger alone (what the reference model covers). */
export type PointsLedgerCommand = PointsCommand | ExpireCommand | BalanceQuery | HistoryQuery

export type Command =
  | LedgerCommand
  | MoveCommand
  | ExpireCommand
  | BalanceQuery
  | HistoryQuery
  | PreviewQuery
  | MemberQuery
  | LotsQuery
export type Operation = Command['op']

export interface Balance {
  /** Spendable now; negative when the account owes points after a reversal. */
  available: number
  /** Credited but locked until their `activeFrom`. */
  pending: number
  /** Reserved by open holds. */
  held: number
}

export interface Reply {
  status: StatusName
  /** With `invalid_request`: the path of the offending field. */
  field?: string
  message?: string
  /** The journal entry the command produced (its sequence number). */
  entry?: number
  /** With authorize: the hold id to capture or void. */
  hold?: number
  /** Points actually moved by the command. */
  points?: number
  /** With `reverse` under the clamp policy: points forgiven because they were spent. */
  shortfall?: number
  /**
   * With `reverse`: points of the returned share that had already expired
   * unspent. They are not taken again (from other lots, or as debt): they are
   * gone, and the member never had the use of them.
   */
  lapsed?: number
  balance?: Balance
  entries?: Entry[]
  /** With history: the cursor for the next (older) page, absent on the last page. */
  next?: number
  /** With purchase, enroll, activity and preview: which rule gave how many points. */
  breakdown?: BreakdownLine[]
  /** The member's tier after the command (program commands). */
  tier?: string
  /** With `member`: program membership details. */
  membership?: Membership
  /** The ruleset version that evaluated the command. */
  rulesetVersion?: number
  /** With the gateway's lookup and join: the member. */
  member?: MemberSummary
  /** With transfer: the saga and how it ended. */
  transfer?: { id: string; state: string; from: string; to: string; points: number }
  /** Internal: with a reverse asked `withOrigins`, the lot terms of the earns on its ref. */
  origins?: LotTerms[]
  /** Internal: the account a return or refund asked `settleWith` is settled with (stored, so replays say it too). */
  settledWith?: string
  /** With `lots`: the lots with points left, soonest expiry first. */
  lots?: { points: number; activeFrom: number; expiresAt: number }[]
  /**
   * With `authorize`, when some of the held points expire: the held points by
   * expiry date (never-expiring ones at `neverExpires`), soonest first.
   */
  heldLots?: HeldLot[]
  /** With `lots`: the open holds. */
  holds?: { hold: number; points: number; expiresAt: number; claimed?: number }[]
  /** With `lots`: points owed after reversals of spent points. */
  debt?: number
  /** With a `move` refused because another one is under way: that household link or merge. */
  moving?: string
}

export interface MemberSummary {
  id: string
  account: string
  program: string
  firstName?: string
  lastName?: string
  status: 'active' | 'suspended' | 'closed'
  redemptionAllowed: boolean
}

export interface Membership {
  program: string
  tier: string
  enrolledAt: number
  /** Qualification value in the current period (points, spend or balance, per the program). */
  qualification: number
  /** Next tier review (downgrade check). */
  reviewAt: number
  member: MemberFacts
  purchases: number
}

export type EntryKind =
  | 'earn'
  | 'burn'
  | 'hold'
  | 'capture'
  | 'release'
  | 'void'
  | 'expire'
  | 'adjust'
  | 'reverse'
  | 'refund'
  | 'tier'
  | 'enroll'
  | 'profile'

/** An immutable journal line. `points` and `held` are the changes it made. */
export interface Entry {
  seq: number
  kind: EntryKind
  at: number
  /** Change to the balance (available + pending - debt). */
  points: number
  /** Change to the points reserved by holds. */
  held: number
  /** Balance after the entry. */
  balance: number
  key?: string
  ref?: string
  hold?: number
  reason?: string
  expiresAt?: number
  source?: Source
  rulesetVersion?: number
  /** With program earns: which rule gave how many points. */
  breakdown?: BreakdownLine[]
  /** With `tier` entries: the tier before and after. */
  tierFrom?: string
  tierTo?: string
  /** With `reverse` entries: points of the share that had expired unspent, so not taken (see `Reply.lapsed`). */
  lapsed?: number
}

/** A credit with its remaining points. Burns take soonest-expiring lots first. */
export interface Lot {
  id: number
  points: number
  activeFrom: number
  expiresAt: number
}

/** Points a hold took from one lot, returned to that lot if released. */
export interface LotSlice {
  lot: number
  points: number
  activeFrom: number
  expiresAt: number
}

export interface OpenHold {
  id: number
  points: number
  expiresAt: number
  /** The held points by lot that are still the member's: they add up to `points` less `claimed`. */
  slices: LotSlice[]
  /**
   * Points of the hold a return has taken back while they were held (at
   * most `points`; absent for none), out of `slices`. They stay held, so the
   * hold can still be captured in full, but they are no longer the
   * member's: a release gives back only the slices, and a capture that
   * spends them takes as many from the member's other points, or as debt.
   */
  claimed?: number
  /** A transfer saga's hold: only the saga captures or voids it (absent for a member's). */
  forTransfer?: true
}

export type ClosedHoldState = 'captured' | 'voided' | 'expired'

/** A hold after its one and only closing transition. */
export interface ClosedHold {
  id: number
  state: ClosedHoldState
  points: number
  captured: number
  closedAt: number
  /** The hold's deadline (absent from holds closed before it was recorded). */
  expiresAt?: number
}

/** The actor's state: one record per account. */
export interface AccountState {
  id: string
  /** Sequence number of the newest journal entry. */
  seq: number
  createdAt: number
  /** Sorted by (expiresAt, activeFrom, id). */
  lots: Lot[]
  holds: OpenHold[]
  /** Points owed after reversals of spent points; lots are empty while it is positive. */
  debt: number
  earned: number
  burned: number
  expired: number
  /** Present once the account has joined a program. */
  program?: ProgramState
  /**
   * When the account's timer is due. While this is in the future a timer at
   * it is stored, and nothing of the account falls due before it (timers set
   * earlier for later times may be stored too; they find nothing due). Absent
   * when no timer is known: nothing was due, or the account was last written
   * by data format 3, which kept a timer for each lot date, hold and review.
   */
  wakeAt?: number
  /**
   * Points that expired unspent, by the terms of the lot they expired from
   * (oldest date first), that no return has yet accounted for: a return of
   * an earn whose lot has expired writes its share off against its lot's
   * instead of taking it from the member's other points or as debt. Kept for
   * `lapsedKeptMs` after the date, at most `lapsedKept` lots; absent when none.
   */
  lapsed?: LapsedPoints[]
  /**
   * The household link or merge moving this account's points elsewhere
   * (`MoveCommand`): while set, no authorization but the move's own is
   * taken, nor any command that would credit it or leave points owed or
   * pending (see `refusedWhileMoving`). Absent when none.
   */
  moving?: string
}

/** A lot's terms: when its points start and when they expire. */
export type LotTerms = [activeFrom: number, expiresAt: number]

/** Points that expired unspent from lots with these terms. */
export type LapsedPoints = [activeFrom: number, expiresAt: number, points: number]

/** An account's standing in its program. */
export interface ProgramState {
  id: string
  tier: string
  enrolledAt: number
  member: MemberFacts
  purchases: number
  /** Qualifying points and spend per local day: [day index, points, spend], oldest first. */
  qualifying: [day: number, points: number, spend: number][]
  /** Per-member counters of caps and limits: key → [period, used]. */
  usage: Record<string, [number, number]>
  /** When the tier is next reviewed. */
  reviewAt: number
  /** When the next birthday reward is due, if the member gave a birth date. */
  birthdayAt?: number
}

/** A redemption with a `ref`: what it burned from which lots, and how much was refunded. */
export interface BurnRecord {
  ref: string
  entry: number
  points: number
  amount: number
  /** The lots the points came from, still to refund, in the order they were taken. */
  slices: LotSlice[]
  refundedPoints: number
  refundedAmount: number
}

/** The earn a reversal refers to, with how much was already taken back. */
export interface TxnRecord {
  ref: string
  entry: number
  points: number
  amount: number
  activeFrom: number
  expiresAt: number
  reversedPoints: number
  returnedAmount: number
  /** With program purchases: the local day it qualified on, and what it qualified with. */
  day?: number
  qualifyingPoints?: number
  spend?: number
  /**
   * With program purchases: how much of `qualifyingPoints` and `spend` returns
   * have taken out of qualification so far (a cumulative share, so that a
   * purchase returned whole, in one go or in parts, leaves none behind).
   * Absent on records written before they were kept: then taken to be the
   * share of what had been returned by then.
   */
  qualifyingReturned?: number
  spendReturned?: number
  /**
   * With program purchases: the tier bonuses the purchase paid by lifting the
   * member to a tier. A return that takes qualification back below a tier's
   * threshold claws its bonus back once (`clawedBack`).
   */
  tierBonuses?: TierBonusPaid[]
  /**
   * With purchases: each basket line, in basket order, with the points the
   * rules attributed to it, what it paid and its eligible spend, and how many
   * of its units returns by line have taken. The purchase's other points
   * (activities, bonus earns on its ref) go back with its last
   * unit. A purchase is returned either by lines or by amount and points,
   * not both. Absent on purchases recorded before lines were kept.
   */
  lines?: TxnLine[]
  /**
   * The lot terms of later earns on the ref that differ from the first's
   * (`activeFrom`, `expiresAt`), at most `txnTermsMax`: a return writes off
   * their lapsed points too.
   */
  moreTerms?: LotTerms[]
}

/**
 * A purchase's basket line as a return by line sees it: its units, the
 * points attributed to it, what it paid, its eligible spend (0 when the
 * program excludes it), and the units returned so far.
 */
export type TxnLine = [sku: string, quantity: number, points: number, paid: number, spend: number, returned: number]

/** A tier bonus a purchase paid, and whether a return has clawed it back. */
export interface TierBonusPaid {
  tier: string
  points: number
  /** The tier's threshold when the bonus was paid: qualification below it claws the bonus back. */
  threshold: number
  clawedBack?: true
}

/** What an idempotency key was used for, and the reply it got. */
export interface IdemRecord {
  terms: IdemTerms
  reply: Reply
  at: number
  /**
   * The reply's breakdown is not stored here but rebuilt from the journal
   * entries the command wrote (they carry its key), so it is kept once.
   */
  breakdownInJournal?: true
}

/** The fields compared on a replay, in the order their mismatch is reported. */
export type IdemTerms = [
  op: string,
  points: number | null,
  hold: number | null,
  ref: string | null,
  amount: number | null,
  payload: string,
]

/** Engine-wide settings a shard applies to every command. */
export interface LedgerConfig {
  holdTimeoutMsDefault: number
  holdTimeoutMsMax: number
  shortfallPolicyDefault: ShortfallPolicy
  historyLimitMax: number
  idempotencyWindowMs: number
}

export const ledgerConfigDefault: LedgerConfig = {
  holdTimeoutMsDefault: 15 * 60_000,
  holdTimeoutMsMax: 7 * 24 * 3_600_000,
  shortfallPolicyDefault: 'debt',
  historyLimitMax: 100,
  idempotencyWindowMs: 7 * 24 * 3_600_000,
}
