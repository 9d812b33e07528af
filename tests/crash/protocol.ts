/**
 * What the crash test's load child and its parent share: the lines the child
 * writes on stdout (one JSON object per line) and the workload's constants.
 *
 * The child writes `sent` before it hands a command to the engine and `ack`
 * only after the reply arrived, so whatever the parent read before the kill
 * was acknowledged, and every command that may have reached the engine has a
 * `sent` line.
 *
 * @module
 */
import { mismatchStatus, type PointsCommand, type RefundCommand, type Reply } from '@loyalty/engine'

/** Shards of the crash data folder and worker threads of the child's engine. */
export const crashShards = 4
export const crashWorkers = 2
/** Accounts the load is spread over: `acct-0` .. `acct-299`. */
export const crashAccounts = 300
/** Concurrent command loops in the child. */
export const childLanes = 48

export type Status = Reply['status']

/** What the child sends: the points ledger's own commands, and refunds of its redemptions. */
export type CrashCommand = PointsCommand | RefundCommand

export interface ReadyLine {
  t: 'ready'
  round: number
}

export interface SentLine {
  t: 'sent'
  /** Sequence number of the send within the child run; the ack repeats it. */
  n: number
  cmd: CrashCommand
}

export interface AckLine {
  t: 'ack'
  n: number
  account: string
  key: string
  op: CrashCommand['op']
  status: Status
  entry?: number
  hold?: number
  points?: number
}

export type ChildLine = ReadyLine | SentLine | AckLine

/**
 * A redemption ref some earlier round had acknowledged (`ok`), handed to the
 * next child so that it refunds redemptions that lived through a kill too.
 * Points and amount are hints for the refund sizes, not exact.
 */
export interface KnownBurnRef {
  account: string
  ref: string
  points: number
  amount: number
}

export function accountId(index: number): string {
  return `acct-${index}`
}

/** The journal entry kind an ok command of each op writes, carrying its key. */
export const entryKindOf: Record<CrashCommand['op'], string> = {
  earn: 'earn',
  authorize: 'hold',
  capture: 'capture',
  void: 'void',
  redeem: 'burn',
  reverse: 'reverse',
  refund: 'refund',
  adjust: 'adjust',
}

/** Statuses that tell nothing about whether the command ran (treated as unanswered). */
export const outcomeUnknown: ReadonlySet<Status> = new Set<Status>([
  'overloaded',
  'unavailable',
])

/** Statuses of a replay whose stored terms differ; nothing is stored for them. */
export const mismatchStatuses: ReadonlySet<Status> = new Set<Status>(mismatchStatus)

/** Failures the ledger stores under the key and repeats on a retry. */
export function isStickyFailure(status: Status): boolean {
  return (
    status !== 'ok' &&
    status !== 'exists' &&
    status !== 'invalid_request' &&
    !outcomeUnknown.has(status) &&
    !mismatchStatuses.has(status)
  )
}
