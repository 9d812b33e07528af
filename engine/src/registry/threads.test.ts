/**
 * Goal: identifiers resolve from any thread, not only the one that writes
 * the registry, and a reader sees each committed change. Method: a real
 * worker thread opens the same registry (LMDB readers need no lock) while
 * the main thread creates a member and blocks its card.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, expect, it } from 'vitest'
import { registryPath } from '../data-dir.ts'
import { openEngine, type Engine } from '../engine.ts'

let engine: Engine | undefined
const folders: string[] = []
afterEach(async () => {
  await engine?.close()
  engine = undefined
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true })
})

interface Answer {
  results: ({ member: string; status: string } | null)[]
}

it('resolves identifiers from a worker thread, seeing each committed change', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-threads-'))
  folders.push(dataDir)
  engine = await openEngine({ dataDir, shards: 1, workers: 0 })
  const actor = { kind: 'admin' as const, id: 'test' }
  await engine.members.create({ id: 'w1', program: 'demo', phone: '+15550001111', cards: [{ value: 'THREAD0001' }] }, actor)
  const worker = new Worker(new URL('../testing/registry-reader.mjs', import.meta.url), {
    workerData: { path: registryPath(dataDir) },
  })
  const next = () => new Promise<unknown>((resolve) => worker.once('message', resolve))
  try {
    expect(await next()).toBe('ready')
    const lookups = [
      { type: 'card', value: 'thread-0001' },
      { type: 'phone', value: '+1 555 000 1111' },
      { type: 'card', value: 'NOSUCHCARD' },
    ]
    worker.postMessage(lookups)
    const first = (await next()) as Answer
    expect(first.results).toEqual([{ member: 'w1', status: 'active' }, { member: 'w1', status: 'active' }, null])
    await engine.members.setCardStatus('card', 'THREAD0001', 'blocked', actor, 'test')
    worker.postMessage(lookups.slice(0, 1))
    expect(((await next()) as Answer).results).toEqual([{ member: 'w1', status: 'blocked' }])
  } finally {
    worker.postMessage('close')
    await new Promise((resolve) => worker.once('exit', resolve))
  }
})
