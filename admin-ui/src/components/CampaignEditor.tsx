import { For, Index, Show } from 'solid-js'
import { getIn, newRule, removeAt, ruleKindLabels, type PathPart } from '../lib/ruleset.ts'
import type { CampaignDoc, ProgramDoc, RuleDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { ConditionsEditor } from './ConditionsEditor.tsx'
import { DraftInstant } from './DraftInstant.tsx'
import { DraftNumber } from './DraftNumber.tsx'
import { DraftSelect } from './DraftSelect.tsx'
import { DraftText } from './DraftText.tsx'
import { RuleEditor } from './RuleEditor.tsx'

const stackings = [
  { value: 'combinable', label: 'Combinable: stacks with other combinable campaigns' },
  { value: 'exclusive', label: 'Exclusive: applies alone' },
]

/** A campaign: dates, priority and stacking, audience, limits, and its rules. */
export function CampaignEditor(props: { at: readonly PathPart[]; program: ProgramDoc }) {
  const [draft, actions] = useConsole().draft
  const rules = () => (getIn(draft.doc(), props.at) as CampaignDoc | undefined)?.rules ?? []
  const add = (kind: RuleDoc['kind']) =>
    actions.set([...props.at, 'rules'], [...rules(), newRule(kind, rules().map((rule) => rule.id))])
  return (
    <div class="campaign-editor">
      <div class="grid-3">
        <DraftText label="Campaign id" at={[...props.at, 'id']} />
        <DraftText label="Name" at={[...props.at, 'name']} class="span-2" />
        <DraftInstant label="Starts" at={[...props.at, 'from']} />
        <DraftInstant label="Ends" at={[...props.at, 'to']} hint="Exclusive" />
        <DraftNumber label="Priority" at={[...props.at, 'priority']} hint="Higher runs first" />
        <DraftSelect label="Stacking" at={[...props.at, 'stacking']} options={stackings} class="span-2" />
        <DraftNumber label="Quota (all members)" at={[...props.at, 'quota']} optional min={1} hint="Times it may apply in total" />
        <DraftNumber label="Limit per member" at={[...props.at, 'perMemberLimit']} optional min={1} />
      </div>
      <ConditionsEditor at={[...props.at, 'when']} program={props.program} schedule={false} />
      <h3>Campaign rules</h3>
      <Index each={rules()}>
        {(_, index) => (
          <div class="nested-rule">
            <div class="nested-rule-header">
              <strong>Rule {index + 1}</strong>
              <Show when={rules().length > 1}>
                <button type="button" class="link-button danger" onClick={() => actions.set([...props.at, 'rules'], removeAt(rules(), index))}>
                  Remove rule
                </button>
              </Show>
            </div>
            <RuleEditor at={[...props.at, 'rules', index]} program={props.program} schedule={false} />
          </div>
        )}
      </Index>
      <div class="button-row">
        <For each={Object.entries(ruleKindLabels) as [RuleDoc['kind'], string][]}>
          {([kind, label]) => (
            <button type="button" class="button small" onClick={() => add(kind)}>+ {label}</button>
          )}
        </For>
      </div>
    </div>
  )
}
