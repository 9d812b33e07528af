/**
 * Goal: the engine opens, routes, closes and reopens data folders correctly on
 * worker threads, refuses folders it must not use with a message saying why,
 * and turns a full disk into `unavailable` replies, never a lost ack.
 * Method: real engines on temp folders (and a tiny tmpfs for the full disk).
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DataDirError, lockDataDir, openDataDir, registryPath, shardPath } from './data-dir.ts'
import { openEngine } from './engine.ts'
import { demoRuleset } from './rules/demo.ts'
import { FakeClock } from './testing/clock.ts'

const folders: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'loyalty-engine-'))
  folders.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('engine on worker threads', () => {
  it('routes commands to their shards and keeps them across close and reopen', async () => {
    const dataDir = tempDir()
    const engine = await openEngine({ dataDir, shards: 4, workers: 2 })
    expect([engine.shards, engine.workers, engine.durable]).toEqual([4, 2, true])
    const earns = Array.from({ length: 200 }, (_, i) =>
      engine.execute({ op: 'earn', account: `m${i}`, key: 'e', points: 100 + i }),
    )
    expect((await Promise.all(earns)).every((r) => r.status === 'ok')).toBe(true)
    expect(await engine.execute({ op: 'redeem', account: 'm7', key: 'r', points: 7 })).toMatchObject({
      status: 'ok',
      balance: { available: 100 },
    })
    await engine.close()
    expect(await engine.execute({ op: 'balance', account: 'm7' })).toMatchObject({ status: 'unavailable' })

    const reopened = await openEngine({ dataDir, workers: 1 })
    expect(reopened.shards).toBe(4)
    const balances = await Promise.all(
      Array.from({ length: 200 }, (_, i) => reopened.execute({ op: 'balance', account: `m${i}` })),
    )
    expect(balances.map((r) => r.balance?.available)).toEqual(
      Array.from({ length: 200 }, (_, i) => (i === 7 ? 100 : 100 + i)),
    )
    expect(await reopened.execute({ op: 'redeem', account: 'm7', key: 'r', points: 7 })).toMatchObject({
      status: 'exists',
    })
    await reopened.close()
  })

  it('keeps a purchase`s lines and an account`s lapsed points across close and reopen', async () => {
    const dataDir = tempDir()
    const clock = new FakeClock(Date.UTC(2026, 2, 4, 10)) // a Wednesday: no weekend campaign
    // In-process shards (workers: 0), so that they read the fake clock.
    const engine = await openEngine({ dataDir, shards: 2, workers: 0, clock: clock.read })
    expect(await engine.rules.publish(demoRuleset, { activate: true })).toMatchObject({ ok: true })
    expect(await engine.execute({ op: 'enroll', account: 'm1', key: 'join', program: 'demo' })).toMatchObject({ status: 'ok' })
    const basket = {
      lines: [
        { sku: 'tv', category: 'tv', quantity: 1, unitPrice: 50_000 },
        { sku: 'card', category: 'gift-cards', quantity: 1, unitPrice: 50_000 },
      ],
    }
    expect(await engine.execute({ op: 'purchase', account: 'm1', key: 'p1', basket })).toMatchObject({ status: 'ok', points: 600 })
    const soon = clock.now + 60_000
    expect(await engine.execute({ op: 'earn', account: 'm1', key: 'e1', ref: 'bonus', points: 40, expiresAt: soon })).toMatchObject({ status: 'ok' })
    await engine.close()

    const reopened = await openEngine({ dataDir, workers: 0, clock: clock.read })
    clock.advance(120_000)
    expect(await reopened.execute({ op: 'expire', account: 'm1' })).toMatchObject({ status: 'ok', points: 40 })
    await reopened.close()
    const again = await openEngine({ dataDir, workers: 0, clock: clock.read })
    expect(await again.execute({ op: 'reverse', account: 'm1', key: 'r1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })).toMatchObject({
      status: 'ok',
      points: 500,
    })
    expect(await again.execute({ op: 'reverse', account: 'm1', key: 'r2', ref: 'bonus' })).toMatchObject({ status: 'ok', points: 0, lapsed: 40 })
    expect((await again.execute({ op: 'balance', account: 'm1' })).balance).toMatchObject({ available: 200 })
    await again.close()
  })

  it.each([2, 0])('answers every command in flight when closed, and keeps each one it answered ok (%i workers)', async (workers) => {
    const dataDir = tempDir()
    const engine = await openEngine({ dataDir, shards: 2, workers })
    const replies = Array.from({ length: 2000 }, (_, i) =>
      engine.execute({ op: 'earn', account: `m${i % 50}`, key: `k${i}`, points: 1 }),
    )
    await engine.close()
    const statuses = (await Promise.all(replies)).map((r) => r.status)
    expect(statuses.filter((s) => s !== 'ok' && s !== 'unavailable')).toEqual([])
    expect(statuses.filter((s) => s === 'ok').length).toBeGreaterThan(0)

    const reopened = await openEngine({ dataDir, workers: 1 })
    const balances = await Promise.all(
      Array.from({ length: 50 }, (_, m) => reopened.execute({ op: 'balance', account: `m${m}` })),
    )
    const acked = Array.from({ length: 50 }, (_, m) => statuses.filter((s, i) => i % 50 === m && s === 'ok').length)
    expect(balances.map((r) => r.balance?.available ?? 0)).toEqual(acked)
    await reopened.close()
  })

  it('validates at the edge and names the field', async () => {
    const engine = await openEngine({ dataDir: tempDir(), workers: 1 })
    expect(await engine.execute({ op: 'earn', account: 'a', key: 'k', points: 1e13 })).toMatchObject({
      status: 'invalid_request',
      field: 'points',
    })
    expect(await engine.execute('earn 5')).toMatchObject({ status: 'invalid_request', field: '' })
    await engine.close()
  })

  it('answers overloaded at once when a shard has too many commands in flight', async () => {
    const engine = await openEngine({ dataDir: tempDir(), shards: 1, workers: 1, limits: { mailboxDepthMax: 10 } })
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => engine.execute({ op: 'earn', account: 'a', key: `k${i}`, points: 1 })),
    )
    const statuses = replies.map((r) => r.status)
    expect(statuses.filter((s) => s === 'ok')).toHaveLength(10)
    expect(statuses.filter((s) => s === 'overloaded')).toHaveLength(20)
    await engine.close()
  })
})

describe('two engines on one data folder', () => {
  it('refuses the second, in this process or another, and takes over from one that was killed', async () => {
    const dataDir = tempDir()
    const engine = await openEngine({ dataDir, shards: 2, workers: 1 })
    await expect(openEngine({ dataDir, workers: 1 })).rejects.toThrow(`${dataDir} is in use by process ${process.pid}`)
    await engine.close()

    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./testing/engine-child.ts', import.meta.url)), dataDir])
    const exited = new Promise((resolve) => child.on('exit', resolve))
    try {
      await new Promise((resolve, reject) => {
        child.stdout.on('data', (data) => String(data).includes('open') && resolve(undefined))
        child.on('exit', (code) => reject(new Error(`the child exited (${code}) before opening`)))
      })
      const refused = openEngine({ dataDir, workers: 1 })
      await expect(refused).rejects.toThrow(DataDirError)
      await expect(refused).rejects.toThrow(`${dataDir} is in use by process ${child.pid}`)
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    const reopened = await openEngine({ dataDir, workers: 1 })
    expect(await reopened.execute({ op: 'earn', account: 'a', key: 'k', points: 1 })).toMatchObject({ status: 'ok' })
    await reopened.close()
  })

  it('takes over a lock left by an earlier run with this same process id (a restarted container)', () => {
    const dir = tempDir()
    openDataDir(dir)
    writeFileSync(join(dir, 'lock'), `${process.pid}\n`)
    const release = lockDataDir(dir)
    expect(() => lockDataDir(dir)).toThrow(/in use by process \d+ \(this one\)/)
    release()
    expect(readdirSync(dir)).not.toContain('lock')
    writeFileSync(join(dir, 'lock'), '') // cut short by a crash
    lockDataDir(dir)()
  })

  it.skipIf(!existsSync('/proc/self/stat'))('takes over a lock whose process id now belongs to another process (after a reboot)', () => {
    const dir = tempDir()
    openDataDir(dir)
    // The parent runs; a lock with its id and another start time was written by an earlier process with that id.
    const parent = process.ppid
    const started = readFileSync(`/proc/${parent}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!
    writeFileSync(join(dir, 'lock'), `${parent} 1\n`)
    const release = lockDataDir(dir)
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+\n$`))
    release()
    // With its own start time, or none (a lock written before start times were kept), it is that process's.
    for (const held of [`${parent} ${started}\n`, `${parent}\n`]) {
      writeFileSync(join(dir, 'lock'), held)
      expect(() => lockDataDir(dir)).toThrow(`is in use by process ${parent}`)
    }
  })

  it('lets one of several processes that find the same stale lock at once take it', async () => {
    const dir = tempDir()
    openDataDir(dir)
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => gone.on('exit', resolve))
    const script = fileURLToPath(new URL('./testing/lock-child.ts', import.meta.url))
    // Without the guard, two of six took it in two of three runs of three rounds.
    for (let round = 0; round < 2; round++) {
      writeFileSync(join(dir, 'lock'), `${gone.pid}\n`)
      const racers = Array.from({ length: 6 }, () => {
        const racer = spawn(process.execPath, ['--import', 'tsx', script, dir])
        const lines: string[] = []
        const said = (what: RegExp) =>
          new Promise<string>((resolve, reject) => {
            racer.stdout.on('data', (data: Buffer) => {
              lines.push(...String(data).trim().split('\n'))
              const line = lines.find((l) => what.test(l))
              if (line !== undefined) resolve(line)
            })
            racer.on('exit', () => reject(new Error(`a racer exited after saying ${JSON.stringify(lines)}`)))
          })
        return { racer, ready: said(/^ready$/), outcome: said(/^(locked|refused)/), exited: new Promise((r) => racer.on('exit', r)) }
      })
      // All loaded first, then all told at once: they meet the stale lock together.
      await Promise.all(racers.map((r) => r.ready))
      for (const { racer } of racers) racer.stdin.write('go\n')
      const outcomes = await Promise.all(racers.map((r) => r.outcome))
      for (const { racer } of racers) racer.stdin.end()
      await Promise.all(racers.map((r) => r.exited))
      expect(outcomes.filter((o) => o === 'locked')).toHaveLength(1)
      for (const o of outcomes.filter((o) => o !== 'locked')) expect(o).toMatch(/^refused: .*(is in use by process|is taking over)/)
    }
  }, 60_000)
})

describe('data folders', () => {
  it('refuses another shard count than the folder was created with', () => {
    const dir = tempDir()
    openDataDir(dir, { shards: 4 })
    expect(() => openDataDir(dir, { shards: 8 })).toThrow(/created with 4 shards, not 8/)
    expect(openDataDir(dir).shards).toBe(4)
  })

  it('refuses a folder that is not a data folder', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'notes.txt'), 'hello')
    expect(() => openDataDir(dir)).toThrow(DataDirError)
    expect(() => openDataDir(dir)).toThrow(/not a Loyalty Engine data folder/)
  })

  it('refuses a folder written in another format version', () => {
    const dir = tempDir()
    const manifest = { product: 'loyalty-engine', format: 99, shards: 2, createdAt: '2026-01-01' }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
    expect(() => openDataDir(dir)).toThrow(/data format 99; this engine reads format 4 \(and upgrades format 2, 3\)/)
    manifest.format = 1
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
    expect(() => openDataDir(dir)).toThrow(/data format 1; this engine reads format 4/)
  })

  it.each([2, 3])('upgrades a format %i folder, after which its manifest says format 4', (format) => {
    const dir = tempDir()
    const manifest = { product: 'loyalty-engine', format, shards: 2, createdAt: '2026-01-01' }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
    expect(openDataDir(dir)).toEqual({ ...manifest, format: 4 })
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual({ ...manifest, format: 4 })
    expect(readdirSync(dir)).toEqual(['manifest.json'])
  })

  it('leaves a format 3 folder as it was when it refuses its shard count', () => {
    const dir = tempDir()
    const manifest = { product: 'loyalty-engine', format: 3, shards: 2, createdAt: '2026-01-01' }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
    expect(() => openDataDir(dir, { shards: 4 })).toThrow(/created with 2 shards, not 4/)
    // Not upgraded: an engine of format 3 still opens it.
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual(manifest)
  })

  it('finishes creating a folder whose creation was interrupted before its manifest was in place', () => {
    const dir = tempDir()
    // What createDataDir leaves when killed between making shards/ and renaming the manifest in.
    mkdirSync(join(dir, 'shards'))
    writeFileSync(join(dir, 'manifest.json.new'), '{"product":"loyalty-eng')
    expect(openDataDir(dir, { shards: 2 })).toMatchObject({ format: 4, shards: 2 })
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'shards'])
    expect(openDataDir(dir).shards).toBe(2)
    // A folder with anything else in it is still refused.
    writeFileSync(join(dir, 'shards', 'notes.txt'), 'hello')
    rmSync(join(dir, 'manifest.json'))
    expect(() => openDataDir(dir)).toThrow(/not a Loyalty Engine data folder/)
    const other = tempDir()
    writeFileSync(join(other, 'shards'), 'not a folder')
    expect(() => openDataDir(other)).toThrow(/not a Loyalty Engine data folder/)
  })

  it('names the shard or registry it cannot open', async () => {
    const dataDir = tempDir()
    await (await openEngine({ dataDir, shards: 2, workers: 1 })).close()
    // A data file LMDB cannot open (as it is when unreadable, or on a read-only disk).
    rmSync(join(shardPath(dataDir, 1), 'data.mdb'))
    mkdirSync(join(shardPath(dataDir, 1), 'data.mdb'))
    await expect(openEngine({ dataDir, workers: 1 })).rejects.toThrow(`cannot open ${shardPath(dataDir, 1)}: Is a directory`)
    await expect(openEngine({ dataDir, workers: 0 })).rejects.toThrow(`cannot open ${shardPath(dataDir, 1)}: Is a directory`)
    rmSync(join(shardPath(dataDir, 1), 'data.mdb'), { recursive: true })
    rmSync(join(registryPath(dataDir), 'data.mdb'))
    mkdirSync(join(registryPath(dataDir), 'data.mdb'))
    await expect(openEngine({ dataDir, workers: 1 })).rejects.toThrow(`cannot open ${registryPath(dataDir)}: Is a directory`)
  })

  // lmdb-js crashed the process (a segmentation fault) on each of these.
  it.each([
    ['zeros', () => Buffer.alloc(1 << 20), 'data.mdb is not an LMDB database'],
    ['random bytes', () => randomBytes(1 << 20), 'data.mdb is not an LMDB database'],
    ['100 bytes', () => randomBytes(100), 'data.mdb is not an LMDB database'],
    ['its first page only', (good: Buffer) => good.subarray(0, 4096), 'data.mdb is cut short: 4096 bytes'],
    [
      'a second meta page overwritten',
      (good: Buffer) => Buffer.concat([good.subarray(0, 4096), Buffer.alloc(4096), good.subarray(8192)]),
      'data.mdb is damaged: its second meta page (at byte 4096)',
    ],
  ])('refuses a shard or registry whose data file is %s, naming it', async (_, bytes, message) => {
    const dataDir = tempDir()
    await (await openEngine({ dataDir, shards: 2, workers: 1 })).close()
    const good = readFileSync(join(shardPath(dataDir, 1), 'data.mdb'))
    writeFileSync(join(shardPath(dataDir, 1), 'data.mdb'), bytes(good))
    const shard = `cannot open ${shardPath(dataDir, 1)}: ${message}`
    await expect(openEngine({ dataDir, workers: 1 })).rejects.toThrow(shard)
    await expect(openEngine({ dataDir, workers: 0 })).rejects.toThrow(shard)
    writeFileSync(join(shardPath(dataDir, 1), 'data.mdb'), good)
    const registryGood = readFileSync(join(registryPath(dataDir), 'data.mdb'))
    writeFileSync(join(registryPath(dataDir), 'data.mdb'), bytes(registryGood))
    await expect(openEngine({ dataDir, workers: 1 })).rejects.toThrow(`cannot open ${registryPath(dataDir)}: ${message}`)
    // Put back, the folder opens and holds what it held.
    writeFileSync(join(registryPath(dataDir), 'data.mdb'), registryGood)
    await (await openEngine({ dataDir, workers: 1 })).close()
  })

  it.skipIf(!existsSync('/proc/self/fd'))('closes the shards it opened when a later one cannot be opened (0 workers)', async () => {
    const dataDir = tempDir()
    await (await openEngine({ dataDir, shards: 2, workers: 0 })).close()
    writeFileSync(join(shardPath(dataDir, 1), 'data.mdb'), Buffer.alloc(8192))
    const shard0 = join(shardPath(dataDir, 0), 'data.mdb')
    const openOnShard0 = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === shard0
        } catch {
          return false
        }
      }).length
    await expect(openEngine({ dataDir, workers: 0 })).rejects.toThrow(`cannot open ${shardPath(dataDir, 1)}`)
    expect(openOnShard0()).toBe(0)
  })

  it('refuses a corrupt manifest', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'manifest.json'), '{not json')
    expect(() => openDataDir(dir)).toThrow(/not valid JSON/)
  })
})

const tinyDisk = join(tmpdir(), `loyalty-full-disk-${process.pid}`)
const isRoot = process.getuid?.() === 0

describe.skipIf(!isRoot)('a full disk (2 MiB tmpfs; mounting needs root)', () => {
  beforeAll(() => {
    mkdirSync(tinyDisk, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', tinyDisk])
  })
  afterAll(() => {
    execFileSync('umount', ['-l', tinyDisk])
    rmSync(tinyDisk, { recursive: true, force: true })
  })

  it('answers unavailable naming the full disk, and keeps every acknowledged command', async () => {
    const dataDir = join(tinyDisk, 'data')
    const engine = await openEngine({ dataDir, shards: 1, workers: 1 })
    const reason = 'x'.repeat(400)
    const acked = new Map<string, number>()
    let failure: { status: string; message?: string } | undefined
    for (let i = 0; i < 20_000 && failure === undefined; i++) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          engine.execute({ op: 'adjust', account: `a${j}`, key: `k${i}`, points: 1, reason }),
        ),
      )
      batch.forEach((r, j) => {
        if (r.status === 'ok') acked.set(`a${j}`, (acked.get(`a${j}`) ?? 0) + 1)
        else failure = r
      })
    }
    expect(failure).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/storage is full/) })
    const later = await engine.execute({ op: 'adjust', account: 'a0', key: 'later', points: 1, reason })
    expect(later.status).toBe('unavailable')
    await engine.close()

    const reopened = await openEngine({ dataDir, workers: 1 })
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(100)
    for (const [account, points] of acked) {
      const reply = await reopened.execute({ op: 'balance', account })
      expect([account, reply.balance?.available]).toEqual([account, points])
    }
    await reopened.close()
  })
})
