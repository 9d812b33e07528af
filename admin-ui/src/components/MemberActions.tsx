import { revalidate, useNavigate } from '@solidjs/router'
import { Match, Show, Switch, createSignal } from 'solid-js'
import { client, memberKeys } from '../lib/api.ts'
import type { Member } from '../lib/types.ts'
import { identifier, maxLength, required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'

type Action = 'suspend' | 'reactivate' | 'merge' | 'erase'
const titles: Record<Action, string> = {
  suspend: 'Suspend member',
  reactivate: 'Reactivate member',
  merge: 'Merge into another member',
  erase: 'Erase personal data',
}

function StatusForm(props: { member: Member; to: 'active' | 'suspended'; onDone: (text: string) => void }) {
  const form = createForm({
    initial: { reason: '' },
    checks: { reason: props.to === 'suspended' ? [required('A reason'), maxLength(500)] : [maxLength(500)] },
    async submit(values) {
      const reason = values.reason.trim() === '' ? undefined : values.reason.trim()
      await client.members.setStatus(props.member.id, props.to, reason)
      await revalidate(memberKeys(props.member.id, props.member.account))
      props.onDone(props.to === 'suspended' ? 'Member suspended: earning and redeeming are refused.' : 'Member reactivated.')
    },
  })
  return (
    <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
      <p class="muted">
        {props.to === 'suspended'
          ? 'A suspended member can be looked up, but every earn and burn is refused (member_suspended).'
          : 'The member can earn and redeem again.'}
      </p>
      <Field label="Reason" error={form.error('reason')}>
        <input name="reason" value={form.values.reason} onInput={(event) => form.set('reason', event.currentTarget.value)} />
      </Field>
      <FormError message={form.formError()} />
      <div class="form-actions">
        <button type="submit" class="button primary" classList={{ danger: props.to === 'suspended' }} disabled={form.pending()}>
          {props.to === 'suspended' ? 'Suspend' : 'Reactivate'}
        </button>
      </div>
    </form>
  )
}

function MergeForm(props: { member: Member; onDone: (text: string) => void }) {
  const form = createForm({
    initial: { into: '' },
    checks: { into: [required('The member to keep'), identifier] },
    async submit(values) {
      const into = values.into.trim()
      if (into === props.member.id) throw new Error('A member cannot be merged into itself.')
      const { merge } = await client.members.merge(props.member.id, into)
      await revalidate([...memberKeys(props.member.id, props.member.account), ...memberKeys(into, into)])
      props.onDone(`Merge ${merge.id} into ${merge.into}: ${merge.state}.`)
    },
  })
  return (
    <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
      <p class="muted">
        Moves every card, phone and email and the spendable points of <strong>{props.member.id}</strong> to
        the member you name, and closes {props.member.id}. Its journal stays on its account. This cannot be undone.
      </p>
      <Field label="Member to keep (id)" error={form.error('into')}>
        <input name="into" value={form.values.into} onInput={(event) => form.set('into', event.currentTarget.value)} />
      </Field>
      <FormError message={form.formError()} />
      <div class="form-actions">
        <button type="submit" class="button primary danger" disabled={form.pending()}>Merge</button>
      </div>
    </form>
  )
}

function EraseForm(props: { member: Member; onDone: (text: string) => void }) {
  const form = createForm({
    initial: { confirm: '' },
    checks: {
      confirm: [(text) => (text.trim() === props.member.id ? undefined : `Type ${props.member.id} to confirm`)],
    },
    async submit() {
      await client.members.erase(props.member.id)
      await revalidate(memberKeys(props.member.id, props.member.account))
      props.onDone('Personal data erased; the member is closed and its identifiers released.')
    },
  })
  return (
    <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
      <p class="muted">
        Anonymises the profile, releases every identifier and closes the member, as a data-protection
        request requires. The account's journal is kept for accounting. This cannot be undone.
      </p>
      <Field label={`Type ${props.member.id} to confirm`} error={form.error('confirm')}>
        <input name="confirm" value={form.values.confirm} onInput={(event) => form.set('confirm', event.currentTarget.value)} />
      </Field>
      <FormError message={form.formError()} />
      <div class="form-actions">
        <button type="submit" class="button primary danger" disabled={form.pending()}>Erase</button>
      </div>
    </form>
  )
}

/** Suspend or reactivate, merge and erase: each behind a dialog that says what it does. */
export function MemberActions(props: { member: Member; onDone: (text: string) => void }) {
  const [open, setOpen] = createSignal<Action>()
  const navigate = useNavigate()
  const done = (text: string) => {
    setOpen(undefined)
    props.onDone(text)
  }
  const closed = () => props.member.status === 'closed'
  const [busy, setBusy] = createSignal(false)
  /** Earning goes on either way; only burns are refused (redemption_not_allowed). */
  const toggleRedemption = async () => {
    const allowed = !props.member.redemptionAllowed
    setBusy(true)
    try {
      await client.members.setRedemption(props.member.id, allowed)
      await revalidate(memberKeys(props.member.id, props.member.account))
      props.onDone(allowed ? 'Redemption allowed again.' : 'Redemption blocked: the member still earns, but cannot burn points.')
    } catch (error) {
      props.onDone(`Not changed: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <Show when={!closed()}>
        <Show
          when={props.member.status === 'suspended'}
          fallback={<button type="button" class="button" onClick={() => setOpen('suspend')}>Suspend</button>}
        >
          <button type="button" class="button" onClick={() => setOpen('reactivate')}>Reactivate</button>
        </Show>
        <button type="button" class="button" disabled={busy()} onClick={() => void toggleRedemption()}>
          {props.member.redemptionAllowed ? 'Block redemption' : 'Allow redemption'}
        </button>
        <button type="button" class="button" onClick={() => setOpen('merge')}>Merge…</button>
        <button type="button" class="button danger-outline" onClick={() => setOpen('erase')}>Erase…</button>
      </Show>
      <Dialog open={open() !== undefined} title={titles[open() ?? 'suspend']} onClose={() => setOpen(undefined)}>
        <Switch>
          <Match when={open() === 'suspend'}><StatusForm member={props.member} to="suspended" onDone={done} /></Match>
          <Match when={open() === 'reactivate'}><StatusForm member={props.member} to="active" onDone={done} /></Match>
          <Match when={open() === 'merge'}>
            <MergeForm
              member={props.member}
              onDone={(text) => {
                done(text)
                navigate(`/members/${encodeURIComponent(props.member.id)}`)
              }}
            />
          </Match>
          <Match when={open() === 'erase'}><EraseForm member={props.member} onDone={done} /></Match>
        </Switch>
      </Dialog>
    </>
  )
}
