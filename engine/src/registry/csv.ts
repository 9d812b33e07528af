/**
 * Members as CSV: a streaming import and export.
 *
 * The first line is the header. Its column names are matched without regard
 * to case and may come in any order: `id` and `program` are required,
 * `firstName`, `lastName`, `email`, `phone`, `birthDate`, `gender`,
 * `country`, `card` and `joinedAt` are optional. `card` holds one or more
 * plastic card numbers separated by `|`; `joinedAt` is `YYYY-MM-DD` or an ISO
 * 8601 time with a zone, so a migration keeps the old system's join dates
 * (default: now). Every other column becomes a member attribute of that name
 * (empty cells are left out): a legacy file carries its own fields without a
 * schema change, and an export gives them back. Attribute names are taken as
 * written (`tier` and `Tier` are two) and must be names the registry takes
 * (`attributeNameProblem`: printable, at most 64 characters, not
 * `constructor` or `__proto__`); a header with any other stops the import.
 * Cells are trimmed, but for a quoted attribute cell, which is taken as
 * written (the export quotes a value with spaces or line breaks at its
 * ends, and it imports back unchanged); an empty or blank cell is an
 * absent value. Names, attributes and
 * the rest are checked as REST checks them (the registry's `applyProfile`
 * does both): control characters, lengths, at most 50 attributes a member.
 *
 * Quoting is RFC 4180's: a field in double quotes may hold commas, line
 * breaks and doubled quotes. Beyond it, a record may also end with LF alone,
 * a UTF-8 byte order mark is skipped and blank lines are ignored. A quote
 * not closed before the end of the file stops the import at its record
 * (every line after it would be one field), as does a file whose lines end
 * with CR alone.
 *
 * Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR
 * as a formula (OWASP's CSV injection), so the export puts a `'` before such
 * a cell (a phone number `+4930...` too), and before one that is such a cell
 * after one or more `'`s; the import takes one `'` off any cell that starts
 * with `'`s and then one of those characters. An export thus imports back to
 * the same values, and a file that was not exported loses a `'` only there.
 *
 * Each row is checked as `MemberRegistry.create` checks a new member, also
 * against the rows before it (a duplicate id, email, phone or card within
 * the file is refused like one already stored). Refused rows are reported
 * with their line (where the record starts; the header is line 1), the field
 * and why, and the import goes on. Rows are checked as they are read, into
 * the registry's bulk load (`MemberRegistry.openBulk`), and written in
 * batches, one LMDB transaction and one audit record per batch (a commit per
 * member would take an hour for a million), while the next batch is read and
 * checked. A batch that cannot be written (a full disk) is not applied at
 * all, and the import stops there (`aborted`, field `batch`). With `enroll`,
 * each written member then joins its program in the engine, a bounded number
 * at a time, while the next batches are read and written.
 *
 * The export writes the same columns, attributes after them, in member id
 * order; erased members are left out, and only active plastic cards are
 * written (virtual cards, NFC tags, fobs and blocked cards are not columns).
 * Status, consents, segments and addresses are not carried by either, nor
 * are attributes stored before the registry checked their names under a
 * name it now refuses (the import of the export would stop at it).
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { EnrollCommand, MemberQuery, Reply } from '../domain/types.ts'
import type { Actor } from './audit.ts'
import type { BulkMember, BulkOutcome, BulkSession, Identifier, Member, MemberRegistry } from './members.ts'
// members.ts imports this module too: its names are used only once both are loaded.
import { attributeNameProblem } from './members.ts'

export type CsvSource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>

export interface ImportProgress {
  /** Data rows read (the header aside). */
  rows: number
  imported: number
  rejected: number
  enrolled: number
  enrollFailed: number
}

/** A refused row, or the reason an import stopped. */
export interface RowProblem {
  line: number
  field: string
  message: string
}

export interface EnrollFailure {
  line: number
  id: string
  status: string
  message?: string
}

export interface ImportReport extends ImportProgress {
  /** Names the import in the audit log (each batch's record has it as target). */
  importId: string
  /** The columns read as attributes. */
  attributes: string[]
  /** Refused rows (the first `problemsMax` found), in line order. */
  rejections: RowProblem[]
  enrollFailures: EnrollFailure[]
  /**
   * Set when the file could not be read on (no usable header, bad UTF-8, a
   * quoted field not closed, lines ending with CR alone): rows from `line` on
   * were not read; rows before it were imported as reported. Also set (field
   * `batch`) when a batch could not be written: none of it was, nor anything
   * after it.
   */
  aborted?: RowProblem
  seconds: number
}

export interface ImportOptions {
  actor: Actor
  /**
   * Enrols each imported member in its program; omitted: registry only. The
   * commands are built from stored members (checked, active), so
   * `engine.submit` takes them without a second look-up. It also gets a
   * `member` query for each row refused because its member exists, to enrol
   * those a run before stored but did not enrol (it crashed, or the engine
   * was down).
   */
  enroll?: (command: EnrollCommand | MemberQuery) => Promise<Reply>
  /** The programs a row may name (the active ruleset's); omitted: any. */
  programs?: ReadonlySet<string>
  /**
   * Rows per transaction; default 50,000. Larger batches cost LMDB fewer page
   * copies, but the gateway thread issues a batch's writes in one event-loop
   * turn (about 0.8 s for 50,000 rows on a small machine).
   */
  batchSize?: number
  /** Enrolments in flight at most; default 8,192: the shards stay busy while a batch is written. */
  enrollConcurrency?: number
  /** Called after each batch is written, and once at the end. */
  onProgress?: (progress: ImportProgress) => void
  /** Rejections and enrolment failures listed at most (all are counted); default 1,000. */
  problemsMax?: number
}

export interface ExportOptions {
  /** Attribute columns, in this order; default: every attribute name in use, sorted. */
  attributes?: string[]
}

export const memberColumns = [
  'id', 'program', 'firstName', 'lastName', 'email', 'phone', 'birthDate', 'gender', 'country',
  'card', 'joinedAt',
] as const

type Column = (typeof memberColumns)[number]

/** The idempotency key of an imported member's enrolment: a retry answers `exists`. */
export const enrollKey = 'member-enroll'

const batchSizeDefault = 50_000
const enrollConcurrencyDefault = 8192
/** Batches handed to the registry and not yet committed, at most, before reading pauses. */
const batchesWaitingMax = 2
/** Batches' worth of written members that may wait for enrolment before reading pauses. */
const enrollBacklogBatches = 2
/** Enrolments taken from the queue before it is compacted. */
const queueCompactAt = 1 << 16
/** Distinct join dates remembered while reading. */
const timeCacheMax = 65_536
const problemsMaxDefault = 1000
/** A record longer than this is a runaway quoted field, not data: the import stops. */
export const recordCharsMax = 1 << 20
const exportPage = 1000
const exportChunkChars = 64 * 1024

// ---------------------------------------------------------------------------
// Parsing (RFC 4180)

export interface CsvRecord {
  /** The line the record starts on, from 1. */
  line: number
  fields: string[]
  /**
   * The places of the fields that were quoted, when any was (not
   * enumerable, so a record compares by its line and fields): a quoted
   * attribute cell is taken as written, its edge spaces and line breaks
   * kept, as the export quotes them.
   */
  readonly quoted?: readonly number[]
}

/** A record of fields, with the places of those that were quoted (see `CsvRecord.quoted`). */
function recordOf(line: number, fields: string[], quoted: readonly number[]): CsvRecord {
  const record: CsvRecord = { line, fields }
  if (quoted.length > 0) Object.defineProperty(record, 'quoted', { value: quoted, enumerable: false })
  return record
}

/** A record that is not well-formed CSV; the parser goes on at the next line. */
export interface CsvFault {
  line: number
  fault: string
}

export type CsvItem = CsvRecord | CsvFault

/** Input the parser cannot go on from. */
export class CsvError extends Error {
  constructor(
    readonly line: number,
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

const quoteCode = 34
const commaCode = 44
const newlineCode = 10
const returnCode = 13
const apostropheCode = 39

/**
 * An incremental parser: `push` text as it arrives and take the records it
 * completes; `end` takes the last one. Records without quotes (nearly all)
 * are split without looking at each character.
 *
 * It throws a `CsvError` where it cannot go on: a quote not closed before
 * the end of the file (all the rest would be one field), a record longer
 * than `recordCharsMax` (the same, in a file too big to hold), lines that
 * end with CR alone. Records completed before the fault are returned first;
 * the error comes with the next call.
 */
export class CsvParser {
  #text = ''
  #line = 1
  #started = false
  /** No record read yet: the first one shows how the lines end. */
  #first = true
  /** The fault found behind records returned already: thrown by the next call. */
  #stop: CsvError | undefined

  push(chunk: string): CsvItem[] {
    if (this.#stop !== undefined) throw this.#stop
    let text = chunk
    if (!this.#started && text.length > 0) {
      this.#started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    this.#text = this.#text === '' ? text : this.#text + text
    return this.#drain(false)
  }

  end(): CsvItem[] {
    if (this.#stop !== undefined) throw this.#stop
    return this.#drain(true)
  }

  /** The line the next record starts on. */
  get line(): number {
    return this.#line
  }

  #drain(final: boolean): CsvItem[] {
    const text = this.#text
    if (this.#first) this.#checkLineEnds(text)
    const items: CsvItem[] = []
    let stop: CsvError | undefined
    let pos = 0
    let quote = text.indexOf('"')
    while (pos < text.length) {
      const newline = text.indexOf('\n', pos)
      if (quote !== -1 && quote < pos) quote = text.indexOf('"', pos)
      const end = newline === -1 ? text.length : newline
      if (quote === -1 || quote > end) {
        if (newline === -1 && !final) break
        const last = end > pos && text.charCodeAt(end - 1) === returnCode ? end - 1 : end
        if (last > pos) items.push({ line: this.#line, fields: text.slice(pos, last).split(',') })
        this.#line++
        pos = end + 1
        continue
      }
      const parsed = quotedRecord(text, pos, final)
      if (parsed === undefined) break
      if ('unclosed' in parsed) {
        // Not a fault of one row: every line after the quote would be read into its field.
        const message = `the quote opened on line ${this.#line + parsed.unclosed} is not closed ` +
          'before the end of the file (everything after it would be one field)'
        stop = new CsvError(this.#line, 'record', message)
        break
      }
      items.push('fault' in parsed
        ? { line: this.#line, fault: parsed.fault }
        : recordOf(this.#line, parsed.fields, parsed.quoted))
      this.#line += parsed.lines
      pos = parsed.next
    }
    if (items.length > 0) this.#first = false
    this.#text = pos >= text.length ? '' : text.slice(pos)
    if (stop === undefined && this.#text.length > recordCharsMax) {
      const message = `the record is longer than ${recordCharsMax} characters (an unclosed quote?)`
      stop = new CsvError(this.#line, 'record', message)
    }
    if (stop === undefined) return items
    // At the end, nothing precedes an unclosed quote: earlier records were complete before.
    if (items.length === 0 || final) throw stop
    this.#stop = stop
    return items
  }

  /**
   * Refuses lines that end with CR alone (old Mac files): read as one line,
   * the header would hold every row, and the first complaint would be about
   * a column appearing twice. Looks at the text before the first LF and the
   * first quote; a CR at the very end waits for what follows it.
   */
  #checkLineEnds(text: string) {
    const cr = text.indexOf('\r')
    if (cr === -1 || cr + 1 >= text.length || text.charCodeAt(cr + 1) === newlineCode) return
    const newline = text.indexOf('\n')
    const quote = text.indexOf('"')
    if ((newline !== -1 && newline < cr) || (quote !== -1 && quote < cr)) return
    throw new CsvError(this.#line, 'record', 'lines end with CR only; use LF or CRLF')
  }
}

/** A record; or, at the end of the file, how many lines into it a quote opened that is never closed. */
type Parsed = (({ fields: string[]; quoted: number[] } | { fault: string }) & { next: number; lines: number }) | { unclosed: number }

function newlinesIn(text: string, from: number, to: number): number {
  let count = 0
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) count++
  return count
}

/**
 * One record that has a quote in it, from `start`; undefined when the text
 * ends inside it and more may come.
 */
function quotedRecord(text: string, start: number, final: boolean): Parsed | undefined {
  const fields: string[] = []
  const quoted: number[] = []
  let lines = 1
  let i = start
  const faulty = (fault: string, from: number): Parsed | undefined => {
    const newline = text.indexOf('\n', from)
    if (newline === -1 && !final) return undefined
    return { fault, next: newline === -1 ? text.length : newline + 1, lines }
  }
  for (;;) {
    if (text.charCodeAt(i) === quoteCode) {
      let value = ''
      let from = i + 1
      const opened = lines - 1
      for (;;) {
        const close = text.indexOf('"', from)
        if (close === -1) return final ? { unclosed: opened } : undefined
        value += text.slice(from, close)
        lines += newlinesIn(text, from, close)
        if (text.charCodeAt(close + 1) !== quoteCode) {
          i = close + 1
          break
        }
        value += '"'
        from = close + 2
      }
      quoted.push(fields.length)
      fields.push(value)
    } else {
      let j = i
      while (j < text.length) {
        const code = text.charCodeAt(j)
        if (code === commaCode || code === newlineCode) break
        if (code === quoteCode) {
          return faulty('a quote inside an unquoted field (quote the whole field)', j)
        }
        j++
      }
      if (j === text.length && !final) return undefined
      const endsRecord = j === text.length || text.charCodeAt(j) === newlineCode
      const last = endsRecord && j > i && text.charCodeAt(j - 1) === returnCode ? j - 1 : j
      fields.push(text.slice(i, last))
      i = j
    }
    if (i >= text.length) return final ? { fields, quoted, next: i, lines } : undefined
    const code = text.charCodeAt(i)
    if (code === commaCode) {
      i++
      continue
    }
    if (code === newlineCode) return { fields, quoted, next: i + 1, lines }
    if (code === returnCode && text.charCodeAt(i + 1) === newlineCode) {
      return { fields, quoted, next: i + 2, lines }
    }
    if (code === returnCode && i + 1 === text.length) {
      return final ? { fields, quoted, next: i + 1, lines } : undefined
    }
    return faulty('text after a closing quote (a field is either quoted whole or not at all)', i)
  }
}

// ---------------------------------------------------------------------------
// Rows

interface Layout {
  width: number
  /** Where each known column is in a row; absent columns are left out. */
  columns: Map<Column, number>
  attributes: [name: string, index: number][]
  /** The same, as plain numbers read for every row (-1: no such column). */
  id: number
  program: number
  card: number
  joinedAt: number
  profile: [column: (typeof profileColumns)[number], index: number][]
}

const profileColumns = [
  'firstName', 'lastName', 'email', 'phone', 'birthDate', 'gender', 'country',
] as const

/** The header's columns, or why it cannot be used. */
function layoutOf(fields: string[]): Layout | string {
  const columns = new Map<Column, number>()
  const attributes: [string, number][] = []
  const seen = new Set<string>()
  const byLowerName = new Map(memberColumns.map((column) => [column.toLowerCase(), column]))
  for (const [index, raw] of fields.entries()) {
    const name = unguarded(raw.trim())
    if (name === '') return `column ${index + 1} has no name`
    const column = byLowerName.get(name.toLowerCase())
    if (column === undefined) {
      const problem = attributeNameProblem(name)
      if (problem !== undefined) return `column ${index + 1}: ${problem}`
    }
    // A member column once in any case; attributes as written (an export may hold `tier` and `Tier`).
    const key = column ?? name
    if (seen.has(key)) return `column ${name} appears twice`
    seen.add(key)
    if (column === undefined) attributes.push([name, index])
    else columns.set(column, index)
  }
  for (const required of ['id', 'program'] as const) {
    if (!columns.has(required)) {
      return `the header has no ${required} column (it has ${fields.join(', ')})`
    }
  }
  const at = (column: Column) => columns.get(column) ?? -1
  const profile: Layout['profile'] = []
  for (const column of profileColumns) if (columns.has(column)) profile.push([column, columns.get(column)!])
  return {
    width: fields.length, columns, attributes,
    id: at('id'), program: at('program'), card: at('card'), joinedAt: at('joinedAt'), profile,
  }
}

/** A cell trimmed and `unguarded`, undefined when empty or when there is no such column. */
function cellAt(fields: string[], index: number): string | undefined {
  if (index < 0) return undefined
  const value = unguarded(fields[index]!.trim())
  return value === '' ? undefined : value
}

/**
 * A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR
 * first, OWASP's list), after any number of `'`: the export puts one more
 * `'` before it. Its counterpart `guardedCell` is what the import takes one
 * `'` off, so every value comes back as it was exported.
 */
const formulaCell = /^'*[=+\-@\t\r]/
const guardedCell = /^'+[=+\-@\t\r]/

/** A cell as the export had it before it put a `'` before a formula. */
function unguarded(cell: string): string {
  return cell.charCodeAt(0) === apostropheCode && guardedCell.test(cell) ? cell.slice(1) : cell
}

/** A data row as a new member, or the field at fault. */
function memberOf(layout: Layout, fields: string[], times: TimeCache, quoted?: readonly number[]): BulkMember | Omit<RowProblem, 'line'> {
  if (fields.length !== layout.width) {
    const message = `the row has ${fields.length} fields, the header ${layout.width}`
    return { field: 'row', message }
  }
  const id = cellAt(fields, layout.id)
  const program = cellAt(fields, layout.program)
  if (id === undefined) return { field: 'id', message: 'id is required' }
  if (program === undefined) return { field: 'program', message: 'program is required' }
  const member: BulkMember = { id, program }
  for (const [column, index] of layout.profile) {
    const value = cellAt(fields, index)
    if (value !== undefined) member[column] = value
  }
  const card = cellAt(fields, layout.card)
  if (card !== undefined) {
    if (!card.includes('|')) member.cards = [{ value: card }]
    else {
      const cards = card.split('|').map((value) => value.trim()).filter((v) => v !== '')
      if (cards.length > 0) member.cards = cards.map((value) => ({ value }))
    }
  }
  const joined = cellAt(fields, layout.joinedAt)
  if (joined !== undefined) {
    const joinedAt = times.of(joined)
    if (joinedAt === undefined) {
      const message = 'joinedAt must be YYYY-MM-DD or an ISO 8601 time with a zone'
      return { field: 'joinedAt', message }
    }
    member.joinedAt = joinedAt
  }
  if (layout.attributes.length > 0) {
    let attributes: Record<string, string> | undefined
    // The names passed `attributeNameProblem` with the header: none is `__proto__`.
    for (const [name, index] of layout.attributes) {
      const value = cellAt(fields, index)
      // A quoted value is taken as written: the export quotes one with spaces or line breaks at its ends.
      if (value !== undefined) (attributes ??= {})[name] = quoted?.includes(index) === true ? unguarded(fields[index]!) : value
    }
    if (attributes !== undefined) member.attributes = attributes
  }
  return member
}

const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/
const timePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/

/** Epoch ms of a calendar date (UTC midnight) or a zoned ISO time; undefined if it is neither. */
function timeOf(text: string): number | undefined {
  const day = dayPattern.exec(text)
  if (day !== null) {
    const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])]
    const time = Date.UTC(year, month - 1, date)
    const back = new Date(time)
    const real = back.getUTCMonth() === month - 1 && back.getUTCDate() === date
    return real ? time : undefined
  }
  if (!timePattern.test(text)) return undefined
  const time = Date.parse(text)
  return Number.isNaN(time) ? undefined : time
}

/** `timeOf` for join dates, remembered: a file of millions has a few thousand distinct days. */
class TimeCache {
  readonly #known = new Map<string, number | undefined>()

  of(text: string): number | undefined {
    if (this.#known.has(text)) return this.#known.get(text)
    const time = timeOf(text)
    if (this.#known.size >= timeCacheMax) this.#known.clear()
    this.#known.set(text, time)
    return time
  }
}

/**
 * The column of a field the registry names: a card by its place in `cards`
 * (the file has one column for them), an attribute as `attributes.name`.
 */
function columnOf(field: string): string {
  if (field.startsWith('cards[')) return 'card'
  return field.startsWith('attributes.') ? field.slice('attributes.'.length) : field
}

// ---------------------------------------------------------------------------
// Import

interface Enrolment {
  member: Member
  line: number
}

/**
 * One import run: the parser's records in, checked into the registry's bulk
 * load as they come, a batch written whenever `batchSize` rows have
 * gathered, and each written member queued for enrolment.
 *
 * Three stages overlap. While a batch is written, the next one is parsed
 * and checked; while batches are flushed and later ones written, the
 * members already written are enrolled, at most `enrollConcurrency` at a
 * time, from a queue that takes them as each batch is flushed. Reading waits
 * only when the batch before is not yet committed, or when more than
 * `enrollBacklogBatches` batches of members wait for enrolment (which bounds
 * the memory an import holds when the engine is the slower side).
 */
class Import {
  readonly report: ImportReport
  readonly #registry: MemberRegistry
  readonly #options: ImportOptions
  readonly #batchSize: number
  readonly #problemsMax: number
  readonly #started = performance.now()
  readonly #times = new TimeCache()
  #layout: Layout | undefined
  #session: BulkSession | undefined
  /** The line and member id of each row in the batch being gathered. */
  #lines: number[] = []
  #ids: string[] = []
  /**
   * Members of rows refused because they exist, each once, with the first
   * such row's line: enrolled at the end if no run enrolled them.
   */
  #stored = new Map<string, number>()
  /** Members whose enrolment this run tried and failed: reported once, not retried. */
  #enrollFailedIds = new Set<string>()
  /** Batches handed to the registry and maybe not yet committed: each one's commit (or failure). */
  #committing: Promise<void>[] = []
  /** Every batch handed over so far: its outcome reported. */
  #reported: Promise<void> = Promise.resolve()
  /** A batch could not be written: nothing more is. */
  #broken = false
  // Enrolment: a queue of written members, taken from `#head` on.
  readonly #enrollConcurrency: number
  readonly #backlogMax: number
  #queue: (Enrolment | undefined)[] = []
  #head = 0
  #inFlight = 0
  /** Waiting for the backlog to shrink below `#backlogMax`, or to empty out. */
  #roomWaiters: (() => void)[] = []
  #idleWaiters: (() => void)[] = []

  constructor(registry: MemberRegistry, options: ImportOptions) {
    this.#registry = registry
    this.#options = options
    this.#batchSize = Math.max(1, options.batchSize ?? batchSizeDefault)
    this.#problemsMax = options.problemsMax ?? problemsMaxDefault
    this.#enrollConcurrency = Math.max(1, options.enrollConcurrency ?? enrollConcurrencyDefault)
    this.#backlogMax = Math.max(this.#enrollConcurrency, enrollBacklogBatches * this.#batchSize)
    this.report = {
      importId: `import-${randomUUID()}`,
      rows: 0,
      imported: 0,
      rejected: 0,
      enrolled: 0,
      enrollFailed: 0,
      attributes: [],
      rejections: [],
      enrollFailures: [],
      seconds: 0,
    }
  }

  async run(source: CsvSource): Promise<ImportReport> {
    const parser = new CsvParser()
    const decoder = new TextDecoder('utf-8', { fatal: true })
    const decode = (bytes?: Uint8Array) => {
      try {
        return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true })
      } catch {
        throw new CsvError(parser.line, 'encoding', 'the file is not valid UTF-8')
      }
    }
    this.#session = await this.#registry.openBulk()
    try {
      try {
        for await (const chunk of source) {
          await this.#take(parser.push(typeof chunk === 'string' ? chunk : decode(chunk)))
          if (this.report.aborted !== undefined) break
        }
        if (this.report.aborted === undefined) {
          await this.#take([...parser.push(decode()), ...parser.end()])
        }
        if (this.#layout === undefined && this.report.aborted === undefined) {
          const message = 'the file is empty: the first line must be the header'
          this.report.aborted = { line: 1, field: 'header', message }
        }
      } catch (error) {
        if (!(error instanceof CsvError)) throw error
        this.report.aborted = { line: error.line, field: error.field, message: error.message }
      }
      // Rows read before a fault in the file are written; after a batch failed, nothing more is.
      await this.#flush()
    } finally {
      await this.#reported
      this.#session.close()
    }
    await this.#enrollmentsDone()
    if (this.report.aborted?.field !== 'batch') await this.#enrollStored()
    // Rows refused on reading and rows refused on writing arrive in two streams.
    this.report.rejections.sort((a, b) => a.line - b.line)
    this.report.enrollFailures.sort((a, b) => a.line - b.line)
    this.report.seconds = (performance.now() - this.#started) / 1000
    this.#progress()
    return this.report
  }

  async #take(items: CsvItem[]): Promise<void> {
    let first = 0
    if (this.#layout === undefined && items.length > 0) {
      this.#header(items[0]!)
      first = 1
    }
    const layout = this.#layout
    if (layout === undefined) return
    const session = this.#session!
    const programs = this.#options.programs
    for (let i = first; i < items.length; i++) {
      const item = items[i]!
      if (this.report.aborted !== undefined) return
      this.report.rows++
      if ('fault' in item) {
        this.#reject(item.line, 'row', item.fault)
        continue
      }
      const member = memberOf(layout, item.fields, this.#times, item.quoted)
      if ('message' in member) {
        this.#reject(item.line, member.field, member.message)
        continue
      }
      if (programs !== undefined && !programs.has(member.program)) {
        this.#reject(item.line, 'program', `no program ${member.program} in the active ruleset`)
        continue
      }
      session.add(member)
      this.#lines.push(item.line)
      this.#ids.push(member.id)
      if (session.size >= this.#batchSize) await this.#flush()
    }
  }

  #header(item: CsvItem) {
    const layout = 'fault' in item ? item.fault : layoutOf(item.fields)
    if (typeof layout === 'string') {
      this.report.aborted = { line: item.line, field: 'header', message: layout }
      return
    }
    this.#layout = layout
    this.report.attributes = layout.attributes.map(([name]) => name)
  }

  /**
   * Hands the gathered rows to the registry as a batch (written once the
   * batch before is committed), and returns at once, so the next batch is
   * read and checked meanwhile; waits only while two batches are already
   * waiting to be committed, or while enrolment is too far behind.
   */
  async #flush() {
    const session = this.#session!
    if (session.size === 0 || this.#broken) return
    while (this.#committing.length >= batchesWaitingMax) await this.#committing.shift()
    await this.#room()
    if (this.#broken) return
    const lines = this.#lines
    const ids = this.#ids
    this.#lines = []
    this.#ids = []
    const detail = { lines: [lines[0], lines.at(-1)] }
    const written = session.write(this.#options.actor, this.report.importId, detail)
    this.#committing.push(written.committed)
    const outcome = written.outcome.then(
      (outcome) => this.#written(lines, ids, outcome),
      (error: unknown) => this.#failed(lines, error),
    )
    this.#reported = this.#reported.then(() => outcome)
  }

  #written(lines: number[], ids: string[], outcome: BulkOutcome) {
    for (const { index, field, message } of outcome.rejected) {
      this.#reject(lines[index]!, columnOf(field), message)
      const id = ids[index]!
      if (field === 'id' && this.#options.enroll !== undefined && !this.#stored.has(id)) this.#stored.set(id, lines[index]!)
    }
    this.report.imported += outcome.created.length
    this.#progress()
    if (this.#options.enroll === undefined) return
    for (const { index, member } of outcome.created) this.#queue.push({ member, line: lines[index]! })
    this.#pump()
  }

  /** A batch was not written (none of it): the import stops there. */
  #failed(lines: number[], error: unknown) {
    this.#broken = true
    if (this.report.aborted !== undefined && this.report.aborted.field === 'batch') return
    const message = `rows from line ${lines[0]} to ${lines.at(-1)} were not written, ` +
      `nor anything after them: ${(error as Error).message}`
    // A fault in the file later on matters less than rows lost before it.
    this.report.aborted = { line: lines[0]!, field: 'batch', message }
  }

  /** Starts queued enrolments while fewer than `enrollConcurrency` are in flight. */
  #pump() {
    const enroll = this.#options.enroll!
    while (this.#inFlight < this.#enrollConcurrency && this.#head < this.#queue.length) {
      const next = this.#queue[this.#head]!
      this.#queue[this.#head++] = undefined
      this.#inFlight++
      this.#enroll(enroll, next.member, next.line)
    }
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head >= queueCompactAt) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    const backlog = this.#queue.length - this.#head
    if (backlog <= this.#backlogMax && this.#roomWaiters.length > 0) {
      for (const resolve of this.#roomWaiters.splice(0)) resolve()
    }
    if (backlog === 0 && this.#inFlight === 0 && this.#idleWaiters.length > 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve()
    }
  }

  /** Resolves once the members waiting for enrolment are few enough to read on. */
  #room(): Promise<void> {
    if (this.#queue.length - this.#head <= this.#backlogMax) return Promise.resolve()
    return new Promise((resolve) => this.#roomWaiters.push(resolve))
  }

  /**
   * Enrols the stored members of refused rows that are in no program yet:
   * a run before wrote them and stopped (or the engine refused) before their
   * enrolment. Done once this run's own enrolments are answered, for each
   * member once, and not for members whose enrolment failed in this run
   * (already reported): a member twice in the file is enrolled and counted
   * once. The enrolment's key makes it happen once however often the file
   * is imported.
   */
  async #enrollStored() {
    const send = this.#options.enroll!
    const stored = [...this.#stored].filter(([id]) => !this.#enrollFailedIds.has(id))
    this.#stored.clear()
    for (let i = 0; i < stored.length; i += this.#enrollConcurrency) {
      const chunk = stored.slice(i, i + this.#enrollConcurrency)
      await Promise.all(
        chunk.map(async ([id, line]) => {
          const member = this.#registry.get(id)
          if (member === undefined || member.status !== 'active') return
          let reply: Reply
          try {
            reply = await send({ op: 'member', account: member.account })
          } catch (error) {
            reply = { status: 'unavailable', message: (error as Error).message }
          }
          if (reply.status === 'ok') return // in a program already
          const notJoined = reply.status === 'account_not_found' || (reply.status === 'invalid_request' && reply.field === 'account')
          if (notJoined) this.#queue.push({ member, line })
          else this.#tally(reply, member, line)
        }),
      )
      this.#pump()
      await this.#enrollmentsDone()
    }
  }

  #enrollmentsDone(): Promise<void> {
    if (this.#queue.length === this.#head && this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  #enroll(enroll: NonNullable<ImportOptions['enroll']>, member: Member, line: number) {
    const command: EnrollCommand = {
      op: 'enroll',
      account: member.account,
      key: enrollKey,
      program: member.program,
      source: { channel: 'import', operator: this.#options.actor.id },
    }
    const facts = factsOf(member)
    if (facts !== undefined) command.member = facts
    let replied: Promise<Reply>
    try {
      replied = enroll(command)
    } catch (error) {
      replied = Promise.reject(error)
    }
    replied.then(
      (reply) => this.#enrolled(reply, member, line),
      (error: unknown) => this.#enrolled({ status: 'unavailable', message: (error as Error).message }, member, line),
    )
  }

  #enrolled(reply: Reply, member: Member, line: number) {
    this.#tally(reply, member, line)
    this.#inFlight--
    this.#pump()
  }

  #tally(reply: Reply, member: Member, line: number) {
    if (reply.status === 'ok' || reply.status === 'exists') this.report.enrolled++
    else {
      this.report.enrollFailed++
      this.#enrollFailedIds.add(member.id)
      if (this.report.enrollFailures.length < this.#problemsMax) {
        const failure: EnrollFailure = { line, id: member.id, status: reply.status }
        if (reply.message !== undefined) failure.message = reply.message
        this.report.enrollFailures.push(failure)
      }
    }
  }

  #reject(line: number, field: string, message: string) {
    this.report.rejected++
    if (this.report.rejections.length < this.#problemsMax) {
      this.report.rejections.push({ line, field, message })
    }
  }

  #progress() {
    const { rows, imported, rejected, enrolled, enrollFailed } = this.report
    this.#options.onProgress?.({ rows, imported, rejected, enrolled, enrollFailed })
  }
}

/** The facts the program's rules look at (birthday, country, gender, segments). */
function factsOf(member: Member): EnrollCommand['member'] {
  const { birthDate, country, gender, segments } = member
  if (birthDate === undefined && country === undefined && gender === undefined && segments.length === 0) return undefined
  const facts: NonNullable<EnrollCommand['member']> = {}
  if (birthDate !== undefined) facts.birthDate = birthDate
  if (country !== undefined) facts.country = country
  if (gender !== undefined) facts.gender = gender
  if (segments.length > 0) facts.segments = segments
  return facts
}

/**
 * Imports members from CSV text (bytes in UTF-8, or strings) as it streams
 * in, and reports what was imported, refused and enrolled.
 *
 * @example
 *   const report = await importMembersCsv(engine.members, createReadStream('members.csv'), {
 *     actor: { kind: 'admin', id: 'ops' },
 *     enroll: (command) => engine.submit(command),
 *   })
 */
export function importMembersCsv(
  registry: MemberRegistry,
  source: CsvSource,
  options: ImportOptions,
): Promise<ImportReport> {
  return new Import(registry, options).run(source)
}

// ---------------------------------------------------------------------------
// Export

/**
 * A field as CSV: after a `'` when a spreadsheet would run it as a formula
 * (see `formulaCell`), quoted when it has a comma, quote, line break or edge
 * spaces.
 */
export function csvField(text: string): string {
  const value = formulaCell.test(text) ? `'${text}` : text
  const plain = !/[",\r\n]/.test(value) && value.trim() === value
  return plain ? value : `"${value.replaceAll('"', '""')}"`
}

/** Every member in id order, a page at a time: each page is a fresh read, no snapshot held. */
function* everyMember(registry: MemberRegistry): Generator<Member[]> {
  let page = registry.list(undefined, exportPage)
  while (page.length > 0) {
    yield page
    page = registry.list(page.at(-1)!.id, exportPage)
  }
}

/**
 * Every attribute name in use, sorted, but those the registry refuses now
 * (a column name, `constructor`, a control character: stored before it
 * checked them), which an import of the export would refuse.
 */
function attributeNames(registry: MemberRegistry): string[] {
  const names = new Set<string>()
  for (const page of everyMember(registry)) {
    for (const member of page) for (const name of Object.keys(member.attributes)) names.add(name)
  }
  return [...names].filter((name) => attributeNameProblem(name) === undefined).sort()
}

function rowOf(member: Member, identifiers: Identifier[], attributes: string[]): string {
  const cards = identifiers
    .filter((identifier) => identifier.type === 'card' && identifier.status === 'active')
    .map((identifier) => identifier.value)
  const cells = [
    member.id, member.program, member.firstName, member.lastName, member.email, member.phone,
    member.birthDate, member.gender, member.country, cards.join('|'),
    new Date(member.joinedAt).toISOString(),
    // Own attributes only: `member.attributes.constructor` is a function for every member.
    ...attributes.map((name) => (Object.hasOwn(member.attributes, name) ? member.attributes[name] : undefined)),
  ]
  return `${cells.map((cell) => csvField(cell ?? '')).join(',')}\r\n`
}

/**
 * The members as CSV (CRLF line ends), in chunks of about 64 KiB, read a page
 * at a time: an export of millions holds no snapshot open and little memory.
 */
export async function* exportMembersCsv(
  registry: MemberRegistry,
  options: ExportOptions = {},
): AsyncGenerator<string> {
  const attributes = options.attributes ?? attributeNames(registry)
  let chunk = `${[...memberColumns, ...attributes].map(csvField).join(',')}\r\n`
  for (const page of everyMember(registry)) {
    for (const member of page) {
      if (member.erasedAt !== undefined) continue
      chunk += rowOf(member, registry.identifiersOf(member.id), attributes)
    }
    if (chunk.length >= exportChunkChars) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk !== '') yield chunk
}
