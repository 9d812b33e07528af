import { For, Index, Show, createSignal } from 'solid-js'
import { createStore, produce } from 'solid-js/store'
import { client } from '../lib/api.ts'
import { ApiError } from '../lib/client.ts'
import { currencyDigits, formatMoney, formatNumber, formatSigned } from '../lib/format.ts'
import { compareBreakdowns, readBasket, type BasketText } from '../lib/preview.ts'
import { fromLocalInput, toLocalInput } from '../lib/ruleset.ts'
import type { MemberFacts, PreviewRequest, PreviewResult, ProgramDoc } from '../lib/types.ts'
import { sentence } from '../lib/validate.ts'
import { useConsole } from '../stores/console-context.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'

interface Outcome {
  draft: PreviewResult
  live: PreviewResult | { error: string }
  memberNote?: string
}

const emptyLine = { sku: '', category: '', quantity: '1', unitPrice: '', discount: '' }

/**
 * A dry run before publishing: a basket and a member (a real one by id, or a
 * tier and facts), evaluated by the draft and by the live version side by
 * side (`POST /v1/rulesets/preview`), with the points each rule gives.
 */
export function PreviewPanel(props: { program: ProgramDoc }) {
  const [draft, actions] = useConsole().draft
  const digits = () => currencyDigits(props.program.currency)
  const [basket, setBasket] = createStore<BasketText>({
    lines: [{ sku: 'latte', category: 'coffee', quantity: '2', unitPrice: (450 / 10 ** digits()).toFixed(digits()), discount: '' }],
    store: '',
    channel: '',
    tender: '',
    promoCodes: '',
  })
  const [who, setWho] = createStore({ member: '', tier: '', segments: '', country: '', birthDate: '', firstPurchase: false })
  const [at, setAt] = createSignal(toLocalInput(new Date().toISOString()))
  const [errors, setErrors] = createSignal<Record<string, string>>({})
  const [formError, setFormError] = createSignal<string>()
  const [outcome, setOutcome] = createSignal<Outcome>()
  const [pending, setPending] = createSignal(false)
  let resultBox: HTMLDivElement | undefined

  const memberOf = async (): Promise<{ member: NonNullable<PreviewRequest['member']>; note?: string }> => {
    const id = who.member.trim()
    if (id !== '') {
      const reply = await client.accounts.member(id)
      const membership = reply.membership
      if (membership === undefined) throw new Error(`${id} has no membership`)
      const facts = membership.member
      return {
        member: { tier: membership.tier, facts, firstPurchase: membership.purchases === 0 },
        note: `As ${id}: tier ${membership.tier}, ${membership.purchases} purchases${facts.segments?.length ? `, segments ${facts.segments.join(', ')}` : ''}`,
      }
    }
    const facts: MemberFacts = {}
    const segments = who.segments.split(',').map((s) => s.trim()).filter((s) => s !== '')
    if (segments.length > 0) facts.segments = segments
    if (who.country.trim() !== '') facts.country = who.country.trim().toUpperCase()
    if (who.birthDate !== '') facts.birthDate = who.birthDate
    const member: NonNullable<PreviewRequest['member']> = { firstPurchase: who.firstPurchase }
    if (who.tier !== '') member.tier = who.tier
    if (Object.keys(facts).length > 0) member.facts = facts
    return { member }
  }

  const run = async (event: Event) => {
    event.preventDefault()
    const doc = draft.doc()
    if (doc === undefined) return
    const read = readBasket(basket, digits())
    setFormError(undefined)
    if ('errors' in read) {
      setErrors(read.errors)
      return
    }
    setErrors({})
    setPending(true)
    try {
      const { member, note } = await memberOf()
      const when = fromLocalInput(at())
      const request: PreviewRequest = { program: props.program.id, basket: read.basket, member }
      if (when !== undefined) request.at = Date.parse(when)
      const [draftResult, liveResult] = await Promise.all([
        client.rulesets.preview({ ...request, ruleset: doc }),
        client.rulesets.preview(request).catch((error: unknown) => ({ error: error instanceof Error ? sentence(error.message) : String(error) })),
      ])
      actions.reportErrors([])
      setOutcome({ draft: draftResult, live: liveResult, ...(note === undefined ? {} : { memberNote: note }) })
      // The result is under the form, in a column that scrolls on its own: bring it into view.
      requestAnimationFrame(() => resultBox?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }))
    } catch (error) {
      setOutcome(undefined)
      if (error instanceof ApiError && error.errors.length > 0) {
        actions.reportErrors(error.errors)
        setFormError(`The draft has ${error.errors.length} error${error.errors.length === 1 ? '' : 's'} (listed above, next to their fields): fix them to preview.`)
      } else {
        setFormError(error instanceof Error ? sentence(error.message) : String(error))
      }
    } finally {
      setPending(false)
    }
  }

  const lineError = (i: number, field: string) => errors()[`lines.${i}.${field}`]
  return (
    <section class="panel preview" aria-label="Preview">
      <h2>Preview a basket</h2>
      <form class="form" onSubmit={(event) => void run(event)} novalidate>
        <div class="basket-lines" role="group" aria-label="Basket">
          <Index each={basket.lines}>
            {(line, i) => (
              <div class="basket-line">
                <Field label="SKU" class="wide-3" error={lineError(i, 'sku')}><input value={line().sku} onInput={(e) => setBasket('lines', i, 'sku', e.currentTarget.value)} /></Field>
                <Field label="Category" class="wide-3"><input value={line().category} onInput={(e) => setBasket('lines', i, 'category', e.currentTarget.value)} /></Field>
                <button type="button" class="icon-button danger remove" aria-label={`Remove line ${i + 1}`} disabled={basket.lines.length === 1}
                  onClick={() => setBasket('lines', (lines) => lines.filter((_, j) => j !== i))}>×</button>
                <Field label="Quantity" class="wide-2" error={lineError(i, 'quantity')}><input inputmode="numeric" value={line().quantity} onInput={(e) => setBasket('lines', i, 'quantity', e.currentTarget.value)} /></Field>
                <Field label="Unit price" class="wide-2" error={lineError(i, 'unitPrice')}><input inputmode="decimal" value={line().unitPrice} onInput={(e) => setBasket('lines', i, 'unitPrice', e.currentTarget.value)} /></Field>
                <Field label="Discount" class="wide-2" error={lineError(i, 'discount')}><input inputmode="decimal" placeholder="0" value={line().discount} onInput={(e) => setBasket('lines', i, 'discount', e.currentTarget.value)} /></Field>
              </div>
            )}
          </Index>
        </div>
        <button type="button" class="button small" onClick={() => setBasket('lines', produce((lines) => { lines.push({ ...emptyLine }) }))}>+ Line</button>
        <p class="muted small">Prices in {props.program.currency}, per unit; the discount is off the whole line.</p>
        <div class="grid-2">
          <Field label="Channel">
            <select value={basket.channel} onChange={(e) => setBasket('channel', e.currentTarget.value)}>
              <option value="">Any</option>
              <For each={['store', 'web', 'app', 'partner']}>{(c) => <option value={c}>{c}</option>}</For>
            </select>
          </Field>
          <Field label="Store"><input value={basket.store} onInput={(e) => setBasket('store', e.currentTarget.value)} /></Field>
          <Field label="Tender"><input value={basket.tender} onInput={(e) => setBasket('tender', e.currentTarget.value)} /></Field>
          <Field label="Promo codes" hint="Comma-separated"><input value={basket.promoCodes} onInput={(e) => setBasket('promoCodes', e.currentTarget.value)} /></Field>
        </div>
        <h3>Member</h3>
        <Field label="Member id" hint="A real member's tier and facts; or leave empty and describe one">
          <input value={who.member} onInput={(e) => setWho('member', e.currentTarget.value)} placeholder="member-0001" />
        </Field>
        <Show when={who.member.trim() === ''}>
          <div class="grid-2">
            <Field label="Tier">
              <select value={who.tier} onChange={(e) => setWho('tier', e.currentTarget.value)}>
                <option value="">First tier</option>
                <For each={props.program.tiers}>{(tier) => <option value={tier.id}>{tier.name}</option>}</For>
              </select>
            </Field>
            <Field label="Segments" hint="Comma-separated"><input value={who.segments} onInput={(e) => setWho('segments', e.currentTarget.value)} /></Field>
            <Field label="Member country"><input value={who.country} maxLength={2} onInput={(e) => setWho('country', e.currentTarget.value)} /></Field>
            <Field label="Birth date"><input type="date" value={who.birthDate} onInput={(e) => setWho('birthDate', e.currentTarget.value)} /></Field>
          </div>
          <label class="check">
            <input type="checkbox" checked={who.firstPurchase} onChange={(e) => setWho('firstPurchase', e.currentTarget.checked)} />
            <span>First purchase</span>
          </label>
        </Show>
        <Field label="As of" hint="Try a weekend or a campaign's dates">
          <input type="datetime-local" value={at()} onInput={(e) => setAt(e.currentTarget.value)} />
        </Field>
        <FormError message={errors()['lines'] ?? formError()} />
        <button type="submit" class="button primary wide" disabled={pending()}>
          {pending() ? 'Evaluating…' : 'Preview draft vs live'}
        </button>
      </form>
      <div ref={resultBox}>
        <Show when={outcome()}>
          {(result) => <PreviewResultView outcome={result()} currency={props.program.currency} />}
        </Show>
      </div>
    </section>
  )
}

function PreviewResultView(props: { outcome: Outcome; currency: string }) {
  const live = () => ('error' in props.outcome.live ? undefined : props.outcome.live)
  const delta = () => props.outcome.draft.points - (live()?.points ?? 0)
  const rows = () => compareBreakdowns(live()?.breakdown, props.outcome.draft.breakdown)
  return (
    <div class="preview-result" aria-label="Preview result" data-testid="preview-result">
      <div class="preview-totals">
        <div>
          <span class="stat-label">Draft</span>
          <strong class="big" data-testid="preview-draft-points">{formatNumber(props.outcome.draft.points)}</strong>
          <span class="muted">points</span>
        </div>
        <div>
          <span class="stat-label">Live{live() === undefined ? '' : ` (v${live()!.version})`}</span>
          <strong class="big">{live() === undefined ? '—' : formatNumber(live()!.points)}</strong>
          <span class="muted">points</span>
        </div>
        <Show when={live() !== undefined}>
          <div>
            <span class="stat-label">Change</span>
            <strong class="big" classList={{ positive: delta() > 0, negative: delta() < 0 }}>{formatSigned(delta())}</strong>
          </div>
        </Show>
      </div>
      <Show when={'error' in props.outcome.live}>
        <p class="muted small">Live: {(props.outcome.live as { error: string }).error}</p>
      </Show>
      <p class="muted small">
        {props.outcome.memberNote ?? `Tier ${props.outcome.draft.tier}`}
        <Show when={props.outcome.draft.spend !== undefined}> · eligible spend {formatMoney(props.outcome.draft.spend ?? 0, props.currency)}</Show>
        <Show when={props.outcome.draft.qualifyingPoints !== undefined}> · {formatNumber(props.outcome.draft.qualifyingPoints ?? 0)} qualifying</Show>
        <Show when={props.outcome.draft.campaigns.length > 0}> · campaigns: {props.outcome.draft.campaigns.join(', ')}</Show>
      </p>
      <Show when={rows().length > 0} fallback={<p class="muted">No rule gives points for this basket.</p>}>
        <table class="table compact" aria-label="Points per rule">
          <thead>
            <tr><th>Rule</th><th>Source</th><th class="number">Live</th><th class="number">Draft</th></tr>
          </thead>
          <tbody>
            <For each={rows()}>
              {(row) => (
                <tr classList={{ changed: row.live !== row.draft }}>
                  <td>{row.name}<Show when={row.cut}>{(cut) => <span class="muted"> ({cut()} reached)</span>}</Show></td>
                  <td class="muted">{row.source}</td>
                  <td class="number">{row.live === undefined ? '—' : formatNumber(row.live)}</td>
                  <td class="number">{row.draft === undefined ? '—' : formatNumber(row.draft)}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
    </div>
  )
}
