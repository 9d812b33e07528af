import { getIn, type PathPart } from '../lib/ruleset.ts'
import type { Caps } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { DraftNumber } from './DraftNumber.tsx'

/** Upper limits on the points a rule gives: per purchase, per member per day, week, month. */
export function CapsEditor(props: { at: readonly PathPart[] }) {
  const [draft] = useConsole().draft
  const count = () => Object.keys((getIn(draft.doc(), props.at) as Caps | undefined) ?? {}).length
  return (
    <details class="subsection" open={count() > 0}>
      <summary>Caps {count() === 0 ? '(none)' : `(${count()} set)`}</summary>
      <div class="grid-4">
        <DraftNumber label="Per purchase" at={[...props.at, 'perTransaction']} optional min={0} />
        <DraftNumber label="Per member per day" at={[...props.at, 'perMemberPerDay']} optional min={0} />
        <DraftNumber label="Per member per week" at={[...props.at, 'perMemberPerWeek']} optional min={0} />
        <DraftNumber label="Per member per month" at={[...props.at, 'perMemberPerMonth']} optional min={0} />
      </div>
    </details>
  )
}
