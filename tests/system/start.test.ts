/**
 * `npm start` as a user runs it: the whole system in a child process on a
 * new data folder, on free ports. It must seed the demo, print where it
 * listens, take a first transaction from the demo terminal over WebSocket,
 * a console login over REST and a gRPC balance call, then drain and exit
 * cleanly on SIGTERM; a second start on the same folder must not seed again.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as loader from '@grpc/proto-loader'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'

const root = new URL('../../', import.meta.url).pathname
const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-start-'))
/** Every child started: one left running by a failed step is killed at the end. */
const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

interface Started {
  child: ChildProcess
  output: () => string
  http: string
  ws: string
  grpc: string
}

/**
 * Awaits `work`, or fails naming the step, what the WebSocket client saw,
 * what the system answers now (is its event loop, its WebSocket server, the
 * member's shard alive?) and what it printed: a hang anywhere (start, a
 * request, the drain) says where it stopped.
 */
async function within<T>(s: { output: () => string; http?: string; ws?: string }, step: string, work: Promise<T>, ms = 25_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const client = seen.join(', ') || 'nothing'
      void probe(s).then((now) => reject(new Error(
        `${step}: no answer after ${ms} ms; the WebSocket client saw: ${client}; probes: ${now}; the system printed:\n${s.output()}`,
      )))
    }, ms)
  })
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}

async function probe(s: { http?: string; ws?: string }): Promise<string> {
  const answers: string[] = []
  const within3s = <T>(p: Promise<T>) => Promise.race([p, new Promise<string>((r) => setTimeout(() => r('no answer in 3 s'), 3000))])
  if (s.http !== undefined) {
    answers.push(`healthz ${String(await within3s(fetch(`${s.http}/healthz`).then((r) => r.status, (e: Error) => e.message)))}`)
  }
  if (s.ws !== undefined) {
    for (const frame of [{ id: 7, op: 'ping' }, { id: 8, op: 'balance', account: 'member-0001' }]) {
      const answer = new Promise<string>((resolve) => {
        const auth = 'Basic ' + Buffer.from('till-1:till-1-demo-secret').toString('base64')
        const ws = new WebSocket(s.ws!, { headers: { authorization: auth } })
        ws.on('error', (e) => resolve(e.message))
        ws.on('open', () => ws.send(JSON.stringify(frame)))
        ws.on('message', (data) => {
          resolve(String(data))
          ws.close()
        })
      })
      answers.push(`${frame.op} ${String(await within3s(answer))}`)
    }
  }
  return answers.join('; ')
}

async function start(): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts', '--data', dataDir,
    '--http-port', '0', '--ws-port', '0', '--grpc-port', '0', '--host', '127.0.0.1'], { cwd: root })
  children.push(child)
  let output = ''
  child.stdout!.on('data', (d) => (output += String(d)))
  child.stderr!.on('data', (d) => (output += String(d)))
  const deadline = Date.now() + 40_000
  while (!/gRPC\s+\S+:\d+/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const find = (pattern: RegExp) => pattern.exec(output)![1]!
  return {
    child,
    output: () => output,
    http: find(/HTTP\s+(http:\/\/\S+)/),
    ws: find(/WS\s+(ws:\/\/\S+)/),
    grpc: find(/gRPC\s+(\S+:\d+)/),
  }
}

async function stop(s: Started) {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', resolve))
  s.child.kill('SIGTERM')
  expect(await within(s, 'stop on SIGTERM', exited)).toBe(0)
  expect(s.output()).toContain('stopped cleanly')
}

/** What the client saw of the last WebSocket, for the message of a step that hangs. */
const seen: string[] = []

function firstTransaction(url: string): Promise<Record<string, unknown>> {
  const auth = 'Basic ' + Buffer.from('till-1:till-1-demo-secret').toString('base64')
  const ws = new WebSocket(url, { headers: { authorization: auth } })
  const t0 = Date.now()
  const note = (event: string) => seen.push(`${event} +${Date.now() - t0} ms`)
  seen.length = 0
  return new Promise((resolve, reject) => {
    let opened = false
    // Once open, an error (a reset) or a close before the answer is a lost connection.
    ws.on('error', (error) => {
      note(`error ${error.message}`)
      reject(opened ? new ConnectionLost(`the connection failed before the answer: ${seen.join(', ')}`) : error)
    })
    ws.on('upgrade', () => note('upgraded'))
    ws.on('open', () => {
      opened = true
      note('open')
      ws.send(JSON.stringify({
        id: 1, op: 'purchase', account: 'member-0001', key: 'till-1-0001',
        basket: { lines: [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }] },
      }), (error) => note(error === undefined || error === null ? 'sent' : `send failed: ${String(error)}`))
    })
    ws.on('close', (code) => {
      note(`closed ${code}`)
      reject(new ConnectionLost(`the connection closed before the answer: ${seen.join(', ')}`))
    })
    ws.on('message', (data) => {
      note('answered')
      resolve(JSON.parse(String(data)) as Record<string, unknown>)
      ws.close()
    })
  })
}

class ConnectionLost extends Error {}

/**
 * The purchase as a terminal makes it: a connection lost before the answer
 * is retried once on a new one, with the same key. Seen once in about 150
 * runs on a loaded machine: the socket closed (1006) 10 ms after the frame
 * was sent, probably a known bug of the uWS build in use after an
 * asynchronous upgrade (see `upgrade` in gateway/src/ws/server.ts).
 */
async function transaction(url: string): Promise<{ reply: Record<string, unknown>; resent: boolean }> {
  try {
    return { reply: await firstTransaction(url), resent: false }
  } catch (error) {
    if (!(error instanceof ConnectionLost)) throw error
    console.warn(`${error.message}; resending with the same key`)
    return { reply: await firstTransaction(url), resent: true }
  }
}

describe('npm start', () => {
  it('refuses a port in use in one line naming it, and exits 1 with nothing left running', { timeout: 60_000 }, async () => {
    // A plain listening socket stands for another process on the WebSocket port.
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const port = (holder.address() as { port: number }).port
    const folder = mkdtempSync(join(tmpdir(), 'loyalty-start-busy-'))
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts', '--data', folder, '--no-seed',
        '--http-port', '0', '--ws-port', String(port), '--grpc-port', '0', '--host', '127.0.0.1'], { cwd: root })
      children.push(child)
      let output = ''
      child.stdout!.on('data', (d) => (output += String(d)))
      child.stderr!.on('data', (d) => (output += String(d)))
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code, output).toBe(1)
      expect(output).toContain(`the WebSocket port ${port} on 127.0.0.1 is in use, or may not be bound by this user; choose another with --ws-port or LOYALTY_WS_PORT`)
      expect(output).not.toMatch(/^\s+at /m)
      expect(output).not.toContain('ready')
    } finally {
      await new Promise((resolve) => holder.close(resolve))
      rmSync(folder, { recursive: true, force: true })
    }
  })

  it('starts the whole system seeded, serves every interface, and stops cleanly', { timeout: 150_000 }, async () => {
    const s = await start()
    expect(s.output()).toContain('seeding the demo program')
    expect(s.output()).toContain('terminal till-1, secret till-1-demo-secret')
    expect(await within(s, 'GET /healthz', fetch(`${s.http}/healthz`).then((r) => r.json()))).toEqual({ status: 'ok' })

    const { reply, resent } = await within(s, 'first WebSocket purchase', transaction(s.ws))
    // 'exists' only when the lost attempt had been applied: the resend returns its result.
    expect(reply).toMatchObject({ id: 1, status: resent && reply['status'] === 'exists' ? 'exists' : 'ok', points: 129, tier: 'bronze', balance: { available: 229 } })

    const login = await within(s, 'POST /v1/session', fetch(`${s.http}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'admin-demo-password' }),
    }))
    expect(login.status).toBe(200)
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const get = (path: string) => within(s, `GET ${path}`, fetch(`${s.http}${path}`, { headers: { cookie } }).then((r) => r.json()))
    expect(await get('/v1/accounts/member-0001/balance')).toMatchObject({ status: 'ok', balance: { available: 229 } })
    // The demo members are in the registry with their cards, and the dashboard counts them.
    expect(await get('/v1/lookup?card=6001000000000001'))
      .toMatchObject({ status: 'ok', member: { id: 'member-0001' }, balance: { available: 229 } })
    expect(((await get('/v1/stats')) as { members: { total: number } }).members.total).toBe(1000)
    expect(((await get('/openapi.json')) as { openapi: string }).openapi).toMatch(/^3\./)

    const definition = loader.loadSync(join(root, 'proto/loyalty.proto'), { longs: Number, enums: String, defaults: false, oneofs: true })
    const proto = grpc.loadPackageDefinition(definition) as unknown as { loyalty: { v1: { Loyalty: grpc.ServiceClientConstructor } } }
    const client = new proto.loyalty.v1.Loyalty(s.grpc, grpc.credentials.createInsecure())
    const unauthenticated = await within(s, 'gRPC Balance', new Promise<grpc.ServiceError>((resolve) => {
      client['Balance']!({ account: 'member-0001' }, (error: grpc.ServiceError) => resolve(error))
    }))
    expect(unauthenticated.code).toBe(grpc.status.UNAUTHENTICATED)
    client.close()

    await stop(s)

    const again = await start()
    expect(again.output()).not.toContain('seeding')
    expect((await within(again, 'purchase replayed after restart', transaction(again.ws))).reply).toMatchObject({ status: 'exists', points: 129 })
    await stop(again)
  })
})
