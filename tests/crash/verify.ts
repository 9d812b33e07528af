/**
 * The crash test's verifier. After a kill it opens every shard's store
 * directly and checks what the child's stdout promised:
 *
 * - every account: `accountProblems` is empty, plus journal-checks.ts
 *   (keys, hold lives, balance policy, totals, refunds against the stored
 *   burn records), and it lives on its shard;
 * - every shard: its stored running totals (written with each batch) are
 *   what counting its accounts from scratch gives;
 * - every journal entry with a key: its key appears once on the account and
 *   has an `ok` idempotency record naming that entry;
 * - every redemption or refund ref the child sent: no burn record unless a
 *   burn entry names it (a redemption's record comes with its entry);
 * - every key the child sent: stored as a whole (an `ok` record with its one
 *   entry, or a sticky failure with none) or not at all, and stored if any
 *   reply said so, with the status and entry the reply gave;
 * - every key found stored in an earlier round: still stored, unchanged;
 * - every idempotency record: for a key some child sent (nothing appears
 *   from nowhere) and agreeing with the journal; a refused refund was
 *   refused rightly (journal-checks.ts `wrongRefusal`).
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util'
import {
  accountProblems,
  LmdbStore,
  shardOf,
  shardPath,
  totalsOf,
  type AccountState,
  type Entry,
  type IdemRecord,
  type IdemTerms,
} from '@loyalty/engine'
import { journalProblems, refEvents, wrongRefusal, type RefEvent } from './journal-checks.ts'
import {
  entryKindOf,
  isStickyFailure,
  mismatchStatuses,
  outcomeUnknown,
  type AckLine,
  type CrashCommand,
} from './protocol.ts'

/** Everything one round told the parent about one (account, key). */
export interface KeyFacts {
  account: string
  key: string
  /** Every payload sent under this key in the round, in order. */
  sends: CrashCommand[]
  /** The send number of each of `sends`. */
  sent: number[]
  /** The replies that arrived, each with the payload it answered. */
  acks: { line: AckLine; cmd: CrashCommand }[]
}

/** A key found stored: the seq of its entry, or the sticky failure it holds. */
type Settled = number | string

export interface VerifyReport {
  problems: string[]
  accounts: number
  entries: number
  /** Refund entries among them, and the redemption refs (burn records) checked. */
  refunds: number
  burnRefs: number
  /** Replies of this round checked against the store. */
  acked: number
  /** Sends of this round without a reply (or with overloaded/unavailable). */
  unanswered: number
  /** Of those, how many were found stored (fully). */
  unansweredStored: number
  /** Keys stored over all rounds, each rechecked every round. */
  settled: number
  idemRecords: number
}

/** Where a key's entry is: account -> key -> entry seq. */
type KeyIndex = Map<string, Map<string, number>>
/** The burn and refund entries of each account's redemption refs: account -> ref -> events. */
type BurnIndex = Map<string, Map<string, RefEvent[]>>

export class CrashVerifier {
  readonly #settled = new Map<string, Map<string, Settled>>()

  constructor(
    readonly dataDir: string,
    readonly shards: number,
  ) {}

  async verify(facts: Map<string, KeyFacts>): Promise<VerifyReport> {
    const report: VerifyReport = {
      problems: [],
      accounts: 0,
      entries: 0,
      refunds: 0,
      burnRefs: 0,
      acked: 0,
      unanswered: 0,
      unansweredStored: 0,
      settled: 0,
      idemRecords: 0,
    }
    const index: KeyIndex = new Map()
    const burns: BurnIndex = new Map()
    const stores = this.#openStores()
    try {
      stores.forEach((store, shard) => this.#checkAccounts(store, shard, index, burns, report))
      stores.forEach((store, shard) => this.#checkTotals(store, shard, report))
      this.#checkKeys(stores, index, facts, report)
      this.#checkBurnRefs(stores, burns, facts, report)
      for (const store of stores) this.#checkIdem(store, index, burns, report)
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
    return report
  }

  #openStores(): LmdbStore[] {
    return Array.from({ length: this.shards }, (_, i) => {
      return new LmdbStore({ path: shardPath(this.dataDir, i) })
    })
  }

  #checkTotals(store: LmdbStore, shard: number, report: VerifyReport) {
    const stored = store.totals()
    // None yet: the shard never committed a batch that changed an account.
    if (stored === undefined) return
    const counted = totalsOf(store.scanAccounts())
    if (!isDeepStrictEqual(stored, counted)) {
      report.problems.push(`shard ${shard}: stored totals ${JSON.stringify(stored)} but the accounts add up to ${JSON.stringify(counted)}`)
    }
  }

  #checkAccounts(
    store: LmdbStore,
    shard: number,
    index: KeyIndex,
    burns: BurnIndex,
    report: VerifyReport,
  ) {
    for (const account of store.scanAccounts()) {
      report.accounts++
      if (shardOf(account.id, this.shards) !== shard) {
        report.problems.push(`${account.id}: found on shard ${shard}`)
      }
      const entries = [...store.scanEntries(account.id)]
      report.entries += entries.length
      report.refunds += entries.filter((e) => e.kind === 'refund').length
      report.problems.push(...accountProblems(account, entries))
      report.problems.push(
        ...journalProblems(account, entries, {
          closedHold: (hold) => store.getClosedHold(account.id, hold),
          burn: (ref) => store.getBurn(account.id, ref),
          terms: (key) => store.getIdem(account.id, key)?.terms,
        }),
      )
      index.set(account.id, keyedEntries(store, account, entries, report.problems))
      const refs = refEvents(entries)
      burns.set(account.id, refs)
      report.burnRefs += refs.size
    }
  }

  /**
   * A burn record comes only with its redemption's entry: none may exist for
   * a ref no burn entry names (a redemption half-applied, or a refund that
   * wrote one). Burn records cannot be listed, so the refs the child sent are
   * looked up; the ones journals name are checked by journal-checks.ts.
   */
  #checkBurnRefs(stores: LmdbStore[], burns: BurnIndex, facts: Map<string, KeyFacts>, r: VerifyReport) {
    const looked = new Set<string>()
    for (const f of facts.values()) {
      for (const cmd of f.sends) {
        if ((cmd.op !== 'redeem' && cmd.op !== 'refund') || cmd.ref === undefined) continue
        const id = factsId(cmd.account, cmd.ref)
        const burned = burns.get(cmd.account)?.get(cmd.ref)?.some((e) => e.kind === 'burn') === true
        if (looked.has(id) || burned) continue
        looked.add(id)
        const record = stores[shardOf(cmd.account, this.shards)]!.getBurn(cmd.account, cmd.ref)
        if (record !== undefined) {
          r.problems.push(`${cmd.account} ref ${cmd.ref}: burn record ${JSON.stringify(record)}, but no burn entry names the ref`)
        }
      }
    }
  }

  #checkKeys(stores: LmdbStore[], index: KeyIndex, facts: Map<string, KeyFacts>, r: VerifyReport) {
    const check = (account: string, key: string, f: KeyFacts | undefined) => {
      const store = stores[shardOf(account, this.shards)]!
      const state: KeyState = {
        idem: store.getIdem(account, key),
        seq: index.get(account)?.get(key),
        previous: this.#settled.get(account)?.get(key),
      }
      const where = `${account} key ${key}`
      r.problems.push(...keyStateProblems(state).map((p) => `${where}: ${p}`))
      if (f !== undefined) {
        r.problems.push(...factProblems(f, state).map((p) => `${where}: ${p}`))
        this.#count(f, state, r)
      }
      this.#settle(account, key, state.idem)
    }
    for (const f of facts.values()) check(f.account, f.key, f)
    for (const [account, keys] of this.#settled) {
      for (const key of keys.keys()) {
        if (!facts.has(factsId(account, key))) check(account, key, undefined)
      }
    }
    r.settled = [...this.#settled.values()].reduce((sum, keys) => sum + keys.size, 0)
  }

  #count(f: KeyFacts, state: KeyState, r: VerifyReport) {
    const answers = f.acks.filter((a) => !outcomeUnknown.has(a.line.status))
    r.acked += answers.length
    const unanswered = f.sends.length - answers.length
    r.unanswered += unanswered
    if (unanswered > 0 && answers.length === 0 && state.idem !== undefined) r.unansweredStored++
  }

  #settle(account: string, key: string, idem: IdemRecord | undefined) {
    let keys = this.#settled.get(account)
    if (idem === undefined) {
      keys?.delete(key)
      return
    }
    if (keys === undefined) this.#settled.set(account, (keys = new Map()))
    const status = idem.reply.status
    keys.set(key, status === 'ok' ? (idem.reply.entry ?? -1) : status)
  }

  /**
   * Every stored idempotency record must be for a settled key and agree with
   * the journal, and a refund refused must have been refused rightly.
   */
  #checkIdem(store: LmdbStore, index: KeyIndex, burns: BurnIndex, report: VerifyReport) {
    for (const { account, key, record } of store.scanIdem()) {
      report.idemRecords++
      const where = `${account} key ${key}`
      if (!this.#settled.get(account)?.has(key)) {
        report.problems.push(`${where}: stored, but no child ever sent it (or it came back)`)
      }
      const seq = index.get(account)?.get(key)
      if (record.reply.status === 'ok' && seq !== record.reply.entry) {
        const named = record.reply.entry
        report.problems.push(`${where}: ok record names entry ${named}, key is on ${seq}`)
      }
      if (record.reply.status !== 'ok' && seq !== undefined) {
        report.problems.push(`${where}: ${record.reply.status} record, but entry ${seq} has it`)
      }
      if (record.terms[0] === 'refund' && record.reply.status !== 'ok') {
        const ref = record.terms[3] ?? ''
        const status = record.reply.status
        const wrong = wrongRefusal(burns.get(account)?.get(ref), record.terms, status, record.at)
        if (wrong !== undefined) report.problems.push(`${where}: refund of ${ref} refused (${status}), ${wrong}`)
      }
    }
  }
}

export function factsId(account: string, key: string): string {
  return `${account}\u0000${key}`
}

/** Indexes an account's keyed entries, checking each against its idempotency record. */
function keyedEntries(
  store: LmdbStore,
  account: AccountState,
  entries: Entry[],
  problems: string[],
): Map<string, number> {
  const keys = new Map<string, number>()
  for (const [i, entry] of entries.entries()) {
    if (entry.key === undefined) continue
    const where = `${account.id} key ${entry.key}`
    const earlier = keys.get(entry.key)
    if (earlier === undefined) keys.set(entry.key, entry.seq)
    else problems.push(`${where}: applied twice (entries ${earlier}, ${entry.seq})`)
    const idem = store.getIdem(account.id, entry.key)
    if (idem === undefined) {
      problems.push(`${where}: entry ${entry.seq} has no idempotency record (half-applied)`)
    } else if (idem.reply.status !== 'ok' || idem.reply.entry !== entry.seq) {
      problems.push(`${where}: entry ${entry.seq}, but the record says ${replyText(idem)}`)
    } else if (entryKindOf[idem.terms[0] as CrashCommand['op']] !== entry.kind) {
      problems.push(`${where}: ${idem.terms[0]} wrote a ${entry.kind} entry`)
    } else if (entry.kind === 'refund' && idem.reply.points !== entry.points) {
      problems.push(`${where}: refund entry ${entry.seq} gave ${entry.points}, the reply says ${idem.reply.points}`)
    } else if (clampTooDeep(idem.terms, entry, entries[i - 1]?.balance ?? 0)) {
      problems.push(`${where}: clamp reversal took the balance to ${entry.balance}`)
    }
  }
  return keys
}

/**
 * A reversal under the clamp policy takes only points that are there: it may
 * not take a balance below zero, nor lower one that already is (from debt).
 */
function clampTooDeep(terms: IdemTerms, entry: Entry, before: number): boolean {
  if (entry.kind !== 'reverse' || !terms[5].endsWith('|clamp')) return false
  return entry.balance < Math.min(before, 0)
}

function replyText(idem: IdemRecord): string {
  return `${idem.reply.status}${idem.reply.entry === undefined ? '' : ` entry ${idem.reply.entry}`}`
}

interface KeyState {
  idem: IdemRecord | undefined
  /** The seq of the entry carrying the key, if any. */
  seq: number | undefined
  /** What an earlier round found stored. */
  previous: Settled | undefined
}

/** The key is stored whole or not at all, and what was stored before is still there. */
function keyStateProblems({ idem, seq, previous }: KeyState): string[] {
  if (idem === undefined) {
    return previous === undefined ? [] : [`lost: an earlier round found it stored (${previous})`]
  }
  const problems: string[] = []
  const status = idem.reply.status
  if (status === 'ok' && seq === undefined) {
    const entry = idem.reply.entry
    problems.push(`ok record for entry ${entry}, but no entry has the key (half-applied)`)
  }
  const now: Settled = status === 'ok' ? (idem.reply.entry ?? -1) : status
  if (previous !== undefined && previous !== now) {
    problems.push(`changed: an earlier round found ${previous}, now ${now}`)
  }
  return problems
}

/** The replies agree with what is stored. */
function factProblems(f: KeyFacts, state: KeyState): string[] {
  const problems: string[] = []
  const idem = state.idem
  const oks = f.acks.filter((a) => a.line.status === 'ok').length
  if (oks > 1) problems.push(`answered ok ${oks} times`)
  for (const { line, cmd } of f.acks) {
    if (outcomeUnknown.has(line.status)) continue
    if (line.status === 'invalid_request') {
      // It stored nothing, so a later send of the key may apply: the state may allow it by
      // then (a reverse by amount, refused until another earn gives the purchase an amount).
      const sentAgain = f.sent.some((n) => n > line.n)
      if (idem !== undefined && !sentAgain) {
        problems.push(`answered invalid_request, but stored ${replyText(idem)}`)
      }
      continue
    }
    if (idem === undefined) {
      problems.push(`answered ${line.status} (send ${line.n}), but nothing is stored`)
      continue
    }
    problems.push(...ackProblems(line, cmd, idem))
  }
  // A key stored in an earlier round had its payload checked then (this round may only resend
  // it with other points, to get exists_with_different_points).
  const fresh = state.previous === undefined
  if (idem !== undefined && fresh && !f.sends.some((cmd) => sameTerms(cmd, idem.terms))) {
    problems.push(`stored terms ${JSON.stringify(idem.terms)} match no payload sent`)
  }
  return problems
}

function ackProblems(line: AckLine, cmd: CrashCommand, idem: IdemRecord): string[] {
  const stored = idem.reply
  const said = `answered ${line.status} (send ${line.n})`
  if (mismatchStatuses.has(line.status)) {
    return sameTerms(cmd, idem.terms) ? [`${said} to the stored payload itself`] : []
  }
  if (isStickyFailure(line.status)) {
    return line.status === stored.status ? [] : [`${said}, but stored ${replyText(idem)}`]
  }
  if (stored.status !== 'ok') return [`${said}, but stored ${replyText(idem)}`]
  const problems: string[] = []
  if (line.entry !== stored.entry) {
    problems.push(`${said} entry ${line.entry}, stored ${stored.entry}`)
  }
  if (line.hold !== stored.hold) problems.push(`${said} hold ${line.hold}, stored ${stored.hold}`)
  if (line.points !== stored.points) {
    problems.push(`${said} points ${line.points}, stored ${stored.points}`)
  }
  return problems
}

/** Compares the main idempotency terms (op, points, hold, ref, amount) with a payload. */
function sameTerms(cmd: CrashCommand, terms: IdemTerms): boolean {
  const c = cmd as { points?: number; hold?: number; ref?: string; amount?: number }
  const mine = [cmd.op, c.points ?? null, c.hold ?? null, c.ref ?? null, c.amount ?? null]
  return mine.every((value, i) => value === terms[i])
}
