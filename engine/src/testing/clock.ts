/** A clock tests move by hand. Starts at 2026-01-22T12:00:00Z unless told otherwise. */
export class FakeClock {
  constructor(public now = Date.UTC(2026, 0, 22, 12)) {}
  readonly read = (): number => this.now
  advance(ms: number) {
    this.now += ms
  }
}

export const dayMs = 86_400_000
