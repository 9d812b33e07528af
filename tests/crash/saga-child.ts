/**
 * Child process of the saga crash test: seeds two accounts on different
 * shards and starts a transfer. `LOYALTY_SAGA_CRASH_AFTER` makes it SIGKILL
 * itself right after the named step is durable.
 *
 * Usage: tsx saga-child.ts <dataDir> <from> <to> <points> <key>
 */
import { openEngine, silentLogger } from '@loyalty/engine'

const [dataDir, from, to, points, key] = process.argv.slice(2)
const engine = await openEngine({ dataDir: dataDir!, shards: 4, workers: 1, logger: silentLogger })
await engine.execute({ op: 'earn', account: from!, key: 'seed', points: 1000 })
await engine.execute({ op: 'earn', account: to!, key: 'seed', points: 10 })
const result = await engine.sagas.transfer({ from: from!, to: to!, points: Number(points), key: key! }, { kind: 'admin', id: 'crash-test' })
process.stdout.write(`${JSON.stringify(result)}\n`)
await engine.close()
