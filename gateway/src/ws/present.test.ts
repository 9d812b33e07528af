/**
 * Goal: a card presented by a till's device session reaches that till's POS
 * as one push, whatever the bridge retries, and nothing unprintable or out of
 * time reaches it. Method: the presentation service in memory over a real
 * engine (the gateway harness), with a push listener recording what each
 * terminal would receive; bad frames as a table of fields → the field named
 * in the refusal; the device session's name over a real socket.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { silentLogger } from '@loyalty/engine'
import type { PushMessage } from '../core/gateway.ts'
import { gatewayHarness, type GatewayHarness } from '../testing/harness.ts'
import { CardPresentations } from './present.ts'
import { startWsServer } from './server.ts'

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
    [{ key: 'k2\u0000\u202e', card: card('600123456789') }, 'key'],
    [{ key: 'k\u200b', card: card('600123456789') }, 'key'],
    [{ key: 'k', card: card('6001234\u00005678') }, 'card.value'],
    [{ key: 'k', card: card('600123456789'), reader: 'msr\n\u001b[2Jevil' }, 'reader'],
    [{ key: 'k', card: card('600123456789'), reader: 'msr\u202e' }, 'reader'],
    [{ key: 'k', card: card('600123456789'), readAt: -1 }, 'readAt'],
    [{ key: 'k', card: card('600123456789'), readAt: 'now' }, 'readAt'],
    [{ key: 'k', card: card('600123456789'), readAt: 1e15 }, 'readAt'],
    [{ key: 'k', card: card('600123456789'), readAt: 1_700_000_000 }, 'readAt'],
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

describe('unprintable and out-of-time presentations', () => {
  afterEach(disposeAll)

  it('names the field and the character refused', async () => {
    const { presentations, pushes, till } = await setup()
    expect(
      await presentations.present(till, { key: 'k2\u0000\u202e', card: card('600123456789') }),
    ).toEqual({
      status: 'invalid_request',
      field: 'key',
      message: 'key must not contain control or invisible characters (U+0000 at 2)',
    })
    expect(
      await presentations.present(till, {
        key: 'k',
        card: card('600123456789'),
        reader: 'msr\n\u001b[2Jevil',
      }),
    ).toEqual({
      status: 'invalid_request',
      field: 'reader',
      message: 'reader must not contain control or invisible characters (U+000A at 3)',
    })
    expect(pushes).toHaveLength(0)
  })

  it('takes a readAt from 2000 to a few minutes past the gateway clock, refusing the rest', async () => {
    const now = 1_700_000_000_000
    const { presentations, pushes, till } = await setup({ clock: () => now })
    const at = (key: string, readAt: number) =>
      presentations.present(till, { key, card: card('600123456789'), readAt })
    expect(await at('r1', now + 4 * 60_000)).toMatchObject({ status: 'ok' })
    expect(await at('r2', Date.UTC(2000, 0, 1))).toMatchObject({ status: 'ok' })
    const ahead = now + 6 * 60_000
    expect(await at('r3', ahead)).toEqual({
      status: 'invalid_request',
      field: 'readAt',
      message: `readAt ${ahead} is more than 5 minutes ahead of the gateway's clock (${now}): is the till's clock right?`,
    })
    expect(await at('r4', Date.UTC(1999, 11, 31))).toMatchObject({
      status: 'invalid_request',
      field: 'readAt',
      message: expect.stringMatching(/is before 2000/),
    })
    expect(pushes.map((p) => p.message['readAt'])).toEqual([
      now + 4 * 60_000,
      Date.UTC(2000, 0, 1),
    ])
  })

  it('refuses a device session whose name holds control or invisible characters', async () => {
    const h = await gatewayHarness()
    const server = await startWsServer(h.gateway, {
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
    })
    disposers.push(async () => {
      await server.close()
      await h[Symbol.asyncDispose]()
    })
    const auth = async (device: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`)
      disposers.push(async () => void ws.close())
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      const reply = new Promise((resolve) =>
        ws.once('message', (data) => resolve(JSON.parse(String(data)))),
      )
      const { id: terminal, secret } = h.terminal
      ws.send(JSON.stringify({ id: 'a', op: 'auth', terminal, secret, device }))
      return reply
    }
    expect(await auth('reader\u202e1')).toEqual({
      id: 'a',
      status: 'invalid_request',
      field: 'device',
      message: 'device must not contain control or invisible characters (U+202E at 6)',
    })
    expect(await auth('till\n1 readers')).toMatchObject({
      status: 'invalid_request',
      field: 'device',
    })
    expect(await auth('till-1 readers')).toMatchObject({ status: 'ok' })
  })
})
