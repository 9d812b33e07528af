/**
 * The idempotency key of a form's request: the same while the same request
 * is sent again (after a timeout, say), so it applies once; a new one once
 * the request changes or has succeeded.
 *
 * @example
 *   const keys = retryKey('console-adjust')
 *   const reply = await client.accounts.adjust(account, { key: keys.for(adjustment), ...adjustment })
 *   keys.done()
 */
export function retryKey(prefix: string) {
  const fresh = () => `${prefix}-${crypto.randomUUID()}`
  let key = fresh()
  /** What was last sent with `key`. */
  let sent: string | undefined
  return {
    /** The key to send `request` with. */
    for(request: unknown): string {
      const text = JSON.stringify(request)
      if (sent !== undefined && sent !== text) key = fresh()
      sent = text
      return key
    },
    /** The request succeeded: the next one is another. */
    done() {
      key = fresh()
      sent = undefined
    },
  }
}
