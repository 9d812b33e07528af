import { For, Show } from 'solid-js'
import { errorsUnder, pathText, type PathPart } from '../lib/ruleset.ts'
import { sentence } from '../lib/validate.ts'
import { useConsole } from '../stores/console-context.tsx'
import { useDraftField } from '../stores/useDraftField.ts'

/** Several of a few options (channels, weekdays, tiers) as checkboxes; none removes the field. */
export function DraftChoices<T extends string | number>(props: {
  label: string
  at: readonly PathPart[]
  options: readonly { value: T; label: string }[]
}) {
  const [draft] = useConsole().draft
  const field = useDraftField<T[]>(() => props.at)
  const chosen = () => new Set(field.value() ?? [])
  const toggle = (value: T, on: boolean) => {
    const next = props.options.map((option) => option.value)
      .filter((option) => (option === value ? on : chosen().has(option)))
    field.set(next.length === 0 ? undefined : next)
  }
  const error = () => errorsUnder(draft.errors(), pathText(props.at))[0]
  return (
    <fieldset class="choices" classList={{ invalid: error() !== undefined }}>
      <legend class="field-label">{props.label}</legend>
      <For each={props.options}>
        {(option) => (
          <label class="chip">
            <input
              type="checkbox"
              checked={chosen().has(option.value)}
              onChange={(event) => toggle(option.value, event.currentTarget.checked)}
            />
            <span>{option.label}</span>
          </label>
        )}
      </For>
      <Show when={error()}>{(found) => <span class="field-error" role="alert">{sentence(found().message)}</span>}</Show>
    </fieldset>
  )
}
