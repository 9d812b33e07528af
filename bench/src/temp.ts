/**
 * Temporary data folders of a run, tracked so that an interrupted run (Ctrl-C,
 * SIGTERM) removes them too: a scenario's `finally` removes its folder when
 * the run ends or fails, but a signal ends the process without running it.
 * `--data` folders are the caller's and are never tracked here.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const folders = new Set<string>()

/** Makes a new folder under the system's temporary folder (`prefix` + random) and tracks it. */
export function temporaryFolder(prefix: string): string {
  const path = mkdtempSync(join(tmpdir(), prefix))
  folders.add(path)
  return path
}

/** Removes one tracked folder (or any folder) and stops tracking it. */
export function removeTemporaryFolder(path: string): void {
  // Retries: an engine's threads may still be writing in it when a signal comes.
  rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
  folders.delete(path)
}

/** The tracked folders not yet removed. */
export function temporaryFolders(): string[] {
  return [...folders]
}

/** Removes every tracked folder; returns those removed. Synchronous, for signal handlers. */
export function removeTemporaryFolders(): string[] {
  const removed: string[] = []
  for (const path of [...folders]) {
    try {
      removeTemporaryFolder(path)
      removed.push(path)
    } catch {
      // Left for the caller to report: it is still tracked.
    }
  }
  return removed
}

/** Run by `removeAgainAfterExit`'s helper: argv is the pid to outlive, then the folders. */
const sweeper = `
const [pid, ...paths] = process.argv.slice(1)
const { rmSync } = require('node:fs')
const until = Date.now() + 60000
const alive = () => { try { process.kill(Number(pid), 0); return true } catch { return false } }
const sweep = () => { for (const path of paths) rmSync(path, { recursive: true, force: true, maxRetries: 5 }) }
const wait = () => (alive() && Date.now() < until ? setTimeout(wait, 50) : sweep())
wait()
`

/**
 * Removes the tracked folders again once this process has ended, from a
 * detached helper process: when a signal ends a run while the engine is
 * opening, a shard's thread may create its folder again after
 * `removeTemporaryFolders` (the threads run until the process dies).
 */
export function removeAgainAfterExit(): void {
  const paths = [...folders]
  if (paths.length === 0) return
  try {
    const helper = spawn(process.execPath, ['-e', sweeper, String(process.pid), ...paths], {
      detached: true,
      stdio: 'ignore',
    })
    helper.on('error', () => {})
    helper.unref()
  } catch {
    // Best effort: the synchronous removal has run already.
  }
}
