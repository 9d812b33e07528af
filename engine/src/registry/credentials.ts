/**
 * Who may talk to the gateway: POS terminals (an id and a secret, issued
 * once and stored as a scrypt hash), API tokens for processors and partners
 * (random, stored as a SHA-256 hash: a token has enough entropy that a slow
 * hash adds nothing), and console users (scrypt password hashes and roles).
 *
 * Secrets are shown once, when issued; nothing here can give them back.
 *
 * @module
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type { Database, RootDatabase } from 'lmdb'

export type Role = 'admin' | 'marketer' | 'support' | 'processor' | 'partner' | 'terminal'

export interface Terminal {
  id: string
  name: string
  store?: string
  createdAt: number
  disabled: boolean
}

export interface ApiToken {
  id: string
  name: string
  role: 'processor' | 'partner' | 'admin'
  createdAt: number
  disabled: boolean
}

export interface User {
  username: string
  role: 'admin' | 'marketer' | 'support'
  createdAt: number
  disabled: boolean
}

interface Hashed {
  salt: string
  hash: string
}

/** scrypt cost: about 30 ms a check on this machine, only at login or connect. */
const scryptCost: ScryptOptions = { N: 16_384, r: 8, p: 1 }

function scryptHash(secret: string, salt: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, scryptCost, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

async function hashSecret(secret: string): Promise<Hashed> {
  const salt = randomBytes(16).toString('base64url')
  return { salt, hash: (await scryptHash(secret, salt)).toString('base64url') }
}

async function matches(secret: string, stored: Hashed): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64url')
  const actual = await scryptHash(secret, stored.salt)
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/** What the secret of a user or terminal that does not exist is checked against: no scrypt hash is empty. */
const noUser: Hashed = { salt: 'no-such-user', hash: '' }

/**
 * Sets `change` on the record at `key`, reading it inside the write: a change
 * made meanwhile (a rotation during another's 30 ms of scrypt, a disable) is
 * kept, not written back as it was read. The record as it was; undefined
 * (nothing written) when there is none.
 */
function changeInWrite<T extends object>(db: Database<T, string>, key: string, change: Partial<T>): Promise<T | undefined> {
  return db.transaction(() => {
    const now = db.get(key)
    if (now !== undefined) void db.put(key, { ...now, ...change })
    return now
  })
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url')
const newSecret = () => randomBytes(24).toString('base64url')

/** A token is `<id>.<secret>`: the id finds the record, the secret proves it. */
function splitToken(token: string): [string, string] | undefined {
  const dot = token.indexOf('.')
  return dot <= 0 ? undefined : [token.slice(0, dot), token.slice(dot + 1)]
}

/** Verified API tokens kept at most (there are usually a handful). */
const tokensVerifiedMax = 1024

export class CredentialStore {
  readonly #root: RootDatabase
  readonly #terminals: Database<Terminal & Hashed, string>
  /**
   * Terminal secrets verified since start: the SHA-256 of the secret, and the
   * stored scrypt hash it matched (a rotation replaces that hash, so the
   * entry stops counting). One entry a terminal, the last secret verified.
   */
  readonly #verified = new Map<string, { digest: Buffer; hash: string }>()
  readonly #tokens: Database<ApiToken & { hash: string }, string>
  /**
   * API tokens verified since the last change to any token: the token's
   * full text and what it grants. A bearer token is checked on every REST
   * request and gRPC call; a hit skips the LMDB read, the decode and the
   * SHA-256 (about 4.7 µs, 4 to 5% of the main thread at 10,000 REST
   * requests/s). This store is the only writer of tokens, and every write
   * empties it once it is durable, before the write's promise resolves, so a
   * revoked token authenticates nothing after its revocation returns.
   */
  readonly #tokensVerified = new Map<string, ApiToken>()
  readonly #users: Database<User & Hashed, string>

  constructor(root: RootDatabase) {
    this.#root = root
    this.#terminals = root.openDB({ name: 'terminals' })
    this.#tokens = root.openDB({ name: 'tokens' })
    this.#users = root.openDB({ name: 'users' })
  }

  /**
   * Registers a terminal; returns its secret, which is not stored and cannot
   * be shown again. Written only if the id is still free once the secret is
   * hashed: of two issued at once, the second must not replace the first
   * (whose secret would then open nothing).
   */
  async issueTerminal(terminal: { id: string; name: string; store?: string }, secret = newSecret()) {
    const exists = () => new RangeError(`terminal ${terminal.id} exists`)
    if (this.#terminals.get(terminal.id) !== undefined) throw exists()
    const record = { ...terminal, createdAt: Date.now(), disabled: false, ...(await hashSecret(secret)) }
    const written = await this.#terminals.ifNoExists(terminal.id, () => this.#terminals.put(terminal.id, record))
    if (!written) throw exists()
    await this.#root.flushed
    return { terminal: withoutHash(record), secret }
  }

  /** The terminal if the secret is right and it is enabled. */
  async verifyTerminal(id: string, secret: string): Promise<Terminal | undefined> {
    const record = this.#terminals.get(id)
    // An unknown or disabled terminal costs the same scrypt as a wrong secret: the time tells no terminal id.
    const usable = record !== undefined && !record.disabled
    const right = await matches(secret, usable ? record : noUser)
    if (!usable || !right) return undefined
    // A rotation or a disable during the 30 ms of scrypt counts: the old secret stops at once.
    const now = this.#terminals.get(id)
    if (now === undefined || now.disabled || now.hash !== record.hash) return undefined
    this.#verified.set(id, { digest: createHash('sha256').update(secret).digest(), hash: record.hash })
    return withoutHash(now)
  }

  /**
   * `verifyTerminal` without waiting, where it can tell: the terminal for
   * the secret verified last for it (unless rotated or disabled since), and
   * `undefined` for anything else, which only the scrypt check of
   * `verifyTerminal` can judge. A terminal that reconnects is let in at
   * once, without a 30 ms scrypt on the pool. An unknown or disabled
   * terminal is not refused here: refused at once, it would be told from a
   * wrong secret by the time the answer takes.
   */
  verifyTerminalKnown(id: string, secret: string): Terminal | undefined {
    const record = this.#terminals.get(id)
    if (record === undefined || record.disabled) return undefined
    const known = this.#verified.get(id)
    if (known === undefined || known.hash !== record.hash) return undefined
    const digest = createHash('sha256').update(secret).digest()
    return timingSafeEqual(digest, known.digest) ? withoutHash(record) : undefined
  }

  /**
   * A new secret for a terminal; the old one stops working at once. Shown
   * once, never stored. The record is read again in the write, after the
   * 30 ms of scrypt: a disable made meanwhile stays.
   */
  async rotateTerminalSecret(id: string, secret = newSecret()) {
    if (this.#terminals.get(id) === undefined) throw new RangeError(`no terminal ${id}`)
    const hashed = await hashSecret(secret)
    const record = await changeInWrite(this.#terminals, id, hashed)
    if (record === undefined) throw new RangeError(`no terminal ${id}`)
    await this.#root.flushed
    return { terminal: withoutHash(record), secret }
  }

  async setTerminalDisabled(id: string, disabled: boolean) {
    // Read in the write: a secret rotated meanwhile is kept, not written back with the old hash.
    const record = await changeInWrite(this.#terminals, id, { disabled })
    if (record === undefined) throw new RangeError(`no terminal ${id}`)
    await this.#root.flushed
  }

  terminals(): Terminal[] {
    return Array.from(this.#terminals.getRange({}), ({ value }) => withoutHash(value))
  }

  /** Issues an API token `<id>.<secret>`; only its hash is kept. */
  async issueToken(token: { name: string; role: ApiToken['role'] }, fixed?: string) {
    const text = fixed ?? `tok_${randomBytes(6).toString('hex')}.${newSecret()}`
    const parts = splitToken(text)
    if (parts === undefined) throw new RangeError('a token is <id>.<secret>')
    const record = { id: parts[0], ...token, createdAt: Date.now(), disabled: false, hash: sha256(parts[1]) }
    await this.#tokens.put(record.id, record)
    await this.#root.flushed
    this.#tokensVerified.clear()
    const { hash: _hash, ...info } = record
    return { token: info, secret: text }
  }

  /** Every API token (never a secret or its hash). */
  tokens(): ApiToken[] {
    return Array.from(this.#tokens.getRange({}), ({ value }) => {
      const { hash: _hash, ...info } = value
      return info
    })
  }

  /** Revokes (or restores) a token: a disabled token authenticates nothing. */
  async setTokenDisabled(id: string, disabled: boolean): Promise<ApiToken> {
    const record = this.#tokens.get(id)
    if (record === undefined) throw new RangeError(`no token ${id}`)
    await this.#tokens.put(id, { ...record, disabled })
    await this.#root.flushed
    this.#tokensVerified.clear()
    const { hash: _hash, ...info } = { ...record, disabled }
    return info
  }

  verifyToken(text: string): ApiToken | undefined {
    const known = this.#tokensVerified.get(text)
    if (known !== undefined) return { ...known }
    const parts = splitToken(text)
    if (parts === undefined) return undefined
    const record = this.#tokens.get(parts[0])
    if (record === undefined || record.disabled) return undefined
    const expected = Buffer.from(record.hash)
    const actual = Buffer.from(sha256(parts[1]))
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined
    const { hash: _hash, ...info } = record
    // Bounded: only tokens that verified are kept, and there are few of them.
    if (this.#tokensVerified.size >= tokensVerifiedMax) this.#tokensVerified.clear()
    this.#tokensVerified.set(text, info)
    return { ...info }
  }

  /** Adds a console user, if the name is still free once the password is hashed (see `issueTerminal`). */
  async addUser(user: { username: string; role: User['role'] }, password: string) {
    const exists = () => new RangeError(`user ${user.username} exists`)
    if (this.#users.get(user.username) !== undefined) throw exists()
    const record = { ...user, createdAt: Date.now(), disabled: false, ...(await hashSecret(password)) }
    const written = await this.#users.ifNoExists(user.username, () => this.#users.put(user.username, record))
    if (!written) throw exists()
    await this.#root.flushed
    return withoutHash(record)
  }

  /**
   * The user if the password is right and the user enabled. An unknown or
   * disabled user is checked against a hash nothing matches: refused after
   * the same scrypt as a wrong password, so the time taken tells no one
   * which user names exist.
   */
  async verifyUser(username: string, password: string): Promise<User | undefined> {
    const record = this.#users.get(username)
    const usable = record !== undefined && !record.disabled
    const right = await matches(password, usable ? record : noUser)
    return usable && right ? withoutHash(record) : undefined
  }

  /** Disables (or enables) a console user: a disabled user cannot log in. */
  async setUserDisabled(username: string, disabled: boolean): Promise<User> {
    const record = await changeInWrite(this.#users, username, { disabled })
    if (record === undefined) throw new RangeError(`no user ${username}`)
    await this.#root.flushed
    return withoutHash({ ...record, disabled })
  }

  users(): User[] {
    return Array.from(this.#users.getRange({}), ({ value }) => withoutHash(value))
  }

  /** True when nothing has been issued yet (a new data folder, to seed). */
  isEmpty(): boolean {
    return this.#terminals.getCount() === 0 && this.#users.getCount() === 0 && this.#tokens.getCount() === 0
  }
}

function withoutHash<T extends Partial<Hashed>>(record: T): Omit<T, 'salt' | 'hash'> {
  const { salt: _salt, hash: _hash, ...rest } = record
  return rest
}
