/**
 * One field of the ruleset draft, by its path in the document: its value,
 * a setter (undefined removes an optional field, and empty optional parts
 * go with it), and the validator's error for exactly that path.
 *
 * @module
 */
import { errorsAt, getIn, pathText, type PathPart } from '../lib/ruleset.ts'
import { sentence } from '../lib/validate.ts'
import { useConsole } from './console-context.tsx'

export function useDraftField<T>(at: () => readonly PathPart[]) {
  const [draft, actions] = useConsole().draft
  return {
    value: () => getIn(draft.doc(), at()) as T | undefined,
    set: (value: T | undefined) => actions.set(at(), value),
    serverError: (): string | undefined => {
      const found = errorsAt(draft.errors(), pathText(at()))[0]
      return found === undefined ? undefined : sentence(found.message)
    },
  }
}
