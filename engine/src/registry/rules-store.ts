/**
 * Where ruleset versions and campaign quota grants are kept. With a data
 * folder that is the registry's LMDB environment (`data/registry`), written
 * only by the main thread; every write waits for its flush, so a version that
 * was reported published, or quota that was leased, survives a crash.
 *
 * Versions are numbered from 1 and never change once stored: activating an
 * older version re-activates it, it does not rewrite it.
 *
 * @module
 */
import type { Database, RootDatabase } from 'lmdb'
import type { RulesetDoc } from '../rules/types.ts'

export interface StoredRuleset {
  version: number
  doc: RulesetDoc
  publishedAt: number
  note?: string
}

export interface RulesStore {
  /** Every stored version, oldest first, without documents. */
  list(): Omit<StoredRuleset, 'doc'>[]
  get(version: number): StoredRuleset | undefined
  activeVersion(): number | undefined
  /** Stores a new version; resolves with its number once it is durable. */
  add(doc: RulesetDoc, publishedAt: number, note?: string): Promise<number>
  setActive(version: number): Promise<void>
  /** Units of a campaign's quota leased to shards so far. */
  granted(quotaKey: string): number
  setGranted(quotaKey: string, units: number): Promise<void>
  close(): Promise<void>
}

function withNote(stored: StoredRuleset, note: string | undefined): StoredRuleset {
  return note === undefined ? stored : { ...stored, note }
}

const activeKey = 'active'

export class LmdbRulesStore implements RulesStore {
  readonly #root: RootDatabase
  readonly #versions: Database<StoredRuleset, number>
  readonly #meta: Database<number, string>
  readonly #granted: Database<number, string>

  /** Uses the registry environment `root`, which its owner closes. */
  constructor(root: RootDatabase) {
    this.#root = root
    this.#versions = this.#root.openDB({ name: 'rulesets' })
    this.#meta = this.#root.openDB({ name: 'meta' })
    this.#granted = this.#root.openDB({ name: 'quota-granted' })
  }

  list() {
    return Array.from(this.#versions.getRange({}), ({ value }) => {
      const { doc: _doc, ...info } = value
      return info
    })
  }

  get(version: number) {
    return this.#versions.get(version)
  }

  activeVersion() {
    return this.#meta.get(activeKey)
  }

  async add(doc: RulesetDoc, publishedAt: number, note?: string) {
    let last = 0
    for (const key of this.#versions.getKeys({ reverse: true, limit: 1 })) last = key
    const version = last + 1
    await this.#versions.put(version, withNote({ version, doc, publishedAt }, note))
    await this.#root.flushed
    return version
  }

  async setActive(version: number) {
    await this.#meta.put(activeKey, version)
    await this.#root.flushed
  }

  granted(quotaKey: string) {
    return this.#granted.get(quotaKey) ?? 0
  }

  async setGranted(quotaKey: string, units: number) {
    await this.#granted.put(quotaKey, units)
    await this.#root.flushed
  }

  async close() {
    await this.#root.flushed
  }
}
