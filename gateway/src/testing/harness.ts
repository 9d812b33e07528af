/**
 * A gateway over a real engine for tests: memory storage (or LMDB in a temp
 * folder), the demo program active, and one credential of each kind issued.
 * `await using h = await gatewayHarness()`; everything is closed on dispose.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { demoRuleset, openEngine, silentLogger, type Engine } from '@loyalty/engine'
import { Gateway } from '../core/gateway.ts'

export interface GatewayHarness extends AsyncDisposable {
  engine: Engine
  gateway: Gateway
  terminal: { id: string; secret: string; store: string }
  /** A processor token, `Authorization: Bearer <token>`. */
  processorToken: string
  partnerToken: string
  admin: { username: string; password: string }
}

export async function gatewayHarness(options: { storage?: 'memory' | 'lmdb' } = {}): Promise<GatewayHarness> {
  const storage = options.storage ?? 'memory'
  const dataDir = storage === 'lmdb' ? mkdtempSync(join(tmpdir(), 'loyalty-gw-')) : undefined
  const engine = await openEngine({ storage, dataDir, shards: 2, workers: storage === 'lmdb' ? 1 : 0, logger: silentLogger })
  const published = await engine.rules.publish(demoRuleset, { activate: true })
  if (!published.ok) throw new Error('the demo ruleset does not validate')
  const terminal = { id: 'pos-1', secret: 'pos-1-secret-0123456789', store: 'store-1' }
  await engine.credentials.issueTerminal({ id: terminal.id, name: 'Till 1', store: terminal.store }, terminal.secret)
  const processor = await engine.credentials.issueToken({ name: 'Processor', role: 'processor' })
  const partner = await engine.credentials.issueToken({ name: 'Partner', role: 'partner' })
  const admin = { username: 'admin', password: 'correct horse battery staple' }
  await engine.credentials.addUser({ username: admin.username, role: 'admin' }, admin.password)
  return {
    engine,
    gateway: new Gateway(engine),
    terminal,
    processorToken: processor.secret,
    partnerToken: partner.secret,
    admin,
    async [Symbol.asyncDispose]() {
      await engine.close()
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
