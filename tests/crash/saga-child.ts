/**
 * Child process of the saga crash tests. `LOYALTY_SAGA_CRASH_AFTER` makes it
 * SIGKILL itself right after the named step is durable.
 *
 * Usage: tsx saga-child.ts transfer <dataDir> <from> <to> <points> <key>
 *        tsx saga-child.ts merge <dataDir> <from> <into>
 *        tsx saga-child.ts link <dataDir> <member> <master>
 *        tsx saga-child.ts return-setup <dataDir> <member> <master>
 *        tsx saga-child.ts return <dataDir> <member> <master>
 *
 * `return-setup` links the member, which bought item `p1` for 500 points
 * before, to the household and spends all of the pool; `return` then
 * returns `p1` (key `ret`), which the pool has nothing to pay for.
 */
import { openEngine, silentLogger } from '@loyalty/engine'

const [mode, dataDir, a, b, points, key] = process.argv.slice(2)
const actor = { kind: 'admin', id: 'crash-test' }
const engine = await openEngine({ dataDir: dataDir!, shards: 4, workers: 1, logger: silentLogger })
if (mode === 'merge' || mode === 'link' || mode === 'return-setup') {
  for (const [id, card] of [[a!, 'CARDFROM1'], [b!, 'CARDINTO1']] as const) {
    if (engine.members.get(id) === undefined) await engine.members.create({ id, program: 'demo', cards: [{ value: card }] }, actor)
  }
}
if (mode !== 'return') {
  await engine.execute({ op: 'earn', account: a!, key: 'seed', points: 1000 })
  await engine.execute({ op: 'earn', account: b!, key: 'seed', points: 10 })
}
let result: unknown
if (mode === 'return-setup') {
  await engine.execute({ op: 'earn', account: a!, key: 'tv', points: 500, ref: 'p1' })
  await engine.sagas.linkHousehold(a!, b!, actor)
  const pool = (await engine.execute({ op: 'balance', account: b! })).balance!.available
  result = await engine.execute({ op: 'redeem', account: b!, key: 'spend', points: pool })
} else if (mode === 'return') {
  result = await engine.execute({ op: 'reverse', account: a!, key: 'ret', ref: 'p1' })
} else {
  result = mode === 'merge'
    ? await engine.sagas.merge(a!, b!, actor)
    : mode === 'link'
      ? await engine.sagas.linkHousehold(a!, b!, actor)
      : await engine.sagas.transfer({ from: a!, to: b!, points: Number(points), key: key! }, actor)
}
process.stdout.write(`${JSON.stringify(result)}\n`)
await engine.close()
