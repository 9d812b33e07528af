/**
 * The console's shared state, composed once at the root: the session and
 * the ruleset draft (edited by the Programs and the Rules pages alike).
 * `useConsole()` reads it anywhere below the provider.
 *
 * @module
 */
import { createContext, useContext, type ParentProps } from 'solid-js'
import { can, type Capability } from '../lib/roles.ts'
import { createDraft, type Draft } from './createDraft.ts'
import { createSession, type Session } from './createSession.ts'

interface ConsoleStore {
  session: Session
  draft: Draft
  /** Whether the logged-in user's role may use a capability. */
  can: (capability: Capability) => boolean
}

const ConsoleContext = createContext<ConsoleStore>()

export function ConsoleProvider(props: ParentProps) {
  const session = createSession()
  const [sessionState] = session
  const draft = createDraft(() => sessionState.user?.username)
  const store: ConsoleStore = {
    session,
    draft,
    can: (capability) => can(sessionState.user?.role, capability),
  }
  return <ConsoleContext.Provider value={store}>{props.children}</ConsoleContext.Provider>
}

export function useConsole(): ConsoleStore {
  const store = useContext(ConsoleContext)
  if (store === undefined) throw new Error('useConsole() needs a <ConsoleProvider> above it')
  return store
}
