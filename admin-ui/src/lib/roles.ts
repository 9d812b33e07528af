/**
 * What each console role may see and do, mirroring the gateway's checks
 * (`gateway/src/http/admin.ts`, `members.ts`, `core/gateway.ts`): the console
 * hides what a role may not use, and the server refuses it anyway (403).
 *
 * - admin: everything;
 * - marketer: programs, rules and campaigns (publish, preview; not activate),
 *   members read-only;
 * - support: members (profile, cards, status, adjustments, households) and
 *   the live program (tier names, thresholds, point value), no ruleset
 *   editing, terminals, API tokens, users or audit trail.
 *
 * @module
 */
import type { CallerRole } from './types.ts'

export type Capability =
  | 'stats.read'
  | 'program.read'
  | 'rulesets.read'
  | 'rulesets.publish'
  | 'rulesets.activate'
  | 'members.read'
  | 'members.create'
  | 'members.change'
  | 'points.adjust'
  | 'points.transfer'
  | 'terminals.manage'
  | 'audit.read'
  | 'users.manage'
  | 'tokens.manage'

const capabilities: Record<CallerRole, ReadonlySet<Capability>> = {
  admin: new Set<Capability>([
    'stats.read', 'program.read', 'rulesets.read', 'rulesets.publish', 'rulesets.activate', 'members.read',
    'members.create', 'members.change', 'points.adjust', 'points.transfer', 'terminals.manage', 'audit.read',
    'users.manage', 'tokens.manage',
  ]),
  marketer: new Set<Capability>([
    'stats.read', 'program.read', 'rulesets.read', 'rulesets.publish', 'members.read',
  ]),
  support: new Set<Capability>([
    'stats.read', 'program.read', 'members.read', 'members.create', 'members.change', 'points.adjust',
    'points.transfer',
  ]),
  // API tokens may create members (POST /v1/members) but never open the console.
  processor: new Set<Capability>(['members.create']),
  partner: new Set<Capability>(['members.create']),
}

/** Whether a role may use a capability. */
export function can(role: CallerRole | undefined, capability: Capability): boolean {
  return role !== undefined && capabilities[role].has(capability)
}

export const roleLabels: Record<CallerRole, string> = {
  admin: 'Administrator',
  marketer: 'Marketer',
  support: 'Support agent',
  processor: 'Processor token',
  partner: 'Partner token',
}
