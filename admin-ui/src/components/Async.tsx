import { revalidate } from '@solidjs/router'
import { ErrorBoundary, Suspense, type JSX, type ParentProps } from 'solid-js'
import { ErrorState } from './ErrorState.tsx'
import { Loading } from './Loading.tsx'

/**
 * Loading and error states around a part of a page that reads queries: the
 * skeleton until its data is there, and on failure the error with a retry
 * that refetches `keys` (the queries it reads) and renders again.
 */
export function Async(props: ParentProps<{
  keys?: string | string[]
  fallback?: JSX.Element
  label?: string
}>) {
  return (
    <ErrorBoundary
      fallback={(error, reset) => (
        <ErrorState
          error={error}
          retry={() => {
            void revalidate(props.keys).then(reset)
          }}
        />
      )}
    >
      <Suspense fallback={props.fallback ?? <Loading label={props.label} />}>{props.children}</Suspense>
    </ErrorBoundary>
  )
}
