import { createEffect, createSignal, on, type JSX } from 'solid-js'
import { errorsUnder, pathText, type PathPart } from '../lib/ruleset.ts'
import { sentence } from '../lib/validate.ts'
import { useConsole } from '../stores/console-context.tsx'
import { useDraftField } from '../stores/useDraftField.ts'
import { Field } from './Field.tsx'

const split = (text: string) => text.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '')

/** A list of words typed comma-separated (`coffee, tea`); empty removes it. */
export function DraftTags(props: {
  label: string
  at: readonly PathPart[]
  hint?: JSX.Element
  placeholder?: string
  class?: string
}) {
  const [draft] = useConsole().draft
  const field = useDraftField<string[]>(() => props.at)
  const [text, setText] = createSignal((field.value() ?? []).join(', '))
  createEffect(on(field.value, (value) => {
    if (split(text()).join(',') !== (value ?? []).join(',')) setText((value ?? []).join(', '))
  }, { defer: true }))
  // The validator names the list or an item of it (`skus[1]`): the field shows the first.
  const error = () => {
    const found = errorsUnder(draft.errors(), pathText(props.at))[0]
    return found === undefined ? undefined : `${found.path.slice(pathText(props.at).length)} ${sentence(found.message)}`.trim()
  }
  return (
    <Field label={props.label} error={error()} hint={props.hint ?? 'Comma-separated'} class={props.class}>
      <input
        value={text()}
        placeholder={props.placeholder}
        onInput={(event) => {
          setText(event.currentTarget.value)
          const tags = split(event.currentTarget.value)
          field.set(tags.length === 0 ? undefined : tags)
        }}
      />
    </Field>
  )
}
