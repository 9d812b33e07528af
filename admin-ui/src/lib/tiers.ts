/**
 * A member's way to the next tier: where its qualification value stands
 * between its tier's threshold and the next one's.
 *
 * @module
 */
import type { TierDoc } from './types.ts'

/** The ledger's "never expires" time (the largest Date). */
export const neverExpires = 8_640_000_000_000_000

export interface TierProgress {
  current: TierDoc | undefined
  next: TierDoc | undefined
  /** Qualification still needed for the next tier (0 at the top). */
  remaining: number
  /** 0 to 1 between the current tier's threshold and the next's (1 at the top). */
  fraction: number
}

export function tierProgress(tiers: readonly TierDoc[], tierId: string, qualification: number): TierProgress {
  const index = tiers.findIndex((tier) => tier.id === tierId)
  const current = index === -1 ? undefined : tiers[index]
  const next = index === -1 ? tiers.find((tier) => tier.threshold > qualification) : tiers[index + 1]
  if (next === undefined) return { current, next, remaining: 0, fraction: 1 }
  const floor = current?.threshold ?? 0
  const span = next.threshold - floor
  const fraction = span <= 0 ? 1 : Math.min(1, Math.max(0, (qualification - floor) / span))
  return { current, next, remaining: Math.max(0, next.threshold - qualification), fraction }
}
