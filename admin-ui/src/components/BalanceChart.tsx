import { createAsync } from '@solidjs/router'
import { Show } from 'solid-js'
import { getBalanceHistory } from '../lib/api.ts'
import { balanceMoved, balanceSeries, chartEntriesMax, timeDomain, timeLabels } from '../lib/balance.ts'
import { formatNumber } from '../lib/format.ts'
import { EmptyState } from './EmptyState.tsx'
import { LineChart } from './LineChart.tsx'

/** The account's balance after each of its newest journal entries, as a step line up to now. */
export function BalanceChart(props: { account: string }) {
  const recent = createAsync(() => getBalanceHistory(props.account))
  const points = () => {
    const loaded = recent()
    return loaded === undefined ? [] : balanceSeries(loaded.entries, loaded.complete, Date.now())
  }
  const domain = () => timeDomain(points())
  return (
    <Show
      when={balanceMoved(recent()?.entries ?? [])}
      fallback={
        <>
          <h2>Balance over time</h2>
          <EmptyState title="No points yet">The balance is drawn here once the account earns or is adjusted.</EmptyState>
        </>
      }
    >
      <LineChart
        title="Balance over time"
        series={[{ name: 'balance', tone: 'series-1', points: points() }]}
        xDomain={domain()}
        xLabels={timeLabels(domain())}
        formatY={formatNumber}
      />
      <Show when={recent()?.complete === false}>
        <p class="muted small">The {chartEntriesMax} most recent journal entries; the journal below has older ones.</p>
      </Show>
    </Show>
  )
}
