/**
 * Who is logged in. The session itself is the server's (an HttpOnly cookie);
 * this slice knows the user, role and expiry the server reported, ends the
 * session when the server says it has ended (any 401) or when its expiry
 * passes, and remembers why, so the login page can say so.
 *
 * @module
 */
import { createSignal, onCleanup } from 'solid-js'
import { createStore } from 'solid-js/store'
import { client, onUnauthenticated } from '../lib/api.ts'
import { ApiError } from '../lib/client.ts'
import type { SessionInfo } from '../lib/types.ts'

export interface SessionState {
  /** False until the first `GET /v1/session` answered. */
  checked: boolean
  user: SessionInfo | undefined
  /** Why the last session ended without a logout, for the login page. */
  ended: string | undefined
}

export function createSession() {
  const [state, setState] = createStore<SessionState>({ checked: false, user: undefined, ended: undefined })
  const [expiryTimer, setExpiryTimer] = createSignal<ReturnType<typeof setTimeout>>()

  const armExpiry = (user: SessionInfo) => {
    clearTimeout(expiryTimer())
    if (user.expiresAt === undefined) return
    // setTimeout's delay is a 32-bit integer: a longer session is checked again later.
    const delay = Math.min(Math.max(user.expiresAt - Date.now(), 0), 2 ** 31 - 1)
    setExpiryTimer(setTimeout(() => void check(), delay))
  }

  const end = (why: string | undefined) => {
    clearTimeout(expiryTimer())
    setState({ user: undefined, ended: why, checked: true })
  }

  async function check() {
    try {
      const user = await client.session.current()
      setState({ user, checked: true })
      armExpiry(user)
    } catch (error) {
      if (error instanceof ApiError && error.unauthenticated) {
        end(state.user === undefined ? undefined : 'Your session has ended. Log in again.')
      } else {
        setState('checked', true)
        throw error
      }
    }
  }

  const stopListening = onUnauthenticated(() => {
    if (state.user !== undefined) end('Your session has expired. Log in again.')
  })
  onCleanup(() => {
    stopListening()
    clearTimeout(expiryTimer())
  })

  const actions = {
    check,
    async login(username: string, password: string) {
      const user = await client.session.login(username, password)
      setState({ user, ended: undefined, checked: true })
      armExpiry(user)
      return user
    },
    async logout() {
      try {
        await client.session.logout()
      } finally {
        end(undefined)
      }
    },
  }
  return [state, actions] as const
}

export type Session = ReturnType<typeof createSession>
