/**
 * The campaign calendar's layout: civil days in the program's time zone
 * (including across DST changes), Monday-first weeks covering the month, bars
 * split per week with their columns and spans, and lanes that never put two
 * overlapping campaigns together and keep a campaign in one lane all month.
 */
import { describe, expect, it } from 'vitest'
import { civilDate, dayInZone, dayNumber, layoutMonth, localDayStart, shiftMonth, type CalendarItem } from './calendar.ts'

const at = (iso: string) => Date.parse(iso)
const item = (id: string, from: string, to: string): CalendarItem => ({ id, label: id, from: at(from), to: at(to) })

describe('days', () => {
  it('starts a typed day at midnight where the browser is, and refuses days the calendar has not', () => {
    const start = localDayStart('2026-03-05')!
    expect(new Date(start).getDate()).toBe(5)
    expect([new Date(start).getHours(), new Date(start).getMinutes()]).toEqual([0, 0])
    expect(start).toBe(new Date(2026, 2, 5).getTime())
    for (const text of ['2026-02-31', '2026-13-01', '5.3.2026', '']) expect(localDayStart(text)).toBeUndefined()
  })

  it('numbers civil dates from 1970-01-01 and back, with ISO weekdays', () => {
    expect(dayNumber(1970, 1, 1)).toBe(0)
    expect(civilDate(dayNumber(2026, 11, 23))).toEqual({ year: 2026, month: 11, day: 23, weekday: 1 })
    expect(civilDate(dayNumber(2026, 11, 29)).weekday).toBe(7)
    expect(dayNumber(2024, 3, 1) - dayNumber(2024, 2, 28)).toBe(2)
  })

  it('finds the day an instant falls on in a time zone', () => {
    expect(dayInZone(at('2026-11-23T23:30:00Z'), 'UTC')).toBe(dayNumber(2026, 11, 23))
    expect(dayInZone(at('2026-11-23T23:30:00Z'), 'Europe/Berlin')).toBe(dayNumber(2026, 11, 24))
    expect(dayInZone(at('2026-11-24T03:00:00Z'), 'America/New_York')).toBe(dayNumber(2026, 11, 23))
    // Berlin moves to summer time on 2026-03-29 at 01:00 UTC.
    expect(dayInZone(at('2026-03-28T23:30:00Z'), 'Europe/Berlin')).toBe(dayNumber(2026, 3, 29))
    expect(dayInZone(at('2026-03-29T22:30:00Z'), 'Europe/Berlin')).toBe(dayNumber(2026, 3, 30))
  })

  it('shifts months across years', () => {
    expect(shiftMonth(2026, 12, 1)).toEqual({ year: 2027, month: 1 })
    expect(shiftMonth(2026, 1, -1)).toEqual({ year: 2025, month: 12 })
    expect(shiftMonth(2026, 5, 14)).toEqual({ year: 2027, month: 7 })
  })
})

describe('layoutMonth', () => {
  it('covers the month in Monday-first weeks, marking days outside it', () => {
    const layout = layoutMonth([], 2026, 11, 'UTC')
    // November 2026 starts on a Sunday and ends on a Monday: six weeks.
    expect(layout.weeks).toHaveLength(6)
    expect(layout.weeks[0]!.days.map((d) => d.date)).toEqual([26, 27, 28, 29, 30, 31, 1])
    expect(layout.weeks[0]!.days.map((d) => d.inMonth)).toEqual([false, false, false, false, false, false, true])
    expect(layout.weeks[5]!.days[0]).toMatchObject({ date: 30, inMonth: true })
    expect(layout.weeks.every((week) => week.lanes === 0 && week.bars.length === 0)).toBe(true)
    // February 2027 starts on a Monday and has exactly four weeks.
    expect(layoutMonth([], 2027, 2, 'UTC').weeks).toHaveLength(4)
  })

  it('splits a campaign into one bar per week, with columns, spans and continuations', () => {
    // Wednesday 11th to Tuesday 17th inclusive (the end is exclusive).
    const layout = layoutMonth([item('spring', '2026-11-11T00:00:00Z', '2026-11-18T00:00:00Z')], 2026, 11, 'UTC')
    const bars = layout.weeks.map((week) => week.bars)
    expect(bars[2]).toEqual([{ id: 'spring', label: 'spring', lane: 0, column: 2, span: 5, continuesBefore: false, continuesAfter: true }])
    expect(bars[3]).toEqual([{ id: 'spring', label: 'spring', lane: 0, column: 0, span: 2, continuesBefore: true, continuesAfter: false }])
    expect(bars.filter((week) => week.length > 0)).toHaveLength(2)
  })

  it('uses the program time zone for where a campaign starts and ends', () => {
    // Midnight in Berlin is 23:00 UTC the day before: in UTC it would start a day early.
    const weekend = item('weekend', '2026-11-13T23:00:00Z', '2026-11-15T23:00:00Z')
    const berlin = layoutMonth([weekend], 2026, 11, 'Europe/Berlin').weeks[2]!.bars[0]!
    const utc = layoutMonth([weekend], 2026, 11, 'UTC').weeks[2]!.bars[0]!
    expect([berlin.column, berlin.span]).toEqual([5, 2])
    expect([utc.column, utc.span]).toEqual([4, 3])
  })

  it('gives overlapping campaigns different lanes and keeps each in its lane all month', () => {
    const layout = layoutMonth([
      item('long', '2026-10-01T00:00:00Z', '2027-01-01T00:00:00Z'),
      item('first', '2026-11-02T00:00:00Z', '2026-11-05T00:00:00Z'),
      item('after', '2026-11-05T00:00:00Z', '2026-11-20T00:00:00Z'),
      item('overlap', '2026-11-04T00:00:00Z', '2026-11-10T00:00:00Z'),
    ], 2026, 11, 'UTC')
    const lanes = new Map<string, Set<number>>()
    for (const week of layout.weeks) {
      for (const bar of week.bars) lanes.set(bar.id, (lanes.get(bar.id) ?? new Set()).add(bar.lane))
      // No two bars of a week share a lane where they share a day.
      for (const a of week.bars) {
        for (const b of week.bars) {
          if (a === b || a.lane !== b.lane) continue
          expect(a.column + a.span <= b.column || b.column + b.span <= a.column).toBe(true)
        }
      }
    }
    // Every campaign is laid out: the lane comparisons below are not between two missing ones.
    expect([...lanes.keys()].sort()).toEqual(['after', 'first', 'long', 'overlap'])
    expect([...lanes.values()].every((set) => set.size === 1)).toBe(true)
    expect(lanes.get('long')).toEqual(new Set([0]))
    // `after` starts the day `first` ends (exclusive): it can reuse its lane.
    expect(lanes.get('first')).toEqual(lanes.get('after'))
    expect(lanes.get('overlap')).not.toEqual(lanes.get('first'))
    expect(layout.weeks[1]!.lanes).toBe(3)
  })

  it('leaves out campaigns outside the grid and empty ones', () => {
    const layout = layoutMonth([
      item('old', '2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z'),
      item('empty', '2026-11-10T00:00:00Z', '2026-11-10T00:00:00Z'),
      item('edge', '2026-10-26T00:00:00Z', '2026-10-27T00:00:00Z'),
    ], 2026, 11, 'UTC')
    const ids = layout.weeks.flatMap((week) => week.bars.map((bar) => bar.id))
    expect(ids).toEqual(['edge'])
  })
})
