import { Index } from 'solid-js'
import { getIn, moveItem, newTier, removeAt, type PathPart } from '../lib/ruleset.ts'
import type { ProgramDoc, TierDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { DraftFactor } from './DraftFactor.tsx'
import { DraftMoney } from './DraftMoney.tsx'
import { DraftNumber } from './DraftNumber.tsx'
import { DraftText } from './DraftText.tsx'

/** The tier table, lowest first: every member starts in the first tier (threshold 0). */
export function TierTable(props: { at: readonly PathPart[]; program: ProgramDoc }) {
  const [draft, actions] = useConsole().draft
  const tiers = () => (getIn(draft.doc(), props.at) as TierDoc[] | undefined) ?? []
  const set = (next: TierDoc[]) => actions.set(props.at, next)
  const spend = () => props.program.qualification.basis === 'spend'
  return (
    <>
      <table class="table editable" aria-label="Tiers">
        <thead>
          <tr>
            <th>Name</th>
            <th>Id</th>
            <th>Threshold ({spend() ? props.program.currency : props.program.qualification.basis})</th>
            <th>Earn multiplier</th>
            <th>Bonus on reaching</th>
            <th><span class="sr-only">Order</span></th>
          </tr>
        </thead>
        <tbody>
          <Index each={tiers()}>
            {(_, index) => (
              <tr>
                <td><DraftText label={`Tier ${index + 1} name`} class="in-table" at={[...props.at, index, 'name']} /></td>
                <td><DraftText label={`Tier ${index + 1} id`} class="in-table" at={[...props.at, index, 'id']} /></td>
                <td>
                  {spend()
                    ? <DraftMoney label={`Tier ${index + 1} threshold`} class="in-table" at={[...props.at, index, 'threshold']} currency={props.program.currency} />
                    : <DraftNumber label={`Tier ${index + 1} threshold`} class="in-table" at={[...props.at, index, 'threshold']} min={0} />}
                </td>
                <td><DraftFactor label={`Tier ${index + 1} multiplier`} class="in-table" at={[...props.at, index, 'multiplier']} optional /></td>
                <td><DraftNumber label={`Tier ${index + 1} bonus`} class="in-table" at={[...props.at, index, 'bonus']} optional min={0} placeholder="0" /></td>
                <td class="actions-cell">
                  <button type="button" class="icon-button" aria-label={`Move tier ${index + 1} up`} disabled={index === 0} onClick={() => set(moveItem(tiers(), index, -1))}>↑</button>
                  <button type="button" class="icon-button" aria-label={`Move tier ${index + 1} down`} disabled={index === tiers().length - 1} onClick={() => set(moveItem(tiers(), index, 1))}>↓</button>
                  <button type="button" class="icon-button danger" aria-label={`Remove tier ${index + 1}`} disabled={tiers().length === 1} onClick={() => set(removeAt(tiers(), index))}>×</button>
                </td>
              </tr>
            )}
          </Index>
        </tbody>
      </table>
      <button type="button" class="button small" onClick={() => set([...tiers(), newTier(tiers())])}>+ Tier</button>
      <p class="muted small">
        Multipliers apply to base rules (1.25 gives 25% more); the first tier's bonus is paid on joining.
      </p>
    </>
  )
}
