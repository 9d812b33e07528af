/**
 * A fake HID stack for tests: devices that can be plugged in and pulled out,
 * and open devices shaped like node-hid's (an EventEmitter with 'data' and
 * 'error', and `close()`) that replay recorded reports. Pulling a device out
 * while it is open emits the 'error' node-hid emits when a read fails.
 *
 * @module
 */
import { EventEmitter } from 'node:events'
import type { HidBackend, HidDevice, HidDeviceInfo } from '../hid.ts'

export class FakeHidDevice extends EventEmitter implements HidDevice {
  readonly info: HidDeviceInfo
  closed = false

  constructor(info: HidDeviceInfo) {
    super()
    this.info = info
  }

  /** Delivers input reports as the device would, one 'data' event each. */
  replay(reports: Iterable<Uint8Array | number[]>): void {
    for (const report of reports) this.emit('data', Buffer.from(report))
  }

  close(): void {
    this.closed = true
    this.removeAllListeners()
  }
}

export class FakeHidBackend implements HidBackend {
  readonly #plugged = new Map<string, HidDeviceInfo>()
  /** Paths that refuse to open, with the error node-hid would throw. */
  readonly refusals = new Map<string, Error>()
  /** Every device opened, latest last. */
  readonly opened: FakeHidDevice[] = []
  enumerations = 0

  plug(
    info: Partial<HidDeviceInfo> & Pick<HidDeviceInfo, 'vendorId' | 'productId' | 'path'>,
  ): HidDeviceInfo {
    const full: HidDeviceInfo = { release: 0x100, interface: 0, ...info }
    this.#plugged.set(info.path!, full)
    return full
  }

  /** Pulls a device out: gone from the list, and an open handle fails like node-hid's does. */
  unplug(path: string): void {
    this.#plugged.delete(path)
    for (const device of this.opened) {
      if (device.info.path === path && !device.closed) {
        device.emit('error', new Error('could not read from HID device'))
      }
    }
  }

  /** The open handle of a plugged device (the latest one opened at that path). */
  device(path: string): FakeHidDevice | undefined {
    return this.opened.findLast((d) => d.info.path === path && !d.closed)
  }

  async devices(): Promise<HidDeviceInfo[]> {
    this.enumerations++
    return [...this.#plugged.values()]
  }

  async open(path: string): Promise<HidDevice> {
    const info = this.#plugged.get(path)
    if (info === undefined) throw new Error(`cannot open device with path ${path}`)
    const refusal = this.refusals.get(path)
    if (refusal !== undefined) throw refusal
    const device = new FakeHidDevice(info)
    this.opened.push(device)
    return device
  }

  version(): string {
    return 'fake'
  }
}
