/**
 * The state of actions on a table's rows (revoke a token, disable a user,
 * rotate a terminal's secret): which row waits for confirmation, whether an
 * action is running, and the last failure, shown in the confirmation dialog
 * or above the table. `act` runs one action, closes the dialog when it
 * succeeds and keeps the error when it fails.
 *
 * @module
 */
import { createSignal } from 'solid-js'

export function createRowActions<Confirming, Row, Action extends string>(
  run: (row: Row, action: Action) => Promise<void>,
) {
  const [confirming, setConfirming] = createSignal<Confirming>()
  const [failure, setFailure] = createSignal<unknown>()
  const [busy, setBusy] = createSignal(false)
  const act = async (row: Row, action: Action) => {
    setBusy(true)
    setFailure(undefined)
    try {
      await run(row, action)
      setConfirming(undefined)
    } catch (error) {
      setFailure(() => error)
    } finally {
      setBusy(false)
    }
  }
  /** Closes the confirmation dialog, forgetting its failure. */
  const close = () => {
    setConfirming(undefined)
    setFailure(undefined)
  }
  return { confirming, confirm: (row: Confirming) => setConfirming(() => row), failure, busy, act, close }
}
