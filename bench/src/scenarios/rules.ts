/**
 * Scenario `rules`: what rules cost. The same purchase load runs twice in one
 * engine, first under a program with one earn rule, then, hot-swapped without
 * a restart, under a program with `--rules` rules and campaigns (item,
 * category, SKU, channel, store, hour and weekday rules, caps, segment and
 * promo-code campaigns, one with a global quota, exclusive and combinable
 * stacking). It reports both side by side, and the evaluator alone (no
 * storage) for both, which isolates the rules' own CPU cost.
 *
 * The JSON line's main figures are the many-rules engine phase; `oneRule`,
 * `manyRules`, `ratio` and `evaluator` carry the comparison.
 *
 * @module
 */
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldTurn } from 'node:timers/promises'
import { openEngine, type Engine } from '@loyalty/engine'
import {
  compileRuleset,
  evaluatePurchase,
  type Basket,
  type CampaignDoc,
  type ProgramDoc,
  type RuleDoc,
  type RulesetDoc,
} from '@loyalty/engine/rules'
import { closedLoop } from '../load.ts'
import { count, type Phase, type PhaseResult, type Reporter, phaseFigures, rateChart } from '../report.ts'
import { between, seededRandom } from '../rng.ts'
import { defineScenario, limits, shardsMax, type ScenarioResult } from '../scenario.ts'
import { removeTemporaryFolder, temporaryFolder } from '../temp.ts'

const flags = {
  members: { kind: 'int', description: 'members enrolled and buying', default: 100_000, min: 1, max: limits.accounts },
  seconds: { kind: 'number', description: 'length of each measured phase', default: 10, min: 0.1 },
  rules: { kind: 'int', description: 'rules and campaigns in the large program', default: 100, min: 2, max: 1000 },
  shards: { kind: 'int', description: 'shards of the data folder', default: 4, min: 1, max: shardsMax },
  workers: { kind: 'int', description: 'worker threads (0: main thread)', default: 2, min: 0, max: limits.workers },
  concurrency: { kind: 'int', description: 'purchases in flight', default: 2048, min: 1, max: limits.inFlight },
  evaluatorSeconds: { kind: 'number', description: 'length of each evaluator-only run', default: 2, min: 0.05 },
  rngSeed: { kind: 'int', description: 'seed of baskets and rules', default: 1 },
} as const

const categories = Array.from({ length: 40 }, (_, i) => `cat${i}`)
const skus = Array.from({ length: 2000 }, (_, i) => `sku${i}`)
const stores = Array.from({ length: 50 }, (_, i) => `s${i}`)
const channels = ['store', 'web', 'app', 'partner'] as const
const segments = ['vip', 'student', 'family', 'new', 'lapsed']
const always = { from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }

function baseProgram(rules: RuleDoc[], campaigns: CampaignDoc[]): ProgramDoc {
  return {
    id: 'bench',
    name: 'Bench',
    pointName: 'points',
    currency: 'USD',
    pointValue: 1,
    earnBase: 'net',
    expiry: { kind: 'endOfYear', years: 1 },
    negativeBalanceOnReturn: true,
    excluded: { categories: ['cat39'] },
    tiers: [
      { id: 't0', name: 'Base', threshold: 0 },
      { id: 't1', name: 'Silver', threshold: 10_000, multiplier: 1250 },
      { id: 't2', name: 'Gold', threshold: 50_000, multiplier: 1500 },
    ],
    qualification: { basis: 'points', period: 'rolling12Months', review: 'oneDown' },
    rules,
    campaigns,
  }
}

export function oneRuleDoc(): RulesetDoc {
  return { programs: [baseProgram([{ id: 'spend', kind: 'perSpend', points: 1, per: 100 }], [])] }
}

/** A program with `total` rules and campaigns of every kind (about 60% rules, 40% campaigns). */
export function manyRulesDoc(total: number, seed: number): RulesetDoc {
  const random = seededRandom(seed)
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!
  const ruleCount = Math.ceil(total * 0.6)
  const rules: RuleDoc[] = [{ id: 'spend', kind: 'perSpend', points: 1, per: 100 }]
  for (let i = 1; i < ruleCount; i++) rules.push(randomRule(`r${i}`, i, random, pick))
  const campaigns: CampaignDoc[] = []
  for (let i = 0; i < total - ruleCount; i++) {
    const campaign: CampaignDoc = {
      id: `c${i}`,
      name: `campaign ${i}`,
      ...always,
      priority: between(random, 1, 100),
      stacking: i % 7 === 0 ? 'exclusive' : 'combinable',
      rules: [randomRule('a', i, random, pick), randomRule('b', i + 1, random, pick)],
    }
    if (i % 3 === 0) campaign.when = { segments: [pick(segments)] }
    if (i % 5 === 0) campaign.when = { ...campaign.when, promoCode: `PROMO${i}` }
    if (i % 4 === 0) campaign.perMemberLimit = 50
    if (i === 1) campaign.quota = 1_000_000
    campaigns.push(campaign)
  }
  return { programs: [baseProgram(rules, campaigns)] }
}

/** `n` different items of `list` (rules refuse duplicate entries). */
function distinct<T>(list: readonly T[], n: number, random: () => number): T[] {
  const chosen = new Set<T>()
  while (chosen.size < Math.min(n, list.length)) chosen.add(list[Math.floor(random() * list.length)]!)
  return [...chosen]
}

function randomRule(
  id: string,
  i: number,
  random: () => number,
  pick: <T>(list: readonly T[]) => T,
): RuleDoc {
  switch (i % 6) {
    case 0:
      return { id, kind: 'perItem', points: between(random, 1, 20), items: { categories: distinct(categories, 2, random) } }
    case 1:
      return { id, kind: 'perItem', points: between(random, 5, 50), items: { skus: distinct(skus, 20, random) } }
    case 2:
      return { id, kind: 'fixed', points: between(random, 10, 100), when: { channels: [pick(channels)], minSpend: 2000 } }
    case 3:
      return { id, kind: 'perSpend', points: 2, per: 100, items: { categories: [pick(categories)] }, when: { stores: distinct(stores, 2, random) }, caps: { perTransaction: 500, perMemberPerDay: 1000 } }
    case 4:
      return { id, kind: 'multiplier', multiplier: between(random, 1100, 3000), when: { daysOfWeek: [between(random, 1, 7)], hours: { from: '06:00', to: '22:00' } } }
    default:
      return { id, kind: 'fixed', points: 25, when: { tenders: ['card'], segments: [pick(segments)] }, caps: { perMemberPerWeek: 100 } }
  }
}

/** A random basket of 1 to 8 lines. */
function basketMaker(seed: number): () => Basket {
  const random = seededRandom(seed)
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!
  return () => ({
    lines: Array.from({ length: between(random, 1, 8) }, () => ({
      sku: pick(skus),
      category: pick(categories),
      quantity: between(random, 1, 3),
      unitPrice: between(random, 99, 9_999),
    })),
    store: pick(stores),
    channel: pick(channels),
    tender: random() < 0.7 ? 'card' : 'cash',
    promoCodes: random() < 0.2 ? [`PROMO${5 * between(random, 0, 8)}`] : [],
  })
}

/**
 * Evaluations per second of the evaluator alone, for `seconds`, as a phase
 * (so progress shows): batches of 1,000 baskets, yielding every 20 ms.
 */
async function evaluatorRate(doc: RulesetDoc, seconds: number, seed: number, phase: Phase): Promise<number> {
  const program = compileRuleset(doc, 1).programs.get('bench')!
  const basket = basketMaker(seed)
  const member = { tier: 't1', facts: { segments: ['vip'] }, usage: {}, firstPurchase: false }
  const quotas = { left: () => 1 }
  const baskets = Array.from({ length: 1000 }, basket)
  const start = performance.now()
  let done = 0
  let turn = start
  for (let now = start; now - start < seconds * 1000;) {
    for (const b of baskets) evaluatePurchase(program, b, member, Date.now(), quotas)
    done += baskets.length
    const end = performance.now()
    phase.record((end - now) / baskets.length, end, baskets.length)
    now = end
    if (now - turn >= 20) {
      await yieldTurn()
      turn = now = performance.now()
    }
  }
  return done / ((performance.now() - start) / 1000)
}

async function enrollAll(engine: Engine, phase: Phase, members: number, concurrency: number) {
  let next = 0
  await closedLoop(concurrency, (start) => {
    if (next >= members) return false
    const account = `b${next}`
    const member = { segments: [segments[next % segments.length]!] }
    next++
    return engine.execute({ op: 'enroll', account, key: 'join', program: 'bench', member }).then((reply) => {
      if (reply.status !== 'ok' && reply.status !== 'exists') throw new Error(`enroll ${account}: ${reply.status}`)
      const now = performance.now()
      phase.record(now - start, now)
    })
  })
}

async function purchases(engine: Engine, phase: Phase, options: { members: number; seconds: number; concurrency: number }, seed: number) {
  const random = seededRandom(seed)
  const basket = basketMaker(seed + 1)
  const tag = `${seed}-${Date.now().toString(36)}-`
  let sequence = 0
  const statuses = new Map<string, number>()
  const deadline = phase.startedAt + options.seconds * 1000
  await closedLoop(options.concurrency, (start) => {
    if (start >= deadline) return false
    const account = `b${Math.floor(random() * options.members)}`
    const command = { op: 'purchase', account, key: tag + (sequence++).toString(36), basket: basket() }
    return engine.execute(command).then((reply) => {
      const now = performance.now()
      phase.record(now - start, now)
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
    })
  })
  return Object.fromEntries(statuses)
}

export const scenario = defineScenario({
  name: 'rules',
  description: 'purchase throughput with 1 rule and with 100 rules and campaigns, side by side',
  flags,
  async run(options, reporter: Reporter): Promise<ScenarioResult> {
    const many = manyRulesDoc(options.rules, options.rngSeed)
    const evaluatorSeconds = options.evaluatorSeconds
    const evaluate = async (name: string, doc: RulesetDoc) => {
      const phase = reporter.phase(`evaluator, ${name}`, { durationMs: evaluatorSeconds * 1000 })
      const rate = await evaluatorRate(doc, evaluatorSeconds, options.rngSeed, phase)
      reporter.endPhase()
      return Math.round(rate)
    }
    const evaluator = {
      oneRule: await evaluate('1 rule', oneRuleDoc()),
      manyRules: await evaluate(`${options.rules} rules`, many),
    }
    const dataDir = temporaryFolder('loyalty-bench-rules-')
    reporter.note(`rules: data folder ${dataDir} (temporary)`)
    try {
      const engine = await openEngine({ dataDir, shards: options.shards, workers: options.workers })
      try {
        const published = await engine.rules.publish(oneRuleDoc(), { activate: true, note: 'bench: one rule' })
        if (!published.ok) throw new Error(JSON.stringify(published.errors))
        await enrollAll(engine, reporter.phase('enroll', { total: options.members }), options.members, options.concurrency)
        reporter.endPhase()
        const durationMs = options.seconds * 1000
        const oneStatuses = await purchases(engine, reporter.phase('one rule', { durationMs }), options, options.rngSeed)
        const one = reporter.endPhase()!
        const swapped = await engine.rules.publish(many, { activate: true, note: `bench: ${options.rules} rules` })
        if (!swapped.ok) throw new Error(JSON.stringify(swapped.errors))
        const manyStatuses = await purchases(engine, reporter.phase(`${options.rules} rules`, { durationMs }), options, options.rngSeed + 7)
        const measured = reporter.endPhase()!
        for (const [name, statuses] of [['one rule', oneStatuses], ['many rules', manyStatuses]] as const) {
          reporter.failUnexpected(name, 'purchases answered', statuses, new Set(['ok']))
        }
        reporter.expectOps(one)
        const ratio = one.opsPerSec === 0 ? 0 : Math.round((measured.opsPerSec / one.opsPerSec) * 1000) / 1000
        const evaluatorRatio = Math.round((evaluator.manyRules / evaluator.oneRule) * 1000) / 1000
        return {
          measured,
          fields: {
            members: options.members,
            rules: options.rules,
            shards: engine.shards,
            workers: engine.workers,
            durable: engine.durable,
            oneRule: { ...phaseFigures(one), statuses: oneStatuses },
            manyRules: { ...phaseFigures(measured), statuses: manyStatuses },
            ratio,
            evaluator: { ...evaluator, ratio: evaluatorRatio },
          },
          charts: [
            rateChart('engine, purchases/s', 'purchases/s', [
              ['1 rule', one.opsPerSec],
              [`${options.rules} rules`, measured.opsPerSec],
            ]),
            rateChart('evaluator alone, baskets/s', 'baskets/s', [
              ['1 rule', evaluator.oneRule],
              [`${options.rules} rules`, evaluator.manyRules],
            ]),
          ],
          notes: [
            `engine, 1 rule:        ${count(one.opsPerSec)} purchases/s`,
            `engine, ${options.rules} rules:     ${count(measured.opsPerSec)} purchases/s (${(ratio * 100).toFixed(0)}% of 1 rule)`,
            `evaluator, 1 rule:     ${count(evaluator.oneRule)} baskets/s`,
            `evaluator, ${options.rules} rules:  ${count(evaluator.manyRules)} baskets/s (${(evaluatorRatio * 100).toFixed(0)}%)`,
            `${count(options.members)} members, ${engine.shards} shards, ${engine.workers} workers, durable ${engine.durable}`,
          ],
        }
      } finally {
        await engine.close()
      }
    } finally {
      removeTemporaryFolder(dataDir)
    }
  },
})
