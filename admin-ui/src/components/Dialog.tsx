import { createEffect, onCleanup, type ParentProps } from 'solid-js'

/**
 * A modal dialog on the native `<dialog>`: focus moves in and is trapped by
 * the browser, Escape closes it, and the page behind is inert.
 */
export function Dialog(props: ParentProps<{ open: boolean; title: string; onClose: () => void }>) {
  let dialog: HTMLDialogElement | undefined
  createEffect(() => {
    if (dialog === undefined) return
    if (props.open && !dialog.open) dialog.showModal()
    if (!props.open && dialog.open) dialog.close()
  })
  onCleanup(() => dialog?.close())
  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-label={props.title}
      onClose={() => props.onClose()}
      onCancel={() => props.onClose()}
    >
      <header class="dialog-header">
        <h2>{props.title}</h2>
        <button type="button" class="icon-button" aria-label="Close" onClick={() => props.onClose()}>
          ×
        </button>
      </header>
      <div class="dialog-body">{props.open ? props.children : null}</div>
    </dialog>
  )
}
