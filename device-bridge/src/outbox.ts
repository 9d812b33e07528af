/**
 * The bridge's on-disk queue of reads not yet answered by the gateway. Every
 * read goes through it, connected or not, so a crash, a restart or a gateway
 * outage loses nothing: a read leaves the queue only once the gateway has
 * answered it, and the queue is served strictly in order, one read at a time.
 *
 * Storage is one append-only JSON-lines file, `outbox.jsonl`: an `add` line
 * per read, a `done` line per answered read, each synced to disk before the
 * call resolves. On open the file is replayed (a torn last line from a crash
 * is skipped) and rewritten with only the waiting reads; it is rewritten the
 * same way whenever answered lines dominate. The queue holds `readsMax` reads
 * at most: past that, `add` refuses and the caller reports the dropped read.
 * A lock file keeps a second bridge off the same folder.
 *
 * @module
 */
import { mkdir, open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { CardType } from './decode/result.ts'
import type { Logger } from './logger.ts'

export interface QueuedRead {
  /** The idempotency key the gateway sees; unique per read. */
  key: string
  reader: string
  card: { type: CardType; value: string }
  /** When the card was read (ms since the epoch). */
  readAt: number
}

export interface OutboxOptions {
  dir: string
  readsMax: number
  logger: Logger
}

/** Another process (a second bridge?) holds the queue folder. */
export class OutboxLockedError extends Error {
  override readonly name = 'OutboxLockedError'
}

const fileName = 'outbox.jsonl'
const lockName = 'outbox.lock'
/** Lines below which the file is never rewritten (rewriting a tiny file buys nothing). */
const compactLinesMin = 256
/**
 * The queue folders this process holds: a lock naming this process's pid
 * and not listed here was left by an earlier run that had the same pid (a
 * container starts its process as the same pid every time).
 */
const heldDirs = new Set<string>()

type Line = { add: QueuedRead } | { done: string }

export class Outbox {
  readonly #dir: string
  readonly #readsMax: number
  readonly #log: Logger
  readonly #pending: QueuedRead[]
  #file: FileHandle
  #lines: number
  /** Lines at which the next rewrite is tried (later after one failed). */
  #compactAtLines = compactLinesMin
  /** Writes run one after another, in call order. */
  #writing: Promise<void> = Promise.resolve()

  private constructor(options: OutboxOptions, pending: QueuedRead[], file: FileHandle) {
    this.#dir = options.dir
    this.#readsMax = options.readsMax
    this.#log = options.logger
    this.#pending = pending
    this.#file = file
    this.#lines = pending.length
  }

  /**
   * Opens (creating) the queue in `dir`, with the reads a previous run left waiting.
   *
   * @example
   *   const outbox = await Outbox.open({ dir: 'bridge-queue', readsMax: 1000, logger })
   *   if (!(await outbox.add(read))) logger.warn('queue full: read dropped')
   */
  static async open(options: OutboxOptions): Promise<Outbox> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 })
    await takeLock(options.dir)
    try {
      const pending = await replay(join(options.dir, fileName), options.logger)
      await rewrite(options.dir, pending)
      const file = await open(join(options.dir, fileName), 'a', 0o600)
      return new Outbox(options, pending, file)
    } catch (error) {
      await releaseLock(options.dir)
      throw error
    }
  }

  /** Reads waiting for the gateway. */
  get size(): number {
    return this.#pending.length
  }

  /** The oldest waiting read: the next to deliver. */
  head(): QueuedRead | undefined {
    return this.#pending[0]
  }

  /** Queues a read durably; false (and nothing written) when `readsMax` reads already wait. */
  async add(read: QueuedRead): Promise<boolean> {
    if (this.#pending.length >= this.#readsMax) return false
    this.#pending.push(read)
    await this.#append({ add: read })
    return true
  }

  /** Takes an answered read off the queue (it must be the head: delivery is in order). */
  async remove(key: string): Promise<void> {
    if (this.#pending[0]?.key !== key) {
      throw new Error(`outbox: ${key} is not the read at the head of the queue`)
    }
    this.#pending.shift()
    await this.#append({ done: key })
    if (this.#lines >= this.#compactAtLines && this.#lines > 2 * this.#pending.length) {
      await this.#compact()
    }
  }

  async close(): Promise<void> {
    await this.#writing.catch(() => {})
    await this.#file.close()
    await releaseLock(this.#dir)
  }

  #append(line: Line): Promise<void> {
    const write = async () => {
      await this.#file.appendFile(`${JSON.stringify(line)}\n`)
      await this.#file.datasync()
      this.#lines++
    }
    const done = this.#writing.then(write, write)
    this.#writing = done.catch(() => {})
    return done
  }

  #compact(): Promise<void> {
    const run = async () => {
      await this.#file.close()
      try {
        await rewrite(this.#dir, this.#pending)
        this.#lines = this.#pending.length
        this.#compactAtLines = compactLinesMin
      } catch (error) {
        // The file is as it was (the rewrite renames last): keep appending to it, try again later.
        this.#compactAtLines = this.#lines + compactLinesMin
        this.#log.warn(
          `queue ${this.#dir}: could not rewrite ${fileName} (${(error as Error).message}); it keeps growing until a rewrite succeeds`,
        )
      }
      this.#file = await open(join(this.#dir, fileName), 'a', 0o600)
    }
    const done = this.#writing.then(run, run)
    this.#writing = done.catch(() => {})
    return done
  }
}

/** The reads a file leaves waiting, in order. */
async function replay(path: string, logger: Logger): Promise<QueuedRead[]> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return ''
    throw error
  })
  const pending = new Map<string, QueuedRead>()
  const lines = text.split('\n')
  lines.forEach((line, index) => {
    if (line === '') return
    const parsed = parseLine(line)
    if (parsed === undefined) {
      // A crash mid-append leaves a torn last line; anything else is damage worth a warning too.
      const where = index === lines.length - 1 ? 'the unfinished last line' : `line ${index + 1}`
      logger.warn(`queue ${path}: skipped ${where}, which is not a queue record`)
      return
    }
    if ('add' in parsed) pending.set(parsed.add.key, parsed.add)
    else pending.delete(parsed.done)
  })
  return [...pending.values()]
}

function parseLine(line: string): Line | undefined {
  try {
    const value = JSON.parse(line) as Record<string, unknown>
    if (typeof value['done'] === 'string') return { done: value['done'] }
    const add = value['add'] as QueuedRead | undefined
    const valid =
      typeof add?.key === 'string' &&
      typeof add.reader === 'string' &&
      typeof add.card?.value === 'string' &&
      typeof add.card.type === 'string' &&
      typeof add.readAt === 'number'
    return valid ? { add: add! } : undefined
  } catch {
    return undefined
  }
}

/** Replaces the file with just the waiting reads: written aside, synced, then renamed over. */
async function rewrite(dir: string, pending: QueuedRead[]): Promise<void> {
  const temporary = join(dir, `${fileName}.tmp`)
  await writeFile(temporary, pending.map((read) => `${JSON.stringify({ add: read })}\n`).join(''), {
    mode: 0o600,
  })
  const handle = await open(temporary, 'r+')
  await handle.datasync()
  await handle.close()
  await rename(temporary, join(dir, fileName))
  // The rename itself reaches the disk only with the folder: until then a
  // power loss could bring back the old file, with reads already answered.
  const folder = await open(dir, 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}

async function takeLock(dir: string): Promise<void> {
  const path = join(dir, lockName)
  try {
    await writeFile(path, String(process.pid), { flag: 'wx' })
    heldDirs.add(resolve(dir))
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim())
  const earlierRun = holder === process.pid && !heldDirs.has(resolve(dir))
  if (Number.isInteger(holder) && holder > 0 && !earlierRun && alive(holder)) {
    throw new OutboxLockedError(
      `queue folder ${dir} is in use by process ${holder} (another bridge?); give each bridge its own queue.dir`,
    )
  }
  // Left by a process that is gone (or by this pid's earlier run): take it over.
  await writeFile(path, String(process.pid))
  heldDirs.add(resolve(dir))
}

async function releaseLock(dir: string): Promise<void> {
  heldDirs.delete(resolve(dir))
  await unlink(join(dir, lockName)).catch(() => {})
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
