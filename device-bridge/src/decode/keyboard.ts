/**
 * Keyboard-wedge input: barcode and QR scanners, and many magnetic-stripe and
 * NFC readers, present themselves as a USB keyboard and "type" what they read,
 * usually ending with Enter. Read over hidraw, each input report is an 8-byte
 * boot keyboard report: a modifier bitmap, a reserved byte, then the usage
 * ids (HID usage page 0x07) of up to six keys held down.
 *
 * A key press is a usage id that was not down in the previous report, so
 * both "press, release, press" readers and readers that roll keys over
 * without releasing decode alike. Characters follow the US layout (what
 * readers emit unless configured otherwise) with either Shift. Anything that
 * is not text (Ctrl or Alt chords, function keys, a set reserved byte, a
 * report of the wrong size) taints the line: it is rejected at its end.
 *
 * A line ends at Enter, or, for readers that send no terminator, after
 * `idleTimeoutMs` without a key (`endOfInput: 'idle'`); with `'enter'`, input
 * left without Enter for that long is rejected as partial. The pause is
 * measured by each report's own arrival time, not by when it is decoded: the
 * bridge decodes on its tick, so one batch may hold a read cut short and,
 * seconds later, the next card, and that card must not be glued onto it.
 *
 * @module
 */

export interface KeyboardDecoderOptions {
  /** What ends a read: the Enter key, or a pause of `idleTimeoutMs`. */
  endOfInput: 'enter' | 'idle'
  /** Time without a key press after which partial input is ended (or rejected). */
  idleTimeoutMs: number
  /** Characters in one read at most; a longer line is rejected. */
  lineLengthMax: number
  /** For readers that number their reports: the keyboard report's id (other ids are ignored). */
  reportId?: number
}

export type TextResult = { ok: true; text: string } | { ok: false; reason: string }

const bootReportBytes = 8
const shiftBits = 0x02 | 0x20
const chordBits = 0x01 | 0x10 | 0x04 | 0x40 | 0x08 | 0x80
/** ErrorRollOver, POSTFail, ErrorUndefined: "too many keys", not key presses. */
const phantomUsageMax = 0x03
const usageEnter = 0x28
const usageKeypadEnter = 0x58

/** Usage id → [unshifted, shifted] character, US layout. */
const characters = new Map<number, readonly [string, string]>()
for (let i = 0; i < 26; i++) {
  const letter = String.fromCharCode(97 + i)
  characters.set(0x04 + i, [letter, letter.toUpperCase()])
}
;['1!', '2@', '3#', '4$', '5%', '6^', '7&', '8*', '9(', '0)'].forEach((pair, i) =>
  characters.set(0x1e + i, [pair[0]!, pair[1]!]),
)
const punctuation: [number, string, string][] = [
  [0x2c, ' ', ' '],
  [0x2d, '-', '_'],
  [0x2e, '=', '+'],
  [0x2f, '[', '{'],
  [0x30, ']', '}'],
  [0x31, '\\', '|'],
  [0x33, ';', ':'],
  [0x34, "'", '"'],
  [0x35, '`', '~'],
  [0x36, ',', '<'],
  [0x37, '.', '>'],
  [0x38, '/', '?'],
  // Keypad: some readers type digits there.
  [0x54, '/', '/'],
  [0x55, '*', '*'],
  [0x56, '-', '-'],
  [0x57, '+', '+'],
  [0x63, '.', '.'],
]
for (const [usage, plain, shifted] of punctuation) characters.set(usage, [plain, shifted])
;['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'].forEach((digit, i) =>
  characters.set(0x59 + i, [digit, digit]),
)

/**
 * Turns boot keyboard reports into lines of text.
 *
 * @example
 *   const keyboard = new KeyboardDecoder({ endOfInput: 'enter', idleTimeoutMs: 300, lineLengthMax: 128 })
 *   keyboard.report(Uint8Array.of(0, 0, 0x1e, 0, 0, 0, 0, 0), 0) // '1' pressed: []
 *   keyboard.report(Uint8Array.of(0, 0, 0x28, 0, 0, 0, 0, 0), 5) // Enter: [{ ok: true, text: '1' }]
 */
export class KeyboardDecoder {
  readonly #options: KeyboardDecoderOptions
  #down: number[] = []
  #line = ''
  /** Why the line in progress will be rejected, once something non-text was typed. */
  #taint: string | undefined
  #lastKeyAtMs = 0

  constructor(options: KeyboardDecoderOptions) {
    this.#options = options
  }

  /** True while a line is in progress. */
  get pending(): boolean {
    return this.#line !== '' || this.#taint !== undefined
  }

  /** Feeds one input report as the device delivered it; returns the lines it ended. */
  report(data: Uint8Array, atMs: number): TextResult[] {
    // First what a tick just before this report would have ended: a line left
    // idle since before it came (its characters are not this report's line).
    const results = this.idle(atMs)
    const body = this.#reportBody(data)
    if (body === undefined) return results
    if (body.length !== bootReportBytes) {
      this.#spoil(`a report of ${body.length} bytes, not an 8-byte boot keyboard report`, atMs)
      return results
    }
    const keys = [...body.subarray(2)].filter((usage) => usage !== 0)
    if (keys.some((usage) => usage <= phantomUsageMax)) return results
    if (body[1] !== 0) this.#spoil('a report with its reserved byte set', atMs)
    for (const usage of keys) {
      if (this.#down.includes(usage)) continue
      const ended = this.#press(usage, body[0]!, atMs)
      if (ended !== undefined) results.push(ended)
    }
    this.#down = keys
    return results
  }

  /** Ends (or rejects) a line left without a key press for `idleTimeoutMs`. */
  idle(nowMs: number): TextResult[] {
    if (!this.pending || nowMs - this.#lastKeyAtMs < this.#options.idleTimeoutMs) return []
    if (this.#options.endOfInput === 'idle') return [this.#end()]
    const length = this.#line.length
    this.#taint ??= `partial input: ${length} characters and no Enter within ${this.#options.idleTimeoutMs} ms`
    return [this.#end()]
  }

  #reportBody(data: Uint8Array): Uint8Array | undefined {
    const { reportId } = this.#options
    if (reportId === undefined) return data
    return data[0] === reportId ? data.subarray(1) : undefined
  }

  #press(usage: number, modifiers: number, atMs: number): TextResult | undefined {
    this.#lastKeyAtMs = atMs
    if (usage === usageEnter || usage === usageKeypadEnter) {
      return this.pending ? this.#end() : undefined
    }
    const character = characters.get(usage)
    if (character === undefined) {
      return this.#spoil(`key 0x${usage.toString(16)} is not a character`, atMs)
    }
    if ((modifiers & chordBits) !== 0) return this.#spoil('a Ctrl, Alt or GUI key chord', atMs)
    if (this.#line.length >= this.#options.lineLengthMax) {
      return this.#spoil(`input longer than ${this.#options.lineLengthMax} characters`, atMs)
    }
    this.#line += character[(modifiers & shiftBits) !== 0 ? 1 : 0]
    return undefined
  }

  #spoil(reason: string, atMs: number): undefined {
    this.#lastKeyAtMs = atMs
    this.#taint ??= reason
    return undefined
  }

  #end(): TextResult {
    const result: TextResult =
      this.#taint === undefined
        ? { ok: true, text: this.#line }
        : { ok: false, reason: this.#taint }
    this.#line = ''
    this.#taint = undefined
    return result
  }
}
