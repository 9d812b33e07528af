/**
 * The ledger's invariants, checked against an account and its full journal.
 * Used by tests, the crash test and `audit`; returns problems rather than
 * throwing so a caller can report every one of them.
 *
 * @module
 */
import { heldPoints, ledgerBalance } from './account.ts'
import type { AccountState, Entry } from './types.ts'

/**
 * Lists every way an account disagrees with its journal: the balance equals
 * the sum of lot remainders less debt and the sum of journal changes, held
 * points equal open holds, lots are positive and in burn order, lapsed
 * points are positive, in date order and no more than ever expired, the
 * journal is dense, and no hold was closed twice.
 *
 * @example
 *   expect(accountProblems(account, entries)).toEqual([])
 */
export function accountProblems(account: AccountState, entries: Entry[]): string[] {
  const problems: string[] = []
  const say = (text: string) => problems.push(`${account.id}: ${text}`)
  let points = 0
  let held = 0
  entries.forEach((entry, index) => {
    if (entry.seq !== index + 1) say(`entry ${index + 1} has seq ${entry.seq}`)
    points += entry.points
    held += entry.held
    if (entry.balance !== points) say(`entry ${entry.seq} says balance ${entry.balance}, journal sums to ${points}`)
  })
  if (account.seq !== entries.length) say(`seq ${account.seq} but ${entries.length} entries`)
  if (points !== ledgerBalance(account)) say(`journal sums to ${points}, lots less debt to ${ledgerBalance(account)}`)
  const openHeld = heldPoints(account)
  if (held !== openHeld) say(`journal holds ${held}, open holds ${openHeld}`)
  for (const hold of account.holds) {
    const sliced = hold.slices.reduce((sum, s) => sum + s.points, 0)
    const claimed = hold.claimed ?? 0
    if (sliced + claimed !== hold.points) say(`hold ${hold.id} has ${hold.points} points but slices of ${sliced} and ${claimed} claimed`)
    if (!(claimed >= 0) || !Number.isSafeInteger(claimed)) say(`hold ${hold.id} has ${claimed} claimed`)
    if (hold.slices.some((s) => !(s.points > 0))) say(`hold ${hold.id} has an empty slice`)
  }
  if (account.debt < 0) say(`negative debt ${account.debt}`)
  if (account.debt > 0 && account.lots.length > 0) say('debt while lots remain')
  account.lots.forEach((lot, i) => {
    if (!(lot.points > 0) || !Number.isSafeInteger(lot.points)) say(`lot ${lot.id} holds ${lot.points}`)
    const next = account.lots[i + 1]
    if (next !== undefined && next.expiresAt < lot.expiresAt) say(`lots out of expiry order at ${lot.id}`)
  })
  const lapsed = account.lapsed ?? []
  lapsed.forEach(([activeFrom, expiresAt, left], i) => {
    if (!(left > 0) || !Number.isSafeInteger(left)) say(`lapsed points of ${expiresAt} are ${left}`)
    const next = lapsed[i + 1]
    if (next !== undefined && (next[1] < expiresAt || (next[1] === expiresAt && next[0] <= activeFrom))) {
      say(`lapsed points out of order at ${expiresAt}`)
    }
  })
  const lapsedSum = lapsed.reduce((sum, [, , left]) => sum + left, 0)
  if (lapsedSum > account.expired) say(`${lapsedSum} lapsed points but only ${account.expired} ever expired`)
  problems.push(...closedTwice(account, entries))
  return problems
}

function closedTwice(account: AccountState, entries: Entry[]): string[] {
  const closings = new Map<number, number>()
  for (const entry of entries) {
    const closes = entry.kind === 'capture' || entry.kind === 'void' || (entry.kind === 'release' && entry.reason === 'hold_expired')
    if (closes && entry.hold !== undefined) closings.set(entry.hold, (closings.get(entry.hold) ?? 0) + 1)
  }
  return [...closings].filter(([, n]) => n > 1).map(([hold, n]) => `${account.id}: hold ${hold} closed ${n} times`)
}
