/**
 * Child process of the saga crash tests. `LOYALTY_SAGA_CRASH_AFTER` makes it
 * SIGKILL itself right after the named step is durable.
 *
 * Usage: tsx saga-child.ts transfer <dataDir> <from> <to> <points> <key>
 *        tsx saga-child.ts merge <dataDir> <from> <into>
 *        tsx saga-child.ts link <dataDir> <member> <master>
 */
import { openEngine, silentLogger } from '@loyalty/engine'

const [mode, dataDir, a, b, points, key] = process.argv.slice(2)
const actor = { kind: 'admin', id: 'crash-test' }
const engine = await openEngine({ dataDir: dataDir!, shards: 4, workers: 1, logger: silentLogger })
if (mode === 'merge' || mode === 'link') {
  for (const [id, card] of [[a!, 'CARDFROM1'], [b!, 'CARDINTO1']] as const) {
    if (engine.members.get(id) === undefined) await engine.members.create({ id, program: 'demo', cards: [{ value: card }] }, actor)
  }
}
await engine.execute({ op: 'earn', account: a!, key: 'seed', points: 1000 })
await engine.execute({ op: 'earn', account: b!, key: 'seed', points: 10 })
const result = mode === 'merge'
  ? await engine.sagas.merge(a!, b!, actor)
  : mode === 'link'
    ? await engine.sagas.linkHousehold(a!, b!, actor)
    : await engine.sagas.transfer({ from: a!, to: b!, points: Number(points), key: key! }, actor)
process.stdout.write(`${JSON.stringify(result)}\n`)
await engine.close()
