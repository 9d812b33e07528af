/**
 * The data folder: a manifest that fixes the shard count and format version
 * at creation, and one LMDB environment per shard under `shards/NN`.
 *
 * @module
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'

/**
 * 2: all of an account's records together under its id in one database.
 * 3: the same shards; the registry keeps identifier keys on member records
 * (its format 2, see registry/members.ts).
 * 4: one timer an account (`AccountState.wakeAt`), armed for whatever falls
 * due first (format 3 kept one for each lot date, hold and review, and an
 * engine reading format 3 would miss what format 4 no longer sets a timer
 * for); the registry's member and identifier records use shared msgpack
 * structures, which an engine reading format 3 cannot decode. Nothing is
 * converted: a format 3 account's timers still fire, and records written
 * without shared structures still decode.
 */
export const dataFormatVersion = 4

/**
 * Older formats this engine opens: the manifest is raised to the current
 * format at once, so an older engine refuses the folder from then on (it
 * could not read what is converted), and the conversion itself happens as
 * the part concerned opens, resuming if it was interrupted.
 */
const upgradableFormats: ReadonlySet<number> = new Set([2, 3])
export const manifestName = 'manifest.json'

export interface Manifest {
  product: 'loyalty-engine'
  format: number
  shards: number
  createdAt: string
}

/** A data folder that cannot be used as asked; the message says why and what to do. */
export class DataDirError extends Error {
  override name = 'DataDirError'
}

/**
 * Creates the folder (when missing or empty) or checks an existing one.
 *
 * @example
 *   const manifest = openDataDir('./data', { shards: 4 })
 */
export function openDataDir(path: string, options: { shards?: number } = {}): Manifest {
  if (!existsSync(path) || holdsOnlyCreationLeftovers(path)) return createDataDir(path, options.shards ?? 4)
  const manifestPath = join(path, manifestName)
  if (!existsSync(manifestPath)) {
    throw new DataDirError(
      `${path} is not a Loyalty Engine data folder (it has files but no ${manifestName}); ` +
        'point --data at an empty or new folder',
    )
  }
  const manifest = readManifest(manifestPath)
  if (manifest.format !== dataFormatVersion && !upgradableFormats.has(manifest.format)) {
    const upgrades = [...upgradableFormats].join(', ')
    throw new DataDirError(
      `${path} was written in data format ${manifest.format}; this engine reads format ${dataFormatVersion} ` +
        `(and upgrades format ${upgrades})`,
    )
  }
  if (options.shards !== undefined && options.shards !== manifest.shards) {
    throw new DataDirError(
      `${path} was created with ${manifest.shards} shards, not ${options.shards}; ` +
        'the shard count is fixed when a data folder is created',
    )
  }
  // Upgraded only once every check has passed: a refused folder is left as it was.
  if (manifest.format === dataFormatVersion) return manifest
  const upgraded = { ...manifest, format: dataFormatVersion }
  writeManifest(path, upgraded)
  return upgraded
}

/**
 * Empty, or what `createDataDir` leaves when it is interrupted before the
 * manifest is renamed into place (an empty `shards` folder, a partial
 * `manifest.json.new`): either way, nothing is stored yet.
 */
function holdsOnlyCreationLeftovers(path: string): boolean {
  return readdirSync(path).every(
    (name) => name === `${manifestName}.new` || (name === 'shards' && isEmptyFolder(join(path, name))),
  )
}

function isEmptyFolder(path: string): boolean {
  return statSync(path).isDirectory() && readdirSync(path).length === 0
}

function readManifest(manifestPath: string): Manifest {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(manifestPath, 'utf8'))
  } catch (error) {
    throw new DataDirError(`${manifestPath} is not valid JSON: ${(error as Error).message}`)
  }
  const m = parsed as Partial<Manifest>
  if (m.product !== 'loyalty-engine' || !Number.isInteger(m.format) || !Number.isInteger(m.shards)) {
    throw new DataDirError(`${manifestPath} is not a Loyalty Engine manifest`)
  }
  return m as Manifest
}

function createDataDir(path: string, shards: number): Manifest {
  if (!Number.isInteger(shards) || shards < 1 || shards > 256) {
    throw new DataDirError(`shards must be an integer from 1 to 256, not ${shards}`)
  }
  mkdirSync(join(path, 'shards'), { recursive: true })
  const manifest: Manifest = {
    product: 'loyalty-engine',
    format: dataFormatVersion,
    shards,
    createdAt: new Date().toISOString(),
  }
  writeManifest(path, manifest)
  return manifest
}

/** Written beside and renamed over, so a crash leaves the old manifest or the new one. */
/**
 * Replaces the manifest atomically and durably: the new file's bytes reach
 * the disk before the rename, and the rename before this returns (a power
 * loss could otherwise leave an empty manifest, or the old one after the
 * engine went on as if the new one were written).
 */
function writeManifest(path: string, manifest: Manifest) {
  const target = join(path, manifestName)
  const file = openSync(`${target}.new`, 'w')
  try {
    writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n')
    fsyncSync(file)
  } finally {
    closeSync(file)
  }
  renameSync(`${target}.new`, target)
  syncFolder(path)
}

/** Flushes a folder's entries (a rename or a new file in it) to disk. */
function syncFolder(path: string) {
  const folder = openSync(path, 'r')
  try {
    fsyncSync(folder)
  } finally {
    closeSync(folder)
  }
}

export const lockName = 'lock'

/**
 * Marks the data folder as in use by this process until the returned
 * function is called. Two engines on one folder would each cache accounts and
 * keys that the other changes (points lost or spent twice), so a second one is
 * refused, in this process or another. A lock whose process no longer runs
 * (it was killed) is taken over.
 *
 * The lock file holds the process id and, where the system tells it
 * (`/proc`), the process's start time: after a reboot or a container restart
 * another process may have the same id, and the start time tells them apart.
 * Taking over a stale lock is itself guarded (`lock.takeover`), so two
 * engines that find the same stale lock at once do not both take it.
 *
 * @example
 *   const release = lockDataDir('./data')
 */
export function lockDataDir(path: string): () => void {
  const lockPath = join(path, lockName)
  const me = `${process.pid} ${startTimeOf(process.pid) ?? ''}`.trimEnd() + '\n'
  for (let attempt = 0; ; attempt++) {
    if (createWith(lockPath, me)) break
    const text = fileText(lockPath)
    // Released meanwhile: try again.
    if (text === undefined) continue
    const holder = holderIn(text)
    // This process id in a lock this process does not hold: an earlier run with the same id (a container's).
    const held = holder?.pid === process.pid ? locksHeld.has(resolve(lockPath)) : holder !== undefined && isRunning(holder)
    if (held) {
      throw new DataDirError(
        `${path} is in use by process ${holder!.pid}${holder!.pid === process.pid ? ' (this one)' : ''}; ` +
          `stop it first (if no such process runs, delete ${lockPath})`,
      )
    }
    if (!takeOver(lockPath, text) && attempt >= takeoverAttemptsMax) {
      throw new DataDirError(`${path}: another process is taking over its stale lock; try again`)
    }
  }
  locksHeld.add(resolve(lockPath))
  return () => {
    if (!locksHeld.delete(resolve(lockPath))) return
    if (lockHolder(lockPath)?.pid === process.pid) rmSync(lockPath, { force: true })
  }
}

const takeoverAttemptsMax = 100

/**
 * Creates `path` holding `content`, unless it exists: written to a file of
 * this process's own, then linked into place, so no other process ever reads
 * it empty (`wx` creates the file first and writes it after, and a reader in
 * between took an empty lock for one cut short by a crash, so stale, and
 * took it over). False when `path` exists.
 */
function createWith(path: string, content: string): boolean {
  const own = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`
  writeFileSync(own, content, { flag: 'wx' })
  try {
    linkSync(own, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    return false
  } finally {
    rmSync(own, { force: true })
  }
}

/**
 * Removes the stale lock at `lockPath` if it is still there as it was read
 * (`stale`, its text), under `lock.takeover`: of two processes that find it
 * at once, one removes it and creates its own, and the other then finds that
 * one, held. Only a holder of the guard removes a lock, and a lock is only
 * created where none is, so a lock still holding the stale text is the stale
 * one; a lock gone meanwhile is left to whoever creates the next (removing
 * "whatever is there" could remove that one). False when another process is
 * taking over (the caller waits a little and looks again).
 */
function takeOver(lockPath: string, stale: string): boolean {
  const guard = `${lockPath}.takeover`
  if (!createWith(guard, `${process.pid}\n`)) {
    // Left by a process that died in the microseconds of its takeover: remove it.
    const guardText = fileText(guard)
    const guardHolder = guardText === undefined ? undefined : holderIn(guardText)
    if (guardText !== undefined && (guardHolder === undefined || !isRunning(guardHolder))) rmSync(guard, { force: true })
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
    return false
  }
  try {
    if (fileText(lockPath) === stale) rmSync(lockPath, { force: true })
  } finally {
    rmSync(guard, { force: true })
  }
  return true
}

/** The locks this process holds. */
const locksHeld = new Set<string>()

interface LockHolder {
  pid: number
  /** The process's start time (clock ticks since boot), when the lock recorded it. */
  startTime: string | undefined
}

/** A file's text; undefined when there is no such file. */
function fileText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** The holder a lock file's text names; undefined if it names none (a file cut short by a crash). */
function holderIn(text: string): LockHolder | undefined {
  const [pidText, startTime] = text.trim().split(' ')
  const pid = Number.parseInt(pidText ?? '', 10)
  return Number.isInteger(pid) && pid > 0 ? { pid, startTime } : undefined
}

/** The holder in a lock file; undefined if it is gone or names none. */
function lockHolder(lockPath: string): LockHolder | undefined {
  const text = fileText(lockPath)
  return text === undefined ? undefined : holderIn(text)
}

/** A process's start time from `/proc/<pid>/stat` (field 22); undefined where there is no `/proc` or no such process. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function isRunning(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // Running, but is it the process that wrote the lock, or a later one with its id?
  if (holder.startTime === undefined) return true
  const now = startTimeOf(holder.pid)
  return now === undefined || now === holder.startTime
}

/** The registry's LMDB environment: ruleset versions, quota grants (later members and cards). */
export function registryPath(dataDir: string): string {
  return join(dataDir, 'registry')
}

export function shardPath(dataDir: string, shard: number): string {
  return join(dataDir, 'shards', String(shard).padStart(2, '0'))
}
