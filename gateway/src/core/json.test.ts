import { describe, expect, it, vi } from 'vitest'
import { ambiguity, denotesInteger, describeAmbiguity, jsonSyntaxProblem, repeatedKey } from './json.ts'

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

describe('inexact numbers', () => {
  it.each([
    ['{"points":1.0000000000000001}', 'points', '1.0000000000000001', 1],
    ['{"op":"earn","points":9007199254740990.5}', 'points', '9007199254740990.5', 9007199254740990],
    ['{"lines":[{"sku":"a","qty":2.00000000000000001}]}', 'qty', '2.00000000000000001', 2],
    ['{"a":{"b":1},"amount":-7.0000000000000001e0}', 'amount', '-7.0000000000000001e0', -7],
    ['{"points":1e-400}', 'points', '1e-400', 0],
    ['{"ids":[1, 99.99999999999999999]}', 'ids', '99.99999999999999999', 100],
    ['12.0000000000000000001', undefined, '12.0000000000000000001', 12],
  ])('finds %s reads a fraction as a whole number', (text, key, literal, reads) => {
    JSON.parse(text)
    expect(ambiguity(text)).toEqual({ kind: 'inexact number', key, literal, reads })
  })

  it.each([
    '{"points":100}',
    '{"points":100.0,"b":1e3,"c":1.5e1,"d":-0.0,"e":0E+2}',
    '{"multiplier":1.5,"share":0.1,"x":1.0000000000001}',
    '{"note":"1.0000000000000001","e":"2e-400"}',
    '{"a":true,"b":false,"c":null,"d":[1,2,3]}',
    '{"big":9007199254740993}',
  ])('finds none in %s', (text) => {
    JSON.parse(text)
    expect(ambiguity(text)).toBeUndefined()
  })

  it.each([
    ['2.0', true],
    ['1e3', true],
    ['1.25e2', true],
    ['1.25e1', false],
    ['0.0e-5', true],
    ['5e-1', false],
    ['-3.000', true],
    ['1e999999999', true],
    ['1.0000000000000001', false],
  ])('reads %s as whole: %s', (literal, whole) => {
    expect(denotesInteger(literal)).toBe(whole)
  })

  it('names the field and both readings in the refusal', () => {
    const found = ambiguity('{"points":1.0000000000000001}')!
    expect(describeAmbiguity(found, 'body')).toEqual({
      field: 'points',
      message:
        'points: 1.0000000000000001 is not a whole number, but a JSON number reads it as 1; send whole numbers as integers, and fractions with at most 15 significant digits',
    })
    expect(describeAmbiguity(ambiguity('1.00000000000000001')!, 'frame').field).toBe('frame')
  })

  it('converts no ordinary fraction on the way (prices, shares): the scan runs on every body and frame', () => {
    // Only a fraction of more than 15 digits, or a number with an exponent, can read as a whole number it is
    // not: converting every price of a basket (slice and Number) made a purchase frame's scan about half slower.
    const frame = JSON.stringify({ id: 1, op: 'purchase', account: 'm1', key: 'k', amount: 129.9, basket: { lines: [{ sku: 'a', quantity: 2, unitPrice: 12.99, discount: 0.5 }, { sku: 'b', quantity: 1, unitPrice: -0.25 }] } })
    const converted = vi.spyOn(globalThis, 'Number')
    try {
      expect(ambiguity(frame)).toBeUndefined()
      expect(ambiguity('{"share":0.12345678901234,"x":-123456789.012345}')).toBeUndefined()
      expect(converted).not.toHaveBeenCalled()
      // Past 15 digits, or with an exponent, the number is still looked at.
      expect(ambiguity('{"a":0.1234567890123456,"b":1e3}')).toBeUndefined()
      expect(converted).toHaveBeenCalled()
    } finally {
      converted.mockRestore()
    }
    expect(ambiguity('{"points":5.000000000000001}')).toBeUndefined()
    expect(ambiguity('{"points":5.0000000000000001}')).toMatchObject({ kind: 'inexact number', key: 'points', reads: 5 })
    expect(ambiguity('{"points":-50000000000000.01}')).toBeUndefined()
    expect(ambiguity('{"points":-500000000000000.01}')).toMatchObject({ kind: 'inexact number', key: 'points', reads: -500000000000000 })
  })

  it('reports the repeated key first when it comes first', () => {
    expect(ambiguity('{"a":1,"a":2,"p":1.0000000000000001}')).toEqual({ kind: 'repeated key', key: 'a' })
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
