/**
 * Goal: a present that gets no answer is sent again, with the same key, on a
 * fresh connection, and the read leaves the queue only once answered; a
 * transient answer (`overloaded`) keeps it queued too. Method: the bridge
 * against a scripted WebSocket gateway (the real one always answers, so it
 * cannot show a lost answer), the reader a fake HID device.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { startBridge } from './bridge.ts'
import { parseConfig } from './config.ts'
import type { Logger } from './logger.ts'
import { FakeHidBackend } from './testing/fake-hid.ts'
import { scannerCardNumber } from './testing/recordings.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

type Frame = Record<string, unknown>

/** A gateway that authenticates anyone and answers each present with the next scripted reply (or not at all). */
async function scriptedGateway(script: (Frame | 'silence')[]) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const presents: { connection: number; frame: Frame }[] = []
  let connections = 0
  server.on('connection', (ws) => {
    const connection = ++connections
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame
      if (frame['op'] === 'auth' || frame['op'] === 'ping') {
        return ws.send(JSON.stringify({ id: frame['id'], status: 'ok' }))
      }
      presents.push({ connection, frame })
      const reply = script.shift() ?? { status: 'ok', pushed: true }
      if (reply !== 'silence') ws.send(JSON.stringify({ id: frame['id'], ...reply }))
    })
  })
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate()
        server.close(() => resolve())
      }),
  )
  return { port: (server.address() as { port: number }).port, presents }
}

async function bridgeTo(port: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-link-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const backend = new FakeHidBackend()
  backend.plug({ vendorId: 0x0c2e, productId: 0x0b61, path: '/dev/hidraw1' })
  const config = parseConfig({
    terminal: { id: 'pos-1', secret: 'secret' },
    gateway: {
      url: `ws://127.0.0.1:${port}/`,
      requestTimeoutMs: 200,
      reconnectDelayMsMin: 20,
      reconnectDelayMsMax: 50,
    },
    queue: { dir },
    readers: [{ name: 'scanner', vendorId: '0c2e', productId: '0b61', content: 'barcode' }],
    tickMs: 5,
    pollIntervalMs: 10,
  })
  const lines: string[] = []
  const logger: Logger = {
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
  }
  const bridge = await startBridge({ config, backend, logger })
  cleanups.push(() => bridge.close())
  const deadline = Date.now() + 5000
  while (backend.device('/dev/hidraw1') === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5))
  }
  return { bridge, device: backend.device('/dev/hidraw1')!, lines }
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('delivery over a link that loses answers', () => {
  it('sends an unanswered read again with the same key on a new connection', async () => {
    const gateway = await scriptedGateway(['silence'])
    const { bridge, device } = await bridgeTo(gateway.port)
    device.replay(scannerCardNumber)
    await until(() => bridge.status().delivered === 1, 'the delivery')
    expect(gateway.presents).toHaveLength(2)
    const [lost, retried] = gateway.presents
    expect(retried!.connection).toBe(lost!.connection + 1)
    expect(retried!.frame['key']).toBe(lost!.frame['key'])
    expect(retried!.frame).toMatchObject({
      op: 'present',
      card: { type: 'card', value: '600123456789' },
      reader: 'scanner',
    })
    expect(bridge.status().queued).toBe(0)
  })

  it('keeps a read queued through overloaded answers, then delivers it', async () => {
    const gateway = await scriptedGateway([{ status: 'overloaded' }, { status: 'overloaded' }])
    const { bridge, device } = await bridgeTo(gateway.port)
    device.replay(scannerCardNumber)
    await until(() => bridge.status().delivered === 1, 'the delivery')
    expect(new Set(gateway.presents.map((p) => p.frame['key'])).size).toBe(1)
    expect(gateway.presents).toHaveLength(3)
  })

  it('drops a read the gateway refuses as invalid, and goes on with the next', async () => {
    const gateway = await scriptedGateway([
      { status: 'invalid_request', field: 'card.value', message: 'bad' },
    ])
    const { bridge, device } = await bridgeTo(gateway.port)
    device.replay(scannerCardNumber)
    device.replay(scannerCardNumber)
    await until(() => bridge.status().delivered === 1, 'the second read')
    expect(bridge.status()).toMatchObject({ dropped: 1, queued: 0 })
    expect(new Set(gateway.presents.map((p) => p.frame['key'])).size).toBe(2)
  })

  it('logs a refusal without the whole card number, even where the gateway quotes it', async () => {
    // The gateway's own words for a card value it refuses (normaliseIdentifier), as a
    // registered driver of the till's own could make it say.
    const gateway = await scriptedGateway([
      {
        status: 'invalid_request',
        field: 'card.value',
        message: '600123456789 is not a card number (6 to 32 letters or digits)',
      },
    ])
    const { bridge, device, lines } = await bridgeTo(gateway.port)
    device.replay(scannerCardNumber)
    await until(() => bridge.status().dropped === 1, 'the refusal')
    expect(lines).toContain(
      'reader scanner: the gateway refused card …6789: invalid_request card.value: …6789 is not a card number (6 to 32 letters or digits); dropped',
    )
    expect(lines.filter((l) => l.includes('600123456789'))).toEqual([])
  })
})
