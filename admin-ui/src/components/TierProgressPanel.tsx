import { Show } from 'solid-js'
import { formatDate, formatNumber } from '../lib/format.ts'
import { tierProgress } from '../lib/tiers.ts'
import type { Membership, ProgramDoc } from '../lib/types.ts'

const basisLabels = { points: 'qualifying points', spend: 'qualifying spend', balance: 'balance' }

/** The member's tier, its qualification, and how far it is to the next tier. */
export function TierProgressPanel(props: { membership: Membership; program?: ProgramDoc }) {
  const progress = () =>
    props.program === undefined
      ? undefined
      : tierProgress(props.program.tiers, props.membership.tier, props.membership.qualification)
  const basis = () => basisLabels[props.program?.qualification.basis ?? 'points']
  return (
    <div class="tier-progress">
      <div class="tier-now">
        <span class="tier-name">{progress()?.current?.name ?? props.membership.tier}</span>
        <span class="muted">
          {formatNumber(props.membership.qualification)} {basis()} · review {formatDate(props.membership.reviewAt)}
        </span>
      </div>
      <Show when={progress()}>
        {(p) => (
          <Show when={p().next} fallback={<p class="muted">Top tier.</p>}>
            {(next) => (
              <>
                <div
                  class="progress"
                  role="progressbar"
                  aria-label={`Progress to ${next().name}`}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(p().fraction * 100)}
                >
                  <span style={{ width: `${p().fraction * 100}%` }} />
                </div>
                <p class="muted">
                  {formatNumber(p().remaining)} more to {next().name} (at {formatNumber(next().threshold)})
                </p>
              </>
            )}
          </Show>
        )}
      </Show>
    </div>
  )
}
