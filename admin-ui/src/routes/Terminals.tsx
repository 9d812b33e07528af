import { For, Match, Show, Switch, createSignal } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Badge } from '../components/Badge.tsx'
import { Dialog } from '../components/Dialog.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { ErrorState } from '../components/ErrorState.tsx'
import { Field } from '../components/Field.tsx'
import { FormError } from '../components/FormError.tsx'
import { Loading } from '../components/Loading.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { client } from '../lib/api.ts'
import { ApiError } from '../lib/client.ts'
import { formatDate } from '../lib/format.ts'
import type { IssuedTerminal, Terminal } from '../lib/types.ts'
import { identifier, maxLength, required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { createPoll } from '../stores/createPoll.ts'
import { createRowActions } from '../stores/createRowActions.ts'

const refreshMs = 5_000

/** A secret shown once: copy it now, it is not stored anywhere readable. */
function SecretOnce(props: { issued: IssuedTerminal; onDismiss: () => void }) {
  const [copied, setCopied] = createSignal(false)
  const copy = async () => {
    await navigator.clipboard?.writeText(props.issued.secret)
    setCopied(true)
  }
  return (
    <section class="panel secret" role="alert" aria-label="Terminal secret">
      <h2>Secret for {props.issued.terminal.id}</h2>
      <p>Enter it in the terminal now. It is shown only this once: the gateway keeps only a hash.</p>
      <div class="secret-row">
        <code data-testid="terminal-secret">{props.issued.secret}</code>
        <button type="button" class="button" onClick={() => void copy()}>{copied() ? 'Copied' : 'Copy'}</button>
      </div>
      <button type="button" class="button ghost" onClick={() => props.onDismiss()}>I have stored it</button>
    </section>
  )
}

function RegisterForm(props: { onIssued: (issued: IssuedTerminal) => void }) {
  const form = createForm({
    initial: { id: '', name: '', store: '' },
    checks: { id: [required('An id'), identifier], name: [required('A name'), maxLength(200)], store: [identifier] },
    async submit(values) {
      const store = values.store.trim()
      const issued = await client.terminals.issue({ id: values.id.trim(), name: values.name.trim(), ...(store === '' ? {} : { store }) })
      form.reset()
      props.onIssued(issued)
    },
  })
  return (
    <form class="inline-form" onSubmit={(event) => void form.submit(event)} novalidate aria-label="Register a terminal">
      <Field label="Terminal id" error={form.error('id')}>
        <input name="id" value={form.values.id} placeholder="till-7" onInput={(event) => form.set('id', event.currentTarget.value)} />
      </Field>
      <Field label="Name" error={form.error('name')}>
        <input name="name" value={form.values.name} placeholder="Front till, Main St." onInput={(event) => form.set('name', event.currentTarget.value)} />
      </Field>
      <Field label="Store" error={form.error('store')} hint="Optional; stamped on its transactions">
        <input name="store" value={form.values.store} placeholder="store-001" onInput={(event) => form.set('store', event.currentTarget.value)} />
      </Field>
      <button type="submit" class="button primary" disabled={form.pending()}>Register terminal</button>
      <FormError message={form.formError()} />
    </form>
  )
}

function Connection(props: { terminal: Terminal }) {
  return (
    <Switch fallback={<span class="muted" title="This gateway does not report connections">unknown</span>}>
      <Match when={props.terminal.connected === true}><span class="dot online" /> connected</Match>
      <Match when={props.terminal.connected === false}><span class="dot" /> offline</Match>
    </Switch>
  )
}

/** Register, rotate, revoke and re-enable POS terminals; see which are connected. */
export function Terminals() {
  return (
    <Allowed capability="terminals.manage">
      <TerminalsView />
    </Allowed>
  )
}

function TerminalsView() {
  const list = createPoll(() => client.terminals.list(), refreshMs)
  const [issued, setIssued] = createSignal<IssuedTerminal>()
  const { confirming, confirm, failure, busy, act, close } = createRowActions<
    { terminal: Terminal; action: 'disable' | 'rotate' },
    Terminal,
    'disable' | 'enable' | 'rotate'
  >(async (terminal, action) => {
    if (action === 'rotate') setIssued(await client.terminals.rotate(terminal.id))
    else await client.terminals[action](terminal.id)
    list.refresh()
  })
  return (
    <>
      <PageHeader title="Terminals" subtitle="POS terminals connect over WebSocket with their id and secret." />
      <Show when={issued()}>{(current) => <SecretOnce issued={current()} onDismiss={() => setIssued(undefined)} />}</Show>
      <section class="panel">
        <h2>Register a terminal</h2>
        <RegisterForm onIssued={(next) => { setIssued(next); list.refresh() }} />
      </section>
      <Show when={failure() !== undefined && confirming() === undefined}>
        <ErrorState error={failure()} compact />
      </Show>
      <section class="panel">
        <h2>Terminals</h2>
        <Switch fallback={<Loading label="Loading terminals" />}>
          <Match when={list.value()}>
            {(value) => (
              <Show when={value().terminals.length > 0} fallback={<EmptyState title="No terminals">Register the first till above.</EmptyState>}>
                <table class="table" aria-label="Terminals">
                  <thead>
                    <tr><th>Terminal</th><th>Store</th><th>Registered</th><th>Access</th><th>Connection</th><th class="actions-cell"><span class="sr-only">Actions</span></th></tr>
                  </thead>
                  <tbody>
                    <For each={value().terminals}>
                      {(terminal) => (
                        <tr>
                          <td><strong>{terminal.name}</strong><div class="muted mono">{terminal.id}</div></td>
                          <td>{terminal.store ?? <span class="muted">—</span>}</td>
                          <td>{formatDate(terminal.createdAt)}</td>
                          <td>{terminal.disabled ? <Badge tone="bad">revoked</Badge> : <Badge tone="good">enabled</Badge>}</td>
                          <td><Connection terminal={terminal} /></td>
                          <td class="actions-cell">
                            <button type="button" class="link-button" onClick={() => confirm({ terminal, action: 'rotate' })}>Rotate secret</button>
                            <Show
                              when={terminal.disabled}
                              fallback={<button type="button" class="link-button danger" onClick={() => confirm({ terminal, action: 'disable' })}>Revoke</button>}
                            >
                              <button type="button" class="link-button" disabled={busy()} onClick={() => void act(terminal, 'enable')}>Enable</button>
                            </Show>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </Show>
            )}
          </Match>
          <Match when={list.error()}>{(error) => <ErrorState error={error()} retry={list.refresh} />}</Match>
        </Switch>
        <Show when={list.error() !== undefined && list.value() !== undefined}>
          <p class="muted small">The last refresh failed; the list may be out of date.</p>
        </Show>
      </section>
      <Dialog
        open={confirming() !== undefined}
        title={confirming()?.action === 'rotate' ? 'Rotate the secret' : 'Revoke the terminal'}
        onClose={close}
      >
        <Show when={confirming()} keyed>
          {(target) => (
            <div class="form">
              <p>
                {target.action === 'rotate'
                  ? `A new secret is issued for ${target.terminal.id} and shown once; the old one stops working, so the terminal must be given the new one.`
                  : `${target.terminal.id} can no longer log in with its secret. You can enable it again later.`}
              </p>
              <Show when={failure()}>
                {(error) => (
                  <Show when={error() instanceof ApiError && (error() as ApiError).missingRoute} fallback={<ErrorState error={error()} compact />}>
                    <p class="form-error" role="alert">This gateway cannot rotate secrets yet (no POST /v1/terminals/:id/rotate). Revoke the terminal and register a new one instead.</p>
                  </Show>
                )}
              </Show>
              <div class="form-actions">
                <button type="button" class="button ghost" onClick={close}>Cancel</button>
                <button type="button" class="button primary danger" disabled={busy()} onClick={() => void act(target.terminal, target.action)}>
                  {target.action === 'rotate' ? 'Rotate secret' : 'Revoke'}
                </button>
              </div>
            </div>
          )}
        </Show>
      </Dialog>
    </>
  )
}
