/** Form checks, and where a server refusal shows on a form. */
import { describe, expect, it } from 'vitest'
import { ApiError } from './client.ts'
import { identifier, maxLength, parseWhole, placeError, required, validateFields, wholeNumber } from './validate.ts'

describe('checks', () => {
  it('parses whole numbers people type, and nothing else', () => {
    expect(parseWhole(' 250 ')).toBe(250)
    expect(parseWhole('-100')).toBe(-100)
    expect(parseWhole('−40')).toBe(-40)
    expect(parseWhole('1,000')).toBe(1000)
    expect(parseWhole('+5')).toBe(5)
    for (const text of ['', '1.5', 'abc', '1e3', '99999999999999999999']) expect(parseWhole(text)).toBeUndefined()
  })

  it('takes commas and spaces only between groups of three digits, never as a decimal comma', () => {
    expect(parseWhole('12,500')).toBe(12500)
    expect(parseWhole('-1 000 000')).toBe(-1000000)
    expect(parseWhole('1\u202f000')).toBe(1000)
    // `1,5` is one and a half where the comma is the decimal mark: not fifteen.
    for (const text of ['1,5', '2,50', '1,0000', ',100', '100,', '1 2', '1,,000']) expect(parseWhole(text)).toBeUndefined()
  })

  it('checks whole numbers within bounds, and not zero when asked', () => {
    const points = wholeNumber({ nonZero: true, min: -10, max: 10 })
    expect(points('')).toBeUndefined()
    expect(points('3')).toBeUndefined()
    expect(points('0')).toBe('Must not be zero')
    expect(points('11')).toBe('At most 10')
    expect(points('-11')).toBe('At least -10')
    expect(points('two')).toBe('Enter a whole number')
  })

  it('reports the first failing check of each field', () => {
    const errors = validateFields(
      { points: '', reason: 'x'.repeat(501), id: 'ok-1' },
      { points: [required('Points'), wholeNumber()], reason: [required('A reason'), maxLength(500)], id: [identifier] },
    )
    expect(errors).toEqual({ points: 'Points is required', reason: 'At most 500 characters' })
    expect(validateFields({ id: '-bad id' }, { id: [identifier] })).toEqual({ id: expect.stringContaining('Letters, digits') })
  })
})

describe('placeError', () => {
  const refusal = (field: string | undefined, message: string) =>
    new ApiError(400, { status: 'invalid_request', message, ...(field === undefined ? {} : { field }) })

  it('puts the server message next to the field it names, as a sentence', () => {
    expect(placeError(refusal('points', 'points must not be 0'), ['points', 'reason']))
      .toEqual({ field: 'points', message: 'Points must not be 0' })
  })

  it('puts a nested field under the form field it belongs to', () => {
    expect(placeError(refusal('address.city', 'too long'), ['address', 'email'])).toEqual({ field: 'address', message: 'Too long' })
    expect(placeError(refusal('cards[0].value', 'taken'), ['cards'])).toEqual({ field: 'cards', message: 'Taken' })
  })

  it('puts refusals of no field on the form, and any other error too', () => {
    expect(placeError(refusal('body', 'the body is not JSON'), ['points'])).toEqual({ message: 'The body is not JSON' })
    expect(placeError(new ApiError(409, { status: 'insufficient_points', message: 'only 20 available' }), ['points']))
      .toEqual({ message: 'Only 20 available' })
    expect(placeError(new Error('Nothing has changed.'), ['email'])).toEqual({ message: 'Nothing has changed.' })
  })
})
