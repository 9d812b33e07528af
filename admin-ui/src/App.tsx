/**
 * Routes and the session gate: every page but the login needs a session; a
 * missing or ended one (a 401 from any request) leads to the login page,
 * which returns to where the user was.
 *
 * @module
 */
import { Route, Router, useLocation, useNavigate } from '@solidjs/router'
import { Match, Switch, createEffect, onMount, type ParentProps } from 'solid-js'
import { Layout } from './components/Layout.tsx'
import { Loading } from './components/Loading.tsx'
import { Audit } from './routes/Audit.tsx'
import { Dashboard } from './routes/Dashboard.tsx'
import { Login } from './routes/Login.tsx'
import { MemberPage, preloadMember } from './routes/MemberPage.tsx'
import { Members } from './routes/Members.tsx'
import { NotFound } from './routes/NotFound.tsx'
import { Programs } from './routes/Programs.tsx'
import { Rules } from './routes/Rules.tsx'
import { Terminals } from './routes/Terminals.tsx'
import { Tokens } from './routes/Tokens.tsx'
import { Users } from './routes/Users.tsx'
import { Versions } from './routes/Versions.tsx'
import { ConsoleProvider, useConsole } from './stores/console-context.tsx'

function Gate(props: ParentProps) {
  const [session, actions] = useConsole().session
  const location = useLocation()
  const navigate = useNavigate()
  onMount(() => void actions.check().catch(() => undefined))
  const atLogin = () => location.pathname === '/login'
  createEffect(() => {
    if (!session.checked || session.user !== undefined || atLogin()) return
    const next = `${location.pathname}${location.search}`
    navigate(next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`, { replace: true })
  })
  return (
    <Switch fallback={<Layout>{props.children}</Layout>}>
      <Match when={atLogin()}>{props.children}</Match>
      <Match when={!session.checked || session.user === undefined}>
        <div class="boot">
          <Loading label="Opening the console" />
        </div>
      </Match>
    </Switch>
  )
}

function Root(props: ParentProps) {
  return (
    <ConsoleProvider>
      <Gate>{props.children}</Gate>
    </ConsoleProvider>
  )
}

export function App() {
  return (
    <Router root={Root}>
      <Route path="/login" component={Login} />
      <Route path="/" component={Dashboard} />
      <Route path="/members" component={Members} />
      <Route path="/members/:id" component={MemberPage} preload={preloadMember} />
      <Route path="/programs" component={Programs} />
      <Route path="/rules" component={Rules} />
      <Route path="/versions" component={Versions} />
      <Route path="/terminals" component={Terminals} />
      <Route path="/tokens" component={Tokens} />
      <Route path="/audit" component={Audit} />
      <Route path="/users" component={Users} />
      <Route path="*404" component={NotFound} />
    </Router>
  )
}
