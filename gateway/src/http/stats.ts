/**
 * Program figures for the console's dashboard: members by status, points
 * issued, redeemed, expired and outstanding, the liability in money at each
 * program's point value, accounts per tier, and the last minute of traffic
 * second by second. The engine keeps every figure as a running total, so a
 * dashboard polling these every second costs a few messages, not a scan.
 *
 * @module
 */
import type { Hono } from 'hono'
import type { Engine } from '@loyalty/engine'
import { guarded, type HttpDeps } from './guard.ts'
import { invalid, queryFields, queryInteger } from './request.ts'

const staff = { roles: ['admin', 'marketer', 'support'] as const, action: 'read program figures' }
const liveSecondsMax = 60

export function registerStats(app: Hono, deps: HttpDeps) {
  app.get('/v1/stats', guarded(deps, staff, async (c) => {
    queryFields(c, [])
    return c.json(await programFigures(deps.engine))
  }))
  app.get('/v1/stats/live', guarded(deps, staff, (c) => {
    // A misspelt `?second=5` must not answer the whole minute as if all were well.
    queryFields(c, ['seconds'])
    const seconds = queryInteger(c, 'seconds') ?? liveSecondsMax
    if (seconds < 1 || seconds > liveSecondsMax) {
      throw invalid('seconds', `seconds must be 1 to ${liveSecondsMax}`)
    }
    return c.json({ status: 'ok', series: deps.engine.live(seconds) })
  }))
}

export async function programFigures(engine: Engine) {
  const totals = await engine.totals()
  const byStatus = engine.members.countByStatus()
  const programs = engine.rules.active()?.doc.programs ?? []
  const tierNames = new Map<string, string>()
  for (const program of programs) {
    for (const tier of program.tiers) tierNames.set(`${program.id}/${tier.id}`, tier.name)
  }
  const tiers = Object.entries(totals.tiers).map(([key, accounts]) => {
    const [program, tier] = key.split('/') as [string, string]
    return { program, tier, name: tierNames.get(key) ?? tier, accounts }
  })
  // Tiers in the program's own order (lowest first), unknown ones (from an older ruleset) last.
  const ranks = new Map([...tierNames.keys()].map((key, index) => [key, index]))
  const rank = (key: string) => ranks.get(key) ?? ranks.size
  tiers.sort((a, b) => rank(`${a.program}/${a.tier}`) - rank(`${b.program}/${b.tier}`))
  const liability = programs.map((program) => {
    const points = totals.programs[program.id] ?? 0
    return { program: program.id, points, money: points * program.pointValue, currency: program.currency }
  })
  return {
    status: 'ok' as const,
    at: Date.now(),
    members: { total: byStatus.active + byStatus.suspended + byStatus.closed, ...byStatus },
    accounts: totals.accounts,
    points: {
      issued: totals.earned,
      redeemed: totals.burned,
      expired: totals.expired,
      outstanding: totals.outstanding,
      held: totals.held,
      debt: totals.debt,
    },
    liability,
    tiers,
  }
}
