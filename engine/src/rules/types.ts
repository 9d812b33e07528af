/**
 * The vocabulary of programs and rules: the ruleset document an operator
 * writes (plain JSON, validated by `validateRuleset`), the basket a purchase
 * brings, and the breakdown an evaluation gives back.
 *
 * Money is in minor units (cents), points are integers, multipliers are in
 * per-mille (1500 is ×1.5), times in documents are ISO 8601 strings and
 * calendar questions (end of month, day of week, hours) are answered in the
 * program's time zone.
 *
 * @module
 */

/** A complete ruleset: every program on the platform. Stored as one version. */
export interface RulesetDoc {
  programs: ProgramDoc[]
}

export interface ProgramDoc {
  id: string
  name: string
  /** What members call the points: "points", "miles", "stars". */
  pointName: string
  /** ISO 4217 code of the money amounts in baskets. */
  currency: string
  /** Money (minor units) one point is worth when burned as cash. */
  pointValue: number
  /** Earn on the amount after line discounts (`net`) or before them (`gross`). */
  earnBase: 'net' | 'gross'
  /** IANA time zone for calendar rules and the bare dates of campaigns and conditions; default `UTC`. */
  timeZone?: string
  expiry: ExpiryPolicy
  /** Days before earned points become spendable; default 0. */
  pendingDays?: number
  /** Whether a return may take the balance below zero (`debt`) or only take what is left. */
  negativeBalanceOnReturn: boolean
  /** Lines that never earn (gift cards, tobacco), whatever the rules say. */
  excluded?: ItemFilter
  /** Lowest first; the first tier's threshold is 0 and every member starts in it. */
  tiers: TierDoc[]
  qualification: QualificationDoc
  rules: RuleDoc[]
  campaigns?: CampaignDoc[]
  activities?: ActivityDoc[]
}

/** When earned points expire. */
export type ExpiryPolicy =
  | { kind: 'never' }
  /** At the end of the day, `days` days after earning. */
  | { kind: 'days'; days: number }
  /** At the start of the month after the month `months` after earning (0: this month's end). */
  | { kind: 'endOfMonth'; months?: number }
  /** At the start of the year after the year `years` after earning (0: this year's end). */
  | { kind: 'endOfYear'; years?: number }
  /** The same day of the month, `months` later (clamped to the month's last day), at its end. */
  | { kind: 'months'; months: number }

export interface TierDoc {
  id: string
  name: string
  /** Qualification value (points, spend or balance) needed to reach the tier. */
  threshold: number
  /**
   * Earn multiplier in per-mille on base rules; default 1000. Below 1000 the
   * tier earns less (500: half the base points, rounded down; 0: none).
   */
  multiplier?: number
  /** Points credited once when the member reaches the tier (for the first tier: on joining). */
  bonus?: number
}

export interface QualificationDoc {
  /** Points earned in the period (default), money spent in it, or the current balance. */
  basis: 'points' | 'spend' | 'balance'
  /** The period counted: the last 12 months, the calendar year, or the membership year. */
  period: 'rolling12Months' | 'calendarYear' | 'membershipYear'
  /**
   * At a review a member below their tier drops one tier (`oneDown`) or to the
   * tier their qualification gives (`recompute`).
   */
  review: 'oneDown' | 'recompute'
  /** With `rolling12Months`: days between reviews; default 365. */
  reviewDays?: number
}

/** Which basket lines a rule counts. Empty lists mean "any". */
export interface ItemFilter {
  skus?: string[]
  categories?: string[]
  excludeSkus?: string[]
  excludeCategories?: string[]
}

export type Channel = 'store' | 'web' | 'app' | 'partner'

/** Conditions on the purchase and the member; all given ones must hold. */
export interface Conditions {
  /** Eligible spend (minor units) of the whole basket at least this. */
  minSpend?: number
  channels?: Channel[]
  stores?: string[]
  tenders?: string[]
  /** ISO days: 1 is Monday, 7 is Sunday. */
  daysOfWeek?: number[]
  /**
   * Local time of day, `HH:MM`, `from` inclusive, `to` exclusive (may wrap
   * midnight: with `daysOfWeek`, the part after midnight belongs to the day
   * the window started, so Friday 22:00 to 02:00 runs into Saturday).
   */
  hours?: { from: string; to: string }
  /**
   * ISO 8601 instants with `Z` or an offset, or dates `YYYY-MM-DD`, which
   * are local midnight starting that day in the program's `timeZone`: the
   * rule applies from `from` (inclusive) to `to` (exclusive), so `to:
   * "2027-01-01"` ends with the last instant of 31 December, local time.
   */
  from?: string
  to?: string
  tiers?: string[]
  /** The member has at least one of these segment tags. */
  segments?: string[]
  countries?: string[]
  genders?: string[]
  /** The basket carries this promo code, in any case ("welcome" matches "WELCOME"). */
  promoCode?: string
  /** The purchase falls in the member's birthday month. */
  birthdayMonth?: boolean
}

export interface Caps {
  /** Points from this rule in one purchase at most. */
  perTransaction?: number
  /** Points from this rule per member per local day / ISO week / month at most. */
  perMemberPerDay?: number
  perMemberPerWeek?: number
  perMemberPerMonth?: number
}

export type RuleDoc =
  /** `points` for every full `per` of eligible spend: floor(spend / per) × points. */
  | (RuleBase & { kind: 'perSpend'; points: number; per: number })
  /** `points` for every unit (quantity) of a matching line. */
  | (RuleBase & { kind: 'perItem'; points: number })
  /** A fixed bonus per purchase. */
  | (RuleBase & { kind: 'fixed'; points: number })
  /**
   * Adds (multiplier − 1000)‰ of the base points (the program's own rules,
   * before tiers); at least 1000. With `items`, of the base points the
   * matching lines earned (fixed bonuses are no line's).
   */
  | (RuleBase & { kind: 'multiplier'; multiplier: number })

export interface RuleBase {
  id: string
  name?: string
  items?: ItemFilter
  when?: Conditions
  caps?: Caps
}

export interface CampaignDoc {
  id: string
  name: string
  /** Start (inclusive) and end (exclusive), as the conditions' `from` and `to`: a date is local midnight in the program's `timeZone`. */
  from: string
  to: string
  /** Higher runs first. */
  priority: number
  /** An exclusive campaign applies alone; combinable ones stack with each other. */
  stacking: 'exclusive' | 'combinable'
  /** Target segment and other conditions; all must hold. */
  when?: Conditions
  /** Times the campaign may apply across all members, across every shard. */
  quota?: number
  /** Times it may apply to one member. */
  perMemberLimit?: number
  rules: RuleDoc[]
}

/** Built-in events the engine raises itself; any other name is a custom event sent through the API. */
export type BuiltInEvent = 'registration' | 'referral_referrer' | 'referral_referred' | 'birthday' | 'first_purchase'

export interface ActivityDoc {
  id: string
  /** A built-in event or a custom name such as `newsletter_signup`. */
  event: string
  points: number
  when?: Conditions
  /** How often one member may get it; default once ever for built-ins, unlimited for custom. */
  limit?: { count: number; per: 'day' | 'week' | 'month' | 'year' | 'ever' }
}

// ---------------------------------------------------------------------------
// Purchases

export interface BasketLine {
  sku: string
  category?: string
  quantity: number
  /** Minor units per unit. */
  unitPrice: number
  /** Minor units off the line as a whole; default 0. */
  discount?: number
}

export interface Basket {
  lines: BasketLine[]
  store?: string
  channel?: Channel
  tender?: string
  promoCodes?: string[]
}

/** Member facts rules may look at. The ledger keeps them on the account. */
export interface MemberFacts {
  /** `YYYY-MM-DD`. */
  birthDate?: string
  country?: string
  gender?: string
  segments?: string[]
}

/** One line of an earn's breakdown: which rule gave how many points. */
export interface BreakdownLine {
  source: 'rule' | 'tier' | 'campaign' | 'activity' | 'tier_bonus'
  id: string
  name?: string
  points: number
  /** Present when a rule applied but a cap, limit or quota cut its points. */
  cut?: 'cap' | 'limit' | 'quota'
}
