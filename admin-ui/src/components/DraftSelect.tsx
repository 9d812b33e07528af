import { For, type JSX } from 'solid-js'
import type { PathPart } from '../lib/ruleset.ts'
import { useDraftField } from '../stores/useDraftField.ts'
import { Field } from './Field.tsx'

/** A choice of the ruleset draft; with `optional`, the empty choice removes the field. */
export function DraftSelect(props: {
  label: string
  at: readonly PathPart[]
  options: readonly { value: string; label: string }[]
  optional?: string
  hint?: JSX.Element
  class?: string
  /** Replaces the plain set (a kind change that must reshape its object). */
  onPick?: (value: string) => void
}) {
  const field = useDraftField<string>(() => props.at)
  return (
    <Field label={props.label} error={field.serverError()} hint={props.hint} class={props.class}>
      <select
        value={field.value() ?? ''}
        onChange={(event) => {
          const value = event.currentTarget.value
          if (props.onPick !== undefined) props.onPick(value)
          else field.set(value === '' ? undefined : value)
        }}
      >
        {props.optional === undefined ? null : <option value="">{props.optional}</option>}
        <For each={props.options}>{(option) => <option value={option.value}>{option.label}</option>}</For>
      </select>
    </Field>
  )
}
