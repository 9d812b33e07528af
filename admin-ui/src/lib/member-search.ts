/**
 * One search box for members: what staff type (a card number, an email, a
 * phone number, a name, a member id) decides which lookups run. Every
 * plausible reading is tried at once and the answers merged, so nobody has to
 * pick "search by" first.
 *
 * @module
 */

export type LookupBy = 'card' | 'phone' | 'email'

export interface SearchPlan {
  /** Exact identifier lookups (`GET /v1/lookup`). */
  lookups: { by: LookupBy; value: string }[]
  /** Name prefixes, last name first (`GET /v1/members?name=`). */
  names: string[]
  /** A member or account id to open directly. */
  id?: string
}

const idText = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/
const emailText = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
/** Cards are 6 to 32 letters or digits; spaces and dashes are ignored. */
const cardText = /^[A-Za-z0-9]{6,32}$/

/** What to look up for the text typed; nothing for an empty box. */
export function planSearch(typed: string): SearchPlan {
  const text = typed.trim()
  const plan: SearchPlan = { lookups: [], names: [] }
  if (text === '') return plan
  if (idText.test(text)) plan.id = text
  if (text.includes('@')) {
    if (emailText.test(text)) plan.lookups.push({ by: 'email', value: text.toLowerCase() })
    return plan
  }
  const compact = text.replace(/[\s().-]/g, '')
  if (/^\+\d{6,15}$/.test(compact)) {
    plan.lookups.push({ by: 'phone', value: compact })
    return plan
  }
  if (cardText.test(compact) && /\d/.test(compact)) plan.lookups.push({ by: 'card', value: compact })
  if (/\p{L}/u.test(text)) plan.names.push(...nameOrders(text))
  return plan
}

/** `Smith` as typed; `Jane Smith` also as `Smith Jane` (the index is last name first). */
function nameOrders(text: string): string[] {
  const words = text.split(/\s+/)
  if (words.length < 2) return [text]
  const reversed = [...words.slice(1), words[0]!].join(' ')
  return [text, reversed]
}

export interface Found<T> {
  id: string
  value: T
  /** How it was found: `card`, `email`, `name`, `id`, ... */
  via: string[]
}

/** Merges answers by member id, keeping the first value and every way it was found. */
export function mergeFound<T>(groups: { via: string; items: { id: string; value: T }[] }[]) {
  const merged = new Map<string, Found<T>>()
  for (const group of groups) {
    for (const item of group.items) {
      const known = merged.get(item.id)
      if (known === undefined) merged.set(item.id, { id: item.id, value: item.value, via: [group.via] })
      else if (!known.via.includes(group.via)) known.via.push(group.via)
    }
  }
  return [...merged.values()]
}
