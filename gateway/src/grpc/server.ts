/**
 * The gRPC adapter: the `loyalty.v1.Loyalty` service of `proto/loyalty.proto`
 * on @grpc/grpc-js, with the standard health service and server reflection.
 *
 * Callers authenticate with API tokens (metadata `authorization: Bearer
 * <token>`); a missing or unknown token fails the call with grpc status
 * UNAUTHENTICATED. Everything else is an application outcome: a Reply with its
 * `status` (INSUFFICIENT_POINTS, INVALID_REQUEST with `field`, UNAUTHORIZED when
 * the caller's role may not run the operation...) and grpc status OK.
 *
 * Messages are decoded with lowerCamelCase field names (the engine's own),
 * int64 as numbers and enums as names. Only fields the schema declares reach
 * the gateway: proto-loader's oneof discriminators are dropped, as are empty
 * repeated fields and an empty `source`, which mean the same as absent ones.
 *
 * Deadlines and cancellation: grpc-js answers DEADLINE_EXCEEDED or CANCELLED
 * by itself; a reply that comes later is not written. The command may still
 * have been applied: a retry with the same idempotency key is safe and
 * returns `EXISTS` with the stored result.
 *
 * The bidirectional `Stream` runs requests concurrently and answers each as
 * `{ id, reply }` when it completes (out of order). `Bulk` does the same with
 * many requests to a message, and writes the replies completed in one turn of
 * the event loop together, up to `bulkRepliesPerMessage` a message. Per stream at most
 * `streamInFlightMax` requests are in flight (running, or answered and
 * waiting to be written); past that a request is answered OVERLOADED at once,
 * so nothing is dropped silently. Replies wait in order while the call is
 * backed up (`write` returned false), and reading pauses until `drain`, so
 * the queue stays bounded. A request whose id is that of one still
 * unanswered on the same call (running, or its reply not yet written) is
 * refused at once, INVALID_REQUEST naming `id`, and not run: the two replies
 * could not be told apart. The id may be used again once its reply is
 * written. (On Node 20, grpc-js's writes complete once the
 * HTTP/2 session has queued the frame, so a client that stops reading makes
 * the session buffer replies rather than `write` return false.) After the
 * client half-closes, the requests in flight are answered, then the stream
 * ends. When the server closes, each open stream answers new requests
 * UNAVAILABLE, answers those in flight, then ends with grpc status
 * UNAVAILABLE, so `close` need not wait for clients to hang up.
 *
 * @example
 *   const grpc = await startGrpcServer(gateway, { port: 50051, logger: stderrLogger })
 *   // ...
 *   await grpc.close()
 *
 * @module
 */
import { fileURLToPath } from 'node:url'
import {
  Server,
  ServerCredentials,
  status as grpcStatus,
  type Metadata,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js'
import {
  loadSync,
  type PackageDefinition,
  type ProtobufTypeDefinition,
  type ServiceDefinition as LoadedService,
} from '@grpc/proto-loader'
import { ReflectionService } from '@grpc/reflection'
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check'
import type { Logger, Reply } from '@loyalty/engine'
import {
  isOperation,
  operations,
  type Gateway,
  type OperationName,
  type Principal,
  type TokenCalls,
} from '../core/gateway.ts'
import { oneofMembers, wireFault, wireTypeOf, type DeclaredField } from './wire-check.ts'
import { listenFailure } from '../core/listen.ts'

/** The service definition, resolved from this file so any working directory works. */
export const loyaltyProtoPath = fileURLToPath(
  new URL('../../../proto/loyalty.proto', import.meta.url),
)

/** Decoding: the engine's field names, int64 as numbers, enum names, no invented defaults. */
export const protoLoadOptions = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
} as const

export const serviceName = 'loyalty.v1.Loyalty'
const packagePrefix = 'loyalty.v1.'

export interface GrpcServerOptions {
  /** 0 picks a free port; the bound one is returned. */
  port: number
  /** Default `0.0.0.0`. */
  host?: string
  /** PEM certificate chain and private key; without them the server is plaintext. */
  tls?: { cert: Buffer; key: Buffer }
  logger: Logger
  /** Requests in flight per `Stream` or `Bulk` call at most; past it, OVERLOADED. Default 4096. */
  streamInFlightMax?: number
  /**
   * Requests in flight on the whole server at most (every call, every
   * stream); past it, OVERLOADED. Many streams each within their own limit
   * could otherwise hold any number of decoded requests. Default 65,536.
   */
  inFlightMax?: number
}

export interface GrpcServer {
  port: number
  /**
   * Stops taking calls, lets running ones finish (at most 5 s), then closes.
   * Open streams refuse new requests and end once those in flight are answered.
   */
  close(): Promise<void>
}

export const streamInFlightMaxDefault = 4096
export const inFlightMaxDefault = 65_536
/** How long `close` waits for running calls before cutting them off. */
const shutdownGraceMs = 5000

type Wire = Record<string | symbol, unknown>

/** Marks a request whose bytes are not well-formed protobuf; its value says why. */
const malformed = Symbol('malformed')

/** The service alone, to mount on a grpc-js `Server` of one's own. */
export interface LoyaltyService {
  definition: ServiceDefinition
  implementation: UntypedServiceImplementation
  /** The loaded proto, e.g. for `ReflectionService`. */
  packageDefinition: PackageDefinition
  /** Unhooks the service from the gateway (revoked tokens no longer end its streams). */
  detach(): void
  /**
   * For a server that is closing: every open `Stream` and `Bulk` call (and
   * any opened later) answers new requests UNAVAILABLE, answers those in
   * flight, then ends with grpc status UNAVAILABLE.
   */
  drain(): void
}

export function loyaltyService(
  gateway: Gateway,
  options: Pick<GrpcServerOptions, 'logger' | 'streamInFlightMax' | 'inFlightMax'>,
): LoyaltyService {
  const packageDefinition = loadSync(loyaltyProtoPath, protoLoadOptions)
  const context: CallContext = {
    gateway,
    schema: new Schema(packageDefinition),
    replyStatus: wireStatuses(packageDefinition),
    log: options.logger,
    streamInFlightMax: options.streamInFlightMax ?? streamInFlightMaxDefault,
    inFlightMax: options.inFlightMax ?? inFlightMaxDefault,
    inFlight: { count: 0 },
    streams: new Map(),
    draining: false,
  }
  return {
    definition: context.schema.checkedService(),
    implementation: implementation(context),
    packageDefinition,
    detach: gateway.addTokenCalls(tokenCalls(context.streams)),
    drain() {
      context.draining = true
      for (const open of [...context.streams.values()]) for (const session of [...open]) session.drain()
    },
  }
}

export async function startGrpcServer(
  gateway: Gateway,
  options: GrpcServerOptions,
): Promise<GrpcServer> {
  const loyalty = loyaltyService(gateway, options)
  const server = new Server()
  server.addService(loyalty.definition, loyalty.implementation)
  const health = new HealthImplementation({ '': 'SERVING', [serviceName]: 'SERVING' })
  health.addToServer(server)
  // Reflection describes the health service too, so tools like grpcurl can call it.
  const healthDefinition = loadSync(healthProtoPath, { keepCase: true })
  new ReflectionService({ ...loyalty.packageDefinition, ...healthDefinition }).addToServer(server)
  const address = `${options.host ?? '0.0.0.0'}:${options.port}`
  let port: number
  try {
    port = await bind(server, address, serverCredentials(options))
  } catch (error) {
    // Not served: the gateway forgets this server's streams, as the WebSocket server does its sessions.
    loyalty.detach()
    throw error
  }
  return {
    port,
    close: () => {
      loyalty.detach()
      // tryShutdown waits for every open call: a stream the client keeps open would
      // take the whole grace, and requests it sent meanwhile would be cut off mid-flight.
      loyalty.drain()
      health.setStatus('', 'NOT_SERVING')
      health.setStatus(serviceName, 'NOT_SERVING')
      return shutdown(server)
    },
  }
}

function serverCredentials(options: GrpcServerOptions): ServerCredentials {
  if (options.tls === undefined) return ServerCredentials.createInsecure()
  const pair = { cert_chain: options.tls.cert, private_key: options.tls.key }
  return ServerCredentials.createSsl(null, [pair])
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (error === null) resolve(port)
      else reject(listenFailure(`gRPC address ${address}`, error))
    })
  })
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown()
      resolve()
    }, shutdownGraceMs)
    server.tryShutdown(() => {
      clearTimeout(force)
      resolve()
    })
  })
}

/** What every call handler needs. */
interface CallContext {
  gateway: Gateway
  schema: Schema
  replyStatus: ReadonlyMap<string, string>
  log: Logger
  streamInFlightMax: number
  inFlightMax: number
  /** Requests of every call running now, counted against `inFlightMax`. */
  inFlight: { count: number }
  /** Open `Stream` and `Bulk` calls by the id of the API token that opened them. */
  streams: Map<string, Set<StreamSession>>
  /** The server is closing: streams refuse new requests and end once those in flight are answered. */
  draining: boolean
}

/** The RPC method name of an operation: `earn` → `Earn`. */
function methodName(op: OperationName): string {
  return op.charAt(0).toUpperCase() + op.slice(1)
}

function implementation(context: CallContext): UntypedServiceImplementation {
  const methods: UntypedServiceImplementation = {}
  const service = context.schema.definition[serviceName] as LoadedService
  for (const op of operations) {
    const method = service[methodName(op)]
    if (method === undefined) throw new Error(`${serviceName} has no method ${methodName(op)}`)
    const requestType = packagePrefix + (method.requestType.type as MessageDescriptor).name
    methods[methodName(op)] = unaryHandler(context, op, requestType)
  }
  methods['Stream'] = (call: ServerDuplexStream<Wire, Wire>) => startStream(context, call, singleFraming)
  const bulk = bulkFraming(context.schema.encodeStreamReply)
  methods['Bulk'] = (call: ServerDuplexStream<Wire, Wire>) => startStream(context, call, bulk)
  return methods
}

function unaryHandler(context: CallContext, op: OperationName, requestType: string) {
  return (call: ServerUnaryCall<Wire, Wire>, callback: sendUnaryData<Wire>) => {
    const principal = authenticate(context.gateway, call.metadata)
    if (typeof principal === 'string') {
      callback({ code: grpcStatus.UNAUTHENTICATED, details: principal })
      return
    }
    const damaged = call.request[malformed]
    if (typeof damaged === 'string') {
      callback(null, toWire(context, { status: 'invalid_request', field: 'request', message: damaged }))
      return
    }
    // A deadline that passed before the request was read (grpc-timeout 0, or a few ms spent in
    // transit): grpc-js answers DEADLINE_EXCEEDED, but still hands the call over, and
    // `call.cancelled` stays false. The caller was told it failed, so it must not be applied.
    if (deadlinePassed(call)) {
      callback({ code: grpcStatus.DEADLINE_EXCEEDED, details: 'Deadline exceeded before the request was read; nothing was applied' })
      return
    }
    const fields = context.schema.fromWire(requestType, call.request)
    void execute(context, principal, op, fields).then((reply) => {
      // Past its deadline or cancelled: grpc-js has answered already, so the
      // reply is dropped. The command may have been applied; a retry with
      // the same key returns EXISTS.
      if (call.cancelled) return
      callback(null, toWire(context, reply))
    })
  }
}

/** Whether the call's deadline (grpc-timeout) is past; a call without one has none. */
function deadlinePassed(call: { getDeadline(): Date | number }): boolean {
  const deadline = call.getDeadline()
  const at = deadline instanceof Date ? deadline.getTime() : deadline
  return at <= Date.now()
}

/** The caller's principal, or why the call is not authenticated. */
function authenticate(gateway: Gateway, metadata: Metadata): Principal | string {
  const values = metadata.get('authorization')
  if (values.length === 0) {
    // HTTP/2 drops a header value that starts or ends with a space before it gets here.
    return 'missing credentials: send metadata "authorization: Bearer <token>" (with no space at its start or end)'
  }
  const header = values[0]
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  if (match === null) return 'the authorization metadata must be "Bearer <token>"'
  return gateway.token(match[1]!) ?? 'the bearer token is unknown or revoked'
}

/** Runs one operation; an engine failure is answered `unavailable`, never thrown. */
function execute(
  context: CallContext,
  principal: Principal,
  op: string,
  fields: Wire,
): Promise<Reply> {
  const inFlight = context.inFlight
  if (inFlight.count >= context.inFlightMax) {
    const message = `${context.inFlightMax} requests in flight on this server (inFlightMax); retry with the same key`
    return Promise.resolve({ status: 'overloaded', message })
  }
  inFlight.count++
  return context.gateway.execute(principal, op, fields).then(
    (reply) => {
      inFlight.count--
      return reply
    },
    (error: unknown): Reply => {
      inFlight.count--
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
      context.log.error(`gRPC ${op} failed: ${detail}`)
      return { status: 'unavailable', message: 'internal error; retry with the same key' }
    },
  )
}

/** The proto Reply: the status as its enum name, every other field as it is. */
function toWire(context: CallContext, reply: Reply): Wire {
  const status = context.replyStatus.get(reply.status)
  if (status !== undefined) return { ...reply, status }
  // Unreachable while the status table and the proto agree (a test keeps them
  // in step); an unknown name would otherwise encode as 0, which is OK.
  context.log.error(`gRPC: status ${JSON.stringify(reply.status)} is not in the proto's enum`)
  return { status: 'UNAVAILABLE', message: `unknown status ${String(reply.status)}` }
}

/** Engine status name → proto enum name, for every name the proto declares. */
function wireStatuses(definition: PackageDefinition): Map<string, string> {
  const enumType = definition[`${packagePrefix}Status`] as { type?: { value?: { name: string }[] } }
  const names = enumType.type?.value?.map((value) => value.name) ?? []
  if (names.length === 0) throw new Error(`${loyaltyProtoPath} declares no Status values`)
  return new Map(names.map((name) => [name.toLowerCase(), name]))
}

/**
 * How a stream's messages carry requests and replies: `Stream` one of each
 * per message; `Bulk` many per message, its replies gathered for one turn of
 * the event loop (the engine answers a batch at once) and written together.
 */
interface Framing {
  /** The requests in one inbound message (a message that is not well-formed is one request). */
  requests(message: Wire): Wire[]
  /** Whether a reply is written at once, or with the others of its turn. */
  gather: boolean
  /** Removes the next message's worth of replies from `queue` and returns what to write. */
  take(queue: Wire[]): { message: Wire | Buffer; replies: number }
}

const singleFraming: Framing = {
  requests: (message) => [message],
  gather: false,
  take: (queue) => ({ message: queue.shift()!, replies: 1 }),
}

/** A `BulkReply` message holds at most this many replies... */
export const bulkRepliesPerMessage = 1024
/**
 * ...and at most this many bytes, unless a single reply is larger: well below
 * the 4 MB that grpc-js and grpcio clients accept by default, whatever the
 * replies hold (a history page or a list of lots is many times an earn's).
 */
export const bulkReplyBytesMax = 1024 * 1024

/**
 * Bulk replies are encoded here, one `StreamReply` at a time, and joined as
 * the repeated field 1 of a `BulkReply` (its only field), so a message can
 * be cut by size with each reply encoded once; `checkedService` lets the
 * bytes through as they are.
 */
function bulkFraming(encodeStreamReply: (reply: Wire) => Buffer): Framing {
  return {
    requests: (message) =>
      typeof message[malformed] === 'string'
        ? [message]
        : Array.isArray(message['requests'])
          ? (message['requests'] as Wire[])
          : [],
    gather: true,
    take(queue) {
      const parts: Buffer[] = []
      let bytes = 0
      let replies = 0
      while (replies < queue.length && replies < bulkRepliesPerMessage) {
        const encoded = encodeStreamReply(queue[replies]!)
        const header = fieldHeader(1, encoded.length)
        if (replies > 0 && bytes + header.length + encoded.length > bulkReplyBytesMax) break
        parts.push(header, encoded)
        bytes += header.length + encoded.length
        replies++
      }
      queue.splice(0, replies)
      return { message: Buffer.concat(parts, bytes), replies }
    },
  }
}

/** The tag (wire type 2, length-delimited) and length of a field holding `length` bytes. */
function fieldHeader(field: number, length: number): Buffer {
  const bytes = [(field << 3) | 2]
  let rest = length
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80)
    rest >>>= 7
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

/** One `Stream` or `Bulk` call: concurrent requests, replies in completion order, bounded. */
function startStream(context: CallContext, call: ServerDuplexStream<Wire, Wire>, framing: Framing) {
  const principal = authenticate(context.gateway, call.metadata)
  if (typeof principal === 'string') {
    // grpc-js turns an 'error' on a server stream into the call's status.
    call.emit('error', { code: grpcStatus.UNAUTHENTICATED, details: principal })
    return
  }
  new StreamSession(context, call, principal, framing).start()
}

/** Ends the streams of a revoked token (see `Gateway.endTokenCalls`). */
function tokenCalls(streams: Map<string, Set<StreamSession>>): TokenCalls {
  return {
    end(token, reason) {
      for (const session of [...(streams.get(token) ?? [])]) session.revoke(reason)
    },
  }
}

const shuttingDown = 'the server is shutting down; retry elsewhere with the same key'

class StreamSession {
  readonly #context: CallContext
  readonly #call: ServerDuplexStream<Wire, Wire>
  readonly #principal: Principal
  readonly #framing: Framing
  /** Requests received whose reply has not been handed to `write` yet (running or queued). */
  #inFlight = 0
  /**
   * Ids of the requests run whose reply has not been handed to `write` yet:
   * a second request with one of them is refused (replies are matched by id).
   */
  readonly #ids = new Set<string>()
  /** Replies not yet written, in completion order. */
  readonly #queue: Wire[] = []
  /** For each reply in `#queue`, the id its writing frees (a request that ran), or undefined (a refusal). */
  readonly #frees: (string | undefined)[] = []
  #blocked = false
  /** A flush at the end of this turn is scheduled (gathering framing). */
  #gathering = false
  #halfClosed = false
  #closed = false
  /** Why the call's token no longer counts, once it was revoked. */
  #revoked: string | undefined
  /** The server is closing (see `drain`). */
  #draining = false

  constructor(context: CallContext, call: ServerDuplexStream<Wire, Wire>, principal: Principal, framing: Framing) {
    this.#context = context
    this.#call = call
    this.#principal = principal
    this.#framing = framing
  }

  start(): void {
    const call = this.#call
    const streams = this.#context.streams
    let open = streams.get(this.#principal.id)
    if (open === undefined) streams.set(this.#principal.id, (open = new Set()))
    open.add(this)
    if (this.#context.draining) this.#draining = true
    call.on('data', (message: Wire) => {
      for (const request of this.#framing.requests(message)) this.#receive(request)
    })
    call.on('end', () => {
      this.#halfClosed = true
      this.#endIfDone()
    })
    call.on('drain', () => this.#flush())
    // Cancelled by the client or its deadline, or failed: nothing more may be written.
    call.on('cancelled', () => this.#close())
    call.on('error', (error: Error) => {
      if (!this.#closed) this.#context.log.warn(`gRPC stream from ${call.getPeer()} failed: ${error.message}`)
      this.#close()
    })
  }

  /**
   * The token was revoked: requests from now on are refused, those in flight
   * are answered, and then the call ends with UNAUTHENTICATED.
   */
  revoke(reason: string): void {
    this.#revoked = reason
    this.#endIfDone()
  }

  /**
   * The server is closing: requests from now on are answered UNAVAILABLE,
   * those in flight are answered, and then the call ends with UNAVAILABLE.
   */
  drain(): void {
    this.#draining = true
    this.#endIfDone()
  }

  #receive(request: Wire): void {
    if (this.#closed) return
    // Read after the call's deadline: the call has failed (or is about to, when grpc-js's timer
    // fires), so this request must not run; those already running may still apply, as documented.
    if (deadlinePassed(this.#call)) {
      this.#close()
      this.#call.emit('error', { code: grpcStatus.DEADLINE_EXCEEDED, details: 'Deadline exceeded' })
      return
    }
    const id = typeof request['id'] === 'string' ? request['id'] : ''
    this.#inFlight++
    const damaged = request[malformed]
    if (typeof damaged === 'string') {
      this.#answer(id, { status: 'invalid_request', field: 'request', message: damaged })
      return
    }
    if (id === '') {
      // Replies come in completion order, matched by id, and "" is the reply to a damaged message:
      // a request without an id could not be told apart from one, so it is refused, not run.
      const message = 'a request needs an id, to match its reply (replies come in completion order; "" answers a damaged message)'
      this.#answer(id, { status: 'invalid_request', field: 'id', message })
      return
    }
    if (this.#ids.has(id)) {
      const message = `id ${JSON.stringify(id)} is in flight on this stream: wait for its reply before using the id again`
      this.#answer(id, { status: 'invalid_request', field: 'id', message })
      return
    }
    if (this.#inFlight > this.#context.streamInFlightMax) {
      const limit = this.#context.streamInFlightMax
      const message = `${limit} requests in flight on this stream (streamInFlightMax); ` +
        'retry with the same key'
      this.#answer(id, { status: 'overloaded', message })
      return
    }
    if (this.#revoked !== undefined) {
      this.#answer(id, { status: 'unauthorized', message: this.#revoked })
      return
    }
    if (this.#draining) {
      this.#answer(id, { status: 'unavailable', message: shuttingDown })
      return
    }
    const op = request['op']
    if (!isOperation(op)) {
      const message = `set one of the op fields: ${operations.join(', ')}`
      this.#answer(id, { status: 'invalid_request', field: 'op', message })
      return
    }
    const fields = this.#context.schema.fromWire(this.#context.schema.opType(op), request[op])
    this.#ids.add(id)
    void execute(this.#context, this.#principal, op, fields)
      .then((reply) => this.#answer(id, reply, true))
  }

  /** Queues a reply; `ownsId` for the reply of a request that was run, whose id it frees once written. */
  #answer(id: string, reply: Reply, ownsId = false): void {
    if (this.#closed) return
    this.#queue.push({ id, reply: toWire(this.#context, reply) })
    this.#frees.push(ownsId ? id : undefined)
    if (this.#blocked) return
    if (!this.#framing.gather) this.#flush()
    else if (!this.#gathering) {
      this.#gathering = true
      setImmediate(() => {
        this.#gathering = false
        if (!this.#blocked) this.#flush()
      })
    }
  }

  /** Writes queued replies until the transport pushes back, then waits for `drain`. */
  #flush(): void {
    this.#blocked = false
    while (this.#queue.length > 0 && !this.#closed) {
      const { message, replies } = this.#framing.take(this.#queue)
      this.#inFlight -= replies
      for (let i = 0; i < replies; i++) {
        const freed = this.#frees.shift()
        if (freed !== undefined) this.#ids.delete(freed)
      }
      if (!this.#call.write(message as Wire)) {
        this.#blocked = true
        // The client is not taking replies as fast as it sends requests:
        // stop reading, so HTTP/2 flow control holds its requests back.
        this.#call.pause()
        return
      }
    }
    if (this.#call.isPaused()) this.#call.resume()
    this.#endIfDone()
  }

  #endIfDone(): void {
    if (this.#inFlight > 0 || this.#closed) return
    if (this.#revoked !== undefined) {
      this.#close()
      // grpc-js turns an 'error' on a server stream into the call's status.
      this.#call.emit('error', { code: grpcStatus.UNAUTHENTICATED, details: this.#revoked })
    } else if (this.#halfClosed) {
      this.#close()
      this.#call.end()
    } else if (this.#draining) {
      this.#close()
      this.#call.emit('error', { code: grpcStatus.UNAVAILABLE, details: shuttingDown })
    }
  }

  #close(): void {
    this.#closed = true
    this.#queue.length = 0
    this.#frees.length = 0
    this.#ids.clear()
    const open = this.#context.streams.get(this.#principal.id)
    open?.delete(this)
    if (open?.size === 0) this.#context.streams.delete(this.#principal.id)
  }
}

/** The parts of proto-loader's DescriptorProto (`definition[name].type`) read here. */
interface MessageDescriptor {
  name: string
  field: { name: string; number: number; label: string; type: string; typeName: string }[]
}

interface FieldInfo {
  repeated: boolean
  /** The full name of the field's message type; undefined for scalars and enums. */
  message: string | undefined
}

/**
 * The message schema, read from the loaded definition: which fields each
 * message has. Requests are copied field by field through it, so nothing the
 * schema does not declare (oneof discriminators, synthetic `_field` oneofs of
 * proto3 `optional`) reaches the engine, which rejects unknown fields.
 */
class Schema {
  readonly definition: PackageDefinition
  readonly #messages = new Map<string, Map<string, FieldInfo>>()
  readonly #opTypes = new Map<string, string>()
  /** The declared fields of each message by number, for the wire check. */
  readonly #declared = new Map<string, Map<number, DeclaredField>>()

  constructor(definition: PackageDefinition) {
    this.definition = definition
    // The decoded descriptors cannot say which fields are in a oneof (see `oneofMembers`).
    const files = Object.values(definition).flatMap((entry) =>
      'format' in entry ? (entry as ProtobufTypeDefinition).fileDescriptorProtos : [])
    const oneofs = oneofMembers(new Set(files))
    for (const [name, entry] of Object.entries(definition)) {
      if (!('format' in entry) || entry.format !== 'Protocol Buffer 3 DescriptorProto') continue
      const type = entry.type as MessageDescriptor
      const fields = new Map<string, FieldInfo>()
      const declared = new Map<number, DeclaredField>()
      for (const field of type.field) {
        const message = field.type === 'TYPE_MESSAGE' ? qualify(field.typeName) : undefined
        const repeated = field.label === 'LABEL_REPEATED'
        fields.set(field.name, { repeated, message })
        const oneof = oneofs.get(name)?.get(field.number)
        declared.set(field.number, {
          name: field.name,
          wireType: wireTypeOf(field.type),
          repeated,
          string: field.type === 'TYPE_STRING',
          ...(message === undefined ? {} : { message }),
          ...(oneof === undefined ? {} : { oneof }),
        })
      }
      this.#messages.set(name, fields)
      this.#declared.set(name, declared)
    }
    const stream = this.#messages.get(`${packagePrefix}StreamRequest`)
    for (const op of operations) {
      const type = stream?.get(op)?.message
      if (type === undefined) throw new Error(`StreamRequest has no message field ${op}`)
      this.#opTypes.set(op, type)
    }
  }

  /**
   * The service definition with each request checked for well-formed
   * protobuf before it is decoded: damaged bytes decode to `{ [malformed]:
   * what is wrong }`, which the handlers answer INVALID_REQUEST.
   */
  checkedService(): ServiceDefinition {
    const service = this.definition[serviceName] as ServiceDefinition
    const declared = (typeName: string) => this.#declared.get(typeName)
    const checked: Record<string, ServiceDefinition[string]> = {}
    for (const [name, method] of Object.entries(service)) {
      const typeName = packagePrefix + ((method as unknown as LoadedService[string]).requestType.type as MessageDescriptor).name
      const decode = method.requestDeserialize
      const encode = method.responseSerialize
      checked[name] = {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          const fault = wireFault(declared, typeName, bytes)
          return fault === undefined ? decode(bytes) : { [malformed]: `the request is not a well-formed ${typeName}: ${fault}` }
        },
        // Bulk replies arrive encoded already (see `bulkFraming`).
        ...(name === 'Bulk' ? { responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : encode(value)) } : {}),
      }
    }
    return checked as ServiceDefinition
  }

  /** Encodes one `StreamReply`, as the `Stream` call's replies are. */
  get encodeStreamReply(): (reply: Wire) => Buffer {
    const method = (this.definition[serviceName] as ServiceDefinition)['Stream']
    if (method === undefined) throw new Error(`${serviceName} has no Stream method`)
    return (reply) => method.responseSerialize(reply)
  }

  /** The request message type of a stream operation field. */
  opType(op: OperationName): string {
    return this.#opTypes.get(op)!
  }

  /** A decoded message as engine fields: declared fields only, empty ones dropped. */
  fromWire(typeName: string, message: unknown): Wire {
    const fields = this.#messages.get(typeName)
    const out: Wire = {}
    if (fields === undefined || typeof message !== 'object' || message === null) return out
    const input = message as Wire
    for (const [name, info] of fields) {
      const value = input[name]
      if (value === undefined || value === null) continue
      if (info.repeated) {
        if (!Array.isArray(value) || value.length === 0) continue
        const type = info.message
        out[name] = type === undefined ? value : value.map((item) => this.fromWire(type, item))
      } else if (info.message !== undefined) {
        const nested = this.fromWire(info.message, value)
        // An empty source says nothing; the gateway stamps the caller's own.
        if (info.message === `${packagePrefix}Source` && Object.keys(nested).length === 0) continue
        out[name] = nested
      } else {
        out[name] = value
      }
    }
    return out
  }
}

/** proto-loader gives type names relative to the package (`Basket`) or qualified (`.a.b.C`). */
function qualify(typeName: string): string {
  if (typeName.startsWith('.')) return typeName.slice(1)
  return typeName.includes('.') ? typeName : packagePrefix + typeName
}
