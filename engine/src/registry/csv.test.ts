/**
 * The CSV import and export of members: RFC 4180 parsing (at every chunk
 * boundary), each kind of bad row reported with its line and field while the
 * rest is imported, duplicates within the file and against stored members,
 * headers that cannot be used, batches with one audit record each, progress,
 * enrolment in the engine with bounded concurrency, and an export that an
 * import reads back into the same members. `createMany` refuses exactly what
 * `create` refuses.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { EnrollCommand, Reply } from '../domain/types.ts'
import { openEngine, type Engine } from '../engine.ts'
import { demoRuleset } from '../rules/demo.ts'
import type { Actor } from './audit.ts'
import { CsvError, CsvParser, recordCharsMax, type CsvItem, type ImportOptions } from './csv.ts'
import type { NewMember } from './members.ts'

const operator: Actor = { kind: 'admin', id: 'ops', from: 'test' }
const header = 'id,program,firstName,lastName,email,phone,birthDate,gender,country,card,joinedAt'
const engines: Engine[] = []

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close()
})

async function start(): Promise<Engine> {
  const engine = await openEngine({ storage: 'memory', shards: 2 })
  engines.push(engine)
  const published = await engine.rules.publish(demoRuleset, { activate: true })
  expect(published.ok).toBe(true)
  return engine
}

function parse(text: string, chunks: string[] = [text]): CsvItem[] {
  const parser = new CsvParser()
  const items = chunks.flatMap((chunk) => parser.push(chunk))
  return [...items, ...parser.end()]
}

/** Imports `text` (as UTF-8 bytes, in chunks of `chunk` bytes) with the engine enrolling. */
function importText(engine: Engine, text: string, options: Partial<ImportOptions> = {}, chunk = 7) {
  const bytes = new TextEncoder().encode(text)
  const chunks: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk))
  return engine.members.importCsv(chunks, {
    actor: operator,
    enroll: (command) => engine.execute(command),
    ...options,
  })
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = ''
  for await (const chunk of chunks) text += chunk
  return text
}

describe('CSV parsing', () => {
  const tricky = [
    'id,name,note\r\n',
    '1,"Smith, Ann","she said ""hi"""\r\n',
    '2,"two\r\nlines",plain\n',
    '\n',
    '3,,"" \n',
    '5,"q",tail\r\n',
    '4,last,"no newline at the end"',
  ].join('')
  const expected = [
    { line: 1, fields: ['id', 'name', 'note'] },
    { line: 2, fields: ['1', 'Smith, Ann', 'she said "hi"'] },
    { line: 3, fields: ['2', 'two\r\nlines', 'plain'] },
    { line: 6, fields: ['3', '', ' '] },
    { line: 7, fields: ['5', 'q', 'tail'] },
    { line: 8, fields: ['4', 'last', 'no newline at the end'] },
  ]

  it('reads RFC 4180 quoting, CRLF and LF, blank lines, and counts lines inside quotes', () => {
    expect(parse(tricky)).toEqual([
      ...expected.slice(0, 3),
      { line: 6, fault: 'text after a closing quote (a field is either quoted whole or not at all)' },
      ...expected.slice(4),
    ])
  })

  it('gives the same records wherever the text is cut into chunks', () => {
    const text = tricky.replace('"" \n', '" "\n')
    const whole = parse(text)
    expect(whole).toEqual(expected)
    for (let cut = 0; cut <= text.length; cut++) {
      expect(parse(text, [text.slice(0, cut), text.slice(cut)]), `cut at ${cut}`).toEqual(whole)
    }
    const bytewise = parse(text, [...text])
    expect(bytewise).toEqual(whole)
  })

  it('skips a byte order mark and reports malformed records, going on at the next line', () => {
    const text = '\uFEFFa,b\n1,x"y\n2,"open\n3,ok\n'
    expect(parse(text)).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fault: 'a quote inside an unquoted field (quote the whole field)' },
      { line: 3, fault: 'a quoted field is not closed before the end of the file' },
    ])
    expect(parse('a,"b"c\nd,e\n')).toEqual([
      { line: 1, fault: 'text after a closing quote (a field is either quoted whole or not at all)' },
      { line: 2, fields: ['d', 'e'] },
    ])
  })

  it('stops at a runaway quoted field instead of holding the rest of the file', () => {
    const parser = new CsvParser()
    parser.push('a,b\n1,"never closed')
    const filler = 'x'.repeat(64 * 1024)
    const pushAll = () => {
      for (let size = 0; size <= recordCharsMax; size += filler.length) parser.push(filler)
    }
    expect(pushAll).toThrow(CsvError)
  })
})

describe('CSV import', () => {
  it('imports members with their cards and attributes, and enrols them in their program', async () => {
    const e = await start()
    const text = [
      `${header},tier_legacy,Store`,
      'm1,demo,Ada,Lovelace,Ada@Example.com,+44 20 7946 0958,1815-12-10,f,GB,6001 0000 0001,2019-05-01,gold,',
      'm2,demo,"Byron, Lord",,,,,,,6001000000002|6001000000003,,,London',
    ].join('\r\n')
    const report = await importText(e, text)
    expect(report).toMatchObject({ rows: 2, imported: 2, rejected: 0, enrolled: 2, enrollFailed: 0 })
    expect(report.attributes).toEqual(['tier_legacy', 'Store'])
    const ada = e.members.get('m1')!
    expect(ada).toMatchObject({
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      phone: '+442079460958',
      birthDate: '1815-12-10',
      country: 'GB',
      joinedAt: Date.UTC(2019, 4, 1),
      attributes: { tier_legacy: 'gold' },
    })
    expect(e.members.resolve('card', '600100000001')?.member.id).toBe('m1')
    expect(e.members.get('m2')).toMatchObject({
      firstName: 'Byron, Lord', attributes: { Store: 'London' },
    })
    expect(e.members.identifiersOf('m2').map((i) => i.value)).toEqual(['6001000000002', '6001000000003'])
    expect(await e.execute({ op: 'member', account: 'm1' })).toMatchObject({
      status: 'ok',
      tier: 'bronze',
      balance: { available: 100 },
      membership: { member: { birthDate: '1815-12-10', country: 'GB', gender: 'f' } },
    })
  })

  it('reports each bad row with its line, field and why, and imports the rest', async () => {
    const e = await start()
    const old = { id: 'old', program: 'demo', email: 'taken@example.com', cards: [{ value: 'CARD0OLD' }] }
    await e.members.create(old, operator)
    const rows = [
      header,
      'a1,demo,A,One,a1@example.com,,1990-01-01,,DE,CARD0001,', // 2 ok
      'a2,demo,A,Two', // 3 wrong column count
      'a3,demo,A,Three,not-an-email,,,,,,', // 4 bad email
      'a4,demo,A,Four,,,31/12/1990,,,,', // 5 bad birth date
      'a5,demo,A,Five,,,,,,,2020-02-30', // 6 bad join date
      'a1,demo,A,Again,,,,,,,', // 7 duplicate id in the file
      'a6,demo,A,Six,A1@EXAMPLE.com,,,,,,', // 8 duplicate email in the file
      'a7,demo,A,Seven,,,,,,card0001,', // 9 duplicate card in the file
      'old,demo,A,Old,,,,,,,', // 10 existing id
      'a8,demo,A,Eight,taken@example.com,,,,,,', // 11 existing email
      'a9,demo,A,Nine,,,,,,CARD0OLD,', // 12 existing card
      ',demo,No,Id,,,,,,,', // 13 no id
      'b1,nope,Other,Program,,,,,,,', // 14 unknown program
      'b2,demo,Bad,Phone,,0123,,,,,', // 15 bad phone
      'b3,demo,"Quoted,"" name",Fine,,,,,,,', // 16 ok
      'b4,demo,x"y,Broken,,,,,,,', // 17 malformed quoting
      'b5,demo,Last,Row,,,,,Germany,,', // 18 bad country
    ].join('\n')
    const report = await importText(e, rows, { programs: new Set(['demo']), batchSize: 4 })
    expect(report.rejections).toEqual([
      { line: 3, field: 'row', message: 'the row has 4 fields, the header 11' },
      { line: 4, field: 'email', message: expect.stringMatching(/email/) },
      { line: 5, field: 'birthDate', message: expect.stringMatching(/YYYY-MM-DD/) },
      { line: 6, field: 'joinedAt', message: expect.stringMatching(/YYYY-MM-DD/) },
      { line: 7, field: 'id', message: expect.stringMatching(/earlier in this batch/) },
      { line: 8, field: 'email', message: expect.stringMatching(/belongs to another member/) },
      { line: 9, field: 'card', message: expect.stringMatching(/belongs to another member/) },
      { line: 10, field: 'id', message: 'member old exists' },
      { line: 11, field: 'email', message: expect.stringMatching(/belongs to another member/) },
      { line: 12, field: 'card', message: expect.stringMatching(/belongs to another member/) },
      { line: 13, field: 'id', message: 'id is required' },
      { line: 14, field: 'program', message: 'no program nope in the active ruleset' },
      { line: 15, field: 'phone', message: expect.stringMatching(/phone/) },
      { line: 17, field: 'row', message: expect.stringMatching(/quote/) },
      { line: 18, field: 'country', message: expect.stringMatching(/ISO 3166/) },
    ])
    expect(report).toMatchObject({ rows: 17, imported: 2, rejected: 15, enrolled: 2 })
    expect(e.members.get('b3')?.firstName).toBe('Quoted," name')
    expect(e.members.count()).toBe(3)
  })

  it('writes batches of batchSize, one audit record each, reporting progress after each', async () => {
    const e = await start()
    const rows = Array.from({ length: 7 }, (_, i) => `p${i},demo,P,Person${i},,,,,,,`)
    const progress: number[] = []
    const report = await importText(e, [header, ...rows].join('\n'), {
      batchSize: 3,
      onProgress: (p) => progress.push(p.imported),
    })
    expect(report).toMatchObject({ imported: 7, enrolled: 7 })
    expect(progress.slice(0, 3)).toEqual([3, 6, 7])
    expect(progress.at(-1)).toBe(7)
    const audit = e.members.audit.search({ action: 'member.import', order: 'oldest' }).records
    expect(audit.map((r) => [r.target, r.detail['created'], r.detail['lines']])).toEqual([
      [report.importId, 3, [2, 4]],
      [report.importId, 3, [5, 7]],
      [report.importId, 1, [8, 8]],
    ])
    expect(audit[0]!.actor).toEqual(operator)
  })

  it('keeps at most enrollConcurrency enrolments in flight, and reports the failed ones', async () => {
    const e = await start()
    let inFlight = 0
    let most = 0
    const enroll = async (command: EnrollCommand): Promise<Reply> => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 2))
      inFlight--
      if (command.account === 'q3') return { status: 'unavailable', message: 'shard down' }
      return e.execute(command)
    }
    const rows = Array.from({ length: 20 }, (_, i) => `q${i},demo,Q,Q${i},,,,,,,`)
    const report = await importText(e, [header, ...rows].join('\n'), {
      enroll,
      enrollConcurrency: 3,
      batchSize: 6,
    })
    expect(most).toBe(3)
    expect(report).toMatchObject({ imported: 20, enrolled: 19, enrollFailed: 1 })
    const failure = { line: 5, id: 'q3', status: 'unavailable', message: 'shard down' }
    expect(report.enrollFailures).toEqual([failure])
    expect((await e.execute({ op: 'balance', account: 'q3' })).status).toBe('account_not_found')
    expect((await e.execute({ op: 'balance', account: 'q4' })).status).toBe('ok')
  })

  it('stops on a file it cannot read on: no header, a bad header, bad UTF-8', async () => {
    const e = await start()
    const empty = await importText(e, '')
    expect(empty).toMatchObject({ rows: 0, imported: 0, aborted: { line: 1, field: 'header' } })
    const blank = await importText(e, '\r\n\r\n')
    expect(blank.aborted).toMatchObject({ field: 'header', message: /empty/ })
    const noId = await importText(e, 'program,firstName\ndemo,A\n')
    expect(noId.aborted).toEqual({
      line: 1, field: 'header', message: expect.stringMatching(/no id column/),
    })
    const twice = await importText(e, 'id,program,Email,email\n')
    expect(twice.aborted?.message).toBe('column email appears twice')
    const unnamed = await importText(e, 'id,program,,x\n')
    expect(unnamed.aborted?.message).toBe('column 3 has no name')
    const good = new TextEncoder().encode(`${header}\nu1,demo,U,One,,,,,,,\n`)
    const bad = new Uint8Array([0x75, 0x32, 0xff, 0x0a])
    const broken = await e.members.importCsv([good, bad], { actor: operator })
    expect(broken).toMatchObject({ imported: 1, aborted: { line: 3, field: 'encoding' } })
    expect(e.members.get('u1')).toBeDefined()
    expect(e.members.count()).toBe(1)
  })

  it('imports a header-only file as nothing, without complaint', async () => {
    const e = await start()
    const report = await importText(e, `${header}\r\n`)
    expect(report).toMatchObject({ rows: 0, imported: 0, rejected: 0 })
    expect(report.aborted).toBeUndefined()
  })

  it('decodes UTF-8 split across chunks', async () => {
    const e = await start()
    const report = await importText(e, `${header}\nü1,demo,Jürgen,Müller,,,,,,,\nu2,demo,Zoë,Ødegård,,,,,,,`, {}, 1)
    expect(report.rejections).toEqual([{ line: 2, field: 'id', message: expect.any(String) }])
    expect(e.members.get('u2')).toMatchObject({ firstName: 'Zoë', lastName: 'Ødegård' })
  })
})

describe('CSV export', () => {
  it('exports what an import reads back into the same members, erased ones left out', async () => {
    const e = await start()
    const text = [
      `${header},loyalty_id`,
      'r1,demo,Ann,"Smith, Jr.",ann@example.com,+4930123456,1980-02-29,f,DE,CARD0001|CARD0002,2018-03-04T05:06:07.089Z,L-1',
      'r2,demo,"Bob ""the"" Builder",Stone,,,,,,,2020-01-01,',
      'r3,demo,Gone,Soon,gone@example.com,,,,,,,',
      'r4,demo,Multi,"line\nname",,,,,,,,',
    ].join('\n')
    expect(await importText(e, text)).toMatchObject({ imported: 4 })
    await e.members.setCardStatus('card', 'CARD0002', 'blocked', operator)
    await e.members.erase('r3', operator)
    const exported = await collect(e.members.exportCsv())
    const lines = exported.split('\r\n')
    expect(lines[0]).toBe(`${header},loyalty_id`)
    expect(lines[1]).toBe('r1,demo,Ann,"Smith, Jr.",ann@example.com,+4930123456,1980-02-29,f,DE,CARD0001,2018-03-04T05:06:07.089Z,L-1')
    expect(exported).not.toContain('gone')

    const copy = await start()
    const report = await importText(copy, exported, {}, 1000)
    expect(report).toMatchObject({ rows: 3, imported: 3, rejected: 0, attributes: ['loyalty_id'] })
    for (const id of ['r1', 'r2', 'r4']) {
      const { status: _s, ...original } = e.members.get(id)!
      const { status: _c, ...imported } = copy.members.get(id)!
      expect(imported, id).toEqual(original)
    }
    expect(copy.members.get('r3')).toBeUndefined()
    expect(copy.members.resolve('card', 'CARD0001')?.member.id).toBe('r1')
    expect(copy.members.resolve('card', 'CARD0002')).toBeUndefined()
  })

  it('pages through more members than one page, in id order, in chunks', async () => {
    const e = await start()
    const ids = Array.from({ length: 2500 }, (_, i) => `x${String(i).padStart(5, '0')}`)
    const members: NewMember[] = ids.map((id) => ({ id, program: 'demo', lastName: 'Long'.repeat(10) }))
    const outcome = await e.members.createMany(members, operator, 'test')
    expect(outcome.created).toHaveLength(2500)
    const chunks: string[] = []
    for await (const chunk of e.members.exportCsv({ attributes: [] })) chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(1)
    const rows = chunks.join('').trimEnd().split('\r\n').slice(1)
    expect(rows.map((row) => row.split(',')[0])).toEqual(ids)
  })
})

describe('createMany', () => {
  const bad: [Partial<NewMember>, string][] = [
    [{ id: 'bad id!' }, 'id'],
    [{ email: 'not-an-email' }, 'email'],
    [{ phone: '0123' }, 'phone'],
    [{ birthDate: '1990-02-30x' }, 'birthDate'],
    [{ country: 'Germany' }, 'country'],
    [{ firstName: ' ' }, 'firstName'],
    [{ cards: [{ value: '12' }] }, 'cards[0].value'],
    [{ cards: [{ value: 'CARD1234' }, { value: 'card-1234' }] }, 'cards[1].value'],
    [{ referrer: 'nobody' }, 'referrer'],
  ]

  it('refuses exactly what create refuses, naming the same field', async () => {
    const e = await start()
    for (const [extra, field] of bad) {
      const input = { id: 'x1', program: 'demo', ...extra } as NewMember
      const single = await e.members.create(input, operator)
      const many = await e.members.createMany([input], operator, 'test')
      expect(single, field).toMatchObject({ ok: false, field })
      expect(many.rejected, field).toEqual([{ index: 0, field, message: !single.ok ? single.message : '' }])
    }
    expect(e.members.count()).toBe(0)
  })

  it('writes the valid rows of a batch, indexes them, and refuses duplicates within it', async () => {
    const e = await start()
    const outcome = await e.members.createMany([
      { id: 'k1', program: 'demo', lastName: 'Kay', email: 'k@example.com', joinedAt: Date.UTC(2001, 0, 1) },
      { id: 'k2', program: 'demo', email: 'K@example.com' },
      { id: 'k3', program: 'demo', referrer: 'k1', country: 'DE', joinedAt: Date.UTC(2002, 0, 1) },
      { id: 'k4', program: 'demo', joinedAt: Date.now() + 86_400_000 },
    ], operator, 'batch-1')
    expect(outcome.created.map((c) => [c.index, c.member.id])).toEqual([[0, 'k1'], [2, 'k3']])
    expect(outcome.rejected.map((r) => [r.index, r.field])).toEqual([[1, 'email'], [3, 'joinedAt']])
    expect(e.members.search({ name: 'kay' }).members.map((m) => m.id)).toEqual(['k1'])
    const early = { country: 'DE', joinedFrom: Date.UTC(2002, 0, 1), joinedTo: Date.UTC(2003, 0, 1) }
    expect(e.members.search(early).members.map((m) => m.id)).toEqual(['k3'])
    expect(e.members.resolve('email', 'k@example.com')?.member.id).toBe('k1')
    expect(e.members.audit.search({ target: 'batch-1' }).records).toHaveLength(1)
  })
})
