/**
 * The whole system for browser tests: a real engine and gateway (in memory,
 * the demo program active), the console built by Vite into a temp folder and
 * served by the gateway's own HTTP app, a few members with cards and
 * purchases, one user per role, and a headless Chromium.
 *
 * `await using system = await startConsoleSystem()`; everything is closed and
 * removed on dispose.
 *
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { build } from 'vite'
import { silentLogger } from '../../../engine/src/index.ts'
import { createHttpApp } from '../../../gateway/src/http/app.ts'
import { startHttpServer } from '../../../gateway/src/http/server.ts'
import { gatewayHarness, type GatewayHarness } from '../../../gateway/src/testing/harness.ts'

const adminUi = fileURLToPath(new URL('../../', import.meta.url))

/** Debian's Chromium (CI installs it); CHROMIUM_PATH points elsewhere. */
export const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'

export const users = {
  admin: { username: 'admin', password: 'correct horse battery staple' },
  marketer: { username: 'mara', password: 'marketer-password-1' },
  support: { username: 'sam', password: 'support-password-1' },
} as const

export type RoleName = keyof typeof users

/** Members the tests find: by name, email, phone or card. */
export const members = [
  { id: 'ada', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '+441632960001', country: 'GB', segments: ['vip'], cards: [{ value: '4000123412341234' }] },
  { id: 'grace', firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com', phone: '+12025550123', country: 'US', cards: [{ value: '5100000000000001' }] },
  { id: 'alan', firstName: 'Alan', lastName: 'Turing', email: 'alan@example.com', country: 'GB' },
  { id: 'katherine', firstName: 'Katherine', lastName: 'Johnson', email: 'katherine@example.com', country: 'US' },
  { id: 'edsger', firstName: 'Edsger', lastName: 'Dijkstra', email: 'edsger@example.com', country: 'NL', segments: ['student'] },
  { id: 'barbara', firstName: 'Barbara', lastName: 'Liskov', email: 'barbara@example.com', country: 'US' },
] as const

export interface ConsoleSystem extends AsyncDisposable {
  url: string
  harness: GatewayHarness
  browser: Browser
  /**
   * A fresh browser context (own cookies) with a page, logged in as `role`
   * unless `role` is undefined; in UTC unless `timezoneId` names another zone.
   */
  page(role?: RoleName, options?: { timezoneId?: string }): Promise<{ context: BrowserContext; page: Page }>
}

/** Builds the console into a temp folder with the package's own Vite config. */
export async function buildConsole(outDir: string): Promise<void> {
  await build({
    configFile: join(adminUi, 'vite.config.ts'),
    root: adminUi,
    logLevel: 'error',
    build: { outDir, emptyOutDir: true },
  })
}

async function seed(h: GatewayHarness, url: string): Promise<void> {
  for (const role of ['marketer', 'support'] as const) {
    await h.engine.credentials.addUser({ username: users[role].username, role }, users[role].password)
  }
  const login = await fetch(`${url}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(users.admin),
  })
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!
  for (const member of members) {
    const created = await fetch(`${url}/v1/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ ...member, program: 'demo' }),
    })
    if (created.status !== 201) throw new Error(`seeding ${member.id}: ${await created.text()}`)
  }
  const basket = { lines: [{ sku: 'latte', category: 'coffee', quantity: 2, unitPrice: 450 }, { sku: 'bagel', category: 'bakery', quantity: 1, unitPrice: 1250 }] }
  for (const [account, n] of [['ada', 3], ['grace', 1]] as const) {
    for (let i = 1; i <= n; i++) {
      const reply = await h.engine.execute({ op: 'purchase', account, key: `seed-${account}-${i}`, basket, source: { terminal: 'pos-1', store: 'store-1' } })
      if (reply.status !== 'ok') throw new Error(`seeding a purchase for ${account}: ${reply.status}`)
    }
  }
  await h.engine.execute({ op: 'redeem', account: 'ada', key: 'seed-ada-redeem', points: 50 })
}

async function logIn(page: Page, url: string, role: RoleName): Promise<void> {
  await page.goto(`${url}/login`)
  await page.getByLabel('User name').fill(users[role].username)
  await page.getByLabel('Password').fill(users[role].password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByTestId('user').waitFor()
}

export async function startConsoleSystem(): Promise<ConsoleSystem> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`)
  }
  const outDir = mkdtempSync(join(tmpdir(), 'loyalty-console-'))
  const [harness] = await Promise.all([gatewayHarness({ storage: 'memory' }), buildConsole(outDir)])
  const app = createHttpApp(harness.gateway, { logger: silentLogger, ready: () => true, consoleDir: outDir })
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', drainMs: 1000 })
  const url = `http://127.0.0.1:${server.port}`
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] })
  try {
    await seed(harness, url)
  } catch (error) {
    await browser.close()
    await server.close()
    await harness[Symbol.asyncDispose]()
    throw error
  }
  return {
    url,
    harness,
    browser,
    async page(role, options = {}) {
      const timezoneId = options.timezoneId ?? 'UTC'
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US', timezoneId })
      const page = await context.newPage()
      if (role !== undefined) await logIn(page, url, role)
      return { context, page }
    },
    async [Symbol.asyncDispose]() {
      await browser.close()
      await server.close()
      await harness[Symbol.asyncDispose]()
      rmSync(outDir, { recursive: true, force: true })
    },
  }
}
