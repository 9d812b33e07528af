import { describe, expect, it } from 'vitest'
import { retryKey } from './retry-key.ts'

describe('retryKey', () => {
  it('keeps the key while the same request is sent again, and changes it for another or after success', () => {
    const keys = retryKey('console-test')
    const first = keys.for({ points: 5 })
    expect(first).toMatch(/^console-test-[0-9a-f-]{36}$/)
    expect(keys.for({ points: 5 })).toBe(first)
    const changed = keys.for({ points: 6 })
    expect(changed).not.toBe(first)
    keys.done()
    expect(keys.for({ points: 6 })).not.toBe(changed)
  })
})
