/**
 * The balance-over-time chart on the member page: the account's most recent
 * journal entries (a few pages of `GET /v1/accounts/:account/history`) as a
 * step line of the balance after each entry, with time labels that suit the
 * span shown.
 *
 * @module
 */
import type { Entry, History } from './types.ts'

/** Entries the chart shows at most: two pages of the server's largest page (100). */
export const chartEntriesMax = 200
export const historyPageMax = 100

/**
 * Up to `max` of the newest entries, newest first, paging with `before` =
 * the previous page's `next` until the history ends or `max` is reached.
 */
export async function loadRecentEntries(
  page: (query: { limit: number; before?: number }) => Promise<History>,
  max = chartEntriesMax,
): Promise<{ entries: Entry[]; complete: boolean }> {
  const entries: Entry[] = []
  let before: number | undefined
  for (;;) {
    const limit = Math.min(historyPageMax, max - entries.length)
    const reply = await page(before === undefined ? { limit } : { limit, before })
    entries.push(...reply.entries)
    before = reply.next
    if (before === undefined) return { entries, complete: true }
    if (entries.length >= max || reply.entries.length === 0) return { entries: entries.slice(0, max), complete: false }
  }
}

export interface BalancePoint {
  x: number
  y: number
}

/**
 * The balance as a step line, oldest first: for each entry a point at its
 * time with the balance before it (so the line stays flat until the entry)
 * and one with the balance after it. Entries that leave the balance as it was
 * (holds, tier changes) add nothing. With `complete` (the whole history) the
 * line starts from the balance before the first entry, zero for a new account.
 * With `now` the last balance is carried on to that time: the balance stays
 * until the next entry, and entries all made at one moment (a new member's
 * enrolment and welcome bonus) still draw a line, not a lone vertical stroke.
 */
export function balanceSeries(entries: readonly Entry[], complete = true, now?: number): BalancePoint[] {
  const ordered = [...entries].sort((a, b) => a.seq - b.seq)
  const points: BalancePoint[] = []
  for (const [i, entry] of ordered.entries()) {
    const before = entry.balance - entry.points
    if (i === 0) {
      if (complete && before !== entry.balance) points.push({ x: entry.at, y: before })
      points.push({ x: entry.at, y: entry.balance })
      continue
    }
    const last = points[points.length - 1]!
    if (entry.balance === last.y) continue
    if (entry.at !== last.x) points.push({ x: entry.at, y: last.y })
    points.push({ x: entry.at, y: entry.balance })
  }
  const last = points[points.length - 1]
  if (now !== undefined && last !== undefined && now > last.x) points.push({ x: now, y: last.y })
  return points
}

const minuteMs = 60_000
const dayMs = 86_400_000

/**
 * The x domain of a series: its first to its last time, widened to an hour
 * around a single moment (a line needs some width to be drawn).
 */
export function timeDomain(points: readonly BalancePoint[]): [number, number] {
  if (points.length === 0) return [0, 1]
  const first = points[0]!.x
  const last = points[points.length - 1]!.x
  return last > first ? [first, last] : [first - 30 * minuteMs, first + 30 * minuteMs]
}

/**
 * `count` evenly spaced labels, each in the middle of its share of the
 * domain (so none is cut at the chart's edges), written for the span: the
 * date over two days or more, else the time (with seconds under ten minutes).
 */
export function timeLabels(
  domain: [number, number],
  count = 4,
  locale?: string,
  timeZone?: string,
): { x: number; text: string }[] {
  const [from, to] = domain
  const span = to - from
  const zone = timeZone === undefined ? {} : { timeZone }
  const format = span >= 2 * dayMs
    ? new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', ...zone })
    : new Intl.DateTimeFormat(locale, {
      hour: '2-digit',
      minute: '2-digit',
      ...(span < 10 * minuteMs ? { second: '2-digit' } : {}),
      hourCycle: 'h23',
      ...zone,
    })
  return Array.from({ length: count }, (_, i) => {
    const x = from + (span * (i + 0.5)) / count
    return { x, text: format.format(x) }
  })
}

/** Whether the balance ever moved: a new member's enrolment (and tier) entries leave it at zero. */
export function balanceMoved(entries: readonly Entry[]): boolean {
  return entries.some((entry) => entry.points !== 0 || entry.balance !== 0)
}
