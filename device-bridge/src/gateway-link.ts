/**
 * The bridge's WebSocket to the gateway, as its terminal's device session:
 * it connects, authenticates with `{ op: 'auth', terminal, secret, device }`,
 * and carries request frames, each answered by id. When the connection
 * cannot be made or is lost, it reconnects by itself with exponential backoff
 * (with jitter, so the tills of a store do not reconnect in step), from
 * `reconnectDelayMsMin` up to `reconnectDelayMsMax`. A request unanswered
 * within `requestTimeoutMs`, or a heartbeat ping, drops the connection: a
 * half-open TCP connection is found within a heartbeat, not hours later.
 *
 * Requests fail fast while the link is down (`LinkDownError`); the caller
 * (the bridge's queue) keeps the read and tries again once `onReady` fires.
 *
 * @module
 */
import WebSocket from 'ws'
import type { Logger } from './logger.ts'

export interface GatewayLinkOptions {
  url: string
  terminal: string
  secret: string
  /** The device session's name. */
  device: string
  logger: Logger
  requestTimeoutMs: number
  reconnectDelayMsMin: number
  reconnectDelayMsMax: number
  heartbeatMs: number
  /** Called each time the link is authenticated and ready for requests. */
  onReady: () => void
}

export type LinkState = 'connecting' | 'ready' | 'waiting' | 'closed'
export type Frame = Record<string, unknown>

/** The request could not be delivered or answered; nothing is known about its effect. */
export class LinkDownError extends Error {
  override readonly name = 'LinkDownError'
}

interface Waiting {
  resolve: (frame: Frame) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

export class GatewayLink {
  readonly #options: GatewayLinkOptions
  readonly #log: Logger
  #state: LinkState = 'waiting'
  #ws: WebSocket | undefined
  readonly #waiting = new Map<number, Waiting>()
  #nextId = 1
  #attempt = 0
  #retry: NodeJS.Timeout | undefined
  #heartbeat: NodeJS.Timeout | undefined
  /** What went wrong last, for the logs; cleared once connected. */
  #problem: string | undefined
  #problemLogged: string | undefined
  #downSinceMs: number | undefined = Date.now()
  #refused = false

  constructor(options: GatewayLinkOptions) {
    this.#options = options
    this.#log = options.logger
  }

  get state(): LinkState {
    return this.#state
  }

  /** One line for the status log. */
  describe(): string {
    if (this.#state === 'ready') return `gateway connected`
    const since =
      this.#downSinceMs === undefined
        ? ''
        : ` for ${Math.round((Date.now() - this.#downSinceMs) / 1000)} s`
    return `gateway unreachable${since}${this.#problem ? ` (${this.#problem})` : ''}`
  }

  start(): void {
    if (this.#state === 'closed' || this.#ws !== undefined) return
    this.#connect()
  }

  /**
   * Sends `{ id, ...fields }` and resolves with the frame answering it.
   *
   * @example
   *   const reply = await link.request({ op: 'present', key, card })
   */
  request(fields: Frame): Promise<Frame> {
    const ws = this.#ws
    if (this.#state !== 'ready' || ws === undefined) {
      return Promise.reject(new LinkDownError('not connected to the gateway'))
    }
    return this.#send(ws, fields)
  }

  async close(): Promise<void> {
    this.#state = 'closed'
    clearTimeout(this.#retry)
    clearInterval(this.#heartbeat)
    const ws = this.#ws
    if (ws === undefined) return
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    ws.close(1000, 'bridge stopping')
    const timer = setTimeout(() => ws.terminate(), 1000)
    await closed
    clearTimeout(timer)
  }

  #connect(): void {
    this.#state = 'connecting'
    const ws = new WebSocket(this.#options.url, {
      handshakeTimeout: this.#options.requestTimeoutMs,
    })
    this.#ws = ws
    ws.on('open', () => void this.#authenticate(ws))
    ws.on('message', (data, binary) => this.#receive(data, binary))
    ws.on('error', (error: NodeJS.ErrnoException) => (this.#problem = error.code ?? error.message))
    ws.on('close', (code) => this.#closed(ws, code))
  }

  async #authenticate(ws: WebSocket): Promise<void> {
    const { terminal, secret, device } = this.#options
    let reply: Frame
    try {
      reply = await this.#send(ws, { op: 'auth', terminal, secret, device })
    } catch {
      return // The close that follows reconnects.
    }
    if (this.#state === 'closed' || this.#ws !== ws) return
    if (reply['status'] !== 'ok') {
      this.#refused = reply['status'] === 'unauthorized'
      this.#problem = this.#refused
        ? `the gateway refused terminal ${terminal}: check terminal.id and the secret (LOYALTY_TERMINAL_SECRET)`
        : `auth answered ${String(reply['status'])}: ${String(reply['message'] ?? '')}`
      ws.close(1000, 'authentication failed')
      return
    }
    const outage = this.#downSinceMs === undefined ? 0 : Date.now() - this.#downSinceMs
    const after = this.#attempt > 0 ? ` after ${Math.round(outage / 1000)} s` : ''
    this.#log.info(
      `connected to ${this.#options.url} as terminal ${terminal} (device ${device})${after}`,
    )
    this.#state = 'ready'
    this.#attempt = 0
    this.#problem = this.#problemLogged = this.#downSinceMs = undefined
    this.#refused = false
    this.#heartbeat = setInterval(
      () => void this.request({ op: 'ping' }).catch(() => {}),
      this.#options.heartbeatMs,
    )
    this.#options.onReady()
  }

  #send(ws: WebSocket, fields: Frame): Promise<Frame> {
    const id = this.#nextId++
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        this.#problem = `no answer within ${this.#options.requestTimeoutMs} ms`
        reject(new LinkDownError(this.#problem))
        // Whatever state the connection is in, it is not serving us: start over.
        ws.terminate()
      }, this.#options.requestTimeoutMs)
      this.#waiting.set(id, { resolve, reject, timer })
      ws.send(JSON.stringify({ id, ...fields }), (error) => {
        if (error === undefined || error === null) return
        clearTimeout(timer)
        this.#waiting.delete(id)
        reject(new LinkDownError(`could not send: ${error.message}`))
      })
    })
  }

  #receive(data: WebSocket.RawData, binary: boolean): void {
    if (binary) return
    let frame: Frame
    try {
      frame = JSON.parse(String(data)) as Frame
    } catch {
      this.#log.warn('the gateway sent a frame that is not JSON; ignored')
      return
    }
    const waiting = typeof frame['id'] === 'number' ? this.#waiting.get(frame['id']) : undefined
    if (waiting === undefined) return
    this.#waiting.delete(frame['id'] as number)
    clearTimeout(waiting.timer)
    waiting.resolve(frame)
  }

  #closed(ws: WebSocket, code: number): void {
    if (this.#ws !== ws) return
    this.#ws = undefined
    clearInterval(this.#heartbeat)
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer)
      waiting.reject(new LinkDownError(`the connection closed (${code})`))
      this.#waiting.delete(id)
    }
    if (this.#state === 'closed') return
    const wasReady = this.#state === 'ready'
    this.#state = 'waiting'
    this.#downSinceMs ??= Date.now()
    this.#problem ??= `closed with code ${code}`
    const delayMs = this.#refused ? this.#options.reconnectDelayMsMax : this.#backoff()
    const retry = `retrying in ${(delayMs / 1000).toFixed(1)} s`
    if (wasReady) this.#log.warn(`lost the gateway connection (${this.#problem}); ${retry}`)
    else if (this.#problem !== this.#problemLogged)
      this.#log.warn(
        `cannot reach the gateway at ${this.#options.url} (${this.#problem}); ${retry}`,
      )
    this.#problemLogged = this.#problem
    this.#retry = setTimeout(() => this.#connect(), delayMs)
  }

  #backoff(): number {
    const { reconnectDelayMsMin: min, reconnectDelayMsMax: max } = this.#options
    const ceiling = Math.min(max, min * 2 ** Math.min(this.#attempt++, 30))
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
  }
}
