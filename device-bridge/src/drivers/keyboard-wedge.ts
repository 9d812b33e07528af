/**
 * The default driver: a reader that types what it reads (boot keyboard
 * reports → text, see `decode/keyboard.ts`), the text then interpreted per
 * the reader's `content` (barcode, magnetic stripe, NFC UID).
 *
 * @module
 */
import { interpretText } from '../decode/content.ts'
import { KeyboardDecoder, type TextResult } from '../decode/keyboard.ts'
import type { Decoded } from '../decode/result.ts'
import type { DecoderOptions, ReaderDriver, ReportDecoder } from './driver.ts'

export const keyboardWedgeDriver: ReaderDriver = {
  name: 'keyboard',
  description:
    'keyboard-wedge reader: barcode/QR scanners, MSRs and NFC readers that type what they read',
  devices: [],
  // Generic Desktop / Keyboard: the interface that carries the typed keys.
  usage: { usagePage: 0x01, usage: 0x06 },
  createDecoder(options: DecoderOptions): ReportDecoder {
    const keyboard = new KeyboardDecoder(options)
    const interpret = (results: TextResult[]): Decoded[] =>
      results.map((r) => (r.ok ? interpretText(r.text, options) : r))
    return {
      report: (data, atMs) => interpret(keyboard.report(data, atMs)),
      idle: (nowMs) => interpret(keyboard.idle(nowMs)),
    }
  },
}
