/**
 * Which idempotency keys a shard may have stored: a Bloom filter in front of
 * the store's idempotency records. Nearly every mutating command brings a new
 * key, and without the filter each one costs a B-tree descent (a prefetch and
 * a read) to learn that it is new. With it, "not in the filter" means "not
 * stored", and the store is only asked about the few keys that may be there.
 *
 * False positives only cost that read, so the filter needs no deletes. It
 * grows as a chain of generations, each twice the size of the one before up
 * to a limit, so a small shard holds a few KB and a busy one a few MB; a
 * generation is dropped once every key in it is older than the idempotency
 * window and the shard has pruned those keys from its store.
 *
 * @module
 */

import { hash2, hashed } from '../hash.ts'

/** Bits per key a generation is filled to; with 4 probes about 0.24% false positives. */
const bitsPerKey = 16
const probes = 4
const firstGenerationBits = 1 << 16
const generationBitsMax = 1 << 25

interface Generation {
  bits: Uint32Array
  /** Bit count minus one (a power of two). */
  mask: number
  keys: number
  capacity: number
  /** The newest time a key in it was written at. */
  newest: number
}

export class KeyFilter {
  #generations: Generation[] = []

  /** Notes that this key was stored at `at`. */
  add(account: string, key: string, at: number) {
    hash2(account, key)
    const generation = this.#current()
    const { bits, mask } = generation
    const step = stepOf(hashed[1]!)
    let h = hashed[0]!
    for (let i = 0; i < probes; i++) {
      const bit = h & mask
      bits[bit >>> 5]! |= 1 << (bit & 31)
      h = (h + step) | 0
    }
    generation.keys++
    if (at > generation.newest) generation.newest = at
  }

  /** False only when the key was never added (or its generation was dropped). */
  mayContain(account: string, key: string): boolean {
    if (this.#generations.length === 0) return false
    hash2(account, key)
    const first = hashed[0]!
    const step = stepOf(hashed[1]!)
    for (const { bits, mask } of this.#generations) {
      let h = first
      let found = true
      for (let i = 0; i < probes; i++) {
        const bit = h & mask
        if ((bits[bit >>> 5]! & (1 << (bit & 31))) === 0) {
          found = false
          break
        }
        h = (h + step) | 0
      }
      if (found) return true
    }
    return false
  }

  /**
   * Forgets the generations whose keys were all written at or before
   * `cutoff`; call it only once the store holds no key that old.
   */
  dropThrough(cutoff: number) {
    this.#generations = this.#generations.filter((g, i) => g.newest > cutoff || i === this.#generations.length - 1)
  }

  /** Memory held, in bytes (for tests and diagnostics). */
  get bytes(): number {
    return this.#generations.reduce((sum, g) => sum + g.bits.byteLength, 0)
  }

  #current(): Generation {
    const last = this.#generations[this.#generations.length - 1]
    if (last !== undefined && last.keys < last.capacity) return last
    const size = last === undefined ? firstGenerationBits : Math.min(last.bits.length * 64, generationBitsMax)
    const generation: Generation = {
      bits: new Uint32Array(size >>> 5),
      mask: size - 1,
      keys: 0,
      capacity: Math.floor(size / bitsPerKey),
      newest: -Infinity,
    }
    this.#generations.push(generation)
    return generation
  }
}

/** An odd step visits distinct bits in a power-of-two table. */
const stepOf = (hash: number) => hash | 1
