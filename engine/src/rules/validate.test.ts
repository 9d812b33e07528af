/**
 * Goal: `validateRuleset` accepts a complete, realistic program unchanged, and
 * rejects each kind of mistake an operator makes with the exact path of the
 * bad value and a message saying what was expected, reporting all of them at
 * once. Method: one valid document, and a table of single edits to it.
 */
import { describe, expect, it } from 'vitest'
import type { RulesetDoc } from './types.ts'
import { validateRuleset, type RulesetError } from './validate.ts'

/** A program using every part of the document, as an operator would write it. */
function validDoc(): RulesetDoc {
  return {
    programs: [
      {
        id: 'coffee',
        name: 'Coffee Club',
        pointName: 'stars',
        currency: 'EUR',
        pointValue: 1,
        earnBase: 'net',
        timeZone: 'Europe/Paris',
        expiry: { kind: 'endOfMonth', months: 12 },
        pendingDays: 14,
        negativeBalanceOnReturn: false,
        excluded: { categories: ['gift-cards', 'tobacco'] },
        tiers: [
          { id: 'bronze', name: 'Bronze', threshold: 0, bonus: 100 },
          { id: 'silver', name: 'Silver', threshold: 10000, multiplier: 1250 },
          { id: 'gold', name: 'Gold', threshold: 20000, multiplier: 1500 },
          { id: 'platinum', name: 'Platinum', threshold: 50000, multiplier: 2000, bonus: 5000 },
        ],
        qualification: {
          basis: 'points',
          period: 'rolling12Months',
          review: 'oneDown',
          reviewDays: 365,
        },
        rules: [
          { id: 'base', name: 'A star per euro', kind: 'perSpend', points: 1, per: 100 },
          {
            id: 'pastries',
            kind: 'perItem',
            points: 5,
            items: { categories: ['pastry'], excludeSkus: ['croissant-day-old'] },
            caps: { perTransaction: 50, perMemberPerDay: 100 },
          },
          {
            id: 'spring-code',
            kind: 'fixed',
            points: 200,
            when: { promoCode: 'SPRING24', from: '2024-03-01', to: '2024-06-01T00:00:00+02:00' },
          },
          {
            id: 'happy-hour',
            kind: 'multiplier',
            multiplier: 2000,
            when: {
              daysOfWeek: [1, 2, 3, 4, 5],
              hours: { from: '15:00', to: '17:00' },
              tiers: ['gold', 'platinum'],
              channels: ['store'],
              minSpend: 500,
            },
          },
        ],
        campaigns: [
          {
            id: 'summer',
            name: 'Summer double stars',
            from: '2024-06-01T00:00:00Z',
            to: '2024-09-01T00:00:00Z',
            priority: 10,
            stacking: 'exclusive',
            when: { segments: ['students'], channels: ['app', 'web'] },
            quota: 10000,
            perMemberLimit: 3,
            rules: [{ id: 'double', kind: 'multiplier', multiplier: 2000 }],
          },
        ],
        activities: [
          { id: 'welcome', event: 'registration', points: 500 },
          {
            id: 'birthday',
            event: 'birthday',
            points: 1000,
            limit: { count: 1, per: 'year' },
          },
          {
            id: 'newsletter',
            event: 'newsletter_signup',
            points: 50,
            limit: { count: 1, per: 'ever' },
          },
        ],
      },
    ],
  }
}

/** The errors for `input`, failing the test if it was accepted. */
function errorsOf(input: unknown): RulesetError[] {
  const result = validateRuleset(input)
  if (result.ok) throw new Error('expected the ruleset to be rejected')
  return result.errors
}

/** A copy of the valid document as loose JSON, for edits the types would not allow. */
function editable(): any {
  return validDoc()
}

describe('validateRuleset accepts', () => {
  it('a complete program and returns it unchanged, without defaults', () => {
    const doc = validDoc()
    const result = validateRuleset(doc)
    expect(result).toStrictEqual({ ok: true, ruleset: validDoc() })
    // A copy: later edits to the input, deep ones included, must not change the validated ruleset.
    doc.programs[0]!.rules[0]!.id = 'edited'
    doc.programs[0]!.tiers.pop()
    expect(result).toStrictEqual({ ok: true, ruleset: validDoc() })
  })

  it('every expiry kind with the fields it allows', () => {
    const policies = [
      { kind: 'never' },
      { kind: 'days', days: 365 },
      { kind: 'endOfMonth' },
      { kind: 'endOfMonth', months: 0 },
      { kind: 'endOfYear', years: 1 },
      { kind: 'months', months: 24 },
    ]
    for (const expiry of policies) {
      const doc = editable()
      doc.programs[0].expiry = expiry
      expect(validateRuleset(doc).ok, JSON.stringify(expiry)).toBe(true)
    }
  })

  it('tier multipliers below ×1 (a basic tier earning half) and a multiplier rule of ×1', () => {
    const doc = editable()
    doc.programs[0].tiers[0].multiplier = 0
    doc.programs[0].tiers[1].multiplier = 500
    doc.programs[0].rules[3].multiplier = 1000
    doc.programs[0].rules[3].items = { categories: ['coffee'] }
    expect(validateRuleset(doc)).toMatchObject({ ok: true })
  })

  it('one promo code in several places, and codes differing in case in different programs', () => {
    const doc = editable()
    doc.programs[0].campaigns[0].when.promoCode = 'SPRING24'
    doc.programs.push({ ...structuredClone(doc.programs[0]), id: 'tea' })
    doc.programs[1].campaigns[0].when.promoCode = 'spring24'
    doc.programs[1].rules[2].when.promoCode = 'spring24'
    expect(validateRuleset(doc)).toMatchObject({ ok: true })
  })

  it('hours ending at 24:00 or wrapping midnight, and a minimal program', () => {
    const doc = editable()
    doc.programs[0].rules[3].when.hours = { from: '22:00', to: '24:00' }
    doc.programs.push({
      id: 'books',
      name: 'Book Points',
      pointName: 'points',
      currency: 'USD',
      pointValue: 0,
      earnBase: 'gross',
      expiry: { kind: 'never' },
      negativeBalanceOnReturn: true,
      tiers: [{ id: 'member', name: 'Member', threshold: 0 }],
      qualification: { basis: 'spend', period: 'calendarYear', review: 'recompute' },
      rules: [
        { id: 'night', kind: 'fixed', points: 1, when: { hours: { from: '23:00', to: '01:00' } } },
      ],
    })
    expect(validateRuleset(doc)).toMatchObject({ ok: true })
  })
})

interface BadCase {
  name: string
  edit: (doc: any) => unknown
  errors: Array<[path: string, message: string]>
}

const badCases: BadCase[] = [
  {
    name: 'an unknown field, with a suggestion',
    edit: (doc) => {
      doc.programs[0].rules[0].pointsPer = 2
    },
    errors: [
      ['programs[0].rules[0].pointsPer', 'unknown field "pointsPer" (did you mean "points"?)'],
    ],
  },
  {
    name: 'an unknown field at the top level',
    edit: (doc) => {
      doc.version = 3
    },
    errors: [['version', 'unknown field "version"']],
  },
  {
    name: 'a misspelt optional field, which would otherwise be ignored',
    edit: (doc) => {
      doc.programs[0].pendingDay = doc.programs[0].pendingDays
      delete doc.programs[0].pendingDays
    },
    errors: [['programs[0].pendingDay', 'did you mean "pendingDays"?']],
  },
  {
    name: 'a string where an integer belongs',
    edit: (doc) => {
      doc.programs[0].pointValue = '1'
    },
    errors: [
      ['programs[0].pointValue', 'must be a non-negative integer (at most 1000000000), got "1"'],
    ],
  },
  {
    name: 'a string where a boolean belongs',
    edit: (doc) => {
      doc.programs[0].negativeBalanceOnReturn = 'no'
    },
    errors: [['programs[0].negativeBalanceOnReturn', 'must be true or false, got "no"']],
  },
  {
    name: 'negative points',
    edit: (doc) => {
      doc.programs[0].rules[2].points = -5
    },
    errors: [
      ['programs[0].rules[2].points', 'must be a positive integer (at most 1000000000), got -5'],
    ],
  },
  {
    name: 'fractional and unsafe integers',
    edit: (doc) => {
      doc.programs[0].rules[0].per = 0.5
      doc.programs[0].campaigns[0].priority = 2 ** 53
    },
    errors: [
      ['programs[0].rules[0].per', 'must be a positive integer'],
      ['programs[0].campaigns[0].priority', 'must be a safe integer, got 9007199254740992'],
    ],
  },
  {
    name: 'a multiplier above 100000 per-mille',
    edit: (doc) => {
      doc.programs[0].tiers[1].multiplier = 100001
    },
    errors: [['programs[0].tiers[1].multiplier', 'per-mille integer from 0 to 100000']],
  },
  {
    name: 'a multiplier rule below ×1, which would take points away',
    edit: (doc) => {
      doc.programs[0].rules[3].multiplier = 500
      doc.programs[0].campaigns[0].rules[0].multiplier = 0
    },
    errors: [
      ['programs[0].rules[3].multiplier', 'must be a per-mille integer from 1000 (×1) to 100000 (×100)'],
      ['programs[0].campaigns[0].rules[0].multiplier', 'cannot take any away'],
    ],
  },
  {
    name: 'promo codes no basket may carry: a control character, too long',
    edit: (doc) => {
      doc.programs[0].rules[2].when.promoCode = 'W\u0000'
      doc.programs[0].campaigns[0].when.promoCode = 'X'.repeat(129)
    },
    errors: [
      [
        'programs[0].rules[2].when.promoCode',
        'must not contain control or invisible characters (U+0000 at 1): baskets may not carry such a code',
      ],
      ['programs[0].campaigns[0].when.promoCode', 'must be at most 128 characters'],
    ],
  },
  {
    name: 'promo codes differing only in case in one program (codes match whatever their case)',
    edit: (doc) => {
      doc.programs[0].campaigns[0].when.promoCode = 'spring24'
    },
    errors: [
      [
        'programs[0].campaigns[0].when.promoCode',
        'is the code "SPRING24" of programs[0].rules[2].when.promoCode (codes match whatever their case and surrounding spaces)',
      ],
    ],
  },
  {
    name: 'countries no member can have: lower case, not a code, a common mistake',
    edit: (doc) => {
      doc.programs[0].rules[2].when.countries = ['de', 'XX']
      doc.programs[0].campaigns[0].when.countries = ['DE', 'UK']
    },
    errors: [
      ['programs[0].rules[2].when.countries[0]', 'country de must be written in capitals: DE: members\' countries are stored so, and this could never match'],
      ['programs[0].rules[2].when.countries[1]', 'country must be an ISO 3166 alpha-2 country code such as DE (not "XX")'],
      ['programs[0].campaigns[0].when.countries[1]', 'country UK is not an ISO 3166 code: use GB (the United Kingdom)'],
    ],
  },
  {
    name: 'perSpend without per',
    edit: (doc) => {
      delete doc.programs[0].rules[0].per
    },
    errors: [['programs[0].rules[0].per', 'is required for kind "perSpend"']],
  },
  {
    name: 'a field of another rule kind',
    edit: (doc) => {
      doc.programs[0].rules[2].per = 100
    },
    errors: [['programs[0].rules[2].per', 'field "per" is not allowed for kind "fixed"']],
  },
  {
    name: 'an unknown rule kind, with a suggestion',
    edit: (doc) => {
      doc.programs[0].rules[0].kind = 'perspend'
    },
    errors: [['programs[0].rules[0].kind', 'got "perspend" (did you mean "perSpend"?)']],
  },
  {
    name: 'a field of another expiry kind',
    edit: (doc) => {
      doc.programs[0].expiry = { kind: 'days', days: 30, months: 1 }
    },
    errors: [['programs[0].expiry.months', 'not allowed for kind "days"']],
  },
  {
    name: 'months 0 for the months expiry kind',
    edit: (doc) => {
      doc.programs[0].expiry = { kind: 'months', months: 0 }
    },
    errors: [['programs[0].expiry.months', 'must be a positive integer (at most 1200)']],
  },
  {
    name: 'a lower-case currency',
    edit: (doc) => {
      doc.programs[0].currency = 'eur'
    },
    errors: [['programs[0].currency', '3 upper-case letters']],
  },
  {
    name: 'an unknown time zone and an offset for a zone',
    edit: (doc) => {
      doc.programs[0].timeZone = 'Europe/Pariss'
      doc.programs.push({ ...structuredClone(doc.programs[0]), id: 'tea', timeZone: '+01:00' })
    },
    errors: [
      ['programs[0].timeZone', 'must be an IANA time zone'],
      ['programs[1].timeZone', 'must be an IANA time zone'],
    ],
  },
  {
    name: 'hours out of range, badly written, or empty',
    edit: (doc) => {
      doc.programs[0].rules[3].when.hours = { from: '24:00', to: '9:00' }
      doc.programs[0].campaigns[0].when.hours = { from: '10:00', to: '10:00' }
    },
    errors: [
      ['programs[0].rules[3].when.hours.from', 'must be a time "HH:MM" from 00:00 to 23:59'],
      ['programs[0].rules[3].when.hours.to', 'must be a time "HH:MM" from 00:00 to 24:00'],
      ['programs[0].campaigns[0].when.hours.to', 'must differ from "from"'],
    ],
  },
  {
    name: 'days of week 0 and 8, and a repeated day',
    edit: (doc) => {
      doc.programs[0].rules[3].when.daysOfWeek = [0, 8, 3, 3]
    },
    errors: [
      ['programs[0].rules[3].when.daysOfWeek[0]', 'from 1 (Monday) to 7 (Sunday), got 0'],
      ['programs[0].rules[3].when.daysOfWeek[1]', 'from 1 (Monday) to 7 (Sunday), got 8'],
      ['programs[0].rules[3].when.daysOfWeek[3]', 'duplicate 3'],
    ],
  },
  {
    name: 'a campaign ending before it starts',
    edit: (doc) => {
      doc.programs[0].campaigns[0].from = '2024-09-01T00:00:00Z'
      doc.programs[0].campaigns[0].to = '2024-06-01T00:00:00Z'
    },
    errors: [['programs[0].campaigns[0].to', 'must be later than "from"']],
  },
  {
    name: 'a condition window that is empty',
    edit: (doc) => {
      // The program is in Europe/Paris: its 1 March 2024 starts at 23:00 UTC the day before.
      doc.programs[0].rules[2].when.to = '2024-02-29T23:00:00Z'
    },
    errors: [['programs[0].rules[2].when.to', 'must be later than "from" ("2024-03-01")']],
  },
  {
    name: 'a date-time without a time zone',
    edit: (doc) => {
      doc.programs[0].rules[2].when.to = '2024-06-01T00:00:00'
    },
    errors: [['programs[0].rules[2].when.to', 'has no time zone designator']],
  },
  {
    name: 'dates that do not exist or are not ISO 8601',
    edit: (doc) => {
      doc.programs[0].campaigns[0].from = '2024-02-30'
      doc.programs[0].campaigns[0].to = 'September 1, 2024'
    },
    errors: [
      ['programs[0].campaigns[0].from', 'must be an ISO 8601 instant'],
      ['programs[0].campaigns[0].to', 'must be an ISO 8601 instant'],
    ],
  },
  {
    name: 'a campaign without its window',
    edit: (doc) => {
      delete doc.programs[0].campaigns[0].to
    },
    errors: [['programs[0].campaigns[0].to', 'is required']],
  },
  {
    name: 'a first tier threshold other than 0',
    edit: (doc) => {
      doc.programs[0].tiers[0].threshold = 100
    },
    errors: [['programs[0].tiers[0].threshold', 'must be 0 for the first tier']],
  },
  {
    name: 'thresholds that do not increase',
    edit: (doc) => {
      doc.programs[0].tiers[2].threshold = 10000
    },
    errors: [
      ['programs[0].tiers[2].threshold', "greater than the previous tier's threshold (10000)"],
    ],
  },
  {
    name: 'no tiers',
    edit: (doc) => {
      doc.programs[0].tiers = []
      doc.programs[0].rules[3].when.tiers = []
    },
    errors: [['programs[0].tiers', 'must have at least 1 tier']],
  },
  {
    name: 'duplicate tier, rule, campaign rule and activity ids',
    edit: (doc) => {
      const program = doc.programs[0]
      program.tiers[1].id = 'bronze'
      program.rules[1].id = 'base'
      program.campaigns[0].rules.push({ id: 'double', kind: 'fixed', points: 1 })
      program.activities[2].id = 'welcome'
    },
    errors: [
      ['programs[0].tiers[1].id', 'duplicate tier id "bronze" (also at programs[0].tiers[0])'],
      ['programs[0].rules[1].id', 'duplicate rule id "base" (also at programs[0].rules[0])'],
      ['programs[0].campaigns[0].rules[1].id', 'duplicate rule id "double"'],
      ['programs[0].activities[2].id', 'duplicate activity id "welcome"'],
    ],
  },
  {
    name: 'duplicate program ids',
    edit: (doc) => {
      doc.programs.push(structuredClone(doc.programs[0]))
    },
    errors: [['programs[1].id', 'duplicate program id "coffee" (also at programs[0])']],
  },
  {
    name: 'when.tiers naming a tier the program does not have',
    edit: (doc) => {
      doc.programs[0].rules[1].when = { tiers: ['diamond', 'gold'] }
      doc.programs[0].activities[0].when = { tiers: ['golld'] }
    },
    errors: [
      ['programs[0].rules[1].when.tiers[0]', 'unknown tier "diamond"; tiers: bronze, silver'],
      ['programs[0].activities[0].when.tiers[0]', 'unknown tier "golld" (did you mean "gold"?)'],
    ],
  },
  {
    name: 'a custom event name that is not snake case',
    edit: (doc) => {
      doc.programs[0].activities[2].event = 'Newsletter-Signup'
    },
    errors: [['programs[0].activities[2].event', 'or a custom name: a lower-case letter']],
  },
  {
    name: 'bad enums in qualification, campaign, channels and limits',
    edit: (doc) => {
      const program = doc.programs[0]
      program.qualification.basis = 'visits'
      program.campaigns[0].stacking = 'stack'
      program.campaigns[0].when.channels = ['app', 'kiosk']
      program.activities[1].limit.per = 'decade'
    },
    errors: [
      ['programs[0].qualification.basis', 'must be one of "points", "spend", "balance"'],
      ['programs[0].campaigns[0].stacking', 'must be one of "exclusive", "combinable"'],
      ['programs[0].campaigns[0].when.channels[1]', 'got "kiosk"'],
      ['programs[0].activities[1].limit.per', 'got "decade"'],
    ],
  },
  {
    name: 'reviewDays with a period that ignores it',
    edit: (doc) => {
      doc.programs[0].qualification.period = 'calendarYear'
    },
    errors: [
      ['programs[0].qualification.reviewDays', 'only applies with period "rolling12Months"'],
    ],
  },
  {
    name: 'bad ids, blank strings and duplicate list entries',
    edit: (doc) => {
      doc.programs[0].id = 'coffee club'
      doc.programs[0].pointName = '  '
      doc.programs[0].excluded.categories = ['tobacco', 'tobacco', '']
    },
    errors: [
      ['programs[0].id', 'must be an id of 1 to 64 letters'],
      ['programs[0].pointName', 'must be a non-empty string'],
      ['programs[0].excluded.categories[1]', 'duplicate "tobacco"'],
      ['programs[0].excluded.categories[2]', 'must be a non-empty string'],
    ],
  },
  {
    name: 'an exclusion that names no SKU or category, which would exclude every line',
    edit: (doc) => {
      doc.programs[0].excluded = {}
      doc.programs.push({ ...structuredClone(doc.programs[0]), id: 'tea', excluded: { skus: [], categories: [] } })
    },
    errors: [
      ['programs[0].excluded', 'names no SKU or category, so every line would be excluded'],
      ['programs[1].excluded', 'names no SKU or category, so every line would be excluded'],
    ],
  },
  {
    name: 'purchase conditions on an activity no purchase brings, which could never be given',
    edit: (doc) => {
      doc.programs[0].activities[0].when = { channels: ['web'], segments: ['students'] }
      doc.programs[0].activities[2].when = { promoCode: 'NEWS', minSpend: 100, stores: ['s1'], tenders: ['visa'] }
      // The first purchase brings its basket: these are fine there.
      doc.programs[0].activities.push({ id: 'first', event: 'first_purchase', points: 10, when: { channels: ['web'], minSpend: 100 } })
    },
    errors: [
      ['programs[0].activities[0].when.channels', 'a "registration" event brings no purchase, so this could never hold'],
      ['programs[0].activities[2].when.minSpend', 'a "newsletter_signup" event brings no purchase'],
      ['programs[0].activities[2].when.stores', 'brings no purchase'],
      ['programs[0].activities[2].when.tenders', 'brings no purchase'],
      ['programs[0].activities[2].when.promoCode', 'brings no purchase'],
    ],
  },
  {
    name: 'a campaign without rules, which could never apply',
    edit: (doc) => {
      doc.programs[0].campaigns[0].rules = []
    },
    errors: [['programs[0].campaigns[0].rules', 'must have at least 1 rule']],
  },
  {
    name: 'an item filter that lists a SKU or category and excludes it too',
    edit: (doc) => {
      doc.programs[0].rules[1].items = { skus: ['latte'], excludeSkus: ['latte'] }
      doc.programs[0].campaigns[0].rules[0].items = { categories: ['pastry', 'tea'], excludeCategories: ['tea'] }
    },
    errors: [
      ['programs[0].rules[1].items.excludeSkus[0]', '"latte" is also in skus[0]: it could never match'],
      ['programs[0].campaigns[0].rules[0].items.excludeCategories[0]', '"tea" is also in categories[1]: it could never match'],
    ],
  },
  {
    name: 'SKUs, categories, stores, tenders, segments and genders no basket or member may carry',
    edit: (doc) => {
      doc.programs[0].excluded.categories = ['gift-cards\u200b']
      doc.programs[0].rules[1].items.excludeSkus = ['x'.repeat(129)]
      doc.programs[0].rules[3].when.stores = ['paris\t1']
      doc.programs[0].campaigns[0].when.segments = ['students\u0007']
      doc.programs[0].campaigns[0].when.genders = ['x'.repeat(200)]
    },
    errors: [
      ['programs[0].excluded.categories[0]', 'must not contain control or invisible characters (U+200B at 10): baskets and members may not carry such a value, so it could never match'],
      ['programs[0].rules[1].items.excludeSkus[0]', 'must be at most 128 characters, got 129: baskets and members may not carry'],
      ['programs[0].rules[3].when.stores[0]', 'must not contain control or invisible characters (U+0009 at 5)'],
      ['programs[0].campaigns[0].when.segments[0]', 'must not contain control or invisible characters (U+0007 at 8)'],
      ['programs[0].campaigns[0].when.genders[0]', 'must be at most 128 characters, got 200'],
    ],
  },
  {
    name: 'a campaign or campaign rule window that never meets the campaign`s dates',
    edit: (doc) => {
      // The campaign runs from 2024-06-01 to 2024-09-01 (UTC).
      doc.programs[0].campaigns[0].when.from = '2024-09-01T00:00:00Z'
      doc.programs[0].campaigns[0].rules[0].when = { to: '2024-06-01T00:00:00Z' }
      doc.programs[0].campaigns[0].rules.push({ id: 'late', kind: 'fixed', points: 1, when: { from: '2024-08-31T23:00:00Z' } })
    },
    errors: [
      ['programs[0].campaigns[0].when.from', 'never meets the campaign\'s dates ("2024-06-01T00:00:00Z" to "2024-09-01T00:00:00Z"), so the campaign could never apply'],
      ['programs[0].campaigns[0].rules[0].when.to', 'never meets the campaign\'s dates ("2024-06-01T00:00:00Z" to "2024-09-01T00:00:00Z"), so the rule could never apply'],
    ],
  },
  {
    name: 'too many rules in a program',
    edit: (doc) => {
      doc.programs[0].rules = Array.from({ length: 1001 }, (_, i) => ({
        id: `r${i}`,
        kind: 'fixed',
        points: 1,
      }))
    },
    errors: [['programs[0].rules', 'must have at most 1000 rules, got 1001']],
  },
  {
    name: 'no programs',
    edit: (doc) => {
      doc.programs = []
    },
    errors: [['programs', 'must have at least 1 program']],
  },
  {
    name: 'a missing programs field',
    edit: (doc) => {
      delete doc.programs
    },
    errors: [['programs', 'is required']],
  },
  {
    name: 'objects that are not objects',
    edit: (doc) => {
      doc.programs[0].rules[0] = null
      doc.programs[0].qualification = ['points']
    },
    errors: [
      ['programs[0].qualification', 'must be an object, got an array'],
      ['programs[0].rules[0]', 'must be an object, got null'],
    ],
  },
]

describe('validateRuleset rejects', () => {
  it.each(badCases)('$name', ({ edit, errors }) => {
    const doc = editable()
    edit(doc)
    const found = errorsOf(doc)
    expect(found.map((error) => error.path)).toEqual(errors.map(([path]) => path))
    errors.forEach(([, message], index) => expect(found[index]?.message).toContain(message))
  })

  it('a very long unknown name or value quickly, quoting it shortened', () => {
    // Suggesting a field once compared the name with every allowed one in quadratic time:
    // a 300,000-character key took about 10 s of the main thread, and the message quoted it whole.
    const doc = editable()
    const long = 'x'.repeat(300_000)
    doc.programs[0].rules[0][long] = 1
    doc.programs[0].rules[1].kind = long
    doc.programs[0].earnBase = long
    const started = performance.now()
    const found = errorsOf(doc)
    expect(performance.now() - started).toBeLessThan(1500)
    expect(found.map((error) => error.path)).toEqual([
      'programs[0].earnBase',
      `programs[0].rules[0].${long}`,
      'programs[0].rules[1].kind',
    ])
    for (const error of found) expect(error.message.length).toBeLessThan(300)
    expect(found[1]!.message).toBe(`unknown field "${'x'.repeat(40)}…" (allowed: id, kind, name, items, when, caps, points, per)`)
  })

  it.each([null, [], 'programs', 42, undefined])('a root that is not an object: %j', (input) => {
    expect(errorsOf(input)).toEqual([
      { path: '$', message: expect.stringContaining('must be an object with a "programs" array') },
    ])
  })

  it('reports every error at once, in document order', () => {
    const doc = editable()
    const program = doc.programs[0]
    program.currency = 'euro'
    program.tiers[3].threshold = 15000
    program.rules[0].pointsPer = 1
    delete program.rules[0].per
    program.rules[3].when.daysOfWeek = [0]
    program.campaigns[0].quota = 0
    program.activities[2].event = 'Sign up'
    doc.programs.push({ ...structuredClone(program), id: 'coffee', timeZone: 'Mars/Olympus' })
    const paths = errorsOf(doc).map((error) => error.path)
    const perProgram = (index: number) => [
      `programs[${index}].currency`,
      `programs[${index}].tiers[3].threshold`,
      `programs[${index}].rules[0].pointsPer`,
      `programs[${index}].rules[0].per`,
      `programs[${index}].rules[3].when.daysOfWeek[0]`,
      `programs[${index}].campaigns[0].quota`,
      `programs[${index}].activities[2].event`,
    ]
    expect(paths).toEqual([
      ...perProgram(0),
      'programs[1].currency',
      'programs[1].timeZone',
      ...perProgram(1).slice(1),
      'programs[1].id',
    ])
  })

  it('lists the first 100 errors and then how many more it found', () => {
    const doc = editable()
    doc.programs[0].rules = Array(30000).fill(0)
    const errors = errorsOf(doc)
    expect(errors).toHaveLength(101)
    expect(errors[0]).toEqual({ path: 'programs[0].rules', message: 'must have at most 1000 rules, got 30000' })
    expect(errors[99]).toEqual({ path: 'programs[0].rules[98]', message: 'must be an object, got 0' })
    expect(errors[100]).toEqual({ path: '$', message: '29901 more errors not listed (only the first 100 are)' })
    expect(JSON.stringify(errors).length).toBeLessThan(10_000)
  })

  it('lists 100 errors without a count, and counts one more as one', () => {
    const doc = editable()
    doc.programs[0].rules = Array(100).fill(0)
    expect(errorsOf(doc).map((error) => error.path)).toEqual(Array.from({ length: 100 }, (_, i) => `programs[0].rules[${i}]`))
    doc.programs[0].rules.push(0)
    expect(errorsOf(doc).at(-1)).toEqual({ path: '$', message: '1 more error not listed (only the first 100 are)' })
  })

  it('does not change the input it rejects', () => {
    const doc = editable()
    doc.programs[0].rules[0].per = 0
    const before = structuredClone(doc)
    errorsOf(doc)
    expect(doc).toStrictEqual(before)
  })
})
