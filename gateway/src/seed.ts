/**
 * The demo a new data folder starts with, so the first transaction needs no
 * setup: the demo program (ruleset version 1), 1,000 enrolled members
 * (`member-0001` … `member-1000`, a few with segments and birthdays), one
 * POS terminal and one console admin, with fixed demo credentials printed at
 * start. Runs only on an empty registry; a folder in use is never touched.
 *
 * @module
 */
import { demoRuleset, type Engine, type Logger } from '@loyalty/engine'

export const demoCredentials = {
  terminal: { id: 'till-1', secret: 'till-1-demo-secret', store: 'store-001' },
  admin: { username: 'admin', password: 'admin-demo-password' },
}

export const demoMembers = 1000

const segments = ['vip', 'student', 'family', 'new']
const countries = ['US', 'GB', 'DE', 'FR', 'NL']

export function demoMemberId(n: number): string {
  return `member-${String(n).padStart(4, '0')}`
}

/** Seeds an empty folder; returns the lines to print, or undefined when nothing was seeded. */
export async function seedDemo(engine: Engine, log: Logger): Promise<{ lines: string[] } | undefined> {
  const fresh = engine.rules.list().length === 0 && engine.credentials.isEmpty()
  if (!fresh) return undefined
  log.info('new data folder: seeding the demo program, 1,000 members, a terminal and an admin')
  const published = await engine.rules.publish(demoRuleset, { activate: true, note: 'demo program' })
  if (!published.ok) throw new Error(`the demo ruleset is invalid: ${JSON.stringify(published.errors)}`)
  const { terminal, admin } = demoCredentials
  await engine.credentials.issueTerminal({ id: terminal.id, name: 'Demo till 1', store: terminal.store }, terminal.secret)
  await engine.credentials.addUser({ username: admin.username, role: 'admin' }, admin.password)
  const enrolments = Array.from({ length: demoMembers }, (_, i) => {
    const n = i + 1
    const member: Record<string, unknown> = { country: countries[n % countries.length] }
    if (n % 10 === 0) member['segments'] = [segments[(n / 10) % segments.length]!]
    if (n % 7 === 0) member['birthDate'] = `19${70 + (n % 30)}-${String(1 + (n % 12)).padStart(2, '0')}-15`
    return engine.execute({ op: 'enroll', account: demoMemberId(n), key: 'demo-enrol', program: 'demo', member })
  })
  const replies = await Promise.all(enrolments)
  const failed = replies.filter((r) => r.status !== 'ok' && r.status !== 'exists')
  if (failed.length > 0) throw new Error(`demo enrolment failed: ${failed[0]!.status} ${failed[0]!.message ?? ''}`)
  return {
    lines: [
      '  demo (fixed credentials: change them before real use)',
      `    terminal ${terminal.id}, secret ${terminal.secret}`,
      `    console  ${admin.username} / ${admin.password}`,
      `    members  ${demoMemberId(1)} … ${demoMemberId(demoMembers)} in program demo`,
    ],
  }
}
