import { describe, expect, it } from 'vitest'
import { repeatedKey } from './json.ts'

describe('repeatedKey', () => {
  it.each([
    ['{"points":5,"points":7}', 'points'],
    ['{"a":1,"b":{"c":1,"c":2}}', 'c'],
    ['{"lines":[{"sku":"x"},{"sku":"y","sku":"z"}]}', 'sku'],
    ['{"a":1, "\\u0061" : 2}', 'a'],
    ['{ "k" :1 , "k":2 }', 'k'],
  ])('finds the key %s has twice (%s)', (text, key) => {
    JSON.parse(text)
    expect(repeatedKey(text)).toBe(key)
  })

  it.each([
    '{"a":1,"b":2}',
    '{"a":{"a":{"a":1}}}',
    '{"lines":[{"sku":"x"},{"sku":"y"}]}',
    '{"a":"b:c","b":"\\"a\\":1"}',
    '{"a":["a","a"],"b":"a"}',
    '[{"a":1},{"a":2}]',
    '"a"',
  ])('finds none in %s', (text) => {
    JSON.parse(text)
    expect(repeatedKey(text)).toBeUndefined()
  })
})
