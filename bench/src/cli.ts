/**
 * The benchmark command line: `npm run bench -- <scenario> [--json] [flags]`,
 * `--list` for the scenarios, `<scenario> --help` for its flags. Usage errors
 * exit with 2 and name what is valid; failures during a run exit with 1, and
 * so does a run that finished but failed (replies with statuses the scenario
 * does not expect, errors, nothing measured): its figures and JSON line are
 * printed, with the reasons in `failures`. A `--data` folder the engine
 * refuses (another shard count, not a data folder, a format it cannot read)
 * is a usage error too: one line naming the folder and why, exit 2.
 *
 * @module
 */
import { DataDirError } from '@loyalty/engine'
import { Reporter } from './report.ts'
import { loadScenario, scenarioNames } from './registry.ts'
import { runScenario } from './run.ts'
import { describeFlags, FlagError, parseFlags, type FlagSpec, type Scenario } from './scenario.ts'
import { removeAgainAfterExit, removeTemporaryFolders, temporaryFolders } from './temp.ts'

const usage = 'usage: npm run bench -- <scenario> [--json] [--flag value ...]\n' +
  '       npm run bench -- --list\n' +
  '       npm run bench -- <scenario> --help'

class UsageError extends Error {}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

async function listScenarios(): Promise<string> {
  const rows = await Promise.all(scenarioNames().map(async (name) => {
    try {
      return [name, (await loadScenario(name)).description] as const
    } catch (error) {
      return [name, `(cannot load: ${message(error)})`] as const
    }
  }))
  const width = Math.max(0, ...rows.map(([name]) => name.length))
  return rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join('\n')
}

const jsonFlag: FlagSpec = {
  kind: 'boolean',
  description: 'end stdout with one JSON line of results',
}

function scenarioHelp(scenario: Scenario): string {
  const flags = describeFlags({ json: jsonFlag, ...scenario.flags })
  return `${scenario.name}: ${scenario.description}\n\nflags:\n${flags}`
}

async function pickScenario(name: string | undefined): Promise<Scenario> {
  const names = scenarioNames()
  if (name === undefined || name.startsWith('-') || !names.includes(name)) {
    const what = name === undefined
      ? 'no scenario given'
      : `unknown scenario ${JSON.stringify(name)}`
    throw new UsageError(`${what}; valid scenarios: ${names.join(', ')}\n${usage}`)
  }
  return loadScenario(name)
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--list')) {
    process.stdout.write(`scenarios:\n${await listScenarios()}\n`)
    return 0
  }
  // --json may come anywhere, as --json or --json=true|false like any boolean flag.
  const isJson = (arg: string) => arg === '--json' || arg.startsWith('--json=')
  let json = false
  for (const arg of argv.filter(isJson)) {
    try {
      json = parseFlags({ json: jsonFlag }, [arg]).json === true
    } catch (error) {
      if (!(error instanceof FlagError)) throw error
      throw new UsageError(`${error.message}\n${usage}`)
    }
  }
  const args = argv.filter((arg) => !isJson(arg))
  if (args[0] === '--help' || args[0] === '-h') {
    process.stdout.write(`${usage}\n\nscenarios:\n${await listScenarios()}\n`)
    return 0
  }
  if (args.length === 0) {
    // A usage error like any other: on stderr, so nothing lands where the JSON line is expected.
    throw new UsageError(`no scenario given\n${usage}\n\nscenarios:\n${await listScenarios()}`)
  }
  const scenario = await pickScenario(args[0])
  const flagArgs = args.slice(1)
  if (flagArgs.includes('--help') || flagArgs.includes('-h')) {
    process.stdout.write(`${scenarioHelp(scenario)}\n`)
    return 0
  }
  let options
  try {
    options = parseFlags(scenario.flags, flagArgs)
    scenario.check?.(options)
  } catch (error) {
    if (!(error instanceof FlagError)) throw error
    throw new UsageError(`${error.message}\n\n${scenarioHelp(scenario)}`)
  }
  const reporter = new Reporter({ scenario: scenario.name, json })
  await runScenario(scenario, options, reporter)
  if (reporter.failures.length > 0) {
    // The figures and the JSON line are out (with `failures`), but the run is not a good one.
    const n = reporter.failures.length
    console.error(`bench: ${scenario.name} failed: ${n} problem${n === 1 ? '' : 's'} (see "error:" above)`)
    return 1
  }
  return 0
}

/**
 * Ctrl-C (SIGINT) or SIGTERM during a run: the process ends at once (the
 * engine's threads with it; a `--data` folder keeps what it had committed,
 * as after a crash), but first the run's temporary data folders are removed,
 * which the scenarios' own clean-up, skipped by the signal, would have done
 * (and once more after the process is gone, for a folder that an engine
 * thread still opening created again meanwhile).
 *
 * It then dies of the signal itself, as a shell expects of an interrupted
 * command (status 130 for SIGINT): `process.once` has removed the handler,
 * so the signal's default action applies. `process.exit` is not used: it
 * waits for the engine's threads, which can hang while a write is under way.
 */
function stopOn(signal: 'SIGINT' | 'SIGTERM') {
  process.once(signal, () => {
    removeAgainAfterExit()
    const removed = removeTemporaryFolders()
    const left = temporaryFolders()
    const what = removed.length === 0 ? '' : `; removed ${removed.join(', ')}`
    process.stderr.write(`\nbench: interrupted (${signal})${what}\n`)
    if (left.length > 0) process.stderr.write(`bench: could not remove ${left.join(', ')}\n`)
    process.kill(process.pid, signal)
  })
}

stopOn('SIGINT')
stopOn('SIGTERM')

/**
 * Stdout or stderr closed under the run (`2>&1 | head -5` once head has its
 * lines, a terminal gone): every later write fails with EPIPE, and the error
 * left unhandled ended the run through Node's exit path, leaving the
 * temporary folders behind, or hung it there waiting for an engine thread
 * (see `stopOn`). Now the run ends as on a signal: the folders are removed,
 * and the process dies of SIGPIPE, as any command whose reader has gone
 * (a shell shows status 141). Node ignores SIGPIPE; adding a listener and
 * removing it again restores the default action, which ends the process.
 */
function stopOnClosedOutput(stream: NodeJS.WriteStream, other: NodeJS.WriteStream) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (outputClosed) return
    outputClosed = true
    removeAgainAfterExit()
    const removed = removeTemporaryFolders()
    const what = removed.length === 0 ? '' : `; removed ${removed.join(', ')}`
    // Said on the other stream, if it is still open (with 2>&1 both are the closed pipe).
    if (!other.destroyed) other.write(`\nbench: output closed (${error.code ?? error.message}), stopping${what}\n`)
    process.on('SIGPIPE', () => {})
    process.removeAllListeners('SIGPIPE')
    process.kill(process.pid, 'SIGPIPE')
    // Should the signal not end it, nothing else may hold the process up either.
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000).unref()
  })
}

let outputClosed = false
stopOnClosedOutput(process.stdout, process.stderr)
stopOnClosedOutput(process.stderr, process.stdout)

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof DataDirError) {
      console.error(`bench: ${error.message}`)
      process.exitCode = 2
      return
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
    console.error(`bench: ${detail}`)
    process.exitCode = 1
  },
)
