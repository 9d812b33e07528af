/**
 * Tests of the command line's contract: `--list`, and exit code 2 with the
 * valid choices named for an unknown scenario or a bad flag.
 *
 * @module
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url))

function bench(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { code: result.status, out: result.stdout, err: result.stderr }
}

describe('bench cli', () => {
  it('lists the scenarios', () => {
    const { code, out } = bench('--list')
    expect(code).toBe(0)
    expect(out).toMatch(/engine +engine-direct throughput/)
  })

  it('rejects an unknown scenario with exit code 2, listing valid ones', () => {
    const { code, err } = bench('nope', '--json')
    expect(code).toBe(2)
    expect(err).toContain('unknown scenario "nope"; valid scenarios: engine')
  })

  it('rejects a bad flag with exit code 2, listing the flags', () => {
    const { code, err } = bench('engine', '--acounts', '5')
    expect(code).toBe(2)
    expect(err).toContain('unknown flag --acounts')
    expect(err).toContain('--accounts <int>')
  })
})
