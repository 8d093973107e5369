/**
 * What the node processes of a benchmark cost: CPU time and memory (PSS) of this process's
 * children, the machine's busy CPU and available memory, sampled from /proc (Linux; elsewhere
 * every figure reads 0).
 */
import { readdirSync, readFileSync } from 'node:fs'
import * as os from 'node:os'

const TICK_S = 0.01 // USER_HZ: 100 on Linux

/** One sample. */
export interface ResourceSample {
  /** ms since the sampler started. */
  t: number
  /** Child processes alive. */
  children: number
  /** CPU seconds used by the children so far (alive ones; exited ones keep their last figure). */
  childCpuS: number
  /** Proportional set size of the children, summed (bytes). */
  childPss: number
  /** CPU seconds of the whole machine busy so far (all cores, from /proc/stat). */
  machineBusyS: number
  /** MemAvailable (bytes). */
  memAvailable: number
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Direct children of `parent` (pids). */
function childrenOf(parent: number): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  const out: number[] = []
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    const stat = read(`/proc/${e}/stat`)
    if (stat === undefined) continue
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[1]) === parent) out.push(Number(e))
  }
  return out
}

function cpuOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime, stime are fields 14, 15 (1-based) of the full line: 11, 12 after the command
  return (Number(f[11]) + Number(f[12])) * TICK_S
}

function pssOf(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${pid}/smaps_rollup`) ?? '')
  return m === null ? 0 : Number(m[1]) * 1024
}

function machineBusy(): number {
  const line = (read('/proc/stat') ?? '').split('\n')[0] ?? ''
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  return (total - idle) * TICK_S
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(read('/proc/meminfo') ?? '')
  return m === null ? os.freemem() : Number(m[1]) * 1024
}

/** Samples this process's children every `intervalMs` until `stop()`. */
export class ResourceSampler {
  readonly samples: ResourceSample[] = []
  private readonly cpuByPid = new Map<number, number>()
  private readonly timer: ReturnType<typeof setInterval>
  private readonly t0 = performance.now()

  constructor(intervalMs = 1000) {
    this.sample()
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
  }

  /** Take a sample now (also called at each phase change). */
  sample(): ResourceSample {
    const pids = childrenOf(process.pid)
    let pss = 0
    for (const pid of pids) {
      const cpu = cpuOf(pid)
      if (cpu !== undefined) this.cpuByPid.set(pid, cpu)
      pss += pssOf(pid)
    }
    const s: ResourceSample = {
      t: performance.now() - this.t0,
      children: pids.length,
      childCpuS: [...this.cpuByPid.values()].reduce((a, b) => a + b, 0),
      childPss: pss,
      machineBusyS: machineBusy(),
      memAvailable: memAvailable(),
    }
    this.samples.push(s)
    return s
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** The highest summed PSS and the lowest available memory seen. */
  peaks(): { pss: number; memAvailableMin: number; children: number } {
    return {
      pss: Math.max(0, ...this.samples.map((s) => s.childPss)),
      memAvailableMin: Math.min(...this.samples.map((s) => s.memAvailable)),
      children: Math.max(0, ...this.samples.map((s) => s.children)),
    }
  }
}

/** Counts of the warnings and errors in the node logs (`<dir>/n*.log`, JSON lines), most frequent first. */
export function logDigest(dir: string, top = 6): Array<{ what: string; count: number }> {
  const counts = new Map<string, number>()
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.log'))
  } catch {
    return []
  }
  for (const f of files) {
    for (const line of (read(`${dir}/${f}`) ?? '').split('\n')) {
      if (!line.includes('"level":"warn"') && !line.includes('"level":"error"')) continue
      try {
        const e = JSON.parse(line) as { msg?: string; reason?: string; error?: string }
        const reason = (e.reason ?? e.error ?? '')
          .replace(/12D3Koo\w+/g, '<peer>')
          .replace(/[0-9a-f]{8,}/g, '<hash>')
          .replace(/\d+/g, 'N')
          .slice(0, 90)
        const key = `${e.msg ?? '?'}${reason === '' ? '' : `: ${reason}`}`
        counts.set(key, (counts.get(key) ?? 0) + 1)
      } catch {
        // not JSON
      }
    }
  }
  return [...counts.entries()]
    .map(([what, count]) => ({ what, count }))
    .sort((a, b) => b.count - a.count)
    .slice(0, top)
}
