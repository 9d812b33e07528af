/**
 * The bridge's settings: the terminal it is paired with (id, secret, the
 * gateway's WebSocket URL), the folder of its on-disk queue, and the readers
 * to open. They come from a JSON file, flags and the environment (the CLI
 * merges those into one object first), and are validated here, once: a bad
 * setting is a `ConfigError` naming the field (`readers[1].vendorId`), and
 * unknown settings are refused too, so a typo never passes silently.
 *
 * @example
 *   {
 *     "terminal": { "id": "pos-3", "secret": "…" },
 *     "gateway": { "url": "ws://loyalty.local:8081/" },
 *     "queue": { "dir": "/var/lib/loyalty-bridge" },
 *     "readers": [
 *       { "name": "scanner", "vendorId": "0c2e", "productId": "0b61", "content": "barcode" },
 *       { "name": "msr", "vendorId": "0801", "productId": "0001", "content": "magstripe" },
 *       { "name": "nfc", "vendorId": "ffff", "productId": "0035", "content": "nfc",
 *         "nfc": { "format": "decimal", "byteOrder": "reversed" } }
 *     ]
 *   }
 *
 * @module
 */
import { contentKinds, type ContentKind } from './decode/content.ts'
import type { NfcUidOptions } from './decode/nfc-uid.ts'
import { cardTypes, type CardType } from './decode/result.ts'
import type { DecoderOptions } from './drivers/driver.ts'

export interface ReaderConfig extends DecoderOptions {
  /** A short name for logs and for the POS (`reader` in the push). */
  name: string
  vendorId: number
  productId: number
  /** Narrow the match when several devices share the ids. */
  path?: string
  serialNumber?: string
  interface?: number
  usagePage?: number
  usage?: number
  /** A driver by name; by default the one registered for the ids, else `keyboard`. */
  driver?: string
  /** Reads per minute at most; more are dropped as a stuck or runaway reader. */
  readsPerMinuteMax: number
}

export interface BridgeConfig {
  /** This bridge's name as a device session, in the gateway's replies and logs. */
  name: string
  terminal: { id: string; secret: string }
  gateway: {
    url: string
    requestTimeoutMs: number
    reconnectDelayMsMin: number
    reconnectDelayMsMax: number
    /** A ping this often proves a quiet connection is still alive. */
    heartbeatMs: number
  }
  queue: {
    dir: string
    /** Reads waiting for the gateway at most; past it, new reads are refused and reported. */
    readsMax: number
    /** Reads older than this are dropped rather than shown at a till long after the fact. */
    ageMaxMs: number
  }
  readers: ReaderConfig[]
  /** How often devices are enumerated while a reader is missing (hot-plug). */
  pollIntervalMs: number
  /** How often reports are decoded and the queue is served. */
  tickMs: number
  /** How often a status line is logged. */
  statusIntervalMs: number
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

export const bridgeDefaults = {
  gateway: {
    requestTimeoutMs: 10_000,
    reconnectDelayMsMin: 500,
    reconnectDelayMsMax: 30_000,
    heartbeatMs: 20_000,
  },
  queue: { dir: 'bridge-queue', readsMax: 1000, ageMaxMs: 24 * 3_600_000 },
  pollIntervalMs: 2000,
  tickMs: 20,
  statusIntervalMs: 60_000,
  reader: { endOfInput: 'enter', idleTimeoutMs: 500, lineLengthMax: 128, readsPerMinuteMax: 60 },
  nfc: { format: 'hex', byteOrder: 'as-read', decimalBytes: 4 } satisfies NfcUidOptions,
} as const

type Raw = Record<string, unknown>

/**
 * A setting's value, or `fallback` when it is absent. Only an absent setting
 * takes the default: `null` is a value like any other, refused where it does
 * not fit (`"readsMax": null` read as "no limit" must not quietly mean 1000).
 */
function given(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value
}

/** An object whose keys are all known, or a ConfigError naming the first stray one. */
function section(value: unknown, path: string, known: readonly string[]): Raw {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(path, 'must be an object')
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ConfigError(join(path, key), `is not a setting here (known: ${known.join(', ')})`)
    }
  }
  return value as Raw
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/**
 * Control characters (C0, DEL, C1) and invisible formatting characters
 * (zero-width, bidirectional overrides, byte-order mark), as the gateway
 * refuses them in names: a line break pasted into a terminal id or a path
 * would only surface later, as a failed login or a folder nobody can find.
 */
const unprintable = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/

function text(
  raw: Raw,
  path: string,
  name: string,
  options: { fallback?: string; max?: number; anyCharacters?: boolean } = {},
): string {
  const value = given(raw[name], options.fallback)
  const max = options.max ?? 256
  const field = join(path, name)
  if (value === undefined) throw new ConfigError(field, 'is required')
  if (typeof value !== 'string' || value === '' || value.length > max) {
    throw new ConfigError(field, `must be a string of 1 to ${max} characters`)
  }
  if (options.anyCharacters === true) return value
  const bad = unprintable.exec(value)
  if (bad !== null) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')
    throw new ConfigError(field, `must not contain control or invisible characters (U+${code} at ${bad.index})`)
  }
  if (value.trim() !== value) throw new ConfigError(field, 'must not start or end with a space')
  return value
}

/** The longest name a bridge may have, given or made from the terminal id (which may be longer). */
const bridgeNameMax = 64

/** `value` cut to at most `max` UTF-16 units, never inside a character. */
function atMost(value: string, max: number): string {
  let cut = ''
  for (const character of value) {
    if (cut.length + character.length > max) break
    cut += character
  }
  return cut
}

function optionalText(raw: Raw, path: string, name: string): string | undefined {
  return raw[name] === undefined ? undefined : text(raw, path, name)
}

function whole(
  raw: Raw,
  path: string,
  name: string,
  range: { fallback?: number; min: number; max: number },
): number {
  const value = given(raw[name], range.fallback)
  if (value === undefined) throw new ConfigError(join(path, name), 'is required')
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    throw new ConfigError(
      join(path, name),
      `must be a whole number from ${range.min} to ${range.max}`,
    )
  }
  return value
}

function choice<T extends string>(
  raw: Raw,
  path: string,
  name: string,
  values: readonly T[],
  fallback: T,
): T {
  const value = given(raw[name], fallback)
  if (!values.includes(value as T)) {
    throw new ConfigError(join(path, name), `must be one of ${values.join(', ')}`)
  }
  return value as T
}

/**
 * A USB id: a number, or a hex string as lsusb and `--list` print it ("0801" or "0x0801").
 *
 * @example
 *   parseUsbId('0x0801', 'readers[0].vendorId') // 2049
 */
export function parseUsbId(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff) {
    return value
  }
  if (typeof value === 'string' && /^(0x)?[0-9a-f]{1,4}$/i.test(value)) {
    return Number.parseInt(value.replace(/^0x/i, ''), 16)
  }
  throw new ConfigError(field, 'must be a USB id: a hex string like "0801" or a number up to 65535')
}

function optionalWhole(raw: Raw, path: string, name: string, max: number): number | undefined {
  return raw[name] === undefined ? undefined : whole(raw, path, name, { min: 0, max })
}

const readerKeys = [
  'name',
  'vendorId',
  'productId',
  'path',
  'serialNumber',
  'interface',
  'usagePage',
  'usage',
  'driver',
  'content',
  'cardType',
  'luhn',
  'nfc',
  'endOfInput',
  'idleTimeoutMs',
  'lineLengthMax',
  'reportId',
  'readsPerMinuteMax',
] as const

function parseReader(value: unknown, path: string): ReaderConfig {
  const raw = section(value, path, readerKeys)
  const content = choice<ContentKind>(raw, path, 'content', contentKinds, 'auto')
  const d = bridgeDefaults.reader
  const reader: ReaderConfig = {
    name: text(raw, path, 'name', { max: 64 }),
    vendorId: parseUsbId(raw['vendorId'], join(path, 'vendorId')),
    productId: parseUsbId(raw['productId'], join(path, 'productId')),
    content,
    cardType: choice<CardType>(
      raw,
      path,
      'cardType',
      cardTypes,
      content === 'nfc' ? 'nfc' : 'card',
    ),
    nfc: parseNfc(raw['nfc'], join(path, 'nfc')),
    endOfInput: choice(raw, path, 'endOfInput', ['enter', 'idle'] as const, d.endOfInput),
    idleTimeoutMs: whole(raw, path, 'idleTimeoutMs', {
      fallback: d.idleTimeoutMs,
      min: 20,
      max: 60_000,
    }),
    lineLengthMax: whole(raw, path, 'lineLengthMax', {
      fallback: d.lineLengthMax,
      min: 4,
      max: 1024,
    }),
    readsPerMinuteMax: whole(raw, path, 'readsPerMinuteMax', {
      fallback: d.readsPerMinuteMax,
      min: 1,
      max: 6000,
    }),
  }
  if (raw['luhn'] !== undefined) {
    if (typeof raw['luhn'] !== 'boolean') {
      throw new ConfigError(join(path, 'luhn'), 'must be true or false')
    }
    reader.luhn = raw['luhn']
  }
  const extras = {
    path: optionalText(raw, path, 'path'),
    serialNumber: optionalText(raw, path, 'serialNumber'),
    driver: optionalText(raw, path, 'driver'),
    interface: optionalWhole(raw, path, 'interface', 255),
    usagePage: optionalWhole(raw, path, 'usagePage', 0xffff),
    usage: optionalWhole(raw, path, 'usage', 0xffff),
    reportId: optionalWhole(raw, path, 'reportId', 255),
  }
  for (const [key, extra] of Object.entries(extras)) {
    if (extra !== undefined) Object.assign(reader, { [key]: extra })
  }
  return reader
}

function parseNfc(value: unknown, path: string): NfcUidOptions {
  if (value === undefined) return { ...bridgeDefaults.nfc }
  const raw = section(value, path, ['format', 'byteOrder', 'decimalBytes'])
  const d = bridgeDefaults.nfc
  const decimalBytes = given(raw['decimalBytes'], d.decimalBytes)
  if (decimalBytes !== 4 && decimalBytes !== 7) {
    throw new ConfigError(join(path, 'decimalBytes'), 'must be 4 or 7')
  }
  return {
    format: choice(raw, path, 'format', ['hex', 'decimal'] as const, d.format),
    byteOrder: choice(raw, path, 'byteOrder', ['as-read', 'reversed'] as const, d.byteOrder),
    decimalBytes,
  }
}

function parseGateway(value: unknown): BridgeConfig['gateway'] {
  const path = 'gateway'
  const raw = section(given(value, {}), path, [
    'url',
    'requestTimeoutMs',
    'reconnectDelayMsMin',
    'reconnectDelayMsMax',
    'heartbeatMs',
  ])
  const url = text(raw, path, 'url', { max: 2048 })
  if (!/^wss?:\/\/[^\s/]+/i.test(url))
    throw new ConfigError(
      'gateway.url',
      'must be a ws:// or wss:// URL, e.g. ws://loyalty.local:8081/',
    )
  // What the WebSocket client would refuse at the first connection, refused here, naming the field.
  if (!URL.canParse(url)) {
    throw new ConfigError('gateway.url', 'is not a valid URL (a space in the host, a port past 65535?)')
  }
  if (new URL(url).hash !== '') {
    throw new ConfigError('gateway.url', 'must not have a #fragment')
  }
  const d = bridgeDefaults.gateway
  const gateway = {
    url,
    requestTimeoutMs: whole(raw, path, 'requestTimeoutMs', {
      fallback: d.requestTimeoutMs,
      min: 100,
      max: 600_000,
    }),
    reconnectDelayMsMin: whole(raw, path, 'reconnectDelayMsMin', {
      fallback: d.reconnectDelayMsMin,
      min: 10,
      max: 600_000,
    }),
    reconnectDelayMsMax: whole(raw, path, 'reconnectDelayMsMax', {
      fallback: d.reconnectDelayMsMax,
      min: 10,
      max: 3_600_000,
    }),
    heartbeatMs: whole(raw, path, 'heartbeatMs', {
      fallback: d.heartbeatMs,
      min: 100,
      max: 600_000,
    }),
  }
  if (gateway.reconnectDelayMsMax < gateway.reconnectDelayMsMin) {
    throw new ConfigError(
      'gateway.reconnectDelayMsMax',
      'must not be below gateway.reconnectDelayMsMin',
    )
  }
  return gateway
}

function parseQueue(value: unknown): BridgeConfig['queue'] {
  const raw = section(given(value, {}), 'queue', ['dir', 'readsMax', 'ageMaxMs'])
  const d = bridgeDefaults.queue
  return {
    dir: text(raw, 'queue', 'dir', { fallback: d.dir, max: 4096 }),
    readsMax: whole(raw, 'queue', 'readsMax', { fallback: d.readsMax, min: 1, max: 100_000 }),
    ageMaxMs: whole(raw, 'queue', 'ageMaxMs', {
      fallback: d.ageMaxMs,
      min: 1000,
      max: 30 * 24 * 3_600_000,
    }),
  }
}

const topKeys = [
  'name',
  'terminal',
  'gateway',
  'queue',
  'readers',
  'pollIntervalMs',
  'tickMs',
  'statusIntervalMs',
]

/**
 * Validates a whole configuration, filling in defaults.
 *
 * @example
 *   parseConfig(JSON.parse(readFileSync('bridge.json', 'utf8')))
 *   // throws ConfigError('readers[0].vendorId', …) on a bad id
 */
export function parseConfig(value: unknown): BridgeConfig {
  const raw = section(value, '', topKeys)
  const terminalRaw = section(given(raw['terminal'], {}), 'terminal', ['id', 'secret'])
  const terminal = {
    id: text(terminalRaw, 'terminal', 'id', { max: 128 }),
    // A secret may hold any character: it is compared, never shown.
    secret: text(terminalRaw, 'terminal', 'secret', { max: 1024, anyCharacters: true }),
  }
  const readersRaw = given(raw['readers'], [])
  if (!Array.isArray(readersRaw)) throw new ConfigError('readers', 'must be a list of readers')
  if (readersRaw.length === 0) {
    throw new ConfigError(
      'readers',
      'name at least one reader to open (see --list for the devices here)',
    )
  }
  const readers = readersRaw.map((r, i) => parseReader(r, `readers[${i}]`))
  const names = new Set<string>()
  readers.forEach((r, i) => {
    if (names.has(r.name)) {
      throw new ConfigError(`readers[${i}].name`, `${r.name} names two readers`)
    }
    names.add(r.name)
  })
  const d = bridgeDefaults
  return {
    name: text(raw, '', 'name', { fallback: atMost(`bridge-${terminal.id}`, bridgeNameMax), max: bridgeNameMax }),
    terminal,
    gateway: parseGateway(raw['gateway']),
    queue: parseQueue(raw['queue']),
    readers,
    pollIntervalMs: whole(raw, '', 'pollIntervalMs', {
      fallback: d.pollIntervalMs,
      min: 10,
      max: 600_000,
    }),
    tickMs: whole(raw, '', 'tickMs', { fallback: d.tickMs, min: 1, max: 1000 }),
    statusIntervalMs: whole(raw, '', 'statusIntervalMs', {
      fallback: d.statusIntervalMs,
      min: 100,
      max: 3_600_000,
    }),
  }
}
