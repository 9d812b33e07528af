import { A, createAsync, useLocation, useParams, type RoutePreloadFuncArgs } from '@solidjs/router'
import { Show, createSignal } from 'solid-js'
import { AdjustPointsDialog } from '../components/AdjustPointsDialog.tsx'
import { TransferPointsDialog } from '../components/TransferPointsDialog.tsx'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { BalanceChart } from '../components/BalanceChart.tsx'
import { BalancePanel } from '../components/BalancePanel.tsx'
import { EmptyState } from '../components/EmptyState.tsx'
import { HouseholdPanel } from '../components/HouseholdPanel.tsx'
import { IdentifiersPanel } from '../components/IdentifiersPanel.tsx'
import { JournalPanel } from '../components/JournalPanel.tsx'
import { LotsPanel } from '../components/LotsPanel.tsx'
import { MemberActions } from '../components/MemberActions.tsx'
import type { CreatedState } from '../components/NewMemberDialog.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { ProfilePanel } from '../components/ProfilePanel.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { TierProgressPanel } from '../components/TierProgressPanel.tsx'
import { Badge } from '../components/Badge.tsx'
import { getAccountMember, getActiveRuleset, getBalanceHistory, getHistory, getLots, getMember } from '../lib/api.ts'
import { displayName, formatDate } from '../lib/format.ts'
import type { MemberDetail, ProgramDoc, Reply } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'

export function preloadMember(args: RoutePreloadFuncArgs) {
  const id = args.params['id'] ?? ''
  void getMember(id)
  void getAccountMember(id)
}

export function MemberPage() {
  const params = useParams()
  return (
    <Allowed capability="members.read">
      <Async keys={[getMember.keyFor(params['id'] ?? ''), getAccountMember.key]} label="Loading member">
        <MemberLoader id={params['id'] ?? ''} />
      </Async>
    </Allowed>
  )
}

function MemberLoader(props: { id: string }) {
  const detail = createAsync(() => getMember(props.id))
  const account = () => detail()?.member.account ?? props.id
  const standing = createAsync(() => getAccountMember(account()))
  return (
    <Show
      when={detail() !== undefined || standing() !== undefined}
      fallback={
        <EmptyState title={`No member ${props.id}`} action={<A href="/members" class="button">Search members</A>}>
          There is no member record and no account with this id.
        </EmptyState>
      }
    >
      <MemberView id={props.id} account={account()} detail={detail()} standing={standing()} />
    </Show>
  )
}

/** The active ruleset's program, for roles that may read rulesets (tier names, point value). */
function useProgram(programId: () => string | undefined) {
  const store = useConsole()
  // Extra detail only: a page without it still works, so a failure here is not the page's.
  const active = createAsync(async () =>
    store.can('program.read') ? getActiveRuleset().catch(() => undefined) : undefined)
  return (): ProgramDoc | undefined =>
    active()?.ruleset.doc.programs.find((program) => program.id === programId())
}

/** Set by the New member form when it has just created this member. */
function createdState(state: unknown): CreatedState | undefined {
  return typeof state === 'object' && state !== null && (state as CreatedState).created === true
    ? (state as CreatedState)
    : undefined
}

function MemberView(props: { id: string; account: string; detail?: MemberDetail; standing?: Reply }) {
  const store = useConsole()
  const created = createdState(useLocation().state)
  const [notice, setNotice] = createSignal<string | undefined>(created === undefined ? undefined : 'Member created.')
  const [enrolmentFailed, setEnrolmentFailed] = createSignal(created?.enrolmentFailed)
  const [adjusting, setAdjusting] = createSignal(false)
  const [transferring, setTransferring] = createSignal(false)
  const member = () => props.detail?.member
  const membership = () => props.standing?.membership
  // The lots panel's query (fetched once for both): what the account owes after returns of spent points.
  const lots = createAsync(() => getLots(props.account))
  const program = useProgram(() => membership()?.program ?? member()?.program)
  const canChange = () => store.can('members.change') && member() !== undefined
  const title = () => (member() === undefined ? props.id : displayName(member()!, props.id))
  return (
    <>
      <PageHeader
        title={
          <>
            {title()} <Show when={member()}>{(m) => <StatusBadge status={m().status} />}</Show>
            <Show when={membership()}>{(ms) => <Badge tone="info">{program()?.tiers.find((t) => t.id === ms().tier)?.name ?? ms().tier}</Badge>}</Show>
          </>
        }
        subtitle={
          <>
            <span class="mono">{props.id}</span>
            <Show when={membership()}>{(ms) => <> · program {ms().program} · enrolled {formatDate(ms().enrolledAt)}</>}</Show>
            <Show when={member() === undefined}> · account only (no member record)</Show>
            <Show when={props.account !== props.id}> · pools into <A href={`/members/${encodeURIComponent(props.account)}`}>{props.account}</A></Show>
          </>
        }
      >
        <Show when={store.can('points.adjust') && member()?.status !== 'closed'}>
          <button type="button" class="button primary" onClick={() => setAdjusting(true)}>Adjust points</button>
        </Show>
        <Show when={store.can('points.transfer') && member()?.status === 'active'}>
          <button type="button" class="button" onClick={() => setTransferring(true)}>Transfer points</button>
        </Show>
        <Show when={canChange() ? member() : undefined}>
          {(m) => <MemberActions member={m()} onDone={setNotice} />}
        </Show>
        <Show when={store.can('audit.read')}>
          <A class="button ghost" href={`/audit?target=${encodeURIComponent(props.id)}`}>Audit trail</A>
        </Show>
      </PageHeader>
      <Show when={notice()}>
        {(text) => (
          <p class="notice good" role="status">
            {text()} <button type="button" class="link-button" onClick={() => setNotice(undefined)}>Dismiss</button>
          </p>
        )}
      </Show>
      <Show when={enrolmentFailed()}>
        {(text) => (
          <p class="notice warn" role="alert">
            The member was created but could not join its program ({text()}): it has no balance or
            tier yet. Enrol it again with POST /v1/accounts/{props.account}/enroll once the cause is fixed.{' '}
            <button type="button" class="link-button" onClick={() => setEnrolmentFailed(undefined)}>Dismiss</button>
          </p>
        )}
      </Show>
      <div class="summary-row">
        <section class="panel" aria-label="Balance">
          <h2>Balance</h2>
          <BalancePanel balance={props.standing?.balance} debt={lots()?.debt} program={program()} />
        </section>
        <Show when={membership()}>
          {(ms) => (
            <section class="panel" aria-label="Tier">
              <h2>Tier</h2>
              <TierProgressPanel membership={ms()} program={program()} />
            </section>
          )}
        </Show>
      </div>
      <div class="two-columns">
        <div class="column">
          <Show when={member() === undefined}>
            <section class="panel" aria-label="Member record">
              <h2>No member record</h2>
              <p class="muted">
                This account was enrolled without a member record (at a till, through the API, or by
                the demo seed): it earns and burns like any other, but has no profile, cards or consents
                in the registry, so only its points can be managed here.
              </p>
            </section>
          </Show>
          <Show when={member()}>
            {(m) => (
              <>
                <section class="panel" aria-label="Profile">
                  <h2>Profile</h2>
                  <ProfilePanel member={m()} canChange={canChange()} onDone={setNotice} />
                </section>
                <section class="panel" aria-label="Cards and identifiers">
                  <h2>Cards and identifiers</h2>
                  <IdentifiersPanel
                    identifiers={props.detail?.identifiers ?? []}
                    member={props.id}
                    account={props.account}
                    canChange={canChange()}
                    onDone={setNotice}
                  />
                </section>
                <section class="panel" aria-label="Household">
                  <h2>Household</h2>
                  <HouseholdPanel member={props.id} account={props.account} canChange={canChange()} onDone={setNotice} />
                </section>
              </>
            )}
          </Show>
        </div>
        <div class="column">
          <section class="panel" aria-label="Lots and holds">
            <h2>Lots</h2>
            <Async keys={getLots.keyFor(props.account)} label="Loading lots">
              <LotsPanel account={props.account} />
            </Async>
          </section>
          <section class="panel" aria-label="Balance over time">
            <Async keys={getBalanceHistory.keyFor(props.account)} label="Loading balance history">
              <BalanceChart account={props.account} />
            </Async>
          </section>
        </div>
      </div>
      <section class="panel" aria-label="Journal">
        <h2>Journal</h2>
        <Async keys={getHistory.key} label="Loading journal">
          <JournalPanel account={props.account} />
        </Async>
      </section>
      <AdjustPointsDialog
        open={adjusting()}
        member={props.id}
        account={props.account}
        onClose={() => setAdjusting(false)}
        onDone={setNotice}
      />
      <TransferPointsDialog
        open={transferring()}
        member={props.id}
        account={props.account}
        onClose={() => setTransferring(false)}
        onDone={setNotice}
      />
    </>
  )
}
