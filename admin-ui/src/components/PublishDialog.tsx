import { For, Show } from 'solid-js'
import { ApiError } from '../lib/client.ts'
import { maxLength } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'
import { useConsole } from '../stores/console-context.tsx'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'

/**
 * Publishing the draft as a new ruleset version: what changes, a note, and
 * (admins only) whether members earn on it from the next batch on. A
 * document the validator refuses stays a draft, with its errors on the page.
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
  const form = createForm({
    initial: { note: '', activate: mayActivate() ? 'yes' : '' },
    checks: { note: [maxLength(500)] },
    async submit(values) {
      const note = values.note.trim() === '' ? undefined : values.note.trim()
      try {
        const published = await actions.publish({ activate: values.activate === 'yes' && mayActivate(), note })
        form.reset({ activate: mayActivate() ? 'yes' : '' })
        props.onPublished(
          published.active
            ? `Published v${published.version}; it is live now.`
            : `Published v${published.version}. An administrator makes it live on the Versions page.`,
        )
      } catch (error) {
        if (error instanceof ApiError && error.errors.length > 0) {
          throw new Error(`The validator found ${error.errors.length} error${error.errors.length === 1 ? '' : 's'}; they are listed on the page, next to their fields. Nothing was published.`)
        }
        throw error
      }
    },
  })
  return (
    <Dialog open={props.open} title="Publish a new ruleset version" onClose={props.onClose}>
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
        <FormError message={form.formError()} />
        <div class="form-actions">
          <button type="button" class="button ghost" onClick={() => props.onClose()}>Cancel</button>
          <button type="submit" class="button primary" disabled={form.pending()}>
            {form.pending() ? 'Publishing…' : form.values.activate === 'yes' ? 'Publish and make live' : 'Publish'}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
