/**
 * Polling without overlap: the next request starts `intervalMs` after the
 * previous one settled, so a slow server is never asked twice at once, and a
 * stopped poll never calls back again. Framework-free; `createPoll` in
 * `stores/` binds it to a Solid owner.
 *
 * @module
 */

export interface PollOptions<T> {
  fetch: () => Promise<T>
  intervalMs: number
  onValue: (value: T) => void
  onError: (error: unknown) => void
  /** Whether to go on after an error (a 401 or a missing route should stop it). */
  retryAfter?: (error: unknown) => boolean
}

/**
 * Starts at once; returns `stop`.
 *
 * @example
 *   const stop = startPolling({ fetch: () => client.stats.live(), intervalMs: 1000, onValue, onError })
 */
export function startPolling<T>(options: PollOptions<T>): { stop: () => void; now: () => void } {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let running = false
  const schedule = () => {
    if (!stopped) timer = setTimeout(tick, options.intervalMs)
  }
  const tick = async () => {
    if (stopped || running) return
    running = true
    clearTimeout(timer)
    try {
      const value = await options.fetch()
      if (!stopped) options.onValue(value)
      running = false
      schedule()
    } catch (error) {
      running = false
      if (stopped) return
      options.onError(error)
      if (options.retryAfter?.(error) ?? true) schedule()
    }
  }
  void tick()
  return {
    stop: () => {
      stopped = true
      clearTimeout(timer)
    },
    /** Polls now (after a change the user made), unless a request is in flight. */
    now: () => void tick(),
  }
}
