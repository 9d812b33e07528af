import { A, createAsync, revalidate } from '@solidjs/router'
import { For, Show, createMemo, createSignal } from 'solid-js'
import { client, getRulesets } from '../lib/api.ts'
import { ApiError } from '../lib/client.ts'
import { errorLocation, rulesetChanges } from '../lib/ruleset.ts'
import { sentence } from '../lib/validate.ts'
import { useConsole } from '../stores/console-context.tsx'
import { PublishDialog } from './PublishDialog.tsx'

const errorsShownMax = 8

/**
 * The state of the ruleset draft on the pages that edit it: what it is based
 * on, what it changes, the validator's errors (each a link to its field), and
 * check, discard and publish.
 */
export function DraftBar() {
  const store = useConsole()
  const [draft, actions] = store.draft
  const [publishing, setPublishing] = createSignal(false)
  const [notice, setNotice] = createSignal<string>()
  const [checking, setChecking] = createSignal(false)
  const rulesets = createAsync(() => getRulesets().catch(() => undefined))
  /** A version that went live after this draft was started from another: publishing replaces it. */
  const overtaken = () => {
    const live = rulesets()?.rulesets.find((ruleset) => ruleset.active)?.version
    const base = draft.base()?.version
    return draft.dirty() && live !== undefined && base !== undefined && live !== base ? live : undefined
  }
  const changes = createMemo(() => {
    const doc = draft.doc()
    return doc === undefined ? [] : rulesetChanges(draft.base()?.doc, doc)
  })
  const check = async () => {
    const doc = draft.doc()
    const program = doc?.programs[0]?.id
    if (doc === undefined || program === undefined) return
    setChecking(true)
    setNotice(undefined)
    try {
      // A preview of the draft runs the full validator; the basket is only a formality.
      await client.rulesets.preview({ ruleset: doc, program, basket: { lines: [{ sku: 'check', quantity: 1, unitPrice: 0 }] } })
      actions.reportErrors([])
      setNotice('The draft is valid.')
    } catch (error) {
      if (error instanceof ApiError && error.errors.length > 0) actions.reportErrors(error.errors)
      else setNotice(error instanceof Error ? error.message : String(error))
    } finally {
      setChecking(false)
    }
  }
  return (
    <section class="draft-bar" classList={{ dirty: draft.dirty(), invalid: draft.errors().length > 0 }} aria-label="Draft">
      <div class="draft-summary">
        <Show when={draft.base()} fallback={<span>No ruleset loaded.</span>}>
          {(base) => (
            <span>
              <Show when={draft.dirty()} fallback={<>No unpublished changes to <strong>v{base().version}</strong>{base().active ? ' (live)' : ''}.</>}>
                <strong data-testid="draft-changes">{changes().length} unpublished change{changes().length === 1 ? '' : 's'}</strong>{' '}
                to v{base().version}{base().active ? ' (live)' : ''}
                <Show when={draft.checked() && draft.errors().length === 0}> · <span class="good-text">valid</span></Show>
              </Show>
            </span>
          )}
        </Show>
        <span class="spacer" />
        <Show when={draft.dirty()}>
          <button type="button" class="button ghost" onClick={() => actions.discard()}>Discard</button>
          <button type="button" class="button" disabled={checking()} onClick={() => void check()}>
            {checking() ? 'Checking…' : 'Check'}
          </button>
          <Show when={store.can('rulesets.publish')}>
            <button type="button" class="button primary" onClick={() => setPublishing(true)}>Publish…</button>
          </Show>
        </Show>
      </div>
      <Show when={overtaken()}>
        {(live) => (
          <p class="notice warn" role="status">
            v{live()} went live after this draft was started from v{draft.base()?.version}. Publishing
            replaces v{live()} with this draft: check that it keeps what v{live()} changed, or discard it.
          </p>
        )}
      </Show>
      <Show when={draft.dirty() && changes().length > 0}>
        <p class="draft-changes muted">{changes().join(' · ')}</p>
      </Show>
      <Show when={draft.errors().length > 0}>
        <div class="draft-errors" role="alert">
          <strong>{draft.errors().length} error{draft.errors().length === 1 ? '' : 's'} to fix before publishing:</strong>
          <ul>
            <For each={draft.errors().slice(0, errorsShownMax)}>
              {(error) => (
                <li>
                  <A href={errorLocation(error.path, draft.doc())} class="mono">{error.path}</A>: {sentence(error.message)}
                </li>
              )}
            </For>
          </ul>
          <Show when={draft.errors().length > errorsShownMax}>
            <p class="muted">and {draft.errors().length - errorsShownMax} more.</p>
          </Show>
        </div>
      </Show>
      <Show when={notice()}>
        {(text) => <p class="notice good" role="status">{text()}</p>}
      </Show>
      <PublishDialog
        open={publishing()}
        changes={changes()}
        onClose={() => setPublishing(false)}
        onPublished={(text) => {
          setPublishing(false)
          setNotice(text)
          void revalidate(getRulesets.key)
        }}
      />
    </section>
  )
}
