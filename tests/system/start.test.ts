/**
 * `npm start` as a user runs it: the whole system in a child process on a
 * new data folder, on free ports. It must seed the demo, print where it
 * listens, take a first transaction from the demo terminal over WebSocket,
 * a console login over REST and a gRPC balance call, then drain and exit
 * cleanly on SIGTERM; a second start on the same folder must not seed again.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as loader from '@grpc/proto-loader'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'

const root = new URL('../../', import.meta.url).pathname
const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-start-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

interface Started {
  child: ChildProcess
  output: () => string
  http: string
  ws: string
  grpc: string
}

async function start(): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts', '--data', dataDir,
    '--http-port', '0', '--ws-port', '0', '--grpc-port', '0', '--host', '127.0.0.1'], { cwd: root })
  let output = ''
  child.stdout!.on('data', (d) => (output += String(d)))
  child.stderr!.on('data', (d) => (output += String(d)))
  const deadline = Date.now() + 60_000
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
  expect(await exited).toBe(0)
  expect(s.output()).toContain('stopped cleanly')
}

function firstTransaction(url: string): Promise<Record<string, unknown>> {
  const auth = 'Basic ' + Buffer.from('till-1:till-1-demo-secret').toString('base64')
  const ws = new WebSocket(url, { headers: { authorization: auth } })
  return new Promise((resolve, reject) => {
    ws.on('error', reject)
    ws.on('open', () => ws.send(JSON.stringify({
      id: 1, op: 'purchase', account: 'member-0001', key: 'till-1-0001',
      basket: { lines: [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }] },
    })))
    ws.on('message', (data) => {
      resolve(JSON.parse(String(data)) as Record<string, unknown>)
      ws.close()
    })
  })
}

describe('npm start', () => {
  it('starts the whole system seeded, serves every interface, and stops cleanly', async () => {
    const s = await start()
    expect(s.output()).toContain('seeding the demo program')
    expect(s.output()).toContain('terminal till-1, secret till-1-demo-secret')
    expect(await (await fetch(`${s.http}/healthz`)).json()).toEqual({ status: 'ok' })

    const reply = await firstTransaction(s.ws)
    expect(reply).toMatchObject({ id: 1, status: 'ok', points: 129, tier: 'bronze', balance: { available: 229 } })

    const login = await fetch(`${s.http}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'admin-demo-password' }),
    })
    expect(login.status).toBe(200)
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const balance = await fetch(`${s.http}/v1/accounts/member-0001/balance`, { headers: { cookie } })
    expect(await balance.json()).toMatchObject({ status: 'ok', balance: { available: 229 } })
    // The demo members are in the registry with their cards, and the dashboard counts them.
    const found = await fetch(`${s.http}/v1/lookup?card=6001000000000001`, { headers: { cookie } })
    expect(await found.json()).toMatchObject({ status: 'ok', member: { id: 'member-0001' }, balance: { available: 229 } })
    const stats = (await (await fetch(`${s.http}/v1/stats`, { headers: { cookie } })).json()) as { members: { total: number } }
    expect(stats.members.total).toBe(1000)
    const openapi = (await (await fetch(`${s.http}/openapi.json`)).json()) as { openapi: string }
    expect(openapi.openapi).toMatch(/^3\./)

    const definition = loader.loadSync(join(root, 'proto/loyalty.proto'), { longs: Number, enums: String, defaults: false, oneofs: true })
    const proto = grpc.loadPackageDefinition(definition) as unknown as { loyalty: { v1: { Loyalty: grpc.ServiceClientConstructor } } }
    const client = new proto.loyalty.v1.Loyalty(s.grpc, grpc.credentials.createInsecure())
    const unauthenticated = await new Promise<grpc.ServiceError>((resolve) => {
      client['Balance']!({ account: 'member-0001' }, (error: grpc.ServiceError) => resolve(error))
    })
    expect(unauthenticated.code).toBe(grpc.status.UNAUTHENTICATED)
    client.close()

    await stop(s)

    const again = await start()
    expect(again.output()).not.toContain('seeding')
    expect(await firstTransaction(again.ws)).toMatchObject({ status: 'exists', points: 129 })
    await stop(again)
  })
})
