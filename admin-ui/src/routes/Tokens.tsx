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
import { client, getTokens } from '../lib/api.ts'
import { formatDate } from '../lib/format.ts'
import type { ApiToken, IssuedToken, TokenRole } from '../lib/types.ts'
import { maxLength, required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { createRowActions } from '../stores/createRowActions.ts'

const tokenRoles: TokenRole[] = ['processor', 'partner', 'admin']

const tokenRoleLabels: Record<TokenRole, string> = {
  processor: 'Processor',
  partner: 'Partner',
  admin: 'Administrator',
}

const tokenRoleHints: Record<TokenRole, string> = {
  processor: 'Earn, authorize and capture, redeem, refund; create members',
  partner: 'Earn, redeem, refund; create and look up members (no authorizations)',
  admin: 'Everything an administrator may do: issue sparingly',
}

/** A token's secret, shown once: the gateway keeps only a hash. */
function SecretOnce(props: { issued: IssuedToken; onDismiss: () => void }) {
  const [copied, setCopied] = createSignal(false)
  const copy = async () => {
    await navigator.clipboard?.writeText(props.issued.secret)
    setCopied(true)
  }
  return (
    <section class="panel secret" role="alert" aria-label="Token secret">
      <h2>Secret for {props.issued.token.name}</h2>
      <p>
        Hand it to the client now; it sends it in an <code>Authorization: Bearer &lt;secret&gt;</code> header. It is
        shown only this once: the gateway keeps only a hash.
      </p>
      <div class="secret-row">
        <code data-testid="token-secret">{props.issued.secret}</code>
        <button type="button" class="button" onClick={() => void copy()}>{copied() ? 'Copied' : 'Copy'}</button>
      </div>
      <button type="button" class="button ghost" onClick={() => props.onDismiss()}>I have stored it</button>
    </section>
  )
}

function IssueForm(props: { onIssued: (issued: IssuedToken) => void }) {
  const form = createForm({
    initial: { name: '', role: 'processor' },
    checks: { name: [required('A name'), maxLength(200)], role: [required('A role')] },
    async submit(values) {
      const issued = await client.tokens.issue({ name: values.name.trim(), role: values.role as TokenRole })
      await revalidate(getTokens.key)
      form.reset()
      props.onIssued(issued)
    },
  })
  return (
    <form class="inline-form" onSubmit={(event) => void form.submit(event)} novalidate aria-label="Issue a token">
      <Field label="Name" error={form.error('name')} hint="Who uses it, so you know what to revoke">
        <input name="name" value={form.values.name} placeholder="Acme payments" autocomplete="off" onInput={(event) => form.set('name', event.currentTarget.value)} aria-invalid={form.error('name') !== undefined} />
      </Field>
      <Field label="Role" error={form.error('role')} hint={tokenRoleHints[form.values.role as TokenRole]}>
        <select name="role" value={form.values.role} onChange={(event) => form.set('role', event.currentTarget.value)}>
          <For each={tokenRoles}>{(role) => <option value={role}>{tokenRoleLabels[role]}</option>}</For>
        </select>
      </Field>
      <button type="submit" class="button primary" disabled={form.pending()}>{form.pending() ? 'Issuing…' : 'Issue token'}</button>
      <FormError message={form.formError()} />
    </form>
  )
}

/** API tokens for processors, partners and scripts: issue, revoke, restore. */
export function Tokens() {
  return (
    <Allowed capability="tokens.manage">
      <TokensView />
    </Allowed>
  )
}

function TokensView() {
  const [issued, setIssued] = createSignal<IssuedToken>()
  const { confirming, confirm, failure, busy, act, close } = createRowActions<ApiToken, ApiToken, 'revoke' | 'restore'>(
    async (token, action) => {
      await client.tokens[action](token.id)
      await revalidate(getTokens.key)
    },
  )
  return (
    <>
      <PageHeader title="API tokens" subtitle="Processors, partners and scripts call the REST API with a bearer token." />
      <Show when={issued()}>{(current) => <SecretOnce issued={current()} onDismiss={() => setIssued(undefined)} />}</Show>
      <section class="panel">
        <h2>Issue a token</h2>
        <IssueForm onIssued={(next) => setIssued(next)} />
      </section>
      <Show when={failure() !== undefined && confirming() === undefined}>
        <ErrorState error={failure()} compact />
      </Show>
      <section class="panel">
        <h2>Tokens</h2>
        <Async keys={getTokens.key} label="Loading tokens">
          <TokenList busy={busy()} onRevoke={(token) => confirm(token)} onRestore={(token) => void act(token, 'restore')} />
        </Async>
      </section>
      <Dialog open={confirming() !== undefined} title="Revoke the token" onClose={close}>
        <Show when={confirming()} keyed>
          {(target) => (
            <div class="form">
              <p>
                Requests with “{target.name}” ({target.id}) are refused from now on. You can restore it later; its
                secret stays the same.
              </p>
              <Show when={failure()}>{(error) => <ErrorState error={error()} compact />}</Show>
              <div class="form-actions">
                <button type="button" class="button ghost" onClick={close}>Cancel</button>
                <button type="button" class="button primary danger" disabled={busy()} onClick={() => void act(target, 'revoke')}>Revoke</button>
              </div>
            </div>
          )}
        </Show>
      </Dialog>
    </>
  )
}

function TokenList(props: { busy: boolean; onRevoke: (token: ApiToken) => void; onRestore: (token: ApiToken) => void }) {
  const list = createAsync(() => getTokens())
  // Newest first: a token just issued is at the top.
  const tokens = () => [...(list()?.tokens ?? [])].sort((a, b) => b.createdAt - a.createdAt || a.name.localeCompare(b.name))
  return (
    <Show when={tokens().length > 0} fallback={<EmptyState title="No tokens">Issue the first one above.</EmptyState>}>
      <table class="table" aria-label="Tokens">
        <thead>
          <tr><th>Token</th><th>Role</th><th>Issued</th><th>Access</th><th class="actions-cell"><span class="sr-only">Actions</span></th></tr>
        </thead>
        <tbody>
          <For each={tokens()}>
            {(token) => (
              <tr>
                <td><strong>{token.name}</strong><div class="muted mono">{token.id}</div></td>
                <td>{tokenRoleLabels[token.role]}</td>
                <td>{formatDate(token.createdAt)}</td>
                <td>{token.disabled ? <Badge tone="bad">revoked</Badge> : <Badge tone="good">active</Badge>}</td>
                <td class="actions-cell">
                  <Show
                    when={token.disabled}
                    fallback={<button type="button" class="link-button danger" onClick={() => props.onRevoke(token)}>Revoke</button>}
                  >
                    <button type="button" class="link-button" disabled={props.busy} onClick={() => props.onRestore(token)}>Restore</button>
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
