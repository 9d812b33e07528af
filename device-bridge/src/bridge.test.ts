/**
 * Goal: a card read at the till reaches the till's POS as its member, once,
 * in order, across gateway outages, bridge restarts and readers being
 * unplugged; garbage never reaches the gateway. Method: the bridge end to end
 * with a fake HID stack (shaped like node-hid) in front and, behind, the real
 * gateway (WebSocket server over a real engine on LMDB in a temp folder, from
 * the gateway's test harness), the POS being a real WebSocket client of the
 * paired terminal.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { silentLogger } from '@loyalty/engine'
import type { PushMessage } from '@loyalty/gateway'
import { startWsServer } from '@loyalty/gateway/ws'
// The gateway package does not export its test harness; it is test-only code shared by path.
import { gatewayHarness, type GatewayHarness } from '@loyalty/gateway/testing'
import { startBridge, type Bridge } from './bridge.ts'
import { parseConfig } from './config.ts'
import type { Logger } from './logger.ts'
import { FakeHidBackend } from './testing/fake-hid.ts'
import { typed } from './testing/keyboard-reports.ts'
import { randomReports, scannerCardNumber } from './testing/recordings.ts'

let h: GatewayHarness
const cleanups: (() => Promise<void> | void)[] = []

beforeAll(async () => {
  h = await gatewayHarness({ storage: 'lmdb' })
  const till = { kind: 'terminal' as const, id: h.terminal.id }
  const join = (key: string, card: string, firstName: string) =>
    h.gateway.execute(till, 'join', { key, program: 'demo', card, member: { firstName } })
  expect(await join('join-ada', '600123456789', 'Ada')).toMatchObject({ status: 'ok' })
  expect(await join('join-grace', '6001234567891', 'Grace')).toMatchObject({ status: 'ok' })
  expect(await join('join-tag', '04A2B3C4', 'Tag')).toMatchObject({ status: 'ok' })
})
afterAll(async () => {
  await h[Symbol.asyncDispose]()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function gatewayServer(port = 0) {
  const server = await startWsServer(h.gateway, { port, host: '127.0.0.1', logger: silentLogger })
  // Closing a uWS server twice is not safe: once, whether by the test or by the cleanup.
  let closing: Promise<void> | undefined
  const close = (drainMs?: number) => (closing ??= server.close(drainMs ?? 100))
  cleanups.push(() => close())
  return { ...server, port: server.port, close }
}

/** The till's POS: a WebSocket as the terminal, collecting the pushes it gets. */
async function pos(port: number) {
  const authorization = `Basic ${Buffer.from(`${h.terminal.id}:${h.terminal.secret}`).toString('base64')}`
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { authorization } })
  const pushes: Record<string, unknown>[] = []
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>
    if (frame['push'] !== undefined) pushes.push(frame)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  cleanups.push(() => ws.close())
  return pushes
}

function recordingLogger() {
  const lines: string[] = []
  const logger: Logger = {
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(`warning: ${m}`),
    error: (m) => void lines.push(`error: ${m}`),
  }
  return { logger, lines }
}

function queueDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-e2e-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface BridgeSetup {
  port: number
  dir?: string
  backend?: FakeHidBackend
  readers?: Record<string, unknown>[]
  secret?: string
  statusIntervalMs?: number
}

async function bridge(setup: BridgeSetup) {
  const backend = setup.backend ?? new FakeHidBackend()
  const { logger, lines } = recordingLogger()
  const config = parseConfig({
    name: 'till-1 readers',
    terminal: { id: h.terminal.id, secret: setup.secret ?? h.terminal.secret },
    gateway: {
      url: `ws://127.0.0.1:${setup.port}/`,
      reconnectDelayMsMin: 20,
      reconnectDelayMsMax: 100,
      requestTimeoutMs: 2000,
    },
    queue: { dir: setup.dir ?? queueDir() },
    readers: setup.readers ?? [
      { name: 'scanner', vendorId: '0c2e', productId: '0b61', content: 'auto' },
    ],
    tickMs: 5,
    pollIntervalMs: 20,
    statusIntervalMs: setup.statusIntervalMs ?? 60_000,
  })
  const running: Bridge = await startBridge({ config, backend, logger })
  let closed = false
  const close = async () => {
    if (!closed) await running.close()
    closed = true
  }
  cleanups.push(close)
  return { bridge: running, backend, lines, close }
}

async function until<T>(
  get: () => T | undefined | false,
  what: string | (() => string),
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = get()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const scanner = {
  vendorId: 0x0c2e,
  productId: 0x0b61,
  path: '/dev/hidraw4',
  product: 'Scanner',
  usagePage: 1,
  usage: 6,
}

describe('device bridge to gateway', () => {
  it('delivers a scanned card to the paired POS as its member', async () => {
    const server = await gatewayServer()
    const pushes = await pos(server.port)
    const { bridge: b, backend, lines } = await bridge({ port: server.port })
    backend.plug(scanner)
    const device = await until(() => backend.device(scanner.path), 'the scanner to be opened')
    await until(() => b.status().gateway === 'ready' || undefined, 'the gateway connection')
    device.replay(scannerCardNumber)
    const push = await until(() => pushes[0], 'the push')
    expect(push).toMatchObject({
      push: 'card',
      status: 'ok',
      reader: 'scanner',
      card: { type: 'card', value: '600123456789' },
      member: { firstName: 'Ada', status: 'active' },
      balance: { available: 100 },
      tier: 'bronze',
    })
    expect(typeof push['key']).toBe('string')
    expect(typeof push['readAt']).toBe('number')
    await until(() => b.status().delivered === 1, 'the delivery to be counted')
    expect(b.status()).toMatchObject({
      queued: 0,
      dropped: 0,
      readers: [{ name: 'scanner', open: true, path: scanner.path }],
    })
    expect(lines).toContain('reader scanner: card …6789: member found')
    // No log line carries a whole card number.
    expect(lines.some((l) => l.includes('600123456789'))).toBe(false)
  })

  it('queues reads while the gateway is down, across a bridge restart, and delivers each once, in order', async () => {
    const probe = await gatewayServer()
    const port = probe.port
    await probe.close(0)
    const dir = queueDir()
    const backend = new FakeHidBackend()
    backend.plug(scanner)
    const first = await bridge({ port, dir, backend })
    const device = await until(() => backend.device(scanner.path), 'the scanner to be opened')
    device.replay(typed('600123456789\n'))
    device.replay(typed('6001234567891\n'))
    await until(() => first.bridge.status().queued === 2, 'two reads queued')
    expect(first.lines.some((l) => /cannot reach the gateway .*ECONNREFUSED/.test(l))).toBe(true)
    await first.close()
    // A new bridge process on the same queue, the reader plugged, one more read while still offline.
    const second = await bridge({ port, dir, backend })
    expect(second.bridge.status().queued).toBe(2)
    const again = await until(() => backend.device(scanner.path), 'the scanner to be reopened')
    again.replay(typed('999999999\n'))
    await until(() => second.bridge.status().queued === 3, 'three reads queued')
    // The gateway comes back on its port. (Pushes are watched at the gateway: the bridge may well
    // deliver before a POS could connect, and what is checked here is what the gateway was asked.)
    const pushes: PushMessage[] = []
    cleanups.push(h.gateway.onPush((_, message) => pushes.push(message) < 0))
    await gatewayServer(port)
    await until(
      () => pushes.length === 3 || undefined,
      () => `three pushes; bridge said:\n${second.lines.join('\n')}`,
    )
    expect(
      pushes.map((p) => [
        p['status'],
        (p['member'] as { firstName?: string } | undefined)?.firstName,
      ]),
    ).toEqual([
      ['ok', 'Ada'],
      ['ok', 'Grace'],
      ['account_not_found', undefined],
    ])
    await until(() => second.bridge.status().queued === 0, 'an empty queue')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(pushes).toHaveLength(3)
  })

  it('takes a read the gateway already answered off the queue without a second push', async () => {
    const server = await gatewayServer()
    const pushes = await pos(server.port)
    const dir = queueDir()
    // The bridge delivered this read, then died before it could note the answer.
    const read = {
      key: 'lost-answer-1',
      reader: 'scanner',
      card: { type: 'card', value: '600123456789' },
      readAt: Date.now(),
    }
    const device = new WebSocket(`ws://127.0.0.1:${server.port}/`)
    await new Promise((resolve) => device.once('open', resolve))
    cleanups.push(() => device.close())
    const replies: Record<string, unknown>[] = []
    device.on('message', (data) =>
      replies.push(JSON.parse(String(data)) as Record<string, unknown>),
    )
    device.send(
      JSON.stringify({
        id: 1,
        op: 'auth',
        terminal: h.terminal.id,
        secret: h.terminal.secret,
        device: 'old bridge',
      }),
    )
    await until(() => replies[0], 'auth')
    device.send(JSON.stringify({ id: 2, op: 'present', ...read }))
    await until(() => pushes.length === 1 || undefined, 'the first push')
    writeFileSync(join(dir, 'outbox.jsonl'), `${JSON.stringify({ add: read })}\n`)
    const { bridge: b, lines } = await bridge({ port: server.port, dir })
    await until(() => b.status().delivered === 1, 'the replay to be answered')
    expect(b.status().queued).toBe(0)
    expect(lines).toContain('reader scanner: card …6789: already delivered')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(pushes).toHaveLength(1)
  })

  it('reopens a reader that is unplugged and plugged back in, without a restart', async () => {
    const server = await gatewayServer()
    const pushes = await pos(server.port)
    const { bridge: b, backend, lines } = await bridge({ port: server.port })
    backend.plug(scanner)
    await until(() => backend.device(scanner.path), 'the scanner to be opened')
    backend.unplug(scanner.path)
    await until(() => !b.status().readers[0]!.open || undefined, 'the reader to be closed')
    expect(
      lines.some((l) =>
        /reader scanner: \/dev\/hidraw4 stopped \(could not read from HID device\): unplugged\?/.test(
          l,
        ),
      ),
    ).toBe(true)
    // Plugged into another port: another hidraw node.
    backend.plug({ ...scanner, path: '/dev/hidraw5' })
    const device = await until(() => backend.device('/dev/hidraw5'), 'the scanner to be reopened')
    expect(b.status().readers[0]).toEqual({ name: 'scanner', open: true, path: '/dev/hidraw5' })
    device.replay(scannerCardNumber)
    await until(() => pushes[0], 'the push')
    expect(pushes[0]).toMatchObject({ status: 'ok', member: { firstName: 'Ada' } })
  })

  it('delivers a card read just before its reader was unplugged', async () => {
    const server = await gatewayServer()
    const pushes = await pos(server.port)
    const { bridge: b, backend, lines } = await bridge({ port: server.port })
    backend.plug(scanner)
    const device = await until(() => backend.device(scanner.path), 'the scanner to be opened')
    // The card, then the unplug, both before the bridge's next tick.
    device.replay(scannerCardNumber)
    backend.unplug(scanner.path)
    await until(() => pushes[0], () => `the push; the bridge said:\n${lines.join('\n')}`)
    expect(pushes[0]).toMatchObject({ status: 'ok', member: { firstName: 'Ada' } })
    expect(b.status().readers[0]!.open).toBe(false)
    expect(lines.some((l) => /reader scanner: \/dev\/hidraw4 stopped/.test(l))).toBe(true)
  })

  it('says once why a reader cannot be opened, and opens it once it can', async () => {
    const server = await gatewayServer()
    const backend = new FakeHidBackend()
    backend.plug(scanner)
    backend.refusals.set(scanner.path, new Error(`cannot open device with path ${scanner.path}`))
    const { bridge: b, lines } = await bridge({ port: server.port, backend })
    await until(() => backend.enumerations >= 4 || undefined, 'a few polls')
    const complaints = lines.filter((l) =>
      l.startsWith('error: reader scanner: cannot open 0c2e:0b61 (Scanner) at /dev/hidraw4'),
    )
    expect(complaints).toHaveLength(1)
    backend.refusals.clear()
    await until(() => b.status().readers[0]!.open || undefined, 'the reader to open')
  })

  it('reports garbage and half swipes and sends none of it to the gateway', async () => {
    const server = await gatewayServer()
    const pushes = await pos(server.port)
    const { bridge: b, backend, lines } = await bridge({ port: server.port })
    backend.plug(scanner)
    const device = await until(() => backend.device(scanner.path), 'the scanner to be opened')
    device.replay(typed('%B4111111111111111^LOVELACE/ADA^27\n'))
    device.replay(typed(';4111111111111112=2712101?\n'))
    device.replay(randomReports(300, 8))
    // The noise's last line has no Enter: it is dropped once idle for idleTimeoutMs (500 ms).
    await until(
      () => b.status().dropped >= 4 || undefined,
      () => `the garbage to be dropped:\n${lines.join('\n')}`,
    )
    expect(pushes).toHaveLength(0)
    expect(b.status()).toMatchObject({ delivered: 0, queued: 0 })
    expect(lines.some((l) => /dropped unreadable input: track 1 has no end sentinel/.test(l))).toBe(
      true,
    )
    expect(
      lines.some((l) => /dropped unreadable input: the card number fails the Luhn check/.test(l)),
    ).toBe(true)
  })

  it("keeps reads queued while the gateway refuses the terminal's secret, and says what to check", async () => {
    const server = await gatewayServer()
    const backend = new FakeHidBackend()
    backend.plug(scanner)
    const { bridge: b, lines } = await bridge({
      port: server.port,
      backend,
      secret: 'not-the-secret-0123456789',
      statusIntervalMs: 100,
    })
    const device = await until(() => backend.device(scanner.path), 'the scanner to be opened')
    device.replay(scannerCardNumber)
    const refusal = await until(() => {
      const at = lines.findIndex((l) => /refused terminal pos-1: check terminal.id and the secret/.test(l))
      return at >= 0 && at
    }, 'the refusal')
    expect(b.status()).toMatchObject({ queued: 1, delivered: 0 })
    // The first status line after the refusal (one printed before it cannot name it yet).
    const status = await until(
      () => lines.slice(refusal + 1).find((l) => l.startsWith('status: ')),
      'a status line after the refusal',
    )
    expect(status).toMatch(
      /^status: readers 1\/1 open; gateway unreachable for \d+ s \(the gateway refused terminal pos-1: .*\); 1 queued; 0 delivered, 0 dropped since start$/,
    )
  })
})
