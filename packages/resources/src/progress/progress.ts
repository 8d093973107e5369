/**
 * Progress tracking: tasks with done/total, a smoothed rate and an ETA, as events and snapshots
 * that a CLI renders as bars ({@link renderProgressBar}) and a live feed can forward.
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import { InvalidResourceConfigError } from '../errors.js'

/** One task's progress. */
export interface ProgressInfo {
  task: string
  done: number
  total: number | undefined
  /** Units per second (EWMA over updates); undefined before two updates. */
  rate: number | undefined
  /** Milliseconds left at that rate; undefined without a total or a rate. */
  etaMs: number | undefined
  startedAt: number
  /** `running`, `done` or `failed`. */
  state: 'running' | 'done' | 'failed'
}

/** Events of {@link ProgressTracker}. */
export interface ProgressEvents {
  progress: CustomEvent<ProgressInfo>
}

/** Handle of one tracked task. */
export interface ProgressHandle {
  /** Adds `n` (default 1) to done. */
  advance(n?: number): void
  /** Sets done. */
  set(done: number): void
  finish(): void
  fail(): void
  info(): ProgressInfo
}

interface Entry {
  info: ProgressInfo
  lastAt: number
  lastDone: number
}

/** Tracks tasks. Create it with {@link progressTracker}. */
export class ProgressTracker extends TypedEventEmitter<ProgressEvents> {
  private readonly entries = new Map<string, Entry>()
  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly keepFinished = 16,
  ) {
    super()
  }

  /**
   * Starts tracking `task` (a task of the same name is replaced).
   *
   * @throws {@link InvalidResourceConfigError} for a negative or non-finite total.
   */
  start(task: string, total?: number): ProgressHandle {
    if (total !== undefined && !(Number.isFinite(total) && total >= 0))
      throw new InvalidResourceConfigError(`progress total must be a finite number ≥ 0, got ${total}`)
    const at = this.now()
    const entry: Entry = {
      info: { task, done: 0, total, rate: undefined, etaMs: undefined, startedAt: at, state: 'running' },
      lastAt: at,
      lastDone: 0,
    }
    this.entries.delete(task)
    this.entries.set(task, entry)
    this.prune()
    this.emit(entry)
    const update = (done: number) => {
      if (entry.info.state !== 'running' || !Number.isFinite(done)) return
      const t = this.now()
      const d = Math.max(0, entry.info.total === undefined ? done : Math.min(done, entry.info.total))
      const dt = (t - entry.lastAt) / 1000
      if (dt > 0 && d >= entry.lastDone) {
        const r = (d - entry.lastDone) / dt
        entry.info.rate = entry.info.rate === undefined ? r : entry.info.rate * 0.7 + r * 0.3
        entry.lastAt = t
        entry.lastDone = d
      }
      entry.info.done = d
      const { rate, total: tot } = entry.info
      entry.info.etaMs = tot === undefined || rate === undefined || rate <= 0 ? undefined : ((tot - d) / rate) * 1000
      this.emit(entry)
    }
    return {
      advance: (n = 1) => update(entry.info.done + n),
      set: update,
      finish: () => {
        if (entry.info.state !== 'running') return
        if (entry.info.total !== undefined) entry.info.done = entry.info.total
        entry.info.state = 'done'
        entry.info.etaMs = 0
        this.emit(entry)
      },
      fail: () => {
        if (entry.info.state !== 'running') return
        entry.info.state = 'failed'
        entry.info.etaMs = undefined
        this.emit(entry)
      },
      info: () => ({ ...entry.info }),
    }
  }

  /** Every task tracked (running ones and the last finished ones). */
  snapshot(): ProgressInfo[] {
    return [...this.entries.values()].map((e) => ({ ...e.info }))
  }

  private prune(): void {
    const finished = [...this.entries.values()].filter((e) => e.info.state !== 'running')
    for (const e of finished.slice(0, Math.max(0, finished.length - this.keepFinished)))
      this.entries.delete(e.info.task)
  }

  private emit(entry: Entry): void {
    try {
      this.dispatchEvent(new CustomEvent('progress', { detail: { ...entry.info } }))
    } catch {}
  }
}

/** Creates a {@link ProgressTracker} (`now` is injectable for tests). */
export function progressTracker(init: { now?: () => number; keepFinished?: number } = {}): ProgressTracker {
  return new ProgressTracker(init.now, init.keepFinished)
}

const duration = (ms: number): string => {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/**
 * One line for a terminal: `task  ████████░░░░  12/30  4.1/s  ETA 4 s`.
 *
 * @example
 * ```ts
 * renderProgressBar({ task: 'train', done: 5, total: 10, rate: 2, etaMs: 2500, startedAt: 0, state: 'running' }, 10)
 * // 'train  █████░░░░░  5/10  2.0/s  ETA 3 s'
 * ```
 */
export function renderProgressBar(info: ProgressInfo, width = 20): string {
  const w = Math.max(1, Math.floor(width))
  const parts = [info.task]
  if (info.total !== undefined && info.total > 0) {
    const filled = Math.max(0, Math.min(w, Math.round((info.done / info.total) * w)))
    parts.push('█'.repeat(filled) + '░'.repeat(w - filled), `${info.done}/${info.total}`)
  } else parts.push(`${info.done}`)
  if (info.rate !== undefined) parts.push(`${info.rate.toFixed(1)}/s`)
  if (info.state === 'done') parts.push('done')
  else if (info.state === 'failed') parts.push('failed')
  else if (info.etaMs !== undefined) parts.push(`ETA ${duration(info.etaMs)}`)
  return parts.join('  ')
}
