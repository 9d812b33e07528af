/**
 * Goal: the queue loses no read and delivers none twice across restarts and
 * crashes, in order, within its bound. Method: a real queue in a temp folder,
 * reopened after clean closes, after a simulated crash (a torn last line and
 * a lock left by a dead process), and past the compaction threshold.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Logger } from './logger.ts'
import { Outbox, OutboxLockedError, type QueuedRead } from './outbox.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-queue-'))
  dirs.push(dir)
  return dir
}

function recordingLogger() {
  const warnings: string[] = []
  const logger: Logger = {
    info() {},
    warn: (m) => void warnings.push(m),
    error: (m) => void warnings.push(m),
  }
  return { logger, warnings }
}

const read = (n: number): QueuedRead => ({
  key: `k${n}`,
  reader: 'msr',
  card: { type: 'card', value: `60012345678${n}` },
  readAt: 1_700_000_000_000 + n,
})

/** The pid of a process that has exited (so a lock naming it is stale). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!
}

describe('on-disk queue', () => {
  it('keeps reads in order across a restart and forgets answered ones', async () => {
    const dir = folder()
    const { logger } = recordingLogger()
    const first = await Outbox.open({ dir, readsMax: 10, logger })
    for (const n of [1, 2, 3]) expect(await first.add(read(n))).toBe(true)
    await first.remove('k1')
    await first.close()
    const second = await Outbox.open({ dir, readsMax: 10, logger })
    expect(second.size).toBe(2)
    expect(second.head()).toEqual(read(2))
    await expect(second.remove('k3')).rejects.toThrow(/not the read at the head/)
    await second.remove('k2')
    expect(second.head()).toEqual(read(3))
    await second.close()
  })

  it('refuses reads past its bound, writing nothing for them', async () => {
    const dir = folder()
    const outbox = await Outbox.open({ dir, readsMax: 2, logger: recordingLogger().logger })
    expect(await outbox.add(read(1))).toBe(true)
    expect(await outbox.add(read(2))).toBe(true)
    expect(await outbox.add(read(3))).toBe(false)
    expect(outbox.size).toBe(2)
    await outbox.close()
    expect(readFileSync(join(dir, 'outbox.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2)
  })

  it("recovers from a crash: skips a torn last line and takes over a dead process's lock", async () => {
    const dir = folder()
    const { logger, warnings } = recordingLogger()
    const outbox = await Outbox.open({ dir, readsMax: 10, logger })
    await outbox.add(read(1))
    await outbox.add(read(2))
    // The crash: no close, half a line written, the lock left behind by a process now gone.
    appendFileSync(join(dir, 'outbox.jsonl'), '{"add":{"key":"k3","rea')
    writeFileSync(join(dir, 'outbox.lock'), String(deadPid()))
    const reopened = await Outbox.open({ dir, readsMax: 10, logger })
    expect([reopened.size, reopened.head()]).toEqual([2, read(1)])
    expect(warnings).toEqual([expect.stringMatching(/skipped the unfinished last line/)])
    // The lock is this process's now: a second opener is refused.
    expect(readFileSync(join(dir, 'outbox.lock'), 'utf8')).toBe(String(process.pid))
    await expect(Outbox.open({ dir, readsMax: 10, logger })).rejects.toThrow(OutboxLockedError)
    await reopened.close()
    await outbox.close().catch(() => {})
  })

  it('skips a damaged line in the middle with a warning naming it, keeping the reads around it', async () => {
    const dir = folder()
    const { logger, warnings } = recordingLogger()
    const outbox = await Outbox.open({ dir, readsMax: 10, logger })
    await outbox.add(read(1))
    await outbox.close()
    // Line 2 is damaged (a record without its card, then bytes that are not JSON); line 4 is a good one after them.
    appendFileSync(join(dir, 'outbox.jsonl'), '{"add":{"key":"k9","reader":"msr","readAt":1}}\n\u0000\u0000garbage\n')
    appendFileSync(join(dir, 'outbox.jsonl'), `${JSON.stringify({ add: read(2) })}\n`)
    const reopened = await Outbox.open({ dir, readsMax: 10, logger })
    expect(reopened.size).toBe(2)
    expect(reopened.head()).toEqual(read(1))
    await reopened.remove('k1')
    expect(reopened.head()).toEqual(read(2))
    expect(warnings).toEqual([
      expect.stringMatching(/skipped line 2, which is not a queue record/),
      expect.stringMatching(/skipped line 3, which is not a queue record/),
    ])
    await reopened.close()
  })

  it('keeps a second bridge off a folder in use', async () => {
    const dir = folder()
    const outbox = await Outbox.open({ dir, readsMax: 10, logger: recordingLogger().logger })
    await expect(
      Outbox.open({ dir, readsMax: 10, logger: recordingLogger().logger }),
    ).rejects.toThrow(OutboxLockedError)
    await outbox.close()
    const again = await Outbox.open({ dir, readsMax: 10, logger: recordingLogger().logger })
    await again.close()
  })

  it('takes over a lock naming its own pid, left by an earlier run (a restarted container reuses the pid)', async () => {
    const dir = folder()
    // The bridge crashed; its container started it again, as the same pid it had before.
    writeFileSync(join(dir, 'outbox.lock'), String(process.pid))
    const outbox = await Outbox.open({ dir, readsMax: 10, logger: recordingLogger().logger })
    expect(await outbox.add(read(1))).toBe(true)
    // Held by this run now: a second opener is still refused.
    await expect(
      Outbox.open({ dir, readsMax: 10, logger: recordingLogger().logger }),
    ).rejects.toThrow(OutboxLockedError)
    await outbox.close()
  })

  it('keeps working when a rewrite fails (a full disk), and rewrites once it can', async () => {
    const dir = folder()
    const { logger, warnings } = recordingLogger()
    const outbox = await Outbox.open({ dir, readsMax: 1000, logger })
    for (let n = 0; n < 400; n++) await outbox.add(read(n))
    // The rewrite's temporary file cannot be written (a folder in its place, as good as a full disk).
    mkdirSync(join(dir, 'outbox.jsonl.tmp'))
    for (let n = 0; n < 200; n++) await outbox.remove(`k${n}`)
    expect(warnings).toEqual([expect.stringMatching(/could not rewrite outbox.jsonl \(EISDIR/)])
    // Reads are still written, and answered ones noted, on disk.
    expect(await outbox.add(read(400))).toBe(true)
    rmSync(join(dir, 'outbox.jsonl.tmp'), { recursive: true })
    for (let n = 200; n < 395; n++) await outbox.remove(`k${n}`)
    const lines = readFileSync(join(dir, 'outbox.jsonl'), 'utf8').trim().split('\n')
    expect(lines.length).toBeLessThan(100)
    await outbox.close()
    const reopened = await Outbox.open({ dir, readsMax: 1000, logger })
    expect([reopened.size, reopened.head()?.key]).toEqual([6, 'k395'])
    expect(warnings).toHaveLength(1)
    await reopened.close()
  })

  it('rewrites its file once answered lines dominate, keeping what waits', async () => {
    const dir = folder()
    const outbox = await Outbox.open({ dir, readsMax: 1000, logger: recordingLogger().logger })
    for (let n = 0; n < 200; n++) await outbox.add(read(n))
    for (let n = 0; n < 150; n++) await outbox.remove(`k${n}`)
    // 350 records were written; the rewrite (past 256 lines, once most were answered) dropped the answered ones.
    const lines = readFileSync(join(dir, 'outbox.jsonl'), 'utf8').trim().split('\n')
    expect(lines.length).toBeLessThan(250)
    await outbox.close()
    const reopened = await Outbox.open({ dir, readsMax: 1000, logger: recordingLogger().logger })
    expect([reopened.size, reopened.head()?.key]).toEqual([50, 'k150'])
    await reopened.close()
  })
})
