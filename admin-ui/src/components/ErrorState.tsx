import { Show } from 'solid-js'
import { ApiError } from '../lib/client.ts'
import { sentence } from '../lib/validate.ts'

/** What went wrong loading something, in words a user can act on, with a retry. */
export function errorText(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    if (error.forbidden) return { title: 'Not allowed for your role', detail: sentence(error.message) }
    if (error.missingRoute) {
      return {
        title: 'Not available on this server',
        detail: 'This gateway does not offer this yet; update the gateway.',
      }
    }
    if (error.status === 'network') {
      return { title: 'Cannot reach the server', detail: 'Check the connection, then retry.' }
    }
    if (error.notFound) return { title: 'Not found', detail: sentence(error.message) }
    return { title: 'The server refused', detail: sentence(error.message) }
  }
  return { title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) }
}

export function ErrorState(props: { error: unknown; retry?: () => void; compact?: boolean }) {
  const text = () => errorText(props.error)
  return (
    <div class="error-state" classList={{ compact: props.compact === true }} role="alert">
      <p class="error-title">{text().title}</p>
      <p class="error-detail">{text().detail}</p>
      <Show when={props.retry}>
        {(retry) => (
          <button type="button" class="button" onClick={() => retry()()}>
            Retry
          </button>
        )}
      </Show>
    </div>
  )
}
