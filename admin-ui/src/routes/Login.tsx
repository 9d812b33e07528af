import { useNavigate, useSearchParams } from '@solidjs/router'
import { Show, createEffect } from 'solid-js'
import { Field } from '../components/Field.tsx'
import { FormError } from '../components/FormError.tsx'
import { ApiError } from '../lib/client.ts'
import { required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { useConsole } from '../stores/console-context.tsx'

/** Only same-console paths are followed after login (no open redirect). */
function safeNext(next: string | string[] | undefined): string {
  const path = Array.isArray(next) ? next[0] : next
  return path !== undefined && path.startsWith('/') && !path.startsWith('//') ? path : '/'
}

export function Login() {
  const [session, actions] = useConsole().session
  const [params] = useSearchParams()
  const navigate = useNavigate()
  createEffect(() => {
    if (session.user !== undefined) navigate(safeNext(params['next']), { replace: true })
  })
  const form = createForm({
    initial: { username: '', password: '' },
    checks: { username: [required('User name')], password: [required('Password')] },
    async submit(values) {
      try {
        await actions.login(values.username.trim(), values.password)
      } catch (error) {
        // Wrong credentials are not a field's fault: say so above the button.
        if (error instanceof ApiError && error.unauthenticated) throw new Error('Wrong user name or password.')
        throw error
      }
    },
  })
  return (
    <div class="login">
      <form class="login-card" onSubmit={(event) => void form.submit(event)} novalidate>
        <div class="brand login-brand">
          <span class="brand-mark">L</span>
          <span>
            Loyalty Engine
            <small>Console</small>
          </span>
        </div>
        <h1>Log in</h1>
        <Show when={session.ended}>
          {(why) => <p class="notice" role="status">{why()}</p>}
        </Show>
        <Field label="User name" error={form.error('username')}>
          <input
            name="username"
            autocomplete="username"
            value={form.values.username}
            onInput={(event) => form.set('username', event.currentTarget.value)}
            autofocus
          />
        </Field>
        <Field label="Password" error={form.error('password')}>
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={form.values.password}
            onInput={(event) => form.set('password', event.currentTarget.value)}
          />
        </Field>
        <FormError message={form.formError()} />
        <button type="submit" class="button primary wide" disabled={form.pending()}>
          {form.pending() ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  )
}
