/**
 * `--list`: the HID devices on this machine, one line each, with what a
 * reader's config needs to name them (vendor and product id, path) and the
 * driver the bridge would use.
 *
 * @module
 */
import type { DriverRegistry } from './drivers/driver.ts'
import { usbIdText } from './drivers/driver.ts'
import type { HidDeviceInfo } from './hid.ts'

/**
 * Formats enumerated devices as a table (or says there are none).
 *
 * @example
 *   deviceTable(await backend.devices(), createDriverRegistry())
 *   // ['VID:PID    PATH          PRODUCT                      USAGE        DRIVER', '0801:0002  /dev/hidraw3  …']
 */
export function deviceTable(devices: HidDeviceInfo[], drivers: DriverRegistry): string[] {
  if (devices.length === 0) {
    return [
      'No HID devices found. Plug a reader in and run --list again (on Linux each appears as a /dev/hidraw* node).',
    ]
  }
  const rows = [...devices]
    .sort((a, b) => (a.path ?? '').localeCompare(b.path ?? ''))
    .map((d) => [
      usbIdText(d),
      d.path ?? '-',
      productName(d),
      usageText(d),
      drivers.forDevice(d).name,
    ])
  const header = ['VID:PID', 'PATH', 'PRODUCT', 'USAGE', 'DRIVER']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')
  return [
    line(header),
    ...rows.map(line),
    `${devices.length} HID device${devices.length === 1 ? '' : 's'}.`,
  ]
}

function productName(d: HidDeviceInfo): string {
  const product = d.product?.trim() || 'unnamed'
  const maker = d.manufacturer?.trim()
  return maker ? `${product} (${maker})` : product
}

function usageText(d: HidDeviceInfo): string {
  if (d.usagePage === undefined || d.usage === undefined) return '-'
  if (d.usagePage === 0x01 && d.usage === 0x06) return 'keyboard'
  const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`
  return `${hex(d.usagePage)}/${hex(d.usage)}`
}
