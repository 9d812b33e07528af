/**
 * Goal: each decoder turns what a real reader sends into the card it read,
 * and turns garbage (noise, half swipes, missing sentinels, bad Luhn, wrong
 * report sizes, key chords, partial input) into a reported rejection, never
 * a card. Method: recorded report sequences replayed through a fake device
 * shaped like node-hid's into a `ReaderPort`, the same path the bridge uses,
 * with reader settings parsed by the real config parser.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../config.ts'
import type { Decoded } from '../decode/result.ts'
import { inboxReportsMax, ReaderPort } from '../reader.ts'
import { FakeHidDevice } from '../testing/fake-hid.ts'
import { typed } from '../testing/keyboard-reports.ts'
import {
  magtekReport,
  msrTrack2,
  nfcDecimalKeypad,
  nfcHexNumbered,
  randomReports,
  scannerCardNumber,
  scannerRollover,
  scannerWithChord,
  vendorReportOnKeyboardDriver,
} from '../testing/recordings.ts'
import { createDriverRegistry } from './builtin.ts'
import type { ReaderDriver } from './driver.ts'
import { DriverRegistry } from './driver.ts'
import { keyboardWedgeDriver } from './keyboard-wedge.ts'

const drivers = createDriverRegistry()

function readerConfig(reader: Record<string, unknown>) {
  const raw = {
    terminal: { id: 'pos-1', secret: 's' },
    gateway: { url: 'ws://127.0.0.1:1/' },
    readers: [{ name: 'r', vendorId: '1234', productId: '5678', ...reader }],
  }
  return parseConfig(raw).readers[0]!
}

/** A reader port on a fake device, attached, reading the time from `clock`. */
function attached(config: ReturnType<typeof readerConfig>, clock: () => number, driver?: ReaderDriver) {
  const port = new ReaderPort(config, driver ?? drivers.forDevice(config), clock)
  const device = new FakeHidDevice({
    vendorId: config.vendorId,
    productId: config.productId,
    path: '/dev/hidraw9',
    release: 1,
    interface: 0,
  })
  port.attach(device.info, device)
  return { port, device }
}

/**
 * Replays reports through a fake device into a reader port; drains once when
 * they are in, then once after the idle timeout (to end partial input).
 */
function replay(
  reader: Record<string, unknown>,
  reports: Iterable<number[]>,
  driver?: ReaderDriver,
): Decoded[] {
  return replayBursts(reader, [{ atMs: 0, reports }], driver)
}

/**
 * Like `replay`, for bursts of reports arriving at their own times (ms after
 * the first) but all drained together, as when the bridge's tick comes late.
 */
function replayBursts(
  reader: Record<string, unknown>,
  bursts: { atMs: number; reports: Iterable<number[]> }[],
  driver?: ReaderDriver,
): Decoded[] {
  let now = 1_000
  const config = readerConfig(reader)
  const { port, device } = attached(config, () => now, driver)
  for (const burst of bursts) {
    now = 1_000 + burst.atMs
    for (const report of burst.reports) {
      device.replay([report])
      now += 4
    }
  }
  const results = port.drain(now)
  now += config.idleTimeoutMs
  return [...results, ...port.drain(now)]
}

const cards = (results: Decoded[]) => results.flatMap((r) => (r.ok ? [r.card] : []))
const reasons = (results: Decoded[]) => results.flatMap((r) => (r.ok ? [] : [r.reason]))

describe('keyboard-wedge readers, recorded', () => {
  it('reads a barcode scanner typing a card number', () => {
    expect(replay({ content: 'barcode' }, scannerCardNumber)).toEqual([
      { ok: true, card: { type: 'card', value: '600123456789' } },
    ])
  })

  it('reads a scanner that rolls keys over, ignoring a modifier-only report', () => {
    expect(replay({ content: 'barcode' }, scannerRollover)).toEqual([
      { ok: true, card: { type: 'card', value: 'ABC123' } },
    ])
  })

  it('reads a typed track-2 swipe, with the expiry, as magstripe or auto content', () => {
    const card = { type: 'card', value: '600123456789', expiry: '2030-12' }
    expect(replay({ content: 'magstripe' }, msrTrack2)).toEqual([{ ok: true, card }])
    expect(replay({ content: 'auto' }, msrTrack2)).toEqual([{ ok: true, card }])
  })

  it('reads a two-track swipe with the cardholder name', () => {
    const swipe =
      '%B4111111111111111^LOVELACE/ADA^2712101000000?;4111111111111111=27121010000000?\n'
    expect(cards(replay({ content: 'magstripe' }, typed(swipe)))).toEqual([
      { type: 'card', value: '4111111111111111', name: 'ADA LOVELACE', expiry: '2027-12' },
    ])
  })

  it('reads an NFC reader typing a reversed decimal UID on the keypad', () => {
    const nfc = { format: 'decimal', byteOrder: 'reversed' }
    expect(replay({ content: 'nfc', nfc }, nfcDecimalKeypad)).toEqual([
      { ok: true, card: { type: 'nfc', value: '04A2B3C4' } },
    ])
    expect(replay({ content: 'nfc', cardType: 'fob', nfc }, nfcDecimalKeypad)).toEqual([
      { ok: true, card: { type: 'fob', value: '04A2B3C4' } },
    ])
  })

  it('reads an NFC reader with numbered reports, ignoring its other report ids', () => {
    expect(replay({ content: 'nfc', reportId: 1 }, nfcHexNumbered)).toEqual([
      { ok: true, card: { type: 'nfc', value: '04A2B3C4' } },
    ])
  })

  it('reads several cards in a row, and a scanner that sends no Enter when set to end on idle', () => {
    expect(
      cards(replay({ content: 'barcode' }, [...scannerCardNumber, ...typed('ABC123\n')])).map(
        (c) => c.value,
      ),
    ).toEqual(['600123456789', 'ABC123'])
    expect(replay({ content: 'barcode', endOfInput: 'idle' }, typed('600123456789'))).toEqual([
      { ok: true, card: { type: 'card', value: '600123456789' } },
    ])
  })
})

describe('keyboard-wedge reads cut short', () => {
  const values = (results: Decoded[]) => cards(results).map((c) => c.value)

  it('rejects a read cut short and reads the next card on its own, both in one tick', () => {
    const results = replayBursts({ content: 'barcode' }, [
      { atMs: 0, reports: typed('600100') },
      { atMs: 2_000, reports: typed('6001000000000002\n') },
    ])
    expect(values(results)).toEqual(['6001000000000002'])
    expect(reasons(results)).toEqual([
      'partial input: 6 characters and no Enter within 500 ms',
    ])
  })

  it('ends a read at a pause between two cards in one tick, for a reader that sends no Enter', () => {
    const results = replayBursts({ content: 'barcode', endOfInput: 'idle' }, [
      { atMs: 0, reports: typed('600123456789') },
      { atMs: 2_000, reports: typed('ABC123') },
    ])
    expect(values(results)).toEqual(['600123456789', 'ABC123'])
    expect(reasons(results)).toEqual([])
  })

  it('rejects a cut read that went bad before the pause with its own reason, not the next card', () => {
    const results = replayBursts({ content: 'barcode' }, [
      { atMs: 0, reports: scannerWithChord.slice(0, 4) },
      { atMs: 2_000, reports: scannerCardNumber },
    ])
    expect(values(results)).toEqual(['600123456789'])
    expect(reasons(results)).toEqual([expect.stringMatching(/Ctrl, Alt or GUI/)])
  })
})

describe('a keyboard-wedge reader unplugged mid-read', () => {
  it('reads the card before the failure, and does not end the read it cut, however late the drain', () => {
    let now = 1_000
    const config = readerConfig({ content: 'barcode', endOfInput: 'idle' })
    const { port, device } = attached(config, () => now)
    device.replay(typed('600123456789'))
    now = 2_000
    device.replay(typed('600123'))
    now = 2_010
    device.emit('error', new Error('could not read from HID device'))
    // The bridge's tick comes seconds later (it was busy delivering), as the bridge drains a failed port.
    now = 5_000
    expect(port.takeFailure()?.message).toBe('could not read from HID device')
    expect(port.drain(now)).toEqual([{ ok: true, card: { type: 'card', value: '600123456789' } }])
  })
})

describe('a keyboard-wedge reader flooding one tick', () => {
  it('never joins the start of a read kept before the drop with the end of one after it', () => {
    let now = 1_000
    const config = readerConfig({ content: 'barcode', readsPerMinuteMax: 6000 })
    const { port, device } = attached(config, () => now)
    const read = typed('600123456789\n')
    const whole = Math.floor(inboxReportsMax / read.length)
    for (let i = 0; i < whole; i++) device.replay(read)
    // The inbox fills in the middle of a read: '6001234' is kept, the rest of it is dropped.
    const kept = inboxReportsMax - whole * read.length
    const cut = typed('600123456789\n')
    device.replay(cut.slice(0, kept))
    device.replay(cut.slice(kept))
    const first = port.drain(now)
    expect(cards(first)).toHaveLength(whole)
    expect(reasons(first).some((reason) => reason.includes('reports dropped'))).toBe(true)
    // The next tick brings the end of another read: on its own it is no card of the first one's.
    now += 10
    device.replay(typed('56789\n'))
    const next = [...port.drain(now), ...port.drain(now + config.idleTimeoutMs)]
    expect(cards(next).map((card) => card.value)).not.toContain('600123456789')
  })
})

describe('keyboard-wedge garbage, reported and dropped', () => {
  it('never makes a card of random reports', () => {
    for (const content of ['barcode', 'magstripe', 'nfc', 'auto']) {
      const results = replay({ content }, randomReports(400, 8))
      expect(cards(results)).toEqual([])
      expect(results.length).toBeGreaterThan(0)
    }
  })

  it('never makes a swipe of random keystrokes from the characters swipes are made of', () => {
    const alphabet = '%;?^=B0123456789/ABCDEFGHIJKLMNOPQRSTUVWXYZ \n'
    const keys = randomReports(1, 3000)[0]!
      .map((byte) => alphabet[byte % alphabet.length]!)
      .join('')
    const results = replay({ content: 'magstripe' }, typed(keys))
    expect(cards(results)).toEqual([])
    expect(reasons(results).length).toBeGreaterThan(20)
  })

  it.each([
    [
      'half a swipe, ended by Enter',
      { content: 'magstripe' },
      typed('%B4111111111111111^LOVELACE/ADA^27\n'),
      /no end sentinel/,
    ],
    [
      'half a swipe that never ends',
      { content: 'magstripe' },
      typed('%B4111111111111111^LOVELACE/ADA^27'),
      /partial input: 34 characters and no Enter within 500 ms/,
    ],
    [
      'a track without sentinels',
      { content: 'magstripe' },
      typed('4111111111111111=2712101\n'),
      /start with its sentinel/,
    ],
    ['a bad Luhn digit', { content: 'magstripe' }, typed(';4111111111111112=2712101?\n'), /Luhn/],
    [
      'a barcode failing a required Luhn check',
      { content: 'barcode', luhn: true },
      typed('6001234567890\n'),
      /Luhn/,
    ],
    ['a barcode too short for a card number', { content: 'barcode' }, typed('12345\n'), /6 to 32/],
    ['an NFC UID of the wrong size', { content: 'nfc' }, typed('04A2B3C4D5\n'), /4, 7 or 10 bytes/],
    ['a Ctrl chord in the middle', { content: 'barcode' }, scannerWithChord, /Ctrl, Alt or GUI/],
    [
      'a report of the wrong size',
      { content: 'barcode' },
      vendorReportOnKeyboardDriver,
      /64 bytes, not an 8-byte boot keyboard report/,
    ],
    [
      'more characters than a read may have',
      { content: 'barcode', lineLengthMax: 8 },
      typed('600123456789\n'),
      /longer than 8/,
    ],
  ])('rejects %s', (_, reader, reports, reason) => {
    const results = replay(reader, reports)
    expect(cards(results)).toEqual([])
    expect(reasons(results)).toHaveLength(1)
    expect(reasons(results)[0]).toMatch(reason)
  })

  it('limits the reads a minute, dropping the rest as a runaway reader', () => {
    const results = replay({ content: 'barcode', readsPerMinuteMax: 2 }, [
      ...scannerCardNumber,
      ...scannerCardNumber,
      ...scannerCardNumber,
    ])
    expect(cards(results)).toHaveLength(2)
    expect(reasons(results)).toEqual([expect.stringMatching(/more than 2 reads a minute/)])
  })
})

describe('MagTek HID swipe reader, recorded', () => {
  const magtek = { vendorId: '0801', productId: '0002' }
  const track1 = '%B4111111111111111^LOVELACE/ADA^2712101000000?'
  const track2 = ';4111111111111111=27121010000000?'

  it('is the default driver for 0801:0002', () => {
    expect(drivers.forDevice({ vendorId: 0x0801, productId: 0x0002 }).name).toBe('magtek-hid')
    expect(drivers.forDevice({ vendorId: 0x0801, productId: 0x0001 }).name).toBe('keyboard')
  })

  it('reads a whole report, and one delivered in 64-byte pieces', () => {
    const report = magtekReport({ track1, track2 })
    const card = {
      type: 'card',
      value: '4111111111111111',
      name: 'ADA LOVELACE',
      expiry: '2027-12',
    }
    expect(replay(magtek, [report])).toEqual([{ ok: true, card }])
    const pieces = Array.from({ length: Math.ceil(report.length / 64) }, (_, i) =>
      report.slice(i * 64, i * 64 + 64),
    )
    expect(replay(magtek, pieces)).toEqual([{ ok: true, card }])
  })

  describe('after a cut report', () => {
    const report = magtekReport({ track1, track2 })
    const piecesOf = (bytes: number[], size = 64) =>
      Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
        bytes.slice(i * size, i * size + size),
      )
    const swipe = piecesOf(report)
    const swipes = [...swipe, ...swipe, ...swipe]
    const pan = '4111111111111111'

    it.each([
      ['its first 100 bytes, in pieces', piecesOf(report.slice(0, 100)), 100],
      ['its first 100 bytes, in one piece', [report.slice(0, 100)], 100],
      ['its first three pieces', piecesOf(report).slice(0, 3), 192],
      ['all but its last piece', piecesOf(report).slice(0, 5), 320],
      ['all but one piece in the middle', piecesOf(report).toSpliced(2, 1), 273],
      ['only its last piece', piecesOf(report).slice(5), 17],
      ['its last two pieces', piecesOf(report).slice(4), 81],
    ])('loses only that swipe: %s, then whole swipes in 64-byte pieces', (_, cut, bytes) => {
      const results = replay(magtek, [...cut, ...swipes])
      expect(results).toEqual([
        { ok: false, reason: `an incomplete report: ${bytes} of 337 bytes` },
        ...Array.from({ length: 3 }, () => expect.objectContaining({ ok: true })),
      ])
      expect(cards(results).map((c) => c.value)).toEqual([pan, pan, pan])
    })

    it('loses only that swipe when the next swipes come seconds later, in the same tick', () => {
      const results = replayBursts(magtek, [
        { atMs: 0, reports: piecesOf(report.slice(0, 100)) },
        { atMs: 2_000, reports: swipe },
        { atMs: 4_000, reports: swipe },
      ])
      expect(cards(results).map((c) => c.value)).toEqual([pan, pan])
      expect(reasons(results)).toEqual(['an incomplete report: 100 of 337 bytes'])
    })

    it('loses only that swipe from a stack that delivers whole reports', () => {
      const results = replay(magtek, [report.slice(0, 200), report, report])
      expect(cards(results).map((c) => c.value)).toEqual([pan, pan])
      expect(reasons(results)).toEqual(['an incomplete report: 200 of 337 bytes'])
    })
  })

  it('reads track 2 when the reader could not decode track 1', () => {
    expect(
      cards(replay(magtek, [magtekReport({ track1: '%B41', track2, status: [1, 0, 2] })])),
    ).toEqual([{ type: 'card', value: '4111111111111111', expiry: '2027-12' }])
  })

  it.each([
    ['a bad swipe on every track', [magtekReport({ status: [1, 1, 1] })], /no readable track/],
    [
      'an incomplete report',
      [magtekReport({ track2 }).slice(0, 200)],
      /incomplete report: 200 of 337/,
    ],
    [
      'a track without sentinels',
      [magtekReport({ track2: '4111111111111111=2712?' })],
      /start with its sentinel/,
    ],
    ['a bad Luhn digit', [magtekReport({ track2: ';4111111111111112=2712?' })], /Luhn/],
    [
      'a track length past its field',
      [magtekReport({ track2 }).map((b, i) => (i === 4 ? 200 : b))],
      /claims 200 bytes/,
    ],
    ['more bytes than a report', [[...magtekReport({ track2 }), 0, 0]], /339 bytes/],
  ])('rejects %s', (_, reports, reason) => {
    const results = replay(magtek, reports)
    expect(cards(results)).toEqual([])
    expect(reasons(results)[0]).toMatch(reason)
  })
})

describe('driver registry', () => {
  /** A reader with its own format: one report per read, `[length, ...ASCII digits]`. */
  const lengthPrefixed: ReaderDriver = {
    name: 'length-prefixed',
    description: 'test reader: [length, ...digits]',
    devices: [{ vendorId: 0xfeed, productId: 0x0001 }],
    createDecoder: (options) => ({
      report: (data) => {
        const digits = String.fromCharCode(...data.subarray(1, 1 + data[0]!))
        return /^\d{6,32}$/.test(digits) && data[0]! < data.length
          ? [{ ok: true, card: { type: options.cardType, value: digits } }]
          : [{ ok: false, reason: 'not a length-prefixed card number' }]
      },
      idle: () => [],
    }),
  }

  it('decodes a device with the driver registered for its ids, or the one its config names', () => {
    const registry = createDriverRegistry().register(lengthPrefixed)
    const report = [12, ...Buffer.from('600123456789')]
    const config = { vendorId: 'feed', productId: '0001' }
    expect(replay(config, [report], registry.forDevice(readerConfig(config)))).toEqual([
      { ok: true, card: { type: 'card', value: '600123456789' } },
    ])
    expect(replay(config, [[40, 1, 2]], registry.forDevice(readerConfig(config)))).toEqual([
      { ok: false, reason: 'not a length-prefixed card number' },
    ])
    expect(registry.get('length-prefixed')).toBe(lengthPrefixed)
    expect(registry.names()).toEqual(['keyboard', 'magtek-hid', 'length-prefixed'])
  })

  it('refuses a second driver with the same name or for the same ids', () => {
    const registry = new DriverRegistry(keyboardWedgeDriver).register(lengthPrefixed)
    expect(() => registry.register(lengthPrefixed)).toThrow(/already registered/)
    expect(() => registry.register({ ...lengthPrefixed, name: 'other' })).toThrow(
      /feed:0001 is already decoded by length-prefixed/,
    )
  })
})
