/**
 * A fixed-memory, HDR-style latency histogram over integer microseconds.
 * Log-linear buckets: values below 2^(subBits+1) are exact; above, each power
 * of two is split into 2^subBits equal buckets, so any recorded value is
 * reported within 1 / 2^subBits of itself (0.8% with the default 7 bits).
 * Recording is O(1) and allocates nothing, so million-op runs keep no samples.
 *
 * @example
 *   const h = new Histogram()
 *   h.record(1234) // µs
 *   h.percentile(99) // µs, the highest value equivalent to the p99 bucket
 *
 * @module
 */

/** Values above this (in µs, about 12.7 days) are clamped to it. */
export const histogramValueMax = 2 ** 40 - 1

export class Histogram {
  readonly subBits: number
  readonly #counts: Float64Array
  #count = 0
  #sum = 0
  #min = Number.POSITIVE_INFINITY
  #max = 0

  constructor(subBits = 7) {
    if (!Number.isInteger(subBits) || subBits < 1 || subBits > 12) {
      throw new RangeError('subBits must be an integer from 1 to 12')
    }
    this.subBits = subBits
    this.#counts = new Float64Array(bucketIndex(histogramValueMax, subBits) + 1)
  }

  get count(): number {
    return this.#count
  }

  /** The smallest recorded value (exact), or 0 when empty. */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min
  }

  /** The largest recorded value (exact), or 0 when empty. */
  get max(): number {
    return this.#max
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count
  }

  /** Records a value in µs (rounded; negatives count as 0), `times` times. */
  record(valueUs: number, times = 1): void {
    const value = clampValue(valueUs)
    this.#counts[bucketIndex(value, this.subBits)]! += times
    this.#count += times
    this.#sum += value * times
    if (value < this.#min) this.#min = value
    if (value > this.#max) this.#max = value
  }

  /**
   * The value at or below which `p` percent of the recorded values fall, as
   * the highest value of its bucket, kept within [min, max]. 0 when empty.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.#count))
    let seen = 0
    for (let index = 0; index < this.#counts.length; index++) {
      seen += this.#counts[index]!
      if (seen >= rank) {
        const top = bucketHighest(index, this.subBits)
        return Math.min(this.#max, Math.max(this.#min, top))
      }
    }
    return this.#max
  }

  /** Adds every value of `other` (which must use the same subBits). */
  add(other: Histogram): void {
    if (other.subBits !== this.subBits) throw new RangeError('histograms differ in subBits')
    if (other.#count === 0) return
    for (let index = 0; index < this.#counts.length; index++) {
      this.#counts[index]! += other.#counts[index]!
    }
    this.#count += other.#count
    this.#sum += other.#sum
    this.#min = Math.min(this.#min, other.#min)
    this.#max = Math.max(this.#max, other.#max)
  }

  reset(): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#sum = 0
    this.#min = Number.POSITIVE_INFINITY
    this.#max = 0
  }
}

function clampValue(valueUs: number): number {
  if (!(valueUs > 0)) return 0
  return Math.min(histogramValueMax, Math.round(valueUs))
}

function highestBit(value: number): number {
  return value < 2 ** 32 ? 31 - Math.clz32(value) : 32 + (31 - Math.clz32(value / 2 ** 32))
}

/** The bucket of a clamped integer value. */
export function bucketIndex(value: number, subBits: number): number {
  const exact = 2 ** (subBits + 1)
  if (value < exact) return value
  const shift = highestBit(value) - subBits
  const sub = Math.floor(value / 2 ** shift)
  return exact + (shift - 1) * 2 ** subBits + (sub - 2 ** subBits)
}

/** The highest value that falls into a bucket. */
export function bucketHighest(index: number, subBits: number): number {
  const exact = 2 ** (subBits + 1)
  if (index < exact) return index
  const half = 2 ** subBits
  const shift = Math.floor((index - exact) / half) + 1
  const sub = ((index - exact) % half) + half
  return (sub + 1) * 2 ** shift - 1
}
