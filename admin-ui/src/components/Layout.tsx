import { A, useNavigate } from '@solidjs/router'
import { For, Show, type ParentProps } from 'solid-js'
import { roleLabels, type Capability } from '../lib/roles.ts'
import { useConsole } from '../stores/console-context.tsx'
import { LiveVersion } from './LiveVersion.tsx'

const sections: { href: string; label: string; capability: Capability; end?: boolean }[] = [
  { href: '/', label: 'Dashboard', capability: 'stats.read', end: true },
  { href: '/members', label: 'Members', capability: 'members.read' },
  { href: '/programs', label: 'Programs & tiers', capability: 'rulesets.read' },
  { href: '/rules', label: 'Rules & campaigns', capability: 'rulesets.read' },
  { href: '/versions', label: 'Versions', capability: 'rulesets.read' },
  { href: '/terminals', label: 'Terminals', capability: 'terminals.manage' },
  { href: '/tokens', label: 'API tokens', capability: 'tokens.manage' },
  { href: '/audit', label: 'Audit log', capability: 'audit.read' },
  { href: '/users', label: 'Users', capability: 'users.manage' },
]

/** The console's frame: navigation for what the role may use, the live version, the user. */
export function Layout(props: ParentProps) {
  const store = useConsole()
  const [session, actions] = store.session
  const [draft] = store.draft
  const navigate = useNavigate()
  const logout = async () => {
    await actions.logout().catch(() => undefined)
    navigate('/login', { replace: true })
  }
  return (
    <div class="shell">
      <aside class="sidebar">
        <A href="/" class="brand">
          <span class="brand-mark">L</span>
          <span>
            Loyalty Engine
            <small>Console</small>
          </span>
        </A>
        <nav aria-label="Main">
          <For each={sections.filter((section) => store.can(section.capability))}>
            {(section) => (
              <A href={section.href} end={section.end === true} activeClass="active">
                {section.label}
              </A>
            )}
          </For>
        </nav>
      </aside>
      <div class="main">
        <header class="topbar">
          <Show when={store.can('rulesets.read')}>
            <LiveVersion />
          </Show>
          <Show when={draft.dirty()}>
            <A href="/rules" class="draft-pill">Unpublished draft</A>
          </Show>
          <span class="spacer" />
          <Show when={session.user}>
            {(user) => (
              <span class="user" data-testid="user">
                <strong>{user().username}</strong>
                <span class="muted">{roleLabels[user().role]}</span>
              </span>
            )}
          </Show>
          <button type="button" class="button ghost" onClick={() => void logout()}>
            Log out
          </button>
        </header>
        <main class="content">{props.children}</main>
      </div>
    </div>
  )
}
