/**
 * Goal: the TypeScript status table and the proto enum never drift apart.
 * Method: parse proto/loyalty.proto's `enum Status` and compare name by name.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { statusCode, statusName, statusNames, statuses } from './status.ts'

function protoStatusEnum(): Map<string, number> {
  const text = readFileSync(new URL('../loyalty.proto', import.meta.url), 'utf8')
  const body = /enum Status \{([\s\S]*?)\n\}/.exec(text)?.[1]
  if (body === undefined) throw new Error('enum Status not found in loyalty.proto')
  const values = new Map<string, number>()
  for (const match of body.matchAll(/^\s*([A-Z_]+)\s*=\s*(\d+);/gm)) {
    values.set(match[1]!.toLowerCase(), Number(match[2]))
  }
  return values
}

describe('status table', () => {
  it('matches the proto enum name for name and number for number', () => {
    const proto = protoStatusEnum()
    expect(proto.size).toBe(statusNames.length)
    for (const name of statusNames) expect([name, proto.get(name)]).toEqual([name, statuses[name].code])
  })

  it('numbers statuses densely from 0 in precedence order, without repeats', () => {
    expect(statusNames.map(statusCode)).toEqual(statusNames.map((_, i) => i))
  })

  it('maps numbers back to names and rejects unknown numbers', () => {
    expect(statusName(8)).toBe('insufficient_points')
    expect(statusName(999)).toBeUndefined()
  })
})
