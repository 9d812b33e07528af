/**
 * The bridge's view of HID: enumerate devices, open one by path, receive its
 * input reports. node-hid sits behind this small interface so the bridge runs
 * the same against a fake in tests.
 *
 * The real backend uses node-hid's `HIDAsync`: each open device reads on a
 * thread of its own. (The older `HID` class reads on libuv's thread pool, one
 * pool thread per device for as long as it is open, which starves file I/O
 * once a till has a few readers.) Both are EventEmitters with 'data' and
 * 'error' and a `close()`, which is all the bridge uses.
 *
 * @module
 */
import { createRequire } from 'node:module'
import type { Device } from 'node-hid'

/** One HID interface as node-hid enumerates it. */
export type HidDeviceInfo = Device

/** An open device: input reports arrive as 'data', a failure (unplugged) as 'error'. */
export interface HidDevice {
  on(event: 'data', listener: (data: Buffer) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  close(): void | Promise<void>
}

export interface HidBackend {
  devices(): Promise<HidDeviceInfo[]>
  /** Opens a device by its enumerated path; throws when it cannot be opened. */
  open(path: string): Promise<HidDevice>
  /** The hidapi version, e.g. "0.14.0". */
  version(): string
}

/** node-hid could not load its native binding. */
export class HidUnavailableError extends Error {
  override readonly name = 'HidUnavailableError'
}

/**
 * The backend over node-hid (hidraw on Linux). The native binding loads on
 * first use; if it cannot, every call throws a `HidUnavailableError` saying
 * what to install.
 *
 * @example
 *   const hid = nodeHidBackend()
 *   for (const d of await hid.devices()) log.info(`${d.vendorId}:${d.productId} ${d.product}`)
 */
export function nodeHidBackend(): HidBackend {
  let module: typeof import('node-hid') | undefined
  const load = () => {
    if (module !== undefined) return module
    try {
      module = createRequire(import.meta.url)('node-hid') as typeof import('node-hid')
      module.getHidapiVersion()
      return module
    } catch (error) {
      module = undefined
      throw new HidUnavailableError(
        `node-hid could not load its native binding (${(error as Error).message}). ` +
          'It ships prebuilt for Linux, macOS and Windows on x64 and arm64; on Linux it needs ' +
          'libudev and libusb-1.0 (Debian: apt-get install libudev1 libusb-1.0-0).',
      )
    }
  }
  return {
    devices: () => load().devicesAsync(),
    open: async (path) => load().HIDAsync.open(path),
    version: () => load().getHidapiVersion(),
  }
}
