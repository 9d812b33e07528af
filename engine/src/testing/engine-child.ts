/**
 * Opens an engine on the data folder given as its argument in a process of
 * its own, says `open` on stdout, and keeps it open until it is killed (for
 * tests of two processes on one folder).
 */
import { openEngine } from '../engine.ts'
import { silentLogger } from '../logger.ts'

await openEngine({ dataDir: process.argv[2]!, workers: 1, logger: silentLogger })
process.stdout.write('open\n')
setInterval(() => {}, 60_000)
