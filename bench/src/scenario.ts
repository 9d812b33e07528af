/**
 * What a benchmark scenario is, and how its command-line flags are declared
 * and parsed. A scenario is one file under `scenarios/` exporting `scenario`
 * (see `defineScenario`); the CLI finds it by file name.
 *
 * @module
 */
import type { PhaseResult, Reporter } from './report.ts'

export type FlagKind = 'int' | 'number' | 'string' | 'boolean'

interface KindValue {
  int: number
  number: number
  string: string
  boolean: boolean
}

export interface FlagSpec {
  kind: FlagKind
  description: string
  /** Used when the flag is absent; booleans default to false. */
  default?: number | string | boolean
  /** Inclusive bounds for int and number flags. */
  min?: number
  max?: number
  /** The values a string flag takes; any other is refused. */
  choices?: readonly string[]
}

/** Flags by option name in camelCase; on the command line they are kebab-case. */
export type FlagSpecs = Record<string, FlagSpec>

type OptionValue<S extends FlagSpec> = S extends { default: unknown }
  ? KindValue[S['kind']]
  : S['kind'] extends 'boolean'
    ? boolean
    : KindValue[S['kind']] | undefined

export type Options<F extends FlagSpecs> = { [N in keyof F]: OptionValue<F[N]> }

/** What a run hands back: its measured phase and its own JSON fields. */
export interface ScenarioResult {
  measured: PhaseResult
  /** Scenario-specific fields, added to the JSON line after the common ones. */
  fields: Record<string, unknown>
  /** Extra summary lines for people (seed rate, statuses, ...). */
  notes?: string[]
  /**
   * Figures compared side by side (a gateway beside engine-direct, one rule
   * beside many), each drawn as horizontal bars after the latency bars.
   */
  charts?: Comparison[]
}

/** One chart of figures side by side: its title and one bar a figure. */
export interface Comparison {
  title: string
  rows: { label: string; value: number; text: string }[]
}

export interface Scenario<F extends FlagSpecs = FlagSpecs> {
  name: string
  description: string
  flags: F
  run(options: Options<F>, reporter: Reporter): Promise<ScenarioResult>
  /**
   * Checks flags against each other before anything runs (each alone is
   * checked by its spec); throws FlagError naming them.
   */
  check?(options: Options<F>): void
}

/** Keeps the flag literal types so `run` sees typed options. */
export function defineScenario<const F extends FlagSpecs>(scenario: Scenario<F>): Scenario<F> {
  return scenario
}

export class FlagError extends Error {}

/** The most shards a data folder may have (the engine refuses more when it creates one). */
export const shardsMax = 256

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

/** One line per flag, for help and error messages. */
export function describeFlags(flags: FlagSpecs): string {
  const rows = Object.entries(flags).map(([name, spec]) => {
    const value = spec.kind === 'boolean' ? '' : ` <${spec.choices?.join('|') ?? spec.kind}>`
    const fallback = spec.default === undefined ? '' : ` (default ${String(spec.default)})`
    return [`--${kebab(name)}${value}`, `${spec.description}${fallback}`] as const
  })
  const width = Math.max(0, ...rows.map(([flag]) => flag.length))
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n')
}

function parseValue(name: string, spec: FlagSpec, raw: string): number | string | boolean {
  if (spec.kind === 'string') {
    if (spec.choices === undefined || spec.choices.includes(raw)) return raw
    throw new FlagError(`--${kebab(name)} must be one of ${spec.choices.join(', ')}, not ${JSON.stringify(raw)}`)
  }
  if (spec.kind === 'boolean') {
    if (raw === 'true') return true
    if (raw === 'false') return false
    throw new FlagError(`--${kebab(name)} takes true or false, not ${JSON.stringify(raw)}`)
  }
  const value = Number(raw.replaceAll('_', ''))
  const integral = spec.kind === 'int'
  if (raw.trim() === '' || !Number.isFinite(value) || (integral && !Number.isSafeInteger(value))) {
    const what = integral ? 'an integer' : 'a number'
    throw new FlagError(`--${kebab(name)} must be ${what}, not ${JSON.stringify(raw)}`)
  }
  const low = spec.min !== undefined && value < spec.min
  if (low || (spec.max !== undefined && value > spec.max)) {
    const range = `${spec.min ?? '-inf'} to ${spec.max ?? 'inf'}`
    throw new FlagError(`--${kebab(name)} must be from ${range}, not ${raw}`)
  }
  return value
}

function defaults(flags: FlagSpecs): Record<string, unknown> {
  const options: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = spec.default ?? (spec.kind === 'boolean' ? false : undefined)
  }
  return options
}

/**
 * Parses `--name value`, `--name=value` and bare `--flag` for booleans.
 * Throws FlagError naming the problem; the caller lists the valid flags.
 */
export function parseFlags<F extends FlagSpecs>(flags: F, argv: readonly string[]): Options<F> {
  const options = defaults(flags)
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg)
    if (match === null) throw new FlagError(`unexpected argument ${JSON.stringify(arg)}`)
    const name = camel(match[1]!)
    const spec = Object.hasOwn(flags, name) ? flags[name] : undefined
    if (spec === undefined) throw new FlagError(`unknown flag --${match[1]!}`)
    let raw = match[2]
    if (raw === undefined && spec.kind !== 'boolean') {
      raw = argv[i + 1]
      if (raw === undefined) throw new FlagError(`--${match[1]!} needs a value`)
      i++
    }
    options[name] = parseValue(name, spec, raw ?? 'true')
  }
  return options as Options<F>
}
