import { revalidate } from '@solidjs/router'
import { For, Show, createSignal } from 'solid-js'
import { client, memberKeys } from '../lib/api.ts'
import { formatDate } from '../lib/format.ts'
import type { Member, MemberChanges } from '../lib/types.ts'
import { countryCode, emailAddress, isoDate, phoneNumber } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { ConsentChoices, type ConsentField } from './ConsentChoices.tsx'
import { FormError } from './FormError.tsx'

type ProfileField = 'firstName' | 'lastName' | 'email' | 'phone' | 'birthDate' | 'gender' | 'country' | 'segments'
const consentChannels = { consentEmail: 'email', consentSms: 'sms', consentPush: 'push' } as const

const labels: Record<ProfileField, string> = {
  firstName: 'First name',
  lastName: 'Last name',
  email: 'Email',
  phone: 'Phone',
  birthDate: 'Birth date',
  gender: 'Gender',
  country: 'Country',
  segments: 'Segments',
}

const yes = (on: boolean) => (on ? 'yes' : '')

const textOf = (member: Member): Record<ProfileField | ConsentField, string> => ({
  consentEmail: yes(member.consents.email),
  consentSms: yes(member.consents.sms),
  consentPush: yes(member.consents.push),
  firstName: member.firstName ?? '',
  lastName: member.lastName ?? '',
  email: member.email ?? '',
  phone: member.phone ?? '',
  birthDate: member.birthDate ?? '',
  gender: member.gender ?? '',
  country: member.country ?? '',
  segments: member.segments.join(', '),
})

const segmentsOf = (text: string) => text.split(',').map((s) => s.trim()).filter((s) => s !== '')

/**
 * Only what changed: PATCH names the fields to change. A field cleared is
 * sent as `null`, which removes it (the server refuses an empty text);
 * segments cleared are `[]`, none.
 */
function changesOf(
  before: Record<ProfileField | ConsentField, string>,
  after: Record<ProfileField | ConsentField, string>,
): MemberChanges {
  const changes: MemberChanges = {}
  for (const field of Object.keys(labels) as ProfileField[]) {
    if (after[field].trim() === before[field]) continue
    if (field === 'segments') changes.segments = segmentsOf(after.segments)
    else changes[field] = after[field].trim() === '' ? null : after[field].trim()
  }
  for (const field of Object.keys(consentChannels) as ConsentField[]) {
    if (after[field] !== before[field]) {
      changes.consents = { ...changes.consents, [consentChannels[field]]: after[field] === 'yes' }
    }
  }
  return changes
}

function ProfileForm(props: { member: Member; onDone: (text: string) => void }) {
  const before = textOf(props.member)
  const form = createForm({
    initial: before,
    checks: {
      email: [emailAddress],
      phone: [phoneNumber],
      birthDate: [isoDate],
      country: [countryCode],
    },
    async submit(values) {
      const changes = changesOf(before, values)
      if (Object.keys(changes).length === 0) throw new Error('Nothing has changed.')
      await client.members.update(props.member.id, changes)
      await revalidate(memberKeys(props.member.id, props.member.account))
      props.onDone('Profile saved.')
    },
  })
  const fields = Object.keys(labels) as ProfileField[]
  return (
    <form class="form grid-2" onSubmit={(event) => void form.submit(event)} novalidate>
      <For each={fields}>
        {(field) => (
          <Field label={labels[field]} error={form.error(field)} hint={field === 'segments' ? 'Comma-separated tags rules can target' : undefined}>
            <input
              name={field}
              type={field === 'birthDate' ? 'date' : field === 'email' ? 'email' : 'text'}
              value={form.values[field]}
              onInput={(event) => form.set(field, event.currentTarget.value)}
              aria-invalid={form.error(field) !== undefined}
            />
          </Field>
        )}
      </For>
      <ConsentChoices value={(field) => form.values[field]} onChange={(field, value) => form.set(field, value)} />
      <div class="span-2">
        <FormError message={form.formError()} />
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={form.pending()}>
            {form.pending() ? 'Saving…' : 'Save profile'}
          </button>
        </div>
      </div>
    </form>
  )
}

/** The member's profile, and (for roles that may) a dialog to change it. */
export function ProfilePanel(props: { member: Member; canChange: boolean; onDone: (text: string) => void }) {
  const [editing, setEditing] = createSignal(false)
  const m = () => props.member
  const address = () => {
    const a = m().address
    return a === undefined ? '' : [a.line1, a.line2, [a.postalCode, a.city].filter(Boolean).join(' '), a.region, a.country].filter(Boolean).join(', ')
  }
  const consents = () => (['email', 'sms', 'push'] as const).filter((channel) => m().consents[channel]).join(', ') || 'none'
  return (
    <>
      <dl class="facts">
        <dt>Email</dt><dd>{m().email ?? '—'}</dd>
        <dt>Phone</dt><dd>{m().phone ?? '—'}</dd>
        <dt>Birth date</dt><dd>{m().birthDate ?? '—'}</dd>
        <dt>Gender</dt><dd>{m().gender ?? '—'}</dd>
        <dt>Country</dt><dd>{m().country ?? '—'}</dd>
        <Show when={address() !== ''}><dt>Address</dt><dd>{address()}</dd></Show>
        <dt>Segments</dt><dd>{m().segments.length === 0 ? '—' : m().segments.join(', ')}</dd>
        <dt>Consents</dt><dd>{consents()}</dd>
        <dt>Joined</dt><dd>{formatDate(m().joinedAt)}</dd>
        <Show when={m().referrer}><dt>Referred by</dt><dd>{m().referrer}</dd></Show>
        <dt>Redemption</dt><dd>{m().redemptionAllowed ? 'allowed' : 'not allowed'}</dd>
        <Show when={m().erasedAt}>{(at) => <><dt>Erased</dt><dd>{formatDate(at())}</dd></>}</Show>
        <Show when={m().mergedInto}>{(into) => <><dt>Merged into</dt><dd>{into()}</dd></>}</Show>
        <Show when={m().formerHouseholds}>{(pools) => <><dt>Left households</dt><dd>{pools().join(', ')}</dd></>}</Show>
      </dl>
      <Show when={props.canChange && m().erasedAt === undefined}>
        <button type="button" class="button" onClick={() => setEditing(true)}>Edit profile</button>
      </Show>
      <Dialog open={editing()} title="Edit profile" onClose={() => setEditing(false)}>
        <ProfileForm
          member={m()}
          onDone={(text) => {
            setEditing(false)
            props.onDone(text)
          }}
        />
      </Dialog>
    </>
  )
}
