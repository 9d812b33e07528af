/**
 * Calendar arithmetic in IANA time zones: local dates and times of day, local
 * midnights, per-day/week/month counter indexes, point expiry, birthdays and
 * tier qualification periods. Every time is milliseconds since the Unix epoch.
 *
 * Pure: no dependencies and no `node:*` imports; time zone data comes from
 * `Intl.DateTimeFormat` alone. This is on the hot path of evaluation, so:
 * - `UTC` (and `Etc/UTC`) never touch Intl;
 * - each zone keeps one formatter, and its UTC offset per 15-minute-aligned
 *   UTC bucket (a zone's map is cleared once it passes 10,000 buckets);
 * - civil dates come from integer arithmetic on day numbers, not from `Date`.
 *
 * Offsets are cached per bucket because real transitions fall on quarter
 * hours in UTC. A bucket that holds an odd historical transition (local mean
 * time offsets with seconds) is detected when it is filled and answered
 * exactly, uncached, on every call.
 *
 * @module
 */
import { neverExpires } from '../domain/types.ts'
import type { ExpiryPolicy, QualificationDoc } from './types.ts'

export { neverExpires }

/** A local date and time of day in some zone. */
export interface LocalTime {
  year: number
  /** 1 (January) to 12. */
  month: number
  /** 1 to 31. */
  day: number
  /** ISO: 1 is Monday, 7 is Sunday. */
  weekday: number
  /** Minutes since local midnight, 0 to 1439. */
  minuteOfDay: number
}

export type QualificationPeriod = QualificationDoc['period']

const minuteMs = 60_000
const dayMs = 86_400_000
const bucketMs = 900_000
const maxBucketsPerZone = 10_000
/** Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar. */
const epochShift = 719_468
/** 1970-01-01 was a Thursday (ISO 4), so day index −3 is Monday 1969-12-29. */
const weekShift = 3

// ---------------------------------------------------------------------------
// Zone offsets

interface ZoneState {
  formatter: Intl.DateTimeFormat
  /** Bucket → offset in ms, or NaN for a bucket with a transition inside it. */
  buckets: Map<number, number>
  /** The last bucket asked for, which saves the map lookup in a burst. */
  lastBucket: number
  lastOffset: number
}

const zones = new Map<string, ZoneState>()

function isUtc(zone: string): boolean {
  return zone === 'UTC' || zone === 'Etc/UTC'
}

function zoneState(zone: string): ZoneState {
  let state = zones.get(zone)
  if (state === undefined) {
    // Constructing first means an unknown zone throws (RangeError) and is never cached.
    const formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    state = { formatter, buckets: new Map(), lastBucket: NaN, lastOffset: 0 }
    zones.set(zone, state)
  }
  return state
}

/** The offset at `ms` straight from Intl: local wall clock minus UTC, in whole seconds. */
function exactOffset(formatter: Intl.DateTimeFormat, ms: number): number {
  let year = 0
  let month = 1
  let day = 1
  let hour = 0
  let minute = 0
  let second = 0
  let beforeChrist = false
  for (const part of formatter.formatToParts(ms)) {
    const value = part.value
    if (part.type === 'year') year = Number(value)
    else if (part.type === 'month') month = Number(value)
    else if (part.type === 'day') day = Number(value)
    // Some engines print midnight as 24 even with h23.
    else if (part.type === 'hour') hour = Number(value) % 24
    else if (part.type === 'minute') minute = Number(value)
    else if (part.type === 'second') second = Number(value)
    else if (part.type === 'era') beforeChrist = value === 'BC' || value === 'B'
  }
  if (beforeChrist) year = 1 - year
  const wall = daysFromCivil(year, month, day) * dayMs + ((hour * 60 + minute) * 60 + second) * 1000
  return wall - Math.floor(ms / 1000) * 1000
}

/** Fills a bucket: its offset if the same at both ends, else NaN (answer exactly each time). */
function bucketOffset(state: ZoneState, bucket: number): number {
  const start = bucket * bucketMs
  const first = exactOffset(state.formatter, start)
  const last = exactOffset(state.formatter, start + bucketMs - 1)
  return first === last ? first : NaN
}

/** Local wall clock minus UTC at `ms` in `zone`, in milliseconds. */
export function utcOffset(ms: number, zone: string): number {
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${ms}`)
  if (isUtc(zone)) return 0
  const state = zoneState(zone)
  const bucket = Math.floor(ms / bucketMs)
  let offset: number | undefined
  if (bucket === state.lastBucket) {
    offset = state.lastOffset
  } else {
    offset = state.buckets.get(bucket)
    if (offset === undefined) {
      if (state.buckets.size >= maxBucketsPerZone) state.buckets.clear()
      offset = bucketOffset(state, bucket)
      state.buckets.set(bucket, offset)
    }
    state.lastBucket = bucket
    state.lastOffset = offset
  }
  return Number.isNaN(offset) ? exactOffset(state.formatter, ms) : offset
}

/** How many offset buckets `zone` holds now (for tests and diagnostics). */
export function offsetCacheSize(zone: string): number {
  return zones.get(zone)?.buckets.size ?? 0
}

/** `ms` as a local wall clock reading, expressed as if it were UTC. */
function wallOf(ms: number, zone: string): number {
  return ms + utcOffset(ms, zone)
}

// ---------------------------------------------------------------------------
// Civil dates (proleptic Gregorian, after Howard Hinnant's algorithms)

/** Days since 1970-01-01 of a valid civil date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100)
    + dayOfYear
  return era * 146_097 + dayOfEra - epochShift
}

/** Days since 1970-01-01 with month and day overflowing into later ones, like `Date.UTC`. */
function daysFromLooseCivil(year: number, month: number, day: number): number {
  const monthIndex = year * 12 + month - 1
  const y = Math.floor(monthIndex / 12)
  return daysFromCivil(y, monthIndex - y * 12 + 1, 1) + day - 1
}

interface CivilDate {
  year: number
  month: number
  day: number
}

function civilFromDays(days: number): CivilDate {
  const z = days + epochShift
  const era = Math.floor(z / 146_097)
  const dayOfEra = z - era * 146_097
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524)
      - Math.floor(dayOfEra / 146_096)) / 365,
  )
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4)
    - Math.floor(yearOfEra / 100))
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
  return { year: month <= 2 ? yearOfEra + era * 400 + 1 : yearOfEra + era * 400, month, day }
}

export function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
}

/** Days in a month (1-12) of a year. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

// ---------------------------------------------------------------------------
// Local times and indexes

export function localTime(ms: number, zone: string): LocalTime {
  const wall = wallOf(ms, zone)
  const days = Math.floor(wall / dayMs)
  const date = civilFromDays(days)
  return {
    year: date.year,
    month: date.month,
    day: date.day,
    weekday: mod(days + weekShift, 7) + 1,
    minuteOfDay: Math.floor((wall - days * dayMs) / minuteMs),
  }
}

/** Days since 1970-01-01 of the local date (for per-day counters). */
export function localDayIndex(ms: number, zone: string): number {
  return Math.floor(wallOf(ms, zone) / dayMs)
}

/** ISO week index: weeks since the Monday 1969-12-29, by local date. */
export function localWeekIndex(ms: number, zone: string): number {
  return Math.floor((localDayIndex(ms, zone) + weekShift) / 7)
}

/** year × 12 + (month − 1) of the local date. */
export function localMonthIndex(ms: number, zone: string): number {
  const date = civilFromDays(localDayIndex(ms, zone))
  return date.year * 12 + date.month - 1
}

function localDate(ms: number, zone: string): CivilDate {
  return civilFromDays(localDayIndex(ms, zone))
}

// ---------------------------------------------------------------------------
// Local midnights

/**
 * Epoch ms of local midnight starting that date in the zone. Month and day may
 * overflow or underflow (month 13 is next January, day 0 the previous month's
 * last day), as with `Date.UTC`. Where midnight occurs twice this is the first;
 * where it does not exist (a DST gap), the first existing instant after it.
 */
export function startOfLocalDay(year: number, month: number, day: number, zone: string): number {
  const wall = daysFromLooseCivil(year, month, day) * dayMs
  if (isUtc(zone)) return wall
  return instantOfWall(wall, zone)
}

/** The earliest instant whose wall clock reads `wall`, or the first one after it in a gap. */
function instantOfWall(wall: number, zone: string): number {
  // Offsets a day either side bracket every offset that can apply to this wall time.
  const before = utcOffset(wall - dayMs, zone)
  const after = utcOffset(wall + dayMs, zone)
  if (before === after) return wall - before
  const early = wall - Math.max(before, after)
  const late = wall - Math.min(before, after)
  if (wallOf(early, zone) === wall) return early
  if (wallOf(late, zone) === wall) return late
  return firstInstantFrom(wall, early, late, zone)
}

/** In a gap: the first instant in [early, late] whose wall clock reads `wall` or later. */
function firstInstantFrom(wall: number, early: number, late: number, zone: string): number {
  let low = early
  let high = late
  if (wallOf(low, zone) >= wall) return low
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2)
    if (wallOf(middle, zone) >= wall) high = middle
    else low = middle
  }
  return high
}

/**
 * The instant a ruleset's `from` or `to` names, in its program's zone: a
 * bare `YYYY-MM-DD` date is the local midnight starting that day (where DST
 * skips midnight, the day's first instant; where midnight comes twice, the
 * first), so a window `from` one date `to` another runs from the start of
 * the first day up to, not including, the second; an ISO instant with `Z`
 * or an offset is that instant, whatever the zone. Expects a validated text
 * (a date that does not exist throws RangeError).
 */
export function rulesetInstant(text: string, zone: string): number {
  if (text.length !== 10) return Date.parse(text)
  const date = parseDate(text)
  return startOfLocalDay(date.year, date.month, date.day, zone)
}

/**
 * Adds whole local days to the local date of `ms` and returns that day's
 * local midnight (DST-safe: a day may be 23 or 25 hours long). For an instant
 * that is not a local midnight, the time of day is dropped.
 */
export function addLocalDays(ms: number, days: number, zone: string): number {
  const date = localDate(ms, zone)
  return startOfLocalDay(date.year, date.month, date.day + days, zone)
}

/** Local midnight starting the day after `day` of a month `months` after the given one. */
function endOfClampedDay(
  year: number,
  month: number,
  day: number,
  months: number,
  zone: string,
): number {
  const monthIndex = year * 12 + month - 1 + months
  const y = Math.floor(monthIndex / 12)
  const m = monthIndex - y * 12 + 1
  return startOfLocalDay(y, m, Math.min(day, daysInMonth(y, m)) + 1, zone)
}

// ---------------------------------------------------------------------------
// Expiry

/** When points earned at `earnedAt` expire under `policy` (`neverExpires` for never). */
export function expiryOf(policy: ExpiryPolicy, earnedAt: number, zone: string): number {
  if (policy.kind === 'never') return neverExpires
  const earned = localDate(earnedAt, zone)
  switch (policy.kind) {
    case 'days': {
      // The end of the Nth day after the earn date is the start of the day after it.
      const days = count(policy.days, 'expiry days')
      return startOfLocalDay(earned.year, earned.month, earned.day + days + 1, zone)
    }
    case 'endOfMonth': {
      const months = count(policy.months ?? 0, 'expiry months')
      return startOfLocalDay(earned.year, earned.month + months + 1, 1, zone)
    }
    case 'endOfYear': {
      const years = count(policy.years ?? 0, 'expiry years')
      return startOfLocalDay(earned.year + years + 1, 1, 1, zone)
    }
    case 'months': {
      const months = count(policy.months, 'expiry months')
      return endOfClampedDay(earned.year, earned.month, earned.day, months, zone)
    }
  }
}

/** A whole number ≥ 0; anything else would give an instant that is not a local midnight. */
function count(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what}: ${value}`)
  return value
}

// ---------------------------------------------------------------------------
// Clocks and birthdays

/** `HH:MM` (00:00 to 23:59, or 24:00 for the end of the day) → minutes since midnight. */
export function parseClock(text: string): number {
  const hours = text.length === 5 && text.charCodeAt(2) === 58 ? digits(text, 0, 2) : -1
  const minutes = hours < 0 ? -1 : digits(text, 3, 2)
  const valid = minutes >= 0 && (hours < 24 ? minutes < 60 : hours === 24 && minutes === 0)
  if (!valid) throw new RangeError(`not a HH:MM clock time: ${JSON.stringify(text)}`)
  return hours * 60 + minutes
}

/** The number in `length` ASCII digits at `start`, or −1 if any is not a digit. */
function digits(text: string, start: number, length: number): number {
  let value = 0
  for (let i = start; i < start + length; i++) {
    const code = text.charCodeAt(i) - 48
    if (!(code >= 0 && code <= 9)) return -1
    value = value * 10 + code
  }
  return value
}

/** A `YYYY-MM-DD` date, checked to exist; throws RangeError otherwise. */
function parseDate(text: string): CivilDate {
  const dashes = text.length === 10 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45
  const year = dashes ? digits(text, 0, 4) : -1
  const month = digits(text, 5, 2)
  const day = digits(text, 8, 2)
  const valid = year >= 0 && month >= 1 && month <= 12 && day >= 1
    && day <= daysInMonth(year, month)
  if (!valid) throw new RangeError(`not a YYYY-MM-DD date: ${JSON.stringify(text)}`)
  return { year, month, day }
}

/** Whether the `YYYY-MM-DD` birthday falls in the local month of `ms`. */
export function isBirthdayMonth(birthDate: string, ms: number, zone: string): boolean {
  return parseDate(birthDate).month === localDate(ms, zone).month
}

/** Local midnight of a month/day anniversary in `year`; Feb 29 falls on Feb 28 in other years. */
function anniversary(year: number, month: number, day: number, zone: string): number {
  return startOfLocalDay(year, month, Math.min(day, daysInMonth(year, month)), zone)
}

/**
 * The first local midnight on or after `from` that starts the member's
 * birthday (Feb 29 birthdays use Feb 28 in non-leap years). An instant later
 * on the birthday itself gives next year's.
 */
export function nextBirthday(birthDate: string, from: number, zone: string): number {
  const birth = parseDate(birthDate)
  const year = localDate(from, zone).year
  const thisYear = anniversary(year, birth.month, birth.day, zone)
  return thisYear >= from ? thisYear : anniversary(year + 1, birth.month, birth.day, zone)
}

// ---------------------------------------------------------------------------
// Qualification periods

/**
 * Start (a local midnight) of the qualification period containing `ms`:
 * - `rolling12Months`: the last 365 local days, today included;
 * - `calendarYear`: local Jan 1 of the year of `ms`;
 * - `membershipYear`: the latest anniversary of the local enrolment date
 *   (Feb 29 → Feb 28 in non-leap years) on or before the local day of `ms`.
 */
export function qualificationWindowStart(
  period: QualificationPeriod,
  ms: number,
  enrolledAt: number,
  zone: string,
): number {
  const today = localDate(ms, zone)
  switch (period) {
    case 'rolling12Months':
      return startOfLocalDay(today.year, today.month, today.day - 364, zone)
    case 'calendarYear':
      return startOfLocalDay(today.year, 1, 1, zone)
    case 'membershipYear': {
      const { month, day } = localDate(enrolledAt, zone)
      const thisYear = anniversary(today.year, month, day, zone)
      return thisYear <= ms ? thisYear : anniversary(today.year - 1, month, day, zone)
    }
  }
}

/**
 * When the next tier review after `from` falls (a local midnight):
 * - `rolling12Months`: `reviewDays` (default 365) local days after the local day of `from`;
 * - `calendarYear`: the next local Jan 1;
 * - `membershipYear`: the next anniversary of enrolment strictly after `from`.
 */
export function nextReview(
  period: QualificationPeriod,
  reviewDays: number | undefined,
  from: number,
  enrolledAt: number,
  zone: string,
): number {
  const today = localDate(from, zone)
  switch (period) {
    case 'rolling12Months': {
      const days = count(reviewDays ?? 365, 'review days')
      // Zero days would schedule the review at or before `from`, over and over.
      if (days === 0) throw new RangeError('review days: 0')
      return startOfLocalDay(today.year, today.month, today.day + days, zone)
    }
    case 'calendarYear':
      return startOfLocalDay(today.year + 1, 1, 1, zone)
    case 'membershipYear': {
      const { month, day } = localDate(enrolledAt, zone)
      const thisYear = anniversary(today.year, month, day, zone)
      return thisYear > from ? thisYear : anniversary(today.year + 1, month, day, zone)
    }
  }
}

function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor
}
