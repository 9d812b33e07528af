import { A } from '@solidjs/router'
import { EmptyState } from '../components/EmptyState.tsx'

export function NotFound() {
  return (
    <EmptyState title="No such page" action={<A href="/" class="button">Go to the dashboard</A>}>
      The address does not match any page of the console.
    </EmptyState>
  )
}
