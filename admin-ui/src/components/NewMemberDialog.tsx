import { createAsync, revalidate, useNavigate } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { client, findMembers, getActiveRuleset, searchMembers } from '../lib/api.ts'
import {
  emptyNewMember,
  newMemberBody,
  newMemberChecks,
  type NewMemberField,
} from '../lib/new-member.ts'
import type { ProgramDoc } from '../lib/types.ts'
import { createForm } from '../stores/createForm.ts'
import { Async } from './Async.tsx'
import { Dialog } from './Dialog.tsx'
import { EmptyState } from './EmptyState.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'
import { ConsentChoices } from './ConsentChoices.tsx'

/** What the member page is told through the navigation's state after a create. */
export interface CreatedState {
  created: true
  /** Set when the member was created but joining its program failed. */
  enrolmentFailed?: string
}

type TextField = Exclude<NewMemberField, 'program' | 'consentEmail' | 'consentSms' | 'consentPush'>

const textFields: { field: TextField; label: string; type?: string; placeholder?: string; hint?: string }[] = [
  { field: 'firstName', label: 'First name' },
  { field: 'lastName', label: 'Last name' },
  { field: 'email', label: 'Email', type: 'email', placeholder: 'name@example.com' },
  { field: 'phone', label: 'Phone', type: 'tel', placeholder: '+4930123456', hint: 'International form, + and digits' },
  { field: 'birthDate', label: 'Birth date', type: 'date' },
  { field: 'country', label: 'Country', placeholder: 'DE', hint: 'Two letters (ISO 3166)' },
  { field: 'cards', label: 'Card number', placeholder: '4000 1234 1234 1234', hint: 'Optional; a plastic card to issue now' },
]

/** A dialog to register a member in one of the live ruleset's programs, then open its page. */
export function NewMemberDialog(props: { open: boolean; onClose: () => void }) {
  return (
    <Dialog open={props.open} title="New member" onClose={() => props.onClose()}>
      <Async keys={getActiveRuleset.key} label="Loading programs">
        <ProgramsLoader onClose={props.onClose} />
      </Async>
    </Dialog>
  )
}

function ProgramsLoader(props: { onClose: () => void }) {
  const active = createAsync(() => getActiveRuleset())
  const programs = () => active()?.ruleset.doc.programs ?? []
  return (
    <Show
      when={programs().length > 0}
      fallback={<EmptyState title="No live program">A member joins a program of the live ruleset: publish and activate one first.</EmptyState>}
    >
      <NewMemberForm programs={programs()} onClose={props.onClose} />
    </Show>
  )
}

function NewMemberForm(props: { programs: readonly ProgramDoc[]; onClose: () => void }) {
  const navigate = useNavigate()
  const form = createForm({
    initial: emptyNewMember(props.programs[0]?.id ?? ''),
    checks: newMemberChecks,
    async submit(values) {
      const created = await client.members.create(newMemberBody(values))
      await revalidate([findMembers.key, searchMembers.key])
      const state: CreatedState = { created: true }
      if (created.enrolment !== undefined) {
        state.enrolmentFailed = created.enrolment.message ?? created.enrolment.status
      }
      props.onClose()
      navigate(`/members/${encodeURIComponent(created.member.id)}`, { state })
    },
  })
  return (
    <form class="form grid-2" onSubmit={(event) => void form.submit(event)} novalidate aria-label="New member">
      <Field label="Member id" error={form.error('id')} hint="Letters, digits and . _ : @ -; it is also the account id">
        <input
          name="id"
          value={form.values.id}
          placeholder="m-10042"
          autocomplete="off"
          onInput={(event) => form.set('id', event.currentTarget.value)}
          aria-invalid={form.error('id') !== undefined}
        />
      </Field>
      <Field label="Program" error={form.error('program')}>
        <select
          name="program"
          value={form.values.program}
          onChange={(event) => form.set('program', event.currentTarget.value)}
          aria-invalid={form.error('program') !== undefined}
        >
          <For each={props.programs}>
            {(program) => <option value={program.id}>{program.name === program.id ? program.id : `${program.name} (${program.id})`}</option>}
          </For>
        </select>
      </Field>
      <For each={textFields}>
        {(item) => (
          <Field label={item.label} error={form.error(item.field)} hint={item.hint}>
            <input
              name={item.field}
              type={item.type ?? 'text'}
              value={form.values[item.field]}
              placeholder={item.placeholder}
              autocomplete="off"
              onInput={(event) => form.set(item.field, event.currentTarget.value)}
              aria-invalid={form.error(item.field) !== undefined}
            />
          </Field>
        )}
      </For>
      <ConsentChoices value={(field) => form.values[field]} onChange={(field, value) => form.set(field, value)} />
      <div class="span-2">
        <FormError message={form.formError()} />
        <div class="form-actions">
          <button type="button" class="button ghost" onClick={() => props.onClose()}>Cancel</button>
          <button type="submit" class="button primary" disabled={form.pending()}>
            {form.pending() ? 'Creating…' : 'Create member'}
          </button>
        </div>
      </div>
    </form>
  )
}
