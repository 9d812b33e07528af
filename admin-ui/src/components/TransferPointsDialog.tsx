import { revalidate } from '@solidjs/router'
import { Dialog } from './Dialog.tsx'
import { Field } from './Field.tsx'
import { FormError } from './FormError.tsx'
import { client, memberKeys } from '../lib/api.ts'
import { formatNumber } from '../lib/format.ts'
import { retryKey } from '../lib/retry-key.ts'
import { maxLength, parseWhole, required, wholeNumber } from '../lib/validate.ts'
import { createForm } from '../stores/createForm.ts'

const pointsMax = 1_000_000_000_000

/**
 * Moves spendable points from this member to another
 * (`POST /v1/accounts/:member/transfer`, the engine's transfer saga): the
 * points keep their expiry dates at the receiver. A retry of the same
 * transfer (after a timeout, say) reuses its idempotency key, so the points
 * never move twice; a changed one gets a new key.
 */
export function TransferPointsDialog(props: {
  open: boolean
  member: string
  account: string
  onClose: () => void
  onDone: (message: string) => void
}) {
  const keys = retryKey('console-transfer')
  const form = createForm({
    initial: { to: '', points: '', reason: '' },
    checks: {
      to: [required('The receiving member')],
      points: [required('Points'), wholeNumber({ nonZero: true, min: 1, max: pointsMax })],
      reason: [maxLength(500)],
    },
    async submit(values) {
      const transfer = {
        to: values.to.trim(),
        points: parseWhole(values.points)!,
        ...(values.reason.trim() === '' ? {} : { reason: values.reason.trim() }),
      }
      const reply = await client.accounts.transfer(props.member, { key: keys.for(transfer), ...transfer })
      keys.done()
      await revalidate(memberKeys(props.member, props.account))
      const balance = reply.balance === undefined ? '' : `; available now ${formatNumber(reply.balance.available)}`
      props.onDone(`Moved ${formatNumber(transfer.points)} points to ${transfer.to}${balance}.`)
      form.reset()
      props.onClose()
    },
  })
  return (
    <Dialog open={props.open} title="Transfer points" onClose={props.onClose}>
      <form class="form" onSubmit={(event) => void form.submit(event)} novalidate>
        <p class="muted">
          Moves spendable points from <span class="mono">{props.member}</span> to another member, soonest
          expiring first; they keep their expiry dates. Both journals and the audit log record it with your name.
        </p>
        <Field label="To member" error={form.error('to')} hint="The receiving member's id">
          <input
            name="to"
            value={form.values.to}
            onInput={(event) => form.set('to', event.currentTarget.value)}
            aria-invalid={form.error('to') !== undefined}
          />
        </Field>
        <Field label="Points" error={form.error('points')} hint="At most what is available">
          <input
            name="points"
            inputmode="numeric"
            value={form.values.points}
            onInput={(event) => form.set('points', event.currentTarget.value)}
            aria-invalid={form.error('points') !== undefined}
          />
        </Field>
        <Field label="Reason" error={form.error('reason')} hint="Optional; shown in both journals">
          <textarea
            name="reason"
            rows={2}
            value={form.values.reason}
            onInput={(event) => form.set('reason', event.currentTarget.value)}
            aria-invalid={form.error('reason') !== undefined}
          />
        </Field>
        <FormError message={form.formError()} />
        <div class="form-actions">
          <button type="button" class="button ghost" onClick={() => props.onClose()}>Cancel</button>
          <button type="submit" class="button primary" disabled={form.pending()}>
            {form.pending() ? 'Transferring…' : 'Transfer points'}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
