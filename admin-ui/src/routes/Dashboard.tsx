import { For, Match, Show, Switch, createMemo } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { BarList } from '../components/BarList.tsx'
import { ErrorState } from '../components/ErrorState.tsx'
import { LineChart } from '../components/LineChart.tsx'
import { Loading } from '../components/Loading.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { StatCard } from '../components/StatCard.tsx'
import { createAsync } from '@solidjs/router'
import { client, getActiveRuleset } from '../lib/api.ts'
import { formatMoney, formatMs, formatNumber } from '../lib/format.ts'
import { liabilityByCurrency, tierRows } from '../lib/stats.ts'
import type { LiveSample, ProgramDoc, Stats } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { createPoll } from '../stores/createPoll.ts'

const statsEveryMs = 5_000
const liveEveryMs = 1_000
const windowMs = 60_000

function percent(part: number, whole: number): string {
  return whole === 0 ? '—' : `${Math.round((part / whole) * 100)}%`
}

function Figures(props: { stats: Stats }) {
  const s = () => props.stats
  return (
    <div class="stats-grid dashboard">
      <StatCard
        label="Members"
        value={formatNumber(s().members.total)}
        detail={`${formatNumber(s().members.suspended)} suspended · ${formatNumber(s().members.closed)} closed`}
      />
      <Show when={s().accounts !== undefined}>
        <StatCard label="Accounts" value={formatNumber(s().accounts ?? 0)} detail="Enrolled in a program" />
      </Show>
      <StatCard
        label="Active members"
        value={formatNumber(s().members.active)}
        detail={`${percent(s().members.active, s().members.total)} of all members`}
      />
      <StatCard label="Points issued" value={formatNumber(s().points.issued)} detail="Earned and credited, all time" />
      <StatCard label="Points redeemed" value={formatNumber(s().points.redeemed)} detail={`${percent(s().points.redeemed, s().points.issued)} of issued`} />
      <StatCard label="Points expired" value={formatNumber(s().points.expired)} detail={`${percent(s().points.expired, s().points.issued)} of issued`} />
      <StatCard
        label="Outstanding points"
        value={formatNumber(s().points.outstanding)}
        detail={`${formatNumber(s().points.held)} held by open authorizations`}
      />
      <For each={liabilityByCurrency(s())}>
        {(row) => (
          <StatCard
            tone="accent"
            label={`Outstanding liability${liabilityByCurrency(s()).length > 1 ? ` (${row.currency})` : ''}`}
            value={formatMoney(row.money, row.currency)}
            detail={`${formatNumber(row.points)} points at their program's point value`}
          />
        )}
      </For>
    </div>
  )
}

function Tiers(props: { stats: Stats; programs: readonly ProgramDoc[] | undefined }) {
  const programs = createMemo(() => [...new Set([
    ...(props.programs ?? []).map((program) => program.id),
    ...props.stats.tiers.map((row) => row.program),
  ])])
  return (
    <Show when={programs().length > 0} fallback={<p class="muted">No account is in a tier yet.</p>}>
      <For each={programs()}>
        {(program) => (
          <div class="tier-program">
            <Show when={programs().length > 1}>
              <h3>{program}</h3>
            </Show>
            <BarList format={formatNumber} items={tierRows(props.stats, props.programs, program)} />
          </div>
        )}
      </For>
    </Show>
  )
}

function LiveCharts(props: { series: LiveSample[] }) {
  const end = () => props.series.at(-1)?.at ?? Date.now()
  const domain = (): [number, number] => [end() - windowMs + 1000, end()]
  const labels = () =>
    [60, 45, 30, 15, 0].map((seconds) => ({
      x: end() - seconds * 1000 + (seconds === 60 ? 1000 : 0),
      text: seconds === 0 ? 'now' : `−${seconds}s`,
    }))
  const points = (pick: (sample: LiveSample) => number) =>
    props.series.map((sample) => ({ x: sample.at, y: pick(sample) }))
  // A second without requests has no latency: a gap, not a zero.
  const latency = (pick: (sample: LiveSample) => number) =>
    props.series.map((sample) => ({ x: sample.at, y: sample.ops === 0 ? null : pick(sample) }))
  return (
    <div class="charts">
      <LineChart
        title="Transactions per second"
        series={[{ name: 'ops/s', tone: 'series-1', points: points((s) => s.ops) }]}
        xDomain={domain()}
        xLabels={labels()}
        formatY={formatNumber}
      />
      <LineChart
        title="Latency"
        series={[
          { name: 'p50', tone: 'series-1', points: latency((s) => s.p50Ms) },
          { name: 'p99', tone: 'series-2', points: latency((s) => s.p99Ms) },
        ]}
        xDomain={domain()}
        xLabels={labels()}
        formatY={formatMs}
      />
    </div>
  )
}

/** Figures polled every 5 s, the live chart every second; stale numbers stay with a warning. */
export function Dashboard() {
  return (
    <Allowed capability="stats.read">
      <DashboardView />
    </Allowed>
  )
}

function DashboardView() {
  const store = useConsole()
  // Tier names and empty tiers come from the live ruleset, for roles that may read it.
  const liveRuleset = createAsync(async () =>
    store.can('program.read') ? getActiveRuleset().catch(() => undefined) : undefined)
  const stats = createPoll(() => client.stats.summary(), statsEveryMs)
  const live = createPoll(() => client.stats.live(), liveEveryMs)
  const updated = () => {
    const at = stats.updatedAt()
    return at === undefined ? 'Loading…' : `Updated ${new Date(at).toLocaleTimeString()} · refreshes every 5 s`
  }
  return (
    <>
      <PageHeader title="Dashboard" subtitle={updated()} />
      <Show when={stats.error() !== undefined && stats.value() !== undefined}>
        <p class="notice warn" role="status">
          The latest refresh failed; these figures are from {new Date(stats.updatedAt() ?? 0).toLocaleTimeString()}.
        </p>
      </Show>
      <section class="panel" aria-label="Figures">
        <Switch fallback={<Loading label="Loading figures" lines={2} />}>
          <Match when={stats.value()}>{(value) => <Figures stats={value()} />}</Match>
          <Match when={stats.error()}>
            {(error) => <ErrorState error={error()} retry={stats.refresh} compact />}
          </Match>
        </Switch>
      </section>
      <div class="two-columns">
        <section class="panel" aria-label="Live traffic">
          <h2>Live traffic</h2>
          <Switch fallback={<Loading label="Loading live traffic" />}>
            <Match when={live.value()}>{(value) => <LiveCharts series={value().series} />}</Match>
            <Match when={live.error()}>
              {(error) => <ErrorState error={error()} retry={live.refresh} compact />}
            </Match>
          </Switch>
        </section>
        <section class="panel" aria-label="Tier distribution">
          <h2>Members by tier</h2>
          <Switch fallback={<Loading label="Loading tiers" />}>
            <Match when={stats.value()}>{(value) => <Tiers stats={value()} programs={liveRuleset()?.ruleset.doc.programs} />}</Match>
            <Match when={stats.error()}>
              {(error) => <ErrorState error={error()} compact />}
            </Match>
          </Switch>
        </section>
      </div>
    </>
  )
}
