/**
 * A listener that could not bind its port: reported by `npm start` as one
 * line naming the port and the flag that changes it, not as a stack trace.
 *
 * @module
 */
export class ListenError extends Error {
  override name = 'ListenError'
}

/** Why binding `what` (e.g. "HTTP port 8080 on 0.0.0.0") failed, in words, from the system's error. */
export function listenFailure(what: string, error: unknown): ListenError {
  const text = error instanceof Error ? error.message : String(error)
  const code = (error as { code?: unknown } | undefined)?.code
  if (code === 'EADDRINUSE' || text.includes('EADDRINUSE')) return new ListenError(`the ${what} is in use`)
  if (code === 'EACCES' || text.includes('EACCES')) return new ListenError(`the ${what} may not be bound by this user`)
  if (code === 'EADDRNOTAVAIL' || text.includes('EADDRNOTAVAIL')) return new ListenError(`the ${what}: no such address on this machine`)
  return new ListenError(`the ${what} could not be bound: ${text}`)
}
