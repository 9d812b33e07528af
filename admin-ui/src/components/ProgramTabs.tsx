import { For, Show } from 'solid-js'
import type { ProgramDoc } from '../lib/types.ts'

/** Which program a page edits, when the ruleset has more than one. */
export function ProgramTabs(props: { programs: ProgramDoc[]; selected: number; onSelect: (id: string) => void }) {
  return (
    <Show when={props.programs.length > 1}>
      <div class="tabs" role="tablist" aria-label="Programs">
        <For each={props.programs}>
          {(program, index) => (
            <button
              type="button"
              role="tab"
              class="tab"
              aria-selected={index() === props.selected}
              onClick={() => props.onSelect(program.id)}
            >
              {program.name}
            </button>
          )}
        </For>
      </div>
    </Show>
  )
}
