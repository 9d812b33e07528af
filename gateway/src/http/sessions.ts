/**
 * Console sessions, in memory: a random id (the cookie's value) names who
 * logged in and until when. Sessions end at logout, at expiry, or when the
 * process restarts (users then log in again). The store is bounded: past
 * `max` sessions the oldest is dropped, so a flood of logins cannot grow it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { Principal } from '../core/gateway.ts'

export interface Session {
  id: string
  principal: Principal
  createdAt: number
  expiresAt: number
}

export interface SessionStoreOptions {
  ttlMs: number
  max: number
  clock: () => number
}

export const sessionDefaults = { ttlMs: 12 * 3_600_000, max: 10_000 }

export class SessionStore {
  readonly #options: SessionStoreOptions
  /** Insertion order is creation order, and with one lifetime also expiry order. */
  readonly #sessions = new Map<string, Session>()

  constructor(options: SessionStoreOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#sessions.size
  }

  get ttlMs(): number {
    return this.#options.ttlMs
  }

  create(principal: Principal): Session {
    const now = this.#options.clock()
    this.#sweep(now)
    while (this.#sessions.size >= this.#options.max) this.#dropOldest()
    // 32 random bytes: guessing a live session id is not a practical attack.
    const id = randomBytes(32).toString('base64url')
    const session = { id, principal, createdAt: now, expiresAt: now + this.#options.ttlMs }
    this.#sessions.set(id, session)
    return session
  }

  /** The live session with this id; an expired one is removed and not returned. */
  get(id: string): Session | undefined {
    const session = this.#sessions.get(id)
    if (session === undefined) return undefined
    if (session.expiresAt <= this.#options.clock()) {
      this.#sessions.delete(id)
      return undefined
    }
    return session
  }

  delete(id: string): boolean {
    return this.#sessions.delete(id)
  }

  /** Ends every session of one caller (a user just disabled); how many there were. */
  endFor(kind: string, id: string): number {
    let ended = 0
    for (const [key, session] of this.#sessions) {
      if (session.principal.kind === kind && session.principal.id === id) {
        this.#sessions.delete(key)
        ended++
      }
    }
    return ended
  }

  /** Drops expired sessions from the oldest on; stops at the first live one. */
  #sweep(now: number) {
    for (const [id, session] of this.#sessions) {
      if (session.expiresAt > now) return
      this.#sessions.delete(id)
    }
  }

  #dropOldest() {
    const oldest = this.#sessions.keys().next()
    if (oldest.done !== true) this.#sessions.delete(oldest.value)
  }
}
