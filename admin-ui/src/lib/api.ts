/**
 * The console's one API client, and its reads as keyed queries
 * (`@solidjs/router`'s `query`): pages read them with `createAsync`, routes
 * warm them in `preload`, and a change revalidates the keys it affects
 * (`revalidate(getMember.keyFor(id))`), so every page showing that data
 * refreshes together.
 *
 * @module
 */
import { query } from '@solidjs/router'
import { loadRecentEntries } from './balance.ts'
import { ApiError, createClient } from './client.ts'
import { mergeFound, planSearch, type LookupBy } from './member-search.ts'
import type {
  AuditQuery,
  Member,
  MemberDetail,
  MemberSearch,
  MemberStatus,
  Reply,
} from './types.ts'

type Listener = (error: ApiError) => void
const unauthenticatedListeners = new Set<Listener>()

/** The client every page uses; a 401 anywhere tells the session store. */
export const client = createClient({
  onUnauthenticated: (error) => {
    for (const listener of unauthenticatedListeners) listener(error)
  },
})

/** Calls `listener` on every 401; returns the unsubscribe. */
export function onUnauthenticated(listener: Listener): () => void {
  unauthenticatedListeners.add(listener)
  return () => unauthenticatedListeners.delete(listener)
}

export const getRulesets = query(() => client.rulesets.list(), 'rulesets')
export const getActiveRuleset = query(() => client.rulesets.active(), 'ruleset-active')
export const getRuleset = query((version: number) => client.rulesets.get(version), 'ruleset')

/** A member's registry record, or undefined for an account with none (demo accounts). */
export const getMember = query(async (id: string): Promise<MemberDetail | undefined> => {
  try {
    return await client.members.get(id)
  } catch (error) {
    if (error instanceof ApiError && error.notFound) return undefined
    throw error
  }
}, 'member')

/** An account's membership (program, tier, qualification), or undefined when there is none. */
export const getAccountMember = query(async (account: string): Promise<Reply | undefined> => {
  try {
    return await client.accounts.member(account)
  } catch (error) {
    if (error instanceof ApiError && error.notFound) return undefined
    throw error
  }
}, 'account-member')

export const getBalance = query((account: string) => client.accounts.balance(account), 'balance')
export const getLots = query((account: string) => client.accounts.lots(account), 'lots')
export const getHistory = query(
  (account: string, before?: number) => client.accounts.history(account, { limit: 25, before }),
  'history',
)
/** The newest entries (up to 200) for the balance chart, and whether they are the whole history. */
export const getBalanceHistory = query(
  (account: string) => loadRecentEntries((page) => client.accounts.history(account, page)),
  'balance-history',
)
export const getHousehold = query((id: string) => client.members.household(id), 'household')
export const searchMembers = query((search: MemberSearch) => client.members.search(search), 'members')
export const getAudit = query((search: AuditQuery) => client.audit.search(search), 'audit')
export const getUsers = query(() => client.users.list(), 'users')
export const getTokens = query(() => client.tokens.list(), 'tokens')

/** Keys to revalidate after a change to a member or its account. */
export function memberKeys(id: string, account: string): string[] {
  return [
    getMember.keyFor(id),
    getAccountMember.keyFor(account),
    getBalance.keyFor(account),
    getLots.keyFor(account),
    getHistory.key,
    getBalanceHistory.keyFor(account),
    getHousehold.keyFor(id),
    searchMembers.key,
    findMembers.key,
  ]
}

/** A member as a search result row; `accountOnly` for an account with no registry record. */
export interface MemberRow {
  id: string
  firstName?: string
  lastName?: string
  email?: string
  phone?: string
  country?: string
  status?: MemberStatus
  joinedAt?: number
  accountOnly: boolean
}

function rowOf(member: Member): MemberRow {
  const { id, firstName, lastName, email, phone, country, status, joinedAt } = member
  return { id, firstName, lastName, email, phone, country, status, joinedAt, accountOnly: false }
}

/** Undefined for answers that mean "no such member" (unknown, or not a valid card/phone). */
async function unlessAbsent<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 'invalid_request' ||
      error.status === 'card_blocked')) return undefined
    throw error
  }
}

async function byId(id: string): Promise<MemberRow[]> {
  const detail = await getMember(id)
  if (detail !== undefined) return [rowOf(detail.member)]
  const account = await unlessAbsent(client.accounts.member(id))
  return account === undefined ? [] : [{ id, accountOnly: true }]
}

async function byLookup(by: LookupBy, value: string): Promise<MemberRow[]> {
  const reply = await unlessAbsent(client.lookup({ [by]: value } as { card: string }))
  const found = reply?.member
  if (found === undefined) return []
  const detail = await getMember(found.id)
  return [detail === undefined ? { id: found.id, status: found.status, accountOnly: false } : rowOf(detail.member)]
}

/** A page of members, and the search that gets the next page when the list goes on. */
async function searchPage(search: MemberSearch) {
  const page = await client.members.search({ ...search, limit: 50 })
  const more = page.next === undefined ? undefined : { ...search, after: page.next }
  return { rows: page.members.map(rowOf), more }
}

/**
 * Members matching what was typed (see `planSearch`) and the filters, or,
 * with nothing typed, a page of every member. `more` is the search for the
 * next page when the list goes on (a name search's cursor is only good with
 * its own name: the next page repeats it).
 */
export const findMembers = query(async (typed: string, filters: MemberSearch) => {
  const plan = planSearch(typed)
  const searching = plan.id !== undefined || plan.lookups.length > 0 || plan.names.length > 0
  if (!searching) {
    const page = await searchPage(filters)
    return { rows: page.rows.map((row) => ({ ...row, via: [] as string[] })), more: page.more }
  }
  const groups = await Promise.all([
    ...plan.lookups.map(async (lookup) => ({ via: lookup.by, rows: await byLookup(lookup.by, lookup.value), more: undefined })),
    ...plan.names.map(async (name) => ({ via: 'name', ...await searchPage({ ...filters, name }) })),
    ...(plan.id === undefined ? [] : [byId(plan.id).then((rows) => ({ via: 'id', rows, more: undefined }))]),
  ])
  const found = mergeFound(groups.map((group) => ({
    via: group.via,
    items: group.rows.map((row) => ({ id: row.id, value: row })),
  })))
  return {
    rows: found.map((item) => ({ ...item.value, via: item.via })),
    // The name as typed goes on first (the name in the other order rarely fills a page).
    more: groups.find((group) => group.more !== undefined)?.more,
  }
}, 'find-members')
