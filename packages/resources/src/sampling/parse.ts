/**
 * Parsers of the Linux interfaces the sampler reads: `/proc/stat`, `/proc/meminfo`,
 * `/proc/net/dev`, `/proc/diskstats`, a power-supply `uevent`, and `nvidia-smi`'s CSV. Pure
 * functions: any text in → a value or a {@link ParseError}, never another exception.
 * @module
 */
import { ParseError } from '../errors.js'

/** Cumulative CPU time of one CPU line of `/proc/stat`, in clock ticks. */
export interface CpuTimes {
  /** Ticks not idle (user, nice, system, irq, softirq, steal). */
  busy: number
  /** Ticks idle (idle + iowait). */
  idle: number
}

/** `/proc/stat`'s CPU lines: the host total and each core. */
export interface ProcStat {
  total: CpuTimes
  cores: CpuTimes[]
}

const MAX_FIELD = Number.MAX_SAFE_INTEGER

function counter(text: string, what: string): number {
  if (!/^\d{1,16}$/.test(text)) throw new ParseError(`${what}: ${JSON.stringify(text.slice(0, 40))} is not a counter`)
  const n = Number(text)
  if (n > MAX_FIELD) throw new ParseError(`${what}: ${text} is too large`)
  return n
}

function cpuTimes(fields: string[], what: string): CpuTimes {
  // user nice system idle iowait irq softirq steal [guest guest_nice] (guest is counted in user)
  if (fields.length < 4) throw new ParseError(`${what}: expected at least 4 counters, got ${fields.length}`)
  const n = fields.slice(0, 8).map((f, i) => counter(f, `${what} field ${i + 1}`))
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = n
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait }
}

/** Parses `/proc/stat` (only its `cpu` and `cpuN` lines). */
export function parseProcStat(text: string): ProcStat {
  let total: CpuTimes | undefined
  const cores: CpuTimes[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue
    const [name, ...fields] = line.trim().split(/\s+/)
    if (name === 'cpu') total = cpuTimes(fields, 'cpu')
    else if (name !== undefined && /^cpu\d{1,5}$/.test(name)) cores.push(cpuTimes(fields, name))
  }
  if (total === undefined) throw new ParseError('/proc/stat has no "cpu" line')
  return { total, cores }
}

/** The figures of `/proc/meminfo` the sampler uses, in bytes. */
export interface MemInfo {
  totalBytes: number
  freeBytes: number
  /** `MemAvailable` (kernels ≥ 3.14); undefined when the kernel does not report it. */
  availableBytes: number | undefined
}

/** Parses `/proc/meminfo`. */
export function parseMeminfo(text: string): MemInfo {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d{1,16})(?:\s+kB)?\s*$/.exec(line)
    if (m !== null) values.set(m[1] as string, Number(m[2]) * 1024)
  }
  const totalBytes = values.get('MemTotal')
  const freeBytes = values.get('MemFree')
  if (totalBytes === undefined || freeBytes === undefined)
    throw new ParseError('/proc/meminfo lacks MemTotal or MemFree')
  return { totalBytes, freeBytes, availableBytes: values.get('MemAvailable') }
}

/** Cumulative byte counters of one network interface. */
export interface InterfaceCounters {
  rxBytes: number
  txBytes: number
}

/** Parses `/proc/net/dev`: counters per interface (loopback included; callers filter). */
export function parseNetDev(text: string): Map<string, InterfaceCounters> {
  const out = new Map<string, InterfaceCounters>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0 || line.includes('|')) continue
    const name = line.slice(0, colon).trim()
    if (!/^[\w.@-]{1,64}$/.test(name)) throw new ParseError(`/proc/net/dev: bad interface name ${JSON.stringify(name)}`)
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
    if (fields.length < 9) throw new ParseError(`/proc/net/dev: ${name} has ${fields.length} fields, expected 16`)
    out.set(name, {
      rxBytes: counter(fields[0] as string, `${name} rx bytes`),
      txBytes: counter(fields[8] as string, `${name} tx bytes`),
    })
  }
  return out
}

/** Whole-disk device names (partitions and virtual devices are left out so bytes are not counted twice). */
export const WHOLE_DISK = /^(?:[shv]d[a-z]{1,3}|xvd[a-z]{1,3}|nvme\d{1,3}n\d{1,3}|mmcblk\d{1,3})$/

/** Cumulative bytes read and written by whole disks. */
export interface DiskCounters {
  readBytes: number
  writeBytes: number
  /** Devices counted. */
  devices: string[]
}

/** Parses `/proc/diskstats` (sectors are 512 bytes whatever the device's own sector size). */
export function parseDiskstats(text: string, wholeDisk: RegExp = WHOLE_DISK): DiskCounters {
  let readBytes = 0
  let writeBytes = 0
  const devices: string[] = []
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 10) continue
    const name = fields[2] as string
    if (!wholeDisk.test(name)) continue
    readBytes += counter(fields[5] as string, `${name} sectors read`) * 512
    writeBytes += counter(fields[9] as string, `${name} sectors written`) * 512
    devices.push(name)
  }
  return { readBytes, writeBytes, devices }
}

/** Parses a power-supply `uevent` file (`POWER_SUPPLY_KEY=value` lines) into `{ key: value }`, keys lower-case without the prefix. */
export function parseUevent(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null)
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new ParseError(`uevent: line ${JSON.stringify(line.slice(0, 40))} is not KEY=value`)
    const key = line.slice(0, eq)
    if (!/^[A-Z0-9_]{1,64}$/.test(key)) throw new ParseError(`uevent: bad key ${JSON.stringify(key.slice(0, 40))}`)
    out[key.replace(/^POWER_SUPPLY_/, '').toLowerCase()] = line.slice(eq + 1)
  }
  return out
}

/** One GPU as `nvidia-smi` reports it. */
export interface GpuSample {
  index: number
  name: string
  /** Busy share of the last sample period, 0–1. */
  utilization: number | undefined
  memoryUsedBytes: number | undefined
  memoryTotalBytes: number | undefined
}

/** The query the sampler passes to `nvidia-smi` (its CSV columns, in order). */
export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,name,utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
] as const

/** Parses `nvidia-smi`'s CSV (see {@link NVIDIA_SMI_ARGS}); `[N/A]` fields are absent, not zero. */
export function parseNvidiaSmi(text: string): GpuSample[] {
  const out: GpuSample[] = []
  const num = (s: string | undefined, what: string): number | undefined => {
    const v = (s ?? '').trim()
    if (v === '' || /^\[?N\/A\]?$/i.test(v) || /^\[Not Supported\]$/i.test(v)) return undefined
    if (!/^\d{1,12}(?:\.\d{1,6})?$/.test(v))
      throw new ParseError(`nvidia-smi: ${what} ${JSON.stringify(v.slice(0, 40))} is not a number`)
    return Number(v)
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const f = line.split(',')
    if (f.length !== 5) throw new ParseError(`nvidia-smi: expected 5 columns, got ${f.length}`)
    const index = num(f[0], 'index')
    if (index === undefined || !Number.isInteger(index)) throw new ParseError('nvidia-smi: a GPU without an index')
    const util = num(f[2], 'utilization')
    const used = num(f[3], 'memory.used')
    const total = num(f[4], 'memory.total')
    out.push({
      index,
      name: (f[1] as string).trim().slice(0, 128),
      utilization: util === undefined ? undefined : Math.min(1, util / 100),
      memoryUsedBytes: used === undefined ? undefined : used * 1024 * 1024,
      memoryTotalBytes: total === undefined ? undefined : total * 1024 * 1024,
    })
  }
  return out
}
