// A worker thread that opens the registry of a data folder and resolves
// identifiers from it, for the test that registry reads work from any thread.
// Messages in: { type, value }[] (or 'close'); out: { results }.
import { parentPort, workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
const { openRegistry } = await import('../registry/registry.ts')
const registry = openRegistry(workerData.path)
parentPort.on('message', async (lookups) => {
  if (lookups === 'close') {
    await registry.close()
    parentPort.close()
    return
  }
  const results = lookups.map(({ type, value }) => {
    const found = registry.members.resolve(type, value)
    return found === undefined ? null : { member: found.member.id, status: found.identifier.status }
  })
  parentPort.postMessage({ results })
})
parentPort.postMessage('ready')
