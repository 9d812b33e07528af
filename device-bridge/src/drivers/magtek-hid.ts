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
 * `idleTimeoutMs` are rejected. A report cut short (pieces lost) costs only
 * its own swipe: the next report's start is found again (`ReportGatherer`).
 * Tracks 1 and 2 then go through the ISO/IEC 7813 parser like a typed swipe;
 * track 3 is not used.
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
    const gatherer = new ReportGatherer(options.idleTimeoutMs)
    return {
      report(data, atMs) {
        return gatherer
          .add(data, atMs)
          .map((piece) => (piece.ok ? decodeMagtekReport(piece.report, options) : piece))
      },
      idle: (nowMs) => gatherer.idle(nowMs),
    }
  },
}

type Rejected = { ok: false; reason: string }
type Gathered = { ok: true; report: Uint8Array } | Rejected

interface Piece {
  data: Uint8Array
  atMs: number
}

/**
 * Gathers the pieces a stack delivers into whole 337-byte reports, and after
 * a cut report (pieces lost, or a stray piece) finds where the next report
 * begins, rather than counting bytes across the cut and misreading every
 * report after it. A stack that splits reports splits them at one size, so a
 * report is pieces of one length and a shorter last one (337 is prime: the
 * last is always shorter, unless the report comes whole). Hence, in order:
 * - a piece that comes `idleTimeoutMs` after the report's first began a new
 *   one (a report's pieces come within milliseconds, swipes seconds apart);
 * - a piece longer than the first gathered begins a new report (what was
 *   gathered was the end of a cut one);
 * - past 337 bytes the report began later: the oldest pieces are dropped
 *   until the rest fits;
 * - a shorter piece ends a report; if that makes no 337 bytes, what came
 *   before it was a cut report, and it may itself be the next one's start.
 * The bytes dropped are rejected as one incomplete report, before the read
 * that follows them.
 */
class ReportGatherer {
  readonly #idleTimeoutMs: number
  #pieces: Piece[] = []
  #bytes = 0
  /** Bytes dropped as not part of a whole report, not yet reported; and when the first came. */
  #cutBytes = 0
  #cutAtMs = 0

  constructor(idleTimeoutMs: number) {
    this.#idleTimeoutMs = idleTimeoutMs
  }

  /** One piece as the device delivered it; returns the reports (and rejections) it completes. */
  add(data: Uint8Array, atMs: number): Gathered[] {
    const results: Gathered[] = this.idle(atMs)
    if (data.length > magtekReportBytes) {
      this.#cut(this.#pieces.length)
      results.push(...this.#takeCut(), oversized(data.length))
      return results
    }
    const first = this.#pieces[0]
    if (first !== undefined && data.length > first.data.length) this.#cut(this.#pieces.length)
    this.#pieces.push({ data, atMs })
    this.#bytes += data.length
    while (this.#bytes > magtekReportBytes) this.#cut(1)
    if (this.#bytes === magtekReportBytes) {
      const report = new Uint8Array(magtekReportBytes)
      let offset = 0
      for (const piece of this.#pieces) {
        report.set(piece.data, offset)
        offset += piece.data.length
      }
      this.#pieces = []
      this.#bytes = 0
      results.push(...this.#takeCut(), { ok: true, report })
    } else if (data.length < this.#pieces[0]!.data.length) {
      this.#cut(this.#pieces.length - 1)
    }
    return results
  }

  /** Rejects bytes left without a whole report for `idleTimeoutMs`. */
  idle(nowMs: number): Rejected[] {
    const first = this.#pieces[0]
    if (first !== undefined && nowMs - first.atMs >= this.#idleTimeoutMs) {
      this.#cut(this.#pieces.length)
    }
    if (this.#cutBytes === 0 || nowMs - this.#cutAtMs < this.#idleTimeoutMs) return []
    return this.#takeCut()
  }

  /** Drops the oldest `count` pieces gathered, as bytes of no whole report. */
  #cut(count: number): void {
    for (const piece of this.#pieces.splice(0, count)) {
      if (this.#cutBytes === 0) this.#cutAtMs = piece.atMs
      this.#cutBytes += piece.data.length
      this.#bytes -= piece.data.length
    }
  }

  #takeCut(): Rejected[] {
    const count = this.#cutBytes
    if (count === 0) return []
    this.#cutBytes = 0
    return [
      count < magtekReportBytes
        ? { ok: false, reason: `an incomplete report: ${count} of ${magtekReportBytes} bytes` }
        : oversized(count),
    ]
  }
}

function oversized(count: number): Rejected {
  return {
    ok: false,
    reason: `${count} bytes where a ${magtekReportBytes}-byte report was expected`,
  }
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
