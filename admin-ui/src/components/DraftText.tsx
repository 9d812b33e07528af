import type { JSX } from 'solid-js'
import type { PathPart } from '../lib/ruleset.ts'
import { useDraftField } from '../stores/useDraftField.ts'
import { Field } from './Field.tsx'

/** A text field of the ruleset draft; an optional one left empty is removed. */
export function DraftText(props: {
  label: string
  at: readonly PathPart[]
  optional?: boolean
  hint?: JSX.Element
  placeholder?: string
  list?: string
  class?: string
}) {
  const field = useDraftField<string>(() => props.at)
  return (
    <Field label={props.label} error={field.serverError()} hint={props.hint} class={props.class}>
      <input
        value={field.value() ?? ''}
        placeholder={props.placeholder}
        list={props.list}
        aria-invalid={field.serverError() !== undefined}
        onInput={(event) => {
          const text = event.currentTarget.value
          field.set(text === '' && props.optional === true ? undefined : text)
        }}
      />
    </Field>
  )
}
