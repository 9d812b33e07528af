/** The balance chart's data: paging the newest entries, the step series, its domain and time labels. */
import { describe, expect, it } from 'vitest'
import { balanceMoved, balanceSeries, loadRecentEntries, timeDomain, timeLabels } from './balance.ts'
import type { Entry, History } from './types.ts'

const entry = (seq: number, at: number, points: number, balance: number, kind: Entry['kind'] = 'earn'): Entry =>
  ({ seq, kind, at, points, held: 0, balance })

describe('loadRecentEntries', () => {
  /** A history of `total` entries, newest first, paged like the server (`next` is the next page's `before`). */
  function fakeHistory(total: number) {
    const asked: { limit: number; before?: number }[] = []
    const page = async (query: { limit: number; before?: number }): Promise<History> => {
      asked.push(query)
      const top = query.before ?? total + 1
      const seqs = Array.from({ length: top - 1 }, (_, i) => top - 1 - i).slice(0, query.limit)
      const entries = seqs.map((seq) => entry(seq, seq * 1000, 10, seq * 10))
      const last = seqs.at(-1)
      return last !== undefined && last > 1 ? { status: 'ok', entries, next: last } : { status: 'ok', entries }
    }
    return { page, asked }
  }

  it('reads pages of 100 with before = next until it has 200 entries', async () => {
    const history = fakeHistory(450)
    const loaded = await loadRecentEntries(history.page)
    expect(history.asked).toEqual([{ limit: 100 }, { limit: 100, before: 351 }])
    expect(loaded.entries.map((e) => e.seq).slice(0, 2)).toEqual([450, 449])
    expect(loaded.entries).toHaveLength(200)
    expect(loaded.complete).toBe(false)
  })

  it('stops at the end of a short history and says it is complete', async () => {
    const history = fakeHistory(130)
    const loaded = await loadRecentEntries(history.page)
    expect(history.asked).toEqual([{ limit: 100 }, { limit: 100, before: 31 }])
    expect(loaded).toMatchObject({ complete: true })
    expect(loaded.entries).toHaveLength(130)
    expect((await loadRecentEntries(fakeHistory(0).page)).entries).toEqual([])
  })

  it('asks only for what is missing on the last page', async () => {
    const history = fakeHistory(500)
    await loadRecentEntries(history.page, 150)
    expect(history.asked).toEqual([{ limit: 100 }, { limit: 50, before: 401 }])
  })
})

describe('balanceSeries', () => {
  it('steps from zero through each change, oldest first, whatever the order given', () => {
    const entries = [entry(3, 3000, -50, 100, 'burn'), entry(1, 1000, 100, 100), entry(2, 2000, 50, 150)]
    expect(balanceSeries(entries)).toEqual([
      { x: 1000, y: 0 }, { x: 1000, y: 100 },
      { x: 2000, y: 100 }, { x: 2000, y: 150 },
      { x: 3000, y: 150 }, { x: 3000, y: 100 },
    ])
  })

  it('carries the last balance on to now, so one moment still draws a line', () => {
    const entries = [entry(1, 1000, 0, 0, 'enroll'), entry(2, 1000, 100, 100)]
    expect(balanceSeries(entries, true, 61_000)).toEqual([
      { x: 1000, y: 0 }, { x: 1000, y: 100 }, { x: 61_000, y: 100 },
    ])
    expect(balanceSeries(entries, true, 1000)).toHaveLength(2)
    expect(balanceSeries([], true, 5000)).toEqual([])
  })

  it('skips entries that leave the balance as it was (holds, tiers)', () => {
    const entries = [entry(1, 1000, 0, 0, 'tier'), entry(2, 2000, 80, 80), entry(3, 3000, 0, 80, 'tier')]
    expect(balanceSeries(entries)).toEqual([{ x: 1000, y: 0 }, { x: 2000, y: 0 }, { x: 2000, y: 80 }])
  })

  it('starts at the first loaded balance when older entries were not loaded', () => {
    const entries = [entry(201, 5000, 20, 900), entry(202, 6000, -100, 800)]
    expect(balanceSeries(entries, false)).toEqual([{ x: 5000, y: 900 }, { x: 6000, y: 900 }, { x: 6000, y: 800 }])
    expect(balanceSeries([])).toEqual([])
  })

  it('tells a balance that never moved (a new member) from one that did', () => {
    expect(balanceMoved([])).toBe(false)
    expect(balanceMoved([entry(1, 1000, 0, 0, 'tier')])).toBe(false)
    expect(balanceMoved([entry(1, 1000, 100, 100), entry(2, 2000, -100, 0, 'burn')])).toBe(true)
  })
})

describe('time axis', () => {
  it('spans the series, or an hour around a single moment', () => {
    expect(timeDomain([{ x: 1000, y: 0 }, { x: 9000, y: 5 }])).toEqual([1000, 9000])
    expect(timeDomain([{ x: 3_600_000, y: 5 }])).toEqual([1_800_000, 5_400_000])
    expect(timeDomain([])).toEqual([0, 1])
  })

  it('writes dates over days, times within a day, seconds within minutes', () => {
    const day = 86_400_000
    const start = Date.UTC(2026, 10, 1)
    const days = timeLabels([start, start + 8 * day], 4, 'en-US', 'UTC')
    expect(days.map((label) => label.text)).toEqual(['Nov 2', 'Nov 4', 'Nov 6', 'Nov 8'])
    expect(days[0]!.x).toBe(start + day)
    const hours = timeLabels([start, start + 4 * 3_600_000], 4, 'en-US', 'UTC')
    expect(hours.map((label) => label.text)).toEqual(['00:30', '01:30', '02:30', '03:30'])
    const seconds = timeLabels([start, start + 40_000], 4, 'en-US', 'UTC')
    expect(seconds.map((label) => label.text)).toEqual(['00:00:05', '00:00:15', '00:00:25', '00:00:35'])
  })
})
