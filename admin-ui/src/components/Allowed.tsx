import { Show, type ParentProps } from 'solid-js'
import type { Capability } from '../lib/roles.ts'
import { roleLabels } from '../lib/roles.ts'
import { useConsole } from '../stores/console-context.tsx'

/**
 * Shows its children when the user's role has the capability, else says the
 * page is not for this role (the server would refuse it anyway).
 */
export function Allowed(props: ParentProps<{ capability: Capability; quiet?: boolean }>) {
  const store = useConsole()
  const [session] = store.session
  return (
    <Show
      when={store.can(props.capability)}
      fallback={
        <Show when={props.quiet !== true}>
          <div class="error-state" role="alert">
            <p class="error-title">Not available for your role</p>
            <p class="error-detail">
              {session.user === undefined ? 'Log in first.' : `${roleLabels[session.user.role]}s cannot open this page. Ask an administrator if you need it.`}
            </p>
          </div>
        </Show>
      }
    >
      {props.children}
    </Show>
  )
}
