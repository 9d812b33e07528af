/**
 * Goal: a SIGKILL at any moment loses no acknowledged command, applies none
 * twice, leaves nothing half-applied and breaks no ledger invariant.
 * Method: a child process (load-child.ts) runs a concurrent command mix on
 * one data folder and prints each command before sending it and each reply
 * after it arrived; the parent kills it with SIGKILL 200..1500 ms after it is
 * ready, then opens every shard's store and checks the folder against what
 * the child printed (verify.ts). The next round reopens the same folder,
 * first resending some of the unanswered commands and knowing the
 * redemption refs earlier rounds had acknowledged, which it refunds.
 * CRASH_ROUNDS=200 runs longer; CRASH_KEEP=1 keeps the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { collectEvidence, runChild, type RoundEvidence } from './child-run.ts'
import { crashShards, outcomeUnknown, type CrashCommand, type KnownBurnRef } from './protocol.ts'
import { CrashVerifier, type VerifyReport } from './verify.ts'

const rounds = Number(process.env['CRASH_ROUNDS'] ?? 8)
const keep = process.env['CRASH_KEEP'] === '1'
const carryMax = 150
/** Redemption refs handed on to later rounds (the newest). */
const burnRefsMax = 3000
const problemsShownMax = 40

interface Totals {
  acked: number
  unanswered: number
  unansweredStored: number
  /** Replies to refunds, by status (the refund mix should see ok and each refusal). */
  refunds: Map<string, number>
}

function countRefunds(evidence: RoundEvidence, counts: Map<string, number>) {
  for (const f of evidence.facts.values()) {
    for (const { line } of f.acks) {
      if (line.op === 'refund') counts.set(line.status, (counts.get(line.status) ?? 0) + 1)
    }
  }
}

/** 200..1500 ms after ready; one round in ten kills in the first 200 ms instead. */
function killDelayMs(): number {
  if (Math.random() < 0.1) return Math.floor(Math.random() * 200)
  return 200 + Math.floor(Math.random() * 1300)
}

/** Commands whose fate the child never learned, resent (unchanged) by the next round. */
function carryFrom(evidence: RoundEvidence): CrashCommand[] {
  const unknown = [...evidence.facts.values()].flatMap((f) =>
    f.acks.filter((a) => outcomeUnknown.has(a.line.status)).map((a) => a.cmd),
  )
  const all = [...evidence.unanswered, ...unknown]
  const shuffled = all
    .map((cmd) => ({ cmd, order: Math.random() }))
    .sort((a, b) => a.order - b.order)
  return shuffled.slice(0, carryMax).map((x) => x.cmd)
}

/** Adds the redemptions with a ref the round acknowledged to `burns` (keyed by account and ref). */
function learnBurns(evidence: RoundEvidence, burns: Map<string, KnownBurnRef>) {
  for (const f of evidence.facts.values()) {
    for (const { line, cmd } of f.acks) {
      if (line.status !== 'ok' || cmd.op !== 'redeem' || cmd.ref === undefined) continue
      const id = `${cmd.account}\u0000${cmd.ref}`
      const known = burns.get(id)
      burns.delete(id)
      burns.set(id, {
        account: cmd.account,
        ref: cmd.ref,
        points: (known?.points ?? 0) + cmd.points,
        amount: known?.amount || (cmd.amount ?? 0),
      })
    }
  }
  for (const id of burns.keys()) {
    if (burns.size <= burnRefsMax) break
    burns.delete(id)
  }
}

function progress(round: number, killedAfterMs: number | undefined, r: VerifyReport, verifyMs: number) {
  const text =
    `crash round ${round}/${rounds}: killed ${killedAfterMs} ms after ready, verified in ${verifyMs} ms, ` +
    `acked ${r.acked}, unanswered ${r.unanswered} (${r.unansweredStored} found stored), ` +
    `accounts checked ${r.accounts}, entries ${r.entries} (refunds ${r.refunds}, ` +
    `burn refs ${r.burnRefs}), keys stored ${r.settled}\n`
  process.stderr.write(text)
}

/** The child writes nothing on stderr unless the engine reports trouble (a worker died). */
function stderrProblems(stderr: string): string[] {
  return stderr.trim() === '' ? [] : [`the child wrote on stderr: ${stderr.slice(0, 2000)}`]
}

function failureText(round: number, problems: string[], stderr: string): string {
  const shown = problems.slice(0, problemsShownMax).join('\n  ')
  const more = problems.length > problemsShownMax ? `\n  ... ${problems.length} in all` : ''
  return `round ${round}:\n  ${shown}${more}\nchild stderr (tail):\n${stderr.slice(-4000)}`
}

it(`keeps every acknowledged command exactly once over ${rounds} SIGKILLs`, async () => {
  const workDir = mkdtempSync(join(tmpdir(), 'loyalty-crash-'))
  const dataDir = join(workDir, 'data')
  const verifier = new CrashVerifier(dataDir, crashShards)
  const totals: Totals = { acked: 0, unanswered: 0, unansweredStored: 0, refunds: new Map() }
  const started = Date.now()
  let carry: CrashCommand[] = []
  const burns = new Map<string, KnownBurnRef>()
  try {
    for (let round = 1; round <= rounds; round++) {
      const run = await runChild({
        dataDir,
        round,
        carry,
        burns: [...burns.values()],
        workDir,
        killDelayMs: killDelayMs(),
      })
      expect(run.failure, `round ${round}: ${run.stderr}`).toBeUndefined()
      const evidence = collectEvidence(run.lines)
      const verifyStarted = Date.now()
      const report = await verifier.verify(evidence.facts)
      progress(round, run.killedAfterMs, report, Date.now() - verifyStarted)
      const problems = [...evidence.problems, ...report.problems, ...stderrProblems(run.stderr)]
      expect(problems, failureText(round, problems, run.stderr)).toEqual([])
      totals.acked += report.acked
      totals.unanswered += report.unanswered
      totals.unansweredStored += report.unansweredStored
      countRefunds(evidence, totals.refunds)
      carry = carryFrom(evidence)
      learnBurns(evidence, burns)
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    process.stderr.write(
      `crash test: ${rounds} rounds in ${seconds} s, ${totals.acked} acknowledged replies ` +
        `verified, ${totals.unanswered} unanswered sends (${totals.unansweredStored} stored); ` +
        `refund replies: ${[...totals.refunds].map(([s, n]) => `${s} ${n}`).join(', ')}\n`,
    )
    expect(totals.acked).toBeGreaterThan(0)
  } finally {
    if (keep) process.stderr.write(`crash test: data kept in ${dataDir}\n`)
    else rmSync(workDir, { recursive: true, force: true })
  }
}, 60_000 + rounds * 30_000)
