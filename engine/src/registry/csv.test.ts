/**
 * The CSV import and export of members: RFC 4180 parsing (at every chunk
 * boundary), each kind of bad row reported with its line and field while the
 * rest is imported, duplicates within the file and against stored members,
 * headers that cannot be used, batches with one audit record each, progress,
 * enrolment in the engine with bounded concurrency, and an export that an
 * import reads back into the same members, odd values (formulas, quotes,
 * line breaks) included. Files that stop the import: an unclosed quote,
 * CR-only lines, a bad attribute name. Names and attributes are checked
 * alike by create, update, `createMany` and the import. `createMany`
 * refuses exactly what `create` refuses.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { EnrollCommand, MemberQuery, Reply } from '../domain/types.ts'
import { openEngine, type Engine } from '../engine.ts'
import { demoRuleset } from '../rules/demo.ts'
import type { Actor } from './audit.ts'
import { CsvError, CsvParser, exportMembersCsv, recordCharsMax, type CsvItem, type ImportOptions } from './csv.ts'
import type { Member, MemberRegistry, NewMember } from './members.ts'

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
    const text = '\uFEFFa,b\n1,x"y\n3,ok\n'
    expect(parse(text)).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fault: 'a quote inside an unquoted field (quote the whole field)' },
      { line: 3, fields: ['3', 'ok'] },
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

  it('stops at a quote not closed before the end of the file, naming the line it opened on', () => {
    const stop = (text: string) => {
      const parser = new CsvParser()
      const records = parser.push(text)
      try {
        parser.end()
      } catch (error) {
        expect(error).toBeInstanceOf(CsvError)
        const { line, field, message } = error as CsvError
        return { records: records.length, line, field, message }
      }
      return { records: records.length }
    }
    // Line 4 is not swallowed into the open field and reported as one bad row: the file stops at line 3.
    expect(stop('a,b\n1,Ann\n2,"Bob\n4,Cy\n')).toEqual({
      records: 2,
      line: 3,
      field: 'record',
      message: 'the quote opened on line 3 is not closed before the end of the file (everything after it would be one field)',
    })
    // The record starts on line 2; its second field opens on line 3.
    expect(stop('a,b\n1,"two\nlines","open\n4,ok\n')).toMatchObject({ records: 1, line: 2, message: /^the quote opened on line 3 / })
    // Cut anywhere, the same.
    const text = 'a,b\n1,Ann\n2,"Bob\n4,Cy\n'
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new CsvParser()
      const records = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))]
      expect(records, `cut at ${cut}`).toHaveLength(2)
      expect(() => parser.end(), `cut at ${cut}`).toThrow(/quote opened on line 3/)
    }
  })

  it('returns the records before a runaway quoted field, and stops at it on the next call', () => {
    const parser = new CsvParser()
    const records = parser.push(`a,b\n1,x\n2,"${'x'.repeat(recordCharsMax)}`)
    expect(records).toEqual([{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['1', 'x'] }])
    expect(() => parser.end()).toThrow(expect.objectContaining({ line: 3, field: 'record' }))
  })

  it('refuses lines that end with CR alone, naming the cause, wherever the text is cut', () => {
    const text = 'id,program\rm1,demo\rm2,demo\r'
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new CsvParser()
      const read = () => [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.end()]
      expect(read, `cut at ${cut}`).toThrow(new CsvError(1, 'record', 'lines end with CR only; use LF or CRLF'))
    }
    // CRLF cut between its CR and LF, a CR inside quotes, and a CR at the very end are fine.
    expect(parse('id,x\r\n1,2\r\n', ['id,x\r', '\n1,2\r\n'])).toEqual([
      { line: 1, fields: ['id', 'x'] },
      { line: 2, fields: ['1', '2'] },
    ])
    expect(parse('"a\rb",x\n1,2\n')).toEqual([{ line: 1, fields: ['a\rb', 'x'] }, { line: 2, fields: ['1', '2'] }])
    expect(parse('id,x\r')).toEqual([{ line: 1, fields: ['id', 'x'] }])
  })
})

describe('CSV import', () => {
  it('imports members with their cards and attributes, and enrols them in their program', async () => {
    const e = await start()
    const text = [
      `${header},tier_legacy,Store`,
      'm1,demo,Ada,Lovelace,Ada@Example.com,+44 20 7946 0958,1985-12-10,f,GB,6001 0000 0001,2019-05-01,gold,',
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
      birthDate: '1985-12-10',
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
      membership: { member: { birthDate: '1985-12-10', country: 'GB', gender: 'f' } },
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
      'b6,demo,Before,Epoch,,,,,,,1969-12-31', // 19 joined before 1970
      'b7,demo,Not,Born,,,2999-01-01,,,,', // 20 born in the future
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
      { line: 19, field: 'joinedAt', message: 'joinedAt must not be before 1970-01-01' },
      { line: 20, field: 'birthDate', message: expect.stringMatching(/^birthDate must not be in the future/) },
    ])
    // Enrolled: the two new members, and 'old' (stored, in no program yet, named by line 10).
    expect(report).toMatchObject({ rows: 19, imported: 2, rejected: 17, enrolled: 3 })
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
    const enroll = async (command: EnrollCommand | MemberQuery): Promise<Reply> => {
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

  it('enrols, when the file is imported again, the stored members a run before did not', async () => {
    const e = await start()
    const rows = [header, ...Array.from({ length: 12 }, (_, i) => `v${i},demo,V,V${i},,,,,,,`), 'v3,demo,V,Again,,,,,,,'].join('\n')
    // The engine refuses three enrolments, as if it had been down (or the run had stopped).
    const down = new Set(['v2', 'v7', 'v11'])
    const seen: string[] = []
    const flaky = (command: EnrollCommand | MemberQuery) => {
      seen.push(`${command.op}:${command.account}`)
      return down.has(command.account)
        ? Promise.resolve<Reply>({ status: 'unavailable', message: 'shard down' })
        : e.submit(command)
    }
    const first = await importText(e, rows, { enroll: flaky, batchSize: 5 })
    expect(first).toMatchObject({ imported: 12, rejected: 1, enrolled: 12 - 3, enrollFailed: 3 })
    // v3's second row found v3 enrolled by its first: no second enrolment.
    expect(seen.filter((x) => x.endsWith(':v3'))).toEqual(['enroll:v3', 'member:v3'])
    for (const id of down) expect((await e.execute({ op: 'balance', account: id })).status).toBe('account_not_found')
    const again = await importText(e, rows, { batchSize: 5, enroll: (command) => e.submit(command) })
    expect(again).toMatchObject({ imported: 0, rejected: 13, enrolled: 3, enrollFailed: 0 })
    for (const id of down) {
      expect(await e.execute({ op: 'member', account: id })).toMatchObject({ status: 'ok', membership: { program: 'demo' } })
      expect((await e.execute({ op: 'history', account: id })).entries).toHaveLength(1)
    }
    // A third import finds everyone in the program and enrols nobody.
    const third = await importText(e, rows, { batchSize: 5, enroll: (command) => e.submit(command) })
    expect(third).toMatchObject({ imported: 0, rejected: 13, enrolled: 0, enrollFailed: 0 })
  })

  it('counts a stored member named by several rows once, and does not retry a failure of the same run', async () => {
    const e = await start()
    const once = [header, 't1,demo,T,One,,,,,,,', 't2,demo,T,Two,,,,,,,'].join('\n')
    await importText(e, once, { enroll: async () => ({ status: 'unavailable', message: 'down' }) })
    // t1 three times (stored, in no program): enrolled and counted once.
    const thrice = [header, 't1,demo,T,One,,,,,,,', 't1,demo,T,One,,,,,,,', 't1,demo,T,One,,,,,,,'].join('\n')
    const sends: string[] = []
    const report = await importText(e, thrice, {
      batchSize: 1,
      enroll: (command) => (sends.push(`${command.op}:${command.account}`), e.submit(command)),
    })
    expect(report).toMatchObject({ imported: 0, rejected: 3, enrolled: 1, enrollFailed: 0 })
    expect(sends).toEqual(['member:t1', 'enroll:t1'])
    // t3 twice, new: its enrolment fails in this run and is reported once, not retried by the second row.
    const twice = [header, 't3,demo,T,Three,,,,,,,', 't3,demo,T,Three,,,,,,,'].join('\n')
    const failing = await importText(e, twice, {
      enroll: async (command) => (command.account === 't3' && command.op === 'enroll' ? { status: 'unavailable', message: 'down' } : e.submit(command)),
    })
    expect(failing).toMatchObject({ imported: 1, rejected: 1, enrolled: 0, enrollFailed: 1 })
    expect(failing.enrollFailures).toEqual([{ line: 2, id: 't3', status: 'unavailable', message: 'down' }])
  })

  it('reports a failed look-up of a stored member as an enrolment failure', async () => {
    const e = await start()
    const rows = [header, 'u1,demo,U,One,,,,,,,'].join('\n')
    await importText(e, rows, { enroll: async () => ({ status: 'unavailable', message: 'down' }) })
    const report = await importText(e, rows, {
      enroll: async (command) => (command.op === 'member' ? { status: 'overloaded', message: 'busy' } : e.submit(command)),
    })
    expect(report).toMatchObject({ imported: 0, rejected: 1, enrolled: 0, enrollFailed: 1 })
    expect(report.enrollFailures).toEqual([{ line: 2, id: 'u1', status: 'overloaded', message: 'busy' }])
  })

  it('stops on a file it cannot read on: no header, a bad header, bad UTF-8', async () => {
    const e = await start()
    const empty = await importText(e, '')
    expect(empty).toMatchObject({ rows: 0, imported: 0, aborted: { line: 1, field: 'header' } })
    const blank = await importText(e, '\r\n\r\n')
    expect(blank.aborted).toMatchObject({ field: 'header', message: expect.stringMatching(/empty/) })
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
    expect(e.members.get('u1')).toMatchObject({ id: 'u1', program: 'demo', firstName: 'U', lastName: 'One' })
    expect(e.members.count()).toBe(1)
  })

  it('stops at a quote left open in a small file as in a large one, the rows before it imported', async () => {
    const e = await start()
    const text = [header, 'o1,demo,Ann,One,,,,,,,', 'o2,demo,"Bob,Two,,,,,,,', 'o3,demo,Cy,Three,,,,,,,'].join('\n')
    const report = await importText(e, text)
    expect(report).toMatchObject({ rows: 1, imported: 1, rejected: 0, rejections: [] })
    expect(report.aborted).toEqual({
      line: 3,
      field: 'record',
      message: 'the quote opened on line 3 is not closed before the end of the file (everything after it would be one field)',
    })
    expect(e.members.get('o1')?.firstName).toBe('Ann')
    expect(e.members.count()).toBe(1)
  })

  it('stops at a file whose lines end with CR alone, saying so', async () => {
    const e = await start()
    const report = await importText(e, [header, 'c1,demo,C,One,,,,,,,', 'c2,demo,C,Two,,,,,,,'].join('\r'))
    expect(report.aborted).toEqual({ line: 1, field: 'record', message: 'lines end with CR only; use LF or CRLF' })
    expect(report).toMatchObject({ rows: 0, imported: 0 })
  })

  it('checks names and attributes as REST does: characters, lengths, count, attribute names', async () => {
    const e = await start()
    const many = Array.from({ length: 51 }, (_, i) => `a${i}`)
    const rows = [
      `${header},note,${many.join(',')}`,
      `d10,demo,Real,Name,,,,,,,,"two\nlines",${many.map(() => '').join(',')}`, // 2 ok (free text may break lines)
      `d11,demo,Real,Ctrl\x01Name,,,,,,,,,${many.map(() => '').join(',')}`, // 4 control character in a name
      `d12,demo,\u200bZero,Width,,,,,,,,,${many.map(() => '').join(',')}`, // 5 invisible character
      `d13,demo,Mail,Ctrl,a\x02b@example.com,,,,,,,,${many.map(() => '').join(',')}`, // 6 in an email
      `d14,demo,Note,Ctrl,,,,,,,,x\x07y,${many.map(() => '').join(',')}`, // 7 in an attribute
      `d15,demo,Note,Long,,,,,,,,${'n'.repeat(501)},${many.map(() => '').join(',')}`, // 8 attribute too long
      `d16,demo,Too,Many,,,,,,,,,${many.map(() => 'v').join(',')}`, // 9 51 attributes
      `d17,demo,Just,Enough,,,,,,,,,${many.slice(1).map(() => 'v').join(',')},`, // 10 50 attributes
      `d18,demo,Gen,Der,,,,x\x1by,,,,,${many.map(() => '').join(',')}`, // 11 in gender
    ].join('\n')
    const report = await importText(e, rows)
    expect(report.rejections).toEqual([
      { line: 4, field: 'lastName', message: 'lastName must not contain control or invisible characters (U+0001 at 4)' },
      { line: 5, field: 'firstName', message: 'firstName must not contain control or invisible characters (U+200B at 0)' },
      { line: 6, field: 'email', message: 'email must not contain control or invisible characters (U+0002 at 1)' },
      { line: 7, field: 'note', message: 'attributes.note must not contain control or invisible characters (U+0007 at 1)' },
      { line: 8, field: 'note', message: 'attributes.note must be 1 to 500 characters' },
      { line: 9, field: 'attributes', message: 'a member may have at most 50 attributes, not 51' },
      { line: 11, field: 'gender', message: 'gender must not contain control or invisible characters (U+001B at 1)' },
    ])
    expect(report).toMatchObject({ imported: 2, rejected: 7 })
    expect(e.members.get('d10')?.attributes).toEqual({ note: 'two\nlines' })
    expect(Object.keys(e.members.get('d17')!.attributes)).toHaveLength(50)
  })

  it('stops at a header with an attribute name the registry would refuse, naming the column', async () => {
    const e = await start()
    const refused: [string, string][] = [
      ['constructor', 'column 12: attribute name constructor is not allowed (every JavaScript object has it)'],
      ['__proto__', 'column 12: attribute name __proto__ is not allowed (every JavaScript object has it)'],
      ['toString', 'column 12: attribute name toString is not allowed (every JavaScript object has it)'],
      ['a\x01b', 'column 12: attribute names must not contain control or invisible characters (U+0001 at 1)'],
      ['"\u202eevil"', 'column 12: attribute names must not contain control or invisible characters (U+202E at 0)'],
      ['n'.repeat(65), 'column 12: attribute names must have 1 to 64 characters (this one has 65)'],
      ['"  "', 'column 12 has no name'],
    ]
    for (const [name, message] of refused) {
      const report = await importText(e, `${header},${name}\nh1,demo,H,One,,,,,,,,x\n`)
      expect(report.aborted, name).toEqual({ line: 1, field: 'header', message })
      expect(report.imported, name).toBe(0)
    }
    // Member columns are matched in any case, once; attributes are taken as written.
    const twice = await importText(e, 'id,program,Email,EMAIL\n')
    expect(twice.aborted?.message).toBe('column EMAIL appears twice')
    const cased = await importText(e, `${header},Tier,tier,Tier\n`)
    expect(cased.aborted?.message).toBe('column Tier appears twice')
    const report = await importText(e, `${header},Tier,tier\nh2,demo,H,Two,,,,,,,,Gold,gold\n`)
    expect(report).toMatchObject({ imported: 1, attributes: ['Tier', 'tier'] })
    expect(e.members.get('h2')?.attributes).toEqual({ Tier: 'Gold', tier: 'gold' })
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
    expect(report.rejections).toEqual([{ line: 2, field: 'id', message: 'id must be 1 to 64 letters, digits or _.:-' }])
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
      // A name may not break lines (REST refuses it too); an attribute may.
      'r4,demo,Multi,Line,,,,,,,,"L-4\nsecond line"',
    ].join('\n')
    expect(await importText(e, text)).toMatchObject({ imported: 4 })
    await e.members.setCardStatus('card', 'CARD0002', 'blocked', operator)
    await e.members.erase('r3', operator)
    const exported = await collect(e.members.exportCsv())
    const lines = exported.split('\r\n')
    expect(lines[0]).toBe(`${header},loyalty_id`)
    // The phone starts with +: a spreadsheet would read it as a formula.
    expect(lines[1]).toBe('r1,demo,Ann,"Smith, Jr.",ann@example.com,\'+4930123456,1980-02-29,f,DE,CARD0001,2018-03-04T05:06:07.089Z,L-1')
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

describe('CSV export of odd values', () => {
  /** Each record's fields (the export has no faults). */
  const records = (text: string) => parse(text).map((item) => ('fields' in item ? item.fields : [item.fault]))

  it('puts a quote before a cell a spreadsheet would run as a formula, which the import takes off', async () => {
    const e = await start()
    const attributes = {
      dde: "=cmd|' /C calc'!A0", at: '@SUM(1+1)', plus: '+1+1', minus: '-1+1', tab: '\t=1+1', cr: '\r=1+1',
      quoted: "'=1+1", quotes: "''@x", plain: "'plain", inside: 'a=1', '=name': 'v',
    }
    const member = {
      id: 'f1', program: 'demo', firstName: '=HYPERLINK("http://evil.example","x")', lastName: '-2+3',
      email: '=x@example.com', attributes,
    }
    expect(await e.members.create(member, operator)).toMatchObject({ ok: true })
    const exported = await collect(e.members.exportCsv())
    const [head, row] = records(exported)
    const cells = Object.fromEntries(head!.map((name, i) => [name, row![i]]))
    expect(cells).toMatchObject({
      firstName: '\'=HYPERLINK("http://evil.example","x")', lastName: "'-2+3", email: "'=x@example.com",
      dde: "'=cmd|' /C calc'!A0", at: "'@SUM(1+1)", plus: "'+1+1", minus: "'-1+1", tab: "'\t=1+1", cr: "'\r=1+1",
      quoted: "''=1+1", quotes: "'''@x", plain: "'plain", inside: 'a=1', "'=name": 'v',
    })
    for (const cell of [...head!, ...row!]) expect(cell).not.toMatch(/^[=+\-@\t\r]/)
    const copy = await start()
    expect(await importText(copy, exported)).toMatchObject({ imported: 1, rejected: 0, attributes: Object.keys(attributes).sort() })
    expect(copy.members.get('f1')).toMatchObject({ ...member, email: '=x@example.com', attributes })
  })

  it('exports odd but valid values that import back unchanged, and exports the copy alike', async () => {
    const e = await start()
    const odd: NewMember[] = [
      {
        id: 'o1', program: 'demo', firstName: 'Zoë "Zed"', lastName: "O'Brien, Jr.", gender: 'non-binary', country: 'DE',
        attributes: {
          note: 'line one\nline two\r\nline "three", with a comma', 'a,"b"': 'x,"y"', Tier: 'Gold', tier: 'gold',
          unicode: '🎉 ünïcødé 李', formula: '=1+1', tab: 'a\tb', Constructor: 'not inherited',
        },
      },
      { id: 'o2', program: 'demo', lastName: '李', attributes: { tier: '=SUM(A1:A9)', '=name': '@me', "'q": "'" } },
      { id: 'o3', program: 'demo', phone: '+4930123456', email: 'o3@example.com', cards: [{ value: 'CARD0003' }] },
    ]
    for (const member of odd) expect(await e.members.create(member, operator), member.id).toMatchObject({ ok: true })
    const exported = await collect(e.members.exportCsv())
    const copy = await start()
    const report = await importText(copy, exported, {}, 5)
    expect(report).toMatchObject({ rows: 3, imported: 3, rejected: 0, enrolled: 3 })
    expect(report.aborted).toBeUndefined()
    for (const { id } of odd) {
      const { status: _s, ...original } = e.members.get(id)!
      const { status: _c, ...imported } = copy.members.get(id)!
      expect(imported, id).toEqual(original)
    }
    expect(await collect(copy.members.exportCsv())).toBe(exported)
  })

  it('imports back an attribute value with spaces or line breaks at its ends as it was exported (quoted)', async () => {
    const e = await start()
    const attributes = { padded: '  gold  ', lead: '\nsecond line', trail: 'first line\r\n', tabbed: 'x\t' }
    expect(await e.members.create({ id: 'w1', program: 'demo', attributes }, operator)).toMatchObject({ ok: true })
    const exported = await collect(e.members.exportCsv())
    const copy = await start()
    expect(await importText(copy, exported)).toMatchObject({ imported: 1, rejected: 0 })
    expect(copy.members.get('w1')?.attributes).toEqual(attributes)
    expect(await collect(copy.members.exportCsv())).toBe(exported)
    // Unquoted cells are still trimmed, and a quoted blank one is still no value.
    const typed = await start()
    expect(await importText(typed, 'id,program,note,blank\nw2,demo,  plain  ,"   "\n')).toMatchObject({ imported: 1, rejected: 0 })
    expect(typed.members.get('w2')?.attributes).toEqual({ note: 'plain' })
  })

  it('reads own attributes only, and leaves out names stored before the registry refused them', async () => {
    const stored = (id: string, attributes: Record<string, string>): Member => ({
      id, account: id, program: 'demo', attributes, segments: [], consents: { email: false, sms: false, push: false },
      joinedAt: Date.UTC(2020, 0, 1), status: 'active', redemptionAllowed: true,
    })
    // As msgpack or JSON decode them: `__proto__` an own key.
    const legacy = JSON.parse('{"constructor":"x","__proto__":"p","a\\u0001b":"y","Email":"z","ok":"v"}')
    const members = [stored('l1', legacy), stored('l2', {})]
    const registry = {
      list: (after?: string) => (after === undefined ? members : []),
      identifiersOf: () => [],
    } as unknown as MemberRegistry
    const joined = '2020-01-01T00:00:00.000Z'
    const exported = await collect(exportMembersCsv(registry))
    expect(exported).toBe(`${header},ok\r\nl1,demo,,,,,,,,,${joined},v\r\nl2,demo,,,,,,,,,${joined},\r\n`)
    // Named as columns, inherited names are empty cells for a member without them, not functions.
    const named = await collect(exportMembersCsv(registry, { attributes: ['constructor', 'toString', 'ok'] }))
    expect(named.split('\r\n')[2]).toBe(`l2,demo,,,,,,,,,${joined},,,`)
    const e = await start()
    expect(await importText(e, exported)).toMatchObject({ imported: 2, rejected: 0 })
    expect(e.members.get('l1')?.attributes).toEqual({ ok: 'v' })
  })
})

describe('attribute names and profile text', () => {
  const fiftyOne = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, 'v']))
  const refused: [Partial<NewMember>, string, RegExp][] = [
    [{ attributes: JSON.parse('{"__proto__":"x"}') }, 'attributes', /^attribute name __proto__ is not allowed/],
    [{ attributes: { constructor: 'x' } }, 'attributes', /^attribute name constructor is not allowed/],
    [{ attributes: { prototype: 'x' } }, 'attributes', /^attribute name prototype is not allowed/],
    [{ attributes: { hasOwnProperty: 'x' } }, 'attributes', /^attribute name hasOwnProperty is not allowed/],
    [{ attributes: { 'a\u0001b': 'x' } }, 'attributes', /^attribute names must not contain control or invisible characters \(U\+0001 at 1\)$/],
    [{ attributes: { '  ': 'y' } }, 'attributes', /^attribute names must not be blank$/],
    [{ attributes: { ' x': 'y' } }, 'attributes', /^attribute name " x" must not start or end with a space$/],
    [{ attributes: { ['n'.repeat(65)]: 'y' } }, 'attributes', /^attribute names must have 1 to 64 characters/],
    [{ attributes: { id: 'x' } }, 'attributes', /^attribute name id is the CSV column id/],
    [{ attributes: { Email: 'x' } }, 'attributes', /^attribute name Email is the CSV column email/],
    [{ attributes: { CARD: 'x' } }, 'attributes', /^attribute name CARD is the CSV column card/],
    [{ attributes: fiftyOne }, 'attributes', /^a member may have at most 50 attributes, not 51$/],
    [{ attributes: { x: '' } }, 'attributes.x', /^attributes.x must be 1 to 500 characters$/],
    [{ attributes: { x: '   ' } }, 'attributes.x', /^attributes.x must be 1 to 500 characters$/],
    [{ attributes: { x: 'y'.repeat(501) } }, 'attributes.x', /^attributes.x must be 1 to 500 characters$/],
    [{ attributes: { x: 'a\u0000' } }, 'attributes.x', /^attributes.x must not contain control or invisible characters \(U\+0000 at 1\)$/],
    [{ attributes: { x: 5 as unknown as string } }, 'attributes.x', /^attributes.x must be a string$/],
    [{ attributes: ['x'] as unknown as Record<string, string> }, 'attributes', /must be an object/],
    [{ lastName: 'Ctrl\u0001Name' }, 'lastName', /^lastName must not contain control or invisible characters \(U\+0001 at 4\)$/],
    [{ firstName: '\u202eevil' }, 'firstName', /U\+202E at 0/],
    [{ email: 'a\u0001b@example.com' }, 'email', /^email must not contain control or invisible characters/],
    [{ phone: '+49\u200b30123456' }, 'phone', /U\+200B at 3/],
  ]

  it('refuses bad names and attributes in create, update and createMany alike, naming the field', async () => {
    const e = await start()
    expect(await e.members.create({ id: 'n0', program: 'demo' }, operator)).toMatchObject({ ok: true })
    for (const [extra, field, message] of refused) {
      const label = JSON.stringify(extra).slice(0, 60)
      const input = { id: 'n1', program: 'demo', ...extra } as NewMember
      const single = await e.members.create(input, operator)
      expect(single, label).toMatchObject({ ok: false, status: 'invalid_request', field, message })
      const many = await e.members.createMany([input], operator, 'test')
      expect(many.rejected, label).toEqual([{ index: 0, field, message: !single.ok ? single.message : '' }])
      const { id: _id, program: _program, ...changes } = input
      expect(await e.members.update('n0', changes, operator), label).toMatchObject({ ok: false, field, message })
    }
    expect(e.members.count()).toBe(1)
    expect(e.members.get('n0')?.attributes).toEqual({})
  })

  it('takes any other printable name, and free text with tabs and line breaks as a value', async () => {
    const e = await start()
    const attributes = { Constructor: 'x', 'a b': 'y', 'Ünï-cødé': 'z', note: 'tab\there\nnext line', ['n'.repeat(64)]: 'v'.repeat(500) }
    const created = await e.members.create({ id: 'n2', program: 'demo', attributes }, operator)
    expect(created).toMatchObject({ ok: true, value: { attributes } })
    const updated = await e.members.update('n2', { attributes: { constructorName: 'y' } }, operator)
    expect(updated).toMatchObject({ ok: true, value: { attributes: { constructorName: 'y' } } })
  })
})

describe('createMany', () => {
  const bad: [Partial<NewMember>, string][] = [
    [{ id: 'bad id!' }, 'id'],
    [{ email: 'not-an-email' }, 'email'],
    [{ phone: '0123' }, 'phone'],
    [{ birthDate: '1990-02-30x' }, 'birthDate'],
    [{ birthDate: '1990-02-30' }, 'birthDate'],
    [{ country: 'Germany' }, 'country'],
    [{ firstName: ' ' }, 'firstName'],
    [{ cards: [{ value: '12' }] }, 'cards[0].value'],
    [{ cards: [{ value: 'CARD1234' }, { value: 'card-1234' }] }, 'cards[1].value'],
    [{ cards: [{ value: 'CARD1234' }, { type: 'fob', value: 'CARD1234' }] }, 'cards[1].value'],
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

  it('refuses a card number stored as another kind (one number space for card, fob, NFC and virtual card)', async () => {
    const e = await start()
    expect(await e.members.create({ id: 'held', program: 'demo', cards: [{ value: 'CARD5555' }] }, operator)).toMatchObject({ ok: true })
    const many = await e.members.createMany([
      { id: 'f1', program: 'demo', cards: [{ type: 'fob', value: 'CARD5555' }] },
      { id: 'f2', program: 'demo', cards: [{ type: 'virtual_card', value: 'CARD6666' }] },
      { id: 'f3', program: 'demo', cards: [{ value: 'CARD6666' }] },
    ], operator, 'test')
    expect(many.rejected).toEqual([
      { index: 0, field: 'cards[0].value', message: 'fob CARD5555 belongs to another member' },
      { index: 2, field: 'cards[0].value', message: 'card CARD6666 belongs to another member earlier in this batch' },
    ])
    expect(many.created.map((c) => c.member.id)).toEqual(['f2'])
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

describe('bulk loads', () => {
  /** A source that yields `before`, runs `between` (a change by someone else), then yields `after`. */
  async function* interleaved(before: string, between: () => Promise<unknown>, after = '') {
    yield before
    await between()
    if (after !== '') yield after
  }

  for (const prefilled of [false, true]) {
    const store = prefilled ? 'a registry with members' : 'an empty registry'
    it(`refuses duplicates within the file across batches, and against stored members, into ${store}`, async () => {
      const e = await start()
      if (prefilled) {
        const old = { id: 'old', program: 'demo', email: 'old@example.com', phone: '+15550000001', cards: [{ value: 'OLD00001' }] }
        expect(await e.members.create(old, operator)).toMatchObject({ ok: true })
      }
      const rows = [
        header,
        'd1,demo,D,One,d1@example.com,+15550000011,,,,CARD0001,', // 2 ok
        'd2,demo,D,Two,d2@example.com,,,,,CARD0002,', // 3 ok
        'd3,demo,D,Three,D1@Example.com,,,,,,', // 4 email of line 2 (an earlier batch)
        'd1,demo,D,Again,,,,,,,', // 5 id of line 2
        'd4,demo,D,Four,,+1 555 000 0011,,,,,', // 6 phone of line 2
        'd5,demo,D,Five,,,,,,card-0002,', // 7 card of line 3
        'd6,demo,D,Six,,,,,,CARD0006|CARD0007,', // 8 ok
        'd7,demo,D,Seven,,,,,,CARD0008|card0007,', // 9 second card of line 8 (the same batch)
        'd8,demo,D,Eight,d8@example.com,,,,,CARD0008,', // 10 ok: line 9 was refused, its first card is free
        'd9,demo,D,Nine,,,,,,CARD0009|CARD0009,', // 11 the same card twice in a row
        ...(prefilled ? [
          'old,demo,O,Old,,,,,,,', // 12 a stored id
          'e1,demo,E,One,OLD@example.com,,,,,,', // 13 a stored email
          'e2,demo,E,Two,,+15550000001,,,,,', // 14 a stored phone
          'e3,demo,E,Three,,,,,,OLD00001,', // 15 a stored card
        ] : []),
      ].join('\n')
      const report = await importText(e, rows, { batchSize: 2 })
      const stored = prefilled ? [
        { line: 12, field: 'id', message: 'member old exists' },
        { line: 13, field: 'email', message: 'email old@example.com belongs to another member' },
        { line: 14, field: 'phone', message: 'phone +15550000001 belongs to another member' },
        { line: 15, field: 'card', message: 'card OLD00001 belongs to another member' },
      ] : []
      expect(report.rejections).toEqual([
        { line: 4, field: 'email', message: 'email d1@example.com belongs to another member' },
        { line: 5, field: 'id', message: 'member d1 exists' },
        { line: 6, field: 'phone', message: 'phone +15550000011 belongs to another member' },
        { line: 7, field: 'card', message: 'card CARD0002 belongs to another member' },
        { line: 9, field: 'card', message: 'card CARD0007 belongs to another member earlier in this batch' },
        { line: 11, field: 'card', message: 'card CARD0009 is given twice' },
        ...stored,
      ])
      // With members stored, 'old' (in no program yet, and named by a refused row) is enrolled too.
      expect(report).toMatchObject({ imported: 4, rejected: prefilled ? 10 : 6, enrolled: prefilled ? 5 : 4 })
      expect(e.members.resolve('card', 'CARD0008')?.member.id).toBe('d8')
      expect(e.members.resolve('card', 'CARD0007')?.member.id).toBe('d6')
      expect(e.members.get('d1')?.lastName).toBe('One')
      expect(e.members.count()).toBe(prefilled ? 5 : 4)
    })
  }

  it('checks a batch again when someone else wrote between its checks and its write', async () => {
    const e = await start()
    const rows = [
      header,
      'f1,demo,F,One,f1@example.com,,,,,CARD0F01,',
      'f2,demo,F,Two,f2@example.com,,,,,CARD0F02|CARD0F03,',
      'f3,demo,F,Three,,,,,,,',
      'f4,demo,F,Four,,+15550000444,,,,,',
    ].join('\n')
    // The rows are read and checked; the batch is written only at the end, after these creates.
    const others = async () => {
      const creates: [string, Partial<NewMember>][] = [
        ['x1', { email: 'f1@example.com' }],
        ['x2', { cards: [{ value: 'CARD0F03' }] }],
        ['f3', {}],
        ['x4', { phone: '+1 555 000 0444' }],
      ]
      for (const [id, extra] of creates) {
        expect(await e.members.create({ id, program: 'demo', ...extra }, operator)).toMatchObject({ ok: true })
      }
    }
    const report = await e.members.importCsv(interleaved(rows, others), { actor: operator, batchSize: 10 })
    expect(report.rejections).toEqual([
      { line: 2, field: 'email', message: 'email f1@example.com belongs to another member' },
      { line: 3, field: 'card', message: 'card CARD0F03 belongs to another member' },
      { line: 4, field: 'id', message: 'member f3 exists' },
      { line: 5, field: 'phone', message: 'phone +15550000444 belongs to another member' },
    ])
    expect(report).toMatchObject({ imported: 0, rejected: 4 })
    expect(e.members.resolve('card', 'CARD0F01')).toBeUndefined()
    expect(e.members.resolve('card', 'CARD0F03')?.member.id).toBe('x2')
    expect(e.members.get('f3')?.firstName).toBeUndefined()
    const audit = e.members.audit.search({ target: report.importId }).records
    expect(audit).toEqual([])
  })

  it('sees what others wrote into an empty registry during a load, in every later batch', async () => {
    const e = await start()
    const first = `${header}\ng1,demo,G,One,,,,,,CARD0G01,\ng2,demo,G,Two,,,,,,CARD0G02,\n`
    const later = [
      'g3,demo,G,Three,y@example.com,,,,,,', // the email the create took
      'y1,demo,G,Four,,,,,,,', // the id the create took
      'g5,demo,G,Five,,,,,,CARD0Y01,', // the card the create took
      'g6,demo,G,Six,,,,,,,',
    ].join('\n')
    const create = () => e.members.create({ id: 'y1', program: 'demo', email: 'y@example.com', cards: [{ value: 'CARD0Y01' }] }, operator)
    const report = await e.members.importCsv(interleaved(first, create, later), { actor: operator, batchSize: 2 })
    expect(report.rejections).toEqual([
      { line: 4, field: 'email', message: 'email y@example.com belongs to another member' },
      { line: 5, field: 'id', message: 'member y1 exists' },
      { line: 6, field: 'card', message: 'card CARD0Y01 belongs to another member' },
    ])
    expect(report.imported).toBe(3)
    expect(e.members.resolve('email', 'y@example.com')?.member.id).toBe('y1')
  })

  it('keeps two loads into an empty registry from taking the same identifiers', async () => {
    const e = await start()
    const rowsOf = (prefix: string) => [
      header,
      ...Array.from({ length: 40 }, (_, i) => `${prefix}${i},demo,H,${prefix},shared${i}@example.com,,,,,${prefix.toUpperCase()}CARD${i}|SHARED${i},`),
    ].join('\n')
    async function* slowly(text: string) {
      for (const line of text.split('\n')) {
        yield `${line}\n`
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const [a, b] = await Promise.all([
      e.members.importCsv(slowly(rowsOf('ha')), { actor: operator, batchSize: 3 }),
      e.members.importCsv(slowly(rowsOf('hb')), { actor: operator, batchSize: 3 }),
    ])
    // Each shared email and card went to exactly one of them.
    expect(a.imported + b.imported).toBe(40)
    expect(a.rejected + b.rejected).toBe(40)
    for (let i = 0; i < 40; i++) {
      const byEmail = e.members.resolve('email', `shared${i}@example.com`)!.member.id
      expect(e.members.resolve('card', `SHARED${i}`)!.member.id).toBe(byEmail)
      const other = byEmail.startsWith('ha') ? `hb${i}` : `ha${i}`
      expect(e.members.get(other)).toBeUndefined()
    }
    expect(e.members.count()).toBe(40)
  })

  it('re-imports the same file as duplicates, changing nothing', async () => {
    const e = await start()
    const rows = [header, ...Array.from({ length: 30 }, (_, i) =>
      `r${i},demo,R,Name${i % 7},r${i}@example.com,+1555100${String(i).padStart(4, '0')},,,${i % 2 === 0 ? 'DE' : 'FR'},RCARD${i},2020-01-${String(1 + (i % 28)).padStart(2, '0')}`)].join('\n')
    const first = await importText(e, rows, { batchSize: 7 })
    expect(first).toMatchObject({ imported: 30, rejected: 0, enrolled: 30 })
    const snapshot = () => ({
      count: e.members.count(),
      tallies: e.members.countByStatus(),
      byName: e.members.search({ name: 'name', limit: 200 }).members.map((m) => m.id),
      byCountry: e.members.search({ country: 'DE', limit: 200 }).members.map((m) => m.id),
      byJoined: e.members.search({ joinedFrom: 0, limit: 200 }).members.map((m) => m.id),
      identifiers: e.members.identifiersOf('r3'),
    })
    const before = snapshot()
    const again = await importText(e, rows, { batchSize: 7 })
    expect(again).toMatchObject({ imported: 0, rejected: 30, enrolled: 0 })
    expect(new Set(again.rejections.map((r) => r.message.replace(/r\d+/, 'rN')))).toEqual(new Set(['member rN exists']))
    expect(snapshot()).toEqual(before)
    expect(before.byName).toHaveLength(30)
    expect(before.byCountry).toHaveLength(15)
    expect(before.identifiers.map((i) => i.type)).toEqual(['card', 'email', 'phone'])
  })

  it('keeps the search indexes in step with the members it writes', async () => {
    const e = await start()
    let seed = 11
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    const lasts = ['Öztürk', 'Smith', 'Smithers', 'smit', 'Ávila', 'Zhang', 'Ødegård', 'Mac', 'Mc', 'Ma']
    const countries = ['DE', 'FR', 'AT', '']
    const rows = [header]
    for (let i = 0; i < 400; i++) {
      const last = lasts[Math.floor(random() * lasts.length)]!
      const country = countries[Math.floor(random() * countries.length)]!
      const day = `20${10 + Math.floor(random() * 10)}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}`
      // Ids out of order, so the writes are sorted for real.
      rows.push(`s${Math.floor(random() * 1e9)}x${i},demo,F${i % 3},${last},,,,,${country},,${day}`)
    }
    const report = await importText(e, rows.join('\n'), { batchSize: 37 }, 4096)
    expect(report).toMatchObject({ imported: 400, rejected: 0 })
    const everyone = e.members.list(undefined, 1000)
    expect(everyone).toHaveLength(400)
    const pages = (query: object) => {
      const ids: string[] = []
      let after: string | undefined
      for (;;) {
        const page = e.members.search({ ...query, limit: 50, ...(after === undefined ? {} : { after }) })
        ids.push(...page.members.map((m) => m.id))
        if (page.next === undefined) return ids.sort()
        after = page.next
      }
    }
    const expected = (keep: (m: (typeof everyone)[number]) => boolean) => everyone.filter(keep).map((m) => m.id).sort()
    for (const prefix of ['sm', 'ma', 'mc', 'ø', 'á', 'z']) {
      expect(pages({ name: prefix }), prefix).toEqual(expected((m) => m.lastName!.toLowerCase().startsWith(prefix)))
    }
    const from = Date.UTC(2013, 0, 1)
    const to = Date.UTC(2016, 5, 1)
    for (const country of ['DE', 'FR', 'AT']) {
      expect(pages({ country, joinedFrom: from, joinedTo: to }), country).toEqual(
        expected((m) => m.country === country && m.joinedAt >= from && m.joinedAt < to))
    }
    expect(pages({ joinedFrom: from, joinedTo: to })).toEqual(expected((m) => m.joinedAt >= from && m.joinedAt < to))
  })

  it('stops at a batch that could not be written, naming its lines, and writes nothing after it', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { open } = await import('lmdb')
    const { MemberRegistry } = await import('./members.ts')
    const dir = mkdtempSync(join(tmpdir(), 'loyalty-failing-'))
    const root = open({ path: dir, maxDbs: 32 })
    try {
      // The members database's writes of the second batch report a failed commit, as a full disk would.
      let batches = 0
      const failing = new Proxy(root, {
        get(target, property, receiver) {
          if (property !== 'openDB') return Reflect.get(target, property, receiver)
          return (options: { name: string }) => {
            const db = target.openDB(options)
            if (options.name !== 'members') return db
            return new Proxy(db, {
              get(inner, name, innerReceiver) {
                if (name !== 'put') return Reflect.get(inner, name, innerReceiver)
                return (key: string, value: unknown) => {
                  if (key === 'k3') batches++
                  const written = inner.put(key, value)
                  if (batches !== 1) return written
                  const failed = written.then(() => Promise.reject(new Error('MDB_MAP_FULL')))
                  failed.catch(() => {})
                  return failed
                }
              },
            })
          }
        },
      })
      const registry = new MemberRegistry(failing)
      const rows = [header, ...Array.from({ length: 6 }, (_, i) => `k${i + 1},demo,K,Row${i},,,,,,,`)].join('\n')
      const progress: number[] = []
      const report = await registry.importCsv([rows], { actor: operator, batchSize: 2, onProgress: (p) => progress.push(p.imported) })
      expect(report.aborted).toEqual({
        line: 4,
        field: 'batch',
        message: 'rows from line 4 to 5 were not written, nor anything after them: MDB_MAP_FULL',
      })
      expect(report).toMatchObject({ rows: 6, imported: 2, rejected: 0 })
      expect(progress.at(-1)).toBe(2)
      // The third batch was never written.
      expect(registry.get('k5')).toBeUndefined()
      expect(registry.get('k6')).toBeUndefined()
      expect(registry.audit.search({ target: report.importId }).records).toHaveLength(2)
    } finally {
      await root.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('writes ahead of a slow engine only as far as its backlog allows, then catches up', async () => {
    const e = await start()
    const waiting: (() => void)[] = []
    let stuck = true
    const enroll = (command: EnrollCommand | MemberQuery) => stuck
      ? new Promise<Reply>((resolve) => waiting.push(() => resolve(e.execute(command))))
      : e.execute(command)
    const rows = [header, ...Array.from({ length: 60 }, (_, i) => `w${i},demo,W,W${i},,,,,,,`)].join('\n')
    const done = importText(e, rows, { enroll, enrollConcurrency: 2, batchSize: 5 }, 100_000)
    const settled = async () => {
      for (let last = -1, now = e.members.count(); now !== last; last = now, now = e.members.count()) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await settled()
    // Enrolment is stuck with 2 in flight. The registry went on writing while members queued
    // for enrolment, until more than two batches (the backlog) waited: at most 10 queued and 2
    // in flight when a batch is handed over, plus that batch and the three before it whose
    // members were not queued yet (two waiting to be committed, one being flushed).
    const written = e.members.count()
    expect(written).toBeGreaterThan(10)
    expect(written).toBeLessThanOrEqual(32)
    expect(written).toBeLessThan(60)
    expect(waiting).toHaveLength(2)
    stuck = false
    for (const release of waiting.splice(0)) release()
    const report = await done
    expect(report).toMatchObject({ imported: 60, enrolled: 60, enrollFailed: 0 })
    expect(e.members.count()).toBe(60)
  })
})
