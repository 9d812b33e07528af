import { For, Index, Show } from 'solid-js'
import { getIn, removeAt, uniqueId, type PathPart } from '../lib/ruleset.ts'
import type { ActivityDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { DraftNumber } from './DraftNumber.tsx'
import { DraftSelect } from './DraftSelect.tsx'
import { DraftText } from './DraftText.tsx'
import { EmptyState } from './EmptyState.tsx'

const builtIns = ['registration', 'referral_referrer', 'referral_referred', 'birthday', 'first_purchase']
const periods = ['day', 'week', 'month', 'year', 'ever'].map((per) => ({ value: per, label: `per ${per}` }))

/** Activity rewards: built-in events (registration, birthday, ...) and custom ones. */
export function ActivitiesEditor(props: { at: readonly PathPart[] }) {
  const [draft, actions] = useConsole().draft
  const activities = () => (getIn(draft.doc(), props.at) as ActivityDoc[] | undefined) ?? []
  const add = () => {
    const id = uniqueId('new-activity', activities().map((a) => a.id))
    actions.set(props.at, [...activities(), { id, event: 'newsletter_signup', points: 50 }])
  }
  const remove = (index: number) => {
    const rest = removeAt(activities(), index)
    actions.set(props.at, rest.length === 0 ? undefined : rest)
  }
  return (
    <>
      <datalist id="activity-events">
        <For each={builtIns}>{(event) => <option value={event} />}</For>
      </datalist>
      <Show when={activities().length > 0} fallback={<EmptyState title="No activity rewards">Reward registration, birthdays, referrals or your own events.</EmptyState>}>
        <table class="table editable activities" aria-label="Activities">
          <thead>
            <tr>
              <th>Id</th>
              <th>Event</th>
              <th>Points</th>
              <th>At most</th>
              <th>Per</th>
              <th><span class="sr-only">Remove</span></th>
            </tr>
          </thead>
          <tbody>
            <Index each={activities()}>
              {(_, index) => (
                <tr>
                  <td><DraftText label="Activity id" class="in-table" at={[...props.at, index, 'id']} /></td>
                  <td><DraftText label="Event" class="in-table" at={[...props.at, index, 'event']} list="activity-events" /></td>
                  <td><DraftNumber label="Activity points" class="in-table" at={[...props.at, index, 'points']} min={0} /></td>
                  <td><DraftNumber label="Limit count" class="in-table" at={[...props.at, index, 'limit', 'count']} optional min={1} placeholder="no limit" /></td>
                  <td><DraftSelect label="Limit period" class="in-table" at={[...props.at, index, 'limit', 'per']} options={periods} optional="—" /></td>
                  <td><button type="button" class="link-button danger" onClick={() => remove(index)}>Remove</button></td>
                </tr>
              )}
            </Index>
          </tbody>
        </table>
      </Show>
      <button type="button" class="button small" onClick={add}>+ Activity reward</button>
    </>
  )
}
