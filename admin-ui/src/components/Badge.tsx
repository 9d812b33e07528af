import type { ParentProps } from 'solid-js'

export type Tone = 'neutral' | 'good' | 'warn' | 'bad' | 'info'

/** A short status word in a coloured pill. */
export function Badge(props: ParentProps<{ tone?: Tone; title?: string }>) {
  return (
    <span class={`badge badge-${props.tone ?? 'neutral'}`} title={props.title}>
      {props.children}
    </span>
  )
}
