/**
 * A shard worker thread: opens its shards' stores, runs their batch loops,
 * and answers the engine in batched messages. A programmer error (failed
 * assertion) ends the thread; the engine's supervisor restarts it.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads'
import type { Command, Reply } from '../domain/types.ts'
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

function init(message: WorkerInit) {
  try {
    for (const { index, path } of message.shards) {
      const store = new LmdbStore({ path, noSync: message.noSync })
      const shard = new Shard({
        store,
        config: message.config,
        limits: message.limits,
        onFatal: (error) => setImmediate(() => { throw error }),
      })
      shards.set(index, { shard, store })
    }
    post({ type: 'ready' })
  } catch (error) {
    post({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
  }
}

function submit(items: (number | Command)[]) {
  for (let i = 0; i < items.length; i += 3) {
    const id = items[i] as number
    const owner = shards.get(items[i + 1] as number)
    if (owner === undefined) {
      reply(id, { status: 'unavailable', message: `shard ${String(items[i + 1])} is not on this worker` })
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

port.on('message', (message: ToWorker) => {
  if (message.type === 'init') init(message)
  else if (message.type === 'commands') submit(message.items)
  else void close()
})
