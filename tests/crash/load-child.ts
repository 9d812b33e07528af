/**
 * The crash test's load child: opens the engine on a data folder and runs a
 * concurrent mix of ledger commands until it is killed. Every command is
 * announced with a `sent` line before it goes to the engine and answered with
 * an `ack` line after its reply arrived (see protocol.ts).
 *
 * Usage: node --import tsx tests/crash/load-child.ts <dataDir> <round> [carry.json] [burns.json]
 * where carry.json holds commands of earlier rounds to send again, unchanged,
 * and burns.json redemption refs earlier rounds had acknowledged (to refund).
 *
 * @module
 */
import { readFileSync, writeSync } from 'node:fs'
import {
  openEngine,
  type AdjustCommand,
  type AuthorizeCommand,
  type EarnCommand,
  type Engine,
  type RedeemCommand,
  type RefundCommand,
  type Reply,
  type ReverseCommand,
} from '@loyalty/engine'
import {
  accountId,
  childLanes,
  crashAccounts,
  crashShards,
  crashWorkers,
  outcomeUnknown,
  type AckLine,
  type ChildLine,
  type CrashCommand,
  type KnownBurnRef,
} from './protocol.ts'

/** The child ends itself after this long, in case its parent is gone. */
const lifetimeMsMax = 120_000
/** Answered commands remembered for deliberate retries. */
const retryPoolMax = 4000

interface KnownHold {
  id: number
  points: number
}

interface KnownRef {
  ref: string
  amount: number
}

/** A redemption with a `ref` (several may share one) of this run or an earlier one: what a refund may name. */
interface KnownBurn {
  ref: string
  points: number
  amount: number
}

interface Known {
  holds: KnownHold[]
  refs: KnownRef[]
  burns: KnownBurn[]
}

const known = new Map<string, Known>()
const answered: { cmd: CrashCommand; reply: Reply }[] = []
let sends = 0

/**
 * Writes one line straight to the stdout pipe and returns only once the
 * kernel has all of it: a `sent` line must be out before its command goes
 * to the engine, or a kill could hide a command that ran.
 */
function emit(line: ChildLine) {
  const bytes = Buffer.from(JSON.stringify(line) + '\n')
  let offset = 0
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
    }
  }
}

function int(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1))
}

function chance(p: number): boolean {
  return Math.random() < p
}

function pick<T>(items: T[]): T | undefined {
  return items[Math.floor(Math.random() * items.length)]
}

/** Removes and returns a random item. */
function take<T>(items: T[]): T | undefined {
  if (items.length === 0) return undefined
  const index = Math.floor(Math.random() * items.length)
  const [item] = items.splice(index, 1)
  return item
}

function knownOf(account: string): Known {
  let k = known.get(account)
  if (k === undefined) known.set(account, (k = { holds: [], refs: [], burns: [] }))
  return k
}

// ---------------------------------------------------------------------------
// Command builders: each returns the commands of one step (a race sends two).

function earn(account: string, key: string): EarnCommand {
  const cmd: EarnCommand = { op: 'earn', account, key, points: int(10, 500) }
  const now = Date.now()
  if (chance(0.35)) cmd.expiresAt = now + int(800, 8000)
  if (chance(0.15)) cmd.activeFrom = now + int(200, 600)
  if (chance(0.4)) cmd.amount = cmd.points * int(5, 20)
  if (chance(0.15)) cmd.ref = `bundle-${account}-${key.split('-')[0]}-${int(0, 2)}`
  return cmd
}

function authorize(account: string, key: string): AuthorizeCommand {
  const cmd: AuthorizeCommand = { op: 'authorize', account, key, points: int(5, 150) }
  if (chance(0.35)) cmd.timeoutMs = int(300, 4000)
  return cmd
}

/**
 * A hold of this run on the account (usually taken off the list, sometimes
 * left on it so that it is closed twice), or now and then a guessed id.
 */
function holdFor(account: string, keep: number): KnownHold | undefined {
  const holds = knownOf(account).holds
  const hold = chance(keep) ? pick(holds) : take(holds)
  if (hold !== undefined || !chance(0.25)) return hold
  return { id: int(1, 60), points: int(1, 50) }
}

function capture(account: string, key: string): CrashCommand {
  const hold = holdFor(account, 0.15)
  if (hold === undefined) return authorize(account, key)
  const cmd: CrashCommand = { op: 'capture', account, key, hold: hold.id }
  if (chance(0.4)) cmd.points = int(1, hold.points)
  else if (chance(0.05)) cmd.points = hold.points + 1
  return cmd
}

function voidHold(account: string, key: string): CrashCommand {
  const hold = holdFor(account, 0.15)
  if (hold === undefined) return authorize(account, key)
  return { op: 'void', account, key, hold: hold.id }
}

/** A capture and a void of the same hold, sent together: exactly one may win. */
function race(account: string, key: string): CrashCommand[] {
  const hold = holdFor(account, 0)
  if (hold === undefined) return [authorize(account, key)]
  return [
    { op: 'capture', account, key: `${key}c`, hold: hold.id },
    { op: 'void', account, key: `${key}v`, hold: hold.id },
  ]
}

/**
 * A redemption; some name a purchase (`ref`, so a burn record is kept for
 * refunds), a few of those the purchase of an earlier redemption (they
 * refund together), most of those with the money the points paid for.
 */
function redeem(account: string, key: string): RedeemCommand {
  const cmd: RedeemCommand = { op: 'redeem', account, key, points: int(5, 300) }
  if (!chance(0.5)) return cmd
  const earlier = chance(0.15) ? pick(knownOf(account).burns) : undefined
  cmd.ref = earlier?.ref ?? `order-${key}`
  if (chance(0.6)) cmd.amount = cmd.points * int(2, 20)
  return cmd
}

/**
 * A refund of a redemption the child knows (its own, or one an earlier round
 * had acknowledged): by money (which may add up to more
 * than was paid), by points (now and then more than were burned), or all
 * that is left (refused once nothing is). Some name no redemption: a ref
 * never used, or an earn's ref (a purchase, not a redemption); a few give an
 * amount for a redemption without one (invalid_request). With no redemption
 * known on the account, usually a redemption with a ref instead.
 */
function refund(account: string, key: string): RefundCommand | RedeemCommand {
  const k = knownOf(account)
  const burn = chance(0.9) ? pick(k.burns) : undefined
  if (burn === undefined && chance(0.2)) {
    const earned = chance(0.5) ? pick(k.refs)?.ref : undefined
    return { op: 'refund', account, key, ref: earned ?? `nope-${int(0, 9)}` }
  }
  if (burn === undefined) return { ...redeem(account, key), ref: `order-${key}` }
  const cmd: RefundCommand = { op: 'refund', account, key, ref: burn.ref }
  const how = Math.random()
  if (how < 0.35 && (burn.amount > 0 || chance(0.15))) {
    const amount = Math.max(burn.amount, 1)
    cmd.amount = chance(0.1) ? amount + int(1, 50) : int(1, Math.ceil(amount * 0.6))
  } else if (how < 0.75) {
    cmd.points = chance(0.1) ? burn.points + int(1, 20) : int(1, Math.ceil(burn.points * 0.6))
  }
  if (chance(0.2)) cmd.reason = 'returned'
  return cmd
}

function reverse(account: string, key: string): ReverseCommand {
  const ref = pick(knownOf(account).refs)
  if (ref === undefined) return { op: 'reverse', account, key, ref: `nope-${int(0, 9)}` }
  const cmd: ReverseCommand = { op: 'reverse', account, key, ref: ref.ref }
  const how = Math.random()
  if (how < 0.35 && ref.amount > 0) cmd.amount = int(1, ref.amount)
  else if (how < 0.75) cmd.points = int(1, 120)
  if (chance(0.5)) cmd.shortfall = chance(0.5) ? 'debt' : 'clamp'
  return cmd
}

function adjust(account: string, key: string): AdjustCommand {
  const credit = chance(0.5)
  const cmd: AdjustCommand = {
    op: 'adjust',
    account,
    key,
    points: credit ? int(1, 200) : -int(1, 200),
    reason: 'crash-test',
  }
  if (credit && chance(0.3)) cmd.expiresAt = Date.now() + int(800, 6000)
  return cmd
}

/** The same command again (same key, same payload): a replay. */
function retry(): CrashCommand | undefined {
  return pick(answered)?.cmd
}

/** An earlier key with other points: must get exists_with_different_points. */
function mismatch(): CrashCommand | undefined {
  const earlier = pick(answered)
  if (earlier === undefined || outcomeUnknown.has(earlier.reply.status)) return undefined
  if (earlier.reply.status === 'invalid_request') return undefined
  const cmd = earlier.cmd
  if (cmd.op === 'void' || cmd.op === 'reverse') return undefined
  // A refund takes amount or points, not both: change the one it gave (or give points).
  if (cmd.op === 'refund' && cmd.amount !== undefined) return { ...cmd, amount: cmd.amount + 1 }
  const points = cmd.points ?? 0
  if (cmd.op === 'capture' && cmd.points === undefined) return { ...cmd, points: 1 }
  if (cmd.op === 'refund' && cmd.points === undefined) return { ...cmd, points: 1 }
  return { ...cmd, points: points > 0 ? points + 1 : points - 1 } as CrashCommand
}

const mix: [weight: number, build: (account: string, key: string) => CrashCommand[]][] = [
  [26, (a, k) => [earn(a, k)]],
  [14, (a, k) => [authorize(a, k)]],
  [10, (a, k) => [capture(a, k)]],
  [7, (a, k) => [voidHold(a, k)]],
  [3, race],
  [12, (a, k) => [redeem(a, k)]],
  [8, (a, k) => [reverse(a, k)]],
  [7, (a, k) => [refund(a, k)]],
  [7, (a, k) => [adjust(a, k)]],
  [8, () => [retry()].filter((c) => c !== undefined)],
  [3, () => [mismatch()].filter((c) => c !== undefined)],
]
const mixTotal = mix.reduce((sum, [w]) => sum + w, 0)

function nextStep(key: string): CrashCommand[] {
  const account = accountId(int(0, crashAccounts - 1))
  let roll = Math.random() * mixTotal
  for (const [weight, build] of mix) {
    roll -= weight
    if (roll < 0) return build(account, key)
  }
  return [earn(account, key)]
}

// ---------------------------------------------------------------------------
// Sending

function learn(cmd: CrashCommand, reply: Reply) {
  answered.push({ cmd, reply })
  if (answered.length > retryPoolMax) answered.splice(0, answered.length - retryPoolMax)
  if (reply.status !== 'ok') return
  const k = knownOf(cmd.account)
  if (cmd.op === 'authorize' && reply.hold !== undefined) {
    k.holds.push({ id: reply.hold, points: cmd.points })
  } else if (cmd.op === 'earn') {
    const ref = cmd.ref ?? cmd.key
    if (!k.refs.some((r) => r.ref === ref)) k.refs.push({ ref, amount: cmd.amount ?? 0 })
  } else if (cmd.op === 'redeem' && cmd.ref !== undefined) {
    // Several redemptions on one ref refund together (the first amount given counts).
    const burn = k.burns.find((b) => b.ref === cmd.ref)
    if (burn === undefined) k.burns.push({ ref: cmd.ref, points: cmd.points, amount: cmd.amount ?? 0 })
    else {
      burn.points += cmd.points
      burn.amount ||= cmd.amount ?? 0
    }
  }
}

function ackLine(n: number, cmd: CrashCommand, reply: Reply): AckLine {
  const line: AckLine = {
    t: 'ack',
    n,
    account: cmd.account,
    key: cmd.key,
    op: cmd.op,
    status: reply.status,
  }
  if (reply.entry !== undefined) line.entry = reply.entry
  if (reply.hold !== undefined) line.hold = reply.hold
  if (reply.points !== undefined) line.points = reply.points
  return line
}

async function send(engine: Engine, cmd: CrashCommand) {
  const n = ++sends
  emit({ t: 'sent', n, cmd })
  const reply = await engine.execute(cmd)
  emit(ackLine(n, cmd, reply))
  learn(cmd, reply)
}

async function lane(engine: Engine, round: number, id: number, carry: CrashCommand[]) {
  for (let i = 0; ; i++) {
    const carried = carry.pop()
    const step = carried !== undefined ? [carried] : nextStep(`r${round}-${id}-${i}`)
    await Promise.all(step.map((cmd) => send(engine, cmd)))
  }
}

function readCarry(path: string | undefined): CrashCommand[] {
  if (path === undefined) return []
  return JSON.parse(readFileSync(path, 'utf8')) as CrashCommand[]
}

function readBurns(path: string | undefined) {
  if (path === undefined) return
  const burns = JSON.parse(readFileSync(path, 'utf8')) as KnownBurnRef[]
  for (const { account, ref, points, amount } of burns) knownOf(account).burns.push({ ref, points, amount })
}

async function main() {
  const [dataDir, roundText, carryPath, burnsPath] = process.argv.slice(2)
  const round = Number(roundText)
  if (dataDir === undefined || !Number.isInteger(round)) {
    throw new Error('usage: load-child.ts <dataDir> <round> [carry.json]')
  }
  setTimeout(() => process.exit(2), lifetimeMsMax)
  const carry = readCarry(carryPath)
  readBurns(burnsPath)
  const engine = await openEngine({ dataDir, shards: crashShards, workers: crashWorkers })
  emit({ t: 'ready', round })
  const lanes = Array.from({ length: childLanes }, (_, id) => lane(engine, round, id, carry))
  await Promise.all(lanes)
}

main().catch((error: unknown) => {
  const text = error instanceof Error ? error.stack : String(error)
  process.stderr.write(`load child failed: ${text}\n`)
  process.exit(1)
})
