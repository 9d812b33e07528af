/**
 * The registry: one LMDB environment (`data/registry`) for low-write,
 * read-anywhere data, written only by the main thread. It holds ruleset
 * versions and quota grants, and the credentials of terminals, API tokens
 * and console users. An engine on memory storage gets a registry in a
 * temporary folder, removed when it closes.
 *
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import { checkLmdbFile } from '../store/lmdb-file.ts'
import { CredentialStore } from './credentials.ts'
import { MemberRegistry } from './members.ts'
import { SagaStore } from '../sagas.ts'
import { LmdbRulesStore, type RulesStore } from './rules-store.ts'

export interface Registry {
  readonly rules: RulesStore
  readonly credentials: CredentialStore
  readonly members: MemberRegistry
  readonly sagas: SagaStore
  close(): Promise<void>
}

/** Opens the registry at `path`, or in a temporary folder when `path` is undefined. */
export function openRegistry(path: string | undefined, clock: () => number = Date.now): Registry {
  const temporary = path === undefined ? mkdtempSync(join(tmpdir(), 'loyalty-registry-')) : undefined
  const where = path ?? temporary!
  mkdirSync(where, { recursive: true })
  checkLmdbFile(where)
  const root: RootDatabase = open({ path: where, maxDbs: 32, noMemInit: true })
  return {
    rules: new LmdbRulesStore(root),
    credentials: new CredentialStore(root),
    members: new MemberRegistry(root, clock),
    sagas: new SagaStore(root),
    async close() {
      await root.flushed
      await root.close()
      if (temporary !== undefined) rmSync(temporary, { recursive: true, force: true })
    },
  }
}
