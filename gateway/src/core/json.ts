/**
 * JSON that means one thing: `JSON.parse` keeps the last of two equal keys
 * in an object (`{"points":5,"points":7}` is 7), so a body or frame that
 * says two things would be applied as one of them, silently.
 *
 * @module
 */

const quote = 0x22
const backslash = 0x5c
const colon = 0x3a

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09
}

/**
 * The first key that appears twice in one object of `text`, which must be
 * valid JSON (parse it first); undefined when there is none. Keys are
 * compared as decoded, so `"a"` and `"\u0061"` are the same key.
 */
export function repeatedKey(text: string): string | undefined {
  // One set of keys per open object; null for an open array.
  const open: (Set<string> | null)[] = []
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
        if (keys.has(key)) return key
        keys.add(key)
      }
      continue
    }
    if (code === 0x7b) open.push(new Set())
    else if (code === 0x5b) open.push(null)
    else if (code === 0x7d || code === 0x5d) open.pop()
    i++
  }
  return undefined
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
