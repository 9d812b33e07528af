import type { JSX } from 'solid-js'
import { fromLocalInput, toLocalInput, type PathPart } from '../lib/ruleset.ts'
import { useDraftField } from '../stores/useDraftField.ts'
import { Field } from './Field.tsx'

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone

/** A point in time of the draft (an ISO instant), picked in the browser's time zone. */
export function DraftInstant(props: {
  label: string
  at: readonly PathPart[]
  optional?: boolean
  hint?: JSX.Element
  class?: string
}) {
  const field = useDraftField<string>(() => props.at)
  return (
    <Field label={props.label} error={field.serverError()} hint={props.hint ?? `Your time (${zone})`} class={props.class}>
      <input
        type="datetime-local"
        value={toLocalInput(field.value())}
        aria-invalid={field.serverError() !== undefined}
        onChange={(event) => {
          const iso = fromLocalInput(event.currentTarget.value)
          if (iso !== undefined || props.optional === true) field.set(iso)
        }}
      />
    </Field>
  )
}
