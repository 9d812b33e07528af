/**
 * Goal: ISO/IEC 7813 swipes give the card number, name and expiry, and
 * anything else (half swipes, missing sentinels, bad dates, failed Luhn,
 * disagreeing tracks) is rejected with a reason. Method: a table of swipe
 * text → expected result, plus the Luhn check on known numbers.
 */
import { describe, expect, it } from 'vitest'
import { luhnValid } from './luhn.ts'
import { parseSwipe } from './magstripe.ts'

const track1 = '%B4111111111111111^LOVELACE/ADA^2712101000000000000000000000000?'
const track2 = ';4111111111111111=27121010000000000000?'

describe('Luhn check', () => {
  it.each([
    ['4111111111111111', true],
    ['79927398713', true],
    ['600123456789', true],
    ['4111111111111112', false],
    ['79927398710', false],
    ['', false],
    ['41a1', false],
  ])('%s → %s', (digits, valid) => expect(luhnValid(digits)).toBe(valid))
})

describe('magnetic-stripe swipes', () => {
  it.each([
    [
      'both tracks',
      track1 + track2,
      { pan: '4111111111111111', name: 'ADA LOVELACE', expiry: '2027-12', tracks: [1, 2] },
    ],
    [
      'track 1 only',
      track1,
      { pan: '4111111111111111', name: 'ADA LOVELACE', expiry: '2027-12', tracks: [1] },
    ],
    ['track 2 only', track2, { pan: '4111111111111111', expiry: '2027-12', tracks: [2] }],
    [
      'track 1 unreadable, track 2 good',
      '%E?' + track2,
      { pan: '4111111111111111', expiry: '2027-12', tracks: [2] },
    ],
    [
      'no expiry on either track',
      '%B600123456789^MEMBER/A^^?;600123456789==?',
      { pan: '600123456789', name: 'A MEMBER', tracks: [1, 2] },
    ],
    [
      'a name without a slash',
      '%B600123456789^ACME STORE CARD^3001?',
      { pan: '600123456789', name: 'ACME STORE CARD', expiry: '2030-01', tracks: [1] },
    ],
  ])('reads %s', (_, text, swipe) => {
    expect(parseSwipe(text, { luhn: true })).toEqual({ ok: true, swipe })
  })

  it.each([
    [
      'half a swipe (no end sentinel)',
      '%B4111111111111111^LOVELACE/ADA^2712101',
      /no end sentinel/,
    ],
    [
      'a track without its start sentinel',
      'B4111111111111111^LOVELACE/ADA^2712101?',
      /start with its sentinel/,
    ],
    ['stray text after the tracks', track2 + 'x', /start with its sentinel/],
    ['every track unreadable', '%E?;E?', /bad swipe/],
    ['a bad Luhn digit', ';4111111111111112=2712101?', /Luhn/],
    ['a month 13', ';4111111111111111=2713101?', /expiry/],
    ['no expiry and no separator', ';4111111111111111=?', /expiry/],
    ['a track 1 not in format B', '%A4111111111111111^LOVELACE/ADA^2712?', /format B/],
    ['lower case on track 1', '%B4111111111111111^lovelace/ada^2712?', /6-bit alphabet/],
    ['letters on track 2', ';41111111A1111111=2712?', /in digits/],
    ['a short card number', ';1234567=2712?', /8 to 19 digits/],
    [
      'tracks that disagree on the number',
      '%B4111111111111111^LOVELACE/ADA^2712?;5555555555554444=2712?',
      /different card numbers/,
    ],
    [
      'tracks that disagree on expiry',
      '%B4111111111111111^LOVELACE/ADA^2712?;4111111111111111=2801?',
      /different expiry/,
    ],
    ['three tracks', track1 + track2 + ';0123456789?', /3 tracks/],
    ['an over-long track 2', ';4111111111111111=2712' + '0'.repeat(30) + '?', /longer than 40/],
    ['nothing', '', /no track data/],
  ])('rejects %s', (_, text, reason) => {
    const result = parseSwipe(text, { luhn: true })
    expect(result.ok).toBe(false)
    expect(result.ok ? '' : result.reason).toMatch(reason)
  })

  it('skips the Luhn check when a card scheme has none', () => {
    expect(parseSwipe(';4111111111111112=2712?', { luhn: false })).toMatchObject({
      ok: true,
      swipe: { pan: '4111111111111112' },
    })
  })
})
