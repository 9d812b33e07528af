import { A, createAsync, revalidate } from '@solidjs/router'
import { For, Show, createSignal } from 'solid-js'
import { client, getHousehold, memberKeys } from '../lib/api.ts'
import { formatNumber } from '../lib/format.ts'
import { identifier, required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { Async } from './Async.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'

function LinkForm(props: { member: string; account: string; onDone: (text: string) => void }) {
  const form = createForm({
    initial: { master: '' },
    checks: { master: [required('The household master'), identifier] },
    async submit(values) {
      const master = values.master.trim()
      const linked = await client.members.linkHousehold(props.member, master)
      await revalidate([...memberKeys(props.member, props.account), getHousehold.keyFor(master)])
      form.reset()
      props.onDone(`Linked to the household of ${master}; ${formatNumber(linked.moved)} points moved there.`)
    },
  })
  return (
    <form class="inline-form" onSubmit={(event) => void form.submit(event)} novalidate>
      <Field label="Household master (member id)" error={form.error('master')}>
        <input name="master" value={form.values.master} onInput={(event) => form.set('master', event.currentTarget.value)} />
      </Field>
      <button type="submit" class="button" disabled={form.pending()}>Link to household</button>
      <FormError message={form.formError()} />
    </form>
  )
}

function Household(props: { member: string; account: string; canChange: boolean; onDone: (text: string) => void }) {
  const household = createAsync(() => getHousehold(props.member))
  // Disabled while its request runs, as the page's other buttons are: a second click sends nothing.
  const [leaving, setLeaving] = createSignal(false)
  const [failure, setFailure] = createSignal<string>()
  const unlink = async () => {
    if (leaving()) return
    setLeaving(true)
    setFailure(undefined)
    try {
      await client.members.unlinkHousehold(props.member)
      await revalidate(memberKeys(props.member, props.account))
      props.onDone('Unlinked from the household; pooled points stay with the household.')
    } catch (error) {
      setFailure(`Not unlinked: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      setLeaving(false)
    }
  }
  return (
    <Show when={household()}>
      {(h) => (
        <Show
          when={h().master !== props.member || h().members.length > 0}
          fallback={
            <>
              <p class="muted">Not in a household.</p>
              <Show when={props.canChange}>
                <LinkForm member={props.member} account={props.account} onDone={props.onDone} />
              </Show>
            </>
          }
        >
          <p>
            <Show when={h().master === props.member} fallback={<>Pools its points into the household of <A href={`/members/${encodeURIComponent(h().master)}`}>{h().master}</A>.</>}>
              Heads a household: its members' points pool into this account.
            </Show>
          </p>
          <p class="muted">
            Pooling members:{' '}
            <For each={h().members}>
              {(id, i) => <>{i() > 0 ? ', ' : ''}<A href={`/members/${encodeURIComponent(id)}`}>{id}</A></>}
            </For>
          </p>
          <Show when={props.canChange && h().master !== props.member}>
            <button type="button" class="button" disabled={leaving()} onClick={() => void unlink()}>
              Leave household
            </button>
            <FormError message={failure()} />
          </Show>
        </Show>
      )}
    </Show>
  )
}

/** The member's household: its master and members, link and unlink. */
export function HouseholdPanel(props: { member: string; account: string; canChange: boolean; onDone: (text: string) => void }) {
  return (
    <Async keys={getHousehold.keyFor(props.member)} label="Loading household">
      <Household {...props} />
    </Async>
  )
}
