/**
 * The drivers the bridge ships with.
 *
 * @module
 */
import { DriverRegistry } from './driver.ts'
import { keyboardWedgeDriver } from './keyboard-wedge.ts'
import { magtekHidDriver } from './magtek-hid.ts'

/**
 * A registry with every built-in driver; register more on it for readers with their own format.
 *
 * @example
 *   const drivers = createDriverRegistry().register(myVendorDriver)
 */
export function createDriverRegistry(): DriverRegistry {
  return new DriverRegistry(keyboardWedgeDriver).register(magtekHidDriver)
}
