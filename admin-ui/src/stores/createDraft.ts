/**
 * The unpublished ruleset the console edits: programs, tiers, rules,
 * campaigns and activities all live in one document, so the Programs and the
 * Rules pages edit the same draft, and publishing stores it as one new
 * version. The draft starts from a stored version (the live one by default),
 * survives a reload (kept in localStorage per user and base version), and
 * carries the validator's errors by path once the server has checked it.
 *
 * Updates are immutable (`setIn`): the document is plain JSON, and every edit
 * makes a new one sharing what did not change.
 *
 * @module
 */
import { revalidate } from '@solidjs/router'
import { batch, createMemo, createSignal } from 'solid-js'
import { client, getActiveRuleset, getRuleset, getRulesets } from '../lib/api.ts'
import { ApiError, strandingRefusal } from '../lib/client.ts'
import { setAt, type PathPart } from '../lib/ruleset.ts'
import type { RulesetDoc, RulesetError, StoredRuleset } from '../lib/types.ts'

const storageKey = (user: string) => `loyalty-console.draft.${user}`

interface Saved {
  baseVersion: number
  doc: RulesetDoc
}

function loadSaved(user: string): Saved | undefined {
  try {
    const text = globalThis.localStorage?.getItem(storageKey(user))
    return text === null || text === undefined ? undefined : (JSON.parse(text) as Saved)
  } catch {
    return undefined
  }
}

function save(user: string, saved: Saved | undefined) {
  try {
    if (saved === undefined) globalThis.localStorage?.removeItem(storageKey(user))
    else globalThis.localStorage?.setItem(storageKey(user), JSON.stringify(saved))
  } catch {
    // Storage full or disabled: the draft still works for this page's life.
  }
}

const clone = (doc: RulesetDoc): RulesetDoc => structuredClone(doc)

export function createDraft(user: () => string | undefined) {
  const [base, setBase] = createSignal<StoredRuleset>()
  const [doc, setDoc] = createSignal<RulesetDoc>()
  const [errors, setErrors] = createSignal<RulesetError[]>([])
  /** Whether `errors` belongs to the document as it is now. */
  const [checked, setChecked] = createSignal(false)

  const dirty = createMemo(() => {
    const current = doc()
    const from = base()
    return current !== undefined && from !== undefined &&
      JSON.stringify(current) !== JSON.stringify(from.doc)
  })

  const persist = () => {
    const who = user()
    const from = base()
    const current = doc()
    if (who === undefined || from === undefined || current === undefined) return
    save(who, dirty() ? { baseVersion: from.version, doc: current } : undefined)
  }

  const replace = (next: RulesetDoc) => {
    batch(() => {
      setDoc(next)
      setChecked(false)
    })
    persist()
  }

  const actions = {
    /** Starts from `stored` unless a draft is open (or saved) on that same version. */
    start(stored: StoredRuleset) {
      const from = base()
      if (from !== undefined && dirty()) return
      if (from?.version === stored.version && doc() !== undefined) return
      const who = user()
      const saved = who === undefined ? undefined : loadSaved(who)
      batch(() => {
        setBase(stored)
        setDoc(saved?.baseVersion === stored.version ? saved.doc : clone(stored.doc))
        setErrors([])
        setChecked(false)
      })
    },
    /** Drops the edits and starts again from `stored` (default: the same base). */
    discard(stored?: StoredRuleset) {
      const from = stored ?? base()
      if (from === undefined) return
      batch(() => {
        setBase(from)
        setDoc(clone(from.doc))
        setErrors([])
        setChecked(false)
      })
      persist()
    },
    update(change: (doc: RulesetDoc) => RulesetDoc) {
      const current = doc()
      if (current !== undefined) replace(change(current))
    },
    set(path: readonly PathPart[], value: unknown) {
      actions.update((current) => setAt(current, path, value))
    },
    /** Errors found by a preview or a publish of this draft. */
    reportErrors(found: readonly RulesetError[]) {
      batch(() => {
        setErrors([...found])
        setChecked(true)
      })
    },
    /**
     * Stores the draft as a new version (activated at once when `activate`).
     * A document that does not validate rejects with the ApiError, and its
     * errors are kept on the draft, by path. A refusal to activate it because
     * it would strand accounts rejects too, but is not the document's fault:
     * the draft keeps no errors for it (`force` activates it anyway).
     */
    async publish(how: { activate: boolean; note?: string; force?: boolean }) {
      const current = doc()
      if (current === undefined) throw new Error('there is no draft to publish')
      try {
        const published = await client.rulesets.publish(current, how)
        const stored: StoredRuleset = {
          version: published.version,
          publishedAt: Date.now(),
          active: published.active,
          doc: clone(current),
          ...(how.note === undefined ? {} : { note: how.note }),
        }
        actions.discard(stored)
        await revalidate([getRulesets.key, getActiveRuleset.key, getRuleset.key])
        return published
      } catch (error) {
        if (!strandingRefusal(error) && error instanceof ApiError && error.errors.length > 0) actions.reportErrors(error.errors)
        throw error
      }
    },
  }
  const state = { base, doc, errors, checked, dirty }
  return [state, actions] as const
}

export type Draft = ReturnType<typeof createDraft>
