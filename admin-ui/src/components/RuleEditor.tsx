import { Match, Switch } from 'solid-js'
import { getIn, ruleKindLabels, type PathPart } from '../lib/ruleset.ts'
import type { ProgramDoc, RuleDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { CapsEditor } from './CapsEditor.tsx'
import { ConditionsEditor } from './ConditionsEditor.tsx'
import { DraftFactor } from './DraftFactor.tsx'
import { DraftMoney } from './DraftMoney.tsx'
import { DraftNumber } from './DraftNumber.tsx'
import { DraftSelect } from './DraftSelect.tsx'
import { DraftText } from './DraftText.tsx'
import { ItemsEditor } from './ItemsEditor.tsx'

const kinds = (Object.keys(ruleKindLabels) as RuleDoc['kind'][]).map((kind) => ({
  value: kind,
  label: ruleKindLabels[kind],
}))

/** A rule with another kind: what all kinds share is kept, the kind's own fields start over. */
function rekind(rule: RuleDoc, kind: RuleDoc['kind']): RuleDoc {
  const { id, name, items, when, caps } = rule
  const shared = { id, ...(name === undefined ? {} : { name }), ...(items === undefined ? {} : { items }),
    ...(when === undefined ? {} : { when }), ...(caps === undefined ? {} : { caps }) }
  switch (kind) {
    case 'perSpend':
      return { ...shared, kind, points: 'points' in rule ? rule.points : 1, per: 100 }
    case 'perItem':
    case 'fixed':
      return { ...shared, kind, points: 'points' in rule ? rule.points : 10 }
    case 'multiplier':
      return { ...shared, kind, multiplier: 2000 }
  }
}

/** Every field of an earn rule (base or campaign rule), at its path in the draft. */
export function RuleEditor(props: { at: readonly PathPart[]; program: ProgramDoc; schedule: boolean }) {
  const [draft, actions] = useConsole().draft
  const rule = () => getIn(draft.doc(), props.at) as RuleDoc | undefined
  return (
    <div class="rule-editor">
      <div class="grid-3">
        <DraftText label="Rule id" at={[...props.at, 'id']} hint="Unique in the program; journals name it" />
        <DraftText label="Name" at={[...props.at, 'name']} optional />
        <DraftSelect
          label="Kind"
          at={[...props.at, 'kind']}
          options={kinds}
          onPick={(kind) => {
            const current = rule()
            if (current !== undefined) actions.set(props.at, rekind(current, kind as RuleDoc['kind']))
          }}
        />
      </div>
      <div class="grid-3">
        <Switch>
          <Match when={rule()?.kind === 'perSpend'}>
            <DraftNumber label="Points" at={[...props.at, 'points']} min={1} />
            <DraftMoney
              label="For every"
              at={[...props.at, 'per']}
              currency={props.program.currency}
              hint="floor(spend ÷ this) × points"
            />
          </Match>
          <Match when={rule()?.kind === 'perItem'}>
            <DraftNumber label="Points" at={[...props.at, 'points']} min={1} hint="For every matching unit" />
          </Match>
          <Match when={rule()?.kind === 'fixed'}>
            <DraftNumber label="Points" at={[...props.at, 'points']} min={1} hint="Once per matching purchase" />
          </Match>
          <Match when={rule()?.kind === 'multiplier'}>
            <DraftFactor
              label="Multiplier"
              at={[...props.at, 'multiplier']}
              hint="× the base points; 2 doubles them (multipliers add up)"
            />
          </Match>
        </Switch>
      </div>
      <ItemsEditor at={[...props.at, 'items']} />
      <ConditionsEditor at={[...props.at, 'when']} program={props.program} schedule={props.schedule} />
      <CapsEditor at={[...props.at, 'caps']} />
    </div>
  )
}
