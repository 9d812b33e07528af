/**
 * Reader drivers: how one kind of reader's input reports become card reads.
 * Most readers at a till are keyboard wedges (`keyboard`, the default); a
 * reader with its own report format gets a driver of its own, registered for
 * its USB vendor and product ids, and a reader's config may name any driver.
 *
 * A driver builds one decoder per open device. The bridge hands it every
 * input report with its arrival time, and calls `idle` on each tick so that
 * input left partial is ended or rejected without waiting for more reports.
 *
 * @module
 */
import type { ContentOptions } from '../decode/content.ts'
import type { KeyboardDecoderOptions } from '../decode/keyboard.ts'
import type { Decoded } from '../decode/result.ts'

export interface UsbId {
  vendorId: number
  productId: number
}

/** A reader's decoding settings from its config (each driver reads what concerns it). */
export interface DecoderOptions extends ContentOptions, KeyboardDecoderOptions {}

export interface ReportDecoder {
  /** One input report as the device delivered it; returns the reads (and rejections) it completes. */
  report(data: Uint8Array, atMs: number): Decoded[]
  /** Ends or rejects input left partial for too long. */
  idle(nowMs: number): Decoded[]
}

export interface ReaderDriver {
  readonly name: string
  readonly description: string
  /** Devices this driver decodes unless their config names another. */
  readonly devices: readonly UsbId[]
  /** When a device exposes several HID interfaces, the one this driver reads. */
  readonly usage?: { usagePage: number; usage: number }
  createDecoder(options: DecoderOptions): ReportDecoder
}

/**
 * Drivers by name, and which one decodes a device by default.
 *
 * @example
 *   const drivers = new DriverRegistry(keyboardWedgeDriver).register(magtekHidDriver)
 *   drivers.forDevice({ vendorId: 0x0801, productId: 0x0002 }).name // 'magtek-hid'
 */
export class DriverRegistry {
  readonly #byName = new Map<string, ReaderDriver>()
  readonly #byDevice = new Map<string, ReaderDriver>()
  readonly #fallback: ReaderDriver

  /** `fallback` decodes every device no other driver claims. */
  constructor(fallback: ReaderDriver) {
    this.#fallback = fallback
    this.register(fallback)
  }

  register(driver: ReaderDriver): this {
    if (this.#byName.has(driver.name)) {
      throw new Error(`a driver named ${driver.name} is already registered`)
    }
    for (const id of driver.devices) {
      const claimed = this.#byDevice.get(usbIdText(id))
      if (claimed !== undefined) {
        throw new Error(`${usbIdText(id)} is already decoded by ${claimed.name}`)
      }
    }
    this.#byName.set(driver.name, driver)
    for (const id of driver.devices) this.#byDevice.set(usbIdText(id), driver)
    return this
  }

  get(name: string): ReaderDriver | undefined {
    return this.#byName.get(name)
  }

  names(): string[] {
    return [...this.#byName.keys()]
  }

  forDevice(id: UsbId): ReaderDriver {
    return this.#byDevice.get(usbIdText(id)) ?? this.#fallback
  }
}

/** `0801:0002`, as lsusb writes USB ids. */
export function usbIdText(id: UsbId): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0')
  return `${hex(id.vendorId)}:${hex(id.productId)}`
}
