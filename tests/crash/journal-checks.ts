/**
 * Checks of one account's journal beyond `accountProblems`: which entries
 * carry keys, the life of every hold (opened once, closed at most once, and
 * its closed record agreeing with the closing entry), the balance policy
 * (only a reversal may take the balance below zero) and the running totals.
 *
 * @module
 */
import type { AccountState, ClosedHold, Entry } from '@loyalty/engine'

/** Entry kinds written by a command, which carry its idempotency key. */
export const keyedKinds: ReadonlySet<string> = new Set([
  'earn',
  'burn',
  'hold',
  'capture',
  'void',
  'adjust',
  'reverse',
])

const closedStateOf: Record<string, ClosedHold['state']> = {
  capture: 'captured',
  void: 'voided',
  release: 'expired',
}

export function journalProblems(
  account: AccountState,
  entries: Entry[],
  closedHold: (hold: number) => ClosedHold | undefined,
): string[] {
  const problems = [
    ...keyProblems(entries),
    ...holdProblems(account, entries, closedHold),
    ...policyProblems(account, entries),
    ...totalProblems(account, entries),
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

/** Only a reversal may take the balance below zero; nothing but credits may follow it there. */
function policyProblems(account: AccountState, entries: Entry[]): string[] {
  const problems: string[] = []
  let previous = 0
  let reversed = false
  for (const e of entries) {
    if (e.kind === 'reverse') reversed = true
    const allowed = e.kind === 'reverse' || (previous < 0 && e.points >= 0)
    if (e.balance < 0 && !allowed) {
      problems.push(`entry ${e.seq} (${e.kind}, ${e.points}) took the balance to ${e.balance}`)
    }
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
    if (e.kind === 'earn') earned += e.points
    else if (e.kind === 'burn') burned -= e.points
    else if (e.kind === 'capture') burned -= e.held
    else if (e.kind === 'expire') expired -= e.points
  }
  const problems: string[] = []
  if (account.earned !== earned) problems.push(`earned ${account.earned}, journal ${earned}`)
  if (account.burned !== burned) problems.push(`burned ${account.burned}, journal ${burned}`)
  if (account.expired !== expired) problems.push(`expired ${account.expired}, journal ${expired}`)
  return problems
}
