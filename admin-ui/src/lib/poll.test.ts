/**
 * Polling: it starts at once, waits the interval after each answer (never two
 * requests at once, even when the server is slower than the interval), goes on
 * after errors it may retry, stops for good on the others and on `stop`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startPolling } from './poll.ts'

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('startPolling', () => {
  it('polls at once, then every interval after each answer', async () => {
    let n = 0
    const values: number[] = []
    const poll = startPolling({ fetch: async () => ++n, intervalMs: 1000, onValue: (v) => values.push(v), onError: () => undefined })
    await vi.advanceTimersByTimeAsync(0)
    expect(values).toEqual([1])
    await vi.advanceTimersByTimeAsync(999)
    expect(values).toEqual([1])
    await vi.advanceTimersByTimeAsync(1)
    expect(values).toEqual([1, 2])
    await vi.advanceTimersByTimeAsync(3000)
    expect(values).toEqual([1, 2, 3, 4, 5])
    poll.stop()
    await vi.advanceTimersByTimeAsync(5000)
    expect(values).toEqual([1, 2, 3, 4, 5])
  })

  it('never overlaps requests when the server is slower than the interval', async () => {
    let inFlight = 0
    let most = 0
    let calls = 0
    const fetch = () => {
      calls++
      inFlight++
      most = Math.max(most, inFlight)
      return new Promise<number>((resolve) => setTimeout(() => {
        inFlight--
        resolve(calls)
      }, 2500))
    }
    const poll = startPolling({ fetch, intervalMs: 1000, onValue: () => undefined, onError: () => undefined })
    poll.now()
    await vi.advanceTimersByTimeAsync(10_000)
    poll.stop()
    expect(most).toBe(1)
    // Each round is 2.5 s of request plus 1 s of interval.
    expect(calls).toBe(3)
  })

  it('goes on after retryable errors and stops on the others', async () => {
    const errors: unknown[] = []
    let n = 0
    const fetch = async () => {
      n++
      if (n === 2) throw new Error('flaky')
      if (n === 3) throw new Error('fatal')
      return n
    }
    startPolling({
      fetch,
      intervalMs: 100,
      onValue: () => undefined,
      onError: (e) => errors.push(e),
      retryAfter: (e) => (e as Error).message !== 'fatal',
    })
    await vi.advanceTimersByTimeAsync(1000)
    expect(errors.map((e) => (e as Error).message)).toEqual(['flaky', 'fatal'])
    expect(n).toBe(3)
  })

  it('drops an answer that arrives after stop', async () => {
    const values: number[] = []
    let resolve: (v: number) => void = () => undefined
    const poll = startPolling({ fetch: () => new Promise<number>((r) => { resolve = r }), intervalMs: 100, onValue: (v) => values.push(v), onError: () => undefined })
    poll.stop()
    resolve(1)
    await vi.advanceTimersByTimeAsync(500)
    expect(values).toEqual([])
  })
})
