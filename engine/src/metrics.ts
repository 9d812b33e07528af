/**
 * Throughput and latency of the commands the engine answers, second by
 * second, for the last minute: what the console's live chart draws. Each
 * answer costs one bucket increment; the percentiles of a second are read
 * from its histogram of 5%-wide latency buckets, so they are exact to 5%.
 *
 * @module
 */

/** One second of traffic. */
export interface LiveSample {
  /** The second's start (ms since the epoch). */
  at: number
  /** Commands answered in it. */
  ops: number
  p50Ms: number
  p99Ms: number
}

const growth = 1.05
const smallestMs = 0.01
/** 0.01 ms × 1.05^bucketCount > 60 s: every plausible latency has a bucket. */
const bucketCount = 330
const logGrowth = Math.log(growth)

function bucketOf(ms: number): number {
  if (ms <= smallestMs) return 0
  return Math.min(bucketCount - 1, Math.ceil(Math.log(ms / smallestMs) / logGrowth))
}

/** The upper bound of a bucket, which is what its percentile reports. */
function boundOf(bucket: number): number {
  return smallestMs * growth ** bucket
}

export class LiveMetrics {
  readonly #seconds: number
  readonly #clock: () => number
  /** Ring of per-second histograms; slot = second % seconds. */
  readonly #counts: Uint32Array[]
  readonly #secondOf: Float64Array
  readonly #ops: Uint32Array

  constructor(options: { seconds?: number; clock?: () => number } = {}) {
    this.#seconds = options.seconds ?? 60
    this.#clock = options.clock ?? Date.now
    this.#counts = Array.from({ length: this.#seconds }, () => new Uint32Array(bucketCount))
    this.#secondOf = new Float64Array(this.#seconds).fill(-1)
    this.#ops = new Uint32Array(this.#seconds)
  }

  /** Counts one answered command that took `latencyMs`. */
  record(latencyMs: number) {
    const second = Math.floor(this.#clock() / 1000)
    const slot = second % this.#seconds
    if (this.#secondOf[slot] !== second) {
      this.#secondOf[slot] = second
      this.#counts[slot]!.fill(0)
      this.#ops[slot] = 0
    }
    this.#counts[slot]![bucketOf(latencyMs)]! += 1
    this.#ops[slot]! += 1
  }

  /**
   * The last `seconds` complete seconds, oldest first, one sample each
   * (seconds without traffic have `ops` 0).
   */
  series(seconds = this.#seconds): LiveSample[] {
    const current = Math.floor(this.#clock() / 1000)
    const count = Math.min(seconds, this.#seconds - 1)
    const samples: LiveSample[] = []
    for (let second = current - count; second < current; second++) {
      const slot = second % this.#seconds
      if (this.#secondOf[slot] !== second) {
        samples.push({ at: second * 1000, ops: 0, p50Ms: 0, p99Ms: 0 })
        continue
      }
      const counts = this.#counts[slot]!
      const ops = this.#ops[slot]!
      samples.push({ at: second * 1000, ops, p50Ms: percentile(counts, ops, 50), p99Ms: percentile(counts, ops, 99) })
    }
    return samples
  }
}

function percentile(counts: Uint32Array, total: number, p: number): number {
  const rank = Math.ceil((total * p) / 100)
  let seen = 0
  for (let bucket = 0; bucket < counts.length; bucket++) {
    seen += counts[bucket]!
    if (seen >= rank) return Math.round(boundOf(bucket) * 1000) / 1000
  }
  return 0
}
