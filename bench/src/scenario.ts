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

/**
 * Refuses connections × requests each above `limits.inFlight`: the
 * engine-direct baseline keeps that many commands in flight, more than a
 * shard's mailbox takes (and, for gRPC, more than the server's `inFlightMax`).
 */
export function checkInFlight(connections: [string, number], each: [string, number]): void {
  const inFlight = connections[1] * each[1]
  if (inFlight <= limits.inFlight) return
  throw new FlagError(`--${connections[0]} × --${each[0]} must be at most ${limits.inFlight}, not ${inFlight}`)
}

/** The most shards a data folder may have (the engine refuses more when it creates one). */
export const shardsMax = 256

/**
 * Upper bounds of the flags that count things or set how much is in flight,
 * so a typo (`--concurrency 40960000`) is refused with exit 2 instead of
 * exhausting memory, file descriptors or the engine's limits mid-run.
 */
export const limits = {
  /** Accounts or members seeded: 100 million (member numbers of the generated files have 8 digits). */
  accounts: 100_000_000,
  /**
   * Commands in flight engine-direct: a shard's mailbox takes 65,536
   * (`mailboxDepthMax`); past that a one-shard engine answers `overloaded`.
   */
  inFlight: 65_536,
  /** Requests in flight on one gRPC stream: the server's `streamInFlightMax`. */
  streamWindow: 4096,
  /** Requests in flight on one WebSocket or HTTP connection. */
  connectionWindow: 4096,
  /** Connections, streams or terminals: each is a socket at both ends, in this process. */
  connections: 4096,
  /** HTTP requests pipelined on one connection. */
  pipelining: 256,
  /** Worker threads (the engine uses at most one a shard). */
  workers: shardsMax,
  /** Searches of each kind in the registry scenario. */
  searches: 10_000_000,
  /** Rows a registry write (the CSV import's batch). */
  importBatch: 1_000_000,
  /** Commands a second of an open loop: ten times the engine's target of 100,000. */
  rate: 1_000_000,
} as const

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
    const notes = [
      ...(spec.default === undefined ? [] : [`default ${String(spec.default)}`]),
      ...(spec.max === undefined ? [] : [`at most ${spec.max}`]),
    ]
    const after = notes.length === 0 ? '' : ` (${notes.join(', ')})`
    return [`--${kebab(name)}${value}`, `${spec.description}${after}`] as const
  })
  const width = Math.max(0, ...rows.map(([flag]) => flag.length))
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n')
}

/** An int flag's value: decimal digits, `_` allowed between them (`1_000_000`), `-` for a negative. */
const integerText = /^-?\d+(?:_\d+)*$/
/** A number flag's value: an integer as above, or a decimal fraction (`0.5`, `.5`, `2.25`). */
const decimalText = /^-?(?:\d+(?:_\d+)*(?:\.\d+)?|\.\d+)$/

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
  // Plain decimal only: Number() would also take hexadecimal, binary, octal, exponents and
  // blanks around the digits (`0x10`, `0b11`, `1e3`, ` 5 `), which nobody means for a count.
  const integral = spec.kind === 'int'
  if (!(integral ? integerText : decimalText).test(raw)) {
    const what = integral ? 'an integer in decimal digits' : 'a decimal number (such as 2 or 0.5)'
    throw new FlagError(`--${kebab(name)} must be ${what}, not ${JSON.stringify(raw)}`)
  }
  const value = Number(raw.replaceAll('_', ''))
  const min = spec.min ?? (integral ? -Number.MAX_SAFE_INTEGER : -Infinity)
  const max = spec.max ?? (integral ? Number.MAX_SAFE_INTEGER : Infinity)
  // (Too many digits make Infinity, which an unbounded flag would otherwise take.)
  if (!(value >= min && value <= max) || !Number.isFinite(value)) {
    throw new FlagError(`--${kebab(name)} must be from ${bound(min)} to ${bound(max)}, not ${raw}`)
  }
  return value
}

function bound(value: number): string {
  return Number.isFinite(value) ? String(value) : value < 0 ? '-inf' : 'inf'
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
