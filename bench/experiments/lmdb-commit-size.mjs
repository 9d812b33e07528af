/**
 * What an account's write costs LMDB, by transaction size and key order: the
 * question behind the storage change the engine's throughput target needs
 * (see the README, *Why the targets are not met*). Not a benchmark scenario:
 * it writes into a copy of one shard of a seeded data folder, the way a
 * shard writes a command (its account record, a journal entry and an
 * idempotency record), and prints the cost per account.
 *
 *   npm run bench -- engine --data /tmp/b1m          # seed 1,000,000 accounts once
 *   cp -r /tmp/b1m/shards/00 /tmp/shard-copy && sync
 *   node bench/experiments/lmdb-commit-size.mjs /tmp/shard-copy 40000 [nosync]
 *
 * Each round picks that many random accounts of the shard and writes them in
 * transactions of 440 accounts (about what a shard's batch holds at
 * saturation today), 4,000, or all at once, in random or key order, each
 * transaction awaited until it is on disk (unless `nosync`). Every
 * configuration runs twice, interleaved.
 *
 * Found on 2026-11-25 (2-core VM): 440 accounts a transaction cost 67 to
 * 136 µs of CPU an account in random order and 52 µs in key order; 40,000
 * in key order 16 to 29 µs. Sorting the engine's own batches (about 440
 * commands) did not carry over: on fresh copies of one seeded folder,
 * interleaved, 97.9, 102.9 and 112.3 µs of CPU a command sorted against
 * 94.5, 94.4 and 114 unsorted. What pays is the large key-ordered
 * transaction, which needs the engine to answer from a log and write
 * accounts at checkpoints.
 */
import { open } from 'lmdb'

const [path, accountsArg, syncArg] = process.argv.slice(2)
if (path === undefined) throw new Error('usage: lmdb-commit-size.mjs <shard folder copy> [accounts a round] [nosync]')
const accounts = Number(accountsArg ?? 40_000)
const noSync = syncArg === 'nosync'
const root = open({ path, maxDbs: 16, noMemInit: true, noSync })
const records = root.openDB({ name: 'records', sharedStructuresKey: Symbol.for('structures') })
// Records are keyed [account, kind, ...]; kind 0 is the account itself (engine/src/store/lmdb-store.ts).
const ids = []
for (const key of records.getKeys({})) if (Array.isArray(key) && key[1] === 0) ids.push(key[0])
console.log(`${ids.length} accounts in ${path}; ${accounts} a round`)

let round = 0
async function run(transactionSize, sorted) {
  round++
  const picked = new Set()
  while (picked.size < accounts) picked.add(ids[Math.floor(Math.random() * ids.length)])
  const writes = [...picked].map((id) => [id, records.get([id, 0])])
  const startedAt = performance.now()
  const cpuBefore = process.cpuUsage()
  for (let start = 0; start < writes.length; start += transactionSize) {
    const transaction = writes.slice(start, start + transactionSize)
    if (sorted) transaction.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    let last
    for (const [id, account] of transaction) {
      records.put([id, 0], account)
      records.put([id, 1, 1e9 + round], { seq: 1e9 + round, at: Date.now(), kind: 'earn', points: 10, key: `x-${id}` })
      last = records.put([id, 2, `x-${round}-${id}`], { status: 'ok', at: Date.now(), entry: 1e9 + round })
    }
    await last
  }
  const cpu = process.cpuUsage(cpuBefore)
  const wallUs = ((performance.now() - startedAt) * 1000) / accounts
  const cpuUs = (cpu.user + cpu.system) / accounts
  const label = `${String(transactionSize).padStart(6)} a transaction, ${sorted ? 'key order' : 'random   '}`
  console.log(`${label}: ${wallUs.toFixed(1)} µs an account (wall), ${cpuUs.toFixed(1)} µs of CPU (all threads)`)
}

for (let repeat = 0; repeat < 2; repeat++) {
  for (const size of [440, 4000, accounts]) {
    await run(size, false)
    await run(size, true)
  }
}
await root.close()
