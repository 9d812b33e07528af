import { Badge, type Tone } from './Badge.tsx'

const tones: Record<string, Tone> = {
  active: 'good',
  suspended: 'warn',
  closed: 'neutral',
  blocked: 'bad',
  lost: 'bad',
  replaced: 'neutral',
  released: 'neutral',
  scheduled: 'info',
  ended: 'neutral',
  disabled: 'bad',
  enabled: 'good',
}

/** A member's, card's, rule's or terminal's status, coloured by what it means. */
export function StatusBadge(props: { status: string }) {
  return <Badge tone={tones[props.status] ?? 'neutral'}>{props.status}</Badge>
}
