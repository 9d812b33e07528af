/**
 * Runs one round of the crash test: starts the load child on the data
 * folder, kills it with SIGKILL a random time after it reports ready, and
 * returns every complete line it wrote, which the parent reads as the truth
 * about what was sent and what was acknowledged.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildLine, CrashCommand, KnownBurnRef } from './protocol.ts'
import { factsId, type KeyFacts } from './verify.ts'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const childPath = fileURLToPath(new URL('./load-child.ts', import.meta.url))
const readyTimeoutMs = 60_000
const stderrKeptMax = 20_000

export interface ChildRun {
  lines: ChildLine[]
  /** Milliseconds from ready to the kill, or undefined if it never got ready. */
  killedAfterMs: number | undefined
  /** Why the run failed to go as planned (the child ended by itself, never got ready). */
  failure: string | undefined
  /** What the child wrote on stderr (the engine logs worker failures there). */
  stderr: string
  /** A last stdout line cut short by the kill (it does not count). */
  partialLine: string
}

export interface ChildRunOptions {
  dataDir: string
  round: number
  /** Commands of earlier rounds the child sends again first. */
  carry: CrashCommand[]
  /** Redemption refs of earlier rounds the child may refund. */
  burns: KnownBurnRef[]
  workDir: string
  killDelayMs: number
}

export function runChild(options: ChildRunOptions): Promise<ChildRun> {
  const carryPath = join(options.workDir, `carry-${options.round}.json`)
  const burnsPath = join(options.workDir, `burns-${options.round}.json`)
  writeFileSync(carryPath, JSON.stringify(options.carry))
  writeFileSync(burnsPath, JSON.stringify(options.burns))
  const args = ['--import', 'tsx', childPath, options.dataDir, String(options.round), carryPath, burnsPath]
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  const run: ChildRun = {
    lines: [],
    killedAfterMs: undefined,
    failure: undefined,
    stderr: '',
    partialLine: '',
  }
  let pending = ''
  let killTimer: NodeJS.Timeout | undefined
  const kill = (failure?: string) => {
    if (failure !== undefined && run.failure === undefined) run.failure = failure
    child.kill('SIGKILL')
  }
  const readyTimer = setTimeout(() => kill(`not ready after ${readyTimeoutMs} ms`), readyTimeoutMs)
  const onLine = (text: string) => {
    const line = JSON.parse(text) as ChildLine
    run.lines.push(line)
    if (line.t !== 'ready') return
    clearTimeout(readyTimer)
    run.killedAfterMs = options.killDelayMs
    killTimer = setTimeout(() => kill(), options.killDelayMs)
  }
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n')
    pending = parts.pop() ?? ''
    for (const part of parts) if (part.length > 0) onLine(part)
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    run.stderr = (run.stderr + chunk).slice(-stderrKeptMax)
  })
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(readyTimer)
      clearTimeout(killTimer)
      if (signal !== 'SIGKILL' && run.failure === undefined) {
        run.failure = `the child ended by itself (code ${code}, signal ${signal})`
      }
      run.partialLine = pending
      resolve(run)
    })
  })
}

export interface RoundEvidence {
  facts: Map<string, KeyFacts>
  sends: number
  acks: number
  /** Sends without an ack line, in send order. */
  unanswered: CrashCommand[]
  /** Lines that make no sense (an ack nobody sent); each is a test failure. */
  problems: string[]
}

/** Groups a run's lines by (account, key). */
export function collectEvidence(lines: ChildLine[]): RoundEvidence {
  const evidence: RoundEvidence = {
    facts: new Map(),
    sends: 0,
    acks: 0,
    unanswered: [],
    problems: [],
  }
  const sent = new Map<number, CrashCommand>()
  for (const line of lines) {
    if (line.t === 'sent') {
      evidence.sends++
      sent.set(line.n, line.cmd)
      const facts = factsOf(evidence.facts, line.cmd)
      facts.sends.push(line.cmd)
      facts.sent.push(line.n)
    } else if (line.t === 'ack') {
      evidence.acks++
      const cmd = sent.get(line.n)
      if (cmd === undefined || cmd.account !== line.account || cmd.key !== line.key) {
        evidence.problems.push(`ack of send ${line.n} does not match a sent line`)
        continue
      }
      sent.delete(line.n)
      factsOf(evidence.facts, cmd).acks.push({ line, cmd })
    }
  }
  evidence.unanswered = [...sent.values()]
  return evidence
}

function factsOf(facts: Map<string, KeyFacts>, cmd: CrashCommand): KeyFacts {
  const id = factsId(cmd.account, cmd.key)
  let f = facts.get(id)
  if (f === undefined) {
    f = { account: cmd.account, key: cmd.key, sends: [], sent: [], acks: [] }
    facts.set(id, f)
  }
  return f
}
