/**
 * Terminal secrets: the scrypt check, and the check without waiting that a
 * reconnecting terminal gets (`verifyTerminalKnown`), which must never let in
 * a secret the scrypt check would refuse.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openRegistry, type Registry } from './registry.ts'

let registry: Registry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

async function store() {
  registry = openRegistry(undefined)
  const credentials = registry.credentials
  const { secret } = await credentials.issueTerminal({ id: 't1', name: 'Till 1', store: 's1' })
  return { credentials, secret }
}

describe('terminal secrets', () => {
  it('knows a secret without waiting once scrypt has verified it, and nothing else', async () => {
    const { credentials, secret } = await store()
    // Before any scrypt check only the slow path can judge.
    expect(credentials.verifyTerminalKnown('t1', secret)).toBeUndefined()
    expect(await credentials.verifyTerminal('t1', 'wrong')).toBeUndefined()
    expect(credentials.verifyTerminalKnown('t1', 'wrong')).toBeUndefined()
    expect(await credentials.verifyTerminal('t1', secret)).toMatchObject({ id: 't1', store: 's1' })
    expect(credentials.verifyTerminalKnown('t1', secret)).toMatchObject({ id: 't1', store: 's1', disabled: false })
    expect(credentials.verifyTerminalKnown('t1', `${secret}x`)).toBeUndefined()
    expect(credentials.verifyTerminalKnown('t1', '')).toBeUndefined()
    expect(credentials.verifyTerminalKnown('t1', secret)).not.toHaveProperty('hash')
  })

  it('leaves an unknown or disabled terminal to the scrypt check, and forgets a rotated secret', async () => {
    const { credentials, secret } = await store()
    expect(credentials.verifyTerminalKnown('nobody', secret)).toBeUndefined()
    await credentials.verifyTerminal('t1', secret)
    await credentials.setTerminalDisabled('t1', true)
    expect(credentials.verifyTerminalKnown('t1', secret)).toBeUndefined()
    expect(await credentials.verifyTerminal('t1', secret)).toBeUndefined()
    await credentials.setTerminalDisabled('t1', false)
    expect(credentials.verifyTerminalKnown('t1', secret)).toMatchObject({ id: 't1' })
    const rotated = await credentials.rotateTerminalSecret('t1')
    expect(credentials.verifyTerminalKnown('t1', secret)).toBeUndefined()
    expect(await credentials.verifyTerminal('t1', secret)).toBeUndefined()
    expect(credentials.verifyTerminalKnown('t1', rotated.secret)).toBeUndefined()
    expect(await credentials.verifyTerminal('t1', rotated.secret)).toMatchObject({ id: 't1' })
    expect(credentials.verifyTerminalKnown('t1', rotated.secret)).toMatchObject({ id: 't1' })
  })
})

describe('issuing and changing credentials at the same moment', () => {
  it('issues a terminal id or a user name once: the second of two at once is refused, not written over the first', async () => {
    registry = openRegistry(undefined)
    const credentials = registry.credentials
    const terminals = await Promise.allSettled(['First', 'Second'].map((name) => credentials.issueTerminal({ id: 't2', name })))
    expect(terminals.map((t) => t.status).sort()).toEqual(['fulfilled', 'rejected'])
    const issued = terminals.find((t) => t.status === 'fulfilled')!.value
    expect(terminals.find((t) => t.status === 'rejected')!.reason).toBeInstanceOf(RangeError)
    // The secret handed out is the one stored.
    expect(await credentials.verifyTerminal('t2', issued.secret)).toMatchObject({ id: 't2', name: issued.terminal.name })
    const passwords = ['first password', 'second password']
    const users = await Promise.allSettled(passwords.map((password) => credentials.addUser({ username: 'ann', role: 'support' }, password)))
    expect(users.map((u) => u.status).sort()).toEqual(['fulfilled', 'rejected'])
    const added = passwords[users.findIndex((u) => u.status === 'fulfilled')]!
    const refused = passwords[users.findIndex((u) => u.status === 'rejected')]!
    expect(await credentials.verifyUser('ann', added)).toMatchObject({ username: 'ann' })
    expect(await credentials.verifyUser('ann', refused)).toBeUndefined()
  })

  it('keeps a terminal disabled while its secret was being rotated', async () => {
    const { credentials } = await store()
    const rotating = credentials.rotateTerminalSecret('t1')
    await credentials.setTerminalDisabled('t1', true)
    const rotated = await rotating
    expect(rotated.terminal).toMatchObject({ id: 't1', disabled: true })
    expect(credentials.terminals()).toEqual([expect.objectContaining({ id: 't1', disabled: true })])
    expect(await credentials.verifyTerminal('t1', rotated.secret)).toBeUndefined()
  })
})

describe('terminal ids', () => {
  it('takes as long to refuse an unknown or disabled terminal as a wrong secret, so the time tells no terminal id', async () => {
    const { credentials, secret } = await store()
    await credentials.issueTerminal({ id: 't2', name: 'Till 2', store: 's1' })
    await credentials.setTerminalDisabled('t2', true)
    const refusedInMs = async (id: string, tried: string) => {
      const started = performance.now()
      expect(await credentials.verifyTerminal(id, tried)).toBeUndefined()
      return performance.now() - started
    }
    const wrong = Math.min(await refusedInMs('t1', 'wrong secret'), await refusedInMs('t1', 'wrong secret'))
    // A scrypt check each (about 30 ms); without one, an unknown id was refused in microseconds.
    // The margin is wide (a twentieth) so that a busy machine slowing the first two cannot fail it.
    expect(await refusedInMs('nobody', 'wrong secret')).toBeGreaterThan(wrong / 20)
    expect(await refusedInMs('t2', secret)).toBeGreaterThan(wrong / 20)
    expect(await credentials.verifyTerminal('t1', secret)).toMatchObject({ id: 't1' })
  })
})

describe('console users', () => {
  it('takes as long to refuse an unknown or disabled user as a wrong password, so the time tells no user name', async () => {
    registry = openRegistry(undefined)
    const credentials = registry.credentials
    await credentials.addUser({ username: 'ann', role: 'support' }, 'right password')
    await credentials.addUser({ username: 'bob', role: 'support' }, 'right password')
    await credentials.setUserDisabled('bob', true)
    const refusedInMs = async (username: string, password: string) => {
      const started = performance.now()
      expect(await credentials.verifyUser(username, password)).toBeUndefined()
      return performance.now() - started
    }
    const wrong = Math.min(await refusedInMs('ann', 'wrong password'), await refusedInMs('ann', 'wrong password'))
    // A scrypt check each (about 30 ms); without one, an unknown name was refused in microseconds.
    // The margin is wide (a twentieth) so that a busy machine slowing the first two cannot fail it.
    expect(await refusedInMs('nobody', 'wrong password')).toBeGreaterThan(wrong / 20)
    expect(await refusedInMs('bob', 'right password')).toBeGreaterThan(wrong / 20)
    expect(await credentials.verifyUser('ann', 'right password')).toMatchObject({ username: 'ann' })
  })
})

describe('API tokens', () => {
  it('verifies a token again without the store read, and never past a revocation or for another secret', async () => {
    registry = openRegistry(undefined)
    const credentials = registry.credentials
    const { token, secret } = await credentials.issueToken({ name: 'Shop', role: 'partner' })
    const [id, key] = secret.split('.') as [string, string]
    expect(credentials.verifyToken(secret)).toMatchObject({ id: token.id, role: 'partner', disabled: false })
    // Known now: the same answer, a copy the caller may change without changing the next.
    const again = credentials.verifyToken(secret)!
    expect(again).toMatchObject({ id: token.id, role: 'partner' })
    expect(again).not.toHaveProperty('hash')
    again.role = 'admin'
    expect(credentials.verifyToken(secret)).toMatchObject({ role: 'partner' })
    // Another secret for the same id is checked as before.
    expect(credentials.verifyToken(`${id}.${key}x`)).toBeUndefined()
    expect(credentials.verifyToken(`${id}.`)).toBeUndefined()
    await credentials.setTokenDisabled(token.id, true)
    expect(credentials.verifyToken(secret)).toBeUndefined()
    await credentials.setTokenDisabled(token.id, false)
    expect(credentials.verifyToken(secret)).toMatchObject({ id: token.id })
    // Issued again under the same text with another role: the new role counts at once.
    await credentials.issueToken({ name: 'Shop', role: 'processor' }, secret)
    expect(credentials.verifyToken(secret)).toMatchObject({ role: 'processor' })
  })
})
