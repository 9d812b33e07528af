/**
 * Goal: a shard worker that dies is supervised: what it had in flight is
 * answered `unavailable`, it is started again on the same shards, and the host
 * still closes promptly, whether or not the thread was restarted yet.
 * Method: a real WorkerHost on a temp folder; the thread is made to die by a
 * command the engine's validation would never let through (no account), which
 * fails inside the batch and ends the thread like any programmer error.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Command } from '../domain/types.ts'
import { silentLogger } from '../logger.ts'
import { WorkerHost } from './hosts.ts'

const folders: string[] = []
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function workerHost(logged?: string[]): WorkerHost {
  const dir = mkdtempSync(join(tmpdir(), 'loyalty-hosts-'))
  folders.push(dir)
  const path = join(dir, '00')
  mkdirSync(path)
  return new WorkerHost({
    shards: [{ index: 0, path }],
    config: {},
    limits: {},
    noSync: false,
    logger: logged === undefined ? silentLogger : { info() {}, warn() {}, error: (message) => void logged.push(message) },
    rules: undefined,
    lease: async () => 0,
  })
}

const fatal = { op: 'earn', key: 'k', points: 1 } as unknown as Command

describe('a worker host whose thread dies', () => {
  it('answers what was in flight unavailable and serves again after the restart', async () => {
    const host = workerHost()
    await host.ready
    expect(await host.submit(0, { op: 'earn', account: 'a', key: 'k1', points: 5 })).toMatchObject({ status: 'ok' })
    expect(await host.submit(0, fatal)).toMatchObject({ status: 'unavailable' })
    let reply = await host.submit(0, { op: 'balance', account: 'a' })
    for (let i = 0; i < 100 && reply.status === 'unavailable'; i++) {
      await new Promise((r) => setTimeout(r, 50))
      reply = await host.submit(0, { op: 'balance', account: 'a' })
    }
    expect(reply).toMatchObject({ status: 'ok', balance: { available: 5 } })
    await host.close()
  })

  it('closes at once while the thread is down, and starts no thread after closing', async () => {
    const host = workerHost()
    await host.ready
    expect(await host.submit(0, fatal)).toMatchObject({ status: 'unavailable' })
    // Wait for the exit: commands are refused while it is restarted.
    while ((await host.submit(0, { op: 'balance', account: 'a' })).message !== 'the shard worker is restarting') {
      await new Promise((r) => setTimeout(r, 10))
    }
    const started = Date.now()
    await host.close()
    expect(Date.now() - started).toBeLessThan(2000)
    // A thread started after the close would open its store again, making the folder anew.
    rmSync(folders[0]!, { recursive: true, force: true })
    await new Promise((r) => setTimeout(r, 2000))
    expect(existsSync(folders[0]!)).toBe(false)
  })

  it('says why it cannot start the thread again, and keeps trying until it can', async () => {
    const logged: string[] = []
    const host = workerHost(logged)
    const path = join(folders[0]!, '00')
    await host.ready
    expect(await host.submit(0, { op: 'earn', account: 'a', key: 'k1', points: 5 })).toMatchObject({ status: 'ok' })
    // The store cannot be opened while the thread is down.
    renameSync(join(path, 'data.mdb'), join(path, 'kept.mdb'))
    mkdirSync(join(path, 'data.mdb'))
    expect(await host.submit(0, fatal)).toMatchObject({ status: 'unavailable' })
    for (let i = 0; i < 100 && !logged.some((m) => m.includes('could not open')); i++) {
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(logged.find((m) => m.includes('could not open'))).toContain(`cannot open ${path}`)
    const meanwhile = []
    for (let i = 0; i < 20; i++) {
      meanwhile.push(await host.submit(0, { op: 'balance', account: 'a' }))
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(meanwhile.filter((r) => r.status !== 'unavailable' || /not on this worker/.test(r.message!))).toEqual([])
    rmSync(join(path, 'data.mdb'), { recursive: true })
    renameSync(join(path, 'kept.mdb'), join(path, 'data.mdb'))
    let reply = await host.submit(0, { op: 'balance', account: 'a' })
    for (let i = 0; i < 200 && reply.status === 'unavailable'; i++) {
      await new Promise((r) => setTimeout(r, 50))
      reply = await host.submit(0, { op: 'balance', account: 'a' })
    }
    expect(reply).toMatchObject({ status: 'ok', balance: { available: 5 } })
    await host.close()
  })
})
