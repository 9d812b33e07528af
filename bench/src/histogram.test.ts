/**
 * Tests of the latency histogram: exact small values, bounded relative error
 * of its buckets, and percentiles against known distributions.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { bucketHighest, bucketIndex, Histogram, histogramValueMax } from './histogram.ts'
import { seededRandom } from './rng.ts'

function exactPercentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

function expectClose(actual: number, expected: number, relative = 1 / 128) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * relative + 1)
}

describe('Histogram', () => {
  it('is exact below 256 µs', () => {
    const h = new Histogram()
    for (let v = 1; v <= 100; v++) h.record(v)
    expect(h.percentile(50)).toBe(50)
    expect(h.percentile(99)).toBe(99)
    expect(h.percentile(100)).toBe(100)
    expect(h.percentile(0)).toBe(1)
    expect(h.min).toBe(1)
    expect(h.max).toBe(100)
    expect(h.mean).toBe(50.5)
    expect(h.count).toBe(100)
  })

  it('keeps every value within 1/128 of its bucket', () => {
    const random = seededRandom(7)
    const bad: number[] = []
    for (let i = 0; i < 100_000; i++) {
      const value = Math.floor(random() ** 4 * histogramValueMax)
      const index = bucketIndex(value, 7)
      const top = bucketHighest(index, 7)
      const below = index > 0 ? bucketHighest(index - 1, 7) : -1
      if (top < value || top - value > value / 128 || below >= value) bad.push(value)
    }
    expect(bad).toEqual([])
  })

  it('matches a uniform distribution', () => {
    const h = new Histogram()
    for (let v = 1; v <= 1_000_000; v++) h.record(v)
    expectClose(h.percentile(50), 500_000)
    expectClose(h.percentile(99), 990_000)
    expectClose(h.percentile(99.9), 999_000)
    expect(h.max).toBe(1_000_000)
  })

  it('matches an exponential distribution sample', () => {
    const random = seededRandom(42)
    const h = new Histogram()
    const samples: number[] = []
    for (let i = 0; i < 200_000; i++) {
      const value = Math.round(-Math.log(1 - random()) * 5000)
      samples.push(value)
      h.record(value)
    }
    samples.sort((a, b) => a - b)
    for (const p of [50, 90, 99, 99.9, 99.99]) {
      expectClose(h.percentile(p), exactPercentile(samples, p))
    }
    expect(h.max).toBe(samples[samples.length - 1])
  })

  it('handles a bimodal distribution (the p99 lands in the slow mode)', () => {
    const h = new Histogram()
    h.record(1_000, 980)
    h.record(250_000, 20)
    expectClose(h.percentile(50), 1_000)
    expectClose(h.percentile(98), 1_000)
    expectClose(h.percentile(99), 250_000)
  })

  it('rounds, clamps and merges', () => {
    const a = new Histogram()
    a.record(-5)
    a.record(2.4)
    a.record(histogramValueMax * 4)
    expect(a.min).toBe(0)
    expect(a.max).toBe(histogramValueMax)
    const b = new Histogram()
    b.record(10, 3)
    b.add(a)
    expect(b.count).toBe(6)
    expect(b.percentile(50)).toBe(10)
    b.reset()
    expect(b.count).toBe(0)
    expect(b.percentile(99)).toBe(0)
    expect(() => b.add(new Histogram(5))).toThrow(RangeError)
  })
})
