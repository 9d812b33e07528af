import type { JSX } from 'solid-js'
import { parsePerMille, perMilleText } from '../lib/format.ts'
import type { PathPart } from '../lib/ruleset.ts'
import { DraftParsed, type Parser } from './DraftParsed.tsx'

const factor: Parser<number> = { show: perMilleText, read: parsePerMille }

/** A multiplier typed as a factor (`1.5`) and stored in per-mille (1500). */
export function DraftFactor(props: {
  label: string
  at: readonly PathPart[]
  optional?: boolean
  hint?: JSX.Element
  class?: string
}) {
  return (
    <DraftParsed
      label={props.label}
      at={props.at}
      parser={factor}
      optional={props.optional}
      hint={props.hint}
      placeholder="1.0"
      inputMode="decimal"
      class={props.class}
    />
  )
}
