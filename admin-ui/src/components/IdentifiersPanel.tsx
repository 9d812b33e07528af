import { revalidate } from '@solidjs/router'
import { For, Match, Show, Switch, createSignal } from 'solid-js'
import { client, memberKeys } from '../lib/api.ts'
import { formatDate } from '../lib/format.ts'
import type { CardType, Identifier } from '../lib/types.ts'
import { identifier as identifierCheck, maxLength, required } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'
import { StatusBadge } from './StatusBadge.tsx'

const cardTypes: CardType[] = ['card', 'virtual_card', 'nfc', 'fob']
const typeLabels: Record<string, string> = {
  card: 'Card',
  virtual_card: 'Virtual card',
  nfc: 'NFC tag',
  fob: 'Key fob',
  phone: 'Phone',
  email: 'Email',
}

type CardAction = 'block' | 'unblock' | 'lost' | 'replace'
const actionTitles: Record<CardAction, string> = {
  block: 'Block card',
  unblock: 'Unblock card',
  lost: 'Report card lost',
  replace: 'Replace card',
}

const isCard = (id: Identifier): id is Identifier & { type: CardType } =>
  (cardTypes as string[]).includes(id.type)

interface Target {
  action: CardAction
  card: Identifier & { type: CardType }
}

function CardActionForm(props: { target: Target; member: string; account: string; onDone: (text: string) => void }) {
  const replacing = () => props.target.action === 'replace'
  const form = createForm({
    initial: { replacement: '', reason: '' },
    checks: {
      replacement: replacing() ? [required('The new card number')] : [],
      reason: [maxLength(500)],
    },
    async submit(values) {
      const { card, action } = props.target
      const reason = values.reason.trim() === '' ? undefined : values.reason.trim()
      if (action === 'replace') await client.cards.replace(card.type, card.value, values.replacement.trim(), reason)
      else await client.cards.setStatus(action, card.type, card.value, reason)
      await revalidate(memberKeys(props.member, props.account))
      props.onDone(`${actionTitles[action]}: ${card.value} done.`)
    },
  })
  return (
    <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
      <p class="muted">
        {typeLabels[props.target.card.type]} <span class="mono">{props.target.card.value}</span>
        {replacing() ? ': the new card keeps the balance and history; the old one is refused from now on.' : ''}
      </p>
      <Show when={replacing()}>
        <Field label="New card number" error={form.error('replacement')}>
          <input
            name="replacement"
            value={form.values.replacement}
            onInput={(event) => form.set('replacement', event.currentTarget.value)}
          />
        </Field>
      </Show>
      <Field label="Reason" error={form.error('reason')} hint="Optional; kept on the card and in the audit log">
        <input name="reason" value={form.values.reason} onInput={(event) => form.set('reason', event.currentTarget.value)} />
      </Field>
      <FormError message={form.formError()} />
      <div class="form-actions">
        <button type="submit" class="button primary" classList={{ danger: props.target.action !== 'unblock' && !replacing() }} disabled={form.pending()}>
          {actionTitles[props.target.action]}
        </button>
      </div>
    </form>
  )
}

function IssueCardForm(props: { member: string; account: string; onDone: (text: string) => void }) {
  const form = createForm({
    initial: { type: 'card', value: '' },
    checks: { value: [required('The card number'), identifierCheck] },
    async submit(values) {
      await client.members.issueCard(props.member, { type: values.type as CardType, value: values.value.trim() })
      await revalidate(memberKeys(props.member, props.account))
      form.reset()
      props.onDone(`${typeLabels[values.type]} ${values.value.trim()} issued.`)
    },
  })
  return (
    <form class="inline-form" onSubmit={(event) => void form.submit(event)} novalidate>
      <Field label="Type" error={form.error('type')}>
        <select name="type" value={form.values.type} onChange={(event) => form.set('type', event.currentTarget.value)}>
          <For each={cardTypes}>{(type) => <option value={type}>{typeLabels[type]}</option>}</For>
        </select>
      </Field>
      <Field label="Number" error={form.error('value')}>
        <input name="value" value={form.values.value} onInput={(event) => form.set('value', event.currentTarget.value)} />
      </Field>
      <button type="submit" class="button" disabled={form.pending()}>Issue card</button>
      <FormError message={form.formError()} />
    </form>
  )
}

/** Cards, phone and email of a member, with the card lifecycle for roles that may change it. */
export function IdentifiersPanel(props: {
  identifiers: Identifier[]
  member: string
  account: string
  canChange: boolean
  onDone: (text: string) => void
}) {
  const [target, setTarget] = createSignal<Target>()
  const done = (text: string) => {
    setTarget(undefined)
    props.onDone(text)
  }
  return (
    <>
      <Show when={props.identifiers.length > 0} fallback={<p class="muted">No cards, phone or email.</p>}>
        <table class="table compact" aria-label="Identifiers">
          <thead>
            <tr>
              <th>Type</th>
              <th>Value</th>
              <th>Status</th>
              <th>Since</th>
              <Show when={props.canChange}>
                <th class="actions-cell"><span class="sr-only">Actions</span></th>
              </Show>
            </tr>
          </thead>
          <tbody>
            <For each={props.identifiers}>
              {(id) => (
                <tr>
                  <td>{typeLabels[id.type] ?? id.type}</td>
                  <td class="mono">{id.value}</td>
                  <td>
                    <StatusBadge status={id.status} />
                    <Show when={id.replacedBy}>{(by) => <span class="muted"> by {by()}</span>}</Show>
                    <Show when={id.reason}>{(why) => <div class="muted small">{why()}</div>}</Show>
                  </td>
                  <td class="nowrap">{formatDate(id.changedAt)}</td>
                  <Show when={props.canChange}>
                    <td class="actions-cell">
                      <Show when={isCard(id) ? id : undefined}>
                        {(card) => (
                          <Switch>
                            <Match when={card().status === 'active'}>
                              <button type="button" class="link-button" onClick={() => setTarget({ action: 'block', card: card() })}>Block</button>
                              <button type="button" class="link-button" onClick={() => setTarget({ action: 'lost', card: card() })}>Lost</button>
                              <button type="button" class="link-button" onClick={() => setTarget({ action: 'replace', card: card() })}>Replace</button>
                            </Match>
                            <Match when={card().status === 'blocked' || card().status === 'lost'}>
                              <button type="button" class="link-button" onClick={() => setTarget({ action: 'unblock', card: card() })}>Unblock</button>
                              <button type="button" class="link-button" onClick={() => setTarget({ action: 'replace', card: card() })}>Replace</button>
                            </Match>
                          </Switch>
                        )}
                      </Show>
                    </td>
                  </Show>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
      <Show when={props.canChange}>
        <IssueCardForm member={props.member} account={props.account} onDone={props.onDone} />
      </Show>
      <Dialog open={target() !== undefined} title={actionTitles[target()?.action ?? 'block']} onClose={() => setTarget(undefined)}>
        <Show when={target()} keyed>
          {(current) => <CardActionForm target={current} member={props.member} account={props.account} onDone={done} />}
        </Show>
      </Dialog>
    </>
  )
}
