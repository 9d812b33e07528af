/**
 * Takes a data folder's lock (engine.test.ts races several of these for one
 * stale lock): prints `ready` once loaded, waits for a line on stdin, then
 * prints `locked` or `refused: <why>`, and holds a won lock until stdin ends.
 */
import { createInterface } from 'node:readline'
import { lockDataDir } from '../data-dir.ts'

const dir = process.argv[2]!
const lines = createInterface({ input: process.stdin })
console.log('ready')
lines.once('line', () => {
  try {
    const release = lockDataDir(dir)
    console.log('locked')
    lines.once('close', release)
  } catch (error) {
    console.log(`refused: ${(error as Error).message}`)
  }
})
