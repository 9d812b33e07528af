import { For, Show, createMemo, createSignal } from 'solid-js'
import { civilDate, dayInZone, layoutMonth, rulesetInstant, shiftMonth } from '../lib/calendar.ts'
import type { CampaignDoc } from '../lib/types.ts'

const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']

/** The campaign's name, and its weekdays when it runs on some only (the bar spans its dates). */
function barLabel(campaign: CampaignDoc): string {
  const days = campaign.when?.daysOfWeek
  if (days === undefined || days.length === 0 || days.length === 7) return campaign.name
  return `${campaign.name} (${days.map((day) => weekdays[day - 1]).join(', ')} only)`
}
const monthName = (year: number, month: number) =>
  new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(Date.UTC(year, month - 1, 1))

/**
 * A month of campaigns in the program's time zone: each campaign a bar over
 * the days it runs, one lane each, so overlaps are visible at a glance.
 */
export function CampaignCalendar(props: { campaigns: CampaignDoc[]; timeZone: string; onOpen: (index: number) => void }) {
  const today = () => civilDate(dayInZone(Date.now(), props.timeZone))
  const [shown, setShown] = createSignal({ year: today().year, month: today().month })
  const todayNumber = () => dayInZone(Date.now(), props.timeZone)
  const items = createMemo(() =>
    props.campaigns
      .map((campaign, index) => ({ id: String(index), label: barLabel(campaign), from: rulesetInstant(campaign.from, props.timeZone), to: rulesetInstant(campaign.to, props.timeZone) }))
      .filter((item) => !Number.isNaN(item.from) && !Number.isNaN(item.to)),
  )
  const layout = createMemo(() => layoutMonth(items(), shown().year, shown().month, props.timeZone))
  const move = (by: number) => setShown(shiftMonth(shown().year, shown().month, by))
  return (
    <div class="calendar">
      <div class="calendar-nav">
        <button type="button" class="icon-button" aria-label="Previous month" onClick={() => move(-1)}>‹</button>
        <strong>{monthName(shown().year, shown().month)}</strong>
        <button type="button" class="icon-button" aria-label="Next month" onClick={() => move(1)}>›</button>
        <button type="button" class="button small ghost" onClick={() => setShown({ year: today().year, month: today().month })}>Today</button>
        <span class="muted small">Days in {props.timeZone}</span>
      </div>
      <div class="calendar-head">
        <For each={weekdays}>{(day) => <span>{day}</span>}</For>
      </div>
      <For each={layout().weeks}>
        {(week) => (
          <div class="calendar-week" style={{ 'grid-template-rows': `1.6rem repeat(${Math.max(week.lanes, 1)}, 1.5rem)` }}>
            <For each={week.days}>
              {(day, column) => (
                <span
                  class="calendar-day"
                  classList={{ outside: !day.inMonth, today: day.day === todayNumber() }}
                  style={{ 'grid-column': `${column() + 1}`, 'grid-row': `1 / span ${Math.max(week.lanes, 1) + 1}` }}
                >
                  {day.date}
                </span>
              )}
            </For>
            <For each={week.bars}>
              {(bar) => (
                <button
                  type="button"
                  class={`calendar-bar tone-${Number(bar.id) % 6}`}
                  classList={{ 'open-start': bar.continuesBefore, 'open-end': bar.continuesAfter }}
                  style={{ 'grid-column': `${bar.column + 1} / span ${bar.span}`, 'grid-row': `${bar.lane + 2}` }}
                  title={bar.label}
                  onClick={() => props.onOpen(Number(bar.id))}
                >
                  {bar.label}
                </button>
              )}
            </For>
          </div>
        )}
      </For>
      <Show when={layout().weeks.every((week) => week.bars.length === 0)}>
        <p class="muted small">No campaign runs this month.</p>
      </Show>
    </div>
  )
}
