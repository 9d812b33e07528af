import { createAsync, revalidate } from '@solidjs/router'
import { For, Show, createSignal } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { Badge } from '../components/Badge.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { Field } from '../components/Field.tsx'
import { FormError } from '../components/FormError.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { client, getUsers } from '../lib/api.ts'
import { formatDate } from '../lib/format.ts'
import { roleLabels } from '../lib/roles.ts'
import type { Role } from '../lib/types.ts'
import { identifier, required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'

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

/** Console users and their roles; administrators add new ones. */
export function Users() {
  return (
    <Allowed capability="users.manage">
      <UsersView />
    </Allowed>
  )
}

function UsersView() {
  const [notice, setNotice] = createSignal<string>()
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
      <section class="panel">
        <h2>Users</h2>
        <Async keys={getUsers.key} label="Loading users">
          <UserList />
        </Async>
      </section>
    </>
  )
}

function UserList() {
  const list = createAsync(() => getUsers())
  const users = () => [...(list()?.users ?? [])].sort((a, b) => a.username.localeCompare(b.username))
  return (
    <Show when={users().length > 0} fallback={<EmptyState title="No users">Add the first one above.</EmptyState>}>
      <table class="table" aria-label="Users">
        <thead>
          <tr><th>User name</th><th>Role</th><th>Added</th><th>Access</th></tr>
        </thead>
        <tbody>
          <For each={users()}>
            {(user) => (
              <tr>
                <td><strong>{user.username}</strong></td>
                <td>{roleLabels[user.role]}</td>
                <td>{formatDate(user.createdAt)}</td>
                <td>{user.disabled ? <Badge tone="bad">disabled</Badge> : <Badge tone="good">enabled</Badge>}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </Show>
  )
}
