/**
 * MagTek USB HID swipe readers in HID (not keyboard) mode, vendor 0x0801,
 * product 0x0002: each swipe is one 337-byte input report,
 *
 *   0..2   decode status of tracks 1, 2, 3 (0 = read)
 *   3..5   data length of tracks 1, 2, 3
 *   6      card encode type
 *   7..116 track 1 data, 117..226 track 2, 227..336 track 3 (ASCII, with sentinels)
 *
 * (layout from MagTek's USB HID swipe reader reference; not yet checked
 * against a device here). Some stacks deliver the report in pieces, so bytes
 * are gathered until a whole report is in; pieces left incomplete for
 * `idleTimeoutMs` are rejected. Tracks 1 and 2 then go through the ISO/IEC
 * 7813 parser like a typed swipe; track 3 is not used.
 *
 * @module
 */
import { parseSwipe } from '../decode/magstripe.ts'
import type { Decoded } from '../decode/result.ts'
import type { DecoderOptions, ReaderDriver, ReportDecoder } from './driver.ts'

export const magtekReportBytes = 337
const trackOffsets = [7, 117] as const
const trackBytesMax = 110

export const magtekHidDriver: ReaderDriver = {
  name: 'magtek-hid',
  description: 'MagTek USB HID swipe reader (HID mode, 337-byte reports)',
  devices: [{ vendorId: 0x0801, productId: 0x0002 }],
  createDecoder(options: DecoderOptions): ReportDecoder {
    let gathered: number[] = []
    let firstAtMs = 0
    return {
      report(data, atMs) {
        if (gathered.length === 0) firstAtMs = atMs
        gathered.push(...data)
        if (gathered.length < magtekReportBytes) return []
        const report = Uint8Array.from(gathered)
        gathered = []
        if (report.length > magtekReportBytes) {
          return [
            {
              ok: false,
              reason: `${report.length} bytes where a ${magtekReportBytes}-byte report was expected`,
            },
          ]
        }
        return [decodeMagtekReport(report, options)]
      },
      idle(nowMs) {
        if (gathered.length === 0 || nowMs - firstAtMs < options.idleTimeoutMs) return []
        const count = gathered.length
        gathered = []
        return [
          { ok: false, reason: `an incomplete report: ${count} of ${magtekReportBytes} bytes` },
        ]
      },
    }
  },
}

/** Decodes one whole 337-byte report into a card read. */
export function decodeMagtekReport(
  report: Uint8Array,
  options: Pick<DecoderOptions, 'luhn' | 'cardType'>,
): Decoded {
  let swiped = ''
  for (const [index, offset] of trackOffsets.entries()) {
    const status = report[index]!
    const length = report[3 + index]!
    if (status !== 0 || length === 0) continue
    if (length > trackBytesMax) {
      return {
        ok: false,
        reason: `track ${index + 1} claims ${length} bytes, at most ${trackBytesMax} fit`,
      }
    }
    swiped += String.fromCharCode(...report.subarray(offset, offset + length))
  }
  if (swiped === '') {
    return { ok: false, reason: 'the reader reported no readable track (a bad swipe)' }
  }
  const parsed = parseSwipe(swiped, { luhn: options.luhn ?? true })
  if (!parsed.ok) return parsed
  const { pan, name, expiry } = parsed.swipe
  return {
    ok: true,
    card: {
      type: options.cardType,
      value: pan,
      ...(name ? { name } : {}),
      ...(expiry ? { expiry } : {}),
    },
  }
}
