import { Show, type JSX } from 'solid-js'

/** One headline figure with its label and a line of context. */
export function StatCard(props: { label: string; value: JSX.Element; detail?: JSX.Element; tone?: string }) {
  return (
    <div class={`stat ${props.tone ?? ''}`}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      <Show when={props.detail !== undefined}>
        <div class="stat-detail">{props.detail}</div>
      </Show>
    </div>
  )
}
