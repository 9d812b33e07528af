import { Show } from 'solid-js'
import { formatMoney, formatNumber } from '../lib/format.ts'
import type { Balance, ProgramDoc } from '../lib/types.ts'
import { StatCard } from './StatCard.tsx'

/** Available, pending and held points, what they are worth, and any debt. */
export function BalancePanel(props: { balance: Balance | undefined; debt?: number; program?: ProgramDoc }) {
  const worth = (points: number) => {
    const program = props.program
    return program === undefined ? undefined : formatMoney(points * program.pointValue, program.currency)
  }
  return (
    <Show when={props.balance} fallback={<p class="muted">No account in a program yet.</p>}>
      {(balance) => (
        <div class="stats-grid compact">
          <StatCard
            tone="accent"
            label="Available"
            value={<span data-testid="available">{formatNumber(balance().available)}</span>}
            detail={worth(balance().available) ?? 'points'}
          />
          <StatCard label="Pending" value={formatNumber(balance().pending)} detail="Not spendable yet" />
          <StatCard label="Held" value={formatNumber(balance().held)} detail="Reserved by open holds" />
          <Show when={(props.debt ?? 0) > 0}>
            <StatCard tone="bad" label="Debt" value={formatNumber(props.debt ?? 0)} detail="Owed after returns" />
          </Show>
        </div>
      )}
    </Show>
  )
}
