/**
 * What to do when a configured reader is present but cannot be opened: the
 * usual causes are hidraw permissions on Linux, the operating system keeping
 * keyboards to itself on macOS and Windows, or another program holding the
 * device. The message names the device and gives the fix (for hidraw, the
 * udev rule to install).
 *
 * @module
 */
import { accessSync, constants } from 'node:fs'
import type { HidDeviceInfo } from './hid.ts'
import { usbIdText } from './drivers/driver.ts'

export interface AdviceContext {
  platform: NodeJS.Platform
  /** Throws like `fs.accessSync` when the path cannot be read and written. */
  checkAccess: (path: string) => void
}

const contextDefault: AdviceContext = {
  platform: process.platform,
  checkAccess: (path) => accessSync(path, constants.R_OK | constants.W_OK),
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0')

/** The udev rule that lets the `plugdev` group open this reader's hidraw node. */
export function udevRule(info: Pick<HidDeviceInfo, 'vendorId' | 'productId'>): string {
  return (
    `SUBSYSTEM=="hidraw", ATTRS{idVendor}=="${hex4(info.vendorId)}", ` +
    `ATTRS{idProduct}=="${hex4(info.productId)}", MODE="0660", GROUP="plugdev", TAG+="uaccess"`
  )
}

/**
 * Explains an open failure and how to fix it.
 *
 * @example
 *   openFailureAdvice(new Error('cannot open device with path /dev/hidraw3'), info)
 *   // 'cannot open 0801:0002 at /dev/hidraw3: permission denied. Add this udev rule ...'
 */
export function openFailureAdvice(
  error: unknown,
  info: HidDeviceInfo,
  context: AdviceContext = contextDefault,
): string {
  const what = `cannot open ${usbIdText(info)}${info.product ? ` (${info.product})` : ''} at ${info.path ?? '?'}`
  const cause = error instanceof Error ? error.message : String(error)
  const keyboard = info.usagePage === 0x01 && info.usage === 0x06
  if (context.platform === 'linux' && info.path?.startsWith('/dev/hidraw')) {
    const code = accessError(info.path, context)
    if (code === 'EACCES' || code === 'EPERM') {
      return (
        `${what}: permission denied. Let the bridge's user open it: put this line in ` +
        `/etc/udev/rules.d/70-loyalty-readers.rules\n  ${udevRule(info)}\n` +
        'then run "sudo udevadm control --reload-rules && sudo udevadm trigger", add the user to ' +
        'plugdev ("sudo usermod -aG plugdev $USER", then log in again) and re-plug the reader.'
      )
    }
    if (code === 'ENOENT') {
      return `${what}: the device went away while opening (${cause}); waiting for it to come back.`
    }
  }
  if (context.platform === 'darwin' && keyboard) {
    return (
      `${what}: macOS only lets programs read keyboard-type readers with Input Monitoring permission. ` +
      'Allow the app running the bridge (Terminal, or node) in System Settings > Privacy & Security > ' +
      'Input Monitoring, or switch the reader to HID-POS mode.'
    )
  }
  if (context.platform === 'win32' && keyboard) {
    return (
      `${what}: Windows keeps keyboard-type readers to itself. Switch the reader to HID-POS ` +
      '(or vendor HID) mode with its configuration barcodes, and give it a driver if it needs one.'
    )
  }
  return (
    `${what} (${cause}). It may be busy: close any other program using it (another bridge, a ` +
    'vendor utility), then re-plug it.'
  )
}

function accessError(path: string, context: AdviceContext): string | undefined {
  try {
    context.checkAccess(path)
    return undefined
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'EACCES'
  }
}
