/**
 * Goal: calendar arithmetic gives the local dates, midnights, indexes,
 * expiries, birthdays and qualification periods a person would read off a
 * wall calendar in the program's zone, across DST changes, half-hour zones,
 * leap days and odd historical transitions, and the caches never change an
 * answer.
 * Method: worked examples in UTC, Europe/Berlin, America/New_York and
 * Asia/Kolkata (plus a few zones with midnight gaps and repeats), Intl spies
 * for the UTC fast path and the offset cache, and fast-check properties that
 * compare against an uncached Intl formatter and check that a local day's
 * midnight brackets every instant in it.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  addLocalDays,
  daysInMonth,
  expiryOf,
  isBirthdayMonth,
  localDayIndex,
  localMonthIndex,
  localTime,
  localWeekIndex,
  neverExpires,
  nextBirthday,
  nextReview,
  offsetCacheSize,
  parseClock,
  qualificationWindowStart,
  startOfLocalDay,
  utcOffset,
  type LocalTime,
} from './calendar.ts'
import { neverExpires as domainNeverExpires } from '../domain/types.ts'

const berlin = 'Europe/Berlin'
const newYork = 'America/New_York'
const kolkata = 'Asia/Kolkata'
const zones = ['UTC', berlin, newYork, kolkata] as const
const hourMs = 3_600_000
const dayMs = 86_400_000
const year2000 = Date.UTC(2000, 0, 1)
const year2100 = Date.UTC(2100, 0, 1)

/** An ISO 8601 instant (with its offset) as epoch ms. */
function at(iso: string): number {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new Error(`bad test instant ${iso}`)
  return ms
}

/** The local time per a fresh, uncached formatter: the oracle for the cached path. */
function referenceLocalTime(ms: number, zone: string): LocalTime {
  const formatter = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  })
  const parts = new Map(formatter.formatToParts(ms).map((p) => [p.type, p.value]))
  const field = (name: Intl.DateTimeFormatPartTypes) => Number(parts.get(name))
  const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
  return {
    year: field('year'),
    month: field('month'),
    day: field('day'),
    weekday: weekdays.indexOf(parts.get('weekday') ?? '') + 1,
    minuteOfDay: (field('hour') % 24) * 60 + field('minute'),
  }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('zone offsets and caches', () => {
  it('answers UTC without calling Intl at all', () => {
    // The prototype spy first: spying on the constructor replaces its prototype.
    const formatToParts = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts')
    const construct = vi.spyOn(Intl, 'DateTimeFormat')
    const ms = at('2026-03-29T01:30:00Z')
    expect(localTime(ms, 'UTC')).toEqual({
      year: 2026, month: 3, day: 29, weekday: 7, minuteOfDay: 90,
    })
    expect(startOfLocalDay(2026, 3, 29, 'UTC')).toBe(at('2026-03-29T00:00:00Z'))
    expect(expiryOf({ kind: 'months', months: 1 }, ms, 'UTC')).toBe(at('2026-04-30T00:00:00Z'))
    expect(localWeekIndex(ms, 'UTC')).toBe(Math.floor((localDayIndex(ms, 'UTC') + 3) / 7))
    expect(construct).not.toHaveBeenCalled()
    expect(formatToParts).not.toHaveBeenCalled()
  })

  it('reuses the cached offset within a 15-minute bucket', () => {
    const start = at('2031-07-04T10:15:00Z')
    expect(localTime(start, berlin).minuteOfDay).toBe(12 * 60 + 15)
    const formatToParts = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts')
    expect(localTime(start + 14 * 60_000 + 59_999, berlin).minuteOfDay).toBe(12 * 60 + 29)
    expect(localDayIndex(start + 1, berlin)).toBe(localDayIndex(start, berlin))
    expect(formatToParts).not.toHaveBeenCalled()
    // The next bucket is new, so Intl is asked again.
    expect(localTime(start + 15 * 60_000, berlin).minuteOfDay).toBe(12 * 60 + 30)
    expect(formatToParts).toHaveBeenCalled()
  })

  it('bounds each zone offset cache at 10,000 buckets and stays correct past it', () => {
    const zone = 'America/Chicago'
    const base = at('2040-01-01T00:00:00Z')
    for (let i = 0; i < 12_000; i++) localTime(base + i * 900_000, zone)
    expect(offsetCacheSize(zone)).toBeGreaterThan(0)
    expect(offsetCacheSize(zone)).toBeLessThanOrEqual(10_000)
    // 2040-03-11 is the second Sunday of March: CST until 08:00Z, CDT from then.
    expect(utcOffset(at('2040-03-11T07:59:59Z'), zone)).toBe(-6 * hourMs)
    expect(utcOffset(at('2040-03-11T08:00:00Z'), zone)).toBe(-5 * hourMs)
  })

  it('gives offsets in ms, half hours included', () => {
    expect(utcOffset(0, 'UTC')).toBe(0)
    expect(utcOffset(at('2026-01-15T12:00:00Z'), kolkata)).toBe(5.5 * hourMs)
    expect(utcOffset(at('2026-07-15T12:00:00Z'), berlin)).toBe(2 * hourMs)
    expect(utcOffset(at('2026-01-15T12:00:00Z'), newYork)).toBe(-5 * hourMs)
  })

  it('answers exactly inside a bucket that holds an unaligned historical transition', () => {
    // Liberia moved from −0:44:30 to GMT at 1972-01-07T00:44:30Z, mid-bucket.
    const zone = 'Africa/Monrovia'
    const transition = at('1972-01-07T00:44:30Z')
    expect(utcOffset(transition - 1, zone)).toBe(-(44 * 60 + 30) * 1000)
    expect(utcOffset(transition, zone)).toBe(0)
    expect(localTime(transition - 1, zone)).toMatchObject({ day: 6, minuteOfDay: 23 * 60 + 59 })
    expect(localTime(transition, zone)).toMatchObject({ day: 7, minuteOfDay: 44 })
  })

  it('rejects unknown zones and non-finite times', () => {
    expect(() => localTime(0, 'Mars/Olympus_Mons')).toThrow(RangeError)
    expect(offsetCacheSize('Mars/Olympus_Mons')).toBe(0)
    expect(() => localTime(Number.NaN, berlin)).toThrow(RangeError)
    expect(() => localTime(Number.POSITIVE_INFINITY, 'UTC')).toThrow(RangeError)
  })

  it('re-exports the ledger sentinel for never-expiring lots', () => {
    expect(neverExpires).toBe(domainNeverExpires)
    expect(new Date(neverExpires).toISOString()).toBe('+275760-09-13T00:00:00.000Z')
  })
})

describe('localTime', () => {
  it('knows the ISO weekday of known dates', () => {
    expect(localTime(at('2026-01-01T12:00:00Z'), 'UTC').weekday).toBe(4) // Thursday
    expect(localTime(at('2000-02-29T12:00:00Z'), 'UTC').weekday).toBe(2) // Tuesday
    expect(localTime(at('2026-03-29T12:00:00Z'), berlin).weekday).toBe(7) // Sunday
    expect(localTime(at('2026-03-02T00:00:00-05:00'), newYork).weekday).toBe(1) // Monday
    expect(localTime(at('1969-12-31T23:59:59Z'), 'UTC').weekday).toBe(3) // Wednesday
    expect(localTime(at('1900-01-01T00:00:00Z'), 'UTC').weekday).toBe(1) // Monday
  })

  it('reads the local date, which may differ from the UTC one', () => {
    const ms = at('2026-01-10T18:30:00Z')
    expect(localTime(ms, 'UTC')).toEqual({
      year: 2026, month: 1, day: 10, weekday: 6, minuteOfDay: 18 * 60 + 30,
    })
    expect(localTime(ms, kolkata)).toEqual({
      year: 2026, month: 1, day: 11, weekday: 7, minuteOfDay: 0,
    })
    expect(localTime(at('2027-01-01T04:59:59Z'), newYork)).toMatchObject({
      year: 2026, month: 12, day: 31, minuteOfDay: 23 * 60 + 59,
    })
    expect(localTime(0, kolkata).minuteOfDay).toBe(5 * 60 + 30)
  })

  it('jumps minuteOfDay forward at spring DST changes', () => {
    const berlinChange = at('2026-03-29T01:00:00Z')
    expect(localTime(berlinChange - 1, berlin).minuteOfDay).toBe(1 * 60 + 59)
    expect(localTime(berlinChange, berlin).minuteOfDay).toBe(3 * 60)
    const newYorkChange = at('2026-03-08T07:00:00Z')
    expect(localTime(newYorkChange - 1, newYork).minuteOfDay).toBe(1 * 60 + 59)
    expect(localTime(newYorkChange, newYork).minuteOfDay).toBe(3 * 60)
  })

  it('repeats an hour of minuteOfDay at the autumn DST change', () => {
    const change = at('2026-11-01T06:00:00Z')
    expect(localTime(change - 1, newYork).minuteOfDay).toBe(1 * 60 + 59)
    expect(localTime(change, newYork).minuteOfDay).toBe(1 * 60)
    expect(localTime(change, newYork).day).toBe(1)
    expect(localTime(at('2026-10-25T01:00:00Z'), berlin).minuteOfDay).toBe(2 * 60)
  })

  it('agrees with an uncached Intl formatter for random instants (1900-2100)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1900, 0, 1), max: year2100 }),
        fc.constantFrom(...zones, 'America/Havana', 'Pacific/Apia'),
        (ms, zone) => {
          expect(localTime(ms, zone)).toEqual(referenceLocalTime(ms, zone))
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('startOfLocalDay', () => {
  it('matches Date.UTC in UTC, overflowing months and days alike', () => {
    expect(startOfLocalDay(2026, 1, 22, 'UTC')).toBe(Date.UTC(2026, 0, 22))
    expect(startOfLocalDay(2025, 13, 1, 'UTC')).toBe(at('2026-01-01T00:00:00Z'))
    expect(startOfLocalDay(2026, 1, 32, 'UTC')).toBe(at('2026-02-01T00:00:00Z'))
    expect(startOfLocalDay(2026, 3, 0, 'UTC')).toBe(at('2026-02-28T00:00:00Z'))
    expect(startOfLocalDay(2024, 3, 0, 'UTC')).toBe(at('2024-02-29T00:00:00Z'))
    expect(startOfLocalDay(2026, 0, 1, 'UTC')).toBe(at('2025-12-01T00:00:00Z'))
    expect(startOfLocalDay(2026, -11, 1, 'UTC')).toBe(at('2025-01-01T00:00:00Z'))
    expect(startOfLocalDay(2026, 1, 1 + 365, 'UTC')).toBe(at('2027-01-01T00:00:00Z'))
    fc.assert(
      fc.property(
        fc.integer({ min: 1900, max: 2200 }),
        fc.integer({ min: -30, max: 40 }),
        fc.integer({ min: -400, max: 400 }),
        (year, month, day) => {
          expect(startOfLocalDay(year, month, day, 'UTC')).toBe(Date.UTC(year, month - 1, day))
        },
      ),
    )
  })

  it('finds midnight on and after DST change days in Berlin', () => {
    expect(startOfLocalDay(2026, 3, 29, berlin)).toBe(at('2026-03-28T23:00:00Z'))
    expect(startOfLocalDay(2026, 3, 30, berlin)).toBe(at('2026-03-29T22:00:00Z'))
    expect(startOfLocalDay(2026, 10, 25, berlin)).toBe(at('2026-10-24T22:00:00Z'))
    expect(startOfLocalDay(2026, 10, 26, berlin)).toBe(at('2026-10-25T23:00:00Z'))
  })

  it('finds midnight on and after DST change days in New York', () => {
    expect(startOfLocalDay(2026, 3, 8, newYork)).toBe(at('2026-03-08T05:00:00Z'))
    expect(startOfLocalDay(2026, 3, 9, newYork)).toBe(at('2026-03-09T04:00:00Z'))
    expect(startOfLocalDay(2026, 11, 1, newYork)).toBe(at('2026-11-01T04:00:00Z'))
    expect(startOfLocalDay(2026, 11, 2, newYork)).toBe(at('2026-11-02T05:00:00Z'))
  })

  it('finds midnight in a half-hour zone', () => {
    expect(startOfLocalDay(2026, 1, 11, kolkata)).toBe(at('2026-01-10T18:30:00Z'))
    expect(startOfLocalDay(2026, 13, 1, kolkata)).toBe(at('2026-12-31T18:30:00Z'))
  })

  it('takes the first of two midnights where the clock falls back at 01:00', () => {
    // Havana fell back from 01:00 CDT to 00:00 CST on 2025-11-02.
    const zone = 'America/Havana'
    const first = startOfLocalDay(2025, 11, 2, zone)
    expect(first).toBe(at('2025-11-02T04:00:00Z'))
    expect(localTime(first + hourMs, zone)).toMatchObject({ day: 2, minuteOfDay: 0 })
  })

  it('gives the first existing instant where midnight does not exist', () => {
    // Santiago sprang forward from 00:00 to 01:00 on 2022-09-11.
    const santiago = startOfLocalDay(2022, 9, 11, 'America/Santiago')
    expect(santiago).toBe(at('2022-09-11T04:00:00Z'))
    expect(localTime(santiago, 'America/Santiago')).toMatchObject({ day: 11, minuteOfDay: 60 })
    expect(localTime(santiago - 1, 'America/Santiago')).toMatchObject({ day: 10 })
    // Samoa skipped 2011-12-30 entirely: its "midnight" is the start of Dec 31.
    const apia = startOfLocalDay(2011, 12, 30, 'Pacific/Apia')
    expect(apia).toBe(at('2011-12-30T10:00:00Z'))
    expect(apia).toBe(startOfLocalDay(2011, 12, 31, 'Pacific/Apia'))
    expect(localTime(apia - 1, 'Pacific/Apia')).toMatchObject({ day: 29, minuteOfDay: 1439 })
  })
})

describe('addLocalDays', () => {
  it('steps over 23- and 25-hour days to the next local midnight', () => {
    const berlinSpring = startOfLocalDay(2026, 3, 29, berlin)
    expect(addLocalDays(berlinSpring, 1, berlin) - berlinSpring).toBe(23 * hourMs)
    const newYorkAutumn = startOfLocalDay(2026, 11, 1, newYork)
    expect(addLocalDays(newYorkAutumn, 1, newYork) - newYorkAutumn).toBe(25 * hourMs)
    expect(addLocalDays(newYorkAutumn, 1, newYork)).toBe(at('2026-11-02T05:00:00Z'))
  })

  it('goes back with negative days and across months and years', () => {
    const newYear = startOfLocalDay(2027, 1, 1, kolkata)
    expect(addLocalDays(newYear, -1, kolkata)).toBe(at('2026-12-30T18:30:00Z'))
    expect(addLocalDays(newYear, 59, kolkata)).toBe(startOfLocalDay(2027, 3, 1, kolkata))
    expect(addLocalDays(newYear, 0, kolkata)).toBe(newYear)
  })

  it('drops the time of day of an instant that is not a midnight', () => {
    expect(addLocalDays(at('2026-03-28T15:45:00+01:00'), 1, berlin))
      .toBe(at('2026-03-29T00:00:00+01:00'))
    expect(addLocalDays(at('2026-03-28T15:45:00Z'), 0, 'UTC')).toBe(at('2026-03-28T00:00:00Z'))
  })
})

describe('day, week and month indexes', () => {
  it('counts local days from 1970-01-01', () => {
    expect(localDayIndex(0, 'UTC')).toBe(0)
    expect(localDayIndex(-1, 'UTC')).toBe(-1)
    expect(localDayIndex(at('2026-01-10T00:00:00Z'), 'UTC')).toBe(Date.UTC(2026, 0, 10) / dayMs)
    const midnight = at('2026-01-10T18:30:00Z') // midnight in Kolkata
    expect(localDayIndex(midnight, kolkata) - localDayIndex(midnight - 1, kolkata)).toBe(1)
    expect(localDayIndex(midnight, 'UTC')).toBe(localDayIndex(midnight - 1, 'UTC'))
    expect(localDayIndex(at('2026-03-08T04:59:59Z'), newYork)).toBe(Date.UTC(2026, 2, 7) / dayMs)
  })

  it('starts a new week on local Monday', () => {
    expect(localWeekIndex(at('1969-12-29T00:00:00Z'), 'UTC')).toBe(0)
    expect(localWeekIndex(at('1970-01-04T23:59:59Z'), 'UTC')).toBe(0)
    expect(localWeekIndex(at('1970-01-05T00:00:00Z'), 'UTC')).toBe(1)
    expect(localWeekIndex(at('1969-12-28T23:59:59Z'), 'UTC')).toBe(-1)
    // Monday 00:00 UTC is still Sunday evening in New York: same week as Sunday.
    const sunday = at('2026-03-01T12:00:00-05:00')
    expect(localWeekIndex(at('2026-03-02T00:00:00Z'), newYork))
      .toBe(localWeekIndex(sunday, newYork))
    const monday = at('2026-03-02T00:00:00-05:00')
    expect(localWeekIndex(monday, newYork)).toBe(localWeekIndex(sunday, newYork) + 1)
    expect(localWeekIndex(monday - 1, newYork)).toBe(localWeekIndex(sunday, newYork))
    expect(localWeekIndex(at('2026-03-02T00:00:00Z'), 'UTC'))
      .toBe(localWeekIndex(sunday, 'UTC') + 1)
  })

  it('numbers months as year × 12 + month − 1 of the local date', () => {
    expect(localMonthIndex(at('2026-01-31T23:30:00Z'), 'UTC')).toBe(2026 * 12)
    expect(localMonthIndex(at('2026-01-31T23:30:00Z'), berlin)).toBe(2026 * 12 + 1)
    expect(localMonthIndex(at('2027-01-01T03:00:00Z'), newYork)).toBe(2026 * 12 + 11)
    expect(localMonthIndex(0, 'UTC')).toBe(1970 * 12)
  })
})

describe('expiryOf', () => {
  it('never expires under the never policy', () => {
    expect(expiryOf({ kind: 'never' }, at('2026-01-10T15:00:00Z'), berlin)).toBe(neverExpires)
  })

  it('expires at the end of the Nth day after earning', () => {
    const earned = at('2026-01-10T15:00:00Z')
    expect(expiryOf({ kind: 'days', days: 30 }, earned, 'UTC')).toBe(at('2026-02-10T00:00:00Z'))
    expect(expiryOf({ kind: 'days', days: 0 }, earned, 'UTC')).toBe(at('2026-01-11T00:00:00Z'))
    // 23:30 UTC is already the next day in Berlin.
    expect(expiryOf({ kind: 'days', days: 0 }, at('2026-01-10T23:30:00Z'), berlin))
      .toBe(at('2026-01-12T00:00:00+01:00'))
    // Across the spring change the expiry is still a local midnight, now in CEST.
    expect(expiryOf({ kind: 'days', days: 1 }, at('2026-03-28T12:00:00+01:00'), berlin))
      .toBe(at('2026-03-30T00:00:00+02:00'))
    expect(expiryOf({ kind: 'days', days: 365 }, at('2026-06-01T10:00:00+05:30'), kolkata))
      .toBe(at('2027-06-02T00:00:00+05:30'))
  })

  it('expires at the start of the month after the month M months on', () => {
    const earned = at('2026-01-22T10:00:00Z')
    expect(expiryOf({ kind: 'endOfMonth', months: 0 }, earned, 'UTC'))
      .toBe(at('2026-02-01T00:00:00Z'))
    expect(expiryOf({ kind: 'endOfMonth' }, earned, 'UTC')).toBe(at('2026-02-01T00:00:00Z'))
    expect(expiryOf({ kind: 'endOfMonth', months: 2 }, earned, 'UTC'))
      .toBe(at('2026-04-01T00:00:00Z'))
    expect(expiryOf({ kind: 'endOfMonth', months: 0 }, at('2026-12-15T00:00:00Z'), 'UTC'))
      .toBe(at('2027-01-01T00:00:00Z'))
    expect(expiryOf({ kind: 'endOfMonth', months: 13 }, earned, 'UTC'))
      .toBe(at('2027-03-01T00:00:00Z'))
    // 23:30 UTC on Jan 31 is February in Berlin, so the expiry is the start of March there.
    expect(expiryOf({ kind: 'endOfMonth' }, at('2026-01-31T23:30:00Z'), berlin))
      .toBe(at('2026-03-01T00:00:00+01:00'))
    expect(expiryOf({ kind: 'endOfMonth', months: 2 }, at('2026-01-22T10:00:00Z'), newYork))
      .toBe(at('2026-04-01T00:00:00-04:00'))
  })

  it('expires at the start of the year after the year Y years on', () => {
    const earned = at('2026-05-05T05:05:00Z')
    expect(expiryOf({ kind: 'endOfYear' }, earned, 'UTC')).toBe(at('2027-01-01T00:00:00Z'))
    expect(expiryOf({ kind: 'endOfYear', years: 0 }, earned, 'UTC'))
      .toBe(at('2027-01-01T00:00:00Z'))
    expect(expiryOf({ kind: 'endOfYear', years: 2 }, earned, 'UTC'))
      .toBe(at('2029-01-01T00:00:00Z'))
    // 03:00 UTC on Jan 1 is still the old year in New York.
    expect(expiryOf({ kind: 'endOfYear' }, at('2027-01-01T03:00:00Z'), newYork))
      .toBe(at('2027-01-01T00:00:00-05:00'))
    expect(expiryOf({ kind: 'endOfYear' }, at('2026-12-31T19:00:00Z'), kolkata))
      .toBe(at('2028-01-01T00:00:00+05:30'))
  })

  it('expires at the end of the same day of the month M months later, clamped', () => {
    const months = (m: number, iso: string, zone = 'UTC') =>
      expiryOf({ kind: 'months', months: m }, at(iso), zone)
    expect(months(1, '2026-01-15T12:00:00Z')).toBe(at('2026-02-16T00:00:00Z'))
    expect(months(1, '2026-01-31T12:00:00Z')).toBe(at('2026-03-01T00:00:00Z')) // Feb 28
    expect(months(1, '2028-01-31T12:00:00Z')).toBe(at('2028-03-01T00:00:00Z')) // Feb 29
    expect(months(1, '2026-03-31T12:00:00Z')).toBe(at('2026-05-01T00:00:00Z')) // Apr 30
    expect(months(3, '2026-11-30T12:00:00Z')).toBe(at('2027-03-01T00:00:00Z')) // Feb 28
    expect(months(12, '2024-02-29T12:00:00Z')).toBe(at('2025-03-01T00:00:00Z')) // Feb 28
    expect(months(0, '2026-01-15T12:00:00Z')).toBe(at('2026-01-16T00:00:00Z'))
    expect(months(1, '2026-02-28T10:00:00+01:00', berlin)).toBe(at('2026-03-29T00:00:00+01:00'))
    expect(months(1, '2026-10-01T10:00:00-04:00', newYork)).toBe(at('2026-11-02T00:00:00-05:00'))
  })

  it('rejects counts that are not whole numbers of at least 0', () => {
    const earned = at('2026-01-10T15:00:00Z')
    expect(() => expiryOf({ kind: 'days', days: -1 }, earned, 'UTC')).toThrow(RangeError)
    expect(() => expiryOf({ kind: 'days', days: 1.5 }, earned, 'UTC')).toThrow(RangeError)
    expect(() => expiryOf({ kind: 'months', months: Number.NaN }, earned, 'UTC'))
      .toThrow(RangeError)
    expect(() => expiryOf({ kind: 'endOfYear', years: -2 }, earned, 'UTC')).toThrow(RangeError)
  })
})

describe('parseClock', () => {
  it('reads HH:MM as minutes since midnight', () => {
    expect(parseClock('00:00')).toBe(0)
    expect(parseClock('00:01')).toBe(1)
    expect(parseClock('09:30')).toBe(570)
    expect(parseClock('12:00')).toBe(720)
    expect(parseClock('23:59')).toBe(1439)
    expect(parseClock('24:00')).toBe(1440)
  })

  it.each([
    '24:01', '25:00', '99:99', '12:60', '9:30', '09:5', '0930', '09-30', ' 09:30', '09:30 ',
    '', ':', '-1:00', '+1:00', 'ab:cd', '１２:００', '09:30:00', '0x:10',
  ])('rejects %j', (text) => {
    expect(() => parseClock(text)).toThrow(RangeError)
  })
})

describe('birthdays', () => {
  it('tells whether an instant falls in the birthday month, by local date', () => {
    expect(isBirthdayMonth('1990-05-17', at('2026-05-01T00:00:00Z'), 'UTC')).toBe(true)
    expect(isBirthdayMonth('1990-05-17', at('2026-06-01T00:00:00Z'), 'UTC')).toBe(false)
    // 19:00 UTC on Apr 30 is already May 1 in Kolkata.
    const ms = at('2026-04-30T19:00:00Z')
    expect(isBirthdayMonth('1990-05-17', ms, kolkata)).toBe(true)
    expect(isBirthdayMonth('1990-05-17', ms, 'UTC')).toBe(false)
    expect(isBirthdayMonth('2000-02-29', at('2026-02-15T00:00:00Z'), 'UTC')).toBe(true)
  })

  it.each(['2001-02-29', '2000-13-01', '2000-00-10', '2000-04-31', '2000-1-01', '20000101', ''])(
    'rejects the birth date %j',
    (text) => {
      expect(() => isBirthdayMonth(text, 0, 'UTC')).toThrow(RangeError)
      expect(() => nextBirthday(text, 0, 'UTC')).toThrow(RangeError)
    },
  )

  it('finds the next birthday midnight on or after an instant', () => {
    expect(nextBirthday('1985-12-24', at('2026-06-01T00:00:00Z'), berlin))
      .toBe(at('2026-12-24T00:00:00+01:00'))
    expect(nextBirthday('1985-12-24', at('2026-12-24T00:00:00+01:00'), berlin))
      .toBe(at('2026-12-24T00:00:00+01:00'))
    expect(nextBirthday('1985-12-24', at('2026-12-24T00:00:00+01:00') + 1, berlin))
      .toBe(at('2027-12-24T00:00:00+01:00'))
    expect(nextBirthday('1985-01-01', at('2026-12-31T18:00:00Z'), kolkata))
      .toBe(at('2027-01-01T00:00:00+05:30'))
  })

  it('celebrates Feb 29 birthdays on Feb 28 in non-leap years', () => {
    const leapling = '2000-02-29'
    expect(nextBirthday(leapling, at('2026-01-01T00:00:00Z'), 'UTC'))
      .toBe(at('2026-02-28T00:00:00Z'))
    expect(nextBirthday(leapling, at('2026-02-28T00:00:00Z'), 'UTC'))
      .toBe(at('2026-02-28T00:00:00Z'))
    expect(nextBirthday(leapling, at('2026-02-28T10:00:00Z'), 'UTC'))
      .toBe(at('2027-02-28T00:00:00Z'))
    expect(nextBirthday(leapling, at('2027-03-01T00:00:00Z'), 'UTC'))
      .toBe(at('2028-02-29T00:00:00Z'))
    expect(nextBirthday(leapling, at('2028-02-28T12:00:00-05:00'), newYork))
      .toBe(at('2028-02-29T00:00:00-05:00'))
  })
})

describe('qualificationWindowStart', () => {
  const enrolledAt = at('2024-02-29T10:00:00Z')

  it('covers the last 365 local days, today included, for rolling12Months', () => {
    const start = (iso: string, zone = 'UTC') =>
      qualificationWindowStart('rolling12Months', at(iso), enrolledAt, zone)
    expect(start('2026-06-15T12:00:00Z')).toBe(at('2025-06-16T00:00:00Z'))
    expect(start('2028-06-15T12:00:00Z')).toBe(at('2027-06-17T00:00:00Z')) // holds Feb 29
    expect(start('2026-06-15T23:30:00Z', berlin)).toBe(at('2025-06-17T00:00:00+02:00'))
    const ms = at('2026-03-29T12:00:00+02:00')
    expect(localDayIndex(ms, berlin) - localDayIndex(start('2026-03-29T10:00:00Z', berlin), berlin))
      .toBe(364)
  })

  it('starts on local Jan 1 for calendarYear', () => {
    const start = (iso: string, zone: string) =>
      qualificationWindowStart('calendarYear', at(iso), enrolledAt, zone)
    expect(start('2026-06-15T12:00:00Z', 'UTC')).toBe(at('2026-01-01T00:00:00Z'))
    expect(start('2026-06-15T12:00:00Z', berlin)).toBe(at('2026-01-01T00:00:00+01:00'))
    expect(start('2027-01-01T03:00:00Z', newYork)).toBe(at('2026-01-01T00:00:00-05:00'))
    expect(start('2026-12-31T19:00:00Z', kolkata)).toBe(at('2027-01-01T00:00:00+05:30'))
  })

  it('starts on the latest enrolment anniversary for membershipYear', () => {
    const start = (iso: string, enrolled = enrolledAt, zone = 'UTC') =>
      qualificationWindowStart('membershipYear', at(iso), enrolled, zone)
    expect(start('2024-06-01T00:00:00Z')).toBe(at('2024-02-29T00:00:00Z'))
    expect(start('2026-02-27T23:59:59Z')).toBe(at('2025-02-28T00:00:00Z'))
    expect(start('2026-02-28T00:00:00Z')).toBe(at('2026-02-28T00:00:00Z'))
    expect(start('2028-02-28T23:59:59Z')).toBe(at('2027-02-28T00:00:00Z'))
    expect(start('2028-02-29T05:00:00Z')).toBe(at('2028-02-29T00:00:00Z'))
    // Enrolled at 02:00 UTC on July 1: still June 30 in New York.
    const june30 = at('2024-07-01T02:00:00Z')
    expect(start('2026-07-01T12:00:00Z', june30, newYork)).toBe(at('2026-06-30T00:00:00-04:00'))
    expect(start('2026-06-30T03:00:00Z', june30, newYork)).toBe(at('2025-06-30T00:00:00-04:00'))
  })
})

describe('nextReview', () => {
  const enrolledAt = at('2024-02-29T10:00:00Z')

  it('falls reviewDays local days after the local day of from, for rolling12Months', () => {
    const from = at('2026-03-07T12:00:00-05:00')
    expect(nextReview('rolling12Months', 1, from, enrolledAt, newYork))
      .toBe(at('2026-03-08T00:00:00-05:00'))
    expect(nextReview('rolling12Months', 2, from, enrolledAt, newYork))
      .toBe(at('2026-03-09T00:00:00-04:00'))
    expect(nextReview('rolling12Months', undefined, from, enrolledAt, newYork))
      .toBe(at('2027-03-07T00:00:00-05:00'))
    expect(nextReview('rolling12Months', 90, at('2026-01-01T00:00:00Z'), enrolledAt, 'UTC'))
      .toBe(at('2026-04-01T00:00:00Z'))
    expect(() => nextReview('rolling12Months', 0, from, enrolledAt, 'UTC')).toThrow(RangeError)
  })

  it('falls on the next local Jan 1 for calendarYear', () => {
    expect(nextReview('calendarYear', undefined, at('2026-06-15T12:00:00Z'), enrolledAt, berlin))
      .toBe(at('2027-01-01T00:00:00+01:00'))
    expect(nextReview('calendarYear', undefined, at('2026-01-01T00:00:00Z'), enrolledAt, 'UTC'))
      .toBe(at('2027-01-01T00:00:00Z'))
    expect(nextReview('calendarYear', undefined, at('2026-12-31T23:59:59Z'), enrolledAt, 'UTC'))
      .toBe(at('2027-01-01T00:00:00Z'))
  })

  it('falls on the next anniversary strictly after from, for membershipYear', () => {
    const review = (iso: string, zone = 'UTC') =>
      nextReview('membershipYear', undefined, at(iso), enrolledAt, zone)
    expect(review('2024-02-29T10:00:00Z')).toBe(at('2025-02-28T00:00:00Z'))
    expect(review('2026-02-27T12:00:00Z')).toBe(at('2026-02-28T00:00:00Z'))
    expect(review('2026-02-28T00:00:00Z')).toBe(at('2027-02-28T00:00:00Z'))
    expect(review('2027-03-01T00:00:00Z')).toBe(at('2028-02-29T00:00:00Z'))
    expect(review('2026-02-27T12:00:00Z', kolkata)).toBe(at('2026-02-28T00:00:00+05:30'))
  })

  it('moves strictly forward, so a catch-up loop ends', () => {
    for (const period of ['rolling12Months', 'calendarYear', 'membershipYear'] as const) {
      let next = at('2025-01-01T00:00:00Z')
      for (let i = 0; i < 5; i++) {
        const later = nextReview(period, 30, next, enrolledAt, berlin)
        expect(later).toBeGreaterThan(next)
        next = later
      }
    }
  })
})

describe('consistency properties', () => {
  it('a local day starts at or before every instant in it and ends after it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: year2000, max: year2100 }),
        fc.constantFrom(...zones),
        (ms, zone) => {
          const { year, month, day } = localTime(ms, zone)
          const start = startOfLocalDay(year, month, day, zone)
          const end = addLocalDays(start, 1, zone)
          expect(start).toBeLessThanOrEqual(ms)
          expect(end).toBeGreaterThan(ms)
          expect(localTime(start, zone)).toMatchObject({ year, month, day, minuteOfDay: 0 })
          expect(localDayIndex(end, zone)).toBe(localDayIndex(ms, zone) + 1)
          expect(localDayIndex(end - 1, zone)).toBe(localDayIndex(ms, zone))
          expect(localMonthIndex(ms, zone)).toBe(year * 12 + month - 1)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('the week index changes exactly when the local day is a Monday', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: year2000, max: year2100 }),
        fc.constantFrom(...zones),
        (ms, zone) => {
          const start = addLocalDays(ms, 0, zone)
          const { weekday } = localTime(start, zone)
          const changed = localWeekIndex(start, zone) !== localWeekIndex(start - 1, zone)
          expect(changed).toBe(weekday === 1)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('expiries are local midnights after the earn instant', () => {
    const upTo = (max: number) => fc.integer({ min: 0, max })
    const policy = fc.oneof(
      fc.record({ kind: fc.constant('days' as const), days: upTo(800) }),
      fc.record({ kind: fc.constant('endOfMonth' as const), months: upTo(30) }),
      fc.record({ kind: fc.constant('endOfYear' as const), years: upTo(5) }),
      fc.record({ kind: fc.constant('months' as const), months: upTo(30) }),
    )
    fc.assert(
      fc.property(
        policy,
        fc.integer({ min: year2000, max: year2100 }),
        fc.constantFrom(...zones),
        (p, earnedAt, zone) => {
          const expiry = expiryOf(p, earnedAt, zone)
          expect(expiry).toBeGreaterThan(earnedAt)
          expect(localTime(expiry, zone).minuteOfDay).toBe(0)
          expect(addLocalDays(expiry, 0, zone)).toBe(expiry)
          if (p.kind === 'months') {
            const earned = localTime(earnedAt, zone)
            const lastDay = localTime(addLocalDays(expiry, -1, zone), zone)
            const clamped = Math.min(earned.day, daysInMonth(lastDay.year, lastDay.month))
            expect(lastDay.day).toBe(clamped)
            const monthsOn = lastDay.year * 12 + lastDay.month - (earned.year * 12 + earned.month)
            expect(monthsOn).toBe(p.months)
          }
        },
      ),
      { numRuns: 1000 },
    )
  })
})
