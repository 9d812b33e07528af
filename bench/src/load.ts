/**
 * Load generators. Closed loop keeps a fixed number of units in flight, each
 * starting the next as soon as it finishes. Open loop starts units on a fixed
 * schedule whatever the replies do and hands each its scheduled start time,
 * so latency counts the time a unit waited to be sent (no coordinated omission).
 *
 * @module
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A unit of load, started at `startMs` (a `performance.now()` time); returns
 * false instead of a promise when there is no more work.
 */
export type Step = (startMs: number) => Promise<void> | false

/** Runs `step` on `concurrency` lanes until every lane gets false. */
export async function closedLoop(concurrency: number, step: Step): Promise<void> {
  const lane = async () => {
    for (;;) {
      const unit = step(performance.now())
      if (unit === false) return
      await unit
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
}

export interface OpenLoopResult {
  /** Units started. */
  started: number
  /** The most units waiting for a reply at once. */
  inFlightMax: number
}

/**
 * Starts `units` units, one every `1000 / unitsPerSec` ms from now, and
 * resolves once all are answered. Sending is checked every millisecond.
 */
export async function openLoop(
  unitsPerSec: number,
  units: number,
  step: Step,
): Promise<OpenLoopResult> {
  const intervalMs = 1000 / unitsPerSec
  const start = performance.now()
  let started = 0
  let inFlight = 0
  let inFlightMax = 0
  let failure: unknown
  const settle = () => void inFlight--
  while (started < units && failure === undefined) {
    const due = Math.min(units, Math.floor((performance.now() - start) / intervalMs) + 1)
    for (; started < due; started++) {
      const unit = step(start + started * intervalMs)
      if (unit === false) return { started, inFlightMax }
      inFlight++
      unit.then(settle, (error: unknown) => (failure ??= error))
    }
    inFlightMax = Math.max(inFlightMax, inFlight)
    await sleep(1)
  }
  while (inFlight > 0 && failure === undefined) await sleep(1)
  if (failure !== undefined) throw failure
  return { started, inFlightMax }
}

/**
 * Calls `fn` once `performance.now()` has reached `due`, never before: a
 * timer may fire up to a millisecond early by that clock, which would open a
 * measured phase before the load's own deadline counts from and end it
 * before the load stops.
 */
export function atOrAfter(due: number, fn: () => void): void {
  const left = due - performance.now()
  if (left > 0) setTimeout(() => atOrAfter(due, fn), Math.max(1, Math.ceil(left)))
  else fn()
}
