/**
 * Transfers survive SIGKILL at every step: a child process starts a transfer
 * between accounts on different shards and kills itself right after the
 * saga's start, its hold, or its credit is durable. Reopening the engine
 * resumes the saga, which must end with the points moved exactly once; a
 * retry with the same key changes nothing.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openEngine, shardOf, silentLogger, type Engine, type Entry } from '@loyalty/engine'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

function accounts(): [string, string] {
  let i = 0
  while (shardOf(`to${i}`, 4) === shardOf('from', 4)) i++
  return ['from', `to${i}`]
}

function runChild(args: string[], crashAfter: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./saga-child.ts', import.meta.url).pathname, ...args], {
    env: { ...process.env, LOYALTY_SAGA_CRASH_AFTER: crashAfter },
  })
  let out = ''
  child.stdout.on('data', (d) => (out += String(d)))
  child.stderr.on('data', (d) => (out += String(d)))
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })))
}

/**
 * The link or merge marked the member's own account as moving (no till's
 * hold taken) before the kill at most steps; the resumed saga ended it: the
 * account takes holds again.
 */
async function expectNotMoving(engine: Engine, account: string) {
  expect(await engine.submit({ op: 'earn', account, key: 'after-crash', points: 5 })).toMatchObject({ status: 'ok' })
  expect(await engine.submit({ op: 'authorize', account, key: 'after-crash-hold', points: 5 })).toMatchObject({ status: 'ok' })
}

describe('transfer sagas under SIGKILL', () => {
  it.each(['started', 'held', 'credited'])('finish exactly once after a kill once the saga is %s', async (step) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-saga-'))
    dirs.push(dataDir)
    const [from, to] = accounts()
    const child = await runChild(['transfer', dataDir, from, to, '250', 'gift'], step)
    expect(child.signal, child.out).toBe('SIGKILL')

    const engine = await openEngine({ dataDir, workers: 1, logger: silentLogger })
    try {
      const saga = engine.sagas.transferOf(from, 'gift')
      expect(saga).toMatchObject({ state: 'done', points: 250 })
      expect((await engine.execute({ op: 'balance', account: from })).balance).toEqual({ available: 750, pending: 0, held: 0 })
      expect((await engine.execute({ op: 'balance', account: to })).balance).toEqual({ available: 260, pending: 0, held: 0 })
      const credits = ((await engine.execute({ op: 'history', account: to })).entries ?? []).filter((e: Entry) => e.ref === `transfer:${saga!.id}`)
      expect(credits).toHaveLength(1)
      const again = await engine.sagas.transfer({ from, to, points: 250, key: 'gift' }, { kind: 'admin', id: 'retry' })
      expect(again).toMatchObject({ saga: { state: 'done' } })
      expect((await engine.execute({ op: 'balance', account: to })).balance?.available).toBe(260)
    } finally {
      await engine.close()
    }
  })
})

describe('merge sagas under SIGKILL', () => {
  it.each(['merge-started', 'merge-moving', 'merge-absorbed', 'held', 'credited'])('finish exactly once after a kill at %s', async (step) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-merge-'))
    dirs.push(dataDir)
    const [from, into] = accounts()
    const child = await runChild(['merge', dataDir, from, into], step)
    expect(child.signal, child.out).toBe('SIGKILL')

    const engine = await openEngine({ dataDir, workers: 1, logger: silentLogger })
    try {
      expect(engine.sagas.mergeRecord(`m-${from}-${into}`)).toMatchObject({ state: 'done' })
      expect((await engine.execute({ op: 'balance', account: into })).balance?.available).toBe(1010)
      expect((await engine.execute({ op: 'balance', account: from })).balance?.available).toBe(0)
      expect(engine.members.resolve('card', 'CARDFROM1')?.member.id).toBe(into)
      expect(engine.members.get(from)).toMatchObject({ status: 'closed', mergedInto: into })
      const again = await engine.sagas.merge(from, into, { kind: 'admin', id: 'retry' })
      expect(again).toMatchObject({ merge: { state: 'done' } })
      expect((await engine.execute({ op: 'balance', account: into })).balance?.available).toBe(1010)
      await expectNotMoving(engine, from)
    } finally {
      await engine.close()
    }
  })
})

describe('household link sagas under SIGKILL', () => {
  // Before links were sagas, a kill after the registry's link left the member linked with its
  // points on its own account, where its commands no longer reach them, and nothing resumed it.
  it.each(['link-started', 'link-moving', 'link-linked', 'held', 'credited'])('finish exactly once after a kill at %s', async (step) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-link-'))
    dirs.push(dataDir)
    const [member, master] = accounts()
    const child = await runChild(['link', dataDir, member, master], step)
    expect(child.signal, child.out).toBe('SIGKILL')

    const engine = await openEngine({ dataDir, workers: 1, logger: silentLogger })
    try {
      expect(engine.members.get(member)).toMatchObject({ household: master, account: master })
      expect((await engine.execute({ op: 'balance', account: master })).balance).toEqual({ available: 1010, pending: 0, held: 0 })
      // The member's 1,000 reached the pool once (its own account is the pool's now for its commands).
      const credits = ((await engine.execute({ op: 'history', account: master })).entries ?? []).filter((e: Entry) => e.ref?.startsWith('transfer:'))
      expect(credits).toMatchObject([{ points: 1000 }])
      // Linking again is refused (it is linked), and moves nothing.
      expect(await engine.sagas.linkHousehold(member, master, { kind: 'admin', id: 'retry' })).toMatchObject({ status: 'invalid_request' })
      expect((await engine.execute({ op: 'balance', account: master })).balance?.available).toBe(1010)
      await expectNotMoving(engine, member)
    } finally {
      await engine.close()
    }
  })
})

describe('a household return\'s settlement under SIGKILL', () => {
  // A return of a purchase the member made before it joined, with nothing in the pool to pay it:
  // the decision to pay nothing is kept before the reply, so the retry after the kill pays nothing
  // from points the pool gained since (it used to pay from them, as a first attempt then would).
  it('keeps a decision to pay nothing: the retry after the kill pays nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-return-'))
    dirs.push(dataDir)
    const [member, master] = accounts()
    const setup = await runChild(['return-setup', dataDir, member, master], '')
    expect(setup.code, setup.out).toBe(0)
    const child = await runChild(['return', dataDir, member, master], 'started')
    expect(child.signal, child.out).toBe('SIGKILL')

    const engine = await openEngine({ dataDir, workers: 1, logger: silentLogger })
    try {
      expect(engine.sagas.transferOf(master, `return:${member}:ret`)).toMatchObject({ state: 'done', points: 0 })
      await engine.execute({ op: 'earn', account: master, key: 'refill', points: 1000 })
      const retried = await engine.execute({ op: 'reverse', account: member, key: 'ret', ref: 'p1' })
      expect(retried).toMatchObject({ status: 'exists', points: 500, balance: { available: 1000 } })
      expect((await engine.submit({ op: 'balance', account: member })).balance?.available).toBe(-500)
      expect((await engine.execute({ op: 'balance', account: master })).balance?.available).toBe(1000)
    } finally {
      await engine.close()
    }
  })
})
