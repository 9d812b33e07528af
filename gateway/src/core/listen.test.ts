import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '@loyalty/engine'
import { gatewayHarness } from '../testing/harness.ts'
import { startGrpcServer } from '../grpc/server.ts'
import { createHttpApp } from '../http/app.ts'
import { startHttpServer } from '../http/server.ts'
import { startWsServer } from '../ws/server.ts'
import { ListenError, listenFailure } from './listen.ts'

const cleanups: (() => PromiseLike<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A port another process would hold: a plain listening socket. */
async function taken(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as { port: number }).port
}

/** A port free a moment ago. */
async function freePort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('listeners on a port in use', () => {
  it('each refuses to start, naming the port, as a ListenError', async () => {
    const h = await gatewayHarness()
    cleanups.push(() => h[Symbol.asyncDispose]())
    const port = await taken()
    const app = createHttpApp(h.gateway, { logger: silentLogger, ready: () => true })
    await expect(startHttpServer(app, { port, host: '127.0.0.1' })).rejects.toThrow(new ListenError(`the HTTP port ${port} on 127.0.0.1 is in use`))
    await expect(startWsServer(h.gateway, { port, host: '127.0.0.1', logger: silentLogger })).rejects.toThrow(
      new ListenError(`the WebSocket port ${port} on 127.0.0.1 is in use, or may not be bound by this user`),
    )
    await expect(startGrpcServer(h.gateway, { port, host: '127.0.0.1', logger: silentLogger })).rejects.toThrow(
      new ListenError(`the gRPC address 127.0.0.1:${port} is in use`),
    )
  })

  it('a second WebSocket server on the same port is refused, not given a share of the connections', async () => {
    const h = await gatewayHarness()
    cleanups.push(() => h[Symbol.asyncDispose]())
    // A port named, not 0: uSockets shares only a port bound by number.
    const port = await freePort()
    const first = await startWsServer(h.gateway, { port, host: '127.0.0.1', logger: silentLogger })
    cleanups.push(() => first.close(0))
    // uSockets would bind a second listener with SO_REUSEPORT, and the kernel would split the terminals between them.
    await expect(startWsServer(h.gateway, { port: first.port, host: '127.0.0.1', logger: silentLogger })).rejects.toBeInstanceOf(ListenError)
  })
})

describe('listenFailure', () => {
  it.each([
    [Object.assign(new Error('listen EADDRINUSE: address already in use'), { code: 'EADDRINUSE' }), 'the HTTP port 80 on 0.0.0.0 is in use'],
    [Object.assign(new Error('listen EACCES: permission denied'), { code: 'EACCES' }), 'the HTTP port 80 on 0.0.0.0 may not be bound by this user'],
    [new Error('No address added out of total 1 resolved errors: [listen EADDRNOTAVAIL: 10.9.9.9:80]'), 'the HTTP port 80 on 0.0.0.0: no such address on this machine'],
    [new Error('something else'), 'the HTTP port 80 on 0.0.0.0 could not be bound: something else'],
  ])('says why in words: %s', (error, said) => {
    expect(listenFailure('HTTP port 80 on 0.0.0.0', error).message).toBe(said)
  })
})
