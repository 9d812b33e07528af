/**
 * Terminal charts from Unicode block characters, with no dependency: a
 * vertical bar chart (throughput per second) and horizontal bars (latency
 * percentiles). Pure functions returning lines, so they are easy to test.
 *
 * @module
 */

const eighths = ' ▁▂▃▄▅▆▇█'

export interface BarChartOptions {
  /** Rows of bars; each row holds eight levels. */
  height?: number
  /** Columns available for bars; longer series are averaged down to fit. */
  width?: number
  /** Label of the x axis's right end for one value, e.g. 's' for seconds. */
  unit?: string
}

/** Compact numbers for axis labels: 950, 12.5k, 1.2M. */
export function compact(value: number): string {
  const abs = Math.abs(value)
  if (abs >= 1e6) return `${trim(value / 1e6)}M`
  if (abs >= 1e3) return `${trim(value / 1e3)}k`
  return trim(value)
}

function trim(value: number): string {
  const digits = Math.abs(value) >= 100 ? 0 : 1
  return Number(value.toFixed(digits)).toString()
}

/** Averages consecutive values so at most `width` remain. */
export function fit(values: readonly number[], width: number): { values: number[]; per: number } {
  const per = Math.max(1, Math.ceil(values.length / Math.max(1, width)))
  const out: number[] = []
  for (let i = 0; i < values.length; i += per) {
    const group = values.slice(i, i + per)
    out.push(group.reduce((a, b) => a + b, 0) / group.length)
  }
  return { values: out, per }
}

function cell(level: number): string {
  const clamped = Math.min(1, Math.max(0, level))
  return eighths[Math.round(clamped * 8)]!
}

/** One-line sparkline of a series; zero is blank, any positive value shows. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values)
  const level = (v: number) => (max === 0 || v <= 0 ? 0 : Math.max(1, Math.round((v / max) * 8)))
  return values.map((v) => eighths[level(v)]!).join('')
}

/**
 * A vertical bar chart of a series, one column group per value, y axis from 0.
 *
 * @example
 *   barChart([90_000, 120_000, 118_000], { height: 6, unit: 's' }).join('\n')
 */
export function barChart(series: readonly number[], options: BarChartOptions = {}): string[] {
  const height = options.height ?? 8
  const { values, per } = fit(series, options.width ?? 60)
  if (values.length === 0) return ['(no data)']
  const max = Math.max(...values)
  const columnWidth = Math.max(1, Math.min(3, Math.floor((options.width ?? 60) / values.length)))
  const labels = [compact(max), compact(max / 2), '0']
  const labelWidth = Math.max(...labels.map((l) => l.length))
  const lines: string[] = []
  for (let row = height - 1; row >= 0; row--) {
    const bars = values.map((v) => cell(max === 0 ? 0 : (v / max) * height - row))
    const label = row === height - 1 ? labels[0]! : row === Math.floor(height / 2) ? labels[1]! : ''
    const columns = bars.map((b) => b.repeat(columnWidth)).join('')
    lines.push(`${label.padStart(labelWidth)} ┤${columns}`.trimEnd())
  }
  const axisWidth = values.length * columnWidth
  lines.push(`${'0'.padStart(labelWidth)} └${'─'.repeat(axisWidth)}`)
  const end = `${series.length}${options.unit ?? ''}`
  const start = `0${options.unit ?? ''}`
  const gap = Math.max(1, axisWidth - start.length - end.length)
  const note = per > 1 ? `  (each column: ${per} values averaged)` : ''
  lines.push(`${' '.repeat(labelWidth + 2)}${start}${' '.repeat(gap)}${end}${note}`)
  return lines
}

/** Horizontal bars, one per labelled value, scaled to the largest. */
export function horizontalBars(
  rows: readonly { label: string; value: number; text: string }[],
  width = 40,
): string[] {
  const max = Math.max(0, ...rows.map((r) => r.value))
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length))
  const textWidth = Math.max(0, ...rows.map((r) => r.text.length))
  return rows.map((r) => {
    const exact = max === 0 ? 0 : (r.value / max) * width
    const whole = Math.floor(exact)
    const part = eighths[Math.round((exact - whole) * 8)]!.replace(' ', '')
    const bar = '█'.repeat(whole) + part
    return `  ${r.label.padEnd(labelWidth)}  ${r.text.padStart(textWidth)}  ${bar || '▏'}`
  })
}
