import { getIn, type PathPart } from '../lib/ruleset.ts'
import type { ItemFilter } from '../lib/types.ts'
import { useConsole } from '../stores/console-context.tsx'
import { DraftTags } from './DraftTags.tsx'

/** Which basket lines a rule counts (empty: every line the program does not exclude). */
export function ItemsEditor(props: { at: readonly PathPart[]; title?: string }) {
  const [draft] = useConsole().draft
  const count = () => Object.keys((getIn(draft.doc(), props.at) as ItemFilter | undefined) ?? {}).length
  return (
    <details class="subsection" open={count() > 0}>
      <summary>{props.title ?? 'Items'} {count() === 0 ? '(all items)' : `(${count()} filters)`}</summary>
      <div class="grid-2">
        <DraftTags label="Categories" at={[...props.at, 'categories']} placeholder="coffee, bakery" />
        <DraftTags label="SKUs" at={[...props.at, 'skus']} />
        <DraftTags label="Except categories" at={[...props.at, 'excludeCategories']} />
        <DraftTags label="Except SKUs" at={[...props.at, 'excludeSkus']} />
      </div>
    </details>
  )
}
