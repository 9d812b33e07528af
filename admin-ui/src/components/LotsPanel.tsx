import { createAsync } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { getLots } from '../lib/api.ts'
import { formatDate, formatNumber, formatRelative } from '../lib/format.ts'
import { neverExpires } from '../lib/tiers.ts'
import { Badge } from './Badge.tsx'

function Expiry(props: { at: number }) {
  return (
    <Show when={props.at < neverExpires} fallback={<span class="muted">never</span>}>
      {formatDate(props.at)} <span class="muted">({formatRelative(props.at, Date.now())})</span>
    </Show>
  )
}

/** What the balance is made of: lots with their dates (soonest expiry first) and open holds. */
export function LotsPanel(props: { account: string }) {
  const lots = createAsync(() => getLots(props.account))
  return (
    <Show when={lots()}>
      {(found) => (
        <>
          <Show when={found().lots.length > 0} fallback={<p class="muted">No points in any lot.</p>}>
            <table class="table compact" aria-label="Lots">
              <thead>
                <tr>
                  <th class="number">Points</th>
                  <th>Spendable from</th>
                  <th>Expires</th>
                </tr>
              </thead>
              <tbody>
                <For each={found().lots}>
                  {(lot) => (
                    <tr>
                      <td class="number">{formatNumber(lot.points)}</td>
                      <td>
                        <Show when={lot.activeFrom > Date.now()} fallback={<span class="muted">now</span>}>
                          <Badge tone="info">pending</Badge> {formatDate(lot.activeFrom)}
                        </Show>
                      </td>
                      <td><Expiry at={lot.expiresAt} /></td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </Show>
          <h3>Open holds</h3>
          <Show when={found().holds.length > 0} fallback={<p class="muted">No open holds.</p>}>
            <table class="table compact" aria-label="Holds">
              <thead>
                <tr>
                  <th>Hold</th>
                  <th class="number">Points</th>
                  <th>Released at</th>
                </tr>
              </thead>
              <tbody>
                <For each={found().holds}>
                  {(hold) => (
                    <tr>
                      <td class="mono">#{hold.hold}</td>
                      <td class="number">
                        {formatNumber(hold.points)}
                        <Show when={hold.claimed}>
                          {(claimed) => <span class="muted" title="Taken back by a return while held: owed until the hold closes, settled by the held points if it is released"> ({formatNumber(claimed())} claimed by a return)</span>}
                        </Show>
                      </td>
                      <td><Expiry at={hold.expiresAt} /></td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </Show>
        </>
      )}
    </Show>
  )
}
