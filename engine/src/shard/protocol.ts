/**
 * Messages between the engine (main thread) and a shard worker. Commands and
 * replies travel in flat arrays, one message per event-loop turn per worker,
 * so the per-message cost of crossing threads is shared by a whole batch.
 */
import type { Command, LedgerConfig, Reply } from '../domain/types.ts'
import type { ShardLimits } from './shard.ts'

export interface WorkerInit {
  type: 'init'
  shards: { index: number; path: string }[]
  config: Partial<LedgerConfig>
  limits: Partial<ShardLimits>
  noSync: boolean
}

export type ToWorker =
  | WorkerInit
  /** [id, shard, command, id, shard, command, ...] */
  | { type: 'commands'; items: (number | Command)[] }
  | { type: 'close' }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  /** [id, reply, id, reply, ...] */
  | { type: 'replies'; items: (number | Reply)[] }
  | { type: 'closed' }
