/**
 * `npm start`: opens the engine on a data folder (created when missing) and
 * runs until SIGTERM or SIGINT, then drains in-flight commands, flushes and
 * exits. Until the gateway lands, this is the whole system.
 *
 * Flags (or environment): --data DIR (LOYALTY_DATA, default ./data),
 * --shards N (LOYALTY_SHARDS, new folders only, default 4),
 * --workers N (LOYALTY_WORKERS, default: one per core, at most one per shard).
 */
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { DataDirError } from './data-dir.ts'
import { openEngine } from './engine.ts'
import { stderrLogger } from './logger.ts'
import { demoRuleset } from './rules/demo.ts'

const log = stderrLogger

function options() {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: process.env['LOYALTY_DATA'] ?? './data' },
      shards: { type: 'string', default: process.env['LOYALTY_SHARDS'] },
      workers: { type: 'string', default: process.env['LOYALTY_WORKERS'] },
    },
  })
  const count = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined
    const n = Number(text)
    if (!Number.isInteger(n) || n < 0) throw new DataDirError(`--${name} must be a whole number, not "${text}"`)
    return n
  }
  return {
    dataDir: resolve(values.data!),
    shards: count('shards', values.shards),
    workers: count('workers', values.workers),
  }
}

async function main() {
  const { dataDir, shards, workers } = options()
  const engine = await openEngine({ dataDir, shards, workers, logger: log })
  if (engine.rules.active() === undefined && engine.rules.list().length === 0) {
    const seeded = await engine.rules.publish(demoRuleset, { activate: true, note: 'demo program' })
    if (seeded.ok) log.info(`no ruleset yet: published and activated the demo program as version ${seeded.version}`)
  }
  const active = engine.rules.active()
  if (active !== undefined) {
    const programs = active.doc.programs.map((p) => p.id).join(', ')
    log.info(`ruleset version ${active.version} active (programs: ${programs})`)
  }
  log.info(
    `loyalty engine ready: ${engine.shards} shards on ${engine.workers} worker threads, ` +
      `data in ${dataDir} (durable: ${engine.durable})`,
  )
  let last = engine.stats()
  const statsTimer = setInterval(() => {
    const now = engine.stats()
    const rate = (now.answered - last.answered) / 10
    if (rate > 0) log.info(`${rate.toFixed(0)} commands/s, ${now.inFlight} in flight`)
    last = now
  }, 10_000)
  const stop = async (signal: string) => {
    log.info(`${signal}: draining in-flight commands and flushing`)
    clearInterval(statsTimer)
    await engine.close()
    log.info('stopped cleanly')
    process.exit(0)
  }
  // Ctrl-C reaches both tsx and this process, and tsx relays it: a second
  // signal must not kill the drain the first one started.
  let stopping = false
  const onSignal = (signal: string) => {
    if (stopping) return
    stopping = true
    void stop(signal)
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
}

main().catch((error: unknown) => {
  log.error(error instanceof DataDirError ? error.message : String((error as Error)?.stack ?? error))
  process.exit(1)
})
