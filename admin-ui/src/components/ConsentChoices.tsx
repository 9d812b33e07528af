import { For } from 'solid-js'

export type ConsentField = 'consentEmail' | 'consentSms' | 'consentPush'

export const consentLabels: Record<ConsentField, string> = {
  consentEmail: 'May be emailed',
  consentSms: 'May be texted',
  consentPush: 'May get push messages',
}

/**
 * The member's consents as checkboxes, for a form that keeps them as text
 * fields (`'yes'` or `''`), as the profile editor and the new-member form do.
 */
export function ConsentChoices(props: {
  value: (field: ConsentField) => string
  onChange: (field: ConsentField, value: string) => void
}) {
  return (
    <fieldset class="choices span-2">
      <legend class="field-label">Consents</legend>
      <For each={Object.keys(consentLabels) as ConsentField[]}>
        {(field) => (
          <label class="chip">
            <input
              type="checkbox"
              checked={props.value(field) === 'yes'}
              onChange={(event) => props.onChange(field, event.currentTarget.checked ? 'yes' : '')}
            />
            <span>{consentLabels[field]}</span>
          </label>
        )}
      </For>
    </fieldset>
  )
}
