import type { JSX, ParentProps } from 'solid-js'

/** What a list says when it has nothing to show, and what to do about it. */
export function EmptyState(props: ParentProps<{ title: string; action?: JSX.Element }>) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      <div class="empty-text">{props.children}</div>
      {props.action}
    </div>
  )
}
