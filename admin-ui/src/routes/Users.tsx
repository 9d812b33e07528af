import { createAsync, revalidate } from '@solidjs/router'
import { For, Show, createSignal } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { Badge } from '../components/Badge.tsx'
import { Dialog } from '../components/Dialog.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { ErrorState } from '../components/ErrorState.tsx'
import { Field } from '../components/Field.tsx'
import { FormError } from '../components/FormError.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { client, getUsers } from '../lib/api.ts'
import { formatDate } from '../lib/format.ts'
import { roleLabels } from '../lib/roles.ts'
import type { ConsoleUser, Role } from '../lib/types.ts'
import { identifier, required } from '../lib/validate.ts'
import { useConsole } from '../stores/console-context.tsx'
import { createForm } from '../stores/createForm.ts'
import { createRowActions } from '../stores/createRowActions.ts'

const roles: Role[] = ['admin', 'marketer', 'support']

/**
 * A new console user. The password rules are the server's: the form only asks
 * for one and shows the server's refusal (too short, ...) under it.
 */
function AddUserForm(props: { onAdded: (username: string) => void }) {
  const form = createForm({
    initial: { username: '', role: 'support', password: '' },
    checks: { username: [required('A user name'), identifier], role: [required('A role')], password: [required('A password')] },
    async submit(values) {
      const username = values.username.trim()
      await client.users.add({ username, role: values.role as Role, password: values.password })
      await revalidate(getUsers.key)
      form.reset()
      props.onAdded(username)
    },
  })
  return (
    <form class="inline-form" onSubmit={(event) => void form.submit(event)} novalidate aria-label="Add a user">
      <Field label="User name" error={form.error('username')}>
        <input name="username" value={form.values.username} placeholder="j.doe" autocomplete="off" onInput={(event) => form.set('username', event.currentTarget.value)} aria-invalid={form.error('username') !== undefined} />
      </Field>
      <Field label="Role" error={form.error('role')}>
        <select name="role" value={form.values.role} onChange={(event) => form.set('role', event.currentTarget.value)}>
          <For each={roles}>{(role) => <option value={role}>{roleLabels[role]}</option>}</For>
        </select>
      </Field>
      <Field label="Password" error={form.error('password')} hint="Stored only as a hash: hand it over in person">
        <input name="password" type="password" value={form.values.password} autocomplete="new-password" onInput={(event) => form.set('password', event.currentTarget.value)} aria-invalid={form.error('password') !== undefined} />
      </Field>
      <button type="submit" class="button primary" disabled={form.pending()}>{form.pending() ? 'Adding…' : 'Add user'}</button>
      <FormError message={form.formError()} />
    </form>
  )
}

/** Console users and their roles; administrators add, disable and enable them. */
export function Users() {
  return (
    <Allowed capability="users.manage">
      <UsersView />
    </Allowed>
  )
}

function UsersView() {
  const [notice, setNotice] = createSignal<string>()
  const { confirming, confirm, failure, busy, act, close } = createRowActions<ConsoleUser, ConsoleUser, 'disable' | 'enable'>(
    async (user, action) => {
      await client.users[action](user.username)
      await revalidate(getUsers.key)
      setNotice(action === 'disable'
        ? `Disabled ${user.username}; their sessions have ended.`
        : `Enabled ${user.username}; they can log in again.`)
    },
  )
  return (
    <>
      <PageHeader title="Users" subtitle="Who may log in to the console, and with which role." />
      <Show when={notice()}>
        {(text) => (
          <p class="notice good" role="status">
            {text()} <button type="button" class="link-button" onClick={() => setNotice(undefined)}>Dismiss</button>
          </p>
        )}
      </Show>
      <section class="panel">
        <h2>Add a user</h2>
        <AddUserForm onAdded={(username) => setNotice(`Added ${username}; they can log in now.`)} />
      </section>
      <Show when={failure() !== undefined && confirming() === undefined}>
        <ErrorState error={failure()} compact />
      </Show>
      <section class="panel">
        <h2>Users</h2>
        <Async keys={getUsers.key} label="Loading users">
          <UserList busy={busy()} onDisable={(user) => { close(); confirm(user) }} onEnable={(user) => void act(user, 'enable')} />
        </Async>
      </section>
      <Dialog open={confirming() !== undefined} title="Disable the user" onClose={close}>
        <Show when={confirming()} keyed>
          {(target) => (
            <div class="form">
              <p>
                {target.username} can no longer log in, and their open sessions end now. You can enable them again
                later.
              </p>
              <Show when={failure()}>{(error) => <ErrorState error={error()} compact />}</Show>
              <div class="form-actions">
                <button type="button" class="button ghost" onClick={close}>Cancel</button>
                <button type="button" class="button primary danger" disabled={busy()} onClick={() => void act(target, 'disable')}>Disable</button>
              </div>
            </div>
          )}
        </Show>
      </Dialog>
    </>
  )
}

function UserList(props: { busy: boolean; onDisable: (user: ConsoleUser) => void; onEnable: (user: ConsoleUser) => void }) {
  const [session] = useConsole().session
  const list = createAsync(() => getUsers())
  const users = () => [...(list()?.users ?? [])].sort((a, b) => a.username.localeCompare(b.username))
  const isSelf = (user: ConsoleUser) => user.username === session.user?.username
  return (
    <Show when={users().length > 0} fallback={<EmptyState title="No users">Add the first one above.</EmptyState>}>
      <table class="table" aria-label="Users">
        <thead>
          <tr><th>User name</th><th>Role</th><th>Added</th><th>Access</th><th class="actions-cell"><span class="sr-only">Actions</span></th></tr>
        </thead>
        <tbody>
          <For each={users()}>
            {(user) => (
              <tr>
                <td><strong>{user.username}</strong><Show when={isSelf(user)}> <span class="muted">(you)</span></Show></td>
                <td>{roleLabels[user.role]}</td>
                <td>{formatDate(user.createdAt)}</td>
                <td>{user.disabled ? <Badge tone="bad">disabled</Badge> : <Badge tone="good">enabled</Badge>}</td>
                <td class="actions-cell">
                  <Show
                    when={user.disabled}
                    fallback={
                      <Show
                        when={!isSelf(user)}
                        fallback={
                          <span title="You cannot disable yourself">
                            <button type="button" class="link-button" disabled aria-description="You cannot disable yourself">Disable</button>
                          </span>
                        }
                      >
                        <button type="button" class="link-button danger" onClick={() => props.onDisable(user)}>Disable</button>
                      </Show>
                    }
                  >
                    <button type="button" class="link-button" disabled={props.busy} onClick={() => props.onEnable(user)}>Enable</button>
                  </Show>
                </td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </Show>
  )
}
