/**
 * Two independent 32-bit hashes of a string (or of a pair of strings, kept
 * apart so that ("ab", "c") and ("a", "bc") differ), for the in-memory
 * filters that spare a B-tree read: the shard's idempotency-key filter and
 * the registry's bulk-load filter. FNV-1a style passes with two offsets and
 * multipliers over the UTF-16 code units, each through Murmur3's finaliser.
 * Nothing hashed here is stored, so the functions may change freely.
 *
 * @module
 */

/** Where `hash2` leaves its result: [first, second]; the first is never 0. */
export const hashed = new Int32Array(2)

export function hash2(text: string, then?: string): void {
  let first = 0x811c9dc5
  let second = 0x6a09e667
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    first = Math.imul(first ^ code, 0x01000193)
    second = Math.imul(second ^ code, 0x5bd1e995)
  }
  if (then !== undefined) {
    // A separator no UTF-16 code unit equals.
    first = Math.imul(first ^ 0x10000, 0x01000193)
    second = Math.imul(second ^ 0x10000, 0x5bd1e995)
    for (let i = 0; i < then.length; i++) {
      const code = then.charCodeAt(i)
      first = Math.imul(first ^ code, 0x01000193)
      second = Math.imul(second ^ code, 0x5bd1e995)
    }
  }
  hashed[0] = finalise(first) || 1
  hashed[1] = finalise(second)
}

function finalise(hash: number): number {
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  return hash ^ (hash >>> 16)
}
