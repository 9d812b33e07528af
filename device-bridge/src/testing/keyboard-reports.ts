/**
 * Boot keyboard reports that type a string, as a keyboard-wedge reader sends
 * them (each key pressed in one report and released in the next), for tests
 * beside the literal recordings. US layout, the inverse of `decode/keyboard.ts`
 * for the characters readers use.
 *
 * @module
 */

const shift = 0x02

function usageOf(character: string): [usage: number, shifted: boolean] {
  const code = character.charCodeAt(0)
  if (character >= 'a' && character <= 'z') return [0x04 + code - 97, false]
  if (character >= 'A' && character <= 'Z') return [0x04 + code - 65, true]
  if (character >= '1' && character <= '9') return [0x1e + code - 49, false]
  if (character === '0') return [0x27, false]
  const table: Record<string, [number, boolean]> = {
    '\n': [0x28, false],
    ' ': [0x2c, false],
    '-': [0x2d, false],
    _: [0x2d, true],
    '=': [0x2e, false],
    '+': [0x2e, true],
    '/': [0x38, false],
    '?': [0x38, true],
    ';': [0x33, false],
    ':': [0x33, true],
    '.': [0x37, false],
    ',': [0x36, false],
    '%': [0x22, true],
    '^': [0x23, true],
    '!': [0x1e, true],
  }
  const found = table[character]
  if (found === undefined) throw new Error(`no key types ${JSON.stringify(character)}`)
  return found
}

/**
 * The reports typing `text` (`\n` is Enter).
 *
 * @example
 *   typed('1\n') // [[0,0,0x1e,0,0,0,0,0], [0,0,0,0,0,0,0,0], [0,0,0x28,0,0,0,0,0], [0,0,0,0,0,0,0,0]]
 */
export function typed(text: string): number[][] {
  const reports: number[][] = []
  for (const character of text) {
    const [usage, shifted] = usageOf(character)
    reports.push([shifted ? shift : 0, 0, usage, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0])
  }
  return reports
}

/** Reads a recording: one report per line as hex bytes; `#` starts a comment. */
export function recording(text: string): number[][] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/).map((byte) => Number.parseInt(byte, 16)))
}
