/**
 * The logger the bridge takes by injection (the same shape as the engine's,
 * so either can be passed): the package never writes to the console itself.
 * Lines carry what happened and what to do about it, never a whole card
 * number (see `maskCard`).
 *
 * @module
 */
export interface Logger {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

/** Status lines on stderr, each with the local time, for a long-running process at the till. */
export function createStderrLogger(clock: () => Date = () => new Date()): Logger {
  const line = (level: string, message: string) => {
    const time = clock().toISOString().slice(11, 19)
    process.stderr.write(`${time} ${level}${message}\n`)
  }
  return {
    info: (message) => line('', message),
    warn: (message) => line('warning: ', message),
    error: (message) => line('error: ', message),
  }
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }

/**
 * A card number or tag UID as logs may show it: its last four characters.
 *
 * @example
 *   maskCard('6001234567890') // '…7890'
 */
export function maskCard(value: string): string {
  return value.length <= 4 ? '…' : `…${value.slice(-4)}`
}
