import { createEffect, createSignal, on, type JSX } from 'solid-js'
import type { PathPart } from '../lib/ruleset.ts'
import { useDraftField } from '../stores/useDraftField.ts'
import { Field } from './Field.tsx'

export interface Parser<T> {
  /** The text for a value. */
  show: (value: T) => string
  /** The value for a text, or why it is not one. */
  read: (text: string) => { value: T } | { error: string }
}

/**
 * A draft field typed as text and stored as something else (a whole number, a
 * per-mille factor, minor units of money). The text stays as typed while it
 * does not parse, with the reason under it; the document keeps the last good
 * value until then. The validator's error for the path shows otherwise.
 */
export function DraftParsed<T>(props: {
  label: string
  at: readonly PathPart[]
  parser: Parser<T>
  optional?: boolean
  hint?: JSX.Element
  placeholder?: string
  inputMode?: 'numeric' | 'decimal'
  class?: string
}) {
  const field = useDraftField<T>(() => props.at)
  const textOf = (value: T | undefined) => (value === undefined ? '' : props.parser.show(value))
  const [text, setText] = createSignal(textOf(field.value()))
  const [local, setLocal] = createSignal<string>()
  // A change from elsewhere (discard, another version loaded) replaces the text.
  createEffect(on(field.value, (value) => {
    const typed = props.parser.read(text())
    if ('value' in typed && typed.value === value) return
    if (text() === '' && value === undefined) return
    setText(textOf(value))
    setLocal(undefined)
  }, { defer: true }))
  const input = (typed: string) => {
    setText(typed)
    if (typed.trim() === '') {
      if (props.optional === true) {
        setLocal(undefined)
        field.set(undefined)
      } else setLocal('Required')
      return
    }
    const parsed = props.parser.read(typed)
    if ('error' in parsed) {
      setLocal(parsed.error)
      return
    }
    setLocal(undefined)
    field.set(parsed.value)
  }
  const error = () => local() ?? field.serverError()
  return (
    <Field label={props.label} error={error()} hint={props.hint} class={props.class}>
      <input
        value={text()}
        inputmode={props.inputMode ?? 'numeric'}
        placeholder={props.placeholder}
        aria-invalid={error() !== undefined}
        onInput={(event) => input(event.currentTarget.value)}
      />
    </Field>
  )
}
