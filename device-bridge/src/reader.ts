/**
 * One configured reader and the device currently open for it. Reports are
 * not decoded as they arrive: the device's 'data' events only append to a
 * bounded inbox, and the bridge drains it on its own tick (decoding, ending
 * partial input, the read-rate limit), so a chattering device cannot make the
 * bridge work faster than it chooses to. An 'error' from the device (it was
 * unplugged, or failed) is kept until the bridge collects it and closes the
 * device; the reader then waits to be found again.
 *
 * @module
 */
import type { ReaderConfig } from './config.ts'
import type { Decoded } from './decode/result.ts'
import type { ReaderDriver, ReportDecoder } from './drivers/driver.ts'
import type { HidDevice, HidDeviceInfo } from './hid.ts'

/** Reports held between two ticks at most; past it they are dropped and the read rejected. */
export const inboxReportsMax = 4096

export class ReaderPort {
  readonly config: ReaderConfig
  readonly driver: ReaderDriver
  readonly #clock: () => number
  #device: HidDevice | undefined
  #info: HidDeviceInfo | undefined
  #decoder: ReportDecoder | undefined
  #inbox: { data: Uint8Array; atMs: number }[] = []
  #inboxDropped = 0
  #failure: Error | undefined
  /** When the device failed: input left partial then was cut, not ended by a pause. */
  #failedAtMs: number | undefined
  /** When the reads of the last minute happened, oldest first. */
  #readTimes: number[] = []

  constructor(config: ReaderConfig, driver: ReaderDriver, clock: () => number) {
    this.config = config
    this.driver = driver
    this.#clock = clock
  }

  get isOpen(): boolean {
    return this.#device !== undefined
  }

  /** The device open for this reader, if any. */
  get info(): HidDeviceInfo | undefined {
    return this.#info
  }

  /** Whether an enumerated device is one this reader's config names. */
  matches(info: HidDeviceInfo): boolean {
    const c = this.config
    return (
      info.vendorId === c.vendorId &&
      info.productId === c.productId &&
      (c.path === undefined || info.path === c.path) &&
      (c.serialNumber === undefined || info.serialNumber === c.serialNumber) &&
      (c.interface === undefined || info.interface === c.interface) &&
      (c.usagePage === undefined || info.usagePage === c.usagePage) &&
      (c.usage === undefined || info.usage === c.usage)
    )
  }

  /** Starts receiving from a freshly opened device. */
  attach(info: HidDeviceInfo, device: HidDevice): void {
    this.#device = device
    this.#info = info
    this.#decoder = this.driver.createDecoder(this.config)
    this.#inbox = []
    this.#failure = undefined
    this.#failedAtMs = undefined
    device.on('data', (data: Buffer) => {
      if (this.#device !== device) return
      if (this.#inbox.length >= inboxReportsMax) this.#inboxDropped++
      else this.#inbox.push({ data, atMs: this.#clock() })
    })
    device.on('error', (error: Error) => {
      if (this.#device !== device || this.#failedAtMs !== undefined) return
      this.#failure = error
      this.#failedAtMs = this.#clock()
    })
  }

  /** The error that stopped the device (unplugged, typically), once. */
  takeFailure(): Error | undefined {
    const failure = this.#failure
    this.#failure = undefined
    return failure
  }

  /**
   * Decodes what arrived since the last tick, ends stale partial input, applies the rate limit.
   * After the device failed, what came before the failure is still decoded, and partial input
   * is judged at the failure (no later pause can end it: the read was cut, not finished).
   * After reports were dropped (a flood), partial input is forgotten: its rest is gone.
   */
  drain(nowMs: number): Decoded[] {
    const decoder = this.#decoder
    if (decoder === undefined) return []
    const results: Decoded[] = []
    for (const { data, atMs } of this.#inbox.splice(0)) results.push(...decoder.report(data, atMs))
    if (this.#inboxDropped > 0) {
      results.push({
        ok: false,
        reason: `${this.#inboxDropped} reports dropped: more than ${inboxReportsMax} in one tick`,
      })
      this.#inboxDropped = 0
      // The kept reports may end in the middle of a read whose rest was dropped: a fresh
      // decoder forgets it, so it is never joined to the end of a later read.
      this.#decoder = this.driver.createDecoder(this.config)
    } else {
      results.push(...decoder.idle(Math.min(nowMs, this.#failedAtMs ?? nowMs)))
    }
    return results.map((result) => (result.ok ? this.#limitRate(result, nowMs) : result))
  }

  #limitRate(read: Decoded, nowMs: number): Decoded {
    while (this.#readTimes.length > 0 && nowMs - this.#readTimes[0]! >= 60_000) {
      this.#readTimes.shift()
    }
    if (this.#readTimes.length >= this.config.readsPerMinuteMax) {
      return {
        ok: false,
        reason: `more than ${this.config.readsPerMinuteMax} reads a minute (readsPerMinuteMax): a stuck or runaway reader?`,
      }
    }
    this.#readTimes.push(nowMs)
    return read
  }

  /** Closes the device (if open); whatever it was in the middle of is dropped. */
  async detach(): Promise<void> {
    const device = this.#device
    this.#device = undefined
    this.#info = undefined
    this.#decoder = undefined
    this.#inbox = []
    this.#inboxDropped = 0
    this.#failure = this.#failedAtMs = undefined
    if (device === undefined) return
    try {
      await device.close()
    } catch {
      // Closing a device that is already gone fails; it is closed all the same.
    }
  }
}
