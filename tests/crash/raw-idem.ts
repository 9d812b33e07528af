/**
 * A helper the engine does not have: lists every idempotency record of one
 * shard. LmdbStore only looks keys up one by one, so this opens the shard's
 * LMDB environment read-only with the same database name and encoding as
 * LmdbStore. Never open it while an LmdbStore of the same path is open in
 * this process (LMDB forbids two handles on one environment per process).
 *
 * @module
 */
import { open, type Key } from 'lmdb'
import type { IdemRecord } from '@loyalty/engine'

export interface IdemRow {
  account: string
  key: string
  record: IdemRecord
}

export async function readAllIdem(path: string): Promise<IdemRow[]> {
  const root = open({ path, maxDbs: 16, readOnly: true })
  try {
    const idem = root.openDB<IdemRecord, Key>({
      name: 'idem',
      sharedStructuresKey: Symbol.for('structures'),
    })
    const rows: IdemRow[] = []
    for (const { key, value } of idem.getRange({})) {
      if (!Array.isArray(key) || key.length !== 2) continue
      const [account, idemKey] = key as unknown[]
      if (typeof account !== 'string' || typeof idemKey !== 'string') continue
      rows.push({ account, key: idemKey, record: value })
    }
    return rows
  } finally {
    await root.close()
  }
}
