/**
 * Point transfers between accounts, which may live on different shards, as
 * durable sagas: no step ever locks two shards.
 *
 *   1. hold the points on the source (`authorize`),
 *   2. credit them to the target (`earn`, ref `transfer:<id>`),
 *   3. capture the hold,
 *
 * and if the credit is refused for good, void the hold instead. (Member checks
 * run once, before the first step; the steps skip them, so a target closed
 * half-way still gets its points and nothing stays held. The void covers a
 * refusal that no retry can change, which the ledger does not give an earn
 * today.) Each step is an ordinary ledger command with a key derived
 * from the saga id, so running a step twice applies it once; the saga record
 * is written to the registry before the first step and after each one, and
 * every unfinished saga is resumed when the engine opens. A crash at any
 * point therefore ends, after a restart, with the transfer applied exactly
 * once or not at all.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Database, RootDatabase } from 'lmdb'
import { neverExpires, type Balance, type Command, type HeldLot, type Reply } from './domain/types.ts'
import { validateCommand } from './domain/validate.ts'
import type { Logger } from './logger.ts'
import type { Actor } from './registry/audit.ts'
import type { Member, MemberRegistry, RegistryResult } from './registry/members.ts'

export type SagaState = 'started' | 'held' | 'credited' | 'done' | 'failed'

export interface TransferSaga {
  id: string
  from: string
  to: string
  points: number
  state: SagaState
  hold?: number
  /** Why it failed (the refusing reply's status and message). */
  failure?: { status: string; message?: string }
  reason: string
  actor: Actor
  createdAt: number
  /** Local day index of the start, for per-day limits. */
  day: number
  /**
   * The accounts the points leave and reach, when not `from` and `to`
   * themselves: a household member's is the household's pool. Fixed when the
   * saga starts, so its capture finds the hold where it was taken.
   */
  debit?: string
  credit?: string
  /**
   * The held points by expiry date, when some expire (from the hold's reply):
   * the receiver gets them with the same dates, one credit per date, so a
   * transfer never extends their life. Absent: one credit that never expires.
   */
  lots?: HeldLot[]
  /** How many of `lots` are credited so far. */
  credited?: number
  /**
   * Lots of `lots` not credited because their date came first (while the
   * saga waited, or on the way to the receiver): they expired in transit,
   * and the capture counts them as expired on the sender, not as burned.
   */
  expired?: HeldLot[]
  /**
   * The household link or merge whose move of the sender's points this
   * transfer is: its hold is the one the sender's account takes while that
   * move has it marked (`MoveCommand`).
   */
  move?: string
}

export interface TransferLimits {
  /** Points one transfer may move at most. */
  perTransferMax: number
  /** Points one account may send per day at most (UTC days). */
  perDayMax: number
}

export const transferLimitsDefault: TransferLimits = { perTransferMax: 100_000, perDayMax: 250_000 }

export interface TransferRequest {
  from: string
  to: string
  points: number
  /** The caller's idempotency key: the same key starts the same saga once. */
  key: string
  reason?: string
}

/** Merging duplicate member `from` into `into`, as a saga of its own. */
export interface MergeSaga {
  id: string
  from: string
  into: string
  /** started → absorbed (identifiers moved, `from` closed) → done (points moved). */
  state: 'started' | 'absorbed' | 'done' | 'failed'
  failure?: { status: string; message?: string }
  actor: Actor
  createdAt: number
}

/**
 * Linking `member` to the household headed by `master`, as a saga of its own:
 * the link and the move of the member's points are two writes in two places
 * (the registry, then the ledger), and a crash between them must not leave
 * the member linked with its points where its commands no longer reach.
 */
export interface LinkSaga {
  id: string
  member: string
  master: string
  /** The member's own account, whose points move. */
  from: string
  /** started → linked (the registry says so) → done (points moved); a refused link is not kept. */
  state: 'started' | 'linked' | 'done' | 'failed'
  /** The key of its first transfer (`key:1`, `key:2` for further attempts): one per link. */
  key: string
  /** The reply the link ended with (done or failed). */
  reply?: Reply
  actor: Actor
  createdAt: number
}

/**
 * Lots credited at once, as one step: their credits are sent together, so
 * they reach the receiver's shard in one batch (one flush), and the saga's
 * progress is saved once for them. Linking a member with 500 lots took 1.5 s
 * one lot a step.
 */
const lotsCreditedAtOnce = 64

/** How many times a household link or a merge tries to move the member's points, when a command spent some meanwhile. */
const linkMoveAttempts = 3

/** A hold lasts as long as the ledger allows, so a saga resumed days later can still capture it. */
const sagaHoldTimeoutMs = 7 * 24 * 3_600_000
const dayMs = 86_400_000

/**
 * Test hook: `LOYALTY_SAGA_CRASH_AFTER=started|held|credited` kills the process right after that step
 * (`started`: also after a settlement's record of moving nothing is saved).
 */
const crashAfter = process.env['LOYALTY_SAGA_CRASH_AFTER']


/**
 * A transfer's saga id: from its account and the caller's key, unambiguous
 * whatever characters they hold, and short enough that the keys of its steps
 * (`saga:<id>:capture`) stay within the 128 characters a key may have.
 */
function transferId(from: string, key: string): string {
  return `t-${createHash('sha256').update(JSON.stringify([from, key])).digest('hex').slice(0, 32)}`
}

export class SagaStore {
  readonly #root: RootDatabase
  readonly #sagas: Database<TransferSaga, string>
  readonly #open: Database<true, string>
  readonly #bySender: Database<number, (string | number)[]>
  readonly #merges: Database<MergeSaga, string>
  readonly #links: Database<LinkSaga, string>

  constructor(root: RootDatabase) {
    this.#root = root
    this.#sagas = root.openDB({ name: 'sagas' })
    this.#open = root.openDB({ name: 'sagas-open' })
    this.#bySender = root.openDB({ name: 'sagas-by-sender' })
    this.#merges = root.openDB({ name: 'merges' })
    this.#links = root.openDB({ name: 'links' })
  }

  link(id: string): LinkSaga | undefined {
    return this.#links.get(id)
  }

  unfinishedLinks(): LinkSaga[] {
    return Array.from(this.#links.getRange({}), ({ value }) => value).filter((l) => l.state === 'started' || l.state === 'linked')
  }

  async removeMerge(id: string): Promise<void> {
    await this.#merges.remove(id)
    await this.#root.flushed
  }

  async removeLink(id: string): Promise<void> {
    await this.#links.remove(id)
    await this.#root.flushed
  }

  async saveLink(link: LinkSaga): Promise<void> {
    await this.#links.put(link.id, link)
    await this.#root.flushed
  }

  merge(id: string): MergeSaga | undefined {
    return this.#merges.get(id)
  }

  unfinishedMerges(): MergeSaga[] {
    return Array.from(this.#merges.getRange({}), ({ value }) => value).filter((m) => m.state !== 'done' && m.state !== 'failed')
  }

  async saveMerge(merge: MergeSaga): Promise<void> {
    await this.#merges.put(merge.id, merge)
    await this.#root.flushed
  }

  get(id: string): TransferSaga | undefined {
    return this.#sagas.get(id)
  }

  unfinished(): TransferSaga[] {
    return Array.from(this.#open.getKeys({}), (id) => this.#sagas.get(id)!).filter((s) => s !== undefined)
  }

  /** Points an account started sending on `day` (failed sagas do not count). */
  sentOn(account: string, day: number): number {
    let sum = 0
    for (const { value } of this.#bySender.getRange({ start: [account, day], end: [account, day, '\uffff'] })) sum += value
    return sum
  }

  async save(saga: TransferSaga): Promise<void> {
    this.#sagas.put(saga.id, saga)
    const finished = saga.state === 'done' || saga.state === 'failed'
    if (finished) this.#open.remove(saga.id)
    else this.#open.put(saga.id, true)
    if (saga.state === 'failed') this.#bySender.remove([saga.from, saga.day, saga.id])
    else this.#bySender.put([saga.from, saga.day, saga.id], saga.points)
    await this.#root.flushed
  }
}

type Submit = (input: Record<string, unknown>) => Promise<Reply>

export class Sagas {
  readonly #store: SagaStore
  readonly #submit: Submit
  readonly #members: MemberRegistry
  readonly #limits: TransferLimits
  readonly #clock: () => number
  readonly #log: Logger
  readonly #running = new Map<string, Promise<TransferSaga>>()
  /**
   * Points of transfers that passed the daily limit but are not yet saved
   * (sender and day → points): counted with the saved ones, so transfers
   * started at once cannot each pass the limit alone.
   */
  readonly #reserved = new Map<string, number>()
  #stopped = false

  constructor(options: {
    store: SagaStore
    submit: Submit
    members: MemberRegistry
    limits?: Partial<TransferLimits>
    clock: () => number
    logger: Logger
  }) {
    this.#store = options.store
    this.#submit = options.submit
    this.#members = options.members
    this.#limits = { ...transferLimitsDefault, ...options.limits }
    this.#clock = options.clock
    this.#log = options.logger
  }

  get(id: string): TransferSaga | undefined {
    return this.#store.get(id)
  }

  /** The transfer a caller started from `from` with `key`, if any. */
  transferOf(from: string, key: string): TransferSaga | undefined {
    return this.#store.get(transferId(from, key)) ?? this.#legacy({ from, key })
  }

  /** A household link saga's record, by id `l-<member>-<started at>-<random>`. */
  linkRecord(id: string): LinkSaga | undefined {
    return this.#store.link(id)
  }

  /** A merge saga's record, by id `m-<from>-<into>`. */
  mergeRecord(id: string): MergeSaga | undefined {
    return this.#store.merge(id)
  }

  /**
   * A saga started before ids were hashed, under `t-<from>-<key>`. That id
   * is ambiguous (account `a` with key `b-c`, and account `a-b` with key
   * `c`), so a stored saga counts only if it is from the same account, which
   * fixes its key as well.
   */
  #legacy(request: Pick<TransferRequest, 'from' | 'key'>): TransferSaga | undefined {
    const saga = this.#store.get(`t-${request.from}-${request.key}`)
    return saga !== undefined && saga.from === request.from ? saga : undefined
  }

  /** The engine is closing: sagas stop between steps and resume at the next open. */
  stop() {
    this.#stopped = true
  }

  /**
   * Moves points from one account to another. Resolves when the saga has
   * finished (done or failed); a repeated key returns the same saga.
   *
   * A `system` transfer may be of 0 points: the engine's settlement of a
   * return that decided to move nothing. It is saved, already `done`, with
   * no step and no audit entry, so a retry with the same key finds that
   * decision (`transferOf`) and moves nothing either, whatever the accounts
   * hold by then.
   */
  async transfer(request: TransferRequest, actor: Actor, system = false, move?: string): Promise<{ saga: TransferSaga } | Reply> {
    const refusal = this.#check(request, system)
    if (refusal !== undefined) return refusal
    const id = transferId(request.from, request.key)
    const known = this.#store.get(id) ?? this.#legacy(request)
    if (known !== undefined) {
      if (known.to !== request.to || known.points !== request.points) {
        return { status: 'exists_with_different_payload', message: `transfer ${request.key} was started with other terms` }
      }
      return { saga: await this.#drive(known) }
    }
    const now = this.#clock()
    const day = Math.floor(now / dayMs)
    // A household member's points are its household's: they leave and arrive there.
    const debit = system ? request.from : this.#accountOf(request.from)
    const credit = system ? request.to : this.#accountOf(request.to)
    if (debit === credit) {
      return { status: 'invalid_request', field: 'to', message: `${request.from} and ${request.to} share the points of household ${debit}` }
    }
    const reservation = `${request.from}\u0000${day}`
    const reserved = this.#reserved.get(reservation) ?? 0
    if (!system && this.#store.sentOn(request.from, day) + reserved + request.points > this.#limits.perDayMax) {
      return { status: 'invalid_request', field: 'points', message: `${request.from} may send at most ${this.#limits.perDayMax} points a day` }
    }
    this.#reserved.set(reservation, reserved + request.points)
    const nothing = request.points === 0
    const saga: TransferSaga = {
      id,
      from: request.from,
      to: request.to,
      points: request.points,
      state: nothing ? 'done' : 'started',
      reason: request.reason ?? 'transfer',
      actor,
      createdAt: now,
      day,
      ...(debit === request.from ? {} : { debit }),
      ...(credit === request.to ? {} : { credit }),
      ...(move === undefined ? {} : { move }),
    }
    try {
      // Points sent to an account nobody has would be lost to the sender: the target must be a
      // member or hold an account already.
      if (!system && this.#members.get(request.to) === undefined) {
        const target = await this.#submit({ op: 'balance', account: request.to })
        if (target.status === 'account_not_found') {
          return { status: 'account_not_found', field: 'to', message: `no member or account ${request.to} to transfer to` }
        }
      }
      // Once saved, the saga counts in `sentOn`.
      await this.#store.save(saga)
    } finally {
      const left = this.#reserved.get(reservation)! - request.points
      if (left === 0) this.#reserved.delete(reservation)
      else this.#reserved.set(reservation, left)
    }
    // A decision to move nothing: kept, with nothing to run.
    if (nothing) {
      if (crashAfter === 'started') process.kill(process.pid, 'SIGKILL')
      return { saga }
    }
    this.#members.audit.record(actor, 'transfer.start', request.from, { to: request.to, points: request.points, saga: id })
    if (crashAfter === 'started') process.kill(process.pid, 'SIGKILL')
    return { saga: await this.#drive(saga) }
  }

  /** Finishes every saga a crash or shutdown left unfinished. */
  async resume(): Promise<number> {
    const open = this.#store.unfinished()
    for (const saga of open) {
      this.#log.info(`resuming transfer ${saga.id} (${saga.state})`)
      await this.#drive(saga)
    }
    const merges = this.#store.unfinishedMerges()
    for (const merge of merges) {
      this.#log.info(`resuming merge ${merge.id} (${merge.state})`)
      await this.#runMerge(merge)
    }
    const links = this.#store.unfinishedLinks()
    for (const link of links) {
      this.#log.info(`resuming household link ${link.id} (${link.state})`)
      await this.#runLink(link)
    }
    return open.length + merges.length + links.length
  }

  /**
   * Links `member` to the household headed by `master` and moves the points
   * it holds (what is spendable now) into the household's account, as a
   * saga resumed after a crash (`LinkSaga`).
   */
  async linkHousehold(member: string, master: string, actor: Actor): Promise<Reply> {
    const before = this.#members.get(member)
    if (before === undefined) return { status: 'account_not_found', field: 'id', message: `no member ${member}` }
    const unmovable = await this.#unmovable(before, 'id')
    if (unmovable !== undefined) return unmovable
    const now = this.#clock()
    // One key per link: a member linked, unlinked and linked again moves its points again.
    const link: LinkSaga = {
      // Two links asked for at once each have their own record (the registry refuses the second).
      id: `l-${member}-${now}-${randomUUID().slice(0, 8)}`,
      member,
      master,
      from: before.account,
      state: 'started',
      key: `household:${master}:${now}`,
      actor,
      createdAt: now,
    }
    await this.#store.saveLink(link)
    if (crashAfter === 'link-started') process.kill(process.pid, 'SIGKILL')
    return (await this.#runLink(link)).reply!
  }

  async #runLink(link: LinkSaga): Promise<LinkSaga> {
    if (link.state === 'started') {
      // The member's own account is marked as moving (checking that nothing is held, owed or
      // pending) before the registry links it, so no till's hold can land between the check and the
      // move (see `MoveCommand`). A member in a household already (also this one: resumed after the
      // registry's write, when the mark is there already), or heading one, is not marked: the
      // registry refuses the link of such a member, and its account is a pool.
      const member = this.#members.get(link.member)
      const marks = member !== undefined && member.household === undefined && link.from === member.id && this.#members.householdOf(member.id).length === 0
      const refused = marks ? await this.#beginMove(link.id, member, 'id') : undefined
      if (refused !== undefined) {
        link.state = 'failed'
        link.reply = withoutMoving(refused)
        await this.#store.removeLink(link.id)
        return link
      }
      if (crashAfter === 'link-moving') process.kill(process.pid, 'SIGKILL')
      const linked = await this.#members.linkHousehold(link.member, link.master, link.actor)
      // Resumed after a crash that came after the registry's write: the link is there already.
      const already = !linked.ok && this.#members.get(link.member)?.household === link.master
      if (linked.ok || already) {
        link.state = 'linked'
        await this.#store.saveLink(link)
      } else {
        // Refused (already in a household, another program...): nothing happened, nothing to keep.
        if (marks) await this.#endMove(link.id, link.from)
        link.state = 'failed'
        link.reply = linked.ok ? undefined : { status: linked.status, field: linked.field, message: linked.message }
        await this.#store.removeLink(link.id)
      }
      if (crashAfter === 'link-linked') process.kill(process.pid, 'SIGKILL')
    }
    if (link.state === 'linked') {
      const pool = this.#members.get(link.master)!.account
      const moved = await this.#moveAll(link.from, pool, link.key, `household ${link.master}`, link.actor, link.id)
      if ('status' in moved) link.reply = moved
      else if (moved.refused === undefined) link.reply = { status: 'ok', points: moved.points }
      else {
        // Refused for good (the household's account cannot take them): the link stands, and says so.
        const { status, message, spendable } = moved.refused
        link.reply = {
          status: status as Reply['status'],
          ...(status === 'invalid_request' ? { field: 'points' } : {}),
          message: `member ${link.member} is linked to household ${link.master}, but its ${spendable} points could not move there and stay on its own account: ${message ?? status}`,
        }
      }
      // The move is over: its own account takes holds again (a crash before this ends it on resume).
      await this.#endMove(link.id, link.from)
      link.state = 'done'
      await this.#store.saveLink(link)
    }
    return link
  }

  /**
   * Moves what `from` can spend to `to`, as system transfers keyed `key`,
   * then `key:1`, `key:2`: a command that reached `from` between the balance
   * read and the hold (a till's redemption sent before a link) makes the hold
   * insufficient, and the points left move by another attempt instead of
   * staying where nothing reaches them. A key already used (a resumed saga)
   * finds its transfer and its terms.
   */
  async #moveAll(
    from: string,
    to: string,
    key: string,
    reason: string,
    actor: Actor,
    move: string,
  ): Promise<Reply | { points: number; refused?: { status: string; message?: string; spendable: number } }> {
    let points = 0
    for (let attempt = 0; attempt < linkMoveAttempts; attempt++) {
      const attemptKey = attempt === 0 ? key : `${key}:${attempt}`
      const spendable = this.transferOf(from, attemptKey)?.points ?? (await this.#spendable(from))
      if (spendable === 0) break
      const moved = await this.transfer({ from, to, points: spendable, key: attemptKey, reason }, actor, true, move)
      if ('status' in moved) return moved
      if (moved.saga.state !== 'failed') {
        points += spendable
        continue
      }
      const failure = moved.saga.failure!
      if (failure.status === 'insufficient_points' && attempt + 1 < linkMoveAttempts) continue
      return { points, refused: { ...failure, spendable } }
    }
    return { points }
  }

  /**
   * Merges duplicate member `from` into `into`: identifiers move, `from` is
   * closed, and its spendable points move to `into`'s account, as a saga
   * resumed after a crash. Its journal stays on its own account.
   */
  async merge(from: string, into: string, actor: Actor): Promise<{ merge: MergeSaga } | Reply> {
    if (from === into) return { status: 'invalid_request', field: 'into', message: 'a member cannot be merged with itself' }
    const source = this.#members.get(from)
    const target = this.#members.get(into)
    if (source === undefined) return { status: 'account_not_found', field: 'from', message: `no member ${from}` }
    if (target === undefined) return { status: 'account_not_found', field: 'into', message: `no member ${into}` }
    if (target.status !== 'active') return { status: 'member_suspended', field: 'into', message: `member ${into} is ${target.status}` }
    if (target.mergedInto !== undefined) return { status: 'invalid_request', field: 'into', message: `member ${into} was merged into ${target.mergedInto}` }
    const id = `m-${from}-${into}`
    const known = this.#store.merge(id)
    if (known !== undefined) return { merge: await this.#runMerge(known) }
    if (source.mergedInto !== undefined) return { status: 'invalid_request', field: 'from', message: `member ${from} was merged into ${source.mergedInto}` }
    const refused = await this.#mergeable(source)
    if (refused !== undefined) return refused
    const merge: MergeSaga = { id, from, into, state: 'started', actor, createdAt: this.#clock() }
    await this.#store.saveMerge(merge)
    if (crashAfter === 'merge-started') process.kill(process.pid, 'SIGKILL')
    const ran = await this.#runMerge(merge)
    return this.#refusedMoves.get(ran) ?? { merge: ran }
  }

  /** Merges refused when their move began (a hold came first): the refusal, answered as a check's would be. */
  readonly #refusedMoves = new WeakMap<MergeSaga, Reply>()

  /**
   * Marks `member`'s own account as moving for household link or merge
   * `move` (see `MoveCommand`): the check that nothing is held, owed or
   * pending, made by the account's own shard in the step that marks it, so
   * no authorization can come between. Undefined when marked; otherwise the
   * refusal, in the words of `#unmovable` (with `moving` when another move
   * has the account).
   */
  async #beginMove(move: string, member: Member, field: string): Promise<(Reply & { moving?: string }) | undefined> {
    const reply = await this.#retrying({ op: 'move', account: member.account, move, step: 'begin' })
    if (reply.status === 'ok') return undefined
    if (reply.moving !== undefined) {
      return { status: 'invalid_request', field, message: `member ${member.id}'s points are being moved already (${reply.moving}); try again once that ends`, moving: reply.moving }
    }
    const why = reply.balance === undefined ? undefined : unmovableReason(member.id, field, reply.balance)
    return why ?? { status: reply.status, field, message: reply.message ?? `member ${member.id}'s points cannot move now` }
  }

  /** Ends `move`'s mark on `account` (idempotent: no mark, or another move's, is left as it is). */
  async #endMove(move: string, account: string): Promise<void> {
    const reply = await this.#retrying({ op: 'move', account, move, step: 'end' })
    if (reply.status !== 'ok') this.#log.error(`ending move ${move} on ${account} failed (${reply.status}: ${reply.message ?? ''})`)
  }

  /**
   * Why `source` may not be merged away now. Its account's points move, so it
   * must be its own account (not a household's pool) with nothing held and
   * nothing owed; and a suspended member's cards must not come back to life
   * on another member.
   */
  async #mergeable(source: Member): Promise<Reply | undefined> {
    if (source.status === 'suspended') return { status: 'member_suspended', field: 'from', message: `member ${source.id} is suspended; reinstate it before merging it` }
    return this.#pooling(source) ?? this.#unmovable(source, 'from')
  }

  /** Why `source` may not be merged while it is in a household or heads one (its account is then a pool), or undefined. */
  #pooling(source: Member): Reply | undefined {
    const refuse = (message: string): Reply => ({ status: 'invalid_request', field: 'from', message })
    if (source.household !== undefined) return refuse(`member ${source.id} pools its points in household ${source.household}; unlink it first`)
    const dependants = this.#members.householdOf(source.id).length
    if (dependants > 0) return refuse(`member ${source.id} heads a household of ${dependants}; unlink its members first`)
    return undefined
  }

  /**
   * Why `member`'s points cannot move to another account now, or undefined
   * (`unmovableReason`), from a balance read: an early answer before a link or
   * merge is saved. It is not what keeps a hold out (one may come right
   * after the read): the move's first step checks again and marks the
   * account in one command (`#beginMove`).
   */
  async #unmovable(member: Member, field: string): Promise<Reply | undefined> {
    const reply = await this.#submit({ op: 'balance', account: member.account })
    return reply.status === 'ok' && reply.balance !== undefined ? unmovableReason(member.id, field, reply.balance) : undefined
  }

  /**
   * Erases a member (see `MemberRegistry.erase`), and with it the facts the
   * ledger keeps for rules (birth date, gender, country, segments).
   */
  async erase(id: string, actor: Actor): Promise<RegistryResult<Member>> {
    const erased = await this.#members.erase(id, actor)
    if (!erased.ok) return erased
    const cleared = await this.#submit({ op: 'profile', account: erased.value.account, key: `erase:${id}`, member: {} })
    // A member never enrolled has no facts in the ledger to clear.
    if (cleared.status !== 'ok' && cleared.status !== 'exists' && cleared.status !== 'account_not_found' && cleared.field !== 'account') {
      this.#log.error(`erasing ${id}: clearing its facts in the ledger failed (${cleared.status}: ${cleared.message ?? ''})`)
    }
    return erased
  }

  async #runMerge(merge: MergeSaga): Promise<MergeSaga> {
    if (merge.state === 'started') {
      // Marked as moving before the registry merges it, as a household link's member is (`#runLink`).
      const source = this.#members.get(merge.from)
      const marks = source !== undefined && source.household === undefined && source.account === source.id
      const refused = marks ? await this.#beginMove(merge.id, source, 'from') : undefined
      // A merge saved before moves were marked, resumed after a crash that came after the registry's
      // absorb: the member is merged already, its points must move whatever is held (as before).
      const legacy = refused !== undefined && refused.moving === undefined && source?.mergedInto === merge.into
      // What `#mergeable` found before the merge was saved may have changed since: a household link of the
      // member that ran meanwhile made its account a household's pool, which the move would empty into
      // `into` (and the member, closed, would stay in the household). Looked at again once its own account
      // is marked, so no link of it can come after, unless the registry has merged it already (resumed).
      const current = refused === undefined ? this.#members.get(merge.from) : undefined
      const pooled = current !== undefined && current.mergedInto === undefined ? this.#pooling(current) : undefined
      if (pooled !== undefined && marks) await this.#endMove(merge.id, merge.from)
      const refusal = pooled ?? (refused !== undefined && !legacy ? refused : undefined)
      if (refusal !== undefined) {
        merge.state = 'failed'
        merge.failure = refusal.message === undefined ? { status: refusal.status } : { status: refusal.status, message: refusal.message }
        this.#refusedMoves.set(merge, withoutMoving(refusal))
        // Not kept: once the hold is settled (or the member unlinked), the same merge may be asked for again.
        await this.#store.removeMerge(merge.id)
        return merge
      }
      if (crashAfter === 'merge-moving') process.kill(process.pid, 'SIGKILL')
      const absorbed = await this.#members.absorb(merge.from, merge.into, merge.actor)
      if (!absorbed.ok) {
        if (marks) await this.#endMove(merge.id, merge.from)
        merge.state = 'failed'
        merge.failure = { status: absorbed.status, message: absorbed.message }
      } else merge.state = 'absorbed'
      await this.#store.saveMerge(merge)
      if (crashAfter === 'merge-absorbed') process.kill(process.pid, 'SIGKILL')
    }
    if (merge.state === 'absorbed') {
      const from = this.#members.get(merge.from)!
      const into = this.#members.get(merge.into)!
      const moved = await this.#moveAll(from.account, into.account, `merge:${merge.into}`, `merge of ${merge.from}`, merge.actor, merge.id)
      if ('status' in moved || moved.refused !== undefined) {
        const why = 'status' in moved ? moved : moved.refused!
        this.#log.error(`merge ${merge.id}: moving points failed (${why.status}: ${why.message ?? ''}); what is left stays on ${from.account}`)
      }
      await this.#endMove(merge.id, from.account)
      merge.state = 'done'
      await this.#store.saveMerge(merge)
    }
    return merge
  }

  /** The account a member's points are in (its household's, when it has one); any other id as it is. */
  #accountOf(id: string): string {
    return this.#members.get(id)?.account ?? id
  }

  async #spendable(account: string): Promise<number> {
    const reply = await this.#submit({ op: 'balance', account })
    return reply.status === 'ok' ? Math.max(0, reply.balance?.available ?? 0) : 0
  }

  #check(request: TransferRequest, system: boolean): Reply | undefined {
    // The engine's own may record a decision to move nothing (see `transfer`).
    if (system && request.points === 0) return undefined
    if (!Number.isSafeInteger(request.points) || request.points < 1) {
      return { status: 'invalid_request', field: 'points', message: 'points must be a positive integer' }
    }
    if (system) return undefined
    // The saga's steps are commands on both accounts under this key: check them as
    // such now, or a bad id would be refused half-way, after the hold was taken.
    for (const field of ['from', 'to'] as const) {
      const step = { op: 'adjust', account: request[field], key: request.key, points: request.points, reason: request.reason ?? 'transfer' }
      const validation = validateCommand(step)
      if (!validation.ok) {
        const { reply } = validation
        if (reply.field !== 'account') return reply
        return { ...reply, field, message: (reply.message ?? '').replace(/^account\b/, field) }
      }
    }
    if (request.points > this.#limits.perTransferMax) {
      return { status: 'invalid_request', field: 'points', message: `a transfer moves at most ${this.#limits.perTransferMax} points` }
    }
    if (request.from === request.to) return { status: 'invalid_request', field: 'to', message: 'a transfer needs two different accounts' }
    for (const [field, account] of [['from', request.from], ['to', request.to]] as const) {
      const member = this.#members.get(account)
      if (member !== undefined && member.status !== 'active') {
        return { status: 'member_suspended', field, message: `member ${account} is ${member.status}` }
      }
    }
    // Sending points away spends them, as a redemption does.
    if (this.#members.get(request.from)?.redemptionAllowed === false) {
      return { status: 'redemption_not_allowed', field: 'from', message: `member ${request.from} may not redeem, nor send points away` }
    }
    return undefined
  }

  /** Lots a running saga credits at once, once a full mailbox made it send fewer. */
  readonly #chunk = new WeakMap<TransferSaga, number>()

  /** Runs one saga to its end; concurrent callers share the run. */
  #drive(saga: TransferSaga): Promise<TransferSaga> {
    const running = this.#running.get(saga.id)
    if (running !== undefined) return running
    const run = this.#steps(saga).finally(() => this.#running.delete(saga.id))
    this.#running.set(saga.id, run)
    return run
  }

  async #steps(saga: TransferSaga): Promise<TransferSaga> {
    while (saga.state !== 'done' && saga.state !== 'failed' && !this.#stopped) {
      const reply = saga.state === 'held' && saga.lots !== undefined ? await this.#creditLots(saga) : await this.#step(saga)
      if (reply.status === 'overloaded' || reply.status === 'unavailable') {
        // Transient: the same step, with the same key, is safe to run again.
        await new Promise((r) => setTimeout(r, 100))
        continue
      }
      await this.#advance(saga, reply)
    }
    return saga
  }

  #step(saga: TransferSaga): Promise<Reply> {
    const key = (step: string) => `saga:${saga.id}:${step}`
    switch (saga.state) {
      case 'started':
        return this.#submit({
          op: 'authorize',
          account: debitOf(saga),
          key: key('hold'),
          points: saga.points,
          timeoutMs: sagaHoldTimeoutMs,
          ...(saga.move === undefined ? {} : { move: saga.move }),
        })
      case 'held':
        return this.#submit({ ...creditStep(saga), key: key('credit'), points: saga.points })
      default:
        return this.#submit({
          op: 'capture',
          account: debitOf(saga),
          key: key('capture'),
          hold: saga.hold!,
          ...(saga.expired === undefined ? {} : { expiredInTransit: saga.expired }),
        })
    }
  }

  /**
   * The next lots to credit (up to `lotsCreditedAtOnce`), sent together. Ok
   * with `credits`, how many were credited; otherwise the first refusal in
   * their order, with `credits` the lots credited before it (a transient
   * refusal has the step run again: the credits made answer `exists`).
   * `expired`: those of the `credits` lots whose date came first, which were
   * not credited.
   */
  async #creditLots(saga: TransferSaga): Promise<Reply & { credits?: number; expired?: HeldLot[] }> {
    const from = saga.credited ?? 0
    const lots = saga.lots!.slice(from, from + (this.#chunk.get(saga) ?? lotsCreditedAtOnce))
    const expiredOnTheWay: Reply = { status: 'ok', points: 0 }
    const replies = await Promise.all(
      lots.map((lot, j): Promise<Reply> => {
        // The lot's own terms: its start too, when the hold said (sagas saved before it was kept have none).
        const dated =
          lot.expiresAt === neverExpires ? {} : { expiresAt: lot.expiresAt, ...(lot.activeFrom === undefined ? {} : { activeFrom: lot.activeFrom }) }
        // Sent even when its date has passed (while the saga waited, or before this retry): a credit made
        // already (sent with lots refused for a full mailbox, or before a crash) answers `exists`, as a
        // replay does before any check, and its points were sent, not expired; the sender must not count
        // them as expired in transit too.
        const credited = this.#submit({ ...creditStep(saga), key: `saga:${saga.id}:credit:${from + j}`, points: lot.points, ...dated })
        // Its date came first (while the saga waited, or while the credit was on the way): the ledger refuses an
        // earn dated in the past before applying or storing anything, so nothing is credited, and the sender's
        // hold is captured with these points expired in transit.
        return credited.then((reply) => (reply.status === 'invalid_request' && reply.field === 'expiresAt' && lot.expiresAt !== neverExpires ? expiredOnTheWay : reply))
      }),
    )
    // The lots not credited because their date came first, among the first `n`.
    const expiredOf = (n: number) => lots.slice(0, n).filter((_, j) => replies[j] === expiredOnTheWay)
    const first = replies.findIndex((r) => r.status !== 'ok' && r.status !== 'exists')
    if (first === -1) return { status: 'ok', credits: lots.length, expired: expiredOf(lots.length) }
    const refused = replies[first]!
    if (refused.status === 'overloaded' || refused.status === 'unavailable') {
      // The shard's mailbox is full: keep what went through, and send fewer at once from now on
      // (the same leading credits would take the free slots again, and the rest never get one).
      this.#chunk.set(saga, Math.max(1, Math.floor(lots.length / 2)))
      if (first > 0) {
        saga.credited = from + first
        addExpired(saga, expiredOf(first))
        await this.#store.save(saga)
      }
    }
    return { ...refused, credits: first }
  }

  async #advance(saga: TransferSaga, reply: Reply & { credits?: number; expired?: HeldLot[] }) {
    const ok = reply.status === 'ok' || reply.status === 'exists'
    if (saga.state === 'started') {
      if (ok) Object.assign(saga, { state: 'held', hold: reply.hold }, reply.heldLots === undefined ? {} : { lots: reply.heldLots, credited: 0 })
      else fail(saga, reply)
    } else if (saga.state === 'held') {
      if (!ok) {
        saga.credited = (saga.credited ?? 0) + (reply.credits ?? 0)
        await this.#compensate(saga, reply)
      } else if (saga.lots === undefined) saga.state = 'credited'
      else {
        saga.credited = (saga.credited ?? 0) + (reply.credits ?? 0)
        addExpired(saga, reply.expired ?? [])
        if (saga.credited === saga.lots.length) saga.state = 'credited'
      }
    } else if (ok) {
      saga.state = 'done'
    } else {
      // The hold is gone (it expired while the process was down for a week): the source has
      // its points back, so the credit is clawed back from the target, and the saga fails.
      this.#log.error(`transfer ${saga.id}: capture refused (${reply.status}); reversing the credit`)
      // As debt whatever the receiver's policy: forgiven, the points would exist twice.
      await this.#retrying({ op: 'reverse', account: creditOf(saga), key: `saga:${saga.id}:reverse`, ref: `transfer:${saga.id}`, shortfall: 'debt' })
      fail(saga, reply)
    }
    await this.#store.save(saga)
    if (saga.state === 'done' || saga.state === 'failed') {
      this.#members.audit.record(saga.actor, `transfer.${saga.state}`, saga.from, { saga: saga.id, to: saga.to, points: saga.points, failure: saga.failure })
    }
    if (crashAfter === saga.state) process.kill(process.pid, 'SIGKILL')
  }

  /**
   * The credit was refused for good: give the held points back, and take
   * back the dates credited before the refusal, if any.
   */
  async #compensate(saga: TransferSaga, refusal: Reply) {
    // Lots are credited several at once: any of them may have been, whatever `credited` says.
    if (saga.lots !== undefined) {
      await this.#retrying({ op: 'reverse', account: creditOf(saga), key: `saga:${saga.id}:uncredit`, ref: `transfer:${saga.id}`, shortfall: 'debt' })
    }
    await this.#retrying({ op: 'void', account: debitOf(saga), key: `saga:${saga.id}:void`, hold: saga.hold! })
    fail(saga, refusal)
  }

  /** Runs a compensating command until it is answered for good (its key makes retries safe). */
  async #retrying(command: Record<string, unknown>): Promise<Reply> {
    for (;;) {
      const reply = await this.#submit(command)
      if (reply.status !== 'overloaded' && reply.status !== 'unavailable') return reply
      // Closing: left as it is, the saga is finished at the next open.
      if (this.#stopped) throw new Error('the engine closed during a transfer; it resumes at the next open')
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** The credit to the receiver, without its key and points. */
const creditStep = (saga: TransferSaga) => ({ op: 'earn', account: creditOf(saga), ref: `transfer:${saga.id}`, reason: `transfer from ${saga.from}` })
const debitOf = (saga: TransferSaga) => saga.debit ?? saga.from
const creditOf = (saga: TransferSaga) => saga.credit ?? saga.to

/** Notes lots that expired in transit (saved with the saga's progress, for its capture). */
function addExpired(saga: TransferSaga, lots: readonly HeldLot[]) {
  if (lots.length > 0) saga.expired = [...(saga.expired ?? []), ...lots]
}

/**
 * Why a member whose own account has `balance` cannot have its points moved
 * to another account, or undefined. Only spendable points move: held ones
 * could be neither moved nor voided later (the hold's account would no
 * longer be the member's); owed ones would be left behind on an account
 * nothing reaches, so the member would escape its debt; pending ones would
 * become spendable there, out of reach.
 */
function unmovableReason(member: string, field: string, balance: Balance): Reply | undefined {
  const refuse = (message: string): Reply => ({ status: 'invalid_request', field, message })
  if (balance.held > 0) return refuse(`member ${member} has ${balance.held} points held; capture or void them first`)
  if (balance.available < 0) return refuse(`member ${member} owes ${-balance.available} points; settle them first`)
  if (balance.pending > 0) return refuse(`member ${member} has ${balance.pending} points pending; wait until they are active`)
  return undefined
}

function withoutMoving({ moving: _moving, ...reply }: Reply): Reply {
  return reply
}

function fail(saga: TransferSaga, reply: Reply) {
  saga.state = 'failed'
  saga.failure = reply.message === undefined ? { status: reply.status } : { status: reply.status, message: reply.message }
}

export function newSagaKey(): string {
  return randomUUID()
}
