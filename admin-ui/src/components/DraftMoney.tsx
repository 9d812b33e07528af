import type { JSX } from 'solid-js'
import { currencyDigits, moneyText, parseMoney } from '../lib/format.ts'
import type { PathPart } from '../lib/ruleset.ts'
import { DraftParsed, type Parser } from './DraftParsed.tsx'

const money = (digits: number): Parser<number> => ({
  show: (minor) => moneyText(minor, digits),
  read: (text) => parseMoney(text, digits),
})

/** An amount typed in the program's currency (`2.50`) and stored in minor units (250). */
export function DraftMoney(props: {
  label: string
  at: readonly PathPart[]
  currency: string
  optional?: boolean
  hint?: JSX.Element
  class?: string
}) {
  return (
    <DraftParsed
      label={`${props.label} (${props.currency})`}
      at={props.at}
      parser={money(currencyDigits(props.currency))}
      optional={props.optional}
      hint={props.hint}
      inputMode="decimal"
      class={props.class}
    />
  )
}
