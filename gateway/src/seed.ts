/**
 * The demo a new data folder starts with, so the first transaction needs no
 * setup: the demo program (ruleset version 1), 1,000 members in the registry
 * (`member-0001` … `member-1000`, with names, email, phone and a card
 * `6001000000000001` … `6001000000001000`; a few with segments and
 * birthdays), each enrolled in the program, one
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
const firstNames = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia', 'Niklaus']
const lastNames = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Ritchie', 'Perlman', 'Wirth', 'Kay']

export function demoMemberId(n: number): string {
  return `member-${String(n).padStart(4, '0')}`
}

export function demoCard(n: number): string {
  return `6001${String(n).padStart(12, '0')}`
}

/** Member n of the demo: profile and identifiers for the registry, facts for the rules. */
function demoMember(n: number) {
  const firstName = firstNames[n % firstNames.length]!
  const lastName = lastNames[(n * 7) % lastNames.length]!
  const facts: { country: string; segments?: string[]; birthDate?: string } = {
    country: countries[n % countries.length]!,
  }
  if (n % 10 === 0) facts.segments = [segments[(n / 10) % segments.length]!]
  if (n % 7 === 0) facts.birthDate = `19${70 + (n % 30)}-${String(1 + (n % 12)).padStart(2, '0')}-15`
  const profile = {
    id: demoMemberId(n),
    program: 'demo',
    firstName,
    lastName,
    email: `${firstName}.${lastName}.${n}@example.com`.toLowerCase(),
    phone: `+1555${String(n).padStart(7, '0')}`,
    cards: [{ value: demoCard(n) }],
    consents: { email: n % 3 !== 0, sms: n % 4 === 0, push: false },
    ...facts,
  }
  return { profile, facts }
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
  const members = Array.from({ length: demoMembers }, (_, i) => demoMember(i + 1))
  const seeder = { kind: 'admin' as const, id: 'seed' }
  const created = await engine.members.createMany(members.map((m) => m.profile), seeder, 'demo')
  if (created.rejected.length > 0) throw new Error(`demo members refused: ${JSON.stringify(created.rejected[0])}`)
  const enrolments = members.map(({ profile, facts }) =>
    engine.execute({ op: 'enroll', account: profile.id, key: 'demo-enrol', program: 'demo', member: facts }),
  )
  const replies = await Promise.all(enrolments)
  const failed = replies.filter((r) => r.status !== 'ok' && r.status !== 'exists')
  if (failed.length > 0) throw new Error(`demo enrolment failed: ${failed[0]!.status} ${failed[0]!.message ?? ''}`)
  return {
    lines: [
      '  demo (fixed credentials: change them before real use)',
      `    terminal ${terminal.id}, secret ${terminal.secret}`,
      `    console  ${admin.username} / ${admin.password}`,
      `    members  ${demoMemberId(1)} … ${demoMemberId(demoMembers)} in program demo,` +
        ` cards ${demoCard(1)} … ${demoCard(demoMembers)}`,
    ],
  }
}
