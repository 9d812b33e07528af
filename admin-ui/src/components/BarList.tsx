import { For } from 'solid-js'

/** Horizontal bars with labels and values: a distribution at a glance (tiers). */
export function BarList(props: {
  items: { label: string; value: number; detail?: string }[]
  format: (value: number) => string
}) {
  const max = () => Math.max(1, ...props.items.map((item) => item.value))
  const total = () => props.items.reduce((sum, item) => sum + item.value, 0)
  return (
    <ul class="bars">
      <For each={props.items}>
        {(item) => (
          <li>
            <span class="bar-label">{item.label}</span>
            <span class="bar-track">
              <span class="bar-fill" style={{ width: `${(item.value / max()) * 100}%` }} />
            </span>
            <span class="bar-value">
              {props.format(item.value)}
              <small>
                {total() === 0 ? '' : ` · ${Math.round((item.value / total()) * 100)}%`}
              </small>
            </span>
          </li>
        )}
      </For>
    </ul>
  )
}
