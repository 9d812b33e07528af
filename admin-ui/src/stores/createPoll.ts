/**
 * A polled value for a component's life: the latest value, the last error
 * (kept next to the last good value, so a dashboard shows stale numbers and a
 * warning rather than going blank), and `refresh` to poll at once. Stops
 * with its owner, on a 401 (the session store takes over) and on a route the
 * gateway does not have.
 *
 * @module
 */
import { createSignal, onCleanup } from 'solid-js'
import { ApiError } from '../lib/client.ts'
import { startPolling } from '../lib/poll.ts'

export function createPoll<T>(fetch: () => Promise<T>, intervalMs: number) {
  const [value, setValue] = createSignal<T>()
  const [error, setError] = createSignal<unknown>()
  const [updatedAt, setUpdatedAt] = createSignal<number>()
  const poll = startPolling({
    fetch,
    intervalMs,
    onValue: (next) => {
      setValue(() => next)
      setError(undefined)
      setUpdatedAt(Date.now())
    },
    onError: (failure) => setError(() => failure),
    retryAfter: (failure) =>
      !(failure instanceof ApiError && (failure.unauthenticated || failure.missingRoute ||
        failure.forbidden)),
  })
  onCleanup(poll.stop)
  return { value, error, updatedAt, refresh: poll.now }
}
