import { describe, expect, it } from 'vitest'
import { jsonSyntaxProblem, repeatedKey } from './json.ts'

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

describe('jsonSyntaxProblem', () => {
  const problem = (text: string) => {
    try {
      JSON.parse(text)
    } catch (error) {
      return jsonSyntaxProblem(error)
    }
    throw new Error(`${text} parsed`)
  }

  it.each([
    '{"terminal":"till-1","secret": hunter2-secret}',
    'hunter2-secret',
    '{"password": "x", "b": hunter2-secret}',
    '{"a":1, "password": "hunter2-secret", "b": tru}',
    `{"pad":"${'y'.repeat(40)}","secret": hunter2-secret}`,
  ])('says why %s is not JSON without quoting it', (text) => {
    const said = problem(text)
    expect(said).toMatch(/^Unexpected token '.' \(the text is not quoted back\)$/)
    expect(said).not.toContain('hunter2')
  })

  it('keeps messages that quote nothing, with their position', () => {
    expect(problem('{"a":1')).toBe(`Expected ',' or '}' after property value in JSON at position 6`)
    expect(problem('')).toBe('Unexpected end of JSON input')
  })
})
