import { createAsync, revalidate, useNavigate } from '@solidjs/router'
import { For, Show, createSignal } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { Badge } from '../components/Badge.tsx'
import { Dialog } from '../components/Dialog.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { ErrorState } from '../components/ErrorState.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { client, getActiveRuleset, getRuleset, getRulesets } from '../lib/api.ts'
import { strandingRefusal } from '../lib/client.ts'
import { formatDateTime } from '../lib/format.ts'
import { rulesetChanges } from '../lib/ruleset.ts'
import type { RulesetInfo } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'

/** A refusal because accounts are in a program or tier the version lacks (409), which `force` overrides. */
const stranding = strandingRefusal

/** Every published ruleset version: which is live, what each changed, roll forward or back. */
export function Versions() {
  return (
    <Allowed capability="rulesets.read">
      <PageHeader title="Ruleset versions" subtitle="Every published version is kept unchanged; exactly one is live." />
      <Async keys={getRulesets.key} label="Loading versions">
        <VersionList />
      </Async>
    </Allowed>
  )
}

function VersionChanges(props: { version: number }) {
  const current = createAsync(() => getRuleset(props.version))
  const previous = createAsync(async () => (props.version > 1 ? getRuleset(props.version - 1) : undefined))
  const changes = () => {
    const doc = current()?.ruleset.doc
    return doc === undefined ? [] : rulesetChanges(previous()?.ruleset.doc, doc)
  }
  return (
    <Show when={changes().length > 0} fallback={<p class="muted">No changes from v{props.version - 1}.</p>}>
      <ul class="change-list">
        <For each={changes()}>{(change) => <li>{change}</li>}</For>
      </ul>
    </Show>
  )
}

function VersionList() {
  const store = useConsole()
  const [draft, draftActions] = store.draft
  const navigate = useNavigate()
  const rulesets = createAsync(() => getRulesets())
  const [viewing, setViewing] = createSignal<RulesetInfo>()
  const [activating, setActivating] = createSignal<RulesetInfo>()
  const [failure, setFailure] = createSignal<unknown>()
  const [notice, setNotice] = createSignal<string>()
  const [busy, setBusy] = createSignal(false)
  const newestFirst = () => [...(rulesets()?.rulesets ?? [])].reverse()
  const activate = async (version: number, force = false) => {
    setBusy(true)
    setFailure(undefined)
    try {
      await client.rulesets.activate(version, { force })
      await revalidate([getRulesets.key, getActiveRuleset.key])
      setNotice(`v${version} is live: every shard switched at its next batch.`)
      setActivating(undefined)
    } catch (error) {
      setFailure(() => error)
    } finally {
      setBusy(false)
    }
  }
  const editFrom = async (version: number) => {
    if (draft.dirty() && !confirm('Replace the unpublished draft with this version?')) return
    const { ruleset } = await client.rulesets.get(version)
    draftActions.discard(ruleset)
    navigate('/rules')
  }
  return (
    <>
      <Show when={notice()}>{(text) => <p class="notice good" role="status">{text()}</p>}</Show>
      <section class="panel">
        <Show when={newestFirst().length > 0} fallback={<EmptyState title="No versions yet">Publish a ruleset to create version 1.</EmptyState>}>
          <table class="table" aria-label="Versions">
            <thead>
              <tr><th>Version</th><th>Published</th><th>Note</th><th>State</th><th class="actions-cell"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              <For each={newestFirst()}>
                {(info) => (
                  <tr classList={{ highlight: info.active }}>
                    <td class="strong">v{info.version}</td>
                    <td>{formatDateTime(info.publishedAt)}</td>
                    <td>{info.note ?? <span class="muted">—</span>}</td>
                    <td>{info.active ? <Badge tone="good">live</Badge> : <span class="muted">stored</span>}</td>
                    <td class="actions-cell">
                      <button type="button" class="link-button" onClick={() => setViewing(info)}>Changes</button>
                      <button type="button" class="link-button" onClick={() => void editFrom(info.version)}>Edit from here</button>
                      <Show when={!info.active && store.can('rulesets.activate')}>
                        <button type="button" class="link-button" onClick={() => setActivating(info)}>Make live</button>
                      </Show>
                    </td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </Show>
      </section>
      <Dialog open={viewing() !== undefined} title={`What v${viewing()?.version ?? ''} changed`} onClose={() => setViewing(undefined)}>
        <Show when={viewing()} keyed>
          {(info) => (
            <Async keys={getRuleset.key} label="Loading changes">
              <VersionChanges version={info.version} />
            </Async>
          )}
        </Show>
      </Dialog>
      <Dialog open={activating() !== undefined} title={`Make v${activating()?.version ?? ''} live`} onClose={() => setActivating(undefined)}>
        <Show when={activating()} keyed>
          {(info) => (
            <div class="form">
              <p>
                From the next batch on, every purchase earns under v{info.version}
                {info.note === undefined ? '' : ` (“${info.note}”)`}. Entries record the version that produced them,
                and you can switch back at any time.
              </p>
              <Show when={failure()}>{(error) => <ErrorState error={error()} compact />}</Show>
              <Show when={stranding(failure())}>
                <p class="notice warn" role="alert">
                  Accounts are in a program or tier v{info.version} does not have. Made live anyway, they keep it
                  with nothing to earn or review under; move them first if you can.
                </p>
              </Show>
              <div class="form-actions">
                <button type="button" class="button ghost" onClick={() => setActivating(undefined)}>Cancel</button>
                <Show
                  when={stranding(failure())}
                  fallback={
                    <button type="button" class="button primary" disabled={busy()} onClick={() => void activate(info.version)}>
                      Make v{info.version} live
                    </button>
                  }
                >
                  <button type="button" class="button danger-outline" disabled={busy()} onClick={() => void activate(info.version, true)}>
                    Make v{info.version} live anyway
                  </button>
                </Show>
              </div>
            </div>
          )}
        </Show>
      </Dialog>
    </>
  )
}
