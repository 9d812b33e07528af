import { createAsync, useSearchParams } from '@solidjs/router'
import { For, Show, createEffect, createSignal, on } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { client, getAudit } from '../lib/api.ts'
import { localDayStart } from '../lib/calendar.ts'
import { formatTimestamp } from '../lib/format.ts'
import type { AuditQuery, AuditRecord } from '../lib/types.ts'

const filterNames = ['actor', 'action', 'target', 'from', 'to', 'order'] as const
const knownActions = [
  'session.', 'member.', 'card.', 'ruleset.publish', 'ruleset.activate', 'terminal.', 'token.issue', 'user.add',
]

function param(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? ''
}

/** `{"reason":"x","points":5}` as `reason: x · points: 5`. */
function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' · ')
}

/** Every change made through the console and the API, searchable, newest first. */
export function Audit() {
  return (
    <Allowed capability="audit.read">
      <AuditView />
    </Allowed>
  )
}

function AuditView() {
  const [params, setParams] = useSearchParams()
  const query = (): AuditQuery => {
    const q: AuditQuery = { limit: 50 }
    for (const name of filterNames) {
      const value = param(params[name]).trim()
      if (value === '') continue
      // A day picked here is a day where the browser is, as the times below are shown;
      // the server would take a bare date for a UTC day.
      const start = name === 'from' || name === 'to' ? localDayStart(value) : undefined
      ;(q as Record<string, string>)[name] = start === undefined ? value : String(start)
    }
    return q
  }
  const search = (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const next: Record<string, string | undefined> = {}
    for (const name of filterNames) next[name] = String(form.get(name) ?? '').trim() || undefined
    setParams(next)
  }
  return (
    <>
      <PageHeader title="Audit log" subtitle="Who changed what, when and from where. Records are append-only." />
      <form class="panel filter-bar" onSubmit={search} aria-label="Filter the audit log">
        <datalist id="audit-actions"><For each={knownActions}>{(action) => <option value={action} />}</For></datalist>
        <label class="field"><span class="field-label">Actor</span><input name="actor" value={param(params['actor'])} placeholder="user or token id" /></label>
        <label class="field"><span class="field-label">Action</span><input name="action" list="audit-actions" value={param(params['action'])} placeholder="member. or card.block" /></label>
        <label class="field"><span class="field-label">Target</span><input name="target" value={param(params['target'])} placeholder="member, terminal, version" /></label>
        <label class="field"><span class="field-label">From</span><input name="from" type="date" value={param(params['from'])} /></label>
        <label class="field"><span class="field-label">Before</span><input name="to" type="date" value={param(params['to'])} /></label>
        <label class="field"><span class="field-label">Order</span>
          <select name="order" value={param(params['order'])}>
            <option value="">Newest first</option>
            <option value="oldest">Oldest first</option>
          </select>
        </label>
        <div class="filter-actions">
          <button type="submit" class="button primary">Search</button>
          <button type="button" class="button ghost" onClick={() => setParams(Object.fromEntries(filterNames.map((name) => [name, undefined])))}>Clear</button>
        </div>
      </form>
      <section class="panel">
        <Async keys={getAudit.key} label="Loading the audit log">
          <Records query={query()} />
        </Async>
      </section>
    </>
  )
}

function Records(props: { query: AuditQuery }) {
  const first = createAsync(() => getAudit(props.query))
  const [more, setMore] = createSignal<AuditRecord[]>([])
  const [cursor, setCursor] = createSignal<string>()
  const [loading, setLoading] = createSignal(false)
  createEffect(on(first, (page) => {
    setMore([])
    setCursor(page?.next)
  }))
  const records = () => [...(first()?.records ?? []), ...more()]
  const loadMore = async () => {
    const next = cursor()
    if (next === undefined) return
    setLoading(true)
    try {
      const page = await client.audit.search({ ...props.query, cursor: next })
      setMore([...more(), ...page.records])
      setCursor(page.next)
    } finally {
      setLoading(false)
    }
  }
  return (
    <Show when={records().length > 0} fallback={<EmptyState title="No records">Nothing matches these filters.</EmptyState>}>
      <table class="table" aria-label="Audit records">
        <thead>
          <tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Details</th></tr>
        </thead>
        <tbody>
          <For each={records()}>
            {(record) => (
              <tr>
                <td class="nowrap">{formatTimestamp(record.at)}</td>
                <td>
                  <strong>{record.actor.id}</strong>
                  <div class="muted small">
                    {record.actor.kind}
                    <Show when={record.actor.from}>{(from) => <> · <span class="mono">{from()}</span></>}</Show>
                  </div>
                </td>
                <td class="mono">{record.action}</td>
                <td class="mono">{record.target}</td>
                <td class="details">{detailText(record.detail)}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
      <Show when={cursor() !== undefined}>
        <div class="table-footer">
          <button type="button" class="button" disabled={loading()} onClick={() => void loadMore()}>
            {loading() ? 'Loading…' : 'More records'}
          </button>
        </div>
      </Show>
    </Show>
  )
}
