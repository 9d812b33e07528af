/**
 * The gRPC adapter end to end: a real engine with the demo program behind the
 * gateway, the server on a real socket, and a @grpc/grpc-js client that loads
 * the same `proto/loyalty.proto`. Covers unary operations, application
 * statuses as Replies, invalid input, authentication and roles, idempotent
 * replays, the bidirectional Stream (interleaving, missing op, the in-flight
 * limit, half-close), deadlines, health, reflection and TLS.
 *
 * The client decodes with `defaults: true`, so a Reply's `status` reads 'OK'
 * even though proto3 leaves the zero enum value off the wire, and with
 * `oneofs: false`, so replies carry no `_field` discriminators.
 *
 * @module
 */
import { createRequire } from 'node:module'
import { connect as http2Connect } from 'node:http2'
import { Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  Client,
  credentials as clientCredentials,
  makeGenericClientConstructor,
  Metadata,
  status,
  type CallOptions,
  type ChannelCredentials,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js'
import { loadSync, type MethodDefinition, type ServiceDefinition } from '@grpc/proto-loader'
import { service as healthService } from 'grpc-health-check'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger, type Engine } from '@loyalty/engine'
import { Gateway, type Principal } from '../core/gateway.ts'
import { createHttpApp } from '../http/app.ts'
import { gatewayHarness, type GatewayHarness } from '../testing/harness.ts'
import {
  loyaltyProtoPath,
  loyaltyService,
  protoLoadOptions,
  startGrpcServer,
  type GrpcServerOptions,
} from './server.ts'

type Wire = Record<string, unknown>

const clientLoadOptions = { ...protoLoadOptions, defaults: true, oneofs: false }
const definition = loadSync(loyaltyProtoPath, clientLoadOptions)
const loyalty = definition['loyalty.v1.Loyalty'] as ServiceDefinition

function method(name: string): MethodDefinition<Wire, Wire> {
  const found = loyalty[name]
  if (found === undefined) throw new Error(`no method ${name}`)
  return found as MethodDefinition<Wire, Wire>
}

/** A self-signed certificate for localhost and 127.0.0.1, valid 2000 to 2100; for tests only. */
const testCert = `-----BEGIN CERTIFICATE-----
MIIBZTCCAQqgAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAlsb2NhbGhv
c3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEmwsLVThj6eTSqT
U7bwsAYbz1xxce5KamXqoYD6NaxSQ3BdpOllbaJtkR3IJ/s1xJXjks8eaSCV6ls3
iheUqP+jSzBJMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAAATAMBgNVHRMBAf8E
AjAAMB0GA1UdDgQWBBReZUOPM/2rZZ0yqPxIds8I9ojWbTAKBggqhkjOPQQDAgNJ
ADBGAiEAgUpfCobCbZwcxALqjevIlx4TQ4L4+uiRELeVaHa28DICIQCLkU2P6PU3
3aIjRPXzTfYNyh2UFlO5Icl0sEQ8IhQOnQ==
-----END CERTIFICATE-----
`
const testKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRZdfODMlQrFjB7aD
6TVQI/dN03kFImUewBDM8nHiqHqhRANCAARJsLC1U4Y+nk0qk1O28LAGG89ccXHu
Smpl6qGA+jWsUkNwXaTpZW2ibZEdyCf7NcSV45LPHmkglepbN4oXlKj/
-----END PRIVATE KEY-----
`

/** A gateway whose commands wait until `open()`: keeps requests in flight on purpose. */
class GatedGateway extends Gateway {
  started = 0
  #open: () => void = () => {}
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve))

  constructor(engine: Engine) {
    super(engine)
  }

  override async execute(principal: Principal, op: unknown, fields: Record<string, unknown>) {
    this.started++
    await this.#gate
    return super.execute(principal, op, fields)
  }

  open(): void {
    this.#open()
  }
}

/**
 * A stand-in for grpc-js's server-side Stream call whose writes complete only
 * on `release()`: lets a test see what the server does when `write` says no.
 */
class HeldCall extends Duplex {
  readonly metadata = new Metadata()
  cancelled = false
  readonly written: Wire[] = []
  ended = false
  readonly #held: (() => void)[] = []

  constructor(token: string) {
    super({ objectMode: true, writableHighWaterMark: 2 })
    this.metadata.set('authorization', `Bearer ${token}`)
  }

  override _read() {}

  override _write(chunk: Wire, _encoding: string, done: () => void) {
    this.written.push(chunk)
    this.#held.push(done)
  }

  override _final(done: () => void) {
    this.ended = true
    done()
  }

  getPeer() {
    return 'held-call'
  }

  getDeadline() {
    return Infinity
  }

  release() {
    for (const done of this.#held.splice(0)) done()
  }
}

interface Fixture {
  h: GatewayHarness
  /** `127.0.0.1:<port>` of the server. */
  address: string
  /** A client with the processor token (or `token`; null sends none). */
  client(token?: string | null, channel?: ChannelCredentials): LoyaltyClient
}

const disposers: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose()
})

async function setUp(
  options: { gateway?: (h: GatewayHarness) => Gateway } & Partial<GrpcServerOptions> = {},
): Promise<Fixture> {
  const h = await gatewayHarness()
  disposers.push(async () => {
    await h[Symbol.asyncDispose]()
  })
  const gateway = options.gateway?.(h) ?? h.gateway
  const listen = { host: '127.0.0.1', logger: silentLogger, ...options, port: 0 }
  const server = await startGrpcServer(gateway, listen)
  disposers.push(() => server.close())
  const address = `127.0.0.1:${server.port}`
  return {
    h,
    address,
    client(token = h.processorToken, channel = clientCredentials.createInsecure()) {
      const client = new LoyaltyClient(address, channel, token)
      disposers.push(async () => client.close())
      return client
    },
  }
}

class LoyaltyClient {
  readonly raw: Client
  readonly #token: string | null

  constructor(address: string, channel: ChannelCredentials, token: string | null) {
    this.raw = new Client(address, channel)
    this.#token = token
  }

  metadata(): Metadata {
    const metadata = new Metadata()
    if (this.#token !== null) metadata.set('authorization', `Bearer ${this.#token}`)
    return metadata
  }

  /** One unary call; rejects with the ServiceError on a non-OK grpc status. */
  call(name: string, request: Wire, options: CallOptions = {}): Promise<Wire> {
    const m = method(name)
    return unary(this.raw, m, request, this.metadata(), options)
  }

  stream(name: 'Stream' | 'Bulk' = 'Stream'): ClientDuplexStream<Wire, Wire> {
    const m = method(name)
    const metadata = this.metadata()
    return this.raw.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, metadata)
  }

  close(): void {
    this.raw.close()
  }
}

function unary(
  client: Client,
  m: MethodDefinition<Wire, Wire>,
  request: Wire,
  metadata: Metadata,
  options: CallOptions = {},
): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const done = (error: ServiceError | null, reply?: Wire) => {
      if (error === null) resolve(reply!)
      else reject(error)
    }
    const { path, requestSerialize, responseDeserialize } = m
    client.makeUnaryRequest(path, requestSerialize, responseDeserialize, request, metadata, options, done)
  })
}

async function available(client: LoyaltyClient, account: string): Promise<unknown> {
  const reply = await client.call('Balance', { account })
  return (reply['balance'] as Wire | null)?.['available']
}

/** Sends every request, half-closes, and collects replies until the server ends the stream. */
function exchange(stream: ClientDuplexStream<Wire, Wire>, requests: Wire[]): Promise<Wire[]> {
  const replies: Wire[] = []
  const done = new Promise<Wire[]>((resolve, reject) => {
    stream.on('data', (reply: Wire) => replies.push(reply))
    stream.on('end', () => resolve(replies))
    stream.on('error', reject)
  })
  for (const request of requests) stream.write(request)
  stream.end()
  return done
}

/**
 * One call over a bare HTTP/2 stream, with headers a grpc-js client would not send (a
 * grpc-timeout that has run out already): its grpc-status and the messages it got.
 */
async function rawCall(f: Fixture, name: string, request: Wire, headers: Record<string, string>) {
  const m = method(name)
  const session = http2Connect(`http://${f.address}`)
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': m.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${f.h.processorToken}`,
      ...headers,
    })
    const body = m.requestSerialize(request)
    const frame = Buffer.alloc(5 + body.length)
    frame.writeUInt32BE(body.length, 1)
    body.copy(frame, 5)
    const chunks: Buffer[] = []
    let grpcStatus: string | undefined
    const statusOf = (fields: Record<string, unknown>) => {
      if (fields['grpc-status'] !== undefined) grpcStatus = String(fields['grpc-status'])
    }
    stream.on('response', statusOf)
    stream.on('trailers', statusOf)
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.end(frame)
    await new Promise((resolve) => stream.on('close', resolve))
    const bytes = Buffer.concat(chunks)
    const messages: Wire[] = []
    for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt32BE(at + 1)) {
      messages.push(m.responseDeserialize(bytes.subarray(at + 5, at + 5 + bytes.readUInt32BE(at + 1))))
    }
    return { status: grpcStatus, messages }
  } finally {
    session.close()
  }
}

async function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise
  } catch (error) {
    return error as ServiceError
  }
  throw new Error('the call succeeded; an error was expected')
}

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 500; i++) {
    if (condition()) return
    await sleep(10)
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function enrolled(client: LoyaltyClient, account: string) {
  const reply = await client.call('Enroll', { account, key: `join-${account}`, program: 'demo' })
  expect(reply['status']).toBe('OK')
  return reply
}

describe('gRPC unary operations', () => {
  it('enrolls, earns, redeems and reads the balance with the demo program', async () => {
    const client = (await setUp()).client()
    const enroll = await enrolled(client, 'm1')
    expect(enroll).toMatchObject({ points: 100, tier: 'bronze', balance: { available: 100 } })
    const bonus = { source: 'tier_bonus', id: 'bronze', name: 'Bronze', points: 100 }
    expect(enroll['breakdown']).toEqual([bonus])
    const earnRequest = { account: 'm1', key: 'e1', points: 500, amount: 5000, reason: 'welcome' }
    const earn = await client.call('Earn', earnRequest)
    expect(earn).toMatchObject({ status: 'OK', points: 500, balance: { available: 600, held: 0 } })
    expect(earn['entry']).toBeGreaterThan(0)
    const redeem = await client.call('Redeem', { account: 'm1', key: 'r1', points: 250 })
    expect(redeem).toMatchObject({ status: 'OK', points: 250, balance: { available: 350 } })
    const balance = await client.call('Balance', { account: 'm1' })
    expect(balance).toMatchObject({ status: 'OK', balance: { available: 350, pending: 0 } })
  })

  it('tells an authorize the held points by expiry date, when some of them expire', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm30')
    const soon = Date.now() + 86_400_000
    expect(await client.call('Earn', { account: 'm30', key: 'e1', points: 300, expiresAt: soon })).toMatchObject({ status: 'OK' })
    const hold = await client.call('Authorize', { account: 'm30', key: 'a1', points: 350 })
    expect(hold).toMatchObject({ status: 'OK', points: 350 })
    // The enrolment's 100 expire under the demo program's policy (end of next year): later, so second.
    const lots = hold['heldLots'] as { points: number; expiresAt: number; activeFrom: number }[]
    expect(lots).toEqual([
      { points: 300, expiresAt: soon, activeFrom: expect.any(Number) },
      { points: 50, expiresAt: expect.any(Number), activeFrom: expect.any(Number) },
    ])
    expect(lots[0]!.activeFrom).toBeLessThanOrEqual(Date.now())
    expect(lots[1]!.expiresAt).toBeGreaterThan(soon)
    // Points that never expire need no dates.
    await client.call('Earn', { account: 'm31', key: 'e1', points: 20 })
    const plain = await client.call('Authorize', { account: 'm31', key: 'a1', points: 10 })
    expect(plain).toMatchObject({ status: 'OK', points: 10 })
    expect(plain['heldLots'] ?? []).toEqual([])
  })

  it('tells a return how many of its points had expired unspent, in the reply and the history', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm32')
    const earned = await client.call('Earn', { account: 'm32', key: 'e1', points: 40, ref: 'r1', expiresAt: Date.now() + 300 })
    expect(earned).toMatchObject({ status: 'OK' })
    await new Promise((resolve) => setTimeout(resolve, 400))
    const returned = await client.call('Reverse', { account: 'm32', key: 'v1', ref: 'r1' })
    // The 40 expired unspent: nothing is taken from the enrolment's 100, and nothing is owed.
    expect(returned).toMatchObject({ status: 'OK', points: 0, lapsed: 40, balance: { available: 100 } })
    const history = await client.call('History', { account: 'm32', limit: 1 })
    expect((history['entries'] as unknown[])[0]).toMatchObject({ kind: 'reverse', points: 0, lapsed: 40 })
  })

  it('prices a purchase by the demo rules and returns the breakdown', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm2')
    const basket = {
      lines: [
        { sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 },
        { sku: 'mug', quantity: 1, unitPrice: 2000, discount: 500 },
      ],
      promoCodes: [],
      channel: 'store',
    }
    const preview = await client.call('Preview', { account: 'm2', basket })
    expect(preview['status']).toBe('OK')
    const purchase = await client.call('Purchase', { account: 'm2', key: 'p1', basket })
    expect(purchase['status']).toBe('OK')
    const breakdown = purchase['breakdown'] as { id: string; points: number }[]
    const ids = breakdown.map((line) => line.id)
    expect(ids).toEqual(expect.arrayContaining(['base', 'coffee', 'first-purchase']))
    expect(breakdown.find((line) => line.id === 'coffee')?.points).toBe(20)
    expect(purchase['points']).toBe(breakdown.reduce((sum, line) => sum + line.points, 0))
    expect(purchase['balance']).toMatchObject({ available: 100 + (purchase['points'] as number) })
    const member = await client.call('Member', { account: 'm2' })
    expect(member['membership']).toMatchObject({ program: 'demo', tier: 'bronze', purchases: 1 })
  })

  it('returns a purchase by its lines: the TV takes back its own points, not half the basket, and bad lines are named', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm33')
    const basket = {
      lines: [
        { sku: 'tv', category: 'tv', quantity: 1, unitPrice: 50_000 },
        { sku: 'card', category: 'gift-cards', quantity: 1, unitPrice: 50_000 },
      ],
    }
    const purchase = await client.call('Purchase', { account: 'm33', key: 'p1', basket })
    expect(purchase).toMatchObject({ status: 'OK' })
    const points = purchase['points'] as number
    // Every point but the first-purchase 100 is the TV's (the gift card is excluded), on any day of the week.
    const tv = await client.call('Reverse', { account: 'm33', key: 'r1', ref: 'p1', lines: [{ sku: 'tv', quantity: 1 }] })
    expect(tv).toMatchObject({ status: 'OK', points: points - 100 })
    for (const [lines, field] of [
      [[{ sku: 'tv', quantity: 0 }], 'lines[0].quantity'],
      [[{ quantity: 1 }], 'lines[0].sku'],
      [[{ sku: 'radio', quantity: 1 }], 'lines[0].sku'],
    ] as const) {
      const refused = await client.call('Reverse', { account: 'm33', key: `bad-${field}-${lines.length}`, ref: 'p1', lines })
      expect(refused, JSON.stringify(lines)).toMatchObject({ status: 'INVALID_REQUEST', field })
    }
    const both = await client.call('Reverse', { account: 'm33', key: 'both', ref: 'p1', amount: 100, lines: [{ sku: 'card', quantity: 1 }] })
    expect(both).toMatchObject({ status: 'INVALID_REQUEST', field: 'lines', message: 'give one of amount, points or lines, not amount and lines' })
    const card = await client.call('Reverse', { account: 'm33', key: 'r2', ref: 'p1', lines: [{ sku: 'card', quantity: 1 }] })
    expect(card).toMatchObject({ status: 'OK', points: 100, balance: { available: 100 } })
  })

  it('records which token sent a command as source.via, and refuses a processor claiming an operator or via', async () => {
    const f = await setUp()
    const client = f.client()
    const token = f.h.engine.credentials.tokens().find((t) => t.name === 'Processor')!
    const relayed = { account: 'm4', key: 'e1', points: 5, source: { terminal: 'till-1', store: 'S1' } }
    expect(await client.call('Earn', relayed)).toMatchObject({ status: 'OK' })
    const forged = { account: 'm4', key: 'e2', points: 5, source: { operator: 'admin' } }
    expect(await client.call('Earn', forged)).toMatchObject({ status: 'INVALID_REQUEST', field: 'source.operator' })
    const claimed = { account: 'm4', key: 'e3', points: 5, source: { via: 'someone-else' } }
    expect(await client.call('Earn', claimed)).toMatchObject({ status: 'INVALID_REQUEST', field: 'source.via' })
    const history = await client.call('History', { account: 'm4' })
    expect(history['entries']).toMatchObject([
      { key: 'e1', source: { terminal: 'till-1', store: 'S1', channel: 'processor', via: token.id } },
    ])
  })

  it('passes set optional fields and source through, and leaves absent ones out', async () => {
    const client = (await setUp()).client()
    const later = Date.now() + 86_400_000
    // Without the proto-loader artefacts dropped (`_activeFrom`), the engine would reject this.
    const locked = { account: 'm3', key: 'e1', points: 40, activeFrom: later, source: {} }
    const pending = await client.call('Earn', locked)
    expect(pending).toMatchObject({ status: 'OK', balance: { available: 0, pending: 40 } })
    const web = { account: 'm3', key: 'e2', points: 7, source: { channel: 'web' } }
    const tagged = await client.call('Earn', web)
    expect(tagged['status']).toBe('OK')
    const history = await client.call('History', { account: 'm3', limit: 1 })
    expect(history['status']).toBe('OK')
    const [entry] = history['entries'] as Wire[]
    expect(entry).toMatchObject({ kind: 'earn', points: 7, key: 'e2', source: { channel: 'web', via: expect.any(String) } })
    expect(history['next']).toBeGreaterThan(0)
  })

  it('answers application errors as a Reply with grpc status OK', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm4')
    const redeem = await client.call('Redeem', { account: 'm4', key: 'r1', points: 5000 })
    expect(redeem['status']).toBe('INSUFFICIENT_POINTS')
    expect(await available(client, 'm4')).toBe(100)
    const unknown = await client.call('Balance', { account: 'nobody' })
    expect(unknown['status']).toBe('ACCOUNT_NOT_FOUND')
  })

  it('refuses bytes that are not a well-formed message, naming the fault, applying nothing, and the channel goes on', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm6')
    const before = (await available(client, 'm6')) as number
    const earn = method('Earn')
    const sendBytes = (name: string, bytes: Buffer) =>
      unary(client.raw, { ...method(name), requestSerialize: () => bytes }, {}, client.metadata())
    const cases: [string, Buffer, string][] = [
      // account "m6", then a tag with wire type 7 (there is none) and a stray byte.
      ['Earn', Buffer.from([0x0a, 0x02, 0x6d, 0x36, 0x0f, 0x01]), 'field 1 at byte 4 has wire type 7, which does not exist'],
      // account claims 9 bytes, 2 follow.
      ['Earn', Buffer.from([0x0a, 0x09, 0x6d, 0x36]), 'field 1 at byte 0 claims 9 bytes, but 2 are left'],
      // points (field 3, varint) cut off after a continuation byte.
      ['Earn', Buffer.from([0x0a, 0x02, 0x6d, 0x36, 0x18, 0x85]), 'the varint of field 3 is cut off at byte 5'],
      ['Earn', Buffer.from([0x00, 0x01]), 'field number 0 at byte 0'],
      // key (a string) sent as a number: decoded alone, it would swallow the points after it.
      ['Earn', Buffer.from([0x0a, 0x02, 0x6d, 0x36, 0x10, 0x05, 0x18, 0x0a]),
        'field 2 (key) at byte 4 is sent as a varint, but the schema declares length-delimited bytes'],
      ['Earn', Buffer.from([0x0b, 0x0c]), 'field 1 at byte 0 is a group (wire type 3), which this schema does not use'],
    ]
    for (const [name, bytes, fault] of cases) {
      const refused = await sendBytes(name, bytes)
      expect(refused, fault).toMatchObject({
        status: 'INVALID_REQUEST',
        field: 'request',
        message: `the request is not a well-formed loyalty.v1.EarnRequest: ${fault}`,
      })
    }
    // Damage inside a nested message (the basket's first line) is found too.
    const request = Buffer.from([
      0x0a, 0x02, 0x6d, 0x36, // account "m6"
      0x12, 0x02, 0x70, 0x31, // key "p1"
      0x1a, 0x06, // basket (field 3), 6 bytes:
      0x0a, 0x04, // lines[0], 4 bytes:
      0x0a, 0x01, 0x78, // sku "x"
      0x18, // quantity (field 3, varint) with no varint after it
    ])
    expect(await sendBytes('Purchase', request)).toMatchObject({
      status: 'INVALID_REQUEST',
      field: 'request',
      message: 'the request is not a well-formed loyalty.v1.PurchaseRequest: the varint of field 3 is cut off at byte 16',
    })
    expect(await available(client, 'm6')).toBe(before)
    expect(await unary(client.raw, earn, { account: 'm6', key: 'after', points: 5 }, client.metadata())).toMatchObject({ status: 'OK' })
    expect(await available(client, 'm6')).toBe(before + 5)
  })

  it('answers a damaged Stream message INVALID_REQUEST and goes on with the next', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm7')
    const m = method('Stream')
    let next: Buffer | undefined
    const serialize = (request: Wire) => next ?? m.requestSerialize(request)
    const stream = client.raw.makeBidiStreamRequest(m.path, serialize, m.responseDeserialize, client.metadata())
    const replies: Wire[] = []
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (reply: Wire) => replies.push(reply))
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    next = Buffer.from([0x0a, 0x01, 0x61, 0x0f]) // id "a", then a tag with wire type 7
    stream.write({})
    next = undefined
    stream.write({ id: 'b', earn: { account: 'm7', key: 'k', points: 5 } })
    stream.end()
    await ended
    const byId = new Map(replies.map((r) => [r['id'], r['reply'] as Wire]))
    expect(byId.get('')).toMatchObject({
      status: 'INVALID_REQUEST',
      field: 'request',
      message: 'the request is not a well-formed loyalty.v1.StreamRequest: field 1 at byte 3 has wire type 7, which does not exist',
    })
    expect(byId.get('b')).toMatchObject({ status: 'OK', points: 5 })
  })

  it('answers invalid input with INVALID_REQUEST naming the field', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm5')
    const cases: [string, Wire, string][] = [
      ['Earn', { account: 'm5', key: 'e1', points: -5 }, 'points'],
      ['Earn', { account: 'm5', key: 'e2' }, 'points'],
      ['Redeem', { key: 'r1', points: 5 }, 'account'],
      ['History', { account: 'm5', limit: 5000 }, 'limit'],
      ['Purchase', { account: 'm5', key: 'p1', basket: { lines: [] } }, 'basket.lines'],
      ['Purchase', { account: 'm5', key: 'p2' }, 'basket'],
      ['Purchase', {
        account: 'm5',
        key: 'p3',
        basket: { lines: [{ sku: 'x', quantity: 0, unitPrice: 100 }] },
      }, 'basket.lines[0].quantity'],
      ['Enroll', {
        account: 'm6',
        key: 'j1',
        program: 'demo',
        member: { birthDate: '1990-13-01' },
      }, 'member.birthDate'],
      ['Reverse', { account: 'm5', key: 'v1', ref: 'x', shortfall: 'forgive' }, 'shortfall'],
      ['Authorize', { account: 'm5', key: 'a1', points: 5, timeoutMs: 8 * 86_400_000 }, 'timeoutMs'],
      ['Capture', { account: 'm5', key: 'c1', points: 5 }, 'hold'],
      ['Refund', { account: 'm5', key: 'f1', points: 5 }, 'ref'],
      ['Lookup', {}, 'card'],
      ['Lookup', { card: '600123456789', phone: '+15550000000' }, 'card'],
      ['Join', { key: 'j2', program: 'demo', member: { email: 'not-an-email' } }, 'member.email'],
      ['Transfer', { account: 'm5', key: 't1', to: 'm5', points: 5 }, 'to'],
      ['Transfer', { account: 'm5', key: 't2', to: 'm6', points: 0 }, 'points'],
    ]
    for (const [name, request, field] of cases) {
      const reply = await client.call(name, request)
      const got = { name, status: reply['status'], field: reply['field'] }
      expect(got).toEqual({ name, status: 'INVALID_REQUEST', field })
      // The client decodes with defaults, so an absent message would read '': it must say something.
      expect(reply['message'], name).toMatch(/\S/)
    }
    expect(await available(client, 'm5')).toBe(100)
    expect((await client.call('Balance', { account: 'm6' }))['status']).toBe('ACCOUNT_NOT_FOUND')
  })

  it('returns EXISTS with the stored result for a replay with the same key', async () => {
    const client = (await setUp()).client()
    const first = await client.call('Earn', { account: 'm7', key: 'once', points: 30 })
    const again = await client.call('Earn', { account: 'm7', key: 'once', points: 30 })
    expect(first['status']).toBe('OK')
    expect(again).toMatchObject({ status: 'EXISTS', entry: first['entry'], points: 30 })
    const different = await client.call('Earn', { account: 'm7', key: 'once', points: 31 })
    expect(different['status']).toBe('EXISTS_WITH_DIFFERENT_POINTS')
    expect(await available(client, 'm7')).toBe(30)
  })
})

describe('gRPC authentication and roles', () => {
  it('fails calls without a token or with a wrong one with UNAUTHENTICATED', async () => {
    const f = await setUp()
    const missing = await grpcError(f.client(null).call('Balance', { account: 'm1' }))
    expect(missing.code).toBe(status.UNAUTHENTICATED)
    expect(missing.details).toMatch(/missing credentials/)
    const wrong = await grpcError(f.client('not-a-token').call('Balance', { account: 'm1' }))
    expect(wrong.code).toBe(status.UNAUTHENTICATED)
    expect(wrong.details).toMatch(/unknown or revoked/)
    // A value ending in a space never arrives (HTTP/2 drops it); the refusal says what to look for.
    const spaced = await grpcError(f.client(`${f.h.processorToken} `).call('Balance', { account: 'm1' }))
    expect(spaced.code).toBe(status.UNAUTHENTICATED)
    expect(spaced.details).toMatch(/no space at its start or end/)
  })

  it('rejects a malformed authorization header', async () => {
    const f = await setUp()
    const client = f.client(null)
    const metadata = new Metadata()
    metadata.set('authorization', `Basic ${f.h.processorToken}`)
    const m = method('Balance')
    const error = await grpcError(unary(client.raw, m, { account: 'm1' }, metadata))
    expect(error.code).toBe(status.UNAUTHENTICATED)
    expect(error.details).toMatch(/Bearer <token>/)
  })

  it('fails a Stream with a wrong token with UNAUTHENTICATED', async () => {
    const stream = (await setUp()).client('wrong').stream()
    const error = await grpcError(exchange(stream, [{ id: '1', balance: { account: 'm1' } }]))
    expect(error.code).toBe(status.UNAUTHENTICATED)
  })

  it('ends a Stream opened with a token once the token is revoked over REST: in-flight answered, later refused', async () => {
    let gated: GatedGateway | undefined
    const f = await setUp({ gateway: (h) => (gated = new GatedGateway(h.engine)) })
    const credentials = f.h.engine.credentials
    const issued = await credentials.issueToken({ name: 'revoked soon', role: 'processor' })
    const admin = await credentials.issueToken({ name: 'admin', role: 'admin' })
    const stream = f.client(issued.secret).stream()
    const replies: Wire[] = []
    const ended = new Promise<ServiceError>((resolve, reject) => {
      stream.on('data', (reply: Wire) => replies.push(reply))
      stream.on('end', () => reject(new Error('the stream ended OK; UNAUTHENTICATED was expected')))
      stream.on('error', resolve)
    })
    stream.write({ id: 'before', earn: { account: 'm12', key: 'k1', points: 5 } })
    await until(() => gated!.started === 1, 'the first request in flight')
    const app = createHttpApp(gated!, { logger: silentLogger, ready: () => true })
    const revoked = await app.fetch(new Request(`http://x/v1/tokens/${issued.token.id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.secret}` },
    }))
    expect(revoked.status).toBe(200)
    stream.write({ id: 'after', earn: { account: 'm12', key: 'k2', points: 7 } })
    await until(() => replies.length === 1, 'the refusal of the request sent after revocation')
    expect(replies[0]).toMatchObject({ id: 'after', reply: { status: 'UNAUTHORIZED', message: 'the API token was revoked' } })
    gated!.open()
    const error = await ended
    expect(error.code).toBe(status.UNAUTHENTICATED)
    expect(error.details).toBe('the API token was revoked')
    expect(replies.map((r) => r['id'])).toEqual(['after', 'before'])
    expect(await available(f.client(), 'm12')).toBe(5)
  })

  it('drains on close: a Stream refuses new requests UNAVAILABLE, answers those in flight, then ends, and close does not wait out its grace', async () => {
    const h = await gatewayHarness()
    disposers.push(async () => h[Symbol.asyncDispose]())
    const gated = new GatedGateway(h.engine)
    const server = await startGrpcServer(gated, { port: 0, host: '127.0.0.1', logger: silentLogger })
    let closed: Promise<void> | undefined
    disposers.push(async () => void (await (closed ?? server.close())))
    const client = new LoyaltyClient(`127.0.0.1:${server.port}`, clientCredentials.createInsecure(), h.processorToken)
    disposers.push(async () => client.close())
    const stream = client.stream()
    const replies: Wire[] = []
    const ended = new Promise<ServiceError>((resolve, reject) => {
      stream.on('data', (reply: Wire) => replies.push(reply))
      stream.on('end', () => reject(new Error('the stream ended OK; UNAVAILABLE was expected')))
      stream.on('error', resolve)
    })
    stream.write({ id: 'before', earn: { account: 'm13', key: 'k1', points: 5 } })
    const unary = client.call('Earn', { account: 'm14', key: 'u1', points: 3 })
    await until(() => gated.started === 2, 'a Stream request and a unary call in flight')
    const started = Date.now()
    closed = server.close()
    stream.write({ id: 'after', earn: { account: 'm13', key: 'k2', points: 7 } })
    // Before: it ran, the stream stayed open, and close cut it off (CANCELLED) after its 5 s grace.
    await until(() => replies.length === 1, 'the refusal of the request sent while closing')
    const message = 'the server is shutting down; retry elsewhere with the same key'
    expect(replies[0]).toEqual({ id: 'after', reply: expect.objectContaining({ status: 'UNAVAILABLE', message }) })
    gated.open()
    const error = await ended
    expect(error.code).toBe(status.UNAVAILABLE)
    expect(error.details).toBe(message)
    expect(replies.map((r) => r['id'])).toEqual(['after', 'before'])
    expect(replies[1]).toMatchObject({ reply: { status: 'OK', points: 5 } })
    expect(await unary).toMatchObject({ status: 'OK', points: 3 })
    await closed
    expect(Date.now() - started).toBeLessThan(2000)
    expect((await h.engine.execute({ op: 'balance', account: 'm13' })).balance).toMatchObject({ available: 5 })
  })

  it('answers UNAUTHORIZED when the role may not run the operation', async () => {
    const f = await setUp()
    await enrolled(f.client(), 'm8')
    const partner = f.client(f.h.partnerToken)
    const hold = await partner.call('Authorize', { account: 'm8', key: 'a1', points: 10 })
    expect(hold['status']).toBe('UNAUTHORIZED')
    expect(hold['message']).toMatch(/partner may not run authorize/)
    const after = await partner.call('Balance', { account: 'm8' })
    expect(after).toMatchObject({ status: 'OK', balance: { held: 0 } })
  })
})

describe('gRPC Stream', () => {
  it('answers 2000 interleaved requests, each once, under its own id', async () => {
    const f = await setUp()
    const client = f.client()
    const accounts = Array.from({ length: 10 }, (_, i) => `s${i}`)
    for (const account of accounts) await enrolled(client, account)
    const requests: Wire[] = []
    for (let i = 0; i < 2000; i++) {
      const account = accounts[i % accounts.length]!
      const kind = Math.floor(i / accounts.length) % 4
      const id = `q${i}`
      if (kind === 0 || kind === 1) requests.push({ id, earn: { account, key: `e${i}`, points: 10 } })
      else if (kind === 2) requests.push({ id, redeem: { account, key: `r${i}`, points: 15 } })
      else requests.push({ id, balance: { account } })
    }
    const replies = await exchange(client.stream(), requests)
    expect(replies).toHaveLength(2000)
    const byId = new Map(replies.map((r) => [r['id'] as string, r['reply'] as Wire]))
    expect(byId.size).toBe(2000)
    const expected = new Map(accounts.map((a) => [a, 100]))
    for (const request of requests) {
      const reply = byId.get(request['id'] as string)
      expect(reply).toBeDefined()
      const [op, fields] = Object.entries(request).find(([name]) => name !== 'id') as [string, Wire]
      const account = fields['account'] as string
      const statusName = reply!['status']
      if (op === 'redeem') expect(['OK', 'INSUFFICIENT_POINTS']).toContain(statusName)
      else expect(statusName).toBe('OK')
      if (statusName !== 'OK' || op === 'balance') continue
      const change = op === 'earn' ? 10 : -15
      expected.set(account, expected.get(account)! + change)
    }
    for (const account of accounts) expect(await available(client, account)).toBe(expected.get(account))
  })

  it('answers a request with no op INVALID_REQUEST naming op, and keeps going', async () => {
    const client = (await setUp()).client()
    const replies = await exchange(client.stream(), [
      { id: 'empty' },
      { id: 'fine', earn: { account: 'm9', key: 'e1', points: 3 } },
      { id: 'bad', earn: { account: 'm9', key: 'e2', points: -3 } },
    ])
    const byId = new Map(replies.map((r) => [r['id'], r['reply'] as Wire]))
    expect(byId.get('empty')).toMatchObject({ status: 'INVALID_REQUEST', field: 'op' })
    expect(byId.get('fine')).toMatchObject({ status: 'OK', points: 3 })
    expect(byId.get('bad')).toMatchObject({ status: 'INVALID_REQUEST', field: 'points' })
  })

  it('delivers every reply to a client that starts reading late', async () => {
    const client = (await setUp()).client()
    const earn = (i: number) => ({ id: `e${i}`, earn: { account: 'm14', key: `e${i}`, points: 1 } })
    const seed = Array.from({ length: 60 }, (_, i) => earn(i))
    expect((await exchange(client.stream(), seed)).length).toBe(60)
    // About 6 kB per reply, 2 MB in all: far beyond HTTP/2's flow-control
    // windows, so the replies wait (in the server's HTTP/2 session) until the
    // client reads again; none may be lost or cut.
    const stream = client.stream()
    stream.pause()
    const history = (i: number) => ({ id: `h${i}`, history: { account: 'm14', limit: 50 } })
    const requests = Array.from({ length: 300 }, (_, i) => history(i))
    const replies = exchange(stream, requests)
    await sleep(300)
    stream.resume()
    const answered = await replies
    expect(answered.map((r) => r['id']).sort()).toEqual(requests.map((r) => r.id).sort())
    for (const { reply } of answered as { reply: { status: string; entries: unknown[] } }[]) {
      expect(reply.status).toBe('OK')
      expect(reply.entries).toHaveLength(50)
    }
  })

  it('waits for drain when a write is refused, and stops reading meanwhile', async () => {
    await using h = await gatewayHarness()
    const gateway = new GatedGateway(h.engine)
    gateway.open()
    const service = loyaltyService(gateway, { logger: silentLogger })
    const call = new HeldCall(h.processorToken)
    const stream = service.implementation['Stream'] as unknown as (call: HeldCall) => void
    stream(call)
    for (let i = 0; i < 5; i++) {
      call.push({ id: `w${i}`, op: 'earn', earn: { account: 'm15', key: `k${i}`, points: 1 } })
    }
    await until(() => gateway.started === 5 && call.writableLength === 2, 'two replies written')
    await sleep(50)
    // write() said no at the second reply: the other three wait in the server's queue.
    expect(call.writableLength).toBe(2)
    expect(call.isPaused()).toBe(true)
    call.push({ id: 'late', op: 'balance', balance: { account: 'm15' } })
    await sleep(20)
    expect(gateway.started).toBe(5)
    while (call.written.length < 6) {
      call.release()
      await sleep(5)
    }
    call.release()
    await until(() => call.writableLength === 0, 'the last write')
    expect(call.isPaused()).toBe(false)
    expect(call.written.map((r) => r['id'])).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'late'])
    expect(call.written.map((r) => (r['reply'] as Wire)['status'])).toEqual(Array(6).fill('OK'))
    expect(call.ended).toBe(false)
    call.push(null)
    await until(() => call.ended, 'the stream to end after the half-close')
  })

  it('answers OVERLOADED past streamInFlightMax instead of dropping requests', async () => {
    let gated: GatedGateway | undefined
    const gateway = (h: GatewayHarness) => (gated = new GatedGateway(h.engine))
    const f = await setUp({ gateway, streamInFlightMax: 4 })
    const stream = f.client().stream()
    const replies: Wire[] = []
    const ended = new Promise((resolve, reject) => {
      stream.on('data', (reply: Wire) => replies.push(reply))
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    for (let i = 0; i < 10; i++) {
      stream.write({ id: `r${i}`, earn: { account: 'm10', key: `k${i}`, points: 1 } })
    }
    await until(() => replies.length === 6, 'the overloaded replies')
    expect(gated!.started).toBe(4)
    expect(replies.map((r) => r['id'])).toEqual(['r4', 'r5', 'r6', 'r7', 'r8', 'r9'])
    for (const reply of replies) {
      const message = expect.stringMatching(/streamInFlightMax/)
      expect(reply['reply']).toMatchObject({ status: 'OVERLOADED', message })
    }
    gated!.open()
    stream.end()
    await ended
    const answered = replies.slice(6).map((r) => [r['id'], (r['reply'] as Wire)['status']])
    expect(answered.sort()).toEqual([['r0', 'OK'], ['r1', 'OK'], ['r2', 'OK'], ['r3', 'OK']])
  })

  it('answers OVERLOADED past inFlightMax across streams and unary calls, and takes requests again once they finish', async () => {
    let gated: GatedGateway | undefined
    const gateway = (h: GatewayHarness) => (gated = new GatedGateway(h.engine))
    const f = await setUp({ gateway, streamInFlightMax: 4, inFlightMax: 6 })
    const client = f.client()
    const replies: Wire[] = []
    const streams = [client.stream(), client.stream()]
    const ended = streams.map((stream) => new Promise((resolve, reject) => {
      stream.on('data', (reply: Wire) => replies.push(reply))
      stream.on('end', resolve)
      stream.on('error', reject)
    }))
    streams.forEach((stream, s) => {
      for (let i = 0; i < 4; i++) stream.write({ id: `s${s}-${i}`, earn: { account: 'm13', key: `s${s}-${i}`, points: 1 } })
    })
    await until(() => replies.length === 2, 'the overloaded replies')
    expect(gated!.started).toBe(6)
    for (const reply of replies) {
      expect(reply['reply']).toMatchObject({ status: 'OVERLOADED', message: expect.stringMatching(/inFlightMax/) })
    }
    const unary = await client.call('Earn', { account: 'm13', key: 'u1', points: 1 })
    expect(unary).toMatchObject({ status: 'OVERLOADED' })
    gated!.open()
    for (const stream of streams) stream.end()
    await Promise.all(ended)
    expect(replies.filter((r) => (r['reply'] as Wire)['status'] === 'OK')).toHaveLength(6)
    // Once they finished, the server takes requests again.
    expect(await client.call('Earn', { account: 'm13', key: 'u2', points: 1 })).toMatchObject({ status: 'OK' })
    expect(await available(client, 'm13')).toBe(7)
  })

  it('refuses a request whose id is in flight on the stream at once, naming the id; the first gets its own reply, and the id is free again after it', async () => {
    let gated: GatedGateway | undefined
    const f = await setUp({ gateway: (h) => (gated = new GatedGateway(h.engine)) })
    const stream = f.client().stream()
    const replies: Wire[] = []
    const ended = new Promise((resolve, reject) => {
      stream.on('data', (reply: Wire) => replies.push(reply))
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    stream.write({ id: 'x', earn: { account: 'm16', key: 'k1', points: 5 } })
    await until(() => gated!.started === 1, 'the first request in flight')
    stream.write({ id: 'x', earn: { account: 'm16', key: 'k2', points: 3 } })
    stream.write({ id: 'y', balance: { account: 'nobody16' } })
    await until(() => replies.length === 1, 'the refusal')
    const message = 'id "x" is in flight on this stream: wait for its reply before using the id again'
    expect(replies[0]).toEqual({ id: 'x', reply: expect.objectContaining({ status: 'INVALID_REQUEST', field: 'id', message }) })
    // Refused at once and not run; the stream goes on (y runs).
    expect(gated!.started).toBe(2)
    gated!.open()
    await until(() => replies.length === 3, 'the replies of x and y')
    expect(replies.slice(1).map((r) => [r['id'], (r['reply'] as Wire)['status']]).sort()).toEqual([['x', 'OK'], ['y', 'ACCOUNT_NOT_FOUND']])
    expect((replies.find((r) => r['id'] === 'x' && (r['reply'] as Wire)['status'] === 'OK')!['reply'] as Wire)['points']).toBe(5)
    // Answered: the id may be used again.
    stream.write({ id: 'x', earn: { account: 'm16', key: 'k3', points: 2 } })
    stream.end()
    await ended
    expect(replies[3]).toMatchObject({ id: 'x', reply: { status: 'OK', points: 2 } })
    expect(await available(f.client(), 'm16')).toBe(7)
  })

  it('answers the requests in flight after the client half-closes, then ends', async () => {
    let gated: GatedGateway | undefined
    const f = await setUp({ gateway: (h) => (gated = new GatedGateway(h.engine)) })
    const stream = f.client().stream()
    const events: string[] = []
    const ended = new Promise((resolve, reject) => {
      stream.on('data', (reply: Wire) => events.push(`reply ${String(reply['id'])}`))
      stream.on('end', () => resolve(events.push('end')))
      stream.on('error', reject)
    })
    for (const id of ['a', 'b', 'c']) stream.write({ id, earn: { account: 'm11', key: id, points: 2 } })
    stream.end()
    await until(() => gated!.started === 3, 'three requests in flight')
    await sleep(50)
    expect(events).toEqual([])
    gated!.open()
    await ended
    expect(events.slice(0, 3).sort()).toEqual(['reply a', 'reply b', 'reply c'])
    expect(events[3]).toBe('end')
    expect(await available(f.client(), 'm11')).toBe(6)
  })
})

describe('gRPC Bulk', () => {
  /** Each inbound message's replies, as the client received them. */
  function repliesOf(messages: Wire[]): Wire[] {
    return messages.flatMap((m) => m['replies'] as Wire[])
  }

  /** A Bulk call to a server whose commands wait for `gated.open()`, collecting reply messages. */
  async function gatedBulk(streamInFlightMax: number) {
    let gated: GatedGateway | undefined
    const f = await setUp({ gateway: (h) => (gated = new GatedGateway(h.engine)), streamInFlightMax })
    const stream = f.client().stream('Bulk')
    const messages: Wire[] = []
    const ended = new Promise((resolve, reject) => {
      stream.on('data', (message: Wire) => messages.push(message))
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    return { f, gated: gated!, stream, messages, ended }
  }

  it('answers 3000 requests sent 500 a message, each once under its own id, gathering replies into messages', async () => {
    const client = (await setUp()).client()
    const accounts = Array.from({ length: 6 }, (_, i) => `b${i}`)
    for (const account of accounts) await enrolled(client, account)
    const requests: Wire[] = Array.from({ length: 3000 }, (_, i) => {
      const account = accounts[i % accounts.length]!
      return i % 3 === 2
        ? { id: `q${i}`, balance: { account } }
        : { id: `q${i}`, earn: { account, key: `e${i}`, points: 2 } }
    })
    const batches = Array.from({ length: 6 }, (_, i) => ({ requests: requests.slice(i * 500, i * 500 + 500) }))
    const messages = await exchange(client.stream('Bulk'), batches)
    const replies = repliesOf(messages)
    expect(replies.map((r) => r['id']).sort()).toEqual(requests.map((r) => r['id']).sort())
    for (const reply of replies) expect((reply['reply'] as Wire)['status']).toBe('OK')
    // The engine answers a batch at once: its replies leave together.
    // The engine answers a batch at once and its replies leave together. (Written
    // one by one, the first 16 would leave alone before grpc-js pushed back; the
    // OVERLOADED test below pins the gathering down exactly.)
    const sizes = messages.map((m) => (m['replies'] as Wire[]).length)
    expect(sizes.filter((n) => n === 1).length).toBeLessThan(16)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1024)
    // Each account: 100 on enrolment, then 2 for each of its 333 or 334 earns.
    for (const [index, account] of accounts.entries()) {
      const earns = requests.filter((r, i) => i % accounts.length === index && 'earn' in r).length
      expect(await available(client, account)).toBe(100 + 2 * earns)
    }
  })

  it('answers a bad request inside a message on its own and runs the others', async () => {
    const client = (await setUp()).client()
    const messages = await exchange(client.stream('Bulk'), [{
      requests: [
        { id: 'empty' },
        { id: 'fine', earn: { account: 'm21', key: 'e1', points: 3 } },
        { id: 'bad', earn: { account: 'm21', key: 'e2', points: -3 } },
      ],
    }])
    const byId = new Map(repliesOf(messages).map((r) => [r['id'], r['reply'] as Wire]))
    expect(byId.size).toBe(3)
    expect(byId.get('empty')).toMatchObject({ status: 'INVALID_REQUEST', field: 'op' })
    expect(byId.get('fine')).toMatchObject({ status: 'OK', points: 3 })
    expect(byId.get('bad')).toMatchObject({ status: 'INVALID_REQUEST', field: 'points' })
    expect(await available(client, 'm21')).toBe(3)
  })

  it('answers a damaged message INVALID_REQUEST, applies none of it, and goes on with the next', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm22')
    const m = method('Bulk')
    let next: Buffer | undefined
    const serialize = (request: Wire) => next ?? m.requestSerialize(request)
    const stream = client.raw.makeBidiStreamRequest(m.path, serialize, m.responseDeserialize, client.metadata())
    const good = m.requestSerialize({ requests: [{ id: 'x', earn: { account: 'm22', key: 'x', points: 7 } }] })
    // A good request, then one whose id is followed by a tag with wire type 7.
    const messages: Wire[] = []
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (message: Wire) => messages.push(message))
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    next = Buffer.concat([good, Buffer.from([0x0a, 0x04, 0x0a, 0x01, 0x61, 0x0f])])
    stream.write({})
    next = undefined
    stream.write({ requests: [{ id: 'b', earn: { account: 'm22', key: 'b', points: 5 } }] })
    stream.end()
    await ended
    const byId = new Map(repliesOf(messages).map((r) => [r['id'], r['reply'] as Wire]))
    expect([...byId.keys()].sort()).toEqual(['', 'b'])
    expect(byId.get('')).toMatchObject({
      status: 'INVALID_REQUEST',
      field: 'request',
      message: expect.stringMatching(/^the request is not a well-formed loyalty\.v1\.BulkRequest: .*wire type 7, which does not exist$/),
    })
    expect(byId.get('b')).toMatchObject({ status: 'OK', points: 5 })
    expect(await available(client, 'm22')).toBe(105)
  })

  it('refuses a request without an id, naming id, and runs none such: its reply would read as a damaged message\'s', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm24')
    const messages = await exchange(client.stream('Bulk'), [{
      requests: [
        { earn: { account: 'm24', key: 'no-id', points: 4 } },
        { id: 'fine', earn: { account: 'm24', key: 'with-id', points: 3 } },
      ],
    }])
    const byId = new Map(repliesOf(messages).map((r) => [r['id'], r['reply'] as Wire]))
    expect(byId.get('')).toMatchObject({ status: 'INVALID_REQUEST', field: 'id', message: expect.stringMatching(/^a request needs an id/) })
    expect(byId.get('fine')).toMatchObject({ status: 'OK', points: 3 })
    // Before, the earn without an id was applied and answered OK under "".
    expect(await available(client, 'm24')).toBe(103)
  })

  it('refuses a request whose id is in flight, within one message or across messages, and runs the first', async () => {
    const { f, gated, stream, messages, ended } = await gatedBulk(100)
    stream.write({ requests: [
      { id: 'a', earn: { account: 'm25', key: 'k1', points: 5 } },
      { id: 'a', earn: { account: 'm25', key: 'k2', points: 3 } },
    ] })
    await until(() => repliesOf(messages).length === 1, 'the refusal within the message')
    stream.write({ requests: [{ id: 'a', earn: { account: 'm25', key: 'k3', points: 1 } }] })
    await until(() => repliesOf(messages).length === 2, 'the refusal across messages')
    const message = 'id "a" is in flight on this stream: wait for its reply before using the id again'
    for (const reply of repliesOf(messages)) {
      expect(reply).toEqual({ id: 'a', reply: expect.objectContaining({ status: 'INVALID_REQUEST', field: 'id', message }) })
    }
    expect(gated.started).toBe(1)
    gated.open()
    stream.end()
    await ended
    expect(repliesOf(messages)[2]).toMatchObject({ id: 'a', reply: { status: 'OK', points: 5 } })
    expect(await available(f.client(), 'm25')).toBe(5)
  })

  it('counts requests, not messages, against streamInFlightMax, and splits a turn\'s replies 1024 a message', async () => {
    const { f, gated, stream, messages, ended } = await gatedBulk(2)
    const requests = Array.from({ length: 2500 }, (_, i) => ({ id: `r${i}`, earn: { account: 'm23', key: `k${i}`, points: 1 } }))
    stream.write({ requests })
    // The 2,498 past the limit are answered in the turn they arrive in, and written together after it.
    await until(() => repliesOf(messages).length === 2498, 'the overloaded replies')
    expect(gated.started).toBe(2)
    expect(messages.map((m) => (m['replies'] as Wire[]).length)).toEqual([1024, 1024, 450])
    for (const reply of repliesOf(messages)) {
      expect(reply['reply']).toMatchObject({ status: 'OVERLOADED', message: expect.stringMatching(/streamInFlightMax/) })
    }
    gated.open()
    stream.end()
    await ended
    const answered = repliesOf(messages).slice(2498).map((r) => [r['id'], (r['reply'] as Wire)['status']])
    expect(answered.sort()).toEqual([['r0', 'OK'], ['r1', 'OK']])
    expect(await available(f.client(), 'm23')).toBe(2)
  })

  it('cuts a turn\'s replies into messages of at most 1 MiB, so large replies never pass a client\'s 4 MB limit', async () => {
    const { f, gated, stream, messages, ended } = await gatedBulk(1)
    // Each reply echoes its 200 kB id: twelve OVERLOADED replies, 2.4 MB, in one turn.
    const id = (i: number) => `${i}:`.padEnd(200_000, 'x')
    const requests = Array.from({ length: 13 }, (_, i) => ({ id: id(i), balance: { account: 'm24' } }))
    stream.write({ requests })
    await until(() => repliesOf(messages).length === 12, 'the overloaded replies')
    expect(messages.map((m) => (m['replies'] as Wire[]).length)).toEqual([5, 5, 2])
    expect(repliesOf(messages).map((r) => r['id'])).toEqual(requests.slice(1).map((r) => r.id))
    gated.open()
    stream.end()
    await ended
    // The one within the limit ran (the account does not exist).
    expect(repliesOf(messages).at(-1)).toMatchObject({ id: id(0), reply: { status: 'ACCOUNT_NOT_FOUND' } })
  })

  it('waits for drain when a write is refused, stops reading meanwhile, and writes encoded BulkReply messages', async () => {
    await using h = await gatewayHarness()
    const gateway = new GatedGateway(h.engine)
    gateway.open()
    const service = loyaltyService(gateway, { logger: silentLogger })
    const call = new HeldCall(h.processorToken)
    const bulk = service.implementation['Bulk'] as unknown as (call: HeldCall) => void
    bulk(call)
    const earn = (id: string) => ({ requests: [{ id, op: 'earn', earn: { account: 'm25', key: id, points: 1 } }] })
    call.push(earn('a'))
    await until(() => call.writableLength === 1, 'the first reply')
    call.push(earn('b'))
    await until(() => call.writableLength === 2, 'the second reply')
    // write() said no at the second message: reading stops until drain.
    expect(call.isPaused()).toBe(true)
    call.push(earn('c'))
    await sleep(50)
    expect(gateway.started).toBe(2)
    while (call.written.length < 3) {
      call.release()
      await sleep(5)
    }
    call.release()
    await until(() => call.writableLength === 0, 'the last write')
    expect(call.isPaused()).toBe(false)
    const decode = method('Bulk').responseDeserialize
    const written = call.written.map((bytes) => decode(bytes as unknown as Buffer)['replies'] as Wire[])
    expect(written.map((replies) => replies.map((r) => [r['id'], (r['reply'] as Wire)['status']]))).toEqual([
      [['a', 'OK']],
      [['b', 'OK']],
      [['c', 'OK']],
    ])
    call.push(null)
    await until(() => call.ended, 'the stream to end after the half-close')
  })

  it('fails a Bulk call with a wrong token with UNAUTHENTICATED', async () => {
    const f = await setUp()
    const error = await grpcError(exchange(f.client('wrong').stream('Bulk'), [{ requests: [{ id: 'a', balance: { account: 'm1' } }] }]))
    expect(error.code).toBe(status.UNAUTHENTICATED)
  })
})

describe('gRPC deadlines', () => {
  it('fails a call whose deadline already passed with DEADLINE_EXCEEDED, applying nothing', async () => {
    const f = await setUp()
    const late = { deadline: Date.now() - 1000 }
    const error = await grpcError(f.client().call('Earn', { account: 'm26', key: 'late', points: 5 }, late))
    expect(error.code).toBe(status.DEADLINE_EXCEEDED)
    await sleep(100)
    expect((await f.h.engine.execute({ op: 'balance', account: 'm26' })).status).toBe('account_not_found')
  })

  it('applies nothing of a call whose deadline had passed when its request was read (grpc-timeout 0 from a raw client)', async () => {
    const f = await setUp()
    // grpc-js clients refuse to send such a call, but other clients do, and a short deadline
    // can pass in transit: grpc-js answered DEADLINE_EXCEEDED and still ran the handler.
    const earn = (account: string) => ({ account, key: 'late', points: 5 })
    const sent: [string, Wire, string][] = [
      ['Earn', earn('m40'), '0n'],
      ['Earn', earn('m41'), '1u'],
      ['Stream', { id: '1', earn: earn('m42') }, '0n'],
      ['Bulk', { requests: [{ id: '1', earn: earn('m43') }, { id: '2', earn: earn('m44') }] }, '0n'],
    ]
    for (const [name, request, timeout] of sent) {
      const answer = await rawCall(f, name, request, { 'grpc-timeout': timeout })
      expect(answer.status, `${name} with grpc-timeout ${timeout}`).toBe(String(status.DEADLINE_EXCEEDED))
      expect(answer.messages, name).toEqual([])
    }
    await sleep(100)
    for (const account of ['m40', 'm41', 'm42', 'm43', 'm44']) {
      expect((await f.h.engine.execute({ op: 'balance', account })).status, account).toBe('account_not_found')
    }
    // The same call with time to spare is applied.
    const answer = await rawCall(f, 'Earn', earn('m40'), { 'grpc-timeout': '10S' })
    expect(answer.status).toBe('0')
    expect((await f.h.engine.execute({ op: 'balance', account: 'm40' })).balance?.available).toBe(5)
  })

  it('writes no reply for a call cancelled before its command finished, and replies to the others', async () => {
    await using h = await gatewayHarness()
    const gateway = new GatedGateway(h.engine)
    const service = loyaltyService(gateway, { logger: silentLogger })
    type Callback = (error: unknown, reply?: Wire) => void
    const earn = service.implementation['Earn'] as unknown as (call: object, callback: Callback) => void
    const metadata = new Metadata()
    metadata.set('authorization', `Bearer ${h.processorToken}`)
    const answered: string[] = []
    const call = (key: string) => ({ metadata, request: { account: 'm27', key, points: 3 }, cancelled: false, getDeadline: () => Infinity })
    const cancelled = call('cancelled')
    earn(cancelled, (error, reply) => answered.push(`cancelled: ${String(error ?? reply?.['status'])}`))
    await until(() => gateway.started === 1, 'the command to start')
    // Past its deadline or cancelled by the client: grpc-js has answered the caller already.
    cancelled.cancelled = true
    gateway.open()
    earn(call('kept'), (error, reply) => answered.push(`kept: ${String(error ?? reply?.['status'])}`))
    await until(() => answered.length >= 1, 'the reply to the call still open')
    await sleep(50)
    expect(answered).toEqual(['kept: OK'])
    // The cancelled command was applied all the same; a retry with its key would say EXISTS.
    expect((await h.engine.execute({ op: 'balance', account: 'm27' })).balance?.available).toBe(6)
  })

  it('fails a call past its deadline with DEADLINE_EXCEEDED; the command may still apply, and a retry says EXISTS', async () => {
    let gated: GatedGateway | undefined
    const f = await setUp({ gateway: (h) => (gated = new GatedGateway(h.engine)) })
    const client = f.client()
    const request = { account: 'm12', key: 'slow', points: 9 }
    const error = await grpcError(client.call('Earn', request, { deadline: Date.now() + 200 }))
    expect(error.code).toBe(status.DEADLINE_EXCEEDED)
    expect(gated!.started).toBe(1)
    gated!.open()
    const applied = async () => {
      const reply = await f.h.engine.execute({ op: 'balance', account: 'm12' })
      return reply.balance?.available === 9
    }
    for (let i = 0; i < 100 && !(await applied()); i++) await sleep(10)
    expect(await applied()).toBe(true)
    const retry = await client.call('Earn', request)
    expect(retry).toMatchObject({ status: 'EXISTS', points: 9, balance: { available: 9 } })
  })
})

describe('gRPC health, reflection and TLS', () => {
  it('reports SERVING for the server and for loyalty.v1.Loyalty', async () => {
    const f = await setUp()
    const Health = makeGenericClientConstructor(healthService, 'Health')
    const health = new Health(f.address, clientCredentials.createInsecure())
    disposers.push(async () => health.close())
    const checkMethod = healthService['Check'] as MethodDefinition<Wire, Wire>
    const check = (service: string) => unary(health, checkMethod, { service }, new Metadata())
    expect(await check('')).toEqual({ status: 'SERVING' })
    expect(await check('loyalty.v1.Loyalty')).toEqual({ status: 'SERVING' })
    expect((await grpcError(check('no.such.Service'))).code).toBe(status.NOT_FOUND)
  })

  it('lists the Loyalty service through server reflection', async () => {
    const f = await setUp()
    const entry = createRequire(import.meta.url).resolve('@grpc/reflection')
    const relative = '../proto/grpc/reflection/v1/reflection.proto'
    const proto = fileURLToPath(new URL(relative, pathToFileURL(entry)))
    const reflection = loadSync(proto, { keepCase: false, defaults: true, oneofs: true })
    const service = reflection['grpc.reflection.v1.ServerReflection'] as ServiceDefinition
    const info = service['ServerReflectionInfo']!
    const raw = f.client().raw
    const call = raw.makeBidiStreamRequest(info.path, info.requestSerialize, info.responseDeserialize)
    const replies = await exchange(call as ClientDuplexStream<Wire, Wire>, [
      { listServices: '*' },
      { fileContainingSymbol: 'loyalty.v1.Loyalty' },
    ])
    const field = (name: string) => replies.find((r) => r[name])![name]
    const listed = field('listServicesResponse') as { service: { name: string }[] }
    const names = listed.service.map((s) => s.name)
    expect(names).toEqual(expect.arrayContaining(['loyalty.v1.Loyalty', 'grpc.health.v1.Health']))
    const files = field('fileDescriptorResponse') as { fileDescriptorProto: Buffer[] }
    expect(files.fileDescriptorProto.length).toBeGreaterThan(0)
    expect(Buffer.concat(files.fileDescriptorProto).toString('latin1')).toContain('StreamRequest')
  })

  it('serves over TLS when given a certificate', async () => {
    const f = await setUp({ tls: { cert: Buffer.from(testCert), key: Buffer.from(testKey) } })
    const secure = f.client(f.h.processorToken, clientCredentials.createSsl(Buffer.from(testCert)))
    const earned = await secure.call('Earn', { account: 'm13', key: 'e1', points: 5 })
    expect(earned).toMatchObject({ status: 'OK', points: 5 })
    const plain = f.client()
    const soon = { deadline: Date.now() + 2000 }
    const error = await grpcError(plain.call('Balance', { account: 'm13' }, soon))
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(error.code)
  })
})

describe('gRPC wire check: over-long tags, UTF-8 and fields set twice', () => {
  /** A unary call whose request is `bytes` as they are. */
  const sendBytes = (client: LoyaltyClient, name: string, bytes: number[]) =>
    unary(client.raw, { ...method(name), requestSerialize: () => Buffer.from(bytes) }, {}, client.metadata())
  /** A length-delimited field (number < 16, length < 128): tag, length, bytes. */
  const delimited = (number: number, bytes: number[]) => [number * 8 + 2, bytes.length, ...bytes]
  const text = (value: string) => [...Buffer.from(value)]
  const refusal = (type: string, fault: string) =>
    ({ status: 'INVALID_REQUEST', field: 'request', message: `the request is not a well-formed loyalty.v1.${type}: ${fault}` })

  it('refuses a tag longer than 32 bits, which protobufjs read as another field', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'member-0004')
    // 2^32 + 26: field 536870915 here (unknown, skipped); its low 32 bits, field 3 (points) as
    // length-delimited, to protobufjs, which took the length (25) for the points and read the rest.
    const hidden = [...delimited(1, text('member-0004')), ...delimited(2, text('smuggled-1'))]
    const probe = [0x9a, 0x80, 0x80, 0x80, 0x10, hidden.length, ...hidden]
    expect(await sendBytes(client, 'Earn', probe)).toMatchObject(refusal('EarnRequest', 'a field tag is larger than 32 bits at byte 0'))
    expect(await available(client, 'member-0004')).toBe(100)
    // The largest field number fits, and is skipped as unknown.
    const largest = [0xfa, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x00]
    const earn = [...delimited(1, text('member-0004')), ...delimited(2, text('e1')), 0x18, 0x05, ...largest]
    expect(await sendBytes(client, 'Earn', earn)).toMatchObject({ status: 'OK', points: 5 })
  })

  it('refuses a string that is not UTF-8, so different bytes cannot decode to one key or account', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm20')
    const earn = (key: number[]) => [...delimited(1, text('m20')), ...delimited(2, key), 0x18, 0x05]
    // Both once read as "k\uFFFD\uFFFD": the second purchase was answered EXISTS and dropped.
    for (const key of [[0x6b, 0xff, 0xfe], [0x6b, 0xc0, 0xc1]]) {
      expect(await sendBytes(client, 'Earn', earn(key))).toMatchObject(refusal('EarnRequest', 'field 2 (key) at byte 5 is not valid UTF-8'))
    }
    // An encoded surrogate made account "m\uFFFD\uFFFD\uFFFD".
    const enroll = [...delimited(1, [0x6d, 0xed, 0xa0, 0x80]), ...delimited(2, text('j')), ...delimited(3, text('demo'))]
    expect(await sendBytes(client, 'Enroll', enroll)).toMatchObject(refusal('EnrollRequest', 'field 1 (account) at byte 0 is not valid UTF-8'))
    // In a nested message (source.terminal) and a repeated field (member.segments) too.
    const source = [...earn(text('k2')), 0x7a, 0x03, ...delimited(1, [0xff])]
    expect(await sendBytes(client, 'Earn', source)).toMatchObject(refusal('EarnRequest', 'field 1 (terminal) at byte 13 is not valid UTF-8'))
    const profile = [...delimited(1, text('m20')), ...delimited(2, text('p1')),
      ...delimited(3, [...delimited(4, text('vip')), ...delimited(4, [0xc3])])]
    expect(await sendBytes(client, 'Profile', profile)).toMatchObject(refusal('ProfileRequest', 'field 4 (segments) at byte 16 is not valid UTF-8'))
    expect(await available(client, 'm20')).toBe(100)
    // Valid UTF-8 of every length passes, from grpc-js and as bytes.
    for (const [i, key] of ['Zoë', '東京', '🎉 fête'].entries()) {
      const earned = await client.call('Earn', { account: 'm20', key, points: 1, source: { terminal: key } })
      expect(earned, key).toMatchObject({ status: 'OK', balance: { available: 101 + i } })
    }
    expect(await sendBytes(client, 'Earn', earn(text('Zoë')))).toMatchObject({ status: 'EXISTS_WITH_DIFFERENT_POINTS' })
  })

  it('refuses two members of one oneof and a singular field sent twice, applying neither', async () => {
    const client = (await setUp()).client()
    await enrolled(client, 'm21')
    const m = method('Stream')
    let next: number[] | undefined
    const serialize = (request: Wire) => (next === undefined ? m.requestSerialize(request) : Buffer.from(next))
    const stream = client.raw.makeBidiStreamRequest(m.path, serialize, m.responseDeserialize, client.metadata())
    const earn = [...delimited(1, text('m21')), ...delimited(2, text('e1')), 0x18, 0x05]
    // balance (13) then earn (2): proto-loader ran the balance and dropped the earn.
    next = [...delimited(1, text('x')), 0x6a, 0x05, ...delimited(1, text('m21')), ...delimited(2, earn)]
    const replies = exchange(stream, [{}])
    next = undefined
    expect((await replies).map((r) => r['reply'])).toMatchObject([
      refusal('StreamRequest', 'fields 13 (balance) and 2 (earn) of one oneof op are both set, the second at byte 10'),
    ])
    // source twice: protobufjs kept the last instead of merging the two.
    const twice = [...earn, ...delimited(15, delimited(3, text('web'))), ...delimited(15, delimited(1, text('t1')))]
    expect(await sendBytes(client, 'Earn', twice)).toMatchObject(refusal('EarnRequest', 'field 15 (source) appears twice, the second time at byte 18'))
    const points = [...earn, 0x18, 0x07]
    expect(await sendBytes(client, 'Earn', points)).toMatchObject(refusal('EarnRequest', 'field 3 (points) appears twice, the second time at byte 11'))
    expect(await available(client, 'm21')).toBe(100)
    // Repeated fields repeat: basket lines and promo codes, as grpc-js sends them.
    const basket = {
      lines: [{ sku: 'latte', quantity: 1, unitPrice: 450 }, { sku: 'mug', quantity: 1, unitPrice: 2000 }],
      promoCodes: ['a', 'b'],
    }
    expect(await client.call('Preview', { account: 'm21', basket })).toMatchObject({ status: 'OK' })
  })
})
