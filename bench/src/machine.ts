/**
 * A description of the machine a benchmark ran on, for the JSON line, so
 * figures from different hosts are never compared blind.
 *
 * @module
 */
import { availableParallelism, cpus, totalmem } from 'node:os'

export interface Machine {
  cpuModel: string
  cores: number
  memoryGiB: number
  node: string
  platform: string
  arch: string
}

export function machine(): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  }
}
