/** Chart scales: round axis tops, linear scaling, and line paths with gaps. */
import { describe, expect, it } from 'vitest'
import { isolatedPoints, linePath, niceCeiling, niceRange, niceTicks, scale } from './chart.ts'

describe('chart scales', () => {
  it('rounds the axis top up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([0, -3, Number.NaN].map(niceCeiling)).toEqual([1, 1, 1])
    expect([0.3, 1, 1.2, 2.2, 3, 7, 11, 240, 900, 1001].map(niceCeiling))
      .toEqual([0.5, 1, 2, 2.5, 5, 10, 20, 250, 1000, 2000])
  })

  it('maps a domain onto a range, inverted ranges too', () => {
    const y = { domain: [0, 100] as [number, number], range: [180, 20] as [number, number] }
    expect(scale(y, 0)).toBe(180)
    expect(scale(y, 50)).toBe(100)
    expect(scale(y, 100)).toBe(20)
    expect(scale({ domain: [5, 5], range: [0, 10] }, 5)).toBe(0)
  })

  it('draws a path through the points and lifts the pen at gaps', () => {
    const x = { domain: [0, 4] as [number, number], range: [0, 40] as [number, number] }
    const y = { domain: [0, 10] as [number, number], range: [100, 0] as [number, number] }
    const points = [{ x: 0, y: 0 }, { x: 1, y: 10 }, { x: 2, y: null }, { x: 3, y: 5 }, { x: 4, y: 5 }]
    expect(linePath(points, x, y)).toBe('M0.0,100.0L10.0,0.0M30.0,50.0L40.0,50.0')
    expect(linePath([], x, y)).toBe('')
  })
})

describe('gridlines and lone samples', () => {
  it('puts gridlines on round steps from 0 to the top', () => {
    expect(niceTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(niceTicks(2)).toEqual([0, 0.5, 1, 1.5, 2])
    expect(niceTicks(2.5)).toEqual([0, 0.5, 1, 1.5, 2, 2.5])
    expect(niceTicks(5)).toEqual([0, 1, 2, 3, 4, 5])
    expect(niceTicks(20)).toEqual([0, 5, 10, 15, 20])
    expect(niceTicks(0.5)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5])
  })

  it('finds samples a line cannot show: a value between gaps', () => {
    expect(isolatedPoints([{ y: null }, { y: 3 }, { y: null }, { y: 1 }, { y: 2 }, { y: null }, { y: 5 }])).toEqual([1, 6])
    expect(isolatedPoints([{ y: 4 }])).toEqual([0])
    expect(isolatedPoints([])).toEqual([])
  })
})

describe('niceRange', () => {
  it('starts at 0 for values that are not negative', () => {
    expect(niceRange([])).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] })
    expect(niceRange([3, 480])).toEqual({ domain: [0, 500], ticks: [0, 100, 200, 300, 400, 500] })
  })

  it('goes below 0 on round steps for a balance in debt, keeping 0 as a gridline', () => {
    const range = niceRange([-80, 20, 240])
    expect(range.domain).toEqual([-100, 300])
    expect(range.ticks).toEqual([-100, 0, 100, 200, 300])
    expect(niceRange([-35])).toEqual({ domain: [-40, 10], ticks: [-40, -30, -20, -10, 0, 10] })
  })
})
