/** A placeholder while data loads: a few shimmering lines, announced as busy. */
export function Loading(props: { label?: string; lines?: number }) {
  return (
    <div class="loading" role="status" aria-busy="true" aria-label={props.label ?? 'Loading'}>
      {Array.from({ length: props.lines ?? 3 }, () => <div class="loading-line" />)}
    </div>
  )
}
