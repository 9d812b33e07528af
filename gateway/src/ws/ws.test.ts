/**
 * The WebSocket interface end to end over real sockets: authentication both
 * ways, JSON and MessagePack frames, pipelining, the in-flight limit, bad
 * frames (each answered, the connection kept), replays, source stamping,
 * roles, pushes, a reader that stops reading (nothing lost), and device
 * sessions presenting cards to their terminal's POS connections.
 */
import { Packr } from 'msgpackr'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { silentLogger } from '@loyalty/engine'
import { gatewayHarness, type GatewayHarness } from '../testing/harness.ts'
import { startWsServer, type WsServer, type WsServerOptions } from './server.ts'

const packr = new Packr({ useRecords: false })
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(options: Partial<WsServerOptions> = {}) {
  const h: GatewayHarness = await gatewayHarness()
  const server: WsServer = await startWsServer(h.gateway, { port: 0, host: '127.0.0.1', logger: silentLogger, ...options })
  cleanups.push(async () => {
    await server.close()
    await h[Symbol.asyncDispose]()
  })
  return { h, server, url: `ws://127.0.0.1:${server.port}/` }
}

type Frame = Record<string, unknown>

/** A test client: sends frames, collects replies by id, and every frame in arrival order. */
class Client {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  /** The frames that came as MessagePack (binary), the others being JSON. */
  readonly binary = new WeakSet<Frame>()
  readonly #waiting = new Map<unknown, (frame: Frame) => void>()
  closed: { code: number; reason: string } | undefined

  constructor(url: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, { headers })
    this.ws.on('message', (data, binary) => {
      const frame = (binary ? packr.unpack(data as Buffer) : JSON.parse(String(data))) as Frame
      this.frames.push(frame)
      if (binary) this.binary.add(frame)
      const resolve = this.#waiting.get(frame['id'])
      if (resolve !== undefined) {
        this.#waiting.delete(frame['id'])
        resolve(frame)
      }
    })
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: String(reason) }))
    this.ws.on('error', () => {})
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    })
  }

  request(frame: Frame, encoding: 'json' | 'msgpack' = 'json'): Promise<Frame> {
    const reply = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${String(frame['id'])}`)), 5000)
      this.#waiting.set(frame['id'], (f) => {
        clearTimeout(timer)
        resolve(f)
      })
    })
    this.ws.send(encoding === 'json' ? JSON.stringify(frame) : packr.pack(frame))
    return reply
  }

  raw(data: string | Buffer): Promise<Frame> {
    const before = this.frames.length
    this.ws.send(data)
    return waitFor(() => this.frames[before])
  }

  whenClosed() {
    return waitFor(() => this.closed)
  }
}

async function waitFor<T>(get: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = get()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 2))
  }
}

function basic(id: string, secret: string) {
  return { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` }
}

async function terminal(url: string, h: GatewayHarness) {
  const client = new Client(url, basic(h.terminal.id, h.terminal.secret))
  await client.opened()
  cleanups.push(async () => void client.ws.close())
  return client
}

/**
 * Sends up to 60,000 frames whose ids are too long (about 6 MB of `invalid_request`
 * replies, which the server answers at once, outside any window) until `stop` says so.
 */
async function sendUnread(c: Client, stop: () => boolean) {
  const padding = 'x'.repeat(1000)
  for (let i = 0; i < 60_000 && !stop(); i++) {
    c.ws.send(JSON.stringify({ id: `${padding}${i}`, op: 'ping' }))
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 5))
  }
}

let n = 0
const id = () => `r${++n}`
const lines = [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }]

describe('WebSocket terminals', () => {
  it('logs a connection lost with requests in flight; the terminal resends with the same key and gets the one result', async () => {
    const warnings: string[] = []
    const { h, url } = await setup({ logger: { ...silentLogger, warn: (message: string) => warnings.push(message) } })
    const c = await terminal(url, h)
    expect(await c.request({ id: 1, op: 'enroll', account: 'm9', key: 'join', program: 'demo' })).toMatchObject({ status: 'ok' })
    const purchase = { op: 'purchase', account: 'm9', key: 'till-lost', basket: { lines } }
    // Written to the socket, then the network goes away before the answer.
    await new Promise<void>((resolve, reject) => c.ws.send(JSON.stringify({ id: 2, ...purchase }), (e) => (e ? reject(e) : resolve())))
    c.ws.terminate()
    const warning = await waitFor(() => warnings.find((w) => w.includes('in flight')))
    expect(warning).toMatch(new RegExp(`^connection of terminal ${h.terminal.id} from \\S+ closed \\(code 1006\\) with 1 requests in flight$`))
    const again = await terminal(url, h)
    const replayed = await again.request({ id: 3, ...purchase })
    expect(replayed).toMatchObject({ id: 3, points: 129 })
    expect(['ok', 'exists']).toContain(replayed['status'])
    expect(await again.request({ id: 4, op: 'balance', account: 'm9' })).toMatchObject({ balance: { available: 229 } })
  })

  it('authenticates at the upgrade and runs a purchase, JSON and MessagePack alike', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    expect(await c.request({ id: 1, op: 'enroll', account: 'm1', key: 'join', program: 'demo' })).toMatchObject({ id: 1, status: 'ok', tier: 'bronze' })
    const bought = await c.request({ id: 'p', op: 'purchase', account: 'm1', key: 'till-1', basket: { lines } }, 'msgpack')
    expect(bought).toMatchObject({ id: 'p', status: 'ok', points: 129 })
    expect(bought['breakdown']).toContainEqual({ source: 'rule', id: 'base', name: '1 point per $1', points: 9 })
    expect(await c.request({ id: 2, op: 'balance', account: 'm1' })).toMatchObject({ status: 'ok', balance: { available: 229 } })
  })

  it('lets a reconnecting terminal in without a second scrypt check, and still refuses a wrong secret', async () => {
    const { h, url } = await setup()
    const slow = vi.spyOn(h.gateway, 'terminal')
    const first = await terminal(url, h)
    expect(slow).toHaveBeenCalledTimes(1)
    first.ws.close()
    await first.whenClosed()
    const again = await terminal(url, h)
    expect(slow).toHaveBeenCalledTimes(1)
    expect(await again.request({ id: 1, op: 'enroll', account: 'm8', key: 'join', program: 'demo' })).toMatchObject({ status: 'ok' })
    await expect(new Client(url, basic(h.terminal.id, 'wrong')).opened()).rejects.toThrow(/401/)
    expect(slow).toHaveBeenCalledTimes(2)
    // An unknown terminal gets the check a wrong secret gets (refused at once, the time would tell the id is unknown).
    await expect(new Client(url, basic('nobody', 'x')).opened()).rejects.toThrow(/401/)
    expect(slow).toHaveBeenCalledTimes(3)
    // A malformed header names no terminal and is refused without one.
    await expect(new Client(url, { authorization: 'Basic !!!' }).opened()).rejects.toThrow(/401/)
    expect(slow).toHaveBeenCalledTimes(3)
  })

  it('refuses an upgrade with wrong credentials, and authenticates by a first frame instead', async () => {
    const { h, url } = await setup()
    await expect(new Client(url, basic(h.terminal.id, 'wrong')).opened()).rejects.toThrow(/401/)
    const c = new Client(url)
    await c.opened()
    cleanups.push(async () => void c.ws.close())
    expect(await c.request({ id: 1, op: 'balance', account: 'm1' })).toMatchObject({ status: 'unauthorized' })
    expect(await c.request({ id: 2, op: 'auth', terminal: h.terminal.id, secret: 'nope' })).toMatchObject({ status: 'unauthorized' })
    expect(await c.request({ id: 3, op: 'auth', terminal: h.terminal.id, secret: h.terminal.secret })).toMatchObject({ status: 'ok' })
    expect(await c.request({ id: 4, op: 'balance', account: 'nobody' })).toMatchObject({ status: 'account_not_found' })
  })

  it('answers an auth frame on a logged-in connection at once, without a check, and never closes it for them', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const checks = vi.spyOn(h.gateway, 'terminal')
    for (let i = 0; i < 5; i++) {
      const reply = await c.request({ id: i, op: 'auth', terminal: h.terminal.id, secret: `guess${i}` })
      expect(reply).toMatchObject({ id: i, status: 'invalid_request', field: 'op', message: 'already authenticated' })
    }
    // Before: each ran scrypt and counted as a failed login, and the third closed the connection.
    expect(checks).not.toHaveBeenCalled()
    expect(await c.request({ id: 'b', op: 'balance', account: 'nobody' })).toMatchObject({ status: 'account_not_found' })
  })

  it('closes a connection after repeated failed logins', async () => {
    const { h, url } = await setup()
    const c = new Client(url)
    await c.opened()
    for (let i = 0; i < 3; i++) await c.request({ id: i, op: 'auth', terminal: h.terminal.id, secret: 'guess' })
    expect(await c.whenClosed()).toMatchObject({ code: 1008 })
  })

  it('checks one auth frame at a time per connection: a burst of guesses runs one scrypt check, not one each', async () => {
    const { h, url } = await setup()
    const checks = vi.spyOn(h.gateway, 'terminal')
    const c = new Client(url)
    await c.opened()
    cleanups.push(async () => void c.ws.close())
    for (let i = 0; i < 30; i++) c.ws.send(JSON.stringify({ id: i, op: 'auth', terminal: h.terminal.id, secret: `guess${i}` }))
    const replies = await waitFor(() => (c.frames.length === 30 ? c.frames : undefined))
    expect(replies.filter((f) => f['status'] === 'unauthorized')).toHaveLength(1)
    const refused = replies.filter((f) => f['status'] === 'overloaded')
    expect(refused).toHaveLength(29)
    expect(refused[0]!['message']).toMatch(/^an auth frame is being checked on this connection/)
    expect(checks).toHaveBeenCalledTimes(1)
    // The connection is still usable: a right secret afterwards gets in.
    expect(await c.request({ id: 'in', op: 'auth', terminal: h.terminal.id, secret: h.terminal.secret })).toMatchObject({ status: 'ok' })
  })

  it('answers every bad frame with what is wrong, and keeps the connection', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    expect(await c.raw('{not json')).toMatchObject({ status: 'invalid_request', field: 'frame' })
    expect(await c.raw('[1,2]')).toMatchObject({ status: 'invalid_request', field: 'frame' })
    expect(await c.raw(Buffer.from([0x82, 0xa2, 0x69]))).toMatchObject({ status: 'invalid_request', field: 'frame' })
    expect(await c.raw(JSON.stringify({ op: 'balance', account: 'm1' }))).toMatchObject({ status: 'invalid_request', field: 'id' })
    for (const badId of [1.5, '', 'i'.repeat(65), true, { n: 1 }]) {
      const reply = await c.raw(JSON.stringify({ id: badId, op: 'balance', account: 'm1' }))
      expect(reply, JSON.stringify(badId)).toEqual({ status: 'invalid_request', field: 'id', message: expect.stringMatching(/^id must be/) })
    }
    expect(await c.raw(JSON.stringify({ id: 3, account: 'm1' }))).toMatchObject({ id: 3, status: 'invalid_request', field: 'op' })
    expect(await c.raw(packr.pack({ id: 4, op: 7, account: 'm1' }))).toMatchObject({ id: 4, status: 'invalid_request', field: 'op' })
    expect(await c.request({ id: 5, op: 'teleport', account: 'm1' })).toMatchObject({ id: 5, status: 'invalid_request', field: 'op' })
    expect(await c.request({ id: 6, op: 'redeem', account: 'm1', key: 'k', points: 'ten' })).toMatchObject({ id: 6, status: 'invalid_request', field: 'points' })
    expect(await c.request({ id: 7, op: 'purchase', account: 'm1', key: 'k', basket: { lines: [{ sku: 'x', quantity: 1, unitPrice: -5 }] } })).toMatchObject({ status: 'invalid_request', field: 'basket.lines[0].unitPrice' })
    // A frame that says two things is refused, not read as the last of them.
    expect(await c.raw('{"id":12,"op":"earn","account":"m1","key":"k","points":5,"points":7}')).toMatchObject({ id: 12, status: 'invalid_request', field: 'points', message: 'the frame has the key "points" twice in one object' })
    // A fraction JSON.parse reads as a whole number is refused, not earned as 5.
    expect(await c.raw('{"id":16,"op":"earn","account":"m1","key":"k","points":5.0000000000000001}')).toEqual({
      id: 16,
      status: 'invalid_request',
      field: 'points',
      message: 'points: 5.0000000000000001 is not a whole number, but a JSON number reads it as 5; send whole numbers as integers, and fractions with at most 15 significant digits',
    })
    // The same in MessagePack: a map of 6 entries whose last two are both points.
    const twice = Buffer.concat([Buffer.from([0x86]), ...[['id', 13], ['op', 'earn'], ['account', 'm1'], ['key', 'k'], ['points', 5], ['points', 7]].flatMap(([k, v]) => [packr.pack(k), packr.pack(v)])])
    expect(await c.raw(twice)).toMatchObject({ id: 13, status: 'invalid_request', field: 'points', message: 'the frame has the key "points" twice in one object' })
    // Bytes after the object: refused without echoing the object (an auth frame's secret).
    const trailing = Buffer.concat([packr.pack({ id: 14, op: 'auth', terminal: 'till-1', secret: 'not-to-be-echoed' }), Buffer.from([1, 2])])
    const trailed = await c.raw(trailing)
    expect(trailed).toMatchObject({ status: 'invalid_request', field: 'frame', message: 'the frame is not valid MessagePack: 2 bytes follow its object' })
    expect(JSON.stringify(trailed)).not.toContain('not-to-be-echoed')
    // Nor in JSON: V8's message quotes the text around a bad token.
    const unquoted = await c.raw('{"id":15,"op":"auth","terminal":"till-1","secret": not-to-be-echoed}')
    expect(unquoted).toMatchObject({ status: 'invalid_request', field: 'frame' })
    expect(unquoted['message']).toBe("the frame is not valid JSON: Unexpected token 'o' (the text is not quoted back)")
    expect(JSON.stringify(unquoted)).not.toContain('to-be-echoed')
    // Longer than any LMDB key: once brought the process down before validation saw it.
    expect(await c.request({ id: 11, op: 'balance', account: 'a'.repeat(5000) })).toMatchObject({ id: 11, status: 'invalid_request', field: 'account' })
    const big = { id: 8, op: 'balance', account: 'm1', pad: 'x'.repeat(100_000) }
    expect(await c.request(big)).toMatchObject({ status: 'invalid_request', field: 'frame' })
    expect(await c.request({ id: 9, op: 'adjust', account: 'm1', key: 'k', points: 5, reason: 'gift' })).toMatchObject({ status: 'unauthorized' })
    expect(await c.request({ id: 10, op: 'ping' })).toMatchObject({ id: 10, status: 'ok' })
    expect(c.closed).toBeUndefined()
    // Nothing above was applied.
    expect((await h.engine.execute({ op: 'history', account: 'm1' })).status).toBe('account_not_found')
  })

  it('refuses MessagePack values JSON has no word for (extensions, binary, keys that are not strings), naming the field', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    expect(await c.request({ id: 1, op: 'enroll', account: 'm1', key: 'join', program: 'demo' })).toMatchObject({ status: 'ok' })
    const before = await c.request({ id: 2, op: 'history', account: 'm1' })
    // msgpackr's default packer writes a Date as a timestamp extension (-1); the engine read it as an empty source.
    const dated = packr.pack({ id: 3, op: 'earn', account: 'm1', key: 'k-date', points: 5, source: new Date(0) })
    expect(await c.raw(dated)).toEqual({
      id: 3,
      status: 'invalid_request',
      field: 'source',
      message: 'source is a MessagePack extension (a timestamp, type -1); frames hold only strings, numbers, booleans, nil, arrays and maps',
    })
    const binary = packr.pack({ id: 5, op: 'earn', account: 'm1', key: Buffer.from('k-bin'), points: 5 })
    expect(await c.raw(binary)).toEqual({ id: 5, status: 'invalid_request', field: 'key', message: 'key is binary data (MessagePack bin); send text as a string' })
    // `keyed` writes a map entry by entry; a Uint8Array value is spliced in as encoded already.
    const keyed = (...entries: [unknown, unknown][]): Uint8Array =>
      Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, v]) => [packr.pack(k), v instanceof Uint8Array ? v : packr.pack(v)])])
    // msgpackr's own extension 0x74 (a typed array) passed as an empty member.
    const typed = keyed(['id', 4], ['op', 'enroll'], ['account', 'm2'], ['key', 'k-typed'], ['program', 'demo'], ['member', Uint8Array.from([0xd4, 0x74, 0x00])])
    expect(await c.raw(Buffer.from(typed))).toMatchObject({ id: 4, status: 'invalid_request', field: 'member', message: expect.stringMatching(/^member is a MessagePack extension \(type 116\)/) })
    // Keys 1 and "1" in one map: msgpackr makes both the property "1", keeping the last.
    const line = keyed(['sku', 'x'], ['quantity', 1], ['unitPrice', 450], [1, 'a'], ['1', 'b'])
    const numbered = keyed(['id', 6], ['op', 'purchase'], ['account', 'm1'], ['key', 'k-num'], ['basket', keyed(['lines', Buffer.concat([Buffer.from([0x91]), line])])])
    expect(await c.raw(Buffer.from(numbered))).toEqual({ id: 6, status: 'invalid_request', field: 'basket.lines[0]', message: 'basket.lines[0] has a key that is not a string (MessagePack bytes 01); keys must be strings' })
    expect(await c.raw(Buffer.from(keyed(['id', 7], ['op', 'ping'], [true, 1])))).toEqual({ id: 7, status: 'invalid_request', field: 'frame', message: 'the frame has a key that is not a string (MessagePack bytes c3); keys must be strings' })
    // Plain frames still pass, and nothing above was applied.
    expect(await c.request({ id: 8, op: 'history', account: 'm1' }, 'msgpack')).toEqual({ ...before, id: 8 })
    expect((await c.request({ id: 9, op: 'balance', account: 'm2' }, 'msgpack'))['status']).toBe('account_not_found')
    expect(c.closed).toBeUndefined()
  })

  it('refuses a MessagePack frame nested deeper than 32 levels, saying so, and keeps the connection', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    // A frame { id, op: 'earn', meta: [[[...1]]] } nested `depth` arrays deep.
    const nested = (id: number, depth: number) =>
      Buffer.concat([Buffer.from([0x83]), packr.pack('id'), packr.pack(id), packr.pack('op'), packr.pack('earn'), packr.pack('meta'), Buffer.alloc(depth, 0x91), Buffer.from([0x01])])
    const message = 'the frame nests deeper than 32 levels (arrays and maps)'
    // Before: "the frame is not valid MessagePack: Maximum call stack size exceeded". Checked before
    // the frame is decoded, so the reply has no id, as for other frames that cannot be read.
    expect(await c.raw(nested(1, 20_000))).toEqual({ status: 'invalid_request', field: 'frame', message })
    expect(await c.raw(nested(2, 32))).toEqual({ status: 'invalid_request', field: 'frame', message })
    // 32 levels are read (and refused by the engine as an unknown field, as before).
    expect(await c.raw(nested(3, 31))).toMatchObject({ id: 3, status: 'invalid_request', field: 'meta' })
    expect(await c.request({ id: 4, op: 'ping' }, 'msgpack')).toMatchObject({ id: 4, status: 'ok' })
    // msgpackr's record extension: a definition, then 20,000 references, each read inside the one
    // before, which the nesting count (arrays and maps) does not see. Before: "Maximum call stack size exceeded".
    const records = Buffer.concat([Buffer.from([0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61]), Buffer.alloc(20_000, 0x40)])
    expect(await c.raw(records)).toEqual({ status: 'invalid_request', field: 'frame', message: 'the frame nests too deep to read (MessagePack extensions holding values inside one another)' })
    expect(await c.request({ id: 5, op: 'ping' }, 'msgpack')).toMatchObject({ id: 5, status: 'ok' })
    expect(c.closed).toBeUndefined()
  })

  it('closes a connection that sends a frame beyond the hard size limit', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    c.ws.send(JSON.stringify({ id: 1, op: 'ping', pad: 'x'.repeat(2 * 1024 * 1024) }))
    expect((await c.whenClosed()).code).toBe(1006)
  })

  it('drops a connection whose text frame is not UTF-8, applying nothing; other terminals go on', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const frame = Buffer.concat([Buffer.from('{"id":1,"op":"earn","account":"m1","key":"k","points":5,"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
    c.ws.send(frame, { binary: false })
    // RFC 6455 fails such a connection; uWebSockets ends it without a close frame, so the client sees 1006.
    expect((await c.whenClosed()).code).toBe(1006)
    expect((await h.engine.execute({ op: 'history', account: 'm1' })).status).toBe('account_not_found')
    const other = await terminal(url, h)
    expect(await other.request({ id: 1, op: 'ping' })).toMatchObject({ id: 1, status: 'ok' })
  })

  it('pipelines many requests on one connection, each answered once by id', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    await c.request({ id: 'e', op: 'enroll', account: 'm1', key: 'join', program: 'demo' })
    const replies = await Promise.all(Array.from({ length: 500 }, (_, i) =>
      c.request({ id: `q${i}`, op: 'earn', account: `m${i % 7}`, key: `k${i}`, points: 1 })))
    expect(replies.map((r) => r['id'])).toEqual(Array.from({ length: 500 }, (_, i) => `q${i}`))
    expect(replies.every((r) => r['status'] === 'ok')).toBe(true)
  })

  it('answers requests past the in-flight limit with overloaded at once, and loses none', async () => {
    const { h, url } = await setup({ inFlightMax: 4 })
    const c = await terminal(url, h)
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      c.request({ id: i, op: 'earn', account: 'm1', key: `k${i}`, points: 1 })))
    const statuses = replies.map((r) => r['status'])
    expect(statuses.filter((s) => s === 'overloaded').length).toBeGreaterThan(0)
    expect(statuses.every((s) => s === 'ok' || s === 'overloaded')).toBe(true)
    const applied = statuses.filter((s) => s === 'ok').length
    expect((await h.engine.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(applied)
  })

  it('replays by key and stamps the journal with the terminal, whatever the client claims', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const first = await c.request({ id: 1, op: 'earn', account: 'm1', key: 'k1', points: 10, source: { terminal: 'forged', store: 'elsewhere' } })
    const again = await c.request({ id: 2, op: 'earn', account: 'm1', key: 'k1', points: 10, source: { terminal: 'forged', store: 'elsewhere' } })
    expect(first).toMatchObject({ status: 'ok', entry: 1 })
    expect(again).toMatchObject({ status: 'exists', entry: 1 })
    const history = await h.engine.execute({ op: 'history', account: 'm1' })
    expect(history.entries?.[0]?.source).toEqual({ terminal: 'pos-1', store: 'store-1' })
  })

  it('pushes to a connected terminal', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    await c.request({ id: 1, op: 'ping' })
    expect(h.gateway.push('pos-1', { push: 'card', card: '6001 0000 0042' })).toBe(true)
    const pushed = await waitFor(() => c.frames.find((f) => f['push'] === 'card'))
    expect(pushed).toEqual({ push: 'card', card: '6001 0000 0042' })
    expect(c.binary.has(pushed)).toBe(false)
    // A terminal that talks MessagePack gets its pushes in MessagePack.
    await c.request({ id: 2, op: 'ping' }, 'msgpack')
    expect(h.gateway.push('pos-1', { push: 'card', card: '6001 0000 0043' })).toBe(true)
    const packed = await waitFor(() => c.frames.find((f) => f['card'] === '6001 0000 0043'))
    expect(c.binary.has(packed)).toBe(true)
    expect(h.gateway.push('pos-unknown', { push: 'card' })).toBe(false)
  })

  it('holds replies for a reader that stops reading, then delivers every one', async () => {
    const { h, url } = await setup({ sendBufferBytesMax: 4096 })
    const c = await terminal(url, h)
    for (let i = 0; i < 40; i++) await c.request({ id: `s${i}`, op: 'earn', account: 'm1', key: `seed${i}`, points: 1 })
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    const count = 300
    for (let i = 0; i < count; i++) c.ws.send(JSON.stringify({ id: `h${i}`, op: 'history', account: 'm1', limit: 40 }))
    await new Promise((r) => setTimeout(r, 300))
    socket.resume()
    await waitFor(() => (c.frames.filter((f) => String(f['id']).startsWith('h')).length === count ? true : undefined), 10_000)
    const ids = new Set(c.frames.map((f) => f['id']))
    for (let i = 0; i < count; i++) expect(ids.has(`h${i}`)).toBe(true)
    expect(c.closed).toBeUndefined()
  })
  it('closes a connection that keeps sending without reading its replies, once queuedRepliesMax wait', async () => {
    const warnings: string[] = []
    const logger = { ...silentLogger, warn: (message: string) => warnings.push(message) }
    const { h, url } = await setup({ logger, sendBufferBytesMax: 1024, queuedRepliesMax: 50 })
    const c = await terminal(url, h)
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    // Frames with an id too long are refused at once, outside any window: only the queue's
    // limit stops them.
    await sendUnread(c, () => warnings.length > 0)
    const warning = await waitFor(() => warnings.find((w) => w.includes('queuedRepliesMax')), 10_000)
    expect(warning).toMatch(/^closing \S+: 50 replies unread \(queuedRepliesMax\)$/)
    socket.resume()
    await waitFor(() => c.closed, 10_000)
    expect(c.closed).toEqual({ code: 1008, reason: 'replies are not being read' })
  })

  it('counts replies it could not write yet against inFlightMax', async () => {
    const { h, url } = await setup({ sendBufferBytesMax: 1024, inFlightMax: 8, queuedRepliesMax: 100_000 })
    const c = await terminal(url, h)
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    // The kernel's buffers for a reader that never reads take a few MB of the refusals'
    // replies, the rest waits in the connection's queue. Then earns, nobody reads either.
    await sendUnread(c, () => false)
    await new Promise((r) => setTimeout(r, 200))
    // One at a time, each given time to be answered: only unwritten replies can fill the window.
    for (let i = 0; i < 40; i++) {
      c.ws.send(JSON.stringify({ id: `e${i}`, op: 'earn', account: 'm1', key: `q${i}`, points: 1 }))
      await new Promise((r) => setTimeout(r, 25))
    }
    socket.resume()
    const earns = await waitFor(() => {
      const got = c.frames.filter((f) => String(f['id']).startsWith('e'))
      return got.length === 40 ? got : undefined
    }, 20_000)
    const statuses = earns.map((f) => f['status'])
    // The queued replies held the window: every earn was refused at once, and none applied.
    expect(statuses).toEqual(Array.from({ length: 40 }, () => 'overloaded'))
    const balance = await h.engine.execute({ op: 'balance', account: 'm1' })
    expect(balance.balance?.available ?? 0).toBe(0)
    expect(c.closed).toBeUndefined()
  })
})

describe('WebSocket correlation ids', () => {
  /** Holds every command of `account` until `release()`; the others run as usual. */
  function hold(h: GatewayHarness, account: string) {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const execute = h.gateway.execute.bind(h.gateway)
    let held = 0
    vi.spyOn(h.gateway, 'execute').mockImplementation((principal, op, fields) => {
      if (fields['account'] !== account) return execute(principal, op, fields)
      held++
      return gate.then(() => execute(principal, op, fields))
    })
    return { release: () => release(), held: () => held }
  }

  it('refuses a request whose id is in flight on the connection at once, naming the id; the first gets its own reply, and the id is free again after it', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const gate = hold(h, 'm1')
    c.ws.send(JSON.stringify({ id: 7, op: 'earn', account: 'm1', key: 'k1', points: 5 }))
    await waitFor(() => (gate.held() === 1 ? true : undefined))
    // Same id while the first runs: refused at once, not run, whatever the op.
    const refused = await c.raw(JSON.stringify({ id: 7, op: 'earn', account: 'm1', key: 'k2', points: 3 }))
    const duplicate = { id: 7, status: 'invalid_request', field: 'id', message: 'id 7 is in flight on this connection: wait for its reply before using the id again' }
    expect(refused).toEqual(duplicate)
    expect(await c.raw(packr.pack({ id: 7, op: 'ping' }))).toEqual(duplicate)
    expect(await c.raw(JSON.stringify({ id: 7, op: 'balance', account: 'm2' }))).toEqual(duplicate)
    // Ids are told apart as they are sent: the string "7" is another id than the number 7.
    expect(await c.request({ id: '7', op: 'ping' })).toEqual({ id: '7', status: 'ok' })
    expect(gate.held()).toBe(1)
    gate.release()
    // The test client matches by id, as a terminal does: the first frame under 7 that is not a refusal.
    expect(await waitFor(() => c.frames.find((f) => f['id'] === 7 && f['status'] !== 'invalid_request'))).toMatchObject({ id: 7, status: 'ok', points: 5 })
    expect(c.frames.filter((f) => f['id'] === 7)).toHaveLength(4)
    // Answered: the id may be used again, and the refused earn was never applied.
    expect(await c.request({ id: 7, op: 'earn', account: 'm1', key: 'k3', points: 2 })).toMatchObject({ id: 7, status: 'ok', points: 2 })
    expect((await h.engine.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(7)
    expect(c.closed).toBeUndefined()
  })

  it('refuses a string id in flight alike, in MessagePack, and keeps ids apart per connection', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const other = await terminal(url, h)
    const gate = hold(h, 'm1')
    c.ws.send(packr.pack({ id: 'till-1/42', op: 'earn', account: 'm1', key: 'k1', points: 5 }))
    await waitFor(() => (gate.held() === 1 ? true : undefined))
    const refused = await c.raw(packr.pack({ id: 'till-1/42', op: 'earn', account: 'm1', key: 'k2', points: 3 }))
    expect(refused).toEqual({ id: 'till-1/42', status: 'invalid_request', field: 'id', message: 'id "till-1/42" is in flight on this connection: wait for its reply before using the id again' })
    expect(c.binary.has(refused)).toBe(true)
    // Another connection's ids are its own.
    expect(await other.request({ id: 'till-1/42', op: 'balance', account: 'm2' })).toMatchObject({ id: 'till-1/42', status: 'account_not_found' })
    gate.release()
    const first = await waitFor(() => c.frames.find((f) => f['id'] === 'till-1/42' && f['status'] !== 'invalid_request'))
    expect(first).toMatchObject({ id: 'till-1/42', status: 'ok', points: 5 })
    expect(c.binary.has(first)).toBe(true)
    expect((await h.engine.execute({ op: 'balance', account: 'm1' })).balance?.available).toBe(5)
  })
})

describe('WebSocket member look-up and enrolment at the till', () => {
  it('joins a new member with a card, looks them up by card, and refuses a blocked card', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const joined = await c.request({ id: 1, op: 'join', key: 'join-0001', program: 'demo', card: '6001 2345 6789', member: { firstName: 'Ada', email: 'ada@example.com', country: 'GB' } })
    expect(joined).toMatchObject({ id: 1, status: 'ok', tier: 'bronze', points: 100, member: { firstName: 'Ada', status: 'active', program: 'demo' } })
    // A retry with the same key finds the same member and replays the enrolment.
    const again = await c.request({ id: 2, op: 'join', key: 'join-0001', program: 'demo', card: '6001 2345 6789', member: { firstName: 'Ada', email: 'ada@example.com', country: 'GB' } })
    expect(again).toMatchObject({ status: 'exists', member: { id: (joined['member'] as { id: string }).id } })
    const found = await c.request({ id: 3, op: 'lookup', card: '600123456789' })
    expect(found).toMatchObject({ status: 'ok', tier: 'bronze', balance: { available: 100 }, member: { firstName: 'Ada' } })
    expect(await c.request({ id: 4, op: 'purchase', card: '600123456789', key: 'p1', basket: { lines } })).toMatchObject({ status: 'ok', points: 129 })
    await h.engine.members.setCardStatus('card', '600123456789', 'blocked', { kind: 'admin', id: 'ops' })
    expect(await c.request({ id: 5, op: 'lookup', card: '600123456789' })).toMatchObject({ status: 'card_blocked', field: 'card' })
    expect(await c.request({ id: 6, op: 'redeem', card: '600123456789', key: 'r1', points: 5 })).toMatchObject({ status: 'card_blocked' })
    expect(await c.request({ id: 7, op: 'lookup', card: '999999999' })).toMatchObject({ status: 'account_not_found', field: 'card' })
    expect(await c.request({ id: 8, op: 'lookup', card: 'x', phone: '+15550000000' })).toMatchObject({ status: 'invalid_request' })
    expect(await c.request({ id: 9, op: 'join', key: 'join-0002', program: 'demo', member: { email: 'ada@example.com' } })).toMatchObject({ status: 'invalid_request', field: 'member.email' })
    expect(await c.request({ id: 10, op: 'join', key: 'join-0003', program: 'demo', member: { shoeSize: 44 } })).toMatchObject({ status: 'invalid_request', field: 'member.shoeSize' })
    // An unknown program is refused before the member is made: nothing stays behind.
    const members = h.engine.members.count()
    expect(await c.request({ id: 11, op: 'join', key: 'join-0004', program: 'nope', member: { firstName: 'Bo' } })).toMatchObject({ status: 'invalid_request', field: 'program', message: 'no program nope in the active ruleset' })
    expect(h.engine.members.count()).toBe(members)
  })

  it('checks the whole join before making the member, and refuses a join that contradicts an existing member', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    const members = h.engine.members.count()
    // Refused by the enrolment's own checks: nothing may be created first.
    expect(await c.request({ id: 1, op: 'join', key: 'j\u0000k', program: 'demo' })).toMatchObject({ status: 'invalid_request', field: 'key' })
    expect(await c.request({ id: 2, op: 'join', key: 'j2', program: 'demo', member: { segments: [''] } })).toMatchObject({ status: 'invalid_request', field: 'member.segments[0]' })
    // A source that is not an object was dropped, and the member made without it.
    expect(await c.request({ id: 12, op: 'join', key: 'j12', program: 'demo', source: 'till' })).toMatchObject({ status: 'invalid_request', field: 'source' })
    // A member id that is not a string was replaced by the derived one, and that member made.
    expect(await c.request({ id: 13, op: 'join', key: 'j13', program: 'demo', member: { id: 42 } })).toMatchObject({ status: 'invalid_request', field: 'member.id' })
    // Profile text that is not text: the registry threw on it (answered unavailable).
    expect(await c.request({ id: 14, op: 'join', key: 'j14', program: 'demo', member: { email: 5 } })).toMatchObject({ status: 'invalid_request', field: 'member.email' })
    expect(await c.request({ id: 15, op: 'join', key: 'j15', program: 'demo', member: { phone: { n: 1 } } })).toMatchObject({ status: 'invalid_request', field: 'member.phone' })
    expect(h.engine.members.count()).toBe(members)
    // A member who exists (made by the console, not enrolled): join enrols them, but does not drop a card or profile.
    await h.engine.members.create({ id: 'known-1', program: 'demo', firstName: 'Ada', email: 'ada@example.com' }, { kind: 'admin', id: 'ops' })
    const taken = await c.request({ id: 3, op: 'join', key: 'j3', program: 'demo', member: { id: 'known-1', firstName: 'Mallory' }, card: '7777000000000002' })
    expect(taken).toMatchObject({ status: 'invalid_request', field: 'member.firstName' })
    expect(taken['message']).toMatch(/member known-1 exists already with another firstName/)
    expect(await c.request({ id: 4, op: 'join', key: 'j4', program: 'demo', member: { id: 'known-1' }, card: '7777000000000002' })).toMatchObject({ status: 'invalid_request', field: 'card' })
    expect(await c.request({ id: 5, op: 'lookup', card: '7777000000000002' })).toMatchObject({ status: 'account_not_found' })
    // The same details as stored (email in another case) are no contradiction: the member is enrolled.
    const joined = await c.request({ id: 6, op: 'join', key: 'j6', program: 'demo', member: { id: 'known-1', firstName: 'Ada', email: 'ADA@example.com' } })
    expect(joined).toMatchObject({ status: 'ok', tier: 'bronze', member: { id: 'known-1' } })
    expect(h.engine.members.count()).toBe(members + 1)
    // A retry of a join is no contradiction, whatever the registry trimmed or left out when it stored it.
    const messy = { id: 7, op: 'join', key: 'j7', program: 'demo', card: '7777 0000 0000 0003', member: { firstName: 'Bo ', gender: ' f', segments: [], phone: '+44 20 7946 0000' } }
    expect(await c.request(messy)).toMatchObject({ status: 'ok' })
    expect(await c.request({ ...messy, id: 8 })).toMatchObject({ status: 'exists' })
    expect(h.engine.members.count()).toBe(members + 2)
  })
})

describe('WebSocket transfers', () => {
  it('transfers points between members and reports refusals', async () => {
    const { h, url } = await setup()
    const c = await terminal(url, h)
    await c.request({ id: 1, op: 'earn', account: 'giver', key: 'seed', points: 500 })
    await c.request({ id: 3, op: 'earn', account: 'taker', key: 'seed', points: 1 })
    // A terminal may not move points between members; a processor may (see gateway roles).
    expect(await c.request({ id: 2, op: 'transfer', account: 'giver', key: 't1', to: 'taker', points: 100 })).toMatchObject({ status: 'unauthorized' })
    const processor = { kind: 'processor' as const, id: 'psp' }
    const done = await h.gateway.execute(processor, 'transfer', { account: 'giver', key: 't1', to: 'taker', points: 100 })
    expect(done).toMatchObject({ status: 'ok', transfer: { state: 'done', points: 100 } })
    expect((await h.engine.execute({ op: 'balance', account: 'taker' })).balance?.available).toBe(101)
    // A till cannot "return" the gift by its ref (it took it back from the taker and gave the giver nothing), nor earn on such a ref.
    const ref = (await h.engine.execute({ op: 'history', account: 'taker' })).entries!.find((e) => e.ref?.startsWith('transfer:'))!.ref!
    expect(await c.request({ id: 5, op: 'reverse', account: 'taker', key: 'back', ref })).toMatchObject({ status: 'invalid_request', field: 'ref' })
    expect(await c.request({ id: 6, op: 'earn', account: 'taker', key: 'fake', ref: 'transfer:x', points: 5 })).toMatchObject({ status: 'invalid_request', field: 'ref' })
    expect((await h.engine.execute({ op: 'balance', account: 'taker' })).balance?.available).toBe(101)
    // Points sent to an account nobody has would be lost: refused, nothing moved.
    const nowhere = await h.gateway.execute(processor, 'transfer', { account: 'giver', key: 't4', to: 'nobody-x', points: 5 })
    expect(nowhere).toMatchObject({ status: 'account_not_found', field: 'to' })
    expect((await h.engine.execute({ op: 'balance', account: 'giver' })).balance?.available).toBe(400)
    const short = await h.gateway.execute(processor, 'transfer', { account: 'giver', key: 't2', to: 'taker', points: 1000 })
    expect(short).toMatchObject({ status: 'insufficient_points', transfer: { state: 'failed' } })
    expect(await h.gateway.execute(processor, 'transfer', { account: 'giver', key: 't3', to: 'taker', points: 'lots' })).toMatchObject({ status: 'invalid_request', field: 'points' })
    // A bad sender is named as the caller named it: account, not the saga's from.
    const hidden = await h.gateway.execute(processor, 'transfer', { account: 'giver\u200b', key: 't5', to: 'taker', points: 5 })
    expect(hidden).toMatchObject({ status: 'invalid_request', field: 'account', message: expect.stringMatching(/^account must not contain/) })
  })
})

describe('WebSocket device sessions', () => {
  async function deviceSession(url: string, h: GatewayHarness, device: unknown = 'till-1 readers') {
    const c = new Client(url)
    await c.opened()
    cleanups.push(async () => void c.ws.close())
    const reply = await c.request({ id: 'auth', op: 'auth', terminal: h.terminal.id, secret: h.terminal.secret, device })
    return { c, reply }
  }

  it('pushes a presented card to the POS connections of the terminal, not to the device session', async () => {
    const { h, url } = await setup()
    const pos = await terminal(url, h)
    await pos.request({ id: 1, op: 'join', key: 'join-ada', program: 'demo', card: '6001 2345 6789', member: { firstName: 'Ada' } })
    const { c: device, reply } = await deviceSession(url, h)
    expect(reply).toMatchObject({ status: 'ok', message: 'terminal pos-1 (device till-1 readers)' })
    const presented = { id: 'p1', op: 'present', key: 'read-1', card: { type: 'card', value: '600123456789' }, reader: 'msr' }
    expect(await device.request(presented)).toEqual({ id: 'p1', status: 'ok', pushed: true })
    const push = await waitFor(() => pos.frames.find((f) => f['push'] === 'card'))
    expect(push).toMatchObject({ push: 'card', key: 'read-1', status: 'ok', reader: 'msr', member: { firstName: 'Ada' }, balance: { available: 100 } })
    // The retry of a read whose answer was lost: answered, not pushed twice.
    expect(await device.request({ ...presented, id: 'p2' })).toEqual({ id: 'p2', status: 'exists', pushed: false })
    await pos.request({ id: 2, op: 'ping' })
    expect(pos.frames.filter((f) => f['push'] === 'card')).toHaveLength(1)
    expect(device.frames.some((f) => f['push'] !== undefined)).toBe(false)
  })

  it('answers pushed: false when no POS connection is open, and binary frames alike', async () => {
    const { h, url } = await setup()
    const { c: device } = await deviceSession(url, h)
    const reply = await device.request({ id: 1, op: 'present', key: 'read-1', card: { type: 'nfc', value: '04A2B3C4D5E680' } }, 'msgpack')
    expect(reply).toMatchObject({ id: 1, status: 'account_not_found', pushed: false })
  })

  it('refuses a bad device name, bad present frames naming the field, and presenting before auth', async () => {
    const { h, url } = await setup()
    const anonymous = new Client(url)
    await anonymous.opened()
    cleanups.push(async () => void anonymous.ws.close())
    expect(await anonymous.request({ id: 1, op: 'present', key: 'k', card: { type: 'card', value: '600123456789' } })).toMatchObject({ status: 'unauthorized' })
    expect((await deviceSession(url, h, '')).reply).toMatchObject({ status: 'invalid_request', field: 'device' })
    expect((await deviceSession(url, h, { name: 'x' })).reply).toMatchObject({ status: 'invalid_request', field: 'device' })
    const { c: device } = await deviceSession(url, h)
    expect(await device.request({ id: 2, op: 'present', key: 'k', card: { type: 'barcode', value: '600123456789' } })).toMatchObject({ status: 'invalid_request', field: 'card.type' })
    expect(await device.request({ id: 3, op: 'present', card: { type: 'card', value: '600123456789' } })).toMatchObject({ status: 'invalid_request', field: 'key' })
    expect(device.closed).toBeUndefined()
  })
})
