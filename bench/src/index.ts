/**
 * The benchmark toolkit: scenarios, the shared reporter, the latency
 * histogram, charts and load generators, for the CLI and for tests.
 *
 * @module
 */
export { Histogram, histogramValueMax } from './histogram.ts'
export { barChart, horizontalBars, sparkline, compact } from './chart.ts'
export { closedLoop, openLoop, type Step, type OpenLoopResult } from './load.ts'
export { machine, type Machine } from './machine.ts'
export {
  Reporter,
  Phase,
  summary,
  type BenchRecord,
  type PhaseResult,
  type ReporterOptions,
  type Output,
} from './report.ts'
export {
  defineScenario,
  parseFlags,
  describeFlags,
  FlagError,
  type Scenario,
  type ScenarioResult,
  type FlagSpec,
  type FlagSpecs,
  type Options,
} from './scenario.ts'
export { scenarioNames, loadScenario } from './registry.ts'
export { runScenario } from './run.ts'
export { seededRandom, between } from './rng.ts'
