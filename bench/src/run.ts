/**
 * Runs one scenario end to end: its `run`, then the reporter's summary,
 * charts and JSON line. Used by the CLI and by in-process smoke tests.
 *
 * @module
 */
import type { BenchRecord, Reporter } from './report.ts'
import type { Options, Scenario } from './scenario.ts'

export async function runScenario<F extends Scenario['flags']>(
  scenario: Scenario<F>,
  options: Options<F>,
  reporter: Reporter,
): Promise<BenchRecord> {
  const result = await scenario.run(options, reporter)
  return reporter.finish(result)
}
