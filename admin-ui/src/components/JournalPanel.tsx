import { createAsync } from '@solidjs/router'
import { For, Show, createEffect, createSignal, on } from 'solid-js'
import { client, getHistory } from '../lib/api.ts'
import { formatNumber, formatSigned, formatTimestamp } from '../lib/format.ts'
import type { Entry } from '../lib/types.ts'
import { Badge, type Tone } from './Badge.tsx'
import { EmptyState } from './EmptyState.tsx'

const kindTones: Record<string, Tone> = {
  earn: 'good',
  enroll: 'good',
  adjust: 'info',
  burn: 'warn',
  capture: 'warn',
  expire: 'bad',
  reverse: 'bad',
  tier: 'info',
}

function details(entry: Entry): string {
  const parts: string[] = []
  if (entry.reason !== undefined) parts.push(entry.reason)
  if (entry.tierFrom !== undefined || entry.tierTo !== undefined) {
    parts.push(`${entry.tierFrom ?? '—'} → ${entry.tierTo ?? '—'}`)
  }
  if (entry.breakdown !== undefined && entry.breakdown.length > 0) {
    parts.push(entry.breakdown
      .map((line) => `${line.name ?? line.id}: ${formatSigned(line.points)}${line.cut ? ` (${line.cut} reached)` : ''}`)
      .join(' · '))
  }
  if (entry.lapsed !== undefined) parts.push(`${formatNumber(entry.lapsed)} had expired unspent, not taken`)
  if (entry.ref !== undefined && entry.ref !== entry.key) parts.push(`ref ${entry.ref}`)
  if (entry.hold !== undefined) parts.push(`hold #${entry.hold}`)
  return parts.join(' — ')
}

function source(entry: Entry): string {
  const s = entry.source
  if (s === undefined) return ''
  if (s.operator !== undefined) return `operator ${s.operator}`
  if (s.terminal !== undefined) return `terminal ${s.terminal}${s.store === undefined ? '' : ` @ ${s.store}`}`
  const relayed = [s.channel, s.store].filter((part) => part !== undefined).join(' @ ')
  return s.via === undefined ? relayed : `${relayed} (token ${s.via})`
}

/** The account's journal, newest first, 25 entries a page, with older pages on demand. */
export function JournalPanel(props: { account: string }) {
  const first = createAsync(() => getHistory(props.account))
  const [older, setOlder] = createSignal<Entry[]>([])
  const [next, setNext] = createSignal<number>()
  const [loading, setLoading] = createSignal(false)
  // A refreshed first page (after an adjustment) starts the list again.
  createEffect(on(first, (page) => {
    setOlder([])
    setNext(page?.next)
  }))
  const entries = () => [...(first()?.entries ?? []), ...older()]
  const loadOlder = async () => {
    const before = next()
    if (before === undefined) return
    setLoading(true)
    try {
      const page = await client.accounts.history(props.account, { limit: 25, before })
      setOlder([...older(), ...page.entries])
      setNext(page.next)
    } finally {
      setLoading(false)
    }
  }
  return (
    <Show
      when={entries().length > 0}
      fallback={<EmptyState title="No journal entries">Nothing has happened on this account yet.</EmptyState>}
    >
      <table class="table" aria-label="Journal">
        <thead>
          <tr>
            <th>#</th>
            <th>When</th>
            <th>What</th>
            <th class="number">Points</th>
            <th class="number">Balance</th>
            <th>Details</th>
            <th>By</th>
            <th title="Ruleset version">Rules</th>
          </tr>
        </thead>
        <tbody>
          <For each={entries()}>
            {(entry) => (
              <tr>
                <td class="mono muted">{entry.seq}</td>
                <td class="nowrap">{formatTimestamp(entry.at)}</td>
                <td><Badge tone={kindTones[entry.kind] ?? 'neutral'}>{entry.kind}</Badge></td>
                <td class="number" classList={{ positive: entry.points > 0, negative: entry.points < 0 }}>
                  {entry.points === 0 && entry.held !== 0 ? `held ${formatSigned(entry.held)}` : formatSigned(entry.points)}
                </td>
                <td class="number">{formatNumber(entry.balance)}</td>
                <td class="details">{details(entry)}</td>
                <td class="muted">{source(entry)}</td>
                <td class="muted">{entry.rulesetVersion === undefined ? '' : `v${entry.rulesetVersion}`}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
      <Show when={next() !== undefined}>
        <div class="table-footer">
          <button type="button" class="button" disabled={loading()} onClick={() => void loadOlder()}>
            {loading() ? 'Loading…' : 'Older entries'}
          </button>
        </div>
      </Show>
    </Show>
  )
}
