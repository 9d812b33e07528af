/**
 * Goal: settings are filled in with sensible defaults, and every bad one is
 * refused with an error naming the field. Method: a table of settings →
 * the field named.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from './config.ts'

const base = {
  terminal: { id: 'pos-1', secret: 'pos-1-secret' },
  gateway: { url: 'ws://127.0.0.1:8081/' },
  readers: [{ name: 'msr', vendorId: '0801', productId: '0x0001', content: 'magstripe' }],
}

function with_(patch: (raw: Record<string, any>) => void) {
  const raw = structuredClone(base) as Record<string, any>
  patch(raw)
  return raw
}

describe('bridge settings', () => {
  it('fills in defaults', () => {
    const config = parseConfig(base)
    expect(config).toMatchObject({
      name: 'bridge-pos-1',
      gateway: {
        url: 'ws://127.0.0.1:8081/',
        requestTimeoutMs: 10_000,
        reconnectDelayMsMin: 500,
        reconnectDelayMsMax: 30_000,
      },
      queue: { dir: 'bridge-queue', readsMax: 1000 },
      pollIntervalMs: 2000,
    })
    expect(config.readers[0]).toEqual({
      name: 'msr',
      vendorId: 0x0801,
      productId: 0x0001,
      content: 'magstripe',
      cardType: 'card',
      nfc: { format: 'hex', byteOrder: 'as-read', decimalBytes: 4 },
      endOfInput: 'enter',
      idleTimeoutMs: 500,
      lineLengthMax: 128,
      readsPerMinuteMax: 60,
    })
    const nfc = parseConfig(
      with_(
        (r) =>
          (r['readers'] = [
            {
              name: 'tag',
              vendorId: 1,
              productId: 2,
              content: 'nfc',
              nfc: { format: 'decimal' },
              reportId: 1,
            },
          ]),
      ),
    )
    expect(nfc.readers[0]).toMatchObject({
      cardType: 'nfc',
      nfc: { format: 'decimal', byteOrder: 'as-read' },
      reportId: 1,
    })
  })

  it.each([
    ['no terminal id', (r: any) => delete r.terminal.id, 'terminal.id'],
    ['no secret', (r: any) => delete r.terminal.secret, 'terminal.secret'],
    ['no gateway', (r: any) => delete r.gateway, 'gateway.url'],
    ['an http URL', (r: any) => (r.gateway.url = 'http://x/'), 'gateway.url'],
    [
      'backoff upside down',
      (r: any) => Object.assign(r.gateway, { reconnectDelayMsMin: 5000, reconnectDelayMsMax: 100 }),
      'gateway.reconnectDelayMsMax',
    ],
    ['no readers', (r: any) => (r.readers = []), 'readers'],
    ['readers not a list', (r: any) => (r.readers = { name: 'x' }), 'readers'],
    [
      'a vendor id that is not hex',
      (r: any) => (r.readers[0].vendorId = 'msr'),
      'readers[0].vendorId',
    ],
    [
      'a product id too large',
      (r: any) => (r.readers[0].productId = 70000),
      'readers[0].productId',
    ],
    ['an unknown content', (r: any) => (r.readers[0].content = 'qr'), 'readers[0].content'],
    ['an unknown card type', (r: any) => (r.readers[0].cardType = 'credit'), 'readers[0].cardType'],
    ['a typo in a reader', (r: any) => (r.readers[0].vendorID = '0801'), 'readers[0].vendorID'],
    ['a typo at the top', (r: any) => (r.reader = []), 'reader'],
    [
      'a bad byte order',
      (r: any) => (r.readers[0].nfc = { byteOrder: 'backwards' }),
      'readers[0].nfc.byteOrder',
    ],
    [
      'a 5-byte decimal UID',
      (r: any) => (r.readers[0].nfc = { decimalBytes: 5 }),
      'readers[0].nfc.decimalBytes',
    ],
    [
      'a fractional timeout',
      (r: any) => (r.readers[0].idleTimeoutMs = 2.5),
      'readers[0].idleTimeoutMs',
    ],
    ['luhn as text', (r: any) => (r.readers[0].luhn = 'yes'), 'readers[0].luhn'],
    [
      'two readers with one name',
      (r: any) => r.readers.push({ ...r.readers[0] }),
      'readers[1].name',
    ],
    ['a queue without room', (r: any) => (r.queue = { readsMax: 0 }), 'queue.readsMax'],
    ['a queue that is not an object', (r: any) => (r.queue = 'here'), 'queue'],
    ['a line break in the terminal id', (r: any) => (r.terminal.id = 'till-1\n'), 'terminal.id'],
    ['a trailing space in the terminal id', (r: any) => (r.terminal.id = 'till-1 '), 'terminal.id'],
    ['a zero-width space in a reader name', (r: any) => (r.readers[0].name = 'msr\u200b'), 'readers[0].name'],
    ['an escape in the queue folder', (r: any) => (r.queue = { dir: '/var/lib/\u001b[2Jq' }), 'queue.dir'],
    ['a tab in the gateway URL', (r: any) => (r.gateway.url = 'ws://x:8081/\t'), 'gateway.url'],
    ['a bidirectional override in the bridge name', (r: any) => (r.name = 'bridge\u202e1'), 'name'],
    // URLs the WebSocket client would refuse only once the bridge is running (exit 1, no field named).
    ['a port past 65535 in the gateway URL', (r: any) => (r.gateway.url = 'ws://loyalty.local:80810/'), 'gateway.url'],
    ['a space in the gateway host', (r: any) => (r.gateway.url = 'ws://loyalty local:8081/'), 'gateway.url'],
    ['a fragment in the gateway URL', (r: any) => (r.gateway.url = 'ws://loyalty.local:8081/#pos'), 'gateway.url'],
    // null is a value, not a missing setting: it must not stand for the default.
    ['a null queue size', (r: any) => (r.queue = { readsMax: null }), 'queue.readsMax'],
    ['a null maximum age', (r: any) => (r.queue = { ageMaxMs: null }), 'queue.ageMaxMs'],
    ['a null queue', (r: any) => (r.queue = null), 'queue'],
    ['a null gateway', (r: any) => (r.gateway = null), 'gateway'],
    ['a null content', (r: any) => (r.readers[0].content = null), 'readers[0].content'],
    ['a null idle timeout', (r: any) => (r.readers[0].idleTimeoutMs = null), 'readers[0].idleTimeoutMs'],
    ['a null UID size', (r: any) => (r.readers[0].nfc = { decimalBytes: null }), 'readers[0].nfc.decimalBytes'],
    ['null readers', (r: any) => (r.readers = null), 'readers'],
    ['a null bridge name', (r: any) => (r.name = null), 'name'],
  ])('refuses %s, naming %s', (_, patch, field) => {
    let error: unknown
    try {
      parseConfig(with_(patch))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).field).toBe(field)
  })

  it('makes a name of at most 64 characters from a long terminal id', () => {
    const id = `pos-${'x'.repeat(120)}`
    const config = parseConfig(with_((r) => (r['terminal'].id = id)))
    expect(config.name).toBe(`bridge-${id}`.slice(0, 64))
    const astral = parseConfig(with_((r) => (r['terminal'].id = `${'x'.repeat(56)}\u{1F3EA}y`)))
    expect(astral.name).toBe(`bridge-${'x'.repeat(56)}`)
  })

  it('takes a secret with any characters: it is compared, never shown', () => {
    const config = parseConfig(with_((r: any) => (r.terminal.secret = ' tab\tand\u0000nul ')))
    expect(config.terminal.secret).toBe(' tab\tand\u0000nul ')
  })

  it('says what an optional setting set to null must be, rather than that it is required', () => {
    expect(() => parseConfig(with_((r: any) => (r.readers[0].path = null)))).toThrow(
      'readers[0].path: must be a string of 1 to 256 characters',
    )
    expect(() => parseConfig(with_((r: any) => (r.readers[0].reportId = null)))).toThrow(
      'readers[0].reportId: must be a whole number from 0 to 255',
    )
  })

  it('names the character it refuses and where', () => {
    expect(() => parseConfig(with_((r: any) => (r.terminal.id = 'till\u00851')))).toThrow(
      'terminal.id: must not contain control or invisible characters (U+0085 at 4)',
    )
  })
})
