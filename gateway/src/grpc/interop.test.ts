/**
 * Interoperability with an independent gRPC implementation: Debian's
 * python3-grpcio (C core) calls the server through stubs it generates from
 * `proto/loyalty.proto` with python3-grpc-tools (`interop_client.py`), and
 * prints what came back as JSON for the assertions here.
 *
 * Without python3 and those packages this test fails (it does not skip):
 * CI installs them with `apt-get install python3-grpcio python3-grpc-tools`.
 *
 * @module
 */
import { execFile, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '@loyalty/engine'
import { gatewayHarness } from '../testing/harness.ts'
import { loyaltyProtoPath, startGrpcServer } from './server.ts'

const clientScript = fileURLToPath(new URL('./interop_client.py', import.meta.url))

/**
 * The first interpreter that has Debian's grpc packages: `$PYTHON` if set,
 * then `python3` on the PATH, then the system one (a pyenv or venv python3
 * earlier on the PATH does not see Debian's dist-packages).
 */
function findPython(): string {
  const candidates = [process.env['PYTHON'], 'python3', '/usr/bin/python3'].filter(
    (candidate): candidate is string => candidate !== undefined && candidate !== '',
  )
  const tried: string[] = []
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import grpc, grpc_tools.protoc'], { encoding: 'utf8' })
    if (probe.status === 0) return python
    const lastLine = probe.stderr?.trim().split('\n').at(-1)
    const why = probe.error?.message ?? (lastLine || `exit ${probe.status}`)
    tried.push(`${python}: ${why}`)
  }
  throw new Error(
    'the gRPC interop test needs python3 with the grpc and grpc_tools modules; ' +
      'install them with\n' +
      '  apt-get install -y python3-grpcio python3-grpc-tools\n' +
      `tried:\n  ${tried.join('\n  ')}`,
  )
}

function runClient(python: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(python, [clientScript, ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${clientScript} failed: ${error.message}\n${stderr}`))
        else resolve(stdout)
      })
  })
}

interface PyReply {
  id?: string
  status: string
  field?: string
  message?: string
  points?: number
  balance?: { available: number; pending: number; held: number }
  tier?: string
  breakdown?: { id: string; points: number }[]
}

interface PyResults {
  enroll: PyReply
  earn: PyReply
  replay: PyReply
  insufficient: PyReply
  invalid: PyReply
  balance: PyReply
  unauthenticated: { code: string; details?: string }
  stream: PyReply[]
  /** Each BulkReply message's replies. */
  bulk: PyReply[][]
  grpcioVersion: string
  optionalStripped: boolean
}

describe('gRPC interoperability with python3-grpcio', () => {
  it('serves unary calls, the Stream and Bulk to a Python client built from the same proto', async () => {
    const python = findPython()
    await using h = await gatewayHarness()
    const listen = { port: 0, host: '127.0.0.1', logger: silentLogger }
    const server = await startGrpcServer(h.gateway, listen)
    let stdout: string
    try {
      const address = `127.0.0.1:${server.port}`
      stdout = await runClient(python, [address, h.processorToken, loyaltyProtoPath])
    } finally {
      await server.close()
    }
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as PyResults
    expect(results.grpcioVersion).toMatch(/^\d+\.\d+/)

    const enrolled = { status: 'OK', points: 100, tier: 'bronze', balance: { available: 100 } }
    expect(results.enroll).toMatchObject(enrolled)
    expect(results.enroll.breakdown).toEqual([{ id: 'bronze', points: 100 }])
    const earned = { status: 'OK', points: 250, balance: { available: 350, pending: 0, held: 0 } }
    expect(results.earn).toMatchObject(earned)
    expect(results.replay).toMatchObject({ status: 'EXISTS', points: 250 })
    expect(results.insufficient.status).toBe('INSUFFICIENT_POINTS')
    expect(results.invalid).toMatchObject({ status: 'INVALID_REQUEST', field: 'points' })
    expect(results.balance).toMatchObject({ status: 'OK', balance: { available: 350 } })
    expect(results.unauthenticated.code).toBe('UNAUTHENTICATED')
    expect(results.unauthenticated.details).toMatch(/missing credentials/)

    const stream = results.stream
    expect(stream).toHaveLength(301)
    expect(new Set(stream.map((r) => r.id)).size).toBe(301)
    const noOp = stream.find((r) => r.id === 'no-op')
    expect(noOp).toMatchObject({ status: 'INVALID_REQUEST', field: 'op' })
    const earns = stream.filter((r) => r.id!.startsWith('e'))
    expect(earns).toHaveLength(200)
    for (const reply of earns) expect(reply).toMatchObject({ status: 'OK', points: 5 })
    for (const reply of stream.filter((r) => r.id!.startsWith('b'))) expect(reply.status).toBe('OK')
    for (const account of ['py-s0', 'py-s1']) {
      const balance = await h.engine.execute({ op: 'balance', account })
      expect(balance.balance?.available).toBe(500)
    }

    // The same 301 requests (earns on other accounts), 100 to a BulkRequest.
    const bulk = results.bulk.flat()
    expect(bulk).toHaveLength(301)
    expect(new Set(bulk.map((r) => r.id)).size).toBe(301)
    // Replies completed together leave together.
    expect(Math.max(...results.bulk.map((message) => message.length))).toBeGreaterThan(1)
    expect(bulk.find((r) => r.id === 'no-op')).toMatchObject({ status: 'INVALID_REQUEST', field: 'op' })
    for (const reply of bulk.filter((r) => r.id!.startsWith('e'))) expect(reply).toMatchObject({ status: 'OK', points: 5 })
    for (const reply of bulk.filter((r) => r.id!.startsWith('b'))) expect(reply.status).toBe('OK')
    for (const account of ['py-b0', 'py-b1']) {
      const balance = await h.engine.execute({ op: 'balance', account })
      expect(balance.balance?.available).toBe(500)
    }
  })
})
