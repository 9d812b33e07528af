/**
 * Draft editing helpers: immutable updates by path (and the pruning of
 * emptied optional parts), errors by path, schedules (status, activate,
 * deactivate) including validity of the windows they write, a summary of
 * what a draft changes, and where an error's field is edited.
 */
import { describe, expect, it } from 'vitest'
import { demoRuleset } from '../../../engine/src/rules/demo.ts'
import { validateRuleset } from '../../../engine/src/rules/validate.ts'
import { rulesetInstant as engineInstant } from '../../../engine/src/rules/calendar.ts'
import { rulesetInstant } from './calendar.ts'
import {
  activateCampaign,
  activateRule,
  campaignStatus,
  compact,
  deactivateCampaign,
  deactivateRule,
  describeRule,
  errorLocation,
  errorsAt,
  errorsUnder,
  getIn,
  moveItem,
  newCampaign,
  newRule,
  pathText,
  ruleStatus,
  rulesetChanges,
  setAt,
  setIn,
  uniqueId,
  windowStatus,
} from './ruleset.ts'
import type { RuleDoc, RulesetDoc } from './types.ts'

const now = Date.parse('2026-11-23T12:00:00Z')
const clone = (): RulesetDoc => structuredClone(demoRuleset)

describe('updates by path', () => {
  it('sets a value, sharing what did not change', () => {
    const doc = clone()
    const next = setIn(doc, ['programs', 0, 'tiers', 1, 'bonus'], 750)
    expect(next.programs[0]!.tiers[1]!.bonus).toBe(750)
    expect(doc.programs[0]!.tiers[1]!.bonus).toBe(500)
    expect(next.programs[0]!.rules).toBe(doc.programs[0]!.rules)
    expect(next.programs[0]!.tiers[0]).toBe(doc.programs[0]!.tiers[0])
    expect(getIn(next, ['programs', 0, 'tiers', 1, 'bonus'])).toBe(750)
    expect(getIn(next, ['programs', 3, 'tiers'])).toBeUndefined()
  })

  it('creates missing objects and removes a key set to undefined', () => {
    const doc = clone()
    const withCap = setAt(doc, ['programs', 0, 'rules', 0, 'caps', 'perTransaction'], 50)
    expect(withCap.programs[0]!.rules[0]!.caps).toEqual({ perTransaction: 50 })
    const without = setAt(withCap, ['programs', 0, 'rules', 0, 'caps', 'perTransaction'], undefined)
    // The emptied optional `caps` goes too; the rule (an array item) stays.
    expect('caps' in without.programs[0]!.rules[0]!).toBe(false)
    expect(without.programs[0]!.rules[0]).toEqual(doc.programs[0]!.rules[0])
  })

  it('prunes only what the change emptied', () => {
    const doc = setAt(clone(), ['programs', 0, 'rules', 0, 'when', 'hours', 'from'], '08:00')
    const kept = setAt(setAt(doc, ['programs', 0, 'rules', 0, 'when', 'minSpend'], 500), ['programs', 0, 'rules', 0, 'when', 'hours', 'from'], undefined)
    expect(kept.programs[0]!.rules[0]!.when).toEqual({ minSpend: 500 })
  })

  it('writes validator paths, and finds errors at and under a path', () => {
    expect(pathText(['programs', 0, 'rules', 2, 'per'])).toBe('programs[0].rules[2].per')
    const errors = [
      { path: 'programs[0].rules[2].per', message: 'a' },
      { path: 'programs[0].rules[2]', message: 'b' },
      { path: 'programs[0].rules[20].per', message: 'c' },
      { path: 'programs[0].rules[2].when.channels[1]', message: 'd' },
    ]
    expect(errorsAt(errors, 'programs[0].rules[2]').map((e) => e.message)).toEqual(['b'])
    expect(errorsUnder(errors, 'programs[0].rules[2]').map((e) => e.message)).toEqual(['a', 'b', 'd'])
  })

  it('compacts optional objects', () => {
    expect(compact({ a: undefined, b: [], c: {}, d: 0, e: false })).toEqual({ d: 0, e: false })
    expect(compact({ a: undefined, b: [] })).toBeUndefined()
  })

  it('moves and names items', () => {
    expect(moveItem(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c'])
    expect(moveItem(['a', 'b', 'c'], 2, 5)).toEqual(['a', 'b', 'c'])
    expect(uniqueId('bonus', ['bonus', 'bonus-2'])).toBe('bonus-3')
    expect(uniqueId('fresh', ['bonus'])).toBe('fresh')
    expect(newRule('perSpend', ['new-perspend'])).toEqual({ id: 'new-perspend-2', kind: 'perSpend', points: 1, per: 100 })
  })
})

describe('schedules', () => {
  const rule = (when?: RuleDoc['when']): RuleDoc => ({ id: 'r', kind: 'fixed', points: 5, ...(when === undefined ? {} : { when }) })

  it('tells active, scheduled and ended windows apart (to is exclusive)', () => {
    expect(windowStatus(undefined, undefined, now)).toBe('active')
    expect(windowStatus('2026-12-01T00:00:00Z', undefined, now)).toBe('scheduled')
    expect(windowStatus(undefined, '2026-11-23T12:00:00Z', now)).toBe('ended')
    expect(windowStatus('2026-11-01T00:00:00Z', '2026-11-23T12:00:01Z', now)).toBe('active')
  })

  it('deactivates a rule by ending it now, and activates it by opening its window', () => {
    const active = rule({ from: '2026-11-01T00:00:00Z', minSpend: 500 })
    const stopped = deactivateRule(active, now)
    expect(stopped.when).toEqual({ from: '2026-11-01T00:00:00Z', to: '2026-11-23T12:00:00Z', minSpend: 500 })
    expect(ruleStatus(stopped, now)).toBe('ended')
    const again = activateRule(stopped, now)
    expect(again.when).toEqual({ from: '2026-11-01T00:00:00Z', minSpend: 500 })
    expect(ruleStatus(again, now)).toBe('active')
    // A future start is dropped; a rule whose window was all it had loses `when`.
    expect(activateRule(rule({ from: '2027-01-01T00:00:00Z' }), now)).toEqual(rule())
  })

  it('reads a bare date as midnight in the program\'s time zone, as the engine does', () => {
    // Auckland is 13 hours ahead in December: a campaign from 2026-12-01 runs from 2026-11-30T11:00Z.
    const auckland = Date.parse('2026-11-30T12:00:00Z')
    const campaign = { ...newCampaign([], now), id: 'c', from: '2026-12-01', to: '2026-12-02' }
    expect(campaignStatus(campaign, auckland, 'Pacific/Auckland')).toBe('active')
    expect(campaignStatus(campaign, Date.parse('2026-12-01T11:00:00Z'), 'Pacific/Auckland')).toBe('ended')
    // In a program without a zone (UTC), as before.
    expect(campaignStatus(campaign, auckland)).toBe('scheduled')
    // Los Angeles is 8 hours behind: the same campaign still runs at 03:00Z on 2 December.
    expect(windowStatus('2026-12-01', '2026-12-02', Date.parse('2026-12-02T03:00:00Z'), 'America/Los_Angeles')).toBe('active')
    expect(ruleStatus(rule({ from: '2026-12-01' }), Date.parse('2026-12-01T07:59:59Z'), 'America/Los_Angeles')).toBe('scheduled')
    // Activating keeps a start that has come in the zone, and drops an end that has not.
    expect(activateRule(rule({ from: '2026-12-01', to: '2026-12-02' }), auckland, 'Pacific/Auckland').when).toEqual({ from: '2026-12-01', to: '2026-12-02' })
    expect(activateCampaign(campaign, auckland, 'Pacific/Auckland')).toEqual(campaign)
    // The same instants as the engine's compiler, on days the clocks change and where midnight is skipped.
    for (const [text, zone] of [
      ['2026-12-01', 'Europe/Berlin'], ['2026-03-29', 'Europe/Berlin'], ['2026-10-25', 'Europe/Berlin'],
      ['2026-09-06', 'America/Santiago'], ['2026-11-01', 'America/Havana'], ['2026-09-27', 'Pacific/Auckland'],
      ['2026-12-01T09:00:00+01:00', 'Pacific/Auckland'], ['2026-12-01', 'UTC'],
    ] as const) {
      expect(rulesetInstant(text, zone), `${text} in ${zone}`).toBe(engineInstant(text, zone))
    }
  })

  it('activates a campaign from now, for 30 days when it had ended; deactivates it now', () => {
    const ended = { ...newCampaign([], Date.parse('2026-01-01T00:00:00Z')), id: 'c' }
    expect(campaignStatus(ended, now)).toBe('ended')
    const running = activateCampaign(ended, now)
    expect(campaignStatus(running, now)).toBe('active')
    expect(running.from).toBe(ended.from)
    expect(running.to).toBe('2026-12-23T12:00:00Z')
    const future = { ...ended, from: '2027-01-01T00:00:00Z', to: '2027-02-01T00:00:00Z' }
    expect(activateCampaign(future, now)).toMatchObject({ from: '2026-11-23T12:00:00Z', to: '2027-02-01T00:00:00Z' })
    expect(campaignStatus(deactivateCampaign(running, now), now)).toBe('ended')
  })

  it('writes windows the engine validator accepts', () => {
    const doc = clone()
    const program = doc.programs[0]!
    program.rules = program.rules.map((r, i) => (i === 0 ? deactivateRule(r, now) : r))
    program.campaigns = [...(program.campaigns ?? []).map((c) => deactivateCampaign(c, now)), newCampaign(['double-weekend', 'welcome'], now)]
    expect(validateRuleset(doc)).toMatchObject({ ok: true })
  })
})

describe('rulesetChanges', () => {
  it('says nothing for the same document', () => {
    expect(rulesetChanges(demoRuleset, clone())).toEqual([])
  })

  it('lists settings, tiers, rules, campaigns and activities added, changed and removed', () => {
    const doc = clone()
    const program = doc.programs[0]!
    program.pointValue = 2
    program.expiry = { kind: 'never' }
    program.tiers[1]!.bonus = 600
    program.rules = [program.rules[0]!, { id: 'bakery', kind: 'perItem', points: 5 }]
    program.campaigns = program.campaigns!.slice(1)
    program.activities = program.activities!.map((a) => (a.id === 'birthday' ? { ...a, points: 500 } : a))
    expect(rulesetChanges(demoRuleset, doc)).toEqual([
      'demo: settings changed: pointValue, expiry',
      'demo: tier silver changed',
      'demo: rule bakery added',
      'demo: rule coffee removed',
      'demo: campaign double-weekend removed',
      'demo: activity birthday changed',
    ])
  })

  it('names programs added and removed', () => {
    const other = { ...clone().programs[0]!, id: 'cafe', name: 'Cafe' }
    expect(rulesetChanges(demoRuleset, { programs: [other] })).toEqual(['program cafe added', 'program demo removed'])
    expect(rulesetChanges(undefined, demoRuleset)).toEqual(['program demo added'])
  })
})

describe('describeRule and errorLocation', () => {
  const money = (minor: number) => `$${(minor / 100).toFixed(2)}`

  it('says what a rule gives in one line', () => {
    expect(describeRule({ id: 'a', kind: 'perSpend', points: 1, per: 100 }, money)).toBe('1 point per $1.00 spent')
    expect(describeRule({ id: 'b', kind: 'perItem', points: 10, items: { categories: ['coffee'] } }, money)).toBe('10 points per item on coffee')
    expect(describeRule({ id: 'c', kind: 'fixed', points: 200 }, money)).toBe('200 points per purchase')
    expect(describeRule({ id: 'd', kind: 'multiplier', multiplier: 1500 }, money)).toBe('×1.5 base points')
  })

  it('sends an error to the page and item that edit it', () => {
    const doc = clone()
    expect(errorLocation('programs[0].rules[1].per', doc)).toBe('/rules?program=demo&edit=rules:1')
    expect(errorLocation('programs[0].campaigns[0].rules[0].multiplier', doc)).toBe('/rules?program=demo&edit=campaigns:0')
    expect(errorLocation('programs[0].activities[2].points', doc)).toBe('/rules?program=demo&edit=activities:2')
    expect(errorLocation('programs[0].tiers[1].threshold', doc)).toBe('/programs?program=demo')
    expect(errorLocation('programs[0].rules', doc)).toBe('/rules?program=demo')
    expect(errorLocation('programs', doc)).toBe('/programs')
  })
})
