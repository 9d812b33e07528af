/**
 * Programmer-error assertions for the pure domain (which may not import
 * `node:*`). A failed assertion throws; in a shard worker that crashes the
 * worker, and the supervisor restarts the shard from its durable state.
 */
export class AssertionError extends Error {
  override name = 'AssertionError'
}

export default function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}
