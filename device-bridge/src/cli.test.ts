/**
 * Goal: on this machine the real node-hid binding loads and enumerates, and
 * the CLI lists devices (none here), refuses bad settings naming the field,
 * and runs the bridge until SIGTERM, as the real process an operator runs.
 * Method: node-hid through the bridge's backend, and `device-bridge/src/cli.ts`
 * spawned under tsx (against a real gateway for the run).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '@loyalty/engine'
import { startWsServer } from '@loyalty/gateway/ws'
// The gateway package does not export its test harness; it is test-only code shared by path.
import { gatewayHarness } from '@loyalty/gateway/testing'
import { createDriverRegistry } from './drivers/builtin.ts'
import { nodeHidBackend } from './hid.ts'
import { deviceTable } from './list.ts'

const root = new URL('../../', import.meta.url).pathname
const scratch = mkdtempSync(join(tmpdir(), 'bridge-cli-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'device-bridge/src/cli.ts', ...args],
      {
        cwd: root,
        env: { ...process.env, ...env },
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('node-hid on this machine', () => {
  it('loads its native binding and enumerates', async () => {
    const backend = nodeHidBackend()
    expect(backend.version()).toMatch(/^\d+\.\d+\.\d+/)
    const devices = await backend.devices()
    expect(Array.isArray(devices)).toBe(true)
    const table = deviceTable(devices, createDriverRegistry())
    if (devices.length === 0) {
      expect(table).toEqual([expect.stringMatching(/^No HID devices found/)])
    } else {
      expect(table[0]).toMatch(/^VID:PID\s+PATH\s+PRODUCT/)
    }
  })
})

describe('the bridge CLI', () => {
  it('lists HID devices (none here) and exits 0', async () => {
    const { code, stdout, stderr } = await cli(['--list'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^(No HID devices found|VID:PID)/)
    expect(stderr).toMatch(/hidapi \d+\.\d+/)
  })

  it('refuses bad settings with exit code 2, naming the field', async () => {
    const file = join(scratch, 'bridge.json')
    writeFileSync(
      file,
      JSON.stringify({
        terminal: { id: 'pos-1' },
        gateway: { url: 'ws://127.0.0.1:9/' },
        readers: [{ name: 'msr', vendorId: '0801', productId: '0001' }],
      }),
    )
    const [noSecret, badReader, extraPart, badId, unknownFlag] = await Promise.all([
      cli(['--config', file]),
      cli(['--config', file, '--reader', '0c2e'], { LOYALTY_TERMINAL_SECRET: 'secret' }),
      cli(['--config', file, '--reader', '0c2e:0b61:barcode:till:2'], { LOYALTY_TERMINAL_SECRET: 'secret' }),
      cli(['--config', file, '--reader', 'zz:0b61:barcode'], { LOYALTY_TERMINAL_SECRET: 'secret' }),
      cli(['--lisst']),
    ])
    expect([noSecret.code, noSecret.stderr]).toEqual([
      2,
      expect.stringMatching(/bad setting terminal\.secret: is required/),
    ])
    expect([badReader.code, badReader.stderr]).toEqual([
      2,
      expect.stringMatching(/bad setting --reader: "0c2e" is not VID:PID/),
    ])
    expect([extraPart.code, extraPart.stderr]).toEqual([
      2,
      expect.stringMatching(/bad setting --reader: "0c2e:0b61:barcode:till:2" is not VID:PID\[:CONTENT\[:NAME\]\]/),
    ])
    expect([badId.code, badId.stderr]).toEqual([
      2,
      expect.stringMatching(/bad setting readers\[1\]\.vendorId: must be a USB id/),
    ])
    expect([unknownFlag.code, unknownFlag.stderr]).toEqual([
      2,
      expect.stringMatching(/Unknown option '--lisst'[\s\S]*usage: npm run bridge/),
    ])
  })
})

describe('the bridge CLI running', () => {
  it('waits for its reader, connects to the gateway as a device session, and stops on SIGTERM', async () => {
    await using h = await gatewayHarness()
    const server = await startWsServer(h.gateway, {
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
    })
    try {
      const queue = join(scratch, 'queue')
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'device-bridge/src/cli.ts',
          '--gateway',
          `ws://127.0.0.1:${server.port}/`,
          '--terminal',
          h.terminal.id,
          '--queue-dir',
          queue,
          '--reader',
          'fee1:0001:barcode:scanner',
        ],
        { cwd: root, env: { ...process.env, LOYALTY_TERMINAL_SECRET: h.terminal.secret } },
      )
      let stderr = ''
      child.stderr.on('data', (chunk) => (stderr += chunk))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      const deadline = Date.now() + 20_000
      while (!/connected to .* as terminal pos-1/.test(stderr) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20))
      }
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(stderr).toMatch(
        /device bridge bridge-pos-1 for terminal pos-1: gateway ws:\/\/127\.0\.0\.1:\d+\/, queue /,
      )
      expect(stderr).toMatch(/reader scanner: no fee1:0001 device plugged in; waiting for it/)
      expect(stderr).toMatch(
        /connected to ws:\/\/127\.0\.0\.1:\d+\/ as terminal pos-1 \(device bridge-pos-1\)/,
      )
      expect(stderr).toMatch(/SIGTERM: stopping[\s\S]*device bridge stopped; 0 reads left queued/)
    } finally {
      await server.close(0)
    }
  })
})
