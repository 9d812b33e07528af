/**
 * Goal: a reader that cannot be opened gets a message saying what to do on
 * that platform: the udev rule for hidraw permissions, Input Monitoring on
 * macOS, HID-POS mode on Windows, or closing whatever holds it. Method: the
 * advice for each cause, with the platform and file access check injected.
 */
import { describe, expect, it } from 'vitest'
import type { HidDeviceInfo } from './hid.ts'
import { openFailureAdvice, udevRule } from './open-advice.ts'

const msr: HidDeviceInfo = {
  vendorId: 0x0801,
  productId: 0x0001,
  path: '/dev/hidraw3',
  product: 'USB Swipe Reader',
  release: 1,
  interface: 0,
  usagePage: 1,
  usage: 6,
}
const failure = new Error('cannot open device with path /dev/hidraw3')
const errno = (code: string) => () => {
  throw Object.assign(new Error(code), { code })
}

describe('advice when a reader cannot be opened', () => {
  it('gives the udev rule when hidraw permissions are the cause', () => {
    const advice = openFailureAdvice(failure, msr, {
      platform: 'linux',
      checkAccess: errno('EACCES'),
    })
    expect(advice).toContain(
      'cannot open 0801:0001 (USB Swipe Reader) at /dev/hidraw3: permission denied',
    )
    expect(advice).toContain('/etc/udev/rules.d/70-loyalty-readers.rules')
    expect(advice).toContain(udevRule(msr))
    expect(udevRule(msr)).toBe(
      'SUBSYSTEM=="hidraw", ATTRS{idVendor}=="0801", ATTRS{idProduct}=="0001", MODE="0660", GROUP="plugdev", TAG+="uaccess"',
    )
    expect(advice).toMatch(/udevadm control --reload-rules && sudo udevadm trigger/)
  })

  it('says the device is busy when it is accessible but will not open', () => {
    const advice = openFailureAdvice(failure, msr, { platform: 'linux', checkAccess: () => {} })
    expect(advice).toMatch(/It may be busy: close any other program using it/)
  })

  it('says the device went away when its node is gone', () => {
    expect(
      openFailureAdvice(failure, msr, { platform: 'linux', checkAccess: errno('ENOENT') }),
    ).toMatch(/went away while opening/)
  })

  it('explains the operating system keeping keyboards on macOS and Windows', () => {
    expect(openFailureAdvice(failure, msr, { platform: 'darwin', checkAccess: () => {} })).toMatch(
      /Input Monitoring/,
    )
    expect(openFailureAdvice(failure, msr, { platform: 'win32', checkAccess: () => {} })).toMatch(
      /HID-POS/,
    )
  })
})
