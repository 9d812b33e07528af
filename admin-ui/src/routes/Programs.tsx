import { Show } from 'solid-js'
import { Allowed } from '../components/Allowed.tsx'
import { Async } from '../components/Async.tsx'
import { DraftBar } from '../components/DraftBar.tsx'
import { PageHeader } from '../components/PageHeader.tsx'
import { ProgramSettings, QualificationSettings } from '../components/ProgramSettings.tsx'
import { ProgramTabs } from '../components/ProgramTabs.tsx'
import { TierTable } from '../components/TierTable.tsx'
import { getActiveRuleset } from '../lib/api.ts'
import { useDraftEditor } from '../stores/useDraftEditor.ts'

/** Program settings, the tier table and tier movement: all part of the ruleset draft. */
export function Programs() {
  return (
    <Allowed capability="rulesets.read">
      <Async keys={getActiveRuleset.key} label="Loading programs">
        <ProgramsView />
      </Async>
    </Allowed>
  )
}

function ProgramsView() {
  const editor = useDraftEditor()
  return (
    <>
      <PageHeader
        title="Programs & tiers"
        subtitle={<>Changes here go into the ruleset draft; publishing makes them a new version (live v{editor.live()?.version}).</>}
      >
        <ProgramTabs programs={editor.programs()} selected={editor.programIndex()} onSelect={editor.selectProgram} />
      </PageHeader>
      <DraftBar />
      <Show when={editor.program()}>
        {(program) => (
          <>
            <section class="panel" aria-label="Program settings">
              <h2>{program().name}: settings</h2>
              <ProgramSettings at={['programs', editor.programIndex()]} program={program()} />
            </section>
            <section class="panel" aria-label="Tiers">
              <h2>Tiers</h2>
              <TierTable at={['programs', editor.programIndex(), 'tiers']} program={program()} />
            </section>
            <section class="panel" aria-label="Upgrades and downgrades">
              <h2>Upgrades and downgrades</h2>
              <QualificationSettings at={['programs', editor.programIndex(), 'qualification']} program={program()} />
            </section>
          </>
        )}
      </Show>
    </>
  )
}
