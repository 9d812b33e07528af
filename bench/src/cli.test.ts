/**
 * Tests of the command line's contract: `--list`, and exit code 2 with the
 * valid choices named for an unknown scenario or a bad flag.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openDataDir } from '@loyalty/engine'

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url))

function bench(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: result.status, out: result.stdout, err: result.stderr }
}

describe('bench cli', () => {
  it('lists the scenarios', () => {
    const { code, out } = bench('--list')
    expect(code).toBe(0)
    expect(out).toMatch(/engine +engine-direct throughput/)
  })

  it('says so on stderr with exit code 2 when no scenario is given, even with --json', () => {
    const { code, out, err } = bench('--json')
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toContain('bench: no scenario given')
    expect(err).toMatch(/engine +engine-direct throughput/)
    expect(bench('--help').code).toBe(0)
  })

  it('rejects an unknown scenario with exit code 2, listing valid ones', () => {
    const { code, err } = bench('nope', '--json')
    expect(code).toBe(2)
    expect(err).toContain('unknown scenario "nope"; valid scenarios: engine')
  })

  it('rejects a bad flag with exit code 2, listing the flags', () => {
    const { code, err } = bench('engine', '--acounts', '5')
    expect(code).toBe(2)
    expect(err).toContain('unknown flag --acounts')
    expect(err).toContain('--accounts <int>')
  })

  it('exits with 1 when the engine answers with statuses the scenario does not expect, JSON line last', () => {
    // A data folder never seeded, used as if it had been: every account is missing.
    const data = mkdtempSync(join(tmpdir(), 'loyalty-bench-cli-test-'))
    try {
      const { code, out, err } = bench('engine', '--data', data, '--skip-seed', '--accounts', '50',
        '--seconds', '0.3', '--warmup', '0', '--concurrency', '8', '--workers', '1', '--shards', '1', '--json')
      expect(code).toBe(1)
      expect(err).toMatch(/error: measure: [\d,]+ replies with status account_not_found/)
      expect(err).toContain('bench: engine failed')
      const record = JSON.parse(out.trimEnd().split('\n').at(-1)!) as { failures: string[]; ops: number }
      expect(record.ops).toBeGreaterThan(0)
      expect(record.failures.some((f) => f.includes('account_not_found'))).toBe(true)
    } finally {
      rmSync(data, { recursive: true, force: true })
    }
  })

  /**
   * Starts a run with its own temporary folder (TMPDIR), sends SIGINT as Ctrl-C
   * would once the run is `ready` (by its stderr), and says how it ended.
   */
  async function interrupt(args: string[], ready: RegExp) {
    const tmp = mkdtempSync(join(tmpdir(), 'loyalty-bench-sigint-test-'))
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let err = ''
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)))
      const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `code ${code}`)))
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`not ready: ${err}`))
        }, 45_000)
        child.stderr.on('data', (chunk: Buffer) => {
          err += String(chunk)
          if (ready.test(err)) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      const runs = () => readdirSync(tmp).filter((name) => name.startsWith('loyalty-bench-'))
      const during = runs()
      child.kill('SIGINT')
      // A run that does not stop is killed, so the test fails without leaving it behind.
      const hung = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const ended = await exited
      clearTimeout(hung)
      return { ended, err, out, during, after: runs() }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }

  it.each([
    ['engine', ['engine', '--accounts', '5000000', '--json'], /seed \d/],
    ['registry', ['registry', '--members', '5000000', '--json'], /registry: members file/],
    ['ws', ['ws', '--accounts', '5000000', '--json'], /seed \d/],
  ])('stops on Ctrl-C (SIGINT) during %s, removing its temporary data folder', async (_, args, ready) => {
    const run = await interrupt(args, ready)
    expect(run.during.length).toBe(1)
    // Killed by the signal, as a shell expects (it shows status 130).
    expect(run.ended).toBe('SIGINT')
    expect(run.after).toEqual([])
    expect(run.err).toContain('bench: interrupted (SIGINT)')
    expect(run.out).not.toContain('{')
  })

  it.each([
    [['ws', '--encoding', 'xml'], '--encoding must be one of msgpack, json, not "xml"', '--encoding <msgpack|json>'],
    [['engine', '--skip-seed'], '--skip-seed needs --data', '--data <string>'],
    [['engine', '--accounts', '100', '--hot-accounts', '500'], '--hot-accounts must be from 0 to --accounts (100), not 500', '--hot-share <number>'],
    [['engine', '--shards', '300'], '--shards must be from 1 to 256, not 300', '--shards <int>'],
    [['grpc', '--shards', '1000'], '--shards must be from 1 to 256, not 1000', '--shards <int>'],
    [['engine', '--json=maybe'], '--json takes true or false, not "maybe"', 'usage:'],
    [['engine', '--seconds', '0x10'], '--seconds must be a decimal number (such as 2 or 0.5), not "0x10"', '--seconds <number>'],
    [['registry', '--members', '1e3'], '--members must be an integer in decimal digits, not "1e3"', '--members <int>'],
    [['engine', '--concurrency', '100000'], '--concurrency must be from 1 to 65536, not 100000', '--concurrency <int>'],
    [['grpc', '--streams', '512', '--window', '256'], '--streams × --window must be at most 65536, not 131072', '--window <int>'],
  ])('refuses %j with exit code 2 before running anything', (args, message, help) => {
    const { code, out, err } = bench(...args)
    expect(code).toBe(2)
    expect(err).toContain(`bench: ${message}`)
    expect(err).toContain(help)
    expect(err).not.toMatch(/data folder \//)
    expect(err).not.toContain('    at ')
    expect(out).toBe('')
  })

  it('refuses a --data folder of another shard count in one line, exit code 2, keeping the folder', () => {
    const data = mkdtempSync(join(tmpdir(), 'loyalty-bench-cli-test-'))
    try {
      openDataDir(data, { shards: 2 })
      const { code, out, err } = bench('engine', '--data', data, '--shards', '4', '--skip-seed', '--accounts', '10',
        '--seconds', '0.2', '--warmup', '0', '--workers', '1')
      expect(code).toBe(2)
      expect(err).toContain(`bench: ${data} was created with 2 shards, not 4; the shard count is fixed when a data folder is created`)
      expect(err).not.toContain('    at ')
      expect(err).not.toContain('DataDirError')
      expect(out).toBe('')
      expect(readdirSync(data)).toContain('manifest.json')
      // Without --shards, the folder's own count is used.
      const own = bench('engine', '--data', data, '--accounts', '10', '--seconds', '0.2', '--warmup', '0', '--workers', '1',
        '--concurrency', '4', '--json')
      expect(own.code, own.err).toBe(0)
      expect(JSON.parse(own.out.trim().split('\n').at(-1)!)).toMatchObject({ scenario: 'engine', shards: 2 })
    } finally {
      rmSync(data, { recursive: true, force: true })
    }
  })

  /**
   * Runs `bench` into `head -<lines>` as people do (`2>&1 | head -5`), its
   * stderr (and stdout with `both`) on head's input, in a temporary folder of
   * its own; says what head printed, how long the run took, how it ended and
   * which run folders it left.
   */
  async function intoHead(args: string[], lines: number, both: boolean) {
    const tmp = mkdtempSync(join(tmpdir(), 'loyalty-bench-epipe-test-'))
    try {
      const started = Date.now()
      const head = spawn('head', [`-${lines}`], { stdio: ['pipe', 'pipe', 'ignore'] })
      let shown = ''
      head.stdout.on('data', (chunk: Buffer) => (shown += String(chunk)))
      const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', both ? head.stdin : 'ignore', head.stdin],
      })
      head.stdin.destroy()
      const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `code ${code}`)))
      // A run that does not end is killed, so the test fails without leaving it behind.
      const hung = setTimeout(() => child.kill('SIGKILL'), 40_000)
      const ended = await exited
      clearTimeout(hung)
      const seconds = (Date.now() - started) / 1000
      return { shown, ended, seconds, left: readdirSync(tmp).filter((name) => name.startsWith('loyalty-bench-')) }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }

  it.each([
    ['stderr and stdout', 3, true],
    ['stderr', 2, false],
  ])('ends promptly, removing its temporary folder, when its %s pipe closes (EPIPE)', async (_, lines, both) => {
    // Far from done when head has had its lines: a run that wrote on regardless would take 30 s more.
    const run = await intoHead(['registry', '--members', '20000', '--lookup-seconds', '30', '--searches', '10'], lines, both)
    expect(run.shown).toMatch(/^registry: members file and data folder in /)
    expect(run.shown.trimEnd().split('\n')).toHaveLength(lines)
    // As any command in a pipeline whose reader has gone (a shell shows status 141).
    expect(run.ended).toBe('SIGPIPE')
    expect(run.seconds).toBeLessThan(25)
    expect(run.left).toEqual([])
  })

  it('takes --json=true and --json=false like any boolean flag', () => {
    const json = (value: string) => bench('engine', `--json=${value}`, '--accounts', '20', '--seconds', '0.2',
      '--warmup', '0', '--concurrency', '4', '--workers', '0', '--shards', '1')
    const yes = json('true')
    expect(yes.code).toBe(0)
    expect(JSON.parse(yes.out.trimEnd().split('\n').at(-1)!)).toMatchObject({ scenario: 'engine', accounts: 20 })
    const no = json('false')
    expect(no.code).toBe(0)
    expect(no.out).not.toContain('{')
  })
})
