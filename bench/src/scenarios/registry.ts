/**
 * Scenario `registry`: the member registry at size. It writes a CSV of
 * `--members` generated members (realistic spreads: random emails, phones,
 * last names and join dates, sequential member numbers and card ranges),
 * imports it the way `POST /v1/members/import` does (batched registry writes,
 * each member enrolled in the demo program through the engine), then
 * measures, on the gateway's thread with the engine running:
 *
 * - identifier look-ups (`engine.members.resolve` on random cards), the
 *   measured phase: ops, ops/s and latency percentiles of the JSON line;
 * - search latency for last-name prefixes and for country plus a join-date
 *   range, first pages of 50.
 *
 * The JSON line's `import` has the import's rate and time; `search` has p50
 * and p99 per kind of query.
 *
 * @module
 */
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldTurn } from 'node:timers/promises'
import { demoRuleset, openEngine, type Engine, type SearchQuery } from '@loyalty/engine'
import { Histogram } from '../histogram.ts'
import { count, ms, type Phase, type Reporter } from '../report.ts'
import { between, seededRandom } from '../rng.ts'
import { defineScenario, limits, shardsMax, type Options, type ScenarioResult } from '../scenario.ts'
import { removeTemporaryFolder, temporaryFolder } from '../temp.ts'

const flags = {
  members: { kind: 'int', description: 'members generated, imported', default: 1_000_000, min: 1, max: limits.accounts },
  batch: { kind: 'int', description: 'import rows per registry write', default: 50_000, min: 1, max: limits.importBatch },
  enrollConcurrency: {
    kind: 'int',
    description: 'enrolments in flight during the import',
    default: 8192,
    min: 1,
    max: limits.inFlight,
  },
  skipEnroll: { kind: 'boolean', description: 'import into the registry only, enrolling nobody' },
  cachedAccounts: { kind: 'int', description: "decoded accounts a shard keeps in memory (default: the engine's)", min: 2, max: limits.accounts },
  lookupSeconds: {
    kind: 'number',
    description: 'length of the look-up phase',
    default: 10,
    min: 0.05,
  },
  searches: { kind: 'int', description: 'queries of each search kind', default: 1000, min: 1, max: limits.searches },
  shards: { kind: 'int', description: 'shards of the data folder', default: 4, min: 1, max: shardsMax },
  workers: { kind: 'int', description: 'worker threads (0: main thread)', default: 2, min: 0, max: limits.workers },
  rngSeed: { kind: 'int', description: 'seed of the generated members and queries', default: 1 },
} as const

type RegistryOptions = Options<typeof flags>

const header = 'id,program,firstName,lastName,email,phone,birthDate,gender,country,card,joinedAt'
const firstNames = [
  'Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Greta', 'Hannah', 'Ida', 'Jonas', 'Karl',
  'Lena', 'Max', 'Nora', 'Oskar', 'Paula', 'Quentin', 'Rosa', 'Sven', 'Tara', 'Ulf', 'Vera',
  'Wim', 'Xenia', 'Yusuf', 'Zoe', 'Ali', 'Maria', 'Jan', 'Sofia',
]
const syllables = ['ba', 'be', 'bra', 'da', 'de', 'fi', 'ga', 'ha', 'ka', 'ke', 'lo', 'ma',
  'mi', 'mu', 'na', 'ne', 'ra', 're', 'sa', 'sch', 'se', 'ta', 'to', 'wa', 'we', 'zi']
const endings = ['er', 'mann', 'berg', 'feld', 'stein', 'ler', 'ner', 'ski', 'son', 'ez', 'i', '']
/** Countries with a skew, as a real membership has. */
const countries = ['DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'AT', 'AT', 'CH', 'FR', 'NL', 'PL']
const domains = ['example.com', 'mail.example', 'post.example', 'web.example']
const joinedFromDay = Date.UTC(2015, 0, 1) / 86_400_000
const joinedDays = 10 * 365
const dayMs = 86_400_000

/** About 8,000 distinct last names, the same for the same index. */
function lastName(index: number): string {
  const a = syllables[index % syllables.length]!
  const b = syllables[Math.floor(index / syllables.length) % syllables.length]!
  const end = endings[Math.floor(index / syllables.length ** 2) % endings.length]!
  return `${a[0]!.toUpperCase()}${a.slice(1)}${b}${end}`
}

const lastNameCount = syllables.length ** 2 * endings.length

const pad = (value: number, width: number) => String(value).padStart(width, '0')
const day = (epochDay: number) => new Date(epochDay * dayMs).toISOString().slice(0, 10)

/** The card of member `i`: sequential, as cards are issued from printed ranges. */
export const cardOf = (i: number) => `6001${pad(i, 10)}`

/** One CSV row for member `i`. */
function row(i: number, random: () => number): string {
  const first = firstNames[Math.floor(random() * firstNames.length)]!
  const last = lastName(Math.floor(random() * lastNameCount))
  const email = `${first}.${last}.${i}@${domains[i % domains.length]}`.toLowerCase()
  // Unique for every i below 10^9 (the multiplier is coprime to 10^9), in random order.
  const phone = random() < 0.8 ? `+4915${pad((i * 387_420_489 + 12_345) % 1_000_000_000, 9)}` : ''
  const birth = day(Math.floor(-10_957 + random() * 23_741))
  const gender = ['f', 'm', 'd'][Math.floor(random() * 2.05)]!
  const country = countries[Math.floor(random() * countries.length)]!
  const joined = day(joinedFromDay + Math.floor(random() * joinedDays))
  return `m${pad(i, 8)},demo,${first},${last},${email},${phone},${birth},${gender},${country},` +
    `${cardOf(i)},${joined}\n`
}

/** Writes the members' CSV, honouring the stream's backpressure; each chunk of rows goes to `phase`. */
async function writeMembers(path: string, members: number, seed: number, phase: Phase): Promise<void> {
  const out = createWriteStream(path)
  const random = seededRandom(seed)
  let chunk = `${header}\n`
  let rows = 0
  let chunkStart = performance.now()
  for (let i = 0; i < members; i++) {
    chunk += row(i, random)
    rows++
    if (chunk.length >= 1 << 20 || i === members - 1) {
      if (!out.write(chunk)) await once(out, 'drain')
      const now = performance.now()
      phase.record((now - chunkStart) / rows, now, rows)
      chunk = ''
      rows = 0
      chunkStart = now
    }
  }
  if (chunk !== '') out.write(chunk)
  out.end()
  await once(out, 'finish')
}

async function importMembers(engine: Engine, path: string, options: RegistryOptions, phase: Phase) {
  let recorded = 0
  let batchStart = performance.now()
  const source = createReadStream(path, { highWaterMark: 1 << 20 })
  const report = await engine.members.importCsv(source, {
    actor: { kind: 'admin', id: 'bench' },
    programs: new Set(['demo']),
    batchSize: options.batch,
    enrollConcurrency: options.enrollConcurrency,
    ...(options.skipEnroll ? {} : { enroll: (command) => engine.submit(command) }),
    onProgress: (progress) => {
      // A row's latency here is its batch's: from the previous batch's end to this one's.
      const now = performance.now()
      for (; recorded < progress.imported; recorded++) phase.record(now - batchStart, now)
      batchStart = now
    },
  })
  return report
}

/** Runs `step` until `seconds` pass, yielding every few ms so progress can be drawn. */
async function timed(seconds: number, phase: Phase, step: () => void) {
  const deadline = phase.startedAt + seconds * 1000
  for (let now = performance.now(); now < deadline; now = performance.now()) {
    const slice = Math.min(deadline, now + 20)
    while (performance.now() < slice) {
      for (let i = 0; i < 64; i++) {
        const start = performance.now()
        step()
        const end = performance.now()
        phase.record(end - start, end)
      }
    }
    await yieldTurn()
  }
}

interface SearchFigures {
  queries: number
  p50Ms: number
  p99Ms: number
  meanResults: number
}

/** Runs `queries` searches, each timed; its figures. */
async function searches(
  engine: Engine,
  queries: number,
  next: () => SearchQuery,
): Promise<SearchFigures> {
  const histogram = new Histogram()
  let results = 0
  for (let i = 0; i < queries; i++) {
    const query = next()
    const start = performance.now()
    results += engine.members.search(query).members.length
    histogram.record((performance.now() - start) * 1000)
    if (i % 50 === 49) await yieldTurn()
  }
  const p = (q: number) => Math.round(histogram.percentile(q)) / 1000
  const meanResults = Math.round((results / queries) * 10) / 10
  return { queries, p50Ms: p(50), p99Ms: p(99), meanResults }
}

function namePrefix(random: () => number): SearchQuery {
  return { name: lastName(Math.floor(random() * lastNameCount)).slice(0, 3), limit: 50 }
}

function countryRange(random: () => number): SearchQuery {
  const from = (joinedFromDay + between(random, 0, joinedDays - 30)) * dayMs
  const country = countries[Math.floor(random() * countries.length)]!
  return { country, joinedFrom: from, joinedTo: from + 30 * dayMs, limit: 50 }
}

/** Imports the generated file into a fresh engine, failing the run for any row or enrolment lost. */
async function importPhase(
  engine: Engine,
  csv: string,
  options: RegistryOptions,
  reporter: Reporter,
) {
  const note = 'bench: registry'
  const published = await engine.rules.publish(demoRuleset, { activate: true, note })
  if (!published.ok) throw new Error(JSON.stringify(published.errors))
  const phase = reporter.phase('import', { total: options.members })
  const report = await importMembers(engine, csv, options, phase)
  reporter.endPhase()
  if (report.rejected > 0) {
    const example = JSON.stringify(report.rejections[0])
    reporter.fail(`${count(report.rejected)} rows refused, e.g. ${example}`)
  }
  if (report.enrollFailed > 0) {
    const example = JSON.stringify(report.enrollFailures[0])
    reporter.fail(`${count(report.enrollFailed)} enrolments failed, e.g. ${example}`)
  }
  return report
}

/** Card look-ups on random members for `lookupSeconds`: the measured phase. */
async function lookupPhase(
  engine: Engine,
  options: RegistryOptions,
  reporter: Reporter,
  random: () => number,
) {
  let missing = 0
  const phase = reporter.phase('lookup', { durationMs: options.lookupSeconds * 1000 })
  await timed(options.lookupSeconds, phase, () => {
    const card = cardOf(Math.floor(random() * options.members))
    if (engine.members.resolve('card', card) === undefined) missing++
  })
  const measured = reporter.endPhase()!
  if (missing > 0) reporter.fail(`${count(missing)} look-ups found no member`)
  return measured
}

export const scenario = defineScenario({
  name: 'registry',
  description: 'member CSV import at size, then identifier look-ups/s and search latency',
  flags,
  async run(options, reporter: Reporter): Promise<ScenarioResult> {
    const folder = temporaryFolder('loyalty-bench-registry-')
    reporter.note(`registry: members file and data folder in ${folder} (temporary)`)
    try {
      const csv = join(folder, 'members.csv')
      const written = performance.now()
      await writeMembers(csv, options.members, options.rngSeed, reporter.phase('generate', { total: options.members }))
      reporter.endPhase()
      const generated = ms(performance.now() - written)
      reporter.note(`generated ${count(options.members)} members in ${generated} ms`)
      const dataDir = join(folder, 'data')
      const engine = await openEngine({
        dataDir,
        shards: options.shards,
        workers: options.workers,
        ...(options.cachedAccounts === undefined ? {} : { limits: { cachedAccountsMax: options.cachedAccounts } }),
      })
      try {
        const report = await importPhase(engine, csv, options, reporter)
        const random = seededRandom(options.rngSeed + 1)
        const measured = await lookupPhase(engine, options, reporter, random)
        const queries = count(options.searches)
        reporter.note(`search: ${queries} name-prefix and ${queries} country+joined queries`)
        const byName = await searches(engine, options.searches, () => namePrefix(random))
        const byCountry = await searches(engine, options.searches, () => countryRange(random))
        const importFigures = {
          imported: report.imported,
          rejected: report.rejected,
          enrolled: report.enrolled,
          enrollFailed: report.enrollFailed,
          seconds: Math.round(report.seconds * 1000) / 1000,
          membersPerSec: Math.round(report.imported / report.seconds),
          batch: options.batch,
          enrollConcurrency: options.enrollConcurrency,
        }
        const enrolled = options.skipEnroll
          ? ' (registry only)'
          : `, ${count(report.enrolled)} enrolled`
        return {
          measured,
          fields: {
            members: engine.members.count(),
            shards: engine.shards,
            workers: engine.workers,
            durable: engine.durable,
            import: importFigures,
            lookupsPerSec: Math.round(measured.opsPerSec),
            search: { namePrefix: byName, countryJoined: byCountry },
          },
          charts: [{
            title: 'search latency, first page of 50',
            rows: [
              ['name prefix p50', byName.p50Ms],
              ['name prefix p99', byName.p99Ms],
              ['country + joined p50', byCountry.p50Ms],
              ['country + joined p99', byCountry.p99Ms],
            ].map(([label, value]) => ({ label: label as string, value: value as number, text: `${ms(value as number)} ms` })),
          }],
          notes: [
            `import: ${count(report.imported)} members in ${report.seconds.toFixed(1)} s = ` +
              `${count(importFigures.membersPerSec)} members/s${enrolled}`,
            `look-ups by card: ${count(measured.opsPerSec)}/s on the gateway thread`,
            `search by name prefix: p50 ${byName.p50Ms} ms, p99 ${byName.p99Ms} ms ` +
              `(${byName.meanResults} results on average)`,
            `search by country + 30 days joined: p50 ${byCountry.p50Ms} ms, ` +
              `p99 ${byCountry.p99Ms} ms (${byCountry.meanResults} results on average)`,
            `${engine.shards} shards, ${engine.workers} workers, durable ${engine.durable}`,
          ],
        }
      } finally {
        await engine.close()
      }
    } finally {
      removeTemporaryFolder(folder)
    }
  },
})
