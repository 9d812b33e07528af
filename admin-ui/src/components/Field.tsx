import { Show, createUniqueId, onMount, type JSX, type ParentProps } from 'solid-js'

/**
 * A labelled form control with its hint and its error under it. The label
 * names the control through `for` (its accessible name is the label alone,
 * not the options of a select), and the hint or error describes it
 * (`aria-describedby`); an error is also announced when it appears.
 */
export function Field(props: ParentProps<{
  label: string
  error?: string | undefined
  hint?: JSX.Element
  class?: string
}>) {
  const id = createUniqueId()
  const noteId = `${id}-note`
  let box: HTMLDivElement | undefined
  let label: HTMLLabelElement | undefined
  onMount(() => {
    const control = box?.querySelector<HTMLElement>('input, select, textarea')
    if (control === null || control === undefined || label === undefined) return
    if (control.id === '') control.id = id
    label.htmlFor = control.id
    control.setAttribute('aria-describedby', noteId)
  })
  return (
    <div ref={box} class={`field ${props.class ?? ''}`} classList={{ invalid: props.error !== undefined }}>
      <label ref={label} class="field-label">{props.label}</label>
      {props.children}
      <Show when={props.error}>
        {(error) => <span id={noteId} class="field-error" role="alert">{error()}</span>}
      </Show>
      <Show when={props.error === undefined && props.hint !== undefined}>
        <span id={noteId} class="field-hint">{props.hint}</span>
      </Show>
    </div>
  )
}
