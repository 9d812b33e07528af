/**
 * `npm run bridge -- …`: lists HID devices, or runs the bridge for one till.
 *
 *   --list                      list HID devices (vendor:product id, path, product) and exit
 *   --config FILE               settings as JSON (see device-bridge/README.md)
 *   --gateway URL               the gateway's WebSocket URL (gateway.url)
 *   --terminal ID               the paired terminal (terminal.id); its secret comes from
 *                               the config file or LOYALTY_TERMINAL_SECRET
 *   --queue-dir DIR             the queue folder (queue.dir)
 *   --reader VID:PID[:CONTENT[:NAME]]
 *                               a reader to open, repeatable: e.g. 0c2e:0b61:barcode
 *   --name NAME                 this bridge's device-session name
 *
 * Flags override the file. Exit codes: 0 done, 1 failed (node-hid or the
 * queue folder unusable), 2 bad flags or settings (the message names the
 * field). The bridge runs until SIGINT or SIGTERM; reads still queued stay on
 * disk for the next start.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { startBridge } from './bridge.ts'
import { ConfigError, parseConfig } from './config.ts'
import { createDriverRegistry } from './drivers/builtin.ts'
import { nodeHidBackend } from './hid.ts'
import { deviceTable } from './list.ts'
import { createStderrLogger, type Logger } from './logger.ts'

const usage = `usage: npm run bridge -- --list
       npm run bridge -- --config bridge.json [--gateway ws://host:8081/] [--terminal pos-1]
                         [--queue-dir DIR] [--reader VID:PID[:CONTENT[:NAME]]]... [--name NAME]
The terminal's secret: "terminal.secret" in the config file, or LOYALTY_TERMINAL_SECRET.`

type Raw = Record<string, unknown>

function flags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      config: { type: 'string' },
      gateway: { type: 'string' },
      terminal: { type: 'string' },
      'queue-dir': { type: 'string' },
      reader: { type: 'string', multiple: true },
      name: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }).values
}

/** The raw settings: the file, then flags and the environment over it, validated as one. */
function settingsFrom(values: ReturnType<typeof flags>, env: NodeJS.ProcessEnv): Raw {
  const raw: Raw = values.config === undefined ? {} : readConfigFile(values.config)
  const sub = (name: string): Raw => {
    const value = raw[name] ?? {}
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(name, 'must be an object')
    }
    return (raw[name] = { ...value })
  }
  if (values.gateway !== undefined) sub('gateway')['url'] = values.gateway
  if (values.terminal !== undefined) sub('terminal')['id'] = values.terminal
  if (env['LOYALTY_TERMINAL_SECRET'] !== undefined) {
    sub('terminal')['secret'] = env['LOYALTY_TERMINAL_SECRET']
  }
  if (values['queue-dir'] !== undefined) sub('queue')['dir'] = values['queue-dir']
  if (values.name !== undefined) raw['name'] = values.name
  if (values.reader !== undefined) {
    const listed = Array.isArray(raw['readers']) ? raw['readers'] : []
    raw['readers'] = [
      ...listed,
      ...values.reader.map((text, i) => readerFlag(text, listed.length + i)),
    ]
  }
  return raw
}

function readConfigFile(path: string): Raw {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError('--config', `cannot read ${path}: ${(error as Error).message}`)
  }
  try {
    return JSON.parse(text) as Raw
  } catch (error) {
    throw new ConfigError('--config', `${path} is not valid JSON: ${(error as Error).message}`)
  }
}

/** `0c2e:0b61[:barcode[:scanner]]` → a reader entry (validated with the rest). */
function readerFlag(text: string, index: number): Raw {
  const parts = text.split(':')
  const [vendorId, productId, content, name] = parts
  if (vendorId === undefined || productId === undefined || productId === '' || parts.length > 4) {
    throw new ConfigError(
      '--reader',
      `"${text}" is not VID:PID[:CONTENT[:NAME]], e.g. 0c2e:0b61:barcode`,
    )
  }
  return {
    name: name ?? `reader-${index + 1}`,
    vendorId,
    productId,
    ...(content ? { content } : {}),
  }
}

async function list(log: Logger): Promise<number> {
  const backend = nodeHidBackend()
  const devices = await backend.devices()
  for (const line of deviceTable(devices, createDriverRegistry())) process.stdout.write(`${line}\n`)
  log.info(`hidapi ${backend.version()}`)
  return 0
}

async function run(raw: Raw, log: Logger): Promise<number> {
  const config = parseConfig(raw)
  const bridge = await startBridge({ config, backend: nodeHidBackend(), logger: log })
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: stopping`)
      resolve()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  await bridge.close()
  return 0
}

async function main(argv: string[]): Promise<number> {
  const log = createStderrLogger()
  try {
    const values = flags(argv)
    if (values.help) {
      process.stdout.write(`${usage}\n`)
      return 0
    }
    if (values.list) return await list(log)
    return await run(settingsFrom(values, process.env), log)
  } catch (error) {
    if (error instanceof ConfigError) {
      log.error(`bad setting ${error.message}`)
      return 2
    }
    if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      log.error(`${(error as Error).message}\n${usage}`)
      return 2
    }
    log.error((error as Error).message)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
