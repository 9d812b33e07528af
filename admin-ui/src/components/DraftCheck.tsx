import { Show } from 'solid-js'
import type { PathPart } from '../lib/ruleset.ts'
import { useDraftField } from '../stores/useDraftField.ts'

/** A yes/no of the ruleset draft; with `optional`, "no" removes the field. */
export function DraftCheck(props: { label: string; at: readonly PathPart[]; optional?: boolean; hint?: string }) {
  const field = useDraftField<boolean>(() => props.at)
  return (
    <label class="check" classList={{ invalid: field.serverError() !== undefined }}>
      <input
        type="checkbox"
        checked={field.value() === true}
        onChange={(event) => {
          const checked = event.currentTarget.checked
          field.set(checked ? true : props.optional === true ? undefined : false)
        }}
      />
      <span>
        {props.label}
        <Show when={props.hint}>{(hint) => <small class="field-hint">{hint()}</small>}</Show>
        <Show when={field.serverError()}>{(error) => <small class="field-error" role="alert">{error()}</small>}</Show>
      </span>
    </label>
  )
}
