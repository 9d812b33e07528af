/**
 * Goal: the console can tell whether a terminal is connected, and rotating a
 * terminal's secret or disabling it ends its open connections, so an old
 * secret is useless at once. Method: a real WebSocket server and REST app on
 * one gateway; real `ws` clients.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { silentLogger } from '@loyalty/engine'
import { createHttpApp, startHttpServer } from '../http/index.ts'
import { gatewayHarness } from '../testing/harness.ts'
import { startWsServer } from './server.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup() {
  const h = await gatewayHarness()
  const ws = await startWsServer(h.gateway, { port: 0, host: '127.0.0.1', logger: silentLogger })
  const app = createHttpApp(h.gateway, { logger: silentLogger, ready: () => true })
  const http = await startHttpServer(app, { port: 0, host: '127.0.0.1' })
  const admin = await h.engine.credentials.issueToken({ name: 'test admin', role: 'admin' })
  cleanups.push(async () => {
    await http.close()
    await ws.close()
    await h[Symbol.asyncDispose]()
  })
  const rest = async (path: string, method = 'GET') => {
    const response = await fetch(`http://127.0.0.1:${http.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin.secret}` },
    })
    return { status: response.status, body: (await response.json()) as any }
  }
  return { h, rest, url: `ws://127.0.0.1:${ws.port}/` }
}

/** Connects as a terminal with Basic auth; resolves once open, with how it later closed. */
async function connect(url: string, id: string, secret: string) {
  const socket = new WebSocket(url, {
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }))
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)))
  })
  return { socket, closed }
}

const terminalOf = (body: { terminals: { id: string }[] }, id: string) =>
  body.terminals.find((t) => t.id === id)

describe('terminal sessions', () => {
  it('shows a terminal connected while it is, and how many connections it has', async () => {
    const { h, rest, url } = await setup()
    const { id, secret } = h.terminal
    expect(terminalOf((await rest('/v1/terminals')).body, id)).toMatchObject({ connected: false, connections: 0 })
    const first = await connect(url, id, secret)
    const second = await connect(url, id, secret)
    expect(terminalOf((await rest('/v1/terminals')).body, id)).toMatchObject({ connected: true, connections: 2 })
    first.socket.close()
    await first.closed
    expect(h.gateway.connections(id)).toBe(1)
    second.socket.close()
    await second.closed
    expect(terminalOf((await rest('/v1/terminals')).body, id)).toMatchObject({ connected: false })
  })

  it('rotating the secret closes open connections; the old secret fails, the new one works', async () => {
    const { h, rest, url } = await setup()
    const { id, secret } = h.terminal
    const open = await connect(url, id, secret)
    const rotated = await rest(`/v1/terminals/${id}/rotate`, 'POST')
    expect(rotated.status).toBe(200)
    expect(rotated.body.secret).toEqual(expect.any(String))
    expect(rotated.body.secret).not.toBe(secret)
    expect(await open.closed).toEqual({ code: 1008, reason: 'terminal secret rotated' })
    await expect(connect(url, id, secret)).rejects.toThrow(/refused: 401/)
    const fresh = await connect(url, id, rotated.body.secret)
    expect(h.gateway.connections(id)).toBe(1)
    const records = h.engine.members.audit.search({ action: 'terminal.rotate' }).records
    expect(records.map((r) => r.target)).toEqual([id])
    fresh.socket.close()
    await fresh.closed
    expect((await rest('/v1/terminals/nope/rotate', 'POST')).status).toBe(404)
  })

  it('disabling a terminal closes its connections', async () => {
    const { h, rest, url } = await setup()
    const { id, secret } = h.terminal
    const open = await connect(url, id, secret)
    expect((await rest(`/v1/terminals/${id}/disable`, 'POST')).body.terminal).toMatchObject({
      disabled: true,
      connected: false,
    })
    expect(await open.closed).toEqual({ code: 1008, reason: 'terminal disabled' })
    await expect(connect(url, id, secret)).rejects.toThrow(/refused: 401/)
  })
})
