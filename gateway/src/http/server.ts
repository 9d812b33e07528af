/**
 * Serves the REST app on a Node HTTP server (@hono/node-server). `close`
 * stops taking connections, lets requests in flight finish (their commands
 * are answered, not cut off), closes keep-alive connections as they go idle,
 * and after `drainMs` closes whatever is left. A request Node cannot parse
 * (headers over its limit, a bad chunk) is answered in JSON like any other.
 *
 * @module
 */
import { maxHeaderSize, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { listenFailure } from '../core/listen.ts'

export interface HttpServerOptions {
  /** 0 picks a free port; `port` on the result says which. */
  port: number
  /** Default: every interface. */
  host?: string
  /** How long `close` lets requests in flight finish before closing connections; default 10 s. */
  drainMs?: number
}

export interface HttpServer {
  port: number
  close(): Promise<void>
}

const drainMsDefault = 10_000
/** While draining, keep-alive connections gone idle are closed at this period. */
const idleSweepMs = 50

/**
 * Listens and resolves once the port is bound (rejects if it cannot be).
 *
 * @example
 *   const server = await startHttpServer(app, { port: 0 })
 *   await fetch(`http://127.0.0.1:${server.port}/healthz`)
 *   await server.close()
 */
export function startHttpServer(app: Hono, options: HttpServerOptions): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    const listening = (info: AddressInfo) => {
      server.off('error', failed)
      resolve({ port: info.port, close: closer(server, options.drainMs ?? drainMsDefault) })
    }
    const settings = options.host === undefined
      ? { fetch: app.fetch, port: options.port }
      : { fetch: app.fetch, port: options.port, hostname: options.host }
    // Without a createServer option the adapter makes a plain node:http server.
    const failed = (error: Error) => reject(listenFailure(`HTTP port ${options.port} on ${options.host ?? '0.0.0.0'}`, error))
    const server = serve(settings, listening) as Server
    server.once('error', failed)
    server.on('clientError', answerUnparsable)
  })
}

/**
 * A request Node's parser refuses never reaches the app: by default Node
 * answers a bare status line (431, 400, 408) with no body. This gives it the
 * body every other answer has, naming what is wrong, and closes the
 * connection as Node does (the parser cannot go on after an error).
 */
function answerUnparsable(error: Error & { code?: string }, socket: Socket): void {
  // Mid-response (a body that broke off after the reply began) nothing more can be said.
  const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage
  if (error.code === 'ECONNRESET' || !socket.writable || response?.headersSent === true) {
    socket.destroy()
    return
  }
  const [status, field, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? ['431 Request Header Fields Too Large', 'headers', `the request's headers are over the server's limit (${maxHeaderSize} bytes in all); send shorter ones`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', 'request', 'the request did not arrive in time']
        : ['400 Bad Request', 'request', `the request is not well-formed HTTP/1.1 (${error.code ?? 'parse error'}: ${error.message})`]
  const body = JSON.stringify({ status: 'invalid_request', field, message })
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

function closer(server: Server, drainMs: number): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => {
    closing ??= new Promise<void>((resolve, reject) => {
      const sweep = setInterval(() => server.closeIdleConnections(), idleSweepMs)
      const force = setTimeout(() => server.closeAllConnections(), drainMs)
      server.close((error) => {
        clearInterval(sweep)
        clearTimeout(force)
        if (error === undefined) resolve()
        else reject(error)
      })
    })
    return closing
  }
}
