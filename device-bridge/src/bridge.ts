/**
 * The device bridge: the small process on a POS machine that drives the
 * till's USB card readers and delivers what they read to the gateway, as the
 * till's terminal's device session.
 *
 * It runs on three clocks of its own rather than per event:
 * - every `tickMs`: each open reader's buffered reports are decoded; card
 *   reads go to the on-disk queue, garbage is reported and dropped; then the
 *   queue is served, oldest read first, one `present` at a time;
 * - every `pollIntervalMs`, while a reader is missing: devices are enumerated
 *   and the reader is opened when it appears (hot-plug), or the reason it
 *   cannot be is logged once, with what to do;
 * - every `statusIntervalMs`: one status line.
 *
 * A read leaves the queue once the gateway answers it. Answers that a retry
 * could change (`overloaded`, `unavailable`, the link dropping) keep it at
 * the head, so reads arrive in order and, the key being the same, at most
 * once per key (the gateway answers a replayed key without pushing again).
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { ConfigError, type BridgeConfig } from './config.ts'
import type { Decoded } from './decode/result.ts'
import { usbIdText, type DriverRegistry } from './drivers/driver.ts'
import { createDriverRegistry } from './drivers/builtin.ts'
import { GatewayLink, LinkDownError, type Frame, type LinkState } from './gateway-link.ts'
import type { HidBackend, HidDeviceInfo } from './hid.ts'
import { maskCard, type Logger } from './logger.ts'
import { openFailureAdvice } from './open-advice.ts'
import { Outbox, type QueuedRead } from './outbox.ts'
import { ReaderPort } from './reader.ts'

export interface BridgeOptions {
  config: BridgeConfig
  backend: HidBackend
  logger: Logger
  /** Drivers by name and USB id; the built-in ones by default. */
  drivers?: DriverRegistry
  clock?: () => number
}

export interface BridgeStatus {
  readers: { name: string; open: boolean; path?: string }[]
  gateway: LinkState
  queued: number
  /** Reads the gateway answered (card found or not). */
  delivered: number
  /** Input dropped: garbage, over a limit, refused by the gateway, or too old. */
  dropped: number
}

export interface Bridge {
  status(): BridgeStatus
  /** Stops reading, closes the devices and the connection; queued reads stay on disk. */
  close(): Promise<void>
}

/** Gateway answers after which a read is done with (the card was shown, or never will be). */
const answered = new Set(['ok', 'exists', 'account_not_found', 'card_blocked'])
/** Answers a later retry of the same read may turn into one of the above. */
const transient = new Set(['overloaded', 'unavailable', 'unauthorized'])
const outcomes: Record<string, string> = {
  ok: 'member found',
  exists: 'already delivered',
  account_not_found: 'no member has this card',
  card_blocked: 'card blocked',
}

/**
 * Starts a bridge: opens the queue, connects to the gateway and starts
 * looking for the readers.
 *
 * @example
 *   const bridge = await startBridge({ config: parseConfig(raw), backend: nodeHidBackend(), logger })
 *   process.once('SIGTERM', () => void bridge.close())
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const drivers = options.drivers ?? createDriverRegistry()
  const clock = options.clock ?? Date.now
  const ports = options.config.readers.map((reader, index) => {
    const driver =
      reader.driver === undefined ? drivers.forDevice(reader) : drivers.get(reader.driver)
    if (driver === undefined) {
      throw new ConfigError(
        `readers[${index}].driver`,
        `no driver is named ${reader.driver} (known: ${drivers.names().join(', ')})`,
      )
    }
    return new ReaderPort(reader, driver, clock)
  })
  const outbox = await Outbox.open({ ...options.config.queue, logger: options.logger })
  const runner = new BridgeRunner(options, ports, outbox, clock)
  runner.start()
  return { status: () => runner.status(), close: () => runner.close() }
}

class BridgeRunner {
  readonly #config: BridgeConfig
  readonly #backend: HidBackend
  readonly #log: Logger
  readonly #ports: ReaderPort[]
  readonly #outbox: Outbox
  readonly #link: GatewayLink
  readonly #clock: () => number
  readonly #timers: NodeJS.Timeout[] = []
  /** Per reader: the last open failure logged, so each is logged once. */
  readonly #openProblems = new Map<ReaderPort, string>()
  #ticking: Promise<void> | undefined
  #polling = false
  #retryAtMs = 0
  #delivered = 0
  #dropped = 0
  #closed = false

  constructor(options: BridgeOptions, ports: ReaderPort[], outbox: Outbox, clock: () => number) {
    this.#config = options.config
    this.#backend = options.backend
    this.#log = options.logger
    this.#ports = ports
    this.#outbox = outbox
    this.#clock = clock
    const { gateway, terminal, name } = options.config
    this.#link = new GatewayLink({
      ...gateway,
      terminal: terminal.id,
      secret: terminal.secret,
      device: name,
      logger: options.logger,
      onReady: () => void this.#tick(),
    })
  }

  start(): void {
    const config = this.#config
    const waiting = this.#outbox.size > 0 ? `, ${this.#outbox.size} reads waiting from before` : ''
    this.#log.info(
      `device bridge ${config.name} for terminal ${config.terminal.id}: gateway ${config.gateway.url}, queue ${config.queue.dir}${waiting}`,
    )
    for (const port of this.#ports) {
      this.#log.info(
        `reader ${port.config.name}: ${usbIdText(port.config)}, driver ${port.driver.name}, content ${port.config.content}`,
      )
    }
    this.#link.start()
    void this.#poll()
    this.#timers.push(
      setInterval(() => void this.#tick(), config.tickMs),
      setInterval(() => void this.#poll(), config.pollIntervalMs),
      setInterval(() => this.#log.info(this.#statusLine()), config.statusIntervalMs),
    )
  }

  status(): BridgeStatus {
    return {
      readers: this.#ports.map((p) => ({
        name: p.config.name,
        open: p.isOpen,
        ...(p.info?.path ? { path: p.info.path } : {}),
      })),
      gateway: this.#link.state,
      queued: this.#outbox.size,
      delivered: this.#delivered,
      dropped: this.#dropped,
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const timer of this.#timers) clearInterval(timer)
    // The link first: a delivery waiting on it fails at once (its read stays queued).
    await this.#link.close()
    await this.#ticking
    await Promise.all(this.#ports.map((port) => port.detach()))
    await this.#outbox.close()
    this.#log.info(`device bridge stopped; ${this.#outbox.size} reads left queued`)
  }

  /** One tick at a time: a slow disk or gateway delays the next tick, never overlaps it. */
  #tick(): Promise<void> {
    if (this.#ticking !== undefined || this.#closed) return this.#ticking ?? Promise.resolve()
    this.#ticking = this.#runTick()
      .catch((error: unknown) => this.#log.error(`tick failed: ${(error as Error).message}`))
      .finally(() => (this.#ticking = undefined))
    return this.#ticking
  }

  async #runTick(): Promise<void> {
    const now = this.#clock()
    for (const port of this.#ports) {
      // Taken before draining: every report that came before the failure is in the inbox, and
      // is read before the device is closed (a card read just before an unplug is not lost).
      const failure = port.takeFailure()
      for (const result of port.drain(now)) await this.#accept(port, result, now)
      if (failure !== undefined) await this.#lose(port, failure)
    }
    await this.#deliver()
  }

  async #lose(port: ReaderPort, failure: Error): Promise<void> {
    const path = port.info?.path ?? '?'
    await port.detach()
    this.#log.warn(
      `reader ${port.config.name}: ${path} stopped (${failure.message}): unplugged? Waiting for it to come back`,
    )
  }

  async #accept(port: ReaderPort, result: Decoded, now: number): Promise<void> {
    const name = port.config.name
    if (!result.ok) {
      this.#dropped++
      this.#log.warn(`reader ${name}: dropped unreadable input: ${result.reason}`)
      return
    }
    const read: QueuedRead = {
      key: randomUUID(),
      reader: name,
      card: { type: result.card.type, value: result.card.value },
      readAt: now,
    }
    let queued: boolean
    try {
      queued = await this.#outbox.add(read)
    } catch (error) {
      // Still in the queue in memory: delivered while this process lives, not across a restart.
      this.#log.error(
        `reader ${name}: could not write the read to the queue folder (${(error as Error).message})`,
      )
      return
    }
    if (!queued) {
      this.#dropped++
      this.#log.error(
        `reader ${name}: queue full (${this.#config.queue.readsMax} reads, queue.readsMax): card ${maskCard(read.card.value)} dropped; is the gateway reachable?`,
      )
    }
  }

  /** Serves the queue head first, until it is empty, the link is down, or the gateway asks to wait. */
  async #deliver(): Promise<void> {
    while (!this.#closed && this.#link.state === 'ready' && this.#clock() >= this.#retryAtMs) {
      const read = this.#outbox.head()
      if (read === undefined) return
      if (this.#clock() - read.readAt > this.#config.queue.ageMaxMs) {
        this.#dropped++
        this.#log.warn(
          `reader ${read.reader}: card ${maskCard(read.card.value)} read too long ago (queue.ageMaxMs); dropped`,
        )
        await this.#outbox.remove(read.key)
        continue
      }
      let reply: Frame
      try {
        reply = await this.#link.request({
          op: 'present',
          key: read.key,
          card: read.card,
          reader: read.reader,
          readAt: read.readAt,
        })
      } catch (error) {
        if (!(error instanceof LinkDownError)) {
          this.#log.error(`delivering a read failed: ${String(error)}`)
        }
        return
      }
      if (!(await this.#settle(read, reply))) return
    }
  }

  /** Acts on the gateway's answer; false when the read stays queued for a later try. */
  async #settle(read: QueuedRead, reply: Frame): Promise<boolean> {
    const status = String(reply['status'])
    const card = `card ${maskCard(read.card.value)}`
    if (transient.has(status)) {
      this.#retryAtMs = this.#clock() + this.#config.gateway.reconnectDelayMsMin
      this.#log.warn(
        `reader ${read.reader}: the gateway answered ${status} for ${card}; trying again`,
      )
      return false
    }
    await this.#outbox.remove(read.key)
    if (answered.has(status)) {
      this.#delivered++
      const unseen =
        reply['pushed'] === false && status !== 'exists' ? ' (no POS connected to show it)' : ''
      this.#log.info(`reader ${read.reader}: ${card}: ${outcomes[status]}${unseen}`)
    } else {
      this.#dropped++
      const field = reply['field'] === undefined ? '' : ` ${String(reply['field'])}`
      // The gateway quotes a card value it refuses: the log shows only its end, as everywhere.
      const value = read.card.value
      const message = String(reply['message'] ?? '').replaceAll(value, maskCard(value))
      this.#log.error(
        `reader ${read.reader}: the gateway refused ${card}: ${status}${field}: ${message}; dropped`,
      )
    }
    return true
  }

  /** Opens the readers that are not open, if their devices are here. */
  async #poll(): Promise<void> {
    if (this.#polling || this.#closed || this.#ports.every((p) => p.isOpen)) return
    this.#polling = true
    try {
      const devices = await this.#backend.devices()
      for (const port of this.#ports) {
        if (!port.isOpen && !this.#closed) await this.#open(port, devices)
      }
    } catch (error) {
      this.#log.error(`cannot list HID devices: ${(error as Error).message}`)
    } finally {
      this.#polling = false
    }
  }

  async #open(port: ReaderPort, devices: HidDeviceInfo[]): Promise<void> {
    const info = this.#candidate(port, devices)
    if (info === undefined) {
      this.#noteProblem(
        port,
        `reader ${port.config.name}: no ${usbIdText(port.config)} device plugged in; waiting for it`,
        'info',
      )
      return
    }
    try {
      const device = await this.#backend.open(info.path!)
      if (this.#closed) return void (await device.close())
      port.attach(info, device)
      this.#openProblems.delete(port)
      const product = info.product ? ` "${info.product}"` : ''
      this.#log.info(
        `reader ${port.config.name}: opened ${usbIdText(info)}${product} at ${info.path}`,
      )
    } catch (error) {
      this.#noteProblem(
        port,
        `reader ${port.config.name}: ${openFailureAdvice(error, info)}`,
        'error',
      )
    }
  }

  /** The device to open for a reader: a match not already open, on the driver's interface if it has several. */
  #candidate(port: ReaderPort, devices: HidDeviceInfo[]): HidDeviceInfo | undefined {
    const taken = new Set(this.#ports.map((p) => p.info?.path))
    const matches = devices.filter(
      (d) => d.path !== undefined && !taken.has(d.path) && port.matches(d),
    )
    const usage = port.driver.usage
    const preferred =
      usage === undefined
        ? undefined
        : matches.find((d) => d.usagePage === usage.usagePage && d.usage === usage.usage)
    return preferred ?? matches[0]
  }

  #noteProblem(port: ReaderPort, message: string, level: 'info' | 'error'): void {
    if (this.#openProblems.get(port) === message) return
    this.#openProblems.set(port, message)
    this.#log[level](message)
  }

  #statusLine(): string {
    const open = this.#ports.filter((p) => p.isOpen).length
    const missing = this.#ports.filter((p) => !p.isOpen).map((p) => p.config.name)
    const waiting = missing.length > 0 ? ` (waiting: ${missing.join(', ')})` : ''
    const readers = `readers ${open}/${this.#ports.length} open${waiting}`
    const queue = `${this.#outbox.size} queued`
    const totals = `${this.#delivered} delivered, ${this.#dropped} dropped since start`
    return `status: ${readers}; ${this.#link.describe()}; ${queue}; ${totals}`
  }
}
