/**
 * What the Programs and Rules pages share: the live ruleset loaded as the
 * draft's base (unless a draft is already open), and the program being
 * edited, chosen by `?program=` (default: the first).
 *
 * @module
 */
import { createAsync, useSearchParams } from '@solidjs/router'
import { createEffect, createMemo } from 'solid-js'
import { getActiveRuleset } from '../lib/api.ts'
import type { ProgramDoc } from '../lib/types.ts'
import { useConsole } from './console-context.tsx'

export function useDraftEditor() {
  const [draft, actions] = useConsole().draft
  const active = createAsync(() => getActiveRuleset())
  createEffect(() => {
    const stored = active()?.ruleset
    if (stored !== undefined) actions.start(stored)
  })
  const [params, setParams] = useSearchParams()
  const programIndex = createMemo(() => {
    const programs = draft.doc()?.programs ?? []
    const wanted = params['program']
    const index = programs.findIndex((program) => program.id === wanted)
    return index === -1 ? 0 : index
  })
  const program = (): ProgramDoc | undefined => draft.doc()?.programs[programIndex()]
  return {
    /** Read under Suspense: loads the live ruleset before the page renders. */
    live: () => active()?.ruleset,
    programIndex,
    program,
    programs: () => draft.doc()?.programs ?? [],
    selectProgram: (id: string) => setParams({ program: id, edit: undefined }),
  }
}
