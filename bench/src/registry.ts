/**
 * The scenario registry: every `scenarios/<name>.ts` (tests excepted) is a
 * scenario named after its file, exporting `scenario`. Adding a benchmark is
 * adding one file; scenarios are imported only when asked for.
 *
 * @module
 */
import { readdirSync } from 'node:fs'
import type { Scenario } from './scenario.ts'

const folder = new URL('./scenarios/', import.meta.url)

/** Scenario names, sorted, from the files present. */
export function scenarioNames(): string[] {
  return readdirSync(folder)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .sort()
}

function isScenario(value: unknown): value is Scenario {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Partial<Scenario>
  return typeof candidate.name === 'string' && typeof candidate.run === 'function' &&
    typeof candidate.flags === 'object'
}

/** Imports one scenario; throws when the name is unknown or the file is malformed. */
export async function loadScenario(name: string): Promise<Scenario> {
  if (!scenarioNames().includes(name)) throw new Error(`unknown scenario ${JSON.stringify(name)}`)
  const module: Record<string, unknown> = await import(new URL(`${name}.ts`, folder).href)
  const scenario = module['scenario']
  if (!isScenario(scenario)) throw new Error(`scenarios/${name}.ts does not export a scenario`)
  if (scenario.name !== name) {
    throw new Error(`scenarios/${name}.ts names its scenario ${JSON.stringify(scenario.name)}`)
  }
  return scenario
}
