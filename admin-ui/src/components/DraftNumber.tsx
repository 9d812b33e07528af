import type { JSX } from 'solid-js'
import type { PathPart } from '../lib/ruleset.ts'
import { parseWhole } from '../lib/validate.ts'
import { DraftParsed, type Parser } from './DraftParsed.tsx'

const whole = (min: number | undefined): Parser<number> => ({
  show: (value) => String(value),
  read: (text) => {
    const value = parseWhole(text)
    if (value === undefined) return { error: 'Enter a whole number' }
    if (min !== undefined && value < min) return { error: `At least ${min}` }
    return { value }
  },
})

/** A whole-number field of the ruleset draft. */
export function DraftNumber(props: {
  label: string
  at: readonly PathPart[]
  optional?: boolean
  min?: number
  hint?: JSX.Element
  placeholder?: string
  class?: string
}) {
  return (
    <DraftParsed
      label={props.label}
      at={props.at}
      parser={whole(props.min)}
      optional={props.optional}
      hint={props.hint}
      placeholder={props.placeholder}
      class={props.class}
    />
  )
}
