import { For, Show, createMemo } from 'solid-js'
import { isolatedPoints, linePath, niceRange, scale, type Scale } from '../lib/chart.ts'

export interface ChartSeries {
  name: string
  /** A CSS class that colours the line (`series-1`, `series-2`, ...). */
  tone: string
  points: { x: number; y: number | null }[]
}

const width = 600
const height = 180
const pad = { left: 52, right: 12, top: 12, bottom: 24 }

/**
 * A small time-series line chart: a few lines over a shared x domain, four
 * gridlines on round values, and a legend with each series' latest value.
 */
export function LineChart(props: {
  title: string
  series: ChartSeries[]
  xDomain: [number, number]
  xLabels: { x: number; text: string }[]
  formatY: (value: number) => string
}) {
  const yAxis = createMemo(() => niceRange(props.series.flatMap((s) => s.points.map((p) => p.y ?? 0))))
  const x = (): Scale => ({ domain: props.xDomain, range: [pad.left, width - pad.right] })
  const y = (): Scale => ({ domain: yAxis().domain, range: [height - pad.bottom, pad.top] })
  const grid = () => yAxis().ticks
  const latest = (s: ChartSeries) => {
    const last = [...s.points].reverse().find((p) => p.y !== null)
    return last?.y === undefined || last.y === null ? '—' : props.formatY(last.y)
  }
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{props.title}</span>
        <span class="chart-legend">
          <For each={props.series}>
            {(s) => (
              <span class={`legend ${s.tone}`}>
                <i /> {s.name} <strong>{latest(s)}</strong>
              </span>
            )}
          </For>
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={props.title}>
        <For each={grid()}>
          {(value) => (
            <g class="grid">
              <line x1={pad.left} x2={width - pad.right} y1={scale(y(), value)} y2={scale(y(), value)} />
              <text x={pad.left - 6} y={scale(y(), value) + 4} text-anchor="end">
                {props.formatY(value)}
              </text>
            </g>
          )}
        </For>
        <For each={props.xLabels}>
          {(label) => (
            <text class="axis" x={scale(x(), label.x)} y={height - 6} text-anchor="middle">
              {label.text}
            </text>
          )}
        </For>
        <For each={props.series}>
          {(s) => (
            <Show when={s.points.length > 0}>
              <path class={`line ${s.tone}`} d={linePath(s.points, x(), y())} />
              <For each={isolatedPoints(s.points)}>
                {(i) => <circle class={`dot-point ${s.tone}`} r="2.5" cx={scale(x(), s.points[i]!.x)} cy={scale(y(), s.points[i]!.y ?? 0)} />}
              </For>
            </Show>
          )}
        </For>
      </svg>
    </figure>
  )
}
