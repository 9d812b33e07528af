import { useSearchParams } from '@solidjs/router'
import { For, Match, Show, Switch, createEffect, createMemo } from 'solid-js'
import { ActivitiesEditor } from '../components/ActivitiesEditor.tsx'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { Badge } from '../components/Badge.tsx'
import { CampaignCalendar } from '../components/CampaignCalendar.tsx'
import { CampaignEditor } from '../components/CampaignEditor.tsx'
import { DraftBar } from '../components/DraftBar.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { PreviewPanel } from '../components/PreviewPanel.tsx'
import { ProgramTabs } from '../components/ProgramTabs.tsx'
import { RuleEditor } from '../components/RuleEditor.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { getActiveRuleset } from '../lib/api.ts'
import { formatDate, formatDateTime, formatMoney } from '../lib/format.ts'
import {
  activateCampaign,
  activateRule,
  campaignStatus,
  deactivateCampaign,
  deactivateRule,
  describeRule,
  errorsUnder,
  newCampaign,
  newRule,
  pathText,
  removeAt,
  ruleKindLabels,
  ruleStatus,
} from '../lib/ruleset.ts'
import type { CampaignDoc, ProgramDoc, RuleDoc } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { useDraftEditor } from '../stores/useDraftEditor.ts'

type Editing = { list: 'rules' | 'campaigns'; index: number }

function parseEdit(value: string | string[] | undefined): Editing | undefined {
  const text = Array.isArray(value) ? value[0] : value
  const match = /^(rules|campaigns):(\d+)$/.exec(text ?? '')
  return match === null ? undefined : { list: match[1] as Editing['list'], index: Number(match[2]) }
}

/** Earn rules, campaigns (with their calendar) and activity rewards, and a dry run of the draft. */
export function Rules() {
  return (
    <Allowed capability="rulesets.read">
      <Async keys={getActiveRuleset.key} label="Loading rules">
        <RulesView />
      </Async>
    </Allowed>
  )
}

function ErrorCount(props: { path: string }) {
  const [draft] = useConsole().draft
  const count = () => errorsUnder(draft.errors(), props.path).length
  return <Show when={count() > 0}><Badge tone="bad">{count()} error{count() === 1 ? '' : 's'}</Badge></Show>
}

function RulesView() {
  const editor = useDraftEditor()
  const [, actions] = useConsole().draft
  const [params, setParams] = useSearchParams()
  const editing = createMemo(() => parseEdit(params['edit']))
  const open = (list: Editing['list'], index: number) => {
    setParams({ edit: `${list}:${index}` })
    requestAnimationFrame(() => document.getElementById('item-editor')?.scrollIntoView({ block: 'start', behavior: 'smooth' }))
  }
  const close = () => setParams({ edit: undefined })
  // Activities are edited in place: a link to one (from an error) scrolls to their table.
  createEffect(() => {
    const edit = params['edit']
    if (typeof edit === 'string' && edit.startsWith('activities:')) {
      requestAnimationFrame(() => document.getElementById('activities')?.scrollIntoView({ block: 'start' }))
    }
  })
  const at = () => ['programs', editor.programIndex()] as const
  return (
    <>
      <PageHeader title="Rules & campaigns" subtitle="Edit the draft, preview a basket against it, then publish a new version.">
        <ProgramTabs programs={editor.programs()} selected={editor.programIndex()} onSelect={editor.selectProgram} />
      </PageHeader>
      <DraftBar />
      <Show when={editor.program()}>
        {(program) => (
          <div class="editor-layout">
            <div class="editor-main">
              <Show when={editing()}>
                {(item) => (
                  <ItemEditor
                    item={item()}
                    program={program()}
                    at={at()}
                    onClose={close}
                  />
                )}
              </Show>
              <section class="panel" aria-label="Earn rules">
                <h2>Earn rules</h2>
                <RuleList
                  program={program()}
                  at={at()}
                  onEdit={(index) => open('rules', index)}
                  onChange={(rules) => actions.set([...at(), 'rules'], rules)}
                  onRemove={(index) => {
                    if (editing()?.list === 'rules') close()
                    actions.set([...at(), 'rules'], removeAt(program().rules, index))
                  }}
                />
              </section>
              <section class="panel" aria-label="Campaigns">
                <h2>Campaigns</h2>
                <CampaignList
                  program={program()}
                  at={at()}
                  onEdit={(index) => open('campaigns', index)}
                  onChange={(campaigns) => actions.set([...at(), 'campaigns'], campaigns.length === 0 ? undefined : campaigns)}
                  onRemove={(index) => {
                    if (editing()?.list === 'campaigns') close()
                    const rest = removeAt(program().campaigns ?? [], index)
                    actions.set([...at(), 'campaigns'], rest.length === 0 ? undefined : rest)
                  }}
                />
              </section>
              <section class="panel" aria-label="Campaign calendar">
                <h2>Campaign calendar</h2>
                <CampaignCalendar campaigns={program().campaigns ?? []} timeZone={program().timeZone ?? 'UTC'} onOpen={(index) => open('campaigns', index)} />
              </section>
              <section class="panel" id="activities" aria-label="Activity rewards">
                <h2>Activity rewards</h2>
                <ActivitiesEditor at={[...at(), 'activities']} />
              </section>
            </div>
            <aside class="editor-side">
              <PreviewPanel program={program()} />
            </aside>
          </div>
        )}
      </Show>
    </>
  )
}

function ItemEditor(props: { item: Editing; program: ProgramDoc; at: readonly (string | number)[]; onClose: () => void }) {
  const rule = () => (props.item.list === 'rules' ? props.program.rules[props.item.index] : undefined)
  const campaign = () => (props.item.list === 'campaigns' ? props.program.campaigns?.[props.item.index] : undefined)
  const path = () => [...props.at, props.item.list, props.item.index]
  return (
    <section class="panel item-editor" id="item-editor" aria-label="Editor">
      <header class="panel-header">
        <h2>
          <Switch fallback="Not found">
            <Match when={rule()}>{(r) => <>Rule: {r().name ?? r().id}</>}</Match>
            <Match when={campaign()}>{(c) => <>Campaign: {c().name}</>}</Match>
          </Switch>
        </h2>
        <span class="spacer" />
        <ErrorCount path={pathText(path())} />
        <button type="button" class="button ghost" onClick={() => props.onClose()}>Done</button>
      </header>
      <Switch fallback={<p class="muted">That item is no longer in the draft.</p>}>
        <Match when={rule()}>
          <RuleEditor at={path()} program={props.program} schedule />
        </Match>
        <Match when={campaign()}>
          <CampaignEditor at={path()} program={props.program} />
        </Match>
      </Switch>
    </section>
  )
}

/** Dates for midnight (the usual case), date and time otherwise. */
function instantText(iso: string): string {
  const ms = Date.parse(iso)
  return ms % 86_400_000 === 0 ? formatDate(ms, undefined, 'UTC') : formatDateTime(ms)
}

function windowText(from: string | undefined, to: string | undefined): string {
  const show = instantText
  if (from === undefined && to === undefined) return 'always'
  if (from === undefined) return `until ${show(to!)}`
  if (to === undefined) return `from ${show(from)}`
  return `${show(from)} – ${show(to)}`
}

function RuleList(props: {
  program: ProgramDoc
  at: readonly (string | number)[]
  onEdit: (index: number) => void
  onChange: (rules: RuleDoc[]) => void
  onRemove: (index: number) => void
}) {
  const money = (minor: number) => formatMoney(minor, props.program.currency)
  const now = () => Date.now()
  // Bare dates in the windows are the program's days, as the engine reads them.
  const zone = () => props.program.timeZone ?? 'UTC'
  const add = (kind: RuleDoc['kind']) => {
    const rules = props.program.rules
    props.onChange([...rules, newRule(kind, rules.map((rule) => rule.id))])
    props.onEdit(rules.length)
  }
  return (
    <>
      <Show when={props.program.rules.length > 0} fallback={<EmptyState title="No earn rules">Members earn nothing on purchases until a rule says how many points a basket gives.</EmptyState>}>
        <table class="table" aria-label="Earn rules">
          <thead>
            <tr><th>Rule</th><th>Gives</th><th>When</th><th>Status</th><th class="actions-cell"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            <For each={props.program.rules}>
              {(rule, index) => (
                <tr>
                  <td>
                    <button type="button" class="link-button strong-link" onClick={() => props.onEdit(index())}>{rule.name ?? rule.id}</button>
                    <div class="muted mono">{rule.id}</div>
                  </td>
                  <td>{describeRule(rule, money)}</td>
                  <td class="muted">{windowText(rule.when?.from, rule.when?.to)}</td>
                  <td><StatusBadge status={ruleStatus(rule, now(), zone())} /> <ErrorCount path={pathText([...props.at, 'rules', index()])} /></td>
                  <td class="actions-cell">
                    <button type="button" class="link-button" onClick={() => props.onEdit(index())}>Edit</button>
                    <Show
                      when={ruleStatus(rule, now(), zone()) === 'active'}
                      fallback={<button type="button" class="link-button" onClick={() => props.onChange(props.program.rules.map((r, i) => (i === index() ? activateRule(r, now(), zone()) : r)))}>Activate</button>}
                    >
                      <button type="button" class="link-button" onClick={() => props.onChange(props.program.rules.map((r, i) => (i === index() ? deactivateRule(r, now()) : r)))}>Deactivate</button>
                    </Show>
                    <button type="button" class="link-button danger" onClick={() => props.onRemove(index())}>Remove</button>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
      <div class="button-row">
        <For each={Object.entries(ruleKindLabels) as [RuleDoc['kind'], string][]}>
          {([kind, label]) => <button type="button" class="button small" onClick={() => add(kind)}>+ {label}</button>}
        </For>
      </div>
    </>
  )
}

function CampaignList(props: {
  program: ProgramDoc
  at: readonly (string | number)[]
  onEdit: (index: number) => void
  onChange: (campaigns: CampaignDoc[]) => void
  onRemove: (index: number) => void
}) {
  const campaigns = () => props.program.campaigns ?? []
  const now = () => Date.now()
  const zone = () => props.program.timeZone ?? 'UTC'
  const replace = (index: number, campaign: CampaignDoc) => props.onChange(campaigns().map((c, i) => (i === index ? campaign : c)))
  const add = () => {
    props.onChange([...campaigns(), newCampaign(campaigns().map((c) => c.id), now())])
    props.onEdit(campaigns().length)
  }
  return (
    <>
      <Show when={campaigns().length > 0} fallback={<EmptyState title="No campaigns">Campaigns add rules for a while, for an audience: double points at weekends, a welcome bonus.</EmptyState>}>
        <table class="table" aria-label="Campaigns">
          <thead>
            <tr><th>Campaign</th><th>Runs</th><th>Priority</th><th>Stacking</th><th>Status</th><th class="actions-cell"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            <For each={campaigns()}>
              {(campaign, index) => (
                <tr>
                  <td>
                    <button type="button" class="link-button strong-link" onClick={() => props.onEdit(index())}>{campaign.name}</button>
                    <div class="muted mono">{campaign.id}</div>
                  </td>
                  <td class="muted">{windowText(campaign.from, campaign.to)}</td>
                  <td>{campaign.priority}</td>
                  <td>{campaign.stacking}</td>
                  <td><StatusBadge status={campaignStatus(campaign, now(), zone())} /> <ErrorCount path={pathText([...props.at, 'campaigns', index()])} /></td>
                  <td class="actions-cell">
                    <button type="button" class="link-button" onClick={() => props.onEdit(index())}>Edit</button>
                    <Show
                      when={campaignStatus(campaign, now(), zone()) === 'active'}
                      fallback={<button type="button" class="link-button" onClick={() => replace(index(), activateCampaign(campaign, now(), zone()))}>Activate</button>}
                    >
                      <button type="button" class="link-button" onClick={() => replace(index(), deactivateCampaign(campaign, now()))}>Deactivate</button>
                    </Show>
                    <button type="button" class="link-button danger" onClick={() => props.onRemove(index())}>Remove</button>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
      <button type="button" class="button small" onClick={add}>+ Campaign</button>
    </>
  )
}
