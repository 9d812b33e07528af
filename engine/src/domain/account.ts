/**
 * Lot arithmetic on one account. The balance is always the sum of lot
 * remainders minus debt; every function here keeps that true and keeps lots
 * sorted soonest-expiry first, which is the order burns consume them in.
 *
 * These functions mutate the account they are given: the ledger calls them
 * only after every check that could fail has passed.
 *
 * @module
 */
import assert from './assert.ts'
import { neverExpires, type AccountState, type Balance, type LapsedPoints, type Lot, type LotSlice, type LotTerms, type OpenHold } from './types.ts'

export function createAccount(id: string, now: number): AccountState {
  return { id, seq: 0, createdAt: now, lots: [], holds: [], debt: 0, earned: 0, burned: 0, expired: 0 }
}

function lotOrder(a: Lot, b: Lot): number {
  return a.expiresAt - b.expiresAt || a.activeFrom - b.activeFrom || a.id - b.id
}

/** Points that may be burned now: active lots, less any debt and points returns claimed from holds. */
export function spendable(account: AccountState, now: number): number {
  let sum = 0
  for (const lot of account.lots) if (lot.activeFrom <= now) sum += lot.points
  return sum - account.debt - claimedPoints(account)
}

export function balanceOf(account: AccountState, now: number): Balance {
  let active = 0
  let pending = 0
  for (const lot of account.lots) {
    if (lot.activeFrom <= now) active += lot.points
    else pending += lot.points
  }
  return { available: active - account.debt - claimedPoints(account), pending, held: heldPoints(account) }
}

/** Points reserved by the account's open holds. */
export function heldPoints(account: AccountState): number {
  let held = 0
  for (const hold of account.holds) held += hold.points
  return held
}

/**
 * Points returns claimed from open holds (`claimHeld`): owed like debt while
 * the holds are open (the balance is below zero by them), and settled by the
 * held points themselves when a hold is released.
 */
export function claimedPoints(account: AccountState): number {
  let claimed = 0
  for (const hold of account.holds) claimed += hold.claimed ?? 0
  return claimed
}

/**
 * Claims up to `points` of the open holds' slices with the `origins`' lot
 * terms (a returned earn's own held points), soonest expiry first across
 * holds. They leave the hold's slices and count as its `claimed`: the hold
 * keeps its size (it can still be captured in full), and until it closes
 * they are owed like debt. A release settles them with the held points
 * themselves (it gives back only the slices), whatever their lot's date; a
 * capture spending them owes them for good (`oweSpentClaim`). Returns how
 * many. `takeOthers` claims other held points the same way.
 */
export function claimHeld(account: AccountState, points: number, origins: readonly LotTerms[], now: number): number {
  if (points === 0 || account.holds.length === 0) return 0
  const own = (s: LotSlice) => origins.some(([activeFrom, expiresAt]) => s.activeFrom === activeFrom && s.expiresAt === expiresAt)
  const candidates: [OpenHold, LotSlice][] = []
  let alive = 0
  let expired = 0
  for (const hold of account.holds) {
    for (const slice of hold.slices) {
      if (slice.expiresAt > now) alive += slice.points
      else if (own(slice)) expired += slice.points
      if (own(slice)) candidates.push([hold, slice])
    }
  }
  candidates.sort(([, a], [, b]) => a.expiresAt - b.expiresAt || a.activeFrom - b.activeFrom || a.lot - b.lot)
  // Debt owed before claims existed is paid by live held points when their
  // hold is released (`restoreSlices`; expired ones pay none): those are not
  // claimed again; the earn's own expired held points always may be. (Since claims, debt is left only once every live held
  // point is claimed, so this holds back nothing for accounts written since.)
  const room = Math.min(points, Math.max(0, alive - account.debt) + expired)
  let left = room
  for (const [hold, slice] of candidates) {
    if (left === 0) break
    const take = Math.min(left, slice.points)
    slice.points -= take
    hold.claimed = (hold.claimed ?? 0) + take
    left -= take
  }
  for (const hold of account.holds) {
    if (hold.slices.some((s) => s.points === 0)) hold.slices = hold.slices.filter((s) => s.points > 0)
  }
  return room - left
}

/**
 * A capture spent `points` that a return had claimed from its hold
 * (`capturing`): they come from the member's other points as a return takes them
 * (lots, active first, then other holds' points, claimed), and what those
 * do not cover becomes debt.
 */
export function oweSpentClaim(account: AccountState, points: number, now: number, capturing: OpenHold) {
  if (points === 0) return
  account.debt += points - takeOthers(account, points, now, capturing)
}

/**
 * Takes up to `points` for a return (or a capture's spent claim) from the
 * member's points as they would be had nothing been held: active lots and
 * open holds' slices whose lot is still alive together, soonest expiry
 * first (a lot before a held slice of the same lot), held ones claimed from their hold (`claimHeld`,
 * never beyond the held points less any debt); then pending lots. `skip`:
 * a hold being captured. Returns how many were taken.
 */
export function takeOthers(account: AccountState, points: number, now: number, skip?: OpenHold): number {
  if (points === 0) return 0
  type Source = { lot: Lot; hold?: undefined; slice?: undefined } | { lot?: undefined; hold: OpenHold; slice: LotSlice }
  const sources: Source[] = []
  let unclaimed = 0
  for (const lot of account.lots) if (lot.activeFrom <= now) sources.push({ lot })
  for (const hold of account.holds) {
    if (hold === skip) continue
    for (const slice of hold.slices) {
      // Held points whose lot has expired would be gone had nothing been held.
      if (slice.expiresAt <= now) continue
      unclaimed += slice.points
      sources.push({ hold, slice })
    }
  }
  const terms = (s: Source) => s.lot ?? s.slice!
  const lotOf = (s: Source) => s.lot?.id ?? s.slice!.lot
  sources.sort(
    (a, b) =>
      terms(a).expiresAt - terms(b).expiresAt ||
      terms(a).activeFrom - terms(b).activeFrom ||
      lotOf(a) - lotOf(b) ||
      Number(a.hold !== undefined) - Number(b.hold !== undefined),
  )
  let claimable = Math.max(0, unclaimed - account.debt)
  let left = points
  for (const source of sources) {
    if (left === 0) break
    if (source.lot !== undefined) {
      const take = Math.min(left, source.lot.points)
      source.lot.points -= take
      left -= take
    } else {
      const take = Math.min(left, source.slice.points, claimable)
      source.slice.points -= take
      source.hold.claimed = (source.hold.claimed ?? 0) + take
      claimable -= take
      left -= take
    }
  }
  for (const lot of account.lots) {
    if (left === 0) break
    if (lot.activeFrom <= now) continue
    const take = Math.min(left, lot.points)
    lot.points -= take
    left -= take
  }
  dropEmptyLots(account)
  for (const hold of account.holds) {
    if (hold.slices.some((s) => s.points === 0)) hold.slices = hold.slices.filter((s) => s.points > 0)
  }
  return points - left
}

/**
 * The most points an account may hold: available, pending and held together
 * (10^15). Far inside Number.MAX_SAFE_INTEGER (about 9 × 10^15), so every lot,
 * hold, balance and sum of them stays an exact integer, with room to spare for
 * what is added to an account without a command of its own (a tier bonus on a
 * review, a birthday reward). A credit that would take an account past it is
 * refused (`invalid_request`, field `points`); see `creditRoom`.
 */
export const accountPointsMax = 1_000_000_000_000_000

/**
 * The most points, and the most money, that the earns (or the redemptions)
 * recorded under one ref may add up to: 10^15, for the same reason as
 * `accountPointsMax`. A command that would take a ref's running sum past it is
 * refused (`invalid_request`).
 */
export const refTotalMax = 1_000_000_000_000_000

/** The points an account holds: lots (active or pending) and holds, less debt and claims. */
export function pointsInAccount(account: AccountState): number {
  return ledgerBalance(account) + heldPoints(account)
}

/** How many more points the account may be credited before it passes `accountPointsMax`. */
export function creditRoom(account: AccountState): number {
  return accountPointsMax - pointsInAccount(account)
}

/** Balance as the journal sees it: every lot (active or pending) less debt and points claimed from holds. */
export function ledgerBalance(account: AccountState): number {
  let sum = 0
  for (const lot of account.lots) sum += lot.points
  return sum - account.debt - claimedPoints(account)
}

/** Adds points as a lot, paying off debt first. */
export function creditLot(
  account: AccountState,
  lot: { id: number; points: number; activeFrom: number; expiresAt: number },
) {
  assert(Number.isSafeInteger(lot.points) && lot.points > 0, 'credit must be positive')
  const paid = Math.min(account.debt, lot.points)
  account.debt -= paid
  const points = lot.points - paid
  if (points === 0) return
  const same = account.lots.find(
    (l) => l.expiresAt === lot.expiresAt && l.activeFrom === lot.activeFrom,
  )
  if (same !== undefined) same.points += points
  else insertLot(account, { ...lot, points })
  assert(Number.isSafeInteger(same?.points ?? points), 'a lot must stay a safe integer')
}

/**
 * When something of the account next falls due on its own: a lot's expiry,
 * a hold's deadline, a tier review or a birthday. Reviews and birthdays at or
 * before `now` are left out: whatever touched the account settled them, or
 * their program is gone and they wait for it (a timer for them would fire
 * again at once, every batch).
 */
export function nextDue(account: AccountState, now: number): number | undefined {
  let due = neverExpires
  for (const lot of account.lots) {
    if (lot.points > 0) {
      due = lot.expiresAt // sorted soonest-expiry first
      break
    }
  }
  for (const hold of account.holds) if (hold.expiresAt < due) due = hold.expiresAt
  const program = account.program
  if (program !== undefined) {
    if (program.reviewAt > now && program.reviewAt < due) due = program.reviewAt
    const birthday = program.birthdayAt
    if (birthday !== undefined && birthday > now && birthday < due) due = birthday
  }
  return due === neverExpires ? undefined : due
}

function insertLot(account: AccountState, lot: Lot) {
  const lots = account.lots
  let index = lots.length
  while (index > 0 && lotOrder(lots[index - 1]!, lot) > 0) index--
  lots.splice(index, 0, lot)
}

/**
 * Takes points from active lots, soonest expiry first. The caller has checked
 * that `spendable` covers them.
 */
export function debitLots(account: AccountState, points: number, now: number): LotSlice[] {
  assert(points > 0 && points <= spendable(account, now), 'debit must be covered')
  const slices: LotSlice[] = []
  let rest = points
  for (const lot of account.lots) {
    if (rest === 0) break
    if (lot.activeFrom > now || lot.points === 0) continue
    const take = Math.min(rest, lot.points)
    lot.points -= take
    rest -= take
    slices.push({ lot: lot.id, points: take, activeFrom: lot.activeFrom, expiresAt: lot.expiresAt })
  }
  assert(rest === 0, 'debit left points untaken')
  dropEmptyLots(account)
  return slices
}

function dropEmptyLots(account: AccountState) {
  if (account.lots.some((l) => l.points === 0)) {
    account.lots = account.lots.filter((l) => l.points > 0)
  }
}

/**
 * Gives slices back to the lots they came from (recreating emptied lots),
 * paying debt first, from the longest-lived slices first. Slices whose lot has
 * expired by `now` (it expired while they were held) pay no debt: they go
 * back to their lot for the caller's `expireDueLots` to expire, so a void or a
 * timed-out hold never settles a reversal's debt with expired points (a
 * return claims held points before it owes any, `claimHeld`, so only debt
 * owed before claims existed meets unclaimed held points).
 * `expiredPayDebt` is for refunds, whose points pay any debt first whatever
 * their date, and only what is left of expired ones expires.
 */
export function restoreSlices(
  account: AccountState,
  slices: LotSlice[],
  now: number,
  { expiredPayDebt = false }: { expiredPayDebt?: boolean } = {},
) {
  const longestLivedFirst = [...slices].sort((a, b) => b.expiresAt - a.expiresAt)
  for (const slice of longestLivedFirst) {
    const paysDebt = expiredPayDebt || slice.expiresAt > now
    const paid = paysDebt ? Math.min(account.debt, slice.points) : 0
    account.debt -= paid
    const points = slice.points - paid
    if (points === 0) continue
    const lot = account.lots.find((l) => l.id === slice.lot)
    if (lot !== undefined) lot.points += points
    else {
      insertLot(account, {
        id: slice.lot,
        points,
        activeFrom: slice.activeFrom,
        expiresAt: slice.expiresAt,
      })
    }
  }
}

/** Splits slices into the first `points` (soonest expiry first) and the rest. */
export function splitSlices(slices: LotSlice[], points: number): [LotSlice[], LotSlice[]] {
  const taken: LotSlice[] = []
  const rest: LotSlice[] = []
  let left = points
  for (const slice of slices) {
    const take = Math.min(left, slice.points)
    left -= take
    if (take > 0) taken.push({ ...slice, points: take })
    if (slice.points > take) rest.push({ ...slice, points: slice.points - take })
  }
  assert(left === 0, 'split asked for more than the slices hold')
  return [taken, rest]
}

/**
 * Takes up to `points` for a reversal from the lots the original earns went
 * into (`origins`, several when several earns on one ref had other terms, as
 * a transfer's credits do), soonest expiry first. Returns the points taken;
 * the return looks for the rest in holds (`claimHeld`) and among the
 * member's other points (`takeOthers`).
 */
export function takeForReversal(account: AccountState, points: number, origins: readonly LotTerms[]): number {
  assert(points > 0, 'reversal must take something')
  const order = account.lots.filter((l) => origins.some(([activeFrom, expiresAt]) => l.activeFrom === activeFrom && l.expiresAt === expiresAt))
  let rest = points
  for (const lot of order) {
    const take = Math.min(rest, lot.points)
    lot.points -= take
    rest -= take
    if (rest === 0) break
  }
  dropEmptyLots(account)
  return points - rest
}

/**
 * Removes lots whose expiry has come and returns the points they still held.
 * Those points are recorded as lapsed under their lot's terms, for a later
 * return of an earn that went into that lot (`writeOffLapsed`).
 */
export function removeDueLots(account: AccountState, now: number): number {
  let expired = 0
  for (const lot of account.lots) {
    if (lot.expiresAt > now) break // sorted soonest-expiry first
    expired += lot.points
    if (lot.points > 0) recordLapsed(account, lot)
  }
  if (expired > 0) {
    account.lots = account.lots.filter((l) => l.expiresAt > now)
    pruneLapsed(account, now)
  }
  return expired
}

/**
 * How many lots' lapsed points an account keeps (the latest), and for how
 * long after their date. Past either, a return of such an earn takes its
 * share as if the points had been spent. Lapsed points are kept by the lot's
 * terms, expiry date and start (`activeFrom`), as lots are: two earns expiring
 * on one date are told apart, so one whose points were spent never uses the
 * other's that expired. The count bounds the account record: with points
 * that expire at a year's end, every purchase of the year is a lot of its
 * own, and the latest purchases are the ones still likely to be returned.
 */
export const lapsedKept = 64
export const lapsedKeptMs = 366 * 86_400_000

const lapsedOrder = (a: LapsedPoints, b: LapsedPoints) => a[1] - b[1] || a[0] - b[0]

/**
 * Keeps `points` that expired unspent elsewhere than in the account's lots
 * (held for a transfer, whose date came before they reached the receiver)
 * as lapsed, as if they had expired in a lot with these terms.
 */
export function recordLapsedPoints(account: AccountState, [activeFrom, expiresAt, points]: LapsedPoints, now: number) {
  if (points <= 0) return
  recordLapsed(account, { id: 0, activeFrom, expiresAt, points })
  pruneLapsed(account, now)
}

function recordLapsed(account: AccountState, lot: Lot) {
  const lapsed = (account.lapsed ??= [])
  const same = lapsed.find(([activeFrom, expiresAt]) => activeFrom === lot.activeFrom && expiresAt === lot.expiresAt)
  if (same !== undefined) {
    same[2] += lot.points
    return
  }
  const entry: LapsedPoints = [lot.activeFrom, lot.expiresAt, lot.points]
  let index = lapsed.length
  while (index > 0 && lapsedOrder(lapsed[index - 1]!, entry) > 0) index--
  lapsed.splice(index, 0, entry)
}

/** Drops lapsed points older than `lapsedKeptMs`, and the oldest beyond `lapsedKept`. */
function pruneLapsed(account: AccountState, now: number) {
  const lapsed = account.lapsed
  if (lapsed === undefined) return
  const kept = lapsed.filter(([, expiresAt, points]) => points > 0 && expiresAt > now - lapsedKeptMs).slice(-lapsedKept)
  if (kept.length === 0) delete account.lapsed
  else account.lapsed = kept
}

/**
 * For a return of an earn (one or more, on one ref) whose points are no
 * longer in their lots: writes off up to `points` of the points that lapsed
 * from lots with the earns' terms, in the order given, and returns how many.
 * Those points expired unspent, so the return has nothing to take for them.
 * Earns with the very same terms share their lot, and so its lapsed points:
 * whichever is returned first uses them first.
 */
export function writeOffLapsed(
  account: AccountState,
  points: number,
  origins: readonly LotTerms[],
  now: number,
): number {
  let written = 0
  for (const [start, date] of origins) {
    const lapsed = account.lapsed
    if (written >= points || lapsed === undefined) break
    if (date <= now - lapsedKeptMs) continue
    const same = lapsed.find(([activeFrom, expiresAt]) => activeFrom === start && expiresAt === date)
    if (same === undefined) continue
    const take = Math.min(points - written, same[2])
    same[2] -= take
    written += take
    if (same[2] === 0) {
      const rest = lapsed.filter((l) => l !== same)
      if (rest.length === 0) delete account.lapsed
      else account.lapsed = rest
    }
  }
  return written
}
