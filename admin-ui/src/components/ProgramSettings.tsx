import { Match, Show, Switch } from 'solid-js'
import { formatMoney } from '../lib/format.ts'
import type { PathPart } from '../lib/ruleset.ts'
import type { ExpiryPolicy, ProgramDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { DraftCheck } from './DraftCheck.tsx'
import { DraftNumber } from './DraftNumber.tsx'
import { DraftSelect } from './DraftSelect.tsx'
import { DraftTags } from './DraftTags.tsx'
import { DraftText } from './DraftText.tsx'

const expiryKinds = [
  { value: 'never', label: 'Never' },
  { value: 'days', label: 'After a number of days' },
  { value: 'months', label: 'After a number of months' },
  { value: 'endOfMonth', label: 'At the end of a month' },
  { value: 'endOfYear', label: 'At the end of a year' },
]

const expiryDefaults: Record<ExpiryPolicy['kind'], ExpiryPolicy> = {
  never: { kind: 'never' },
  days: { kind: 'days', days: 365 },
  months: { kind: 'months', months: 12 },
  endOfMonth: { kind: 'endOfMonth', months: 0 },
  endOfYear: { kind: 'endOfYear', years: 1 },
}

let zones: string[] | undefined
function timeZones(): string[] {
  zones ??= typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : ['UTC']
  return zones
}

/** Program settings: naming, point value, earning base, time zone, expiry, pending days, returns. */
export function ProgramSettings(props: { at: readonly PathPart[]; program: ProgramDoc }) {
  const [, actions] = useConsole().draft
  const expiry = () => props.program.expiry
  return (
    <>
      <datalist id="time-zones">
        {timeZones().map((zone) => <option value={zone} />)}
      </datalist>
      <div class="grid-3">
        <DraftText label="Program name" at={[...props.at, 'name']} />
        <DraftText label="Point name" at={[...props.at, 'pointName']} hint="What members call them: points, miles, stars" />
        <DraftText label="Currency" at={[...props.at, 'currency']} hint="ISO 4217, e.g. USD, EUR" />
        <DraftNumber
          label="Point value (minor units)"
          at={[...props.at, 'pointValue']}
          min={0}
          hint={`One point is worth ${formatMoney(props.program.pointValue, props.program.currency)} when burned`}
        />
        <DraftSelect
          label="Earning base"
          at={[...props.at, 'earnBase']}
          options={[
            { value: 'net', label: 'Net: after line discounts' },
            { value: 'gross', label: 'Gross: before discounts' },
          ]}
        />
        <DraftText label="Time zone" at={[...props.at, 'timeZone']} optional list="time-zones" hint="Days, hours and month ends are counted here (default UTC)" />
        <DraftNumber label="Locked (pending) days" at={[...props.at, 'pendingDays']} optional min={0} placeholder="0" hint="Earned points become spendable after this many days" />
      </div>
      <h3>Expiry</h3>
      <div class="grid-3">
        <DraftSelect
          label="Points expire"
          at={[...props.at, 'expiry', 'kind']}
          options={expiryKinds}
          onPick={(kind) => actions.set([...props.at, 'expiry'], expiryDefaults[kind as ExpiryPolicy['kind']])}
        />
        <Switch>
          <Match when={expiry().kind === 'days'}>
            <DraftNumber label="Days after earning" at={[...props.at, 'expiry', 'days']} min={1} hint="At the end of that day" />
          </Match>
          <Match when={expiry().kind === 'months'}>
            <DraftNumber label="Months after earning" at={[...props.at, 'expiry', 'months']} min={1} hint="Same day of the month, at its end" />
          </Match>
          <Match when={expiry().kind === 'endOfMonth'}>
            <DraftNumber label="Months later" at={[...props.at, 'expiry', 'months']} optional min={0} placeholder="0" hint="0: the end of the month they were earned in" />
          </Match>
          <Match when={expiry().kind === 'endOfYear'}>
            <DraftNumber label="Years later" at={[...props.at, 'expiry', 'years']} optional min={0} placeholder="0" hint="0: the end of the year they were earned in" />
          </Match>
        </Switch>
      </div>
      <h3>Returns and exclusions</h3>
      <DraftCheck
        label="A return may take the balance below zero (debt)"
        at={[...props.at, 'negativeBalanceOnReturn']}
        hint="Otherwise a return only takes back the points that are left"
      />
      <div class="grid-2">
        <DraftTags label="Never earn on categories" at={[...props.at, 'excluded', 'categories']} placeholder="gift-cards, tobacco" />
        <DraftTags label="Never earn on SKUs" at={[...props.at, 'excluded', 'skus']} />
      </div>
    </>
  )
}

/** How members qualify for tiers, and how they move down at reviews. */
export function QualificationSettings(props: { at: readonly PathPart[]; program: ProgramDoc }) {
  return (
    <div class="grid-3">
      <DraftSelect
        label="Qualify on"
        at={[...props.at, 'basis']}
        options={[
          { value: 'points', label: 'Points earned in the period' },
          { value: 'spend', label: 'Money spent in the period' },
          { value: 'balance', label: 'The current balance' },
        ]}
      />
      <DraftSelect
        label="Period"
        at={[...props.at, 'period']}
        options={[
          { value: 'rolling12Months', label: 'Rolling 12 months' },
          { value: 'calendarYear', label: 'Calendar year' },
          { value: 'membershipYear', label: 'Membership year' },
        ]}
      />
      <DraftSelect
        label="At a review, a member below its tier"
        at={[...props.at, 'review']}
        options={[
          { value: 'oneDown', label: 'Goes down one tier' },
          { value: 'recompute', label: 'Goes to the tier its qualification gives' },
        ]}
      />
      <Show when={props.program.qualification.period === 'rolling12Months'}>
        <DraftNumber label="Days between reviews" at={[...props.at, 'reviewDays']} optional min={1} placeholder="365" />
      </Show>
      <p class="muted small span-3">Upgrades happen as soon as a member qualifies for a higher tier.</p>
    </div>
  )
}
