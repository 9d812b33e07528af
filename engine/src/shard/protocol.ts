/**
 * Messages between the engine (main thread) and a shard worker. Commands and
 * replies travel in flat arrays, one message per event-loop turn per worker,
 * so the per-message cost of crossing threads is shared by a whole batch.
 */
import type { Command, LedgerConfig, Reply } from '../domain/types.ts'
import type { RulesetDoc } from '../rules/types.ts'
import type { ShardTotals } from '../domain/totals.ts'
import type { ShardLimits } from './shard.ts'

export interface WorkerInit {
  type: 'init'
  shards: { index: number; path: string }[]
  config: Partial<LedgerConfig>
  limits: Partial<ShardLimits>
  noSync: boolean
  /** The active ruleset (already validated), if any. */
  rules: { version: number; doc: RulesetDoc } | undefined
}

export type ToWorker =
  | WorkerInit
  /** [id, shard, command, id, shard, command, ...] */
  | { type: 'commands'; items: (number | Command)[] }
  | { type: 'close' }
  /** Switch to this ruleset version at each shard's next batch boundary. */
  | { type: 'rules'; version: number; doc: RulesetDoc }
  | { type: 'leaseGranted'; id: number; units: number }
  /** Asks for a shard's totals; answered by `totals` with the same id. */
  | { type: 'totals'; id: number; shard: number }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  /** [id, reply, id, reply, ...] */
  | { type: 'replies'; items: (number | Reply)[] }
  | { type: 'closed' }
  | { type: 'rulesSet'; version: number }
  /** A shard asks for units of a campaign's global quota. */
  | { type: 'lease'; id: number; quotaKey: string; quota: number; wanted: number }
  /** A shard's totals (undefined: the shard is not on this worker). */
  | { type: 'totals'; id: number; totals: ShardTotals | undefined }
