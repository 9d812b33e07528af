/**
 * A shard's running totals: how many accounts it holds, the points they have
 * earned, burned and lost to expiry, what is still outstanding (the
 * program's liability) and how many accounts sit in each tier. The shard
 * keeps them current batch by batch, from each changed account's figures
 * before and after, and writes them with the batch, so reading them never
 * means scanning a million accounts.
 *
 * @module
 */
import { claimedPoints, heldPoints } from './account.ts'
import type { AccountState } from './types.ts'

export interface ShardTotals {
  accounts: number
  earned: number
  burned: number
  expired: number
  /** Points in lots (spendable or pending) plus points held, less debt: the liability. */
  outstanding: number
  /** Points reserved by open holds. */
  held: number
  /** Points owed by accounts after reversals of spent points, and claimed by returns from open holds. */
  debt: number
  /** Accounts per `program/tier`. */
  tiers: Record<string, number>
  /** Outstanding points per program (its liability, at the program's point value). */
  programs: Record<string, number>
}

/** What one account adds to the totals. */
export interface AccountFigures {
  earned: number
  burned: number
  expired: number
  lots: number
  held: number
  debt: number
  /** `program/tier`, once the account has joined a program. */
  tier: string | undefined
  program: string | undefined
}

export function emptyTotals(): ShardTotals {
  return {
    accounts: 0, earned: 0, burned: 0, expired: 0, outstanding: 0, held: 0, debt: 0, tiers: {}, programs: {},
  }
}

export function figuresOf(account: AccountState): AccountFigures {
  let lots = 0
  for (const lot of account.lots) lots += lot.points
  const held = heldPoints(account)
  const debt = account.debt + claimedPoints(account)
  const program = account.program
  return {
    earned: account.earned,
    burned: account.burned,
    expired: account.expired,
    lots,
    held,
    debt,
    tier: program === undefined ? undefined : `${program.id}/${program.tier}`,
    program: program?.id,
  }
}

/** A copy to change, leaving `totals` as it was. */
export function copyTotals(totals: ShardTotals): ShardTotals {
  return { ...totals, tiers: { ...totals.tiers }, programs: { ...totals.programs } }
}

/** Brings `totals` up to date, in place, with one account going from `before` (undefined: new) to `after`. */
export function applyChange(totals: ShardTotals, before: AccountFigures | undefined, after: AccountFigures) {
  addFigures(totals, after, 1)
  if (before === undefined) totals.accounts += 1
  else addFigures(totals, before, -1)
}

/** The totals of a set of accounts, counted from scratch (for a store written before totals existed). */
export function totalsOf(accounts: Iterable<AccountState>): ShardTotals {
  const totals = emptyTotals()
  for (const account of accounts) {
    addFigures(totals, figuresOf(account), 1)
    totals.accounts += 1
  }
  return totals
}

/** The sum of several shards' totals. */
export function sumTotals(parts: readonly ShardTotals[]): ShardTotals {
  const sum = emptyTotals()
  for (const part of parts) {
    sum.accounts += part.accounts
    sum.earned += part.earned
    sum.burned += part.burned
    sum.expired += part.expired
    sum.outstanding += part.outstanding
    sum.held += part.held
    sum.debt += part.debt
    for (const [tier, count] of Object.entries(part.tiers)) sum.tiers[tier] = (sum.tiers[tier] ?? 0) + count
    for (const [program, points] of Object.entries(part.programs)) {
      sum.programs[program] = (sum.programs[program] ?? 0) + points
    }
  }
  return sum
}

function addFigures(totals: ShardTotals, figures: AccountFigures, sign: 1 | -1) {
  totals.earned += sign * figures.earned
  totals.burned += sign * figures.burned
  totals.expired += sign * figures.expired
  const outstanding = figures.lots + figures.held - figures.debt
  totals.outstanding += sign * outstanding
  if (figures.program !== undefined) {
    const points = (totals.programs[figures.program] ?? 0) + sign * outstanding
    totals.programs[figures.program] = points
  }
  totals.held += sign * figures.held
  totals.debt += sign * figures.debt
  if (figures.tier !== undefined) {
    const count = (totals.tiers[figures.tier] ?? 0) + sign
    if (count === 0) delete totals.tiers[figures.tier]
    else totals.tiers[figures.tier] = count
  }
}
