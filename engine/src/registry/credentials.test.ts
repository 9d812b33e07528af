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

  it('refuses an unknown or disabled terminal at once, and forgets a rotated secret', async () => {
    const { credentials, secret } = await store()
    expect(credentials.verifyTerminalKnown('nobody', secret)).toBe(false)
    await credentials.verifyTerminal('t1', secret)
    await credentials.setTerminalDisabled('t1', true)
    expect(credentials.verifyTerminalKnown('t1', secret)).toBe(false)
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
