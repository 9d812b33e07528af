/**
 * A look at an LMDB environment's file before LMDB opens it. LMDB trusts
 * its file: opened on one that is not an LMDB file at all (zeros, random
 * bytes, a file cut short), lmdb-js takes the process down with a
 * segmentation fault instead of returning an error. The two meta pages at
 * the start of the file carry a signature and the page size; checking them
 * turns the common cases (a wrong or overwritten file, a truncated copy)
 * into a clear error. Damage deeper in a file that starts well is not seen
 * here.
 *
 * @module
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { StorageError } from './store.ts'

/** `MDB_MAGIC`, at the same place in each meta page. */
const lmdbMagic = 0xbeefc0de
/**
 * lmdb-js's LMDB has a 24-byte page header (it adds the page's transaction
 * id); then the meta: magic, version, address, map size, and the free-page
 * database, whose first field holds the page size.
 */
const magicOffset = 24
const pageSizeOffset = magicOffset + 4 + 4 + 8 + 8

/**
 * Throws a StorageError saying what is wrong when the environment in `dir`
 * has a data file that LMDB would not be able to read (callers name `dir`). A missing or empty file is
 * fine: LMDB creates the environment.
 */
export function checkLmdbFile(dir: string): void {
  const path = join(dir, 'data.mdb')
  // Missing, or not a file at all: LMDB creates it or says what is wrong.
  if (!existsSync(path) || !statSync(path).isFile()) return
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    if (size === 0) return
    const first = readAt(fd, 0, 64)
    if (first.length < pageSizeOffset + 4 || first.readUInt32LE(magicOffset) !== lmdbMagic) {
      throw new StorageError(`data.mdb is not an LMDB database (it does not start with LMDB's signature)`)
    }
    const pageSize = first.readUInt32LE(pageSizeOffset)
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
      throw new StorageError(`data.mdb is damaged: its first page gives a page size of ${pageSize}`)
    }
    if (size < 2 * pageSize) {
      throw new StorageError(`data.mdb is cut short: ${size} bytes, less than its two ${pageSize}-byte meta pages`)
    }
    const second = readAt(fd, pageSize, 64)
    if (second.readUInt32LE(magicOffset) !== lmdbMagic) {
      throw new StorageError(`data.mdb is damaged: its second meta page (at byte ${pageSize}) lacks LMDB's signature`)
    }
  } finally {
    closeSync(fd)
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const bytes = Buffer.alloc(length)
  const read = readSync(fd, bytes, 0, length, position)
  return bytes.subarray(0, read)
}
