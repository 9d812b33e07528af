/**
 * Builds the console into `admin-ui/dist` unless it is already newer than
 * every file it is built from. `npm start` runs this first, so a fresh clone
 * serves a console and a restart does not wait for a rebuild. Tests and the
 * browser test fixture are not inputs: editing them does not rebuild.
 *
 * @module
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const inputs = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json']
const notInputs = /\.test\.ts$|[/\\]e2e[/\\]/

/** The newest modification time (ms) of a file or of the files under a folder; 0 if missing. */
function newest(path: string): number {
  const stats = statSync(path, { throwIfNoEntry: false })
  if (stats === undefined || notInputs.test(path)) return 0
  if (!stats.isDirectory()) return stats.mtimeMs
  return readdirSync(path).reduce((most, name) => Math.max(most, newest(join(path, name))), stats.mtimeMs)
}

const page = join(root, 'dist', 'index.html')
const source = Math.max(...inputs.map((input) => newest(join(root, input))))
if (existsSync(page) && statSync(page).mtimeMs >= source) {
  process.stdout.write('admin console: dist is up to date\n')
} else {
  process.stdout.write('admin console: building admin-ui/dist\n')
  // Loaded only to build: an up-to-date start skips Vite's start-up.
  const { build } = await import('vite')
  await build({ configFile: join(root, 'vite.config.ts'), root, logLevel: 'warn' })
}
