/**
 * The simulation's per-round log lines and TTY progress bar. Only {@link formatRound} and
 * {@link ProgressStream} are public (re-exported by the simulation entry); the reporter and
 * {@link formatBytes} are internal helpers of `runSimulation`.
 * @module
 */
import type { RoundLog } from './types.js'

/** Where a simulation reports progress: a TTY gets a redrawn bar under the log lines. */
export interface ProgressStream {
  write(chunk: string): unknown
  isTTY?: boolean
  columns?: number
}

/** Human-readable bytes (1,024-based): `formatBytes(407_080)` is `'397.5 KiB'`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

/**
 * One round as a log line: `round 3/30  acc  91.20 %  loss 0.0312  up 20.9 KiB (dense 3.88 MiB, 190×)  down 3.88 MiB  ε 2.100  4.1 s`.
 *
 * @example
 * ```ts
 * import { formatRound, runSimulation } from '@vain/fl'
 * await runSimulation({ ...options, onRound: (log) => console.log(formatRound(log, options.rounds)) })
 * ```
 */
export function formatRound(log: RoundLog, rounds: number): string {
  const width = String(rounds).length
  const acc = log.accuracy === undefined ? '   n/a  ' : `${(100 * log.accuracy).toFixed(2).padStart(6)} %`
  const ratio = log.bytesUp > 0 ? log.denseBytesUp / log.bytesUp : 1
  const parts = [
    `round ${String(log.round).padStart(width)}/${rounds}`,
    `acc ${acc}`,
    `loss ${Number.isFinite(log.trainLoss) ? log.trainLoss.toFixed(4) : 'n/a'}`,
    `up ${formatBytes(log.bytesUp)} (dense ${formatBytes(log.denseBytesUp)}, ${ratio.toFixed(ratio < 10 ? 2 : 0)}×)`,
    `down ${formatBytes(log.bytesDown)}`,
  ]
  if (log.attackers > 0) parts.push(`attackers ${log.attackers}/${log.clients.length}`)
  if (log.epsilon !== undefined) parts.push(`ε ${log.epsilon.toFixed(3)}`)
  parts.push(`${(log.elapsedMs / 1000).toFixed(1)} s`)
  return parts.join('  ')
}

/** Writes round lines; on a TTY also keeps a progress bar on the last line. */
export interface ProgressReporter {
  round(log: RoundLog): void
  done(): void
}

/**
 * A reporter on `stream`: on a TTY, a bar redrawn in place under the round lines; otherwise
 * plain lines. Internal: users get it through `runSimulation({ progress: true })` (or a stream).
 */
export function createProgressReporter(stream: ProgressStream, rounds: number, label = 'simulation'): ProgressReporter {
  const tty = stream.isTTY === true
  let barShown = false
  const bar = (done: number, log: RoundLog | undefined) => {
    const cols = Math.max(40, Math.min(stream.columns ?? 80, 120))
    const tail = ` ${done}/${rounds}${log?.accuracy !== undefined ? ` acc ${(100 * log.accuracy).toFixed(1)} %` : ''}`
    const width = Math.max(10, cols - label.length - tail.length - 4)
    const filled = Math.round((width * done) / Math.max(1, rounds))
    return `${label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}]${tail}`
  }
  if (tty) {
    stream.write(bar(0, undefined))
    barShown = true
  }
  return {
    round(log) {
      const line = formatRound(log, rounds)
      if (tty) {
        stream.write(`\r\x1b[2K${line}\n${bar(log.round, log)}`)
        barShown = true
      } else stream.write(`${line}\n`)
    },
    done() {
      if (tty && barShown) stream.write('\r\x1b[2K')
      barShown = false
    },
  }
}
