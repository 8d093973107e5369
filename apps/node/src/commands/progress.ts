/**
 * A progress bar on stderr (`--interaction normal` on a terminal): `[#####·····]  45%  1.2/2.6 MiB`,
 * redrawn in place, at most ten times a second.
 * @module
 */
import { binaryBytes } from './common.js'

/** A bar that draws only when `enabled`. */
export class ProgressBar {
  private last = 0
  private drawn = false
  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
    private readonly width = 30,
  ) {}

  /** Shows `done` of `total` bytes (an unknown total shows the bytes only). */
  update(done: number, total: number | undefined): void {
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.last < 100 && (total === undefined || done < total)) return
    this.last = now
    this.drawn = true
    if (total === undefined || total <= 0) {
      process.stderr.write(`\r${this.label} ${binaryBytes(done)}\u001b[K`)
      return
    }
    const f = Math.min(1, done / total)
    const full = Math.round(f * this.width)
    const bar = `${'#'.repeat(full)}${'·'.repeat(this.width - full)}`
    process.stderr.write(
      `\r${this.label} [${bar}] ${String(Math.round(f * 100)).padStart(3)}%  ${binaryBytes(done)}/${binaryBytes(total)}\u001b[K`,
    )
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.enabled && this.drawn) process.stderr.write('\n')
  }
}
