import { Show } from 'solid-js'
import { getIn, type PathPart } from '../lib/ruleset.ts'
import type { Conditions, ProgramDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { DraftCheck } from './DraftCheck.tsx'
import { DraftChoices } from './DraftChoices.tsx'
import { DraftInstant } from './DraftInstant.tsx'
import { DraftMoney } from './DraftMoney.tsx'
import { DraftTags } from './DraftTags.tsx'
import { DraftText } from './DraftText.tsx'

const channels = [
  { value: 'store', label: 'Store' },
  { value: 'web', label: 'Web' },
  { value: 'app', label: 'App' },
  { value: 'partner', label: 'Partner' },
]
const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((label, i) => ({ value: i + 1, label }))

/**
 * The conditions of a rule or campaign (`when`): all given ones must hold.
 * `schedule` shows the from/to window (base rules are scheduled by it;
 * campaigns have their own dates).
 */
export function ConditionsEditor(props: { at: readonly PathPart[]; program: ProgramDoc; schedule: boolean }) {
  const [draft] = useConsole().draft
  const count = () => Object.keys((getIn(draft.doc(), props.at) as Conditions | undefined) ?? {}).length
  const tiers = () => props.program.tiers.map((tier) => ({ value: tier.id, label: tier.name }))
  return (
    <details class="subsection" open={count() > 0}>
      <summary>Conditions {count() === 0 ? '(none: always applies)' : `(${count()} set)`}</summary>
      <div class="grid-3">
        <Show when={props.schedule}>
          <DraftInstant label="Active from" at={[...props.at, 'from']} optional />
          <DraftInstant label="Active until" at={[...props.at, 'to']} optional />
        </Show>
        <DraftMoney label="Minimum spend" at={[...props.at, 'minSpend']} currency={props.program.currency} optional />
        <DraftText label="Promo code" at={[...props.at, 'promoCode']} optional />
        <DraftText label="Hours from" at={[...props.at, 'hours', 'from']} optional placeholder="HH:MM" hint="Local time, with Hours to" />
        <DraftText label="Hours to" at={[...props.at, 'hours', 'to']} optional placeholder="HH:MM" hint="Exclusive; may wrap midnight" />
        <DraftTags label="Stores" at={[...props.at, 'stores']} />
        <DraftTags label="Tenders" at={[...props.at, 'tenders']} />
        <DraftTags label="Segments" at={[...props.at, 'segments']} hint="Member has one of these" />
        <DraftTags label="Countries" at={[...props.at, 'countries']} placeholder="DE, FR" />
        <DraftTags label="Genders" at={[...props.at, 'genders']} />
      </div>
      <DraftChoices label="Channels" at={[...props.at, 'channels']} options={channels} />
      <DraftChoices label="Days of week" at={[...props.at, 'daysOfWeek']} options={weekdays} />
      <DraftChoices label="Tiers" at={[...props.at, 'tiers']} options={tiers()} />
      <DraftCheck label="Only in the member's birthday month" at={[...props.at, 'birthdayMonth']} optional />
    </details>
  )
}
