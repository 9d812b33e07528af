/**
 * Checks of one account's journal beyond `accountProblems`: which entries
 * carry keys, the life of every hold (opened once, closed at most once, and
 * its closed record agreeing with the closing entry), the balance policy
 * (only a reversal may take the balance below zero), the running totals, and
 * every redemption ref's refunds (never more than was burned, each the share
 * the ledger's rule gives, and the stored burn record agreeing).
 *
 * @module
 */
import type { AccountState, BurnRecord, ClosedHold, Entry, IdemTerms } from '@loyalty/engine'

/** Entry kinds written by a command, which carry its idempotency key. */
export const keyedKinds: ReadonlySet<string> = new Set([
  'earn',
  'burn',
  'hold',
  'capture',
  'void',
  'adjust',
  'reverse',
  'refund',
])

const closedStateOf: Record<string, ClosedHold['state']> = {
  capture: 'captured',
  void: 'voided',
  release: 'expired',
}

/** The account's stored records the journal checks compare against. */
export interface JournalLookups {
  closedHold(hold: number): ClosedHold | undefined
  burn(ref: string): BurnRecord | undefined
  /** The idempotency terms of the command that wrote the entry carrying `key`. */
  terms(key: string): IdemTerms | undefined
}

export function journalProblems(
  account: AccountState,
  entries: Entry[],
  lookups: JournalLookups,
): string[] {
  const problems = [
    ...keyProblems(entries),
    ...holdProblems(account, entries, (hold) => lookups.closedHold(hold)),
    ...policyProblems(account, entries),
    ...totalProblems(account, entries),
    ...refundProblems(entries, lookups),
  ]
  return problems.map((p) => `${account.id}: ${p}`)
}

function keyProblems(entries: Entry[]): string[] {
  const problems: string[] = []
  for (const e of entries) {
    const keyed = keyedKinds.has(e.kind)
    if (keyed && e.key === undefined) problems.push(`entry ${e.seq} (${e.kind}) has no key`)
    if (!keyed && e.key !== undefined) problems.push(`entry ${e.seq} (${e.kind}) has key ${e.key}`)
  }
  return problems
}

function closes(e: Entry): boolean {
  if (e.kind === 'capture' || e.kind === 'void') return true
  return e.kind === 'release' && e.reason === 'hold_expired'
}

interface HoldLife {
  points: number
  closings: Entry[]
}

function holdLives(entries: Entry[], problems: string[]): Map<number, HoldLife> {
  const lives = new Map<number, HoldLife>()
  for (const e of entries) {
    if (e.kind === 'hold') {
      if (e.hold !== e.seq) problems.push(`hold entry ${e.seq} names hold ${e.hold}`)
      lives.set(e.seq, { points: e.held, closings: [] })
    } else if (closes(e)) {
      const life = e.hold === undefined ? undefined : lives.get(e.hold)
      if (life !== undefined) life.closings.push(e)
      else problems.push(`entry ${e.seq} (${e.kind}) closes unknown hold ${e.hold}`)
    }
  }
  return lives
}

function holdProblems(
  account: AccountState,
  entries: Entry[],
  closedHold: (hold: number) => ClosedHold | undefined,
): string[] {
  const problems: string[] = []
  const lives = holdLives(entries, problems)
  for (const open of account.holds) {
    if (!lives.has(open.id)) problems.push(`open hold ${open.id} has no hold entry`)
  }
  for (const [id, life] of lives) {
    const open = account.holds.find((h) => h.id === id)
    const closed = closedHold(id)
    if (open !== undefined) {
      if (life.closings.length > 0 || closed !== undefined) {
        problems.push(`hold ${id} is open but also closed`)
      }
      if (open.points !== life.points) problems.push(`open hold ${id} has ${open.points} points`)
      continue
    }
    problems.push(...closedHoldProblems(id, life, closed))
  }
  return problems
}

function closedHoldProblems(id: number, life: HoldLife, closed: ClosedHold | undefined): string[] {
  const closing = life.closings[0]
  if (closing === undefined) return [`hold ${id} is neither open nor closed by an entry`]
  if (life.closings.length > 1) return [`hold ${id} closed ${life.closings.length} times`]
  const state = closedStateOf[closing.kind]
  if (closed === undefined) return [`hold ${id} closed by entry ${closing.seq} has no record`]
  const problems: string[] = []
  if (closed.state !== state) {
    problems.push(`hold ${id} closed by ${closing.kind} is recorded as ${closed.state}`)
  }
  if (closed.points !== life.points) problems.push(`closed hold ${id} records ${closed.points}`)
  if (closing.kind === 'capture' && closed.captured !== -closing.held) {
    problems.push(`hold ${id}: captured ${closed.captured}, capture entry ${-closing.held}`)
  }
  return problems
}

/** Entries that give held points back (some may be of lots expired meanwhile). */
const releases = new Set(['void', 'release', 'capture'])

/**
 * Only a reversal may take the balance below zero; nothing but credits may
 * follow it there (a refund is one: it raises the balance by the points it
 * gives back, paying any debt first). Two exceptions, both expiries, which
 * only take lots away: held points whose lot expired meanwhile come back
 * with their release and then expire without paying debt, so that expiry
 * may take the balance back down, but never below where it was before the
 * release; and points earned while a return's claim on held points is owed
 * (earns do not pay a claim) may expire, but never take the balance below
 * minus the points held (a claim is at most its hold's points, and lots are
 * only left while there is no debt).
 */
function policyProblems(account: AccountState, entries: Entry[]): string[] {
  const problems: string[] = []
  let previous = 0
  let beforeRelease: number | undefined
  let held = 0
  let reversed = false
  for (const e of entries) {
    if (e.kind === 'reverse') reversed = true
    const expiredRelease = e.kind === 'expire' && beforeRelease !== undefined && e.balance >= beforeRelease
    held += e.held
    const expiredWhileClaimed = e.kind === 'expire' && e.balance >= -held
    const allowed = e.kind === 'reverse' || (previous < 0 && e.points >= 0) || expiredRelease || expiredWhileClaimed
    if (e.balance < 0 && !allowed) {
      problems.push(`entry ${e.seq} (${e.kind}, ${e.points}) took the balance to ${e.balance}`)
    }
    beforeRelease = releases.has(e.kind) ? previous : e.kind === 'expire' ? beforeRelease : undefined
    previous = e.balance
  }
  if (account.debt > 0 && !reversed) problems.push(`debt ${account.debt} without any reversal`)
  return problems
}

function totalProblems(account: AccountState, entries: Entry[]): string[] {
  let earned = 0
  let burned = 0
  let expired = 0
  for (const e of entries) {
    // An enrolment credits its welcome points in its own entry.
    if (e.kind === 'earn' || e.kind === 'enroll') earned += e.points
    else if (e.kind === 'burn') burned -= e.points
    // A refund gives burned points back: the account's burned figure goes down by them.
    else if (e.kind === 'refund') burned -= e.points
    else if (e.kind === 'capture') burned -= e.held
    // Points held for a transfer that expired before they reached the receiver leave the hold, not the balance.
    else if (e.kind === 'expire') expired -= e.points + e.held
  }
  const problems: string[] = []
  if (account.earned !== earned) problems.push(`earned ${account.earned}, journal ${earned}`)
  if (account.burned !== burned) problems.push(`burned ${account.burned}, journal ${burned}`)
  if (account.expired !== expired) problems.push(`expired ${account.expired}, journal ${expired}`)
  return problems
}

/** What a redemption ref stands at, replayed from the journal as the ledger keeps it. */
interface BurnTally {
  /** The first burn entry with the ref. */
  entry: number
  points: number
  /** The first non-zero amount a redemption on the ref gave. */
  amount: number
  refundedPoints: number
  refundedAmount: number
}

/** A burn or refund entry of a redemption ref: when, and how many points it burned or gave back. */
export interface RefEvent {
  kind: 'burn' | 'refund'
  at: number
  points: number
}

/** The burn and refund entries of each ref, in journal order. */
export function refEvents(entries: Entry[]): Map<string, RefEvent[]> {
  const refs = new Map<string, RefEvent[]>()
  for (const e of entries) {
    if ((e.kind !== 'burn' && e.kind !== 'refund') || e.ref === undefined) continue
    let events = refs.get(e.ref)
    if (events === undefined) refs.set(e.ref, (events = []))
    events.push({ kind: e.kind, at: e.at, points: Math.abs(e.points) })
  }
  return refs
}

/**
 * Why a refund refused with `status` at time `at` (its batch's clock, which
 * the entries of that batch share) should not have been, if that is certain
 * whatever the order within the batch: `transaction_not_found` though an
 * earlier batch burned for the ref; `reversal_exceeds_original` for points
 * (or all) though, counting every burn of an earlier batch and every refund
 * up to this batch, at least those points were left. Refusals by amount are
 * not judged (which amount counts depends on the order).
 */
export function wrongRefusal(
  events: RefEvent[] | undefined,
  terms: IdemTerms,
  status: string,
  at: number,
): string | undefined {
  let burned = 0
  let refunded = 0
  for (const e of events ?? []) {
    if (e.kind === 'burn' && e.at < at) burned += e.points
    if (e.kind === 'refund' && e.at <= at) refunded += e.points
  }
  if (status === 'transaction_not_found') {
    return burned > 0 ? `but ${burned} points were burned for the ref before` : undefined
  }
  const [, points, , , amount] = terms
  if (status !== 'reversal_exceeds_original' || amount !== null) return undefined
  const left = burned - refunded
  if (points === null ? left > 0 : points <= left) return `but at least ${left} points were left to refund`
  return undefined
}

/**
 * Every refund names a ref a redemption burned before it, gives back points
 * (never takes any), and the points it gave are what the ledger's rule gives
 * at that point: by amount the cumulative floor share less what was already
 * refunded, by points the points asked, with neither all that was left; so
 * the total refunded never exceeds what was burned. The stored burn record
 * of every burned ref agrees with the journal.
 */
function refundProblems(entries: Entry[], lookups: JournalLookups): string[] {
  const problems: string[] = []
  const tallies = new Map<string, BurnTally>()
  /** Refs whose amounts are unknown (a key without terms; reported by the verifier). */
  const inexact = new Set<string>()
  for (const e of entries) {
    if (e.kind !== 'burn' && e.kind !== 'refund') continue
    if (e.kind === 'refund') problems.push(...refundShapeProblems(e))
    const terms = e.key === undefined ? undefined : lookups.terms(e.key)
    if (terms !== undefined && terms[3] !== (e.ref ?? null)) {
      problems.push(`entry ${e.seq} (${e.kind}) has ref ${e.ref}, its command ${terms[3]}`)
    }
    if (e.ref === undefined) continue
    if (terms === undefined) inexact.add(e.ref)
    let tally = tallies.get(e.ref)
    if (e.kind === 'burn') {
      if (tally === undefined) {
        tally = { entry: e.seq, points: 0, amount: 0, refundedPoints: 0, refundedAmount: 0 }
        tallies.set(e.ref, tally)
      }
      tally.points -= e.points
      // Several redemptions on one ref: their amounts add up like their points.
      tally.amount += terms?.[4] ?? 0
      continue
    }
    if (tally === undefined) {
      problems.push(`refund entry ${e.seq} names ref ${e.ref}, which no earlier redemption burned`)
      continue
    }
    if (terms !== undefined && !inexact.has(e.ref)) {
      const due = refundDue(tally, terms)
      const said = `refund entry ${e.seq} of ${e.ref} gave ${e.points}`
      if (typeof due === 'string') problems.push(`${said}, but it should have been refused (${due})`)
      else if (due !== e.points) problems.push(`${said}, the rule gives ${due}`)
    }
    tally.refundedPoints += e.points
    tally.refundedAmount += terms?.[4] ?? 0
    if (tally.refundedPoints > tally.points) {
      problems.push(`ref ${e.ref}: refunded ${tally.refundedPoints} by entry ${e.seq}, but only ${tally.points} were burned`)
    }
    if (tally.amount > 0 && tally.refundedAmount > tally.amount) {
      problems.push(`ref ${e.ref}: refunded amount ${tally.refundedAmount} by entry ${e.seq}, but only ${tally.amount} was paid`)
    }
  }
  for (const [ref, tally] of tallies) {
    problems.push(...burnRecordProblems(ref, tally, lookups.burn(ref), !inexact.has(ref)))
  }
  return problems
}

function refundShapeProblems(e: Entry): string[] {
  const problems: string[] = []
  if (e.ref === undefined) problems.push(`refund entry ${e.seq} has no ref`)
  if (!(e.points >= 0)) problems.push(`refund entry ${e.seq} takes ${-e.points} points`)
  if (e.held !== 0) problems.push(`refund entry ${e.seq} changes held points by ${e.held}`)
  return problems
}

/** The points a refund with these terms gives back from `tally`, or why it is refused. */
function refundDue(tally: BurnTally, terms: IdemTerms): number | string {
  const [, points, , , amount] = terms
  const left = tally.points - tally.refundedPoints
  if (amount !== null) {
    if (tally.amount === 0) return 'invalid_request: the redemption has no amount'
    const returned = tally.refundedAmount + amount
    if (returned > tally.amount) return 'reversal_exceeds_original'
    const due = Number((BigInt(tally.points) * BigInt(returned)) / BigInt(tally.amount)) - tally.refundedPoints
    return Math.max(0, Math.min(due, left))
  }
  const asked = points ?? left
  if (asked <= 0 || asked > left) return 'reversal_exceeds_original'
  return asked
}

function burnRecordProblems(
  ref: string,
  tally: BurnTally,
  record: BurnRecord | undefined,
  exact: boolean,
): string[] {
  const where = `ref ${ref}`
  if (record === undefined) return [`${where}: burned by entry ${tally.entry}, but no burn record is stored`]
  const problems: string[] = []
  const expect = (name: string, stored: unknown, journal: unknown) => {
    if (stored !== journal) problems.push(`${where}: burn record ${name} ${stored}, journal ${journal}`)
  }
  expect('ref', record.ref, ref)
  expect('entry', record.entry, tally.entry)
  expect('points', record.points, tally.points)
  expect('refundedPoints', record.refundedPoints, tally.refundedPoints)
  if (exact) {
    expect('amount', record.amount, tally.amount)
    expect('refundedAmount', record.refundedAmount, tally.refundedAmount)
  }
  if (record.refundedPoints > record.points) {
    problems.push(`${where}: burn record refunded ${record.refundedPoints} of ${record.points} burned`)
  }
  const sliced = record.slices.reduce((sum, s) => sum + s.points, 0)
  if (sliced !== record.points - record.refundedPoints) {
    problems.push(`${where}: burn record slices hold ${sliced}, ${record.points - record.refundedPoints} not yet refunded`)
  }
  if (record.slices.some((s) => !(s.points > 0))) problems.push(`${where}: burn record has an empty slice`)
  return problems
}
