/**
 * `npm start`: the whole system in one process. Opens the engine on a data
 * folder (created when missing), seeds a demo when the folder is new, and
 * serves POS terminals (WebSocket), processors (gRPC) and e-shops, partners
 * and the console (HTTP). SIGTERM or Ctrl-C stops taking requests, drains
 * those in flight, flushes and exits.
 *
 * Flags (or environment): --data DIR (LOYALTY_DATA, default ./data),
 * --shards N (LOYALTY_SHARDS, new folders only), --workers N (LOYALTY_WORKERS),
 * --http-port (LOYALTY_HTTP_PORT, 8080), --ws-port (LOYALTY_WS_PORT, 8081),
 * --grpc-port (LOYALTY_GRPC_PORT, 50051), --host (LOYALTY_HOST, 0.0.0.0),
 * --tls-cert/--tls-key (LOYALTY_TLS_CERT/KEY: PEM files, gRPC over TLS),
 * --no-seed (LOYALTY_SEED=0).
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DataDirError, openEngine, stderrLogger } from '@loyalty/engine'
import { Gateway } from './core/gateway.ts'
import { ListenError } from './core/listen.ts'
import { startGrpcServer } from './grpc/server.ts'
import { createHttpApp } from './http/app.ts'
import { startHttpServer } from './http/server.ts'
import { seedDemo } from './seed.ts'
import { startWsServer } from './ws/server.ts'

const log = stderrLogger

function settings() {
  const env = process.env
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: env['LOYALTY_DATA'] ?? './data' },
      shards: { type: 'string', default: env['LOYALTY_SHARDS'] },
      workers: { type: 'string', default: env['LOYALTY_WORKERS'] },
      host: { type: 'string', default: env['LOYALTY_HOST'] ?? '0.0.0.0' },
      'http-port': { type: 'string', default: env['LOYALTY_HTTP_PORT'] ?? '8080' },
      'ws-port': { type: 'string', default: env['LOYALTY_WS_PORT'] ?? '8081' },
      'grpc-port': { type: 'string', default: env['LOYALTY_GRPC_PORT'] ?? '50051' },
      'tls-cert': { type: 'string', default: env['LOYALTY_TLS_CERT'] },
      'tls-key': { type: 'string', default: env['LOYALTY_TLS_KEY'] },
      'no-seed': { type: 'boolean', default: env['LOYALTY_SEED'] === '0' },
    },
  })
  const whole = (name: string, text: string | undefined, max = Number.MAX_SAFE_INTEGER) => {
    if (text === undefined) return undefined
    const n = Number(text)
    if (!Number.isInteger(n) || n < 0 || n > max) throw new DataDirError(`--${name} must be a whole number up to ${max}, not "${text}"`)
    return n
  }
  const cert = values['tls-cert']
  const key = values['tls-key']
  if ((cert === undefined) !== (key === undefined)) throw new DataDirError('--tls-cert and --tls-key go together')
  return {
    dataDir: resolve(values.data!),
    shards: whole('shards', values.shards),
    workers: whole('workers', values.workers),
    host: values.host!,
    httpPort: whole('http-port', values['http-port'], 65535)!,
    wsPort: whole('ws-port', values['ws-port'], 65535)!,
    grpcPort: whole('grpc-port', values['grpc-port'], 65535)!,
    tls: cert === undefined ? undefined : { cert: readFileSync(cert), key: readFileSync(key!) },
    seed: !values['no-seed'],
  }
}

async function main() {
  const s = settings()
  const engine = await openEngine({ dataDir: s.dataDir, shards: s.shards, workers: s.workers, logger: log })
  const seeded = s.seed ? await seedDemo(engine, log) : undefined
  const gateway = new Gateway(engine)
  let ready = false
  const consoleDir = new URL('../../admin-ui/dist', import.meta.url).pathname
  const app = createHttpApp(gateway, {
    logger: log,
    ready: () => ready,
    ...(existsSync(consoleDir) ? { consoleDir } : {}),
  })
  const started: { close(): Promise<void> }[] = []
  const listening = async <T extends { close(): Promise<void> }>(flag: string, start: Promise<T>): Promise<T> => {
    try {
      const listener = await start
      started.push(listener)
      return listener
    } catch (error) {
      // Nothing is served half: close what did start, and the engine, then say why.
      await Promise.all(started.map((l) => l.close()))
      await engine.close()
      if (!(error instanceof ListenError)) throw error
      throw new ListenError(`${error.message}; choose another with --${flag} or ${envOf(flag)}`)
    }
  }
  const http = await listening('http-port', startHttpServer(app, { port: s.httpPort, host: s.host }))
  const ws = await listening('ws-port', startWsServer(gateway, { port: s.wsPort, host: s.host, logger: log }))
  const grpc = await listening('grpc-port', startGrpcServer(gateway, { port: s.grpcPort, host: s.host, logger: log, ...(s.tls ? { tls: s.tls } : {}) }))
  ready = true
  const shown = s.host === '0.0.0.0' ? 'localhost' : s.host
  log.info(
    [
      `loyalty engine ready: ${engine.shards} shards on ${engine.workers} worker threads, data in ${s.dataDir}`,
      `  HTTP  http://${shown}:${http.port}  (REST /v1, OpenAPI /openapi.json, health /healthz, console /)`,
      `  WS    ws://${shown}:${ws.port}  (POS terminals)`,
      `  gRPC  ${shown}:${grpc.port}  (loyalty.v1.Loyalty${s.tls ? ', TLS' : ''})`,
      ...(seeded === undefined ? [] : seeded.lines),
    ].join('\n'),
  )
  const stop = async (signal: string) => {
    log.info(`${signal}: closing listeners, draining in-flight requests and flushing`)
    ready = false
    await Promise.all([ws.close(), grpc.close(), http.close()])
    await engine.close()
    log.info('stopped cleanly')
    process.exit(0)
  }
  // Ctrl-C reaches both tsx and this process, and tsx relays it: a second
  // signal must not kill the drain the first one started.
  let stopping = false
  const onSignal = (signal: string) => {
    if (stopping) return
    stopping = true
    void stop(signal)
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
}

/** The environment variable standing for a flag: http-port → LOYALTY_HTTP_PORT. */
function envOf(flag: string): string {
  return `LOYALTY_${flag.toUpperCase().replaceAll('-', '_')}`
}

main().catch((error: unknown) => {
  const expected = error instanceof DataDirError || error instanceof ListenError
  log.error(expected ? error.message : String((error as Error)?.stack ?? error))
  process.exit(1)
})
