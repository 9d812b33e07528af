/**
 * The console in a real headless Chromium against a real gateway and engine:
 * logging in, the dashboard, finding a member and adjusting its points,
 * editing a rule with a preview and the validator's errors, publishing a new
 * live version, a version refused for stranding members and then forced live,
 * terminals, API tokens (issued, used, revoked), the audit log,
 * what a marketer may not do (in the page and at the server), an ended session
 * returning to the login page, creating a member through its form, adding a
 * user who then logs in, disabling that user, leaving a household (one
 * request however fast the clicks, the server's refusal shown), a profile
 * field cleared and so removed, and publishing live a draft that would
 * strand members (the server's reasons, then forced once confirmed).
 * Screenshots of the main pages go to admin-ui/screenshots/.
 *
 * The tests share one system and run in order: later ones see what earlier
 * ones changed (the audit log lists the terminal registered before it).
 */
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { startConsoleSystem, type ConsoleSystem } from './fixture.ts'

const screenshots = fileURLToPath(new URL('../../screenshots/', import.meta.url))
let system: ConsoleSystem

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true })
  system = await startConsoleSystem()
}, 120_000)

afterAll(async () => {
  await system?.[Symbol.asyncDispose]()
})

/** A full-page screenshot from the top (sticky bars stay where a user sees them). */
async function shoot(page: Page, name: string, height?: number) {
  if (height !== undefined) await page.setViewportSize({ width: 1440, height })
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path: `${screenshots}${name}.png`, fullPage: true })
}

/** The number a test id shows, without grouping. */
async function numberIn(page: Page, testId: string): Promise<number> {
  return Number((await page.getByTestId(testId).first().innerText()).replace(/[^\d-]/g, ''))
}

describe('the admin console', () => {
  it('is served by the gateway at /: its routes get the page (revalidated), hashed assets are cached for good', async () => {
    const page = await fetch(`${system.url}/members/ada`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.headers.get('cache-control')).toBe('no-cache')
    const html = await page.text()
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const asset = await fetch(`${system.url}${script}`)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const api = await fetch(`${system.url}/v1/no-such-route`)
    expect([api.status, api.headers.get('cache-control')]).toEqual([404, null])
    expect(await api.json()).toMatchObject({ status: 'invalid_request', field: 'path' })
  })

  it('sends a visitor to the login page, refuses a wrong password, and logs in to the dashboard', async () => {
    const { context, page } = await system.page()
    await page.goto(`${system.url}/members`)
    await page.waitForURL(/\/login\?next=%2Fmembers/)
    await page.getByLabel('User name').fill('admin')
    await page.getByRole('button', { name: 'Log in' }).click()
    await expect.poll(() => page.getByText('Password is required').isVisible()).toBe(true)
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByText('Wrong user name or password.').waitFor()
    await page.getByLabel('Password').fill('correct horse battery staple')
    await page.getByRole('button', { name: 'Log in' }).click()
    // Back where the visitor wanted to go.
    await page.waitForURL(/\/members$/)
    await page.getByRole('link', { name: 'Dashboard' }).click()
    const figures = page.getByRole('region', { name: 'Figures' })
    await figures.getByText('Points issued').waitFor()
    expect(await figures.innerText()).toMatch(/MEMBERS\s+6\b/)
    expect(await figures.innerText()).toMatch(/OUTSTANDING LIABILITY\s+\$\d/)
    await page.getByRole('region', { name: 'Tier distribution' }).getByText('Bronze').waitFor()
    // The live chart draws a line once its first samples are in.
    await page.locator('figure.chart path.line').first().waitFor()
    expect(await page.getByTestId('live-version').innerText()).toBe('v1')
    await shoot(page, 'dashboard')
    await context.close()
  })

  it('finds a member by card, adjusts its points with a reason, and shows the new balance', async () => {
    const { context, page } = await system.page('admin')
    await page.getByRole('link', { name: 'Members' }).click()
    await page.getByLabel('Card, email, phone, name or member id').fill('4000 1234 1234 1234')
    await page.getByRole('button', { name: 'Search' }).click()
    // The card is Ada's only match: the row says how she was found.
    const row = page.getByRole('table', { name: 'Members found' }).getByRole('row', { name: /Ada Lovelace/ })
    await expect.poll(() => row.innerText()).toMatch(/\tcard$/)
    expect(await page.getByRole('table', { name: 'Members found' }).getByRole('row').count()).toBe(2)
    await row.getByRole('link', { name: 'Ada Lovelace' }).click()
    await page.waitForURL(/\/members\/ada$/)
    await page.getByRole('heading', { name: /Ada Lovelace/ }).waitFor()
    const before = await numberIn(page, 'available')

    await page.getByRole('button', { name: 'Adjust points' }).click()
    const dialog = page.getByRole('dialog', { name: 'Adjust points' })
    await dialog.getByRole('button', { name: 'Adjust points' }).click()
    await dialog.getByText('Points is required').waitFor()
    await dialog.getByText('A reason is required').waitFor()
    await dialog.getByLabel('Points').fill('250')
    await dialog.getByLabel('Reason').fill('Goodwill: late delivery, ticket 4411')
    await dialog.getByRole('button', { name: 'Adjust points' }).click()
    await page.getByText(/Adjusted \+250 points/).waitFor()
    await expect.poll(() => numberIn(page, 'available')).toBe(before + 250)
    const newest = page.getByRole('table', { name: 'Journal' }).getByRole('row').nth(1)
    await expect.poll(() => newest.innerText()).toMatch(/adjust\s+\+250[\s\S]*Goodwill: late delivery[\s\S]*operator admin/)

    // The server's refusal shows next to the field it names: this card is Grace's.
    await page.getByLabel('Number').fill('5100000000000001')
    await page.getByRole('button', { name: 'Issue card' }).click()
    const numberField = page.locator('.field', { hasText: 'Number' })
    await numberField.locator('.field-error').waitFor()
    expect(await numberField.locator('.field-error').innerText()).toMatch(/taken|issued|already/i)
    // The balance chart steps through the seeded purchases, the redemption and the adjustment.
    const chart = page.getByRole('region', { name: 'Balance over time' })
    await chart.locator('path.line').waitFor()
    expect((await chart.locator('.chart-legend').innerText()).replace(/,/g, '')).toContain(String(before + 250))
    await shoot(page, 'member')
    await context.close()
  })

  it('shows what a member owes after the return of a purchase whose points it had spent', async () => {
    const { context, page } = await system.page('support')
    const created = await page.evaluate(async () => {
      const reply = await fetch('/v1/members', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'owen', program: 'demo', firstName: 'Owen', lastName: 'Owes' }),
      })
      return reply.status
    })
    expect(created).toBe(201)
    const engine = system.harness.engine
    const ok = { status: 'ok' }
    const purchase = { op: 'earn', account: 'owen', key: 'buy', points: 300, ref: 'order-9', amount: 3000 }
    expect(await engine.execute(purchase)).toMatchObject(ok)
    const { balance } = await engine.execute({ op: 'balance', account: 'owen' })
    expect(await engine.execute({ op: 'redeem', account: 'owen', key: 'spend', points: balance!.available })).toMatchObject(ok)
    // The whole purchase comes back after its points were spent: the demo program lets it go into debt.
    expect(await engine.execute({ op: 'reverse', account: 'owen', key: 'return', ref: 'order-9' })).toMatchObject(ok)
    await page.goto(`${system.url}/members/owen`)
    await page.getByRole('heading', { name: /Owen Owes/ }).waitFor()
    const debt = page.locator('.stat', { hasText: 'Debt' })
    await debt.waitFor()
    expect(await debt.innerText()).toMatch(/Debt\s+300\s+Owed after returns/i)
    await context.close()
  })

  it('edits a rule, shows the validator error at its field, previews a basket and publishes it live', async () => {
    const { context, page } = await system.page('admin')
    await page.getByRole('link', { name: 'Rules & campaigns' }).click()
    const rules = page.getByRole('table', { name: 'Earn rules' })
    await rules.getByRole('row', { name: /1 point per \$1/ }).getByRole('button', { name: 'Edit' }).click()
    const editor = page.getByRole('region', { name: 'Editor' })
    await editor.getByLabel('Points', { exact: true }).fill('3')
    await page.getByTestId('draft-changes').waitFor()
    expect(await page.getByTestId('draft-changes').innerText()).toBe('1 unpublished change')

    // An amount the validator refuses: its message appears under the field.
    await editor.getByLabel('For every (USD)').fill('0')
    await page.getByRole('button', { name: 'Check' }).click()
    const perField = editor.locator('.field', { hasText: 'For every' })
    await perField.locator('.field-error').waitFor()
    expect(await perField.locator('.field-error').innerText()).toMatch(/must be a positive integer/i)
    await page.getByRole('link', { name: 'programs[0].rules[0].per' }).waitFor()
    await editor.getByLabel('For every (USD)').fill('1.00')

    // Two lattes on a Wednesday: live gives 9 (base) + 20 (coffee), the draft 27 + 20.
    const preview = page.getByRole('region', { name: 'Preview' })
    await preview.getByLabel('As of').fill('2026-11-25T12:00')
    await preview.getByRole('button', { name: 'Preview draft vs live' }).click()
    await preview.getByTestId('preview-result').waitFor()
    expect(await numberIn(page, 'preview-draft-points')).toBe(47)
    expect(await preview.getByTestId('preview-result').innerText()).toMatch(/Live \(v1\)\s+29/i)
    expect(await preview.getByRole('table', { name: 'Points per rule' }).innerText()).toMatch(/1 point per \$1\s+rule\s+9\s+27/)
    // Tall enough for the sticky preview column to show its result.
    await shoot(page, 'rules-editor', 1900)
    await page.setViewportSize({ width: 1440, height: 900 })

    await page.getByRole('button', { name: 'Publish…' }).click()
    const publish = page.getByRole('dialog', { name: 'Publish a new ruleset version' })
    expect(await publish.innerText()).toContain('demo: rule base changed')
    await publish.getByLabel('Note').fill('Triple base points')
    await publish.getByRole('button', { name: 'Publish and make live' }).click()
    await page.getByText('Published v2; it is live now.').waitFor()
    await expect.poll(() => page.getByTestId('live-version').innerText()).toBe('v2')
    const active = system.harness.engine.rules.active()
    expect(active?.version).toBe(2)
    expect(active?.doc.programs[0]?.rules[0]).toMatchObject({ id: 'base', points: 3, per: 100 })
    await context.close()
  })

  it('refuses to make live a version that would strand members, says why, and makes it live when told to anyway', async () => {
    const engine = system.harness.engine
    const live = engine.rules.active()!
    // The demo's members are bronze; this version has no bronze tier.
    const doc = structuredClone(live.doc)
    doc.programs[0]!.tiers = doc.programs[0]!.tiers.filter((tier) => tier.id !== 'bronze').map((tier, i) => (i === 0 ? { ...tier, threshold: 0 } : tier))
    const stored = await engine.rules.publish(doc, { note: 'no bronze' })
    expect(stored).toMatchObject({ ok: true, active: false })
    const version = (stored as { version: number }).version
    const { context, page } = await system.page('admin')
    await page.getByRole('link', { name: 'Versions' }).click()
    await page.getByRole('row', { name: new RegExp(`v${version}`) }).getByRole('button', { name: 'Make live' }).click()
    const dialog = page.getByRole('dialog', { name: `Make v${version} live` })
    await dialog.getByRole('button', { name: `Make v${version} live` }).click()
    await dialog.getByRole('button', { name: `Make v${version} live anyway` }).waitFor()
    expect(await dialog.innerText()).toContain('Accounts are in a program or tier')
    expect(await dialog.innerText()).toMatch(/tier bronze of program demo is missing, and \d+ accounts are in it/)
    expect(engine.rules.active()!.version).toBe(live.version)
    await dialog.getByRole('button', { name: `Make v${version} live anyway` }).click()
    await page.getByText(`v${version} is live`).waitFor()
    expect(engine.rules.active()!.version).toBe(version)
    // Back to what the later tests expect.
    expect(await engine.rules.activate(live.version, { force: true })).toEqual({ ok: true })
    await context.close()
  })

  it('registers a terminal, shows its secret once, rotates and revokes it', async () => {
    const { context, page } = await system.page('admin')
    await page.getByRole('link', { name: 'Terminals' }).click()
    const register = page.getByRole('form', { name: 'Register a terminal' })
    await register.getByLabel('Terminal id').fill('till-9')
    await register.getByLabel('Name').fill('Front till, Main St.')
    await register.getByLabel('Store').fill('store-009')
    await register.getByRole('button', { name: 'Register terminal' }).click()
    const secret = await page.getByTestId('terminal-secret').innerText()
    expect(secret.length).toBeGreaterThanOrEqual(16)
    expect(await system.harness.engine.credentials.verifyTerminal('till-9', secret)).toMatchObject({ id: 'till-9' })
    const row = page.getByRole('table', { name: 'Terminals' }).getByRole('row', { name: /till-9/ })
    expect(await row.innerText()).toMatch(/store-009[\s\S]*enabled[\s\S]*offline/)
    await shoot(page, 'terminals')
    await page.getByRole('button', { name: 'I have stored it' }).click()
    expect(await page.getByTestId('terminal-secret').count()).toBe(0)

    await row.getByRole('button', { name: 'Rotate secret' }).click()
    await page.getByRole('dialog', { name: 'Rotate the secret' }).getByRole('button', { name: 'Rotate secret' }).click()
    const rotated = await page.getByTestId('terminal-secret').innerText()
    expect(rotated).not.toBe(secret)
    expect(await system.harness.engine.credentials.verifyTerminal('till-9', secret)).toBeUndefined()

    await row.getByRole('button', { name: 'Revoke' }).click()
    await page.getByRole('dialog', { name: 'Revoke the terminal' }).getByRole('button', { name: 'Revoke' }).click()
    await expect.poll(() => row.innerText()).toMatch(/revoked/)
    await context.close()
  })

  it('issues an API token, shows its secret once, and a revoked token is refused', async () => {
    const { context, page } = await system.page('admin')
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API tokens' }).click()
    const form = page.getByRole('form', { name: 'Issue a token' })
    await form.getByRole('button', { name: 'Issue token' }).click()
    await form.getByText('A name is required').waitFor()
    await form.getByLabel('Name').fill('Acme payments')
    await form.getByLabel('Role').selectOption('partner')
    await form.getByRole('button', { name: 'Issue token' }).click()
    const secret = await page.getByTestId('token-secret').innerText()
    const id = secret.split('.')[0]!
    expect(secret).toMatch(/^tok_\w+\.\S{16,}$/)
    const asToken = () => fetch(`${system.url}/v1/session`, { headers: { authorization: `Bearer ${secret}` } })
    const accepted = await asToken()
    expect(accepted.status).toBe(200)
    expect(await accepted.json()).toMatchObject({ role: 'partner' })
    const tokens = page.getByRole('table', { name: 'Tokens' })
    const row = tokens.getByRole('row', { name: /Acme payments/ })
    await expect.poll(() => row.innerText()).toMatch(new RegExp(`${id}\\s+Partner[\\s\\S]*active`))
    // The list has the id, never the secret.
    expect(await tokens.innerText()).not.toContain(secret)
    await shoot(page, 'tokens')
    await page.getByRole('button', { name: 'I have stored it' }).click()
    expect(await page.getByTestId('token-secret').count()).toBe(0)

    await row.getByRole('button', { name: 'Revoke' }).click()
    await page.getByRole('dialog', { name: 'Revoke the token' }).getByRole('button', { name: 'Revoke' }).click()
    await expect.poll(() => row.innerText()).toMatch(/revoked/)
    expect((await asToken()).status).toBe(401)
    await row.getByRole('button', { name: 'Restore' }).click()
    await expect.poll(() => row.innerText()).toMatch(/active/)
    expect((await asToken()).status).toBe(200)
    await context.close()
  })

  it('lists every change in the audit log, filtered by action', async () => {
    const { context, page } = await system.page('admin')
    await page.getByRole('link', { name: 'Audit log' }).click()
    const records = page.getByRole('table', { name: 'Audit records' })
    await records.waitFor()
    const all = await records.innerText()
    for (const action of ['ruleset.publish', 'terminal.issue', 'terminal.rotate', 'terminal.disable', 'member.create']) {
      expect(all).toContain(action)
    }
    await page.getByLabel('Action').fill('terminal.')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.waitForURL(/action=terminal\./)
    await expect.poll(async () => (await records.innerText()).includes('member.create')).toBe(false)
    const actions = await records.locator('tbody tr td:nth-child(3)').allInnerTexts()
    expect(actions).toEqual(['terminal.disable', 'terminal.rotate', 'terminal.issue'])
    await page.getByLabel('Action').fill('')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(async () => (await records.innerText()).includes('member.create')).toBe(true)
    await shoot(page, 'audit')
    await context.close()
  })

  it('filters the audit log by days of the browser\'s time zone, the zone its times are shown in', async () => {
    const { context, page } = await system.page('admin')
    const issued = await page.evaluate(async () => {
      const reply = await fetch('/v1/tokens', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Audit day check', role: 'partner' }),
      })
      const { token } = await reply.json() as { token: { id: string } }
      const audit = await fetch(`/v1/audit?target=${encodeURIComponent(token.id)}`)
      return { id: token.id, at: (await audit.json() as { records: { at: number }[] }).records[0]!.at }
    })
    await context.close()
    // A zone whose calendar day is not UTC's at that moment: UTC-12 before noon UTC, UTC+14 after.
    const timezoneId = new Date(issued.at).getUTCHours() < 12 ? 'Etc/GMT+12' : 'Etc/GMT-14'
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: timezoneId }).format(issued.at)
    const nextDay = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10)
    const away = await system.page('admin', { timezoneId })
    await away.page.getByRole('link', { name: 'Audit log' }).click()
    await away.page.getByLabel('Target').fill(issued.id)
    await away.page.getByLabel('From').fill(day)
    await away.page.getByLabel('Before').fill(nextDay)
    await away.page.getByRole('button', { name: 'Search' }).click()
    await away.page.waitForURL(/to=/)
    // The record was made on `day` where this browser is: a search of that day finds it.
    const found = away.page.getByRole('table', { name: 'Audit records' }).or(away.page.getByText('No records'))
    await found.waitFor()
    expect(await found.innerText()).toContain('token.issue')
    await away.context.close()
  })

  it('keeps a marketer to its role: no terminals, no adjustments, and the server refuses them too', async () => {
    const { context, page } = await system.page('marketer')
    const nav = page.getByRole('navigation', { name: 'Main' })
    await nav.getByRole('link', { name: 'Rules & campaigns' }).waitFor()
    expect(await nav.getByRole('link', { name: 'Terminals' }).count()).toBe(0)
    expect(await nav.getByRole('link', { name: 'Audit log' }).count()).toBe(0)
    expect(await nav.getByRole('link', { name: 'Users' }).count()).toBe(0)
    expect(await nav.getByRole('link', { name: 'API tokens' }).count()).toBe(0)
    await page.goto(`${system.url}/terminals`)
    await page.getByText('Not available for your role').waitFor()

    await page.goto(`${system.url}/members/ada`)
    await page.getByRole('heading', { name: /Ada Lovelace/ }).waitFor()
    expect(await page.getByRole('button', { name: 'Adjust points' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Suspend' }).count()).toBe(0)

    const refused = await page.evaluate(async () => {
      const adjust = await fetch('/v1/accounts/ada/adjust', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'marketer-try', points: 1000, reason: 'just because' }),
      })
      const terminals = await fetch('/v1/terminals')
      return [adjust.status, (await adjust.json()).status, terminals.status]
    })
    expect(refused).toEqual([403, 'unauthorized', 403])
    await context.close()
  })

  it('returns to the login page when the session ends, and back to the page after logging in', async () => {
    const { context, page } = await system.page('support')
    await page.goto(`${system.url}/members/grace`)
    await page.getByRole('heading', { name: /Grace Hopper/ }).waitFor()
    // Support may adjust: the button is there.
    await page.getByRole('button', { name: 'Adjust points' }).waitFor()
    // The server forgets nothing here: the browser loses its cookie, as when a session expires.
    await context.clearCookies()
    await page.getByRole('link', { name: 'Members' }).click()
    await page.waitForURL(/\/login\?next=%2Fmembers$/)
    await page.getByText('Your session has expired. Log in again.').waitFor()
    await page.getByLabel('User name').fill('sam')
    await page.getByLabel('Password').fill('support-password-1')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL(/\/members$/)
    await page.getByLabel('Card, email, phone, name or member id').fill('Hopper')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor()
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    const after = await page.evaluate(async () => (await fetch('/v1/session')).status)
    expect(after).toBe(401)
    await context.close()
  })

  it('creates a member through the form: a taken email shows under its field, then the new member page', async () => {
    const { context, page } = await system.page('support')
    await page.getByRole('link', { name: 'Members' }).click()
    await page.getByRole('button', { name: 'New member' }).click()
    const dialog = page.getByRole('dialog', { name: 'New member' })
    await dialog.getByRole('button', { name: 'Create member' }).click()
    await dialog.getByText('A member id is required').waitFor()
    await dialog.getByLabel('Member id').fill('lin')
    await dialog.getByLabel('First name').fill('Lin')
    await dialog.getByLabel('Last name').fill('Hua')
    await dialog.getByLabel('Email', { exact: true }).fill('ada@example.com')
    await dialog.getByLabel('Phone').fill('+4930123456')
    await dialog.getByLabel('Birth date').fill('1990-04-02')
    await dialog.getByLabel('Country').fill('de')
    await dialog.getByLabel('Card number').fill('6000 0000 0000 0042')
    await dialog.getByText('May be emailed').click()
    await dialog.getByRole('button', { name: 'Create member' }).click()
    // Ada has this email: the server's 409 names the field, and the form shows it there.
    const email = dialog.locator('.field', { hasText: 'Email' })
    await email.locator('.field-error').waitFor()
    expect(await email.locator('.field-error').innerText()).toMatch(/belongs to another member|taken/i)
    await shoot(page, 'members-new')

    await dialog.getByLabel('Email', { exact: true }).fill('lin@example.com')
    await dialog.getByRole('button', { name: 'Create member' }).click()
    await page.waitForURL(/\/members\/lin$/)
    await page.getByRole('heading', { name: /Lin Hua/ }).waitFor()
    await page.getByText('Member created.').waitFor()
    const profile = await page.getByRole('region', { name: 'Profile' }).innerText()
    expect(profile).toMatch(/lin@example\.com[\s\S]*\+4930123456[\s\S]*1990-04-02[\s\S]*DE[\s\S]*Consents\s+email/)
    expect(await page.getByRole('region', { name: 'Cards and identifiers' }).innerText()).toContain('6000000000000042')
    // The demo program's welcome bonus is the chart's one step, carried on to now.
    const chart = page.getByRole('region', { name: 'Balance over time' })
    await chart.locator('path.line').waitFor({ state: 'attached' })
    const balance = system.harness.engine.execute({ op: 'balance', account: 'lin' })
    expect(await chart.locator('.chart-legend').innerText()).toMatch(new RegExp(`balance\\s+${(await balance).balance?.available}$`))
    expect(await chart.locator('path.line').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+L[\d.]+,[\d.]+L[\d.]+,[\d.]+$/)
    expect(system.harness.engine.members.get('lin')).toMatchObject({ program: 'demo', country: 'DE' })
    await context.close()
  })

  it('pages through a name search past its first 50 members, each member once', async () => {
    const { context, page } = await system.page('support')
    const created = await page.evaluate(async () => {
      const statuses: number[] = []
      for (let i = 1; i <= 55; i++) {
        const reply = await fetch('/v1/members', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `moore-${i}`, program: 'demo', firstName: `Pat${i}`, lastName: 'Moore' }),
        })
        statuses.push(reply.status)
      }
      return statuses
    })
    expect(new Set(created)).toEqual(new Set([201]))
    await page.getByRole('link', { name: 'Members' }).click()
    await page.getByLabel('Card, email, phone, name or member id').fill('Moore')
    await page.getByRole('button', { name: 'Search' }).click()
    const rows = page.getByRole('table', { name: 'Members found' }).getByRole('row')
    await expect.poll(() => rows.count()).toBe(51)
    await page.getByRole('button', { name: 'Show more' }).click()
    await expect.poll(() => rows.count()).toBe(56)
    const ids = await page.getByRole('table', { name: 'Members found' }).locator('tbody tr td:first-child .mono').allInnerTexts()
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: 55 }, (_, i) => `moore-${i + 1}`)))
    expect(await page.getByRole('button', { name: 'Show more' }).count()).toBe(0)
    await context.close()
  })

  it('lets an admin add a user, refusing a weak password at its field, and the user logs in', async () => {
    const { context, page } = await system.page('admin')
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
    const list = page.getByRole('table', { name: 'Users' })
    await list.getByRole('row', { name: /mara/ }).waitFor()
    expect(await list.innerText()).toMatch(/sam\s+Support agent/)
    const form = page.getByRole('form', { name: 'Add a user' })
    await form.getByLabel('User name').fill('lee')
    await form.getByLabel('Role').selectOption('marketer')
    await form.getByLabel('Password').fill('short')
    await form.getByRole('button', { name: 'Add user' }).click()
    const password = form.locator('.field', { hasText: 'Password' })
    await password.locator('.field-error').waitFor()
    expect(await password.locator('.field-error').innerText()).toMatch(/password/i)
    await form.getByLabel('Password').fill('a long enough passphrase')
    await form.getByRole('button', { name: 'Add user' }).click()
    await page.getByText('Added lee; they can log in now.').waitFor()
    await expect.poll(() => list.getByRole('row', { name: /lee/ }).innerText()).toMatch(/lee\s+Marketer/)
    await shoot(page, 'users')
    await context.close()

    const fresh = await system.page()
    await fresh.page.goto(`${system.url}/login`)
    await fresh.page.getByLabel('User name').fill('lee')
    await fresh.page.getByLabel('Password').fill('a long enough passphrase')
    await fresh.page.getByRole('button', { name: 'Log in' }).click()
    expect(await fresh.page.getByTestId('user').innerText()).toMatch(/lee\s+Marketer/)
    const nav = fresh.page.getByRole('navigation', { name: 'Main' })
    await nav.getByRole('link', { name: 'Rules & campaigns' }).waitFor()
    expect(await nav.getByRole('link', { name: 'Users' }).count()).toBe(0)
    await fresh.context.close()
  })

  it('disables a user: their session ends at once and they cannot log in until enabled again', async () => {
    const login = () => fetch(`${system.url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'lee', password: 'a long enough passphrase' }),
    })
    const before = await login()
    expect(before.status).toBe(200)
    const cookie = before.headers.get('set-cookie')!.split(';')[0]!
    const { context, page } = await system.page('admin')
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
    const list = page.getByRole('table', { name: 'Users' })
    // No disabling yourself: the button is there but off, and says why.
    const self = list.getByRole('row', { name: /admin/ })
    expect(await self.getByRole('button', { name: 'Disable' }).isDisabled()).toBe(true)
    expect(await self.locator('[title]').getAttribute('title')).toBe('You cannot disable yourself')

    const row = list.getByRole('row', { name: /lee/ })
    await row.getByRole('button', { name: 'Disable' }).click()
    await page.getByRole('dialog', { name: 'Disable the user' }).getByRole('button', { name: 'Disable' }).click()
    await page.getByText('Disabled lee; their sessions have ended.').waitFor()
    await expect.poll(() => row.innerText()).toMatch(/disabled/)
    expect((await fetch(`${system.url}/v1/session`, { headers: { cookie } })).status).toBe(401)
    expect((await login()).status).toBe(401)

    await row.getByRole('button', { name: 'Enable' }).click()
    await page.getByText('Enabled lee; they can log in again.').waitFor()
    expect((await login()).status).toBe(200)
    await context.close()
  })

  it('leaves a household with one request however fast Leave household is clicked, and shows the server\'s refusal', async () => {
    const { context, page } = await system.page('support')
    const link = async () => page.evaluate(async () => {
      const reply = await fetch('/v1/members/katherine/household', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ master: 'barbara' }),
      })
      return reply.status
    })
    await page.goto(`${system.url}/members/katherine`)
    expect(await link()).toBe(200)
    await page.reload()
    const household = page.getByRole('region', { name: 'Household' })
    const leave = household.getByRole('button', { name: 'Leave household' })
    await leave.waitFor()
    // The request is held a moment, as on a slow network; every one sent is counted.
    const unlinks: string[] = []
    await page.route('**/v1/members/katherine/household', async (route) => {
      if (route.request().method() !== 'DELETE') return route.continue()
      unlinks.push(route.request().url())
      await new Promise((resolve) => setTimeout(resolve, 300))
      return route.continue()
    })
    // Two clicks in one go, faster than any reply.
    await leave.evaluate((button: HTMLButtonElement) => {
      button.click()
      button.click()
    })
    expect(await leave.isDisabled()).toBe(true)
    await page.getByText('Unlinked from the household; pooled points stay with the household.').waitFor()
    expect(unlinks).toHaveLength(1)
    expect(system.harness.engine.members.get('katherine')?.household).toBeUndefined()
    await household.getByText('Not in a household.').waitFor()

    // Linked again, then unlinked behind the page's back: the click gets the server's refusal, shown as one.
    expect(await link()).toBe(200)
    await page.reload()
    await leave.waitFor()
    expect(await system.harness.engine.members.unlinkHousehold('katherine', { kind: 'admin', id: 'ops', from: 'test' })).toMatchObject({ ok: true })
    await leave.click()
    const alert = household.getByRole('alert')
    await alert.waitFor()
    expect(await alert.innerText()).toMatch(/^Not unlinked: member katherine is in no household$/)
    expect(await leave.isDisabled()).toBe(false)
    expect(unlinks).toHaveLength(2)
    await context.close()
  })

  it('removes a profile field cleared in the edit form (sent as null), and keeps the others', async () => {
    const { context, page } = await system.page('support')
    await page.goto(`${system.url}/members/alan`)
    await page.getByRole('heading', { name: /Alan Turing/ }).waitFor()
    const patches: unknown[] = []
    page.on('request', (request) => {
      if (request.method() === 'PATCH') patches.push(request.postDataJSON())
    })
    await page.getByRole('button', { name: 'Edit profile' }).click()
    const dialog = page.getByRole('dialog', { name: 'Edit profile' })
    await dialog.getByLabel('Email', { exact: true }).fill('')
    await dialog.getByLabel('Country').fill('')
    await dialog.getByLabel('Gender').fill('m')
    await dialog.getByRole('button', { name: 'Save profile' }).click()
    await page.getByText('Profile saved.').waitFor()
    expect(patches).toEqual([{ email: null, gender: 'm', country: null }])
    const profile = page.getByRole('region', { name: 'Profile' })
    await expect.poll(() => profile.innerText()).toMatch(/Email\s+—\s+Phone\s+—\s+Birth date\s+—\s+Gender\s+m\s+Country\s+—/)
    expect(await page.getByRole('region', { name: 'Cards and identifiers' }).innerText()).toContain('No cards, phone or email.')
    const alan = system.harness.engine.members.get('alan')!
    expect(alan).toMatchObject({ firstName: 'Alan', lastName: 'Turing', gender: 'm' })
    expect(alan).not.toHaveProperty('email')
    expect(alan).not.toHaveProperty('country')
    expect(system.harness.engine.members.resolve('email', 'alan@example.com')).toBeUndefined()
    await context.close()
  })

  it('publishing live a draft that would strand members shows the server\'s reasons, not validator errors, and goes live only when confirmed', async () => {
    const engine = system.harness.engine
    const live = engine.rules.active()!
    const { context, page } = await system.page('admin')
    await page.getByRole('link', { name: 'Programs & tiers' }).click()
    // Without bronze, the tier the demo's members are in; silver becomes the first tier.
    const tiers = page.getByRole('table', { name: 'Tiers' })
    await tiers.getByRole('button', { name: 'Remove tier 1' }).click()
    await tiers.getByLabel('Tier 1 threshold').fill('0')
    await page.getByTestId('draft-changes').waitFor()
    const versionsBefore = engine.rules.list().length
    await page.getByRole('button', { name: 'Publish…' }).click()
    const publish = page.getByRole('dialog', { name: 'Publish a new ruleset version' })
    await publish.getByLabel('Note').fill('No bronze')
    await publish.getByRole('button', { name: 'Publish and make live' }).click()
    const refusal = publish.getByRole('alert', { name: 'Not made live' })
    await refusal.waitFor()
    expect(await refusal.innerText()).toMatch(/The server did not publish it[\s\S]*Tier bronze of program demo is missing, and \d+ accounts are in it/)
    // Not the validator's errors: the draft is fine, and the page lists nothing to fix.
    expect(await page.locator('.draft-errors').count()).toBe(0)
    // Nothing was stored, nothing went live.
    expect(engine.rules.list().length).toBe(versionsBefore)
    expect(engine.rules.active()!.version).toBe(live.version)
    // Going ahead takes a tick first.
    const anyway = publish.getByRole('button', { name: 'Publish and make live anyway' })
    expect(await anyway.isDisabled()).toBe(true)
    await refusal.getByLabel(/Make it live anyway/).check()
    await anyway.click()
    await page.getByText(`Published v${versionsBefore + 1}; it is live now.`).waitFor()
    const forced = engine.rules.active()!
    expect(forced.version).toBe(versionsBefore + 1)
    expect(forced.doc.programs[0]!.tiers.map((tier) => tier.id)).toEqual(['silver', 'gold', 'platinum'])
    const audit = await page.evaluate(async () => (await (await fetch('/v1/audit?action=ruleset.publish')).json()) as { records: { target: string; detail: unknown }[] })
    expect(audit.records[0]).toMatchObject({ target: String(versionsBefore + 1), detail: { activate: true, force: true, note: 'No bronze' } })
    // Back to what the later tests expect.
    expect(await engine.rules.activate(live.version, { force: true })).toEqual({ ok: true })
    await context.close()
  })

  it('transfers points from one member to another as support: field errors first, the server\'s refusal under its field, then both balances move', async () => {
    const engine = system.harness.engine
    const available = async (account: string) => (await engine.execute({ op: 'balance', account })).balance!.available
    const [graceBefore, edsgerBefore] = [await available('grace'), await available('edsger')]
    const { context, page } = await system.page('support')
    await page.goto(`${system.url}/members/grace`)
    await page.getByRole('button', { name: 'Transfer points' }).click()
    const dialog = page.getByRole('dialog', { name: 'Transfer points' })
    await dialog.getByRole('button', { name: 'Transfer points' }).click()
    await dialog.getByText('The receiving member is required').waitFor()
    await dialog.getByText('Points is required').waitFor()
    // Nobody has this id: the gateway's refusal names `to`, and shows under that field.
    await dialog.getByLabel('To member').fill('nobody-here')
    await dialog.getByLabel('Points').fill('40')
    await dialog.getByRole('button', { name: 'Transfer points' }).click()
    const to = dialog.locator('.field', { hasText: 'To member' })
    await to.locator('.field-error').waitFor()
    expect(await to.locator('.field-error').innerText()).toMatch(/nobody-here/)
    expect(await available('grace')).toBe(graceBefore)
    await dialog.getByLabel('To member').fill('edsger')
    await dialog.getByLabel('Reason').fill('Shared with a friend')
    await dialog.getByRole('button', { name: 'Transfer points' }).click()
    await page.getByText('Moved 40 points to edsger.').waitFor()
    await expect.poll(() => numberIn(page, 'available')).toBe(graceBefore - 40)
    expect(await available('edsger')).toBe(edsgerBefore + 40)
    await context.close()
    // A marketer may not move points: no button.
    const marketer = await system.page('marketer')
    await marketer.page.goto(`${system.url}/members/grace`)
    await marketer.page.getByRole('heading', { name: /Grace Hopper/ }).waitFor()
    expect(await marketer.page.getByRole('button', { name: 'Transfer points' }).count()).toBe(0)
    await marketer.context.close()
  })
})
