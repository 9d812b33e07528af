/**
 * Which shard owns an account: FNV-1a (32-bit) of the account id, modulo the
 * shard count. Stable forever for a data folder, since the count is fixed.
 *
 * @example
 *   shardOf('member-42:main', 4) // 0..3
 */
export function shardOf(account: string, shards: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < account.length; i++) {
    hash ^= account.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % shards
}
