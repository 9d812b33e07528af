/** What one search box looks up for what staff type, and how the answers merge. */
import { describe, expect, it } from 'vitest'
import { mergeFound, planSearch } from './member-search.ts'

describe('planSearch', () => {
  it('looks up nothing for an empty box', () => {
    expect(planSearch('  ')).toEqual({ lookups: [], names: [] })
  })

  it('an email is an email lookup (lower-cased) and maybe an id', () => {
    expect(planSearch('Ada@Example.com')).toEqual({ lookups: [{ by: 'email', value: 'ada@example.com' }], names: [], id: 'Ada@Example.com' })
    expect(planSearch('not@an-email')).toEqual({ lookups: [], names: [], id: 'not@an-email' })
  })

  it('a number with + is a phone, spaces and punctuation removed', () => {
    expect(planSearch('+44 (1632) 960-001')).toEqual({ lookups: [{ by: 'phone', value: '+441632960001' }], names: [] })
  })

  it('digits are a card (spaces and dashes ignored) and an id', () => {
    expect(planSearch('4000 1234-1234 1234')).toEqual({ lookups: [{ by: 'card', value: '4000123412341234' }], names: [] })
    expect(planSearch('40001234')).toEqual({ lookups: [{ by: 'card', value: '40001234' }], names: [], id: '40001234' })
  })

  it('words are names, also last name first; an id-like word is an id and a card', () => {
    expect(planSearch('Lovelace')).toEqual({ lookups: [], names: ['Lovelace'], id: 'Lovelace' })
    expect(planSearch('Ada Lovelace')).toEqual({ lookups: [], names: ['Ada Lovelace', 'Lovelace Ada'] })
    // Cards may hold letters, and dashes in them are ignored: an id-like text is tried as a card too.
    expect(planSearch('member-0042')).toEqual({ lookups: [{ by: 'card', value: 'member0042' }], names: ['member-0042'], id: 'member-0042' })
    expect(planSearch('AB12CD34')).toEqual({ lookups: [{ by: 'card', value: 'AB12CD34' }], names: ['AB12CD34'], id: 'AB12CD34' })
  })
})

describe('mergeFound', () => {
  it('keeps one result per member with every way it was found, first value winning', () => {
    const found = mergeFound([
      { via: 'card', items: [{ id: 'ada', value: 'from card' }] },
      { via: 'name', items: [{ id: 'ada', value: 'from name' }, { id: 'alan', value: 'alan' }] },
      { via: 'name', items: [{ id: 'ada', value: 'again' }] },
    ])
    expect(found).toEqual([
      { id: 'ada', value: 'from card', via: ['card', 'name'] },
      { id: 'alan', value: 'alan', via: ['name'] },
    ])
  })
})
