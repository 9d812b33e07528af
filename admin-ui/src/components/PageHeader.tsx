import { Show, type JSX, type ParentProps } from 'solid-js'

/** A page's title, a line saying what it is for, and its main actions on the right. */
export function PageHeader(props: ParentProps<{ title: JSX.Element; subtitle?: JSX.Element }>) {
  return (
    <header class="page-header">
      <div>
        <h1>{props.title}</h1>
        <Show when={props.subtitle !== undefined}>
          <p class="page-subtitle">{props.subtitle}</p>
        </Show>
      </div>
      <div class="page-actions">{props.children}</div>
    </header>
  )
}
