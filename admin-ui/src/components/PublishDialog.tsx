import { For, Show, createSignal } from 'solid-js'
import { ApiError, strandingRefusal } from '../lib/client.ts'
import type { RulesetError } from '../lib/types.ts'
import { maxLength, sentence } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { useConsole } from '../stores/console-context.tsx'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'

/**
 * Publishing the draft as a new ruleset version: what changes, a note, and
 * (admins only) whether members earn on it from the next batch on. A
 * document the validator refuses stays a draft, with its errors on the page.
 * A version the server will not make live because accounts are in a program
 * or tier it lacks is not the document's fault: the dialog shows the
 * server's reasons, and publishes it live anyway (`force`) only once the
 * admin ticks that they mean it.
 */
export function PublishDialog(props: {
  open: boolean
  changes: string[]
  onClose: () => void
  onPublished: (text: string) => void
}) {
  const store = useConsole()
  const [, actions] = store.draft
  const mayActivate = () => store.can('rulesets.activate')
  /** The server's reasons for not making the draft live (stranded accounts); nothing was stored. */
  const [stranding, setStranding] = createSignal<readonly RulesetError[]>()
  /** The admin ticked "make it live anyway" after reading them. */
  const [forcing, setForcing] = createSignal(false)
  const forgetStranding = () => {
    setStranding(undefined)
    setForcing(false)
  }
  const strandingShown = () => (form.values.activate === 'yes' ? stranding() : undefined)
  const form = createForm({
    initial: { note: '', activate: mayActivate() ? 'yes' : '' },
    checks: { note: [maxLength(500)] },
    async submit(values) {
      const note = values.note.trim() === '' ? undefined : values.note.trim()
      const activate = values.activate === 'yes' && mayActivate()
      const force = activate && stranding() !== undefined && forcing()
      if (activate && stranding() !== undefined && !force) {
        throw new Error('Tick "Make it live anyway" to go ahead, or untick "Make it live now" to publish it for later.')
      }
      try {
        const published = await actions.publish({ activate, note, force })
        forgetStranding()
        form.reset({ activate: mayActivate() ? 'yes' : '' })
        props.onPublished(
          published.active
            ? `Published v${published.version}; it is live now.`
            : `Published v${published.version}. An administrator makes it live on the Versions page.`,
        )
      } catch (error) {
        if (strandingRefusal(error)) {
          setForcing(false)
          setStranding(error.errors)
          return
        }
        if (error instanceof ApiError && error.errors.length > 0) {
          throw new Error(`The validator found ${error.errors.length} error${error.errors.length === 1 ? '' : 's'}; they are listed on the page, next to their fields. Nothing was published.`)
        }
        throw error
      }
    },
  })
  const close = () => {
    forgetStranding()
    props.onClose()
  }
  return (
    <Dialog open={props.open} title="Publish a new ruleset version" onClose={close}>
      <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
        <p>This stores the draft as a new, numbered version. Versions are never changed afterwards.</p>
        <ul class="change-list">
          <For each={props.changes}>{(change) => <li>{change}</li>}</For>
        </ul>
        <Field label="Note" error={form.error('note')} hint="Why: shown in the version list and the audit log">
          <input name="note" value={form.values.note} onInput={(event) => form.set('note', event.currentTarget.value)} />
        </Field>
        <Show
          when={mayActivate()}
          fallback={<p class="muted">As a marketer you publish for review: an administrator makes the version live.</p>}
        >
          <label class="check">
            <input
              type="checkbox"
              name="activate"
              checked={form.values.activate === 'yes'}
              onChange={(event) => form.set('activate', event.currentTarget.checked ? 'yes' : '')}
            />
            <span>
              Make it live now
              <small class="field-hint">Every shard switches at its next batch; no request is dropped.</small>
            </span>
          </label>
        </Show>
        <Show when={strandingShown()}>
          {(reasons) => (
            <div class="notice warn" role="alert" aria-label="Not made live">
              <p>
                <strong>The server did not publish it:</strong> making it live would strand accounts in a
                program or tier this version does not have. Nothing was stored.
              </p>
              <ul>
                <For each={reasons()}>{(reason) => <li>{sentence(reason.message)}</li>}</For>
              </ul>
              <label class="check">
                <input
                  type="checkbox"
                  name="force"
                  checked={forcing()}
                  onChange={(event) => setForcing(event.currentTarget.checked)}
                />
                <span>
                  Make it live anyway
                  <small class="field-hint">
                    Those accounts keep their program or tier with nothing to earn or review under until they
                    are moved; the audit log records that it was forced. Or untick "Make it live now" to
                    publish it for later.
                  </small>
                </span>
              </label>
            </div>
          )}
        </Show>
        <FormError message={form.formError()} />
        <div class="form-actions">
          <button type="button" class="button ghost" onClick={close}>Cancel</button>
          <button
            type="submit"
            class="button primary"
            classList={{ danger: strandingShown() !== undefined }}
            disabled={form.pending() || (strandingShown() !== undefined && !forcing())}
          >
            {form.pending()
              ? 'Publishing…'
              : form.values.activate !== 'yes'
                ? 'Publish'
                : strandingShown() !== undefined
                  ? 'Publish and make live anyway'
                  : 'Publish and make live'}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
