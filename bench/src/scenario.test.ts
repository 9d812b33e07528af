/**
 * Tests of flag parsing: number flags take plain decimal numbers only (a
 * fraction only for `number` flags), and every in-flight or count flag of
 * every scenario has an upper bound.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import { loadScenario, scenarioNames } from './registry.ts'
import { FlagError, parseFlags, type FlagSpecs } from './scenario.ts'

const flags = {
  seconds: { kind: 'number', description: 'seconds', default: 1, min: 0.1 },
  count: { kind: 'int', description: 'a count', default: 1, min: 1, max: 1000 },
  seed: { kind: 'int', description: 'a seed', default: 1 },
  share: { kind: 'number', description: 'a share', default: 0.5, min: 0, max: 1 },
} as const satisfies FlagSpecs

describe('number flags', () => {
  it.each([
    [['--count', '0x10'], '--count must be an integer in decimal digits, not "0x10"'],
    [['--count', '1e3'], '--count must be an integer in decimal digits, not "1e3"'],
    [['--count', ' 5 '], '--count must be an integer in decimal digits, not " 5 "'],
    [['--count', '0b11'], '--count must be an integer in decimal digits, not "0b11"'],
    [['--count', '0o7'], '--count must be an integer in decimal digits, not "0o7"'],
    [['--count', '+5'], '--count must be an integer in decimal digits, not "+5"'],
    [['--count', '5.0'], '--count must be an integer in decimal digits, not "5.0"'],
    [['--count', ''], '--count must be an integer in decimal digits, not ""'],
    [['--count', '_5'], '--count must be an integer in decimal digits, not "_5"'],
    [['--seconds', '0x10'], '--seconds must be a decimal number (such as 2 or 0.5), not "0x10"'],
    [['--seconds', '1e3'], '--seconds must be a decimal number (such as 2 or 0.5), not "1e3"'],
    [['--seconds', ' 5 '], '--seconds must be a decimal number (such as 2 or 0.5), not " 5 "'],
    [['--seconds', '0b11'], '--seconds must be a decimal number (such as 2 or 0.5), not "0b11"'],
    [['--seconds', 'Infinity'], '--seconds must be a decimal number (such as 2 or 0.5), not "Infinity"'],
    [['--seconds', '1.'], '--seconds must be a decimal number (such as 2 or 0.5), not "1."'],
    [['--share', '0x1'], '--share must be a decimal number (such as 2 or 0.5), not "0x1"'],
    [['--seed', '9007199254740993'], '--seed must be from -9007199254740991 to 9007199254740991, not 9007199254740993'],
  ])('refuses %j naming the flag and the value', (argv, message) => {
    expect(() => parseFlags(flags, argv)).toThrow(FlagError)
    expect(() => parseFlags(flags, argv)).toThrow(message)
  })

  it.each([
    [['--count', '16'], { count: 16 }],
    [['--count=1_000'], { count: 1000 }],
    [['--count', '007'], { count: 7 }],
    [['--seconds', '0.5'], { seconds: 0.5 }],
    [['--seconds', '.5'], { seconds: 0.5 }],
    [['--seconds', '3'], { seconds: 3 }],
    [['--share', '0.9'], { share: 0.9 }],
    [['--seed', '-3'], { seed: -3 }],
  ])('takes %j', (argv, expected) => {
    expect(parseFlags(flags, argv)).toMatchObject(expected)
  })

  it('names the flag and its limit for a value out of range', () => {
    expect(() => parseFlags(flags, ['--count', '1001'])).toThrow('--count must be from 1 to 1000, not 1001')
    expect(() => parseFlags(flags, ['--share', '1.5'])).toThrow('--share must be from 0 to 1, not 1.5')
    expect(() => parseFlags(flags, ['--seconds', '9'.repeat(400)])).toThrow(/^--seconds must be from 0.1 to inf, not 9{400}$/)
  })
})

/** Flags that count things or set how many are in flight: each needs an upper bound. */
const countFlag = /^(accounts|members|concurrency|seedConcurrency|enrollConcurrency|streams|window|batch|terminals|connections|pipelining|workers|shards|cachedAccounts|hotAccounts|searches|rules|rate)$/

describe('every scenario', () => {
  it('bounds every in-flight and count flag from above', async () => {
    const unbounded: string[] = []
    for (const name of scenarioNames()) {
      const scenario = await loadScenario(name)
      for (const [flag, spec] of Object.entries(scenario.flags)) {
        if (spec.kind === 'int' || spec.kind === 'number') {
          expect(flag, `${name} --${flag}: is it a count?`).toSatisfy((f: string) => countFlag.test(f) || /seconds|warmup|share|rngSeed|timeout/i.test(f))
        }
        // hotAccounts is bounded by --accounts, in the engine scenario's check.
        if (countFlag.test(flag) && spec.max === undefined && flag !== 'hotAccounts') unbounded.push(`${name} --${flag}`)
      }
    }
    expect(unbounded).toEqual([])
  })

  it.each([
    ['engine', '--concurrency'],
    ['rules', '--concurrency'],
    ['grpc', '--window'],
    ['grpc', '--streams'],
    ['ws', '--terminals'],
    ['http', '--connections'],
    ['registry', '--enroll-concurrency'],
  ])('%s refuses %s past its maximum, naming the flag and the limit', async (name, flag) => {
    const scenario = await loadScenario(name)
    expect(() => parseFlags(scenario.flags, [flag, '100000000'])).toThrow(new RegExp(`^${flag} must be from 1 to [\\d]+, not 100000000$`))
  })
})
