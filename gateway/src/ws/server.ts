/**
 * POS terminals over WebSocket, on uWebSockets.js.
 *
 * A terminal authenticates either at the upgrade (`Authorization: Basic
 * base64(id:secret)`) or with a first frame `{ id, op: 'auth', terminal,
 * secret }`. It then sends request frames `{ id, op, ...fields }` (JSON text
 * or MessagePack binary) and gets `{ id, status, ...reply }` back in the same
 * encoding, in completion order: many requests may be in flight on one
 * connection, up to `inFlightMax`; past it a request is answered `overloaded`
 * at once. `{ id, op: 'ping' }` answers `ok` (uWS also pings by itself and
 * closes connections idle for `idleTimeoutSec`).
 *
 * Correlation ids: replies come in completion order, matched by id, so a
 * frame whose id is that of a request still unanswered on the connection
 * (running, or its reply not yet written) is refused at once,
 * `invalid_request` naming `id`, and not run; the first request is answered
 * as usual, and its id may be used again once its reply has been written.
 *
 * Device sessions: the device bridge of a till authenticates with the auth
 * frame plus `device: '<name>'`. It runs as that terminal but gets no pushes;
 * its `{ id, op: 'present', key, card, ... }` frames (see `present.ts`) push
 * the card's member to the terminal's other, POS, connections.
 *
 * Backpressure: replies are written while the socket's send buffer is below
 * `sendBufferBytesMax`; beyond that they wait in the connection's queue until
 * uWS reports `drain`. A queued reply counts against `inFlightMax`, so a
 * client that keeps to its window gets `overloaded` rather than growing the
 * queue; one that sends on regardless (pings, refused requests) is closed
 * (1008) at `queuedRepliesMax` unread replies. A connection whose buffer
 * still overflows uWS's hard limit is closed, never silently shortened: its
 * commands stay applied and a retry with the same key returns `exists`.
 *
 * @module
 */
import uWS from 'uWebSockets.js'
import { ListenError } from '../core/listen.ts'
import { unprintableProblem, type Logger, type Reply } from '@loyalty/engine'
import {
  decodeFrame,
  encodeFrame,
  replyFrame,
  type CorrelationId,
  type Encoding,
} from '../core/frames.ts'
import type { Gateway, Principal, PushMessage } from '../core/gateway.ts'
import { CardPresentations, type PresentLimits } from './present.ts'

export interface WsServerOptions {
  port: number
  host?: string
  logger: Logger
  /** Requests in flight per connection at most; past it, `overloaded`. */
  inFlightMax?: number
  /** Bytes buffered in a socket before replies wait for `drain`. */
  sendBufferBytesMax?: number
  idleTimeoutSec?: number
  /** Failed `auth` frames before the connection is closed. */
  authFailuresMax?: number
  /**
   * Replies waiting for a connection that does not read, at most; past it the
   * connection is closed (1008). Requests count their queued replies against
   * `inFlightMax`, so a client that keeps to its window never comes near.
   */
  queuedRepliesMax?: number
  /** How many `present` keys are remembered per terminal, and for how long. */
  presentLimits?: Partial<PresentLimits>
}

export const wsLimitsDefault = {
  inFlightMax: 1024,
  sendBufferBytesMax: 1024 * 1024,
  idleTimeoutSec: 60,
  authFailuresMax: 3,
  queuedRepliesMax: 4096,
}

/** uWS closes a connection on a frame larger than this; ours answer up to `frameBytesMax`. */
const payloadBytesMax = 1024 * 1024
const deviceNameLengthMax = 64
/** The answer when a terminal's credentials could not be checked (the registry failed). */
const uncheckedReply: Reply = { status: 'unavailable', message: 'the credentials could not be checked; retry' }

interface Connection {
  principal: Principal | undefined
  /** Set for a device session (a till's reader bridge): its name. It gets no pushes. */
  device: string | undefined
  inFlight: number
  /**
   * Ids of the requests not yet answered (running, an `auth` being checked,
   * or the reply waiting in `replies`): a second request with one of them is
   * refused, since the two replies could not be told apart.
   */
  ids: Set<CorrelationId>
  queue: { data: string | Uint8Array; binary: boolean }[]
  /** Engine replies waiting for the end of this event-loop turn (see `answer`), with the id each frees. */
  replies: [frame: object, encoding: Encoding, id: CorrelationId][]
  closed: boolean
  authFailures: number
  /** An `auth` frame's scrypt check is running: one at a time, or a burst of guesses would outrun `authFailuresMax`. */
  authenticating: boolean
  /** The encoding of the terminal's latest frame: its pushes go in it (JSON until it has sent one). */
  encoding: Encoding
  remote: string
}

export interface WsServer {
  port: number
  /** Connections open now. */
  connections(): number
  /**
   * Stops listening and refuses new requests (`unavailable`), waits for those
   * in flight to be answered (at most `drainMs`), then closes every connection.
   */
  close(drainMs?: number): Promise<void>
}

export async function startWsServer(gateway: Gateway, options: WsServerOptions): Promise<WsServer> {
  const { presentLimits, ...rest } = options
  const limits = { ...wsLimitsDefault, ...withoutUndefined(rest) }
  const presentations = new CardPresentations(gateway, presentLimits === undefined ? {} : { limits: presentLimits })
  const byTerminal = new Map<string, Set<uWS.WebSocket<Connection>>>()
  const open = new Set<uWS.WebSocket<Connection>>()
  const log = options.logger
  let closing = false

  const send = (ws: uWS.WebSocket<Connection>, message: object, encoding: Encoding) => {
    const c = ws.getUserData()
    if (c.closed) return
    const data = encodeFrame(message, encoding)
    const binary = encoding === 'msgpack'
    if (c.queue.length > 0 || ws.getBufferedAmount() > limits.sendBufferBytesMax) {
      if (c.queue.length >= limits.queuedRepliesMax) {
        // It sends and does not read: every request keeps getting an answer it never takes.
        log.warn(`closing ${c.remote}: ${c.queue.length} replies unread (queuedRepliesMax)`)
        ws.end(1008, 'replies are not being read')
        return
      }
      c.queue.push({ data, binary })
      return
    }
    write(ws, data, binary)
  }

  const write = (ws: uWS.WebSocket<Connection>, data: string | Uint8Array, binary: boolean) => {
    // 2 means uWS dropped it at its hard limit: close rather than lose a reply silently.
    if (ws.send(data, binary) === 2) {
      log.warn(`closing ${ws.getUserData().remote}: send buffer over its limit`)
      ws.end(1013, 'send buffer full')
    }
  }

  const drain = (ws: uWS.WebSocket<Connection>) => {
    const c = ws.getUserData()
    ws.cork(() => {
      while (c.queue.length > 0 && !c.closed && ws.getBufferedAmount() <= limits.sendBufferBytesMax) {
        const next = c.queue.shift()!
        write(ws, next.data, next.binary)
      }
    })
  }

  const attach = (ws: uWS.WebSocket<Connection>, principal: Principal) => {
    ws.getUserData().principal = principal
    let set = byTerminal.get(principal.id)
    if (set === undefined) byTerminal.set(principal.id, (set = new Set()))
    set.add(ws)
  }

  const authenticate = async (ws: uWS.WebSocket<Connection>, id: CorrelationId, fields: Record<string, unknown>, encoding: Encoding) => {
    const c = ws.getUserData()
    const { terminal, secret, device } = fields
    if (device !== undefined && (typeof device !== 'string' || device === '' || device.length > deviceNameLengthMax)) {
      send(ws, replyFrame(id, { status: 'invalid_request', field: 'device', message: `device must be a name of 1 to ${deviceNameLengthMax} characters` }), encoding)
      return
    }
    // The name goes into replies and logs as sent: no control or invisible characters.
    const deviceProblem = typeof device === 'string' ? unprintableProblem('device', device) : undefined
    if (deviceProblem !== undefined) {
      send(ws, replyFrame(id, { status: 'invalid_request', field: 'device', message: deviceProblem }), encoding)
      return
    }
    // Answered without a check: a logged-in connection may not spend scrypt checks or count failures.
    if (c.principal !== undefined) {
      send(ws, replyFrame(id, { status: 'invalid_request', field: 'op', message: 'already authenticated' }), encoding)
      return
    }
    if (c.authenticating) {
      const message = 'an auth frame is being checked on this connection (one at a time); wait for its reply'
      send(ws, replyFrame(id, { status: 'overloaded', message }), encoding)
      return
    }
    let principal: Principal | undefined
    c.authenticating = true
    c.ids.add(id)
    try {
      if (typeof terminal === 'string' && typeof secret === 'string') principal = await gateway.terminal(terminal, secret)
    } catch (error) {
      log.error(`checking terminal ${String(terminal)} failed: ${String(error)}`)
      if (!c.closed) ws.cork(() => send(ws, replyFrame(id, uncheckedReply), encoding))
      return
    } finally {
      c.authenticating = false
      // Its reply is written next, before any other frame is read.
      c.ids.delete(id)
    }
    if (c.closed) return
    // After an await: whatever is written is corked.
    ws.cork(() => {
      if (principal === undefined) {
        c.authFailures++
        send(ws, replyFrame(id, { status: 'unauthorized', message: 'unknown terminal or wrong secret' }), encoding)
        if (c.authFailures >= limits.authFailuresMax) ws.end(1008, 'too many failed logins')
        return
      }
      c.device = device as string | undefined
      attach(ws, principal)
      const as = c.device === undefined ? '' : ` (device ${c.device})`
      send(ws, replyFrame(id, { status: 'ok', message: `terminal ${principal.id}${as}` }), encoding)
    })
  }

  const onMessage = (ws: uWS.WebSocket<Connection>, data: ArrayBuffer, binary: boolean) => {
    const encoding: Encoding = binary ? 'msgpack' : 'json'
    const c = ws.getUserData()
    c.encoding = encoding
    const decoded = decodeFrame(data, binary)
    if (!decoded.ok) return send(ws, replyFrame(decoded.id, decoded.reply), encoding)
    const { id, op, fields } = decoded.request
    // Before anything else: even a ping's `ok` under that id would read as the first one's reply.
    if (c.ids.has(id)) return send(ws, replyFrame(id, duplicateIdReply(id)), encoding)
    if (op === 'auth') return void authenticate(ws, id, fields, encoding)
    if (op === 'ping') return send(ws, replyFrame(id, { status: 'ok' }), encoding)
    if (c.principal === undefined) {
      return send(ws, replyFrame(id, { status: 'unauthorized', message: 'authenticate first: { op: "auth", terminal, secret }' }), encoding)
    }
    if (closing) {
      return send(ws, replyFrame(id, { status: 'unavailable', message: 'the server is shutting down; retry elsewhere with the same key' }), encoding)
    }
    // A reply not yet written still holds its place: a client that stops reading gets
    // `overloaded` once its window is full, as one that is waiting for the engine does.
    if (c.inFlight + c.replies.length + c.queue.length >= limits.inFlightMax) {
      const message = `${limits.inFlightMax} requests in flight on this connection (inFlightMax); retry with the same key`
      return send(ws, replyFrame(id, { status: 'overloaded', message }), encoding)
    }
    c.inFlight++
    c.ids.add(id)
    const run = op === 'present' ? presentations.present(c.principal, fields) : gateway.execute(c.principal, op, fields)
    run.then(
      (reply) => answer(ws, id, reply, encoding),
      (error: unknown) => {
        log.error(`request ${String(id)} failed: ${String(error)}`)
        answer(ws, id, { status: 'unavailable', message: 'internal error; retry with the same key' }, encoding)
      },
    )
  }

  /**
   * Engine replies come in batches (a shard answers a whole batch at once), so
   * they are written once a turn: every reply a connection got in this turn
   * leaves in one corked write, not one system call each.
   */
  const answer = (ws: uWS.WebSocket<Connection>, id: CorrelationId, reply: Reply, encoding: Encoding) => {
    const c = ws.getUserData()
    c.inFlight--
    if (c.closed) return
    c.replies.push([replyFrame(id, reply), encoding, id])
    replying.add(ws)
    if (!replyFlushScheduled) {
      replyFlushScheduled = true
      setImmediate(flushReplies)
    }
  }
  const replying = new Set<uWS.WebSocket<Connection>>()
  let replyFlushScheduled = false
  const flushReplies = () => {
    replyFlushScheduled = false
    for (const ws of replying) {
      const c = ws.getUserData()
      const replies = c.replies
      c.replies = []
      try {
        ws.cork(() => {
          for (const [frame, encoding, id] of replies) {
            // A write past uWS's hard limit ends the connection (see `write`): stop there.
            if (c.closed) break
            // Written (or queued behind earlier replies, in order): the id may be used again.
            c.ids.delete(id)
            send(ws, frame, encoding)
          }
        })
      } catch (error) {
        log.error(`writing replies to ${c.remote} failed: ${String(error)}`)
      }
    }
    replying.clear()
  }

  const app = uWS.App().ws<Connection>('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: payloadBytesMax,
    idleTimeout: limits.idleTimeoutSec,
    sendPingsAutomatically: true,
    // The hard limit: far above the soft one, so it is reached only by a reader that stopped reading.
    maxBackpressure: limits.sendBufferBytesMax * 16,
    closeOnBackpressureLimit: 1,
    upgrade: (res, req, context) => upgrade(gateway, log, res, req, context),
    open: (ws) => {
      open.add(ws)
      const c = ws.getUserData()
      c.remote = Buffer.from(ws.getRemoteAddressAsText()).toString()
      if (c.principal !== undefined) attach(ws, c.principal)
    },
    message: onMessage,
    drain,
    close: (ws, code) => {
      const c = ws.getUserData()
      // Replies to requests in flight are lost: the terminal must resend them
      // with the same keys. 1006: the socket went without a close frame.
      // A reply still waiting for the turn's write is as lost as one in flight.
      const unanswered = c.inFlight + c.replies.length
      if ((unanswered > 0 || code === 1006) && !closing) {
        const who = c.principal === undefined ? '' : `terminal ${c.principal.id} `
        log.warn(`connection of ${who}from ${c.remote} closed (code ${code}) with ${unanswered} requests in flight`)
      }
      c.closed = true
      c.queue.length = 0
      c.replies.length = 0
      c.ids.clear()
      replying.delete(ws)
      open.delete(ws)
      if (c.principal !== undefined) byTerminal.get(c.principal.id)?.delete(ws)
    },
  })

  const unregister = gateway.addSessions({
    count: (terminal) => byTerminal.get(terminal)?.size ?? 0,
    close: (terminal, reason) => {
      for (const ws of [...(byTerminal.get(terminal) ?? [])]) ws.end(1008, reason)
    },
  })
  const unsubscribe = gateway.onPush((terminal: string, message: PushMessage) => {
    let delivered = false
    for (const ws of byTerminal.get(terminal) ?? []) {
      // A device session is the terminal's reader bridge: pushes are for its POS connections.
      if (ws.getUserData().device !== undefined) continue
      ws.cork(() => send(ws, message, ws.getUserData().encoding))
      delivered = true
    }
    return delivered
  })

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    const host = options.host ?? '0.0.0.0'
    const listened = (socket: uWS.us_listen_socket | false) => {
      if (socket !== false) return resolve(socket)
      // Not served: the gateway forgets this server's sessions and pushes.
      unsubscribe()
      unregister()
      reject(new ListenError(`the WebSocket port ${options.port} on ${host} is in use, or may not be bound by this user`))
    }
    // uSockets binds with SO_REUSEPORT by default: a second gateway on the
    // same port would start and take a share of the terminals' connections.
    // Exclusive, it is refused as a node:http or gRPC listener is. (The typings
    // lack this overload; the binding takes host, port, options, callback.)
    const listen = app.listen as unknown as (host: string, port: number, flags: number, cb: typeof listened) => void
    listen.call(app, host, options.port, (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT, listened)
  })

  return {
    port: uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket),
    connections: () => open.size,
    async close(drainMs = 10_000) {
      closing = true
      unsubscribe()
      unregister()
      uWS.us_listen_socket_close(listenSocket)
      const deadline = Date.now() + drainMs
      const busy = () => [...open].some((ws) => {
        const c = ws.getUserData()
        return c.inFlight > 0 || c.replies.length > 0 || c.queue.length > 0
      })
      while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      for (const ws of [...open]) ws.end(1001, 'server shutting down')
    },
  }
}

/**
 * Verifies `Authorization: Basic` if present, then completes the upgrade:
 * at once for a secret verified before (a reconnect), after the scrypt check
 * for one seen the first time since start.
 */
function upgrade(gateway: Gateway, log: Logger, res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t) {
  const key = req.getHeader('sec-websocket-key')
  const protocol = req.getHeader('sec-websocket-protocol')
  const extensions = req.getHeader('sec-websocket-extensions')
  const authorization = req.getHeader('authorization')
  const fresh = (): Connection => ({ principal: undefined, device: undefined, inFlight: 0, ids: new Set(), queue: [], replies: [], closed: false, authFailures: 0, authenticating: false, encoding: 'json', remote: '' })
  if (authorization === '') {
    res.upgrade(fresh(), key, protocol, extensions, context)
    return
  }
  const credentials = basic(authorization)
  const refuse = (status: string, reply: Reply) => {
    res.writeStatus(status).writeHeader('content-type', 'application/json')
    res.end(JSON.stringify(reply))
  }
  const wrong: Reply = { status: 'unauthorized', message: 'unknown terminal or wrong secret' }
  // Decided at once where it can be (a malformed header, the secret verified
  // last for the terminal): the common reconnect is upgraded inside this
  // handler, never after an await. An unknown or disabled terminal waits for
  // the scrypt check like a wrong secret, so the time tells no terminal id.
  if (credentials === undefined) return refuse('401 Unauthorized', wrong)
  const known = gateway.terminalKnown(credentials[0], credentials[1])
  if (known !== undefined) return res.upgrade({ ...fresh(), principal: known }, key, protocol, extensions, context)
  let aborted = false
  res.onAborted(() => (aborted = true))
  const checked = gateway.terminal(credentials[0], credentials[1]).catch((error: unknown) => {
    log.error(`checking terminal ${credentials[0]} failed: ${String(error)}`)
    return null // neither in nor out: 503
  })
  void checked.then((principal) => {
    if (aborted) return
    // Probably a known upstream bug in the uWS build in use: an upgrade made in
    // `res.cork` after an await can have cork() read the socket's old HTTP
    // state from memory that is now the WebSocket's and close it about a
    // millisecond after `open` (uNetworking/uWebSockets#1928, fixed by #1929
    // after this build). Upgrading outside cork avoids it but makes uWS print
    // a warning per connection. Here it can happen only on a secret's first
    // connection since start; seen twice in about 220 starts on a loaded
    // machine (the terminal's first frame was met by a close, 1006, 10 ms
    // after it was sent, and not applied).
    res.cork(() => {
      if (principal === null) refuse('503 Service Unavailable', uncheckedReply)
      else if (principal === undefined) refuse('401 Unauthorized', wrong)
      else res.upgrade({ ...fresh(), principal }, key, protocol, extensions, context)
    })
  })
}

/** The refusal of a request whose id is that of one still unanswered on the connection. */
function duplicateIdReply(id: CorrelationId): Reply {
  const message = `id ${JSON.stringify(id)} is in flight on this connection: wait for its reply before using the id again`
  return { status: 'invalid_request', field: 'id', message }
}

function basic(header: string): [string, string] | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim())
  if (match === null) return undefined
  const text = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  return colon <= 0 ? undefined : [text.slice(0, colon), text.slice(colon + 1)]
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
