/**
 * A shard worker thread: opens its shards' stores, runs their batch loops,
 * and answers the engine in batched messages. A programmer error (failed
 * assertion) ends the thread; the engine's supervisor restarts it.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads'
import type { Command, Reply } from '../domain/types.ts'
import { compileRuleset } from '../rules/compile.ts'
import type { RulesetDoc } from '../rules/types.ts'
import { LmdbStore } from '../store/lmdb-store.ts'
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts'
import { Shard } from './shard.ts'

const port = parentPort
if (port === null) throw new Error('worker.ts runs only as a worker thread')

const shards = new Map<number, { shard: Shard; store: LmdbStore }>()
let outgoing: (number | Reply)[] = []
let flushScheduled = false

function post(message: FromWorker) {
  port!.postMessage(message)
}

function reply(id: number, answer: Reply) {
  outgoing.push(id, answer)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushReplies)
  }
}

function flushReplies() {
  flushScheduled = false
  const items = outgoing
  outgoing = []
  post({ type: 'replies', items })
}

const leases = new Map<number, (units: number) => void>()
let nextLease = 1

/** Asks the engine (main thread) for quota units; the answer comes as `leaseGranted`. */
function requestLease(quotaKey: string, quota: number, wanted: number): Promise<number> {
  const id = nextLease++
  return new Promise((resolve) => {
    leases.set(id, resolve)
    post({ type: 'lease', id, quotaKey, quota, wanted })
  })
}

/** Why the stores could not be opened (the host ends this thread; commands that came meanwhile are told why). */
let openFailure: string | undefined

function init(message: WorkerInit) {
  try {
    const rules = message.rules === undefined ? undefined : compileRuleset(message.rules.doc, message.rules.version)
    for (const { index, path } of message.shards) {
      const store = new LmdbStore({ path, noSync: message.noSync })
      const shard = new Shard({
        store,
        config: message.config,
        limits: message.limits,
        rules,
        requestLease,
        onFatal: (error) => setImmediate(() => { throw error }),
      })
      shards.set(index, { shard, store })
    }
    post({ type: 'ready' })
  } catch (error) {
    openFailure = error instanceof Error ? error.message : String(error)
    post({ type: 'failed', message: openFailure })
  }
}

function submit(items: (number | Command)[]) {
  for (let i = 0; i < items.length; i += 3) {
    const id = items[i] as number
    const owner = shards.get(items[i + 1] as number)
    if (owner === undefined) {
      const message = openFailure ?? `shard ${String(items[i + 1])} is not on this worker`
      reply(id, { status: 'unavailable', message })
      continue
    }
    owner.shard.submit(items[i + 2] as Command).then((answer) => reply(id, answer))
  }
}

async function close() {
  await Promise.all([...shards.values()].map(({ shard }) => shard.close()))
  flushReplies()
  await Promise.all([...shards.values()].map(({ store }) => store.close()))
  post({ type: 'closed' })
}

// lmdb-js writes some records of its own (shared msgpack structures) whose
// rejections nobody can await; a failed commit is already reported through the
// batch that owned it, so those echoes are not allowed to kill the thread.
process.on('unhandledRejection', (reason) => {
  if ((reason as { commitError?: unknown } | undefined)?.commitError !== undefined) return
  throw reason
})

function setRules(version: number, doc: RulesetDoc) {
  const rules = compileRuleset(doc, version)
  for (const { shard } of shards.values()) shard.setRules(rules)
  post({ type: 'rulesSet', version })
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init':
      return init(message)
    case 'commands':
      return submit(message.items)
    case 'rules':
      return setRules(message.version, message.doc)
    case 'leaseGranted': {
      const resolve = leases.get(message.id)
      leases.delete(message.id)
      return resolve?.(message.units)
    }
    case 'totals':
      return post({ type: 'totals', id: message.id, totals: shards.get(message.shard)?.shard.totals() })
    case 'close':
      return void close()
  }
})
