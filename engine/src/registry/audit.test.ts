/**
 * The audit log keeps card numbers masked (the last four characters kept,
 * as payment-card systems show them): in what it stores and in what a
 * search answers, records written by earlier versions included, while
 * look-ups by the full number go on working.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import { afterEach, describe, expect, it } from 'vitest'
import { AuditLog, maskCardNumber, type Actor, type AuditRecord } from './audit.ts'
import { MemberRegistry } from './members.ts'

const operator: Actor = { kind: 'support', id: 'sue', from: 'test' }
const first = '6001000012345678'
const issued = '6001 0000 9999 0001'
const replacement = '6001-0000-9999-0002'
const duplicates = 'FOB77770042'
const full = [first, '6001000099990001', '6001000099990002', duplicates]

let root: RootDatabase | undefined
let folder: string | undefined
afterEach(async () => {
  await root?.close()
  if (folder !== undefined) rmSync(folder, { recursive: true, force: true })
  root = undefined
  folder = undefined
})

function openRoot(): RootDatabase {
  folder ??= mkdtempSync(join(tmpdir(), 'loyalty-audit-test-'))
  root = open({ path: folder, maxDbs: 32 })
  return root
}

/** Every record as stored, read past the AuditLog. */
function stored(db: RootDatabase): AuditRecord[] {
  return [...db.openDB<AuditRecord, [number, number]>({ name: 'audit' }).getRange({})].map(({ value }) => value)
}

describe('card numbers in the audit log', () => {
  it('masks a number to its last four characters, fewer for a short one', () => {
    expect(maskCardNumber('6001000099990001')).toBe('************0001')
    expect(maskCardNumber('AUD10001')).toBe('****0001')
    expect(maskCardNumber('ABC123')).toBe('***123')
    // Masking twice changes nothing (old records are masked on read, new ones already are).
    expect(maskCardNumber('************0001')).toBe('************0001')
  })

  it('stores and answers card adds, blocks, replacements and merges masked; look-ups by number still work', async () => {
    const db = openRoot()
    const members = new MemberRegistry(db)
    expect(await members.create({ id: 'm1', program: 'demo', cards: [{ value: first }] }, operator)).toMatchObject({ ok: true })
    expect(await members.issueCard('m1', { value: issued }, operator)).toMatchObject({ ok: true })
    expect(await members.setCardStatus('card', issued, 'blocked', operator, 'stolen')).toMatchObject({ ok: true })
    expect(await members.setCardStatus('card', issued, 'active', operator)).toMatchObject({ ok: true })
    expect(await members.setCardStatus('card', issued, 'lost', operator)).toMatchObject({ ok: true })
    expect(await members.replaceCard('card', issued, replacement, operator, 'lost')).toMatchObject({ ok: true })
    expect(await members.create({ id: 'm2', program: 'demo', cards: [{ type: 'fob', value: duplicates }] }, operator)).toMatchObject({ ok: true })
    expect(await members.absorb('m2', 'm1', operator)).toMatchObject({ ok: true })
    await db.flushed

    const records = stored(db)
    expect(records.map((r) => r.action)).toEqual([
      'member.create', 'card.issue', 'card.block', 'card.unblock', 'card.lost', 'card.replace', 'member.create', 'member.merge',
    ])
    const answered = members.audit.search({ order: 'oldest' }).records
    for (const text of [JSON.stringify(records), JSON.stringify(answered)]) {
      for (const number of full) expect(text).not.toContain(number)
    }
    expect(answered).toEqual(records)
    expect(records[1]!.detail).toEqual({ type: 'card', value: '************0001' })
    expect(records[2]!.detail).toEqual({ type: 'card', value: '************0001', reason: 'stolen' })
    expect(records[5]!.detail).toEqual({ type: 'card', old: '************0001', new: '************0002', reason: 'lost' })
    expect(records[7]!.detail).toEqual({ from: 'm2', identifiers: ['fob:*******0042'] })

    // The registry itself keeps the numbers: they find their member as before.
    expect(members.resolve('card', first)?.member.id).toBe('m1')
    expect(members.resolve('card', replacement)?.member.id).toBe('m1')
    expect(members.identifier('card', issued)).toMatchObject({ status: 'replaced', replacedBy: '6001000099990002' })
    expect(members.resolve('fob', duplicates)?.member.id).toBe('m1')
  })

  it('masks the card numbers of records written before, when it answers them', async () => {
    const db = openRoot()
    // As earlier versions wrote them: full numbers.
    const log = db.openDB<AuditRecord, [number, number]>({ name: 'audit' })
    const old = (seq: number, action: string, detail: Record<string, unknown>): AuditRecord =>
      ({ at: 1_700_000_000_000 + seq, seq, actor: operator, action, target: 'm1', detail })
    const before = [
      old(1, 'card.issue', { type: 'card', value: '6001000099990001' }),
      old(2, 'card.block', { type: 'nfc', value: '04A1B2C3D4E5F6', reason: 'stolen' }),
      old(3, 'card.replace', { type: 'virtual_card', old: '6001000099990001', new: '6001000099990002' }),
      old(4, 'member.merge', { from: 'm2', identifiers: ['card:6001000012345678', 'email:a@example.com', 'phone:+4915112345678'] }),
      old(5, 'member.update', { fields: ['firstName'] }),
    ]
    for (const record of before) await log.put([record.at, record.seq], record)
    const audit = new AuditLog(db, Date.now)
    const records = audit.search({ order: 'oldest' }).records
    expect(records.map((r) => r.detail)).toEqual([
      { type: 'card', value: '************0001' },
      { type: 'nfc', value: '**********E5F6', reason: 'stolen' },
      { type: 'virtual_card', old: '************0001', new: '************0002' },
      // Only card numbers are masked: an email or phone is shown to staff as it is.
      { from: 'm2', identifiers: ['card:************5678', 'email:a@example.com', 'phone:+4915112345678'] },
      { fields: ['firstName'] },
    ])
    // What is stored stays as it was (an append-only log is not rewritten), and new records follow on.
    expect(stored(db)[0]!.detail).toEqual({ type: 'card', value: '6001000099990001' })
    expect(audit.record(operator, 'card.issue', 'm1', { type: 'card', value: '6001000099990003' }).seq).toBe(6)
  })
})
