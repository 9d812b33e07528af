/**
 * Input report sequences as readers send them, written out byte for byte
 * (one report per line, hex) so the decoders are checked against the wire
 * format itself rather than against an encoder sharing their assumptions.
 * Boot keyboard reports: modifiers (0x02 left Shift), reserved, six usage ids.
 *
 * @module
 */
import { magtekReportBytes } from '../drivers/magtek-hid.ts'
import { recording } from './keyboard-reports.ts'

/** A barcode scanner typing 600123456789 then Enter, each key pressed and released. */
export const scannerCardNumber = recording(`
  00 00 23 00 00 00 00 00  # 6
  00 00 00 00 00 00 00 00
  00 00 27 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 27 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 1e 00 00 00 00 00  # 1
  00 00 00 00 00 00 00 00
  00 00 1f 00 00 00 00 00  # 2
  00 00 00 00 00 00 00 00
  00 00 20 00 00 00 00 00  # 3
  00 00 00 00 00 00 00 00
  00 00 21 00 00 00 00 00  # 4
  00 00 00 00 00 00 00 00
  00 00 22 00 00 00 00 00  # 5
  00 00 00 00 00 00 00 00
  00 00 23 00 00 00 00 00  # 6
  00 00 00 00 00 00 00 00
  00 00 24 00 00 00 00 00  # 7
  00 00 00 00 00 00 00 00
  00 00 25 00 00 00 00 00  # 8
  00 00 00 00 00 00 00 00
  00 00 26 00 00 00 00 00  # 9
  00 00 00 00 00 00 00 00
  00 00 28 00 00 00 00 00  # Enter
  00 00 00 00 00 00 00 00
`)

/** A fast scanner that rolls keys over: ABC123, the next key pressed before the last is released. */
export const scannerRollover = recording(`
  02 00 04 00 00 00 00 00  # Shift+a
  02 00 04 05 00 00 00 00  # Shift+b, a still down
  02 00 05 06 00 00 00 00  # a up, Shift+c
  00 00 06 1e 00 00 00 00  # Shift released, 1
  00 00 1e 1f 00 00 00 00  # c up, 2
  00 00 1f 20 00 00 00 00  # 1 up, 3
  00 00 00 00 00 00 00 00
  01 00 00 00 00 00 00 00  # a stray modifier-only report (Ctrl down, no key): not a press
  00 00 00 00 00 00 00 00
  00 00 28 00 00 00 00 00  # Enter
  00 00 00 00 00 00 00 00
`)

/** A keyboard-wedge magnetic-stripe reader swiping track 2 ;600123456789=3012? then Enter. */
export const msrTrack2 = recording(`
  00 00 33 00 00 00 00 00  # ;
  00 00 00 00 00 00 00 00
  00 00 23 00 00 00 00 00  # 6
  00 00 00 00 00 00 00 00
  00 00 27 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 27 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 1e 00 00 00 00 00  # 1
  00 00 00 00 00 00 00 00
  00 00 1f 00 00 00 00 00  # 2
  00 00 00 00 00 00 00 00
  00 00 20 00 00 00 00 00  # 3
  00 00 00 00 00 00 00 00
  00 00 21 00 00 00 00 00  # 4
  00 00 00 00 00 00 00 00
  00 00 22 00 00 00 00 00  # 5
  00 00 00 00 00 00 00 00
  00 00 23 00 00 00 00 00  # 6
  00 00 00 00 00 00 00 00
  00 00 24 00 00 00 00 00  # 7
  00 00 00 00 00 00 00 00
  00 00 25 00 00 00 00 00  # 8
  00 00 00 00 00 00 00 00
  00 00 26 00 00 00 00 00  # 9
  00 00 00 00 00 00 00 00
  00 00 2e 00 00 00 00 00  # =
  00 00 00 00 00 00 00 00
  00 00 20 00 00 00 00 00  # 3
  00 00 00 00 00 00 00 00
  00 00 27 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 1e 00 00 00 00 00  # 1
  00 00 00 00 00 00 00 00
  00 00 1f 00 00 00 00 00  # 2
  00 00 00 00 00 00 00 00
  02 00 38 00 00 00 00 00  # Shift+/ = ?
  00 00 00 00 00 00 00 00
  00 00 28 00 00 00 00 00  # Enter
  00 00 00 00 00 00 00 00
`)

/** A "10-digit" NFC reader typing 3300106756 on the keypad, then keypad Enter. */
export const nfcDecimalKeypad = recording(`
  00 00 5b 00 00 00 00 00  # 3
  00 00 00 00 00 00 00 00
  00 00 5b 00 00 00 00 00  # 3
  00 00 00 00 00 00 00 00
  00 00 62 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 62 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 59 00 00 00 00 00  # 1
  00 00 00 00 00 00 00 00
  00 00 62 00 00 00 00 00  # 0
  00 00 00 00 00 00 00 00
  00 00 5e 00 00 00 00 00  # 6
  00 00 00 00 00 00 00 00
  00 00 5f 00 00 00 00 00  # 7
  00 00 00 00 00 00 00 00
  00 00 5d 00 00 00 00 00  # 5
  00 00 00 00 00 00 00 00
  00 00 5e 00 00 00 00 00  # 6
  00 00 00 00 00 00 00 00
  00 00 58 00 00 00 00 00  # keypad Enter
  00 00 00 00 00 00 00 00
`)

/**
 * An NFC reader with numbered reports (id 1 the keyboard, id 2 consumer
 * control) typing the UID 04A2B3C4 in hex with Shift for the letters.
 */
export const nfcHexNumbered = recording(`
  01 00 00 27 00 00 00 00 00  # 0
  01 00 00 00 00 00 00 00 00
  01 00 00 21 00 00 00 00 00  # 4
  01 00 00 00 00 00 00 00 00
  02 e9 00                    # consumer control (volume up): another report id, ignored
  01 02 00 04 00 00 00 00 00  # A
  01 00 00 00 00 00 00 00 00
  01 00 00 1f 00 00 00 00 00  # 2
  01 00 00 00 00 00 00 00 00
  01 02 00 05 00 00 00 00 00  # B
  01 00 00 00 00 00 00 00 00
  01 00 00 20 00 00 00 00 00  # 3
  01 00 00 00 00 00 00 00 00
  01 02 00 06 00 00 00 00 00  # C
  01 00 00 00 00 00 00 00 00
  01 00 00 21 00 00 00 00 00  # 4
  01 00 00 00 00 00 00 00 00
  01 00 00 28 00 00 00 00 00  # Enter
  01 00 00 00 00 00 00 00 00
`)

/** Ctrl+C in the middle of a scan: not something a card carries. */
export const scannerWithChord = recording(`
  00 00 1e 00 00 00 00 00  # 1
  00 00 00 00 00 00 00 00
  01 00 06 00 00 00 00 00  # Ctrl+c
  00 00 00 00 00 00 00 00
  00 00 1f 00 00 00 00 00  # 2
  00 00 00 00 00 00 00 00
  00 00 28 00 00 00 00 00  # Enter
  00 00 00 00 00 00 00 00
`)

/** A 64-byte vendor report where an 8-byte keyboard report was configured, then Enter. */
export const vendorReportOnKeyboardDriver = [
  [0x3f, ...Array.from({ length: 63 }, (_, i) => i)],
  [0, 0, 0x28, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 0, 0],
]

/** Deterministic noise: `count` reports of random bytes (a seeded xorshift, so the test never flakes). */
export function randomReports(count: number, bytes: number, seed = 0x2545f491): number[][] {
  let state = seed >>> 0
  const next = () => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state & 0xff
  }
  return Array.from({ length: count }, () => Array.from({ length: bytes }, next))
}

/** A MagTek HID-mode swipe report (see `drivers/magtek-hid.ts` for the layout). */
export function magtekReport(tracks: {
  track1?: string
  track2?: string
  status?: [number, number, number]
}): number[] {
  const report = new Array<number>(magtekReportBytes).fill(0)
  const status = tracks.status ?? [0, 0, 0x02]
  report.splice(0, 3, ...status)
  const put = (text: string | undefined, index: number, offset: number) => {
    if (text === undefined) return
    report[3 + index] = text.length
    for (let i = 0; i < text.length; i++) report[offset + i] = text.charCodeAt(i)
  }
  put(tracks.track1, 0, 7)
  put(tracks.track2, 1, 117)
  report[6] = 0 // ISO/ABA
  return report
}
