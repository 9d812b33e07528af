/**
 * The campaign calendar's layout: a month as weeks of days (Monday first),
 * and each campaign as bars across them, one bar per week it touches. Days
 * are civil days in the program's time zone, because that is where "the
 * weekend campaign starts on Saturday" is true. A campaign keeps one lane for
 * the whole month, so its bars line up from week to week, and overlapping
 * campaigns never share a lane.
 *
 * Days are numbered from 1970-01-01 (day 0), which makes ranges plain
 * integer arithmetic.
 *
 * @module
 */

const dayMs = 86_400_000

/** The day number of a civil date (month 1–12). */
export function dayNumber(year: number, month: number, day: number): number {
  return Math.floor(Date.UTC(year, month - 1, day) / dayMs)
}

/** The civil date of a day number, with its ISO weekday (1 Monday … 7 Sunday). */
export function civilDate(day: number) {
  const date = new Date(day * dayMs)
  const weekday = ((date.getUTCDay() + 6) % 7) + 1
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), weekday }
}

/**
 * The instant (ms) a `YYYY-MM-DD` day starts in the browser's time zone: the
 * day a date input means, where the console shows its times. Undefined for a
 * text that is no day of the calendar (2026-02-31).
 */
export function localDayStart(text: string): number | undefined {
  const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (parts === null) return undefined
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  const start = new Date(0)
  start.setFullYear(year, month - 1, day)
  start.setHours(0, 0, 0, 0)
  return start.getMonth() === month - 1 && start.getDate() === day ? start.getTime() : undefined
}

/**
 * The instant a ruleset's `from` or `to` names, as the engine reads it: a
 * bare `YYYY-MM-DD` is the local midnight starting that day in the program's
 * `timeZone` (where the clocks skip midnight, the day's first instant); an
 * ISO instant with `Z` or an offset is that instant. NaN for neither.
 */
export function rulesetInstant(text: string, timeZone: string): number {
  const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (parts === null) return Date.parse(text)
  const [year, month, date] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  const day = dayNumber(year, month, date)
  const civil = civilDate(day)
  if (civil.year !== year || civil.month !== month || civil.day !== date) return Number.NaN
  // Every zone is within 15 hours of UTC: the first instant whose local day is `day` lies between.
  let low = day * dayMs - 15 * 3_600_000
  let high = day * dayMs + 15 * 3_600_000
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2)
    if (dayInZone(middle, timeZone) >= day) high = middle
    else low = middle
  }
  return high
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>()

/** The day number of the civil date an instant falls on in a time zone. */
export function dayInZone(ms: number, timeZone: string): number {
  let format = zoneFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
    })
    zoneFormats.set(timeZone, format)
  }
  const parts = Object.fromEntries(format.formatToParts(ms).map((part) => [part.type, part.value]))
  return dayNumber(Number(parts['year']), Number(parts['month']), Number(parts['day']))
}

export interface CalendarItem {
  id: string
  label: string
  /** Start (ms, inclusive). */
  from: number
  /** End (ms, exclusive). */
  to: number
}

export interface CalendarBar {
  id: string
  label: string
  lane: number
  /** Column of its first day in the week, 0 (Monday) to 6. */
  column: number
  /** Days it covers in this week, 1 to 7. */
  span: number
  /** The campaign started in an earlier week (or month). */
  continuesBefore: boolean
  /** The campaign goes on after this week. */
  continuesAfter: boolean
}

export interface CalendarWeek {
  days: { day: number; date: number; inMonth: boolean }[]
  bars: CalendarBar[]
  /** Lanes this week needs (the highest lane used, plus one). */
  lanes: number
}

export interface MonthLayout {
  year: number
  month: number
  weeks: CalendarWeek[]
}

interface Span {
  item: CalendarItem
  first: number
  last: number
  lane: number
}

/** Spans of the items that touch [start, end], each with its lane (greedy, earliest first). */
function laneSpans(items: readonly CalendarItem[], timeZone: string, start: number, end: number) {
  const spans = items
    .filter((item) => item.to > item.from)
    .map((item) => ({
      item,
      first: dayInZone(item.from, timeZone),
      last: dayInZone(item.to - 1, timeZone),
      lane: 0,
    }))
    .filter((span) => span.last >= start && span.first <= end)
    .sort((a, b) => a.first - b.first || b.last - a.last || a.item.id.localeCompare(b.item.id))
  const laneEnds: number[] = []
  for (const span of spans) {
    const free = laneEnds.findIndex((lastDay) => lastDay < span.first)
    span.lane = free === -1 ? laneEnds.length : free
    laneEnds[span.lane] = span.last
  }
  return spans
}

function weekBars(spans: readonly Span[], weekStart: number): CalendarBar[] {
  const weekEnd = weekStart + 6
  return spans
    .filter((span) => span.last >= weekStart && span.first <= weekEnd)
    .map((span) => {
      const first = Math.max(span.first, weekStart)
      const last = Math.min(span.last, weekEnd)
      return {
        id: span.item.id,
        label: span.item.label,
        lane: span.lane,
        column: first - weekStart,
        span: last - first + 1,
        continuesBefore: span.first < weekStart,
        continuesAfter: span.last > weekEnd,
      }
    })
    .sort((a, b) => a.lane - b.lane)
}

/**
 * The weeks of a month (month 1–12), Monday first, with the items' bars.
 *
 * @example
 *   layoutMonth([{ id: 'x2', label: 'Double points', from, to }], 2026, 11, 'Europe/Berlin')
 */
export function layoutMonth(
  items: readonly CalendarItem[],
  year: number,
  month: number,
  timeZone: string,
): MonthLayout {
  const firstOfMonth = dayNumber(year, month, 1)
  const lastOfMonth = dayNumber(year, month + 1, 1) - 1
  const gridStart = firstOfMonth - (civilDate(firstOfMonth).weekday - 1)
  const gridEnd = lastOfMonth + (7 - civilDate(lastOfMonth).weekday)
  const spans = laneSpans(items, timeZone, gridStart, gridEnd)
  const weeks: CalendarWeek[] = []
  for (let weekStart = gridStart; weekStart <= gridEnd; weekStart += 7) {
    const days = Array.from({ length: 7 }, (_, i) => {
      const day = weekStart + i
      return { day, date: civilDate(day).day, inMonth: day >= firstOfMonth && day <= lastOfMonth }
    })
    const bars = weekBars(spans, weekStart)
    const lanes = bars.reduce((most, bar) => Math.max(most, bar.lane + 1), 0)
    weeks.push({ days, bars, lanes })
  }
  return { year, month, weeks }
}

/** The month after (or before, with -1) a year and month. */
export function shiftMonth(year: number, month: number, by: number) {
  const index = year * 12 + (month - 1) + by
  return { year: Math.floor(index / 12), month: (index % 12) + 1 }
}
