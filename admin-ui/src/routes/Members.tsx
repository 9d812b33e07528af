import { A, createAsync, useSearchParams } from '@solidjs/router'
import { For, Show, createEffect, createSignal, on } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { NewMemberDialog } from '../components/NewMemberDialog.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { client, findMembers, type MemberRow } from '../lib/api.ts'
import { displayName, formatDate } from '../lib/format.ts'
import type { MemberSearch, MemberStatus } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'

type Row = MemberRow & { via: string[] }

const statuses: MemberStatus[] = ['active', 'suspended', 'closed']

function param(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? ''
}

/**
 * Search by card, email, phone, name or id, with status and country filters,
 * in the URL; roles that may register members do it here too.
 */
export function Members() {
  return (
    <Allowed capability="members.read">
      <MembersView />
    </Allowed>
  )
}

function MembersView() {
  const store = useConsole()
  const [adding, setAdding] = createSignal(false)
  const [params, setParams] = useSearchParams()
  const [text, setText] = createSignal(param(params['q']))
  const filters = (): MemberSearch => {
    const filter: MemberSearch = {}
    const status = param(params['status'])
    const country = param(params['country']).toUpperCase()
    if (statuses.includes(status as MemberStatus)) filter.status = status as MemberStatus
    if (/^[A-Z]{2}$/.test(country)) filter.country = country
    return filter
  }
  const search = (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    setParams({
      q: text().trim() || undefined,
      status: String(form.get('status') ?? '') || undefined,
      country: String(form.get('country') ?? '').trim().toUpperCase() || undefined,
    })
  }
  return (
    <>
      <PageHeader
        title="Members"
        subtitle="Find a member by card number, email, phone, name (last name first) or member id."
      >
        <Show when={store.can('members.create')}>
          <button type="button" class="button primary" onClick={() => setAdding(true)}>New member</button>
        </Show>
      </PageHeader>
      <NewMemberDialog open={adding()} onClose={() => setAdding(false)} />
      <form class="search-bar panel" role="search" onSubmit={search}>
        <input
          class="search-input"
          type="search"
          name="q"
          aria-label="Card, email, phone, name or member id"
          placeholder="Card, email, phone, name or member id"
          value={text()}
          onInput={(event) => setText(event.currentTarget.value)}
          autofocus
        />
        <select name="status" aria-label="Status" value={param(params['status'])}>
          <option value="">Any status</option>
          <For each={statuses}>{(status) => <option value={status}>{status}</option>}</For>
        </select>
        <input
          name="country"
          class="country-input"
          aria-label="Country"
          placeholder="Country"
          maxLength={2}
          value={param(params['country'])}
        />
        <button type="submit" class="button primary">Search</button>
      </form>
      <section class="panel">
        <Async keys={findMembers.key} label="Searching">
          <Results typed={param(params['q'])} filters={filters()} />
        </Async>
      </section>
    </>
  )
}

function Results(props: { typed: string; filters: MemberSearch }) {
  const found = createAsync(() => findMembers(props.typed, props.filters))
  const [extra, setExtra] = createSignal<{ rows: Row[]; more: MemberSearch | undefined }>()
  const [loadingMore, setLoadingMore] = createSignal(false)
  // Another search starts the list again.
  createEffect(on(() => [props.typed, JSON.stringify(props.filters)], () => setExtra(undefined), { defer: true }))
  const rows = (): Row[] => [...(found()?.rows ?? []), ...(extra()?.rows ?? [])]
  const more = () => (extra() === undefined ? found()?.more : extra()?.more)
  const loadMore = async () => {
    const search = more()
    if (search === undefined) return
    setLoadingMore(true)
    try {
      const page = await client.members.search({ ...search, limit: 50 })
      // A member found by id or card on the first page may come again by name.
      const shown = new Set(rows().map((row) => row.id))
      const added = page.members
        .filter((member) => !shown.has(member.id))
        .map((member) => ({ ...member, accountOnly: false, via: search.name === undefined ? [] : ['name'] }))
      const next = page.next === undefined ? undefined : { ...search, after: page.next }
      setExtra({ rows: [...(extra()?.rows ?? []), ...added], more: next })
    } finally {
      setLoadingMore(false)
    }
  }
  return (
    <Show
      when={rows().length > 0}
      fallback={
        <EmptyState title={props.typed === '' ? 'No member records' : `No member matches “${props.typed}”`}>
          {props.typed === ''
            ? 'Members with a profile appear here once they join (through the API or a CSV import). Accounts enrolled in the ledger without one open by their id: type it above.'
            : 'Check the number, or search by name (Smith, Smith Jane or Jane Smith), email, phone (international form, +49…) or the exact member id.'}
        </EmptyState>
      }
    >
      <table class="table" aria-label="Members found">
        <thead>
          <tr>
            <th>Member</th>
            <th>Email</th>
            <th>Phone</th>
            <th>Country</th>
            <th>Status</th>
            <th>Joined</th>
            <Show when={props.typed !== ''}>
              <th>Found by</th>
            </Show>
          </tr>
        </thead>
        <tbody>
          <For each={rows()}>
            {(row) => (
              <tr>
                <td>
                  <A href={`/members/${encodeURIComponent(row.id)}`} class="strong-link">
                    {displayName(row, row.id)}
                  </A>
                  <div class="muted mono">{row.id}</div>
                </td>
                <td>{row.email ?? '—'}</td>
                <td>{row.phone ?? '—'}</td>
                <td>{row.country ?? '—'}</td>
                <td>
                  <Show when={row.status} fallback={<span class="muted">account only</span>}>
                    {(status) => <StatusBadge status={status()} />}
                  </Show>
                </td>
                <td>{row.joinedAt === undefined ? '—' : formatDate(row.joinedAt)}</td>
                <Show when={props.typed !== ''}>
                  <td class="muted">{row.via.join(', ')}</td>
                </Show>
              </tr>
            )}
          </For>
        </tbody>
      </table>
      <Show when={more() !== undefined}>
        <div class="table-footer">
          <button type="button" class="button" disabled={loadingMore()} onClick={() => void loadMore()}>
            {loadingMore() ? 'Loading…' : 'Show more'}
          </button>
        </div>
      </Show>
    </Show>
  )
}
