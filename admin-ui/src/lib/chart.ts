/**
 * Scales for the console's small SVG charts: a "nice" top for the y axis
 * (1, 2 or 5 times a power of ten, so gridlines fall on round numbers) and
 * the path of a line through samples.
 *
 * @module
 */

/** The smallest 1, 2, 2.5 or 5 × 10^n at or above `value` (1 for nothing to show). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power
  }
  return 10 * power
}

/**
 * Gridline values from 0 to a `niceCeiling` top, on round steps: five for
 * tops of 1, 2.5, 5 (0.2, 0.5, 1 apart), four for 2 (0.5 apart).
 */
export function niceTicks(top: number): number[] {
  const power = 10 ** Math.floor(Math.log10(top))
  const mantissa = Math.round((top / power) * 10) / 10
  const count = mantissa === 2 ? 4 : 5
  return Array.from({ length: count + 1 }, (_, i) => Number(((top / count) * i).toPrecision(12)))
}

/**
 * The y axis for a set of values: from 0 (or below it, for negative values
 * such as a balance in debt) to a nice top, with gridlines on round steps
 * that always include 0.
 */
export function niceRange(values: readonly number[]): { domain: [number, number]; ticks: number[] } {
  const finite = values.filter((v) => Number.isFinite(v))
  const low = Math.min(0, ...finite)
  const high = Math.max(0, ...finite)
  if (low === 0) {
    const top = niceCeiling(high)
    return { domain: [0, top], ticks: niceTicks(top) }
  }
  const step = niceTicks(niceCeiling(high - low))[1]!
  const bottom = Math.floor(low / step) * step
  const top = Math.max(step, Math.ceil(high / step) * step)
  const count = Math.round((top - bottom) / step)
  const ticks = Array.from({ length: count + 1 }, (_, i) => Number((bottom + step * i).toPrecision(12)))
  return { domain: [bottom, top], ticks }
}

/** Indexes of samples with a value but no neighbour with one: a line cannot show them, a dot can. */
export function isolatedPoints(points: readonly { y: number | null }[]): number[] {
  const has = (i: number) => points[i] !== undefined && points[i]!.y !== null
  return points.flatMap((_, i) => (has(i) && !has(i - 1) && !has(i + 1) ? [i] : []))
}

export interface Scale {
  domain: [number, number]
  range: [number, number]
}

export function scale(s: Scale, value: number): number {
  const [d0, d1] = s.domain
  const [r0, r1] = s.range
  if (d1 === d0) return r0
  return r0 + ((value - d0) / (d1 - d0)) * (r1 - r0)
}

/** An SVG path through the points, in order; a gap where a sample is missing (null). */
export function linePath(points: readonly { x: number; y: number | null }[], x: Scale, y: Scale) {
  let path = ''
  let pen = false
  for (const point of points) {
    if (point.y === null) {
      pen = false
      continue
    }
    const px = scale(x, point.x).toFixed(1)
    const py = scale(y, point.y).toFixed(1)
    path += `${pen ? 'L' : 'M'}${px},${py}`
    pen = true
  }
  return path
}
