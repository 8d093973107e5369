/** The machine a benchmark ran on, as one line (shared by the bench scripts). @module */
import * as os from 'node:os'

/** e.g. `AMD EPYC · 2 cores · 23.5 GiB · linux x64 · node v24.21.0`. */
export function machineLine(): string {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown CPU'
  const mem = (os.totalmem() / 2 ** 30).toFixed(1)
  return `${model} · ${cpus.length} cores · ${mem} GiB · ${os.platform()} ${os.arch()} · node ${process.version}`
}
