import { A, createAsync, revalidate } from '@solidjs/router'
import { ErrorBoundary, Show, Suspense, onCleanup } from 'solid-js'
import { getRulesets } from '../lib/api.ts'

const refreshMs = 15_000

/** The ruleset version members earn on right now, refreshed while the console is open. */
export function LiveVersion() {
  const rulesets = createAsync(() => getRulesets())
  const timer = setInterval(() => void revalidate(getRulesets.key), refreshMs)
  onCleanup(() => clearInterval(timer))
  const live = () => rulesets()?.rulesets.find((ruleset) => ruleset.active)
  return (
    <ErrorBoundary fallback={<span class="live-version muted">Live version unknown</span>}>
      <Suspense fallback={<span class="live-version muted">Live version …</span>}>
        <Show when={live()} fallback={<span class="live-version muted">No live ruleset</span>}>
          {(version) => (
            <A href="/versions" class="live-version" title="The ruleset version members earn on now">
              <span class="pulse" /> Live ruleset <strong data-testid="live-version">v{version().version}</strong>
            </A>
          )}
        </Show>
      </Suspense>
    </ErrorBoundary>
  )
}
