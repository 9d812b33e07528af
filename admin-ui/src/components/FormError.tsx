import { Show } from 'solid-js'

/** A form's error that belongs to no one field, above its buttons. */
export function FormError(props: { message: string | undefined }) {
  return (
    <Show when={props.message}>
      {(message) => <p class="form-error" role="alert">{message()}</p>}
    </Show>
  )
}
