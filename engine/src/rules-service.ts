/**
 * Ruleset versions and campaign quotas, on the main thread.
 *
 * Publishing validates a document (every error with its path), stores it as a
 * new version and, when asked, activates it: the version is recorded as active
 * and sent to every shard, which switches at its next batch boundary. No
 * command is refused or dropped meanwhile; each journal entry records the
 * version that produced it, and every stored version stays readable.
 *
 * Global campaign quotas are leased to shards in chunks that shrink as the
 * quota runs out (a quarter of the rest per shard), so a shard never has to
 * ask for each purchase and the last units still go where the demand is. A
 * chunk is recorded as granted before the shard hears of it: a crash can
 * under-grant a quota by a chunk, never over-grant it.
 *
 * @module
 */
import type { Reply } from './domain/types.ts'
import { compileRuleset, type CompiledRuleset } from './rules/compile.ts'
import { earnRefusal, evaluatePurchase, type Evaluation } from './rules/evaluate.ts'
import type { Basket, MemberFacts, RulesetDoc } from './rules/types.ts'
import { rulesetSizeError, validateRuleset, type RulesetError } from './rules/validate.ts'
import type { RulesStore, StoredRuleset } from './registry/rules-store.ts'

export type PublishResult =
  | { ok: true; version: number; active: boolean }
  /** `stranding`: the document is valid, but members are in programs or tiers it lacks. */
  | { ok: false; errors: RulesetError[]; stranding?: true }

export interface PreviewInput {
  /** A draft document, a stored version, or (omitted) the active version. */
  ruleset?: unknown
  version?: number
  program: string
  basket: Basket
  member?: { tier?: string; facts?: MemberFacts; firstPurchase?: boolean }
  /** Evaluate as of this time (default now): previews a campaign before it starts. */
  at?: number
}

export type PreviewResult =
  | ({ ok: true; version: number | 'draft'; tier: string } & Evaluation)
  | { ok: false; errors: RulesetError[] }

export interface EngineRules {
  /**
   * Validates and stores a new version; with `activate` every shard switches to it.
   * A document over `rulesetBytesMax` bytes of JSON is refused (path `$`), as is one
   * that is not JSON data; nothing is stored.
   *
   * @example
   *   const result = await engine.rules.publish(doc, { activate: true })
   *   if (!result.ok) console.log(result.errors) // [{ path: 'programs[0].rules[1].per', message: ... }]
   */
  publish(doc: unknown, options?: { activate?: boolean; note?: string; force?: boolean }): Promise<PublishResult>
  /**
   * Makes a stored version the active one (also to roll back). Resolves once
   * every shard has it, or with the programs and tiers members are in that
   * the version lacks (then nothing changes), unless `force`.
   */
  activate(version: number, options?: { force?: boolean }): Promise<ActivationResult>
  active(): StoredRuleset | undefined
  get(version: number): StoredRuleset | undefined
  list(): (Omit<StoredRuleset, 'doc'> & { active: boolean })[]
  /** What a basket would earn under a draft or stored ruleset; changes nothing. */
  preview(input: PreviewInput): PreviewResult
}

/** Sends a compiled version to every shard; resolves once all have it. */
export type Broadcast = (version: number, doc: RulesetDoc) => Promise<void>

/** Accounts per `program/tier` (the shards' totals). */
export type Enrolled = () => Promise<{ tiers: Record<string, number> }>

export type ActivationResult = { ok: true } | { ok: false; errors: RulesetError[] }

/**
 * The programs and tiers accounts are in that `doc` does not have. Activating
 * it would strand them: every purchase of a member whose program is gone is
 * refused, and a member in a tier that is gone keeps it with nothing to
 * review it against. Members are moved first; the ruleset follows. Where
 * that cannot be done (a rollback past a tier members reached since), the
 * operator may `force` it.
 *
 * Counted from the shards' totals at the moment of activation: an
 * enrolment still in a shard's mailbox then is not counted, so this catches
 * an operator's mistake, not every account a race could leave behind.
 */
export async function strandedBy(doc: RulesetDoc, enrolled: Enrolled): Promise<RulesetError[]> {
  const { tiers } = await enrolled()
  const kept = new Map(doc.programs.map((program) => [program.id, new Set(program.tiers.map((tier) => tier.id))]))
  const lostPrograms = new Map<string, number>()
  const errors: RulesetError[] = []
  for (const [key, accounts] of Object.entries(tiers)) {
    if (accounts <= 0) continue
    const [program, tier] = key.split('/') as [string, string]
    const programTiers = kept.get(program)
    if (programTiers === undefined) lostPrograms.set(program, (lostPrograms.get(program) ?? 0) + accounts)
    else if (!programTiers.has(tier)) {
      errors.push({ path: `programs[${program}].tiers`, message: `tier ${tier} of program ${program} is missing, and ${accounts} accounts are in it` })
    }
  }
  for (const [program, accounts] of lostPrograms) {
    errors.unshift({ path: 'programs', message: `program ${program} is missing, and ${accounts} accounts are enrolled in it` })
  }
  if (errors.length > 0) {
    errors.push({ path: '$', message: 'move those accounts first, or activate with force to leave them where they are' })
  }
  return errors
}

export class RulesService implements EngineRules {
  readonly #store: RulesStore
  readonly #shards: number
  readonly #clock: () => number
  #broadcast: Broadcast | undefined
  #enrolled: Enrolled | undefined
  /** Publishing, activation and grants run one at a time. */
  #queue: Promise<unknown> = Promise.resolve()
  #compiled = new Map<number, CompiledRuleset>()

  constructor(store: RulesStore, shards: number, clock: () => number) {
    this.#store = store
    this.#shards = shards
    this.#clock = clock
  }

  /** Set once the shards are running. */
  connect(broadcast: Broadcast, enrolled?: Enrolled) {
    this.#broadcast = broadcast
    this.#enrolled = enrolled
  }

  /** The active version for shards that are starting. */
  activeForStart(): { version: number; doc: RulesetDoc } | undefined {
    const stored = this.active()
    return stored === undefined ? undefined : { version: stored.version, doc: stored.doc }
  }

  publish(doc: unknown, options: { activate?: boolean; note?: string; force?: boolean } = {}): Promise<PublishResult> {
    // Here, not in an adapter: a ruleset published by any interface, or directly, has one limit.
    const tooLarge = rulesetSizeError(doc)
    if (tooLarge !== undefined) return Promise.resolve({ ok: false, errors: [tooLarge] })
    const validation = validateRuleset(doc)
    if (!validation.ok) return Promise.resolve({ ok: false, errors: validation.errors })
    return this.#serial(async (): Promise<PublishResult> => {
      // Checked before the version is stored: a refused activation leaves nothing behind.
      const stranded = options.activate === true && options.force !== true ? await this.#stranded(validation.ruleset) : []
      if (stranded.length > 0) return { ok: false, errors: stranded, stranding: true }
      const version = await this.#store.add(validation.ruleset, this.#clock(), options.note)
      if (options.activate === true) await this.#switch(version)
      return { ok: true as const, version, active: options.activate === true }
    })
  }

  activate(version: number, options: { force?: boolean } = {}): Promise<ActivationResult> {
    return this.#serial(async (): Promise<ActivationResult> => {
      const stored = this.#store.get(version)
      if (stored === undefined) throw new RangeError(`no ruleset version ${version}`)
      const stranded = options.force === true ? [] : await this.#stranded(stored.doc)
      if (stranded.length > 0) return { ok: false, errors: stranded }
      await this.#switch(version)
      return { ok: true }
    })
  }

  #stranded(doc: RulesetDoc): Promise<RulesetError[]> {
    return this.#enrolled === undefined ? Promise.resolve([]) : strandedBy(doc, this.#enrolled)
  }

  async #switch(version: number) {
    const stored = this.#store.get(version)!
    await this.#store.setActive(version)
    await this.#broadcast?.(version, stored.doc)
  }

  active(): StoredRuleset | undefined {
    const version = this.#store.activeVersion()
    return version === undefined ? undefined : this.#store.get(version)
  }

  get(version: number): StoredRuleset | undefined {
    return this.#store.get(version)
  }

  list() {
    const active = this.#store.activeVersion()
    return this.#store.list().map((info) => ({ ...info, active: info.version === active }))
  }

  preview(input: PreviewInput): PreviewResult {
    const compiled = this.#previewRuleset(input)
    if ('errors' in compiled) return { ok: false, errors: compiled.errors }
    const program = compiled.rules.programs.get(input.program)
    if (program === undefined) {
      return { ok: false, errors: [{ path: 'program', message: `no program ${input.program}` }] }
    }
    const tier = input.member?.tier ?? program.tiers[0]!.id
    if (!program.tierIndex.has(tier)) {
      return { ok: false, errors: [{ path: 'member.tier', message: `program ${program.id} has no tier ${tier}` }] }
    }
    const member = {
      tier,
      facts: input.member?.facts ?? {},
      usage: {},
      firstPurchase: input.member?.firstPurchase ?? false,
    }
    // A preview assumes every quota still has units: it shows what the rules give.
    const evaluation = evaluatePurchase(program, input.basket, member, input.at ?? this.#clock(), { left: () => 1 })
    // As a purchase of this basket would be refused, so is its preview.
    const refusal = earnRefusal(input.basket, evaluation)
    if (refusal !== undefined) return { ok: false, errors: [{ path: 'basket', message: refusal }] }
    return { ok: true, version: compiled.version, tier, ...evaluation }
  }

  #previewRuleset(input: PreviewInput): { rules: CompiledRuleset; version: number | 'draft' } | { errors: RulesetError[] } {
    if (input.ruleset !== undefined) {
      const tooLarge = rulesetSizeError(input.ruleset)
      if (tooLarge !== undefined) return { errors: [tooLarge] }
      const validation = validateRuleset(input.ruleset)
      if (!validation.ok) return { errors: validation.errors }
      return { rules: compileRuleset(validation.ruleset, 0), version: 'draft' }
    }
    const version = input.version ?? this.#store.activeVersion()
    const stored = version === undefined ? undefined : this.#store.get(version)
    if (stored === undefined) {
      return { errors: [{ path: 'version', message: version === undefined ? 'no ruleset is active' : `no version ${version}` }] }
    }
    let rules = this.#compiled.get(stored.version)
    if (rules === undefined) {
      rules = compileRuleset(stored.doc, stored.version)
      this.#compiled = new Map([[stored.version, rules]])
    }
    return { rules, version: stored.version }
  }

  /**
   * Leases units of a campaign's global quota to a shard: what it is short
   * of for the batch it is about to run, or a quarter of what is left per
   * shard if that is more, never more than is left; recorded durably before
   * it is returned.
   */
  lease(quotaKey: string, quota: number, wanted: number): Promise<number> {
    return this.#serial(async () => {
      const granted = this.#store.granted(quotaKey)
      const left = Math.max(0, quota - granted)
      const units = Math.min(left, Math.max(wanted, Math.ceil(left / (4 * this.#shards))))
      if (units > 0) await this.#store.setGranted(quotaKey, granted + units)
      return units
    })
  }

  close(): Promise<void> {
    return this.#serial(() => this.#store.close())
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work)
    this.#queue = result.catch(() => {})
    return result
  }
}

/** The reply shape for a failed publish, for transports that speak statuses. */
export function rulesetErrorsReply(errors: RulesetError[]): Reply {
  const first = errors[0]
  return {
    status: 'invalid_request',
    field: first?.path ?? '',
    message: errors.map((e) => `${e.path}: ${e.message}`).join('; '),
  }
}
