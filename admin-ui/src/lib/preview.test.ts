/** The preview form's basket read from text, and two breakdowns side by side. */
import { describe, expect, it } from 'vitest'
import { compareBreakdowns, readBasket, type BasketText } from './preview.ts'

const text = (lines: BasketText['lines'], rest: Partial<BasketText> = {}): BasketText =>
  ({ lines, store: '', channel: '', tender: '', promoCodes: '', ...rest })

describe('readBasket', () => {
  it('reads prices in the currency into minor units, and optional parts only when given', () => {
    const read = readBasket(text(
      [{ sku: ' latte ', category: 'coffee', quantity: '2', unitPrice: '4.50', discount: '' },
        { sku: 'cake', category: '', quantity: '1', unitPrice: '3', discount: '0.50' }],
      { store: 'store-1', channel: 'web', promoCodes: 'WELCOME, , SPRING' },
    ), 2)
    expect(read).toEqual({
      basket: {
        lines: [
          { sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 },
          { sku: 'cake', quantity: 1, unitPrice: 300, discount: 50 },
        ],
        store: 'store-1',
        channel: 'web',
        promoCodes: ['WELCOME', 'SPRING'],
      },
    })
  })

  it('names every field that does not read', () => {
    const read = readBasket(text([{ sku: '', category: '', quantity: '0', unitPrice: '4.555', discount: 'x' }]), 2)
    expect(read).toEqual({
      errors: {
        'lines.0.sku': 'SKU is required',
        'lines.0.quantity': 'At least 1',
        'lines.0.unitPrice': expect.stringContaining('at most 2 decimals'),
        'lines.0.discount': expect.stringContaining('amount'),
      },
    })
    expect(readBasket(text([]), 2)).toEqual({ errors: { lines: 'Add at least one line' } })
  })
})

describe('compareBreakdowns', () => {
  it('pairs lines by source and id, draft order first, then what only live had', () => {
    const rows = compareBreakdowns(
      [{ source: 'rule', id: 'base', name: 'Base', points: 9 }, { source: 'rule', id: 'coffee', points: 20 }],
      [{ source: 'rule', id: 'base', name: 'Base', points: 18 }, { source: 'campaign', id: 'x2', points: 18, cut: 'quota' }],
    )
    expect(rows).toEqual([
      { source: 'rule', id: 'base', name: 'Base', live: 9, draft: 18, cut: undefined },
      { source: 'campaign', id: 'x2', name: 'x2', live: undefined, draft: 18, cut: 'quota' },
      { source: 'rule', id: 'coffee', name: 'coffee', live: 20, draft: undefined, cut: undefined },
    ])
    expect(compareBreakdowns(undefined, [])).toEqual([])
  })
})
