/**
 * Goal: a card presented by a till's device session reaches that till's POS
 * as one push, whatever the bridge retries. Method: the presentation service
 * in memory over a real engine (the gateway harness), with a push listener
 * recording what each terminal would receive; bad frames as a table of
 * fields → the field named in the refusal.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PushMessage } from '../core/gateway.ts'
import { gatewayHarness, type GatewayHarness } from '../testing/harness.ts'
import { CardPresentations } from './present.ts'

const disposers: (() => Promise<void>)[] = []
const disposeAll = async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose()
}

async function setup(options: { keysPerTerminalMax?: number; clock?: () => number } = {}) {
  const h: GatewayHarness = await gatewayHarness()
  disposers.push(async () => await h[Symbol.asyncDispose]())
  const pushes: { terminal: string; message: PushMessage }[] = []
  h.gateway.onPush((terminal, message) => {
    pushes.push({ terminal, message })
    return terminal === h.terminal.id
  })
  const limits =
    options.keysPerTerminalMax === undefined
      ? {}
      : { keysPerTerminalMax: options.keysPerTerminalMax }
  const presentations = new CardPresentations(h.gateway, {
    limits,
    ...(options.clock ? { clock: options.clock } : {}),
  })
  const till = { kind: 'terminal' as const, id: h.terminal.id, store: h.terminal.store }
  await h.gateway.execute(till, 'join', {
    key: 'join-ada',
    program: 'demo',
    card: '6001 2345 6789',
    member: { firstName: 'Ada' },
  })
  return { h, pushes, presentations, till }
}

const card = (value: string, type: 'card' | 'nfc' | 'fob' = 'card') => ({ type, value })

describe('presenting a card', () => {
  afterEach(disposeAll)

  it('resolves the card and pushes the member, balance and tier to the terminal', async () => {
    const { presentations, pushes, till } = await setup()
    const reply = await presentations.present(till, {
      key: 'r1',
      card: card('600123456789'),
      reader: 'msr',
      readAt: 1_700_000_000_000,
    })
    expect(reply).toEqual({ status: 'ok', pushed: true })
    expect(pushes).toHaveLength(1)
    expect(pushes[0]!.terminal).toBe('pos-1')
    expect(pushes[0]!.message).toMatchObject({
      push: 'card',
      key: 'r1',
      status: 'ok',
      card: { type: 'card', value: '600123456789' },
      reader: 'msr',
      readAt: 1_700_000_000_000,
      member: { firstName: 'Ada', status: 'active', program: 'demo' },
      balance: { available: 100 },
      tier: 'bronze',
    })
  })

  it('pushes account_not_found and card_blocked too, so the till can say why', async () => {
    const { h, presentations, pushes, till } = await setup()
    expect(await presentations.present(till, { key: 'r1', card: card('999999999') })).toMatchObject(
      { status: 'account_not_found', pushed: true },
    )
    await h.engine.members.setCardStatus('card', '600123456789', 'blocked', {
      kind: 'admin',
      id: 'ops',
    })
    expect(
      await presentations.present(till, { key: 'r2', card: card('600123456789') }),
    ).toMatchObject({ status: 'card_blocked', pushed: true })
    expect(pushes.map((p) => p.message['status'])).toEqual(['account_not_found', 'card_blocked'])
    expect(pushes.every((p) => p.message['member'] === undefined)).toBe(true)
  })

  it('answers a replayed key from memory without pushing again, even while the first is running', async () => {
    const { presentations, pushes, till } = await setup()
    const [first, concurrent] = await Promise.all([
      presentations.present(till, { key: 'r1', card: card('600123456789') }),
      presentations.present(till, { key: 'r1', card: card('6001-2345-6789') }),
    ])
    expect(first).toEqual({ status: 'ok', pushed: true })
    expect(concurrent).toEqual({ status: 'exists', pushed: false })
    expect(await presentations.present(till, { key: 'r1', card: card('600123456789') })).toEqual({
      status: 'exists',
      pushed: false,
    })
    expect(pushes).toHaveLength(1)
    // A failure replays as itself (sticky), still without a second push.
    await presentations.present(till, { key: 'r2', card: card('999999999') })
    expect(await presentations.present(till, { key: 'r2', card: card('999999999') })).toMatchObject(
      { status: 'account_not_found', pushed: false },
    )
    expect(pushes).toHaveLength(2)
  })

  it('refuses a replayed key with another card, and keeps keys per terminal', async () => {
    const { h, presentations, pushes, till } = await setup()
    await presentations.present(till, { key: 'r1', card: card('600123456789') })
    expect(
      await presentations.present(till, { key: 'r1', card: card('600123456780') }),
    ).toMatchObject({ status: 'exists_with_different_payload', field: 'card' })
    await h.engine.credentials.issueTerminal(
      { id: 'pos-2', name: 'Till 2', store: 'store-1' },
      'pos-2-secret-0123456789',
    )
    const other = { kind: 'terminal' as const, id: 'pos-2' }
    expect(await presentations.present(other, { key: 'r1', card: card('600123456789') })).toEqual({
      status: 'ok',
      pushed: false,
    })
    expect(pushes.map((p) => p.terminal)).toEqual(['pos-1', 'pos-2'])
  })

  it('forgets the oldest keys past the per-terminal limit and keys past the window', async () => {
    let now = 1_000_000
    const { presentations, pushes, till } = await setup({ keysPerTerminalMax: 2, clock: () => now })
    for (const key of ['a', 'b', 'c']) {
      await presentations.present(till, { key, card: card('600123456789') })
    }
    // 'a' was forgotten (limit 2): presenting it again runs and pushes; 'c' is still known.
    expect(
      await presentations.present(till, { key: 'a', card: card('600123456789') }),
    ).toMatchObject({ status: 'ok' })
    expect(
      await presentations.present(till, { key: 'c', card: card('600123456789') }),
    ).toMatchObject({ status: 'exists' })
    now += 25 * 3_600_000
    expect(
      await presentations.present(till, { key: 'c', card: card('600123456789') }),
    ).toMatchObject({ status: 'ok' })
    expect(pushes).toHaveLength(5)
  })

  it('refuses callers without a till', async () => {
    const { presentations, pushes } = await setup()
    const reply = await presentations.present(
      { kind: 'processor', id: 'psp' },
      { key: 'r1', card: card('600123456789') },
    )
    expect(reply).toMatchObject({ status: 'unauthorized' })
    expect(pushes).toHaveLength(0)
  })
})

describe('bad present frames', () => {
  // One engine for the whole table: nothing here may change it.
  let shared: ReturnType<typeof setup>
  beforeAll(() => {
    shared = setup()
  })
  afterAll(async () => {
    await shared
    await disposeAll()
  })

  it.each([
    [{ card: card('600123456789') }, 'key'],
    [{ key: '', card: card('600123456789') }, 'key'],
    [{ key: 'k'.repeat(129), card: card('600123456789') }, 'key'],
    [{ key: 'k' }, 'card'],
    [{ key: 'k', card: '600123456789' }, 'card'],
    [{ key: 'k', card: { type: 'magic', value: '600123456789' } }, 'card.type'],
    [{ key: 'k', card: { type: 'card' } }, 'card.value'],
    [{ key: 'k', card: { type: 'card', value: 12345678 } }, 'card.value'],
    [{ key: 'k', card: { type: 'card', value: '12!4' } }, 'card.value'],
    [{ key: 'k', card: { type: 'card', value: '600123456789', pin: '1234' } }, 'card.pin'],
    [{ key: 'k', card: card('600123456789'), reader: 7 }, 'reader'],
    [{ key: 'k', card: card('600123456789'), readAt: -1 }, 'readAt'],
    [{ key: 'k', card: card('600123456789'), readAt: 'now' }, 'readAt'],
    [{ key: 'k', card: card('600123456789'), account: 'm1' }, 'account'],
  ])('refuses %j naming %s, and pushes nothing', async (fields, field) => {
    const { presentations, pushes, till } = await shared
    expect(await presentations.present(till, fields)).toMatchObject({
      status: 'invalid_request',
      field,
    })
    expect(pushes).toHaveLength(0)
  })
})
