import { revalidate } from '@solidjs/router'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'
import { client, memberKeys } from '../lib/api.ts'
import { formatNumber, formatSigned } from '../lib/format.ts'
import { retryKey } from '../lib/retry-key.ts'
import { maxLength, parseWhole, required, wholeNumber } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'

const pointsMax = 1_000_000_000_000

/**
 * A signed manual correction with a reason (`POST /v1/accounts/:account/adjust`).
 * A retry of the same adjustment (after a timeout, say) reuses its idempotency
 * key, so it never applies twice; a changed one gets a new key.
 */
export function AdjustPointsDialog(props: {
  open: boolean
  member: string
  account: string
  onClose: () => void
  onDone: (message: string) => void
}) {
  const keys = retryKey('console-adjust')
  const form = createForm({
    initial: { points: '', reason: '' },
    checks: {
      points: [required('Points'), wholeNumber({ nonZero: true, min: -pointsMax, max: pointsMax })],
      reason: [required('A reason'), maxLength(500)],
    },
    async submit(values) {
      const adjustment = { points: parseWhole(values.points)!, reason: values.reason.trim() }
      const reply = await client.accounts.adjust(props.account, { key: keys.for(adjustment), ...adjustment })
      keys.done()
      const points = adjustment.points
      await revalidate(memberKeys(props.member, props.account))
      const balance = reply.balance === undefined ? '' : `; available now ${formatNumber(reply.balance.available)}`
      props.onDone(`Adjusted ${formatSigned(points)} points${balance}.`)
      form.reset()
      props.onClose()
    },
  })
  return (
    <Dialog open={props.open} title="Adjust points" onClose={props.onClose}>
      <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
        <p class="muted">
          A manual correction on account <span class="mono">{props.account}</span>: positive credits
          points, negative takes them away. It is journaled with your name and the reason.
        </p>
        <Field label="Points" error={form.error('points')} hint="For example 250 or -100">
          <input
            name="points"
            inputmode="numeric"
            value={form.values.points}
            onInput={(event) => form.set('points', event.currentTarget.value)}
            aria-invalid={form.error('points') !== undefined}
          />
        </Field>
        <Field label="Reason" error={form.error('reason')} hint="Shown in the member's journal and the audit log">
          <textarea
            name="reason"
            rows={3}
            value={form.values.reason}
            onInput={(event) => form.set('reason', event.currentTarget.value)}
            aria-invalid={form.error('reason') !== undefined}
          />
        </Field>
        <FormError message={form.formError()} />
        <div class="form-actions">
          <button type="button" class="button ghost" onClick={() => props.onClose()}>Cancel</button>
          <button type="submit" class="button primary" disabled={form.pending()}>
            {form.pending() ? 'Adjusting…' : 'Adjust points'}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
