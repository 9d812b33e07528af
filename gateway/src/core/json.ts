/**
 * JSON that means one thing: `JSON.parse` keeps the last of two equal keys
 * in an object (`{"points":5,"points":7}` is 7), so a body or frame that
 * says two things would be applied as one of them, silently; and it reads a
 * number with more digits than a double holds as the nearest double
 * (`1.0000000000000001` is 1), so a fraction could pass an integer check.
 *
 * @module
 */

const quote = 0x22
const backslash = 0x5c
const colon = 0x3a

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09
}

/** What a valid JSON text says that `JSON.parse` would read as something else. */
export type Ambiguity =
  /** A key that appears twice in one object. */
  | { kind: 'repeated key'; key: string }
  /**
   * A number that is not whole but reads as a whole number
   * (`1.0000000000000001` is 1): an integer field would take it, silently.
   * `key` is the nearest object key it belongs to, undefined at the top level.
   */
  | { kind: 'inexact number'; key: string | undefined; literal: string; reads: number }

/**
 * The first ambiguity in `text`, which must be valid JSON (parse it first);
 * undefined when there is none. Keys are compared as decoded, so `"a"` and
 * `"\u0061"` are the same key. One pass over the text, run on every body
 * and frame.
 */
export function ambiguity(text: string): Ambiguity | undefined {
  // One set of keys per open object; null for an open array.
  const open: (Set<string> | null)[] = []
  // The key whose value is being read, per open object (arrays repeat their parent's).
  const current: (string | undefined)[] = []
  const length = text.length
  let i = 0
  while (i < length) {
    const code = text.charCodeAt(i)
    if (code === quote) {
      const start = i
      let escaped = false
      i++
      while (i < length && text.charCodeAt(i) !== quote) {
        if (text.charCodeAt(i) === backslash) {
          escaped = true
          i++
        }
        i++
      }
      i++
      let next = i
      while (next < length && isSpace(text.charCodeAt(next))) next++
      const keys = open[open.length - 1]
      if (keys && next < length && text.charCodeAt(next) === colon) {
        const key = escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1)
        if (keys.has(key)) return { kind: 'repeated key', key }
        keys.add(key)
        current[current.length - 1] = key
      }
      continue
    }
    if (code === minus || (code >= digit0 && code <= digit9)) {
      const start = i
      // Its digits, and whether it has a fraction or an exponent.
      let digits = 0
      let fraction = false
      let exponent = false
      if (code === minus) i++
      for (; i < length; i++) {
        const c = text.charCodeAt(i)
        if (c >= digit0 && c <= digit9) digits++
        else if (c === dot) fraction = true
        else if (c === lowerE || c === upperE) exponent = true
        else if (c !== minus && c !== plus) break
      }
      // A fraction of at most 15 digits (leading zeros counted too) reads as itself closely
      // enough never to be taken for a whole number: the usual prices and shares (12.99,
      // 0.5) are not converted, which on this path run on every body and frame is most of its cost.
      if (exponent || (fraction && digits > 15)) {
        const literal = text.slice(start, i)
        const reads = Number(literal)
        if (Number.isInteger(reads) && !denotesInteger(literal)) {
          return { kind: 'inexact number', key: current[current.length - 1], literal, reads }
        }
      }
      continue
    }
    if (code === 0x7b) {
      open.push(new Set())
      current.push(undefined)
    } else if (code === 0x5b) {
      open.push(null)
      current.push(current[current.length - 1])
    } else if (code === 0x7d || code === 0x5d) {
      open.pop()
      current.pop()
    }
    i++
  }
  return undefined
}

/** The first key that appears twice in one object of `text` (valid JSON); undefined when there is none. */
export function repeatedKey(text: string): string | undefined {
  const found = ambiguity(text)
  return found?.kind === 'repeated key' ? found.key : undefined
}

/**
 * The refusal for an ambiguity in a `what` ("body" or "frame"): the field it
 * names and why. An inexact number is refused whatever its field, since a
 * whole-number field would take it as another value; fractions a double
 * holds closely (`0.1`, `1.5`) are not inexact in this sense.
 */
export function describeAmbiguity(found: Ambiguity, what: string): { field: string; message: string } {
  if (found.kind === 'repeated key') {
    return { field: found.key, message: `the ${what} has the key ${JSON.stringify(found.key)} twice in one object` }
  }
  const where = found.key === undefined ? `the ${what}` : found.key
  return {
    field: found.key ?? what,
    message: `${where}: ${found.literal} is not a whole number, but a JSON number reads it as ${found.reads}; send whole numbers as integers, and fractions with at most 15 significant digits`,
  }
}

const minus = 0x2d
const plus = 0x2b
const dot = 0x2e
const digit0 = 0x30
const digit9 = 0x39
const lowerE = 0x65
const upperE = 0x45

/**
 * Whether a JSON number literal with a fraction or exponent denotes a whole
 * number exactly (`2.0`, `1e3`, `1.5e1`), read as decimal digits, not as a double.
 */
export function denotesInteger(literal: string): boolean {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)
  if (match === null) return false
  const digits = match[1]! + (match[2] ?? '')
  // Digits at or after this position are after the decimal point.
  const exponent = Number(match[3] ?? '0')
  const point = match[1]!.length + exponent
  if (point >= digits.length) return true
  return /^0*$/.test(digits.slice(Math.max(point, 0)))
}

/**
 * Why `JSON.parse` refused a text, without the excerpt of the text V8 puts in some of its
 * messages (`Unexpected token 'h', "{"secret": hunter2}" is not valid JSON`): a body or an
 * auth frame holds passwords and secrets, and a reply should not carry them back (into
 * client logs, proxies). Messages with a position keep it.
 */
export function jsonSyntaxProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const excerpt = /^(Unexpected token '[^]*?'), (?:\.\.\.)?"[^]*"(?:\.\.\.)? is not valid JSON$/.exec(message)
  return excerpt === null ? message : `${excerpt[1]} (the text is not quoted back)`
}
