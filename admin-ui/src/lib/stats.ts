/**
 * Dashboard figures from `GET /v1/stats`: the liability per currency and the
 * accounts per tier in each program's tier order.
 *
 * @module
 */
import type { ProgramDoc, Stats } from './types.ts'

/** Liability summed by currency: programs in one currency add up, others stay apart. */
export function liabilityByCurrency(stats: Stats) {
  const sums = new Map<string, { money: number; points: number }>()
  for (const row of stats.liability) {
    const sum = sums.get(row.currency) ?? { money: 0, points: 0 }
    sums.set(row.currency, { money: sum.money + row.money, points: sum.points + row.points })
  }
  return [...sums.entries()].map(([currency, sum]) => ({ currency, ...sum }))
}

/**
 * Accounts per tier, lowest tier first. With the live ruleset at hand every
 * tier shows, empty ones too; tiers it no longer has (members not yet
 * reviewed after a change) come last.
 */
export function tierRows(stats: Stats, programs: readonly ProgramDoc[] | undefined, program: string) {
  const counted = stats.tiers.filter((row) => row.program === program)
  const doc = programs?.find((p) => p.id === program)
  if (doc === undefined) return counted.map((row) => ({ label: row.name ?? row.tier, value: row.accounts }))
  const known = doc.tiers.map((tier) => ({
    label: tier.name,
    value: counted.find((row) => row.tier === tier.id)?.accounts ?? 0,
  }))
  const others = counted
    .filter((row) => !doc.tiers.some((tier) => tier.id === row.tier))
    .map((row) => ({ label: row.name ?? row.tier, value: row.accounts }))
  return [...known, ...others]
}

