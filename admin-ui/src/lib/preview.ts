/**
 * The preview form's basket as typed (texts) into the API's basket, with an
 * error per field when something does not read; and the breakdowns of the
 * live and the draft evaluation side by side.
 *
 * @module
 */
import { parseMoney } from './format.ts'
import type { Basket, BreakdownLine, Channel } from './types.ts'
import { parseWhole } from './validate.ts'

export interface LineText {
  sku: string
  category: string
  quantity: string
  unitPrice: string
  discount: string
}

export interface BasketText {
  lines: LineText[]
  store: string
  channel: string
  tender: string
  promoCodes: string
}

/** The basket, or the errors by field (`lines.0.quantity`, ...). */
export function readBasket(text: BasketText, digits: number):
  | { basket: Basket }
  | { errors: Record<string, string> } {
  const errors: Record<string, string> = {}
  const lines: Basket['lines'] = []
  text.lines.forEach((line, i) => {
    const sku = line.sku.trim()
    if (sku === '') errors[`lines.${i}.sku`] = 'SKU is required'
    const quantity = parseWhole(line.quantity)
    if (quantity === undefined || quantity < 1) errors[`lines.${i}.quantity`] = 'At least 1'
    const price = parseMoney(line.unitPrice, digits)
    if ('error' in price) errors[`lines.${i}.unitPrice`] = price.error
    const discount = line.discount.trim() === '' ? { value: 0 } : parseMoney(line.discount, digits)
    if ('error' in discount) errors[`lines.${i}.discount`] = discount.error
    if ('value' in price && 'value' in discount && quantity !== undefined) {
      const out: Basket['lines'][number] = { sku, quantity, unitPrice: price.value }
      if (line.category.trim() !== '') out.category = line.category.trim()
      if (discount.value > 0) out.discount = discount.value
      lines.push(out)
    }
  })
  if (text.lines.length === 0) errors['lines'] = 'Add at least one line'
  if (Object.keys(errors).length > 0) return { errors }
  const basket: Basket = { lines }
  if (text.store.trim() !== '') basket.store = text.store.trim()
  if (text.channel !== '') basket.channel = text.channel as Channel
  if (text.tender.trim() !== '') basket.tender = text.tender.trim()
  const codes = text.promoCodes.split(',').map((code) => code.trim()).filter((code) => code !== '')
  if (codes.length > 0) basket.promoCodes = codes
  return { basket }
}

export interface ComparedLine {
  source: BreakdownLine['source']
  id: string
  name: string
  live: number | undefined
  draft: number | undefined
  cut: string | undefined
}

/** The two breakdowns as one table, by source and id, draft order first. */
export function compareBreakdowns(
  live: readonly BreakdownLine[] | undefined,
  draft: readonly BreakdownLine[],
): ComparedLine[] {
  const rows = new Map<string, ComparedLine>()
  const key = (line: BreakdownLine) => `${line.source}:${line.id}`
  for (const line of draft) {
    rows.set(key(line), { source: line.source, id: line.id, name: line.name ?? line.id, live: undefined, draft: line.points, cut: line.cut })
  }
  for (const line of live ?? []) {
    const known = rows.get(key(line))
    if (known !== undefined) known.live = line.points
    else rows.set(key(line), { source: line.source, id: line.id, name: line.name ?? line.id, live: line.points, draft: undefined, cut: line.cut })
  }
  return [...rows.values()]
}
