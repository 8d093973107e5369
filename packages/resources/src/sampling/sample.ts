/**
 * The shape of one resource sample. A figure the host does not report (no GPU, no battery, no
 * `/proc`, the first sample of a rate) is `undefined` — absent, never zero.
 * @module
 */
import type { GpuSample } from './parse.js'
import type { PowerState } from './power.js'

/** CPU figures: shares are 0–1 of the whole host (all cores) unless named per core. */
export interface CpuSample {
  /** Logical cores. */
  cores: number
  /** Busy share of the host since the previous sample. */
  host: number | undefined
  /** Busy share of each core. */
  perCore: number[] | undefined
  /** This process's CPU since the previous sample, in cores (1 = one core fully busy). */
  processCores: number | undefined
  /** Busy share of the host taken by other processes (host minus this process), 0–1. */
  others: number | undefined
  /** 1-minute load average (0 where the OS has none). */
  loadAverage1m: number
}

/** Memory figures, bytes. */
export interface MemorySample {
  totalBytes: number
  /** Memory available to new work without swapping (`MemAvailable`; free memory elsewhere). */
  availableBytes: number | undefined
  /** `1 − available / total`. */
  usedShare: number | undefined
  process: {
    rssBytes: number
    heapUsedBytes: number
    heapTotalBytes: number
    externalBytes: number
  }
}

/** Disk figures for the file system holding `path`, and whole-disk I/O rates. */
export interface DiskSample {
  path: string
  totalBytes: number | undefined
  freeBytes: number | undefined
  readBytesPerSec: number | undefined
  writeBytesPerSec: number | undefined
}

/** Network rates per interface (loopback left out of the totals). */
export interface NetworkSample {
  interfaces: Record<string, { rxBytesPerSec: number; txBytesPerSec: number }>
  rxBytesPerSec: number | undefined
  txBytesPerSec: number | undefined
  /** This process's libp2p traffic, where the app hands a counter in (undefined otherwise). */
  libp2p: { rxBytesPerSec: number; txBytesPerSec: number } | undefined
}

/** One sample of the host and this process. */
export interface ResourceSample {
  /** `Date.now()` when taken. */
  time: number
  /** Milliseconds since the previous sample (rates are over this span); undefined for the first. */
  spanMs: number | undefined
  cpu: CpuSample
  memory: MemorySample
  disk: DiskSample
  network: NetworkSample
  /** GPUs; undefined when the host has none (or no `nvidia-smi`). */
  gpu: GpuSample[] | undefined
  /** Battery and mains; undefined when the host lists no power supply. */
  power: PowerState | undefined
  /** Readers that failed in this sample (their figures are undefined), by source. */
  failed: string[]
}
