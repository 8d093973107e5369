/**
 * `resourceScheduler(init)`: runs tasks when the host can take them.
 *
 * Each sample from the monitor is checked against the {@link ResourceLimits}: other processes
 * using more than `busyCpu` of the host, available memory under `minFreeMemory`, this process over
 * `maxMemory`, or the battery (per `onBattery`) put the scheduler **under pressure**. Under
 * pressure no task is admitted, and running tasks pause at their next
 * {@link TaskContext.checkpoint}; when the pressure clears (other processes under `resumeCpu`,
 * memory back with a margin, for `resumeAfter` samples in a row) they resume. Tasks are admitted
 * by priority (then arrival), within `concurrency` and the CPU budget (`maxCpu` × cores, each task
 * claiming `cpu` cores) and the memory available. A task waits at most `admissionTimeoutMs`, then
 * fails with {@link AdmissionTimeoutError}; every wait races the task's `AbortSignal`.
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import { z } from 'zod'
import { AdmissionTimeoutError, abortReason, InvalidResourceConfigError, SchedulerStoppedError } from '../errors.js'
import { parseResourceLimits, type ResourceLimits } from '../limits.js'
import type { ResourceSample } from '../sampling/sample.js'
import { problemsOf } from '../validate.js'

/** Where samples come from (a {@link ResourceMonitor}, or anything that emits samples the same way). */
export interface SampleSource {
  latest(): ResourceSample | undefined
  addEventListener(type: 'sample', listener: (e: CustomEvent<ResourceSample>) => void): void
  removeEventListener(type: 'sample', listener: (e: CustomEvent<ResourceSample>) => void): void
}

/** Why the scheduler holds tasks back. */
export type PressureReason = 'cpu' | 'memory' | 'process-memory' | 'battery'

/** What a running task sees. */
export interface TaskContext {
  readonly name: string
  /** Aborted when the task's own signal aborts or the scheduler stops. */
  readonly signal: AbortSignal
  /** True while the scheduler asks this task to pause. */
  readonly pauseRequested: boolean
  /**
   * Call between units of work: resolves at once normally; while the scheduler is under pressure it
   * waits until the pressure clears (the task is then "paused"). Rejects when the task is aborted.
   * It also yields to the event loop, so samples keep coming while a CPU-bound task runs.
   */
  checkpoint(): Promise<void>
}

/** Options of {@link ResourceScheduler.run}. */
export interface TaskOptions {
  /** Higher first (default 0). */
  priority?: number
  /** Cores the task keeps busy (default 1). */
  cpu?: number
  /** Bytes the task needs (default 0). */
  memoryBytes?: number
  /** Give up waiting for admission after this long ({@link AdmissionTimeoutError}); default: wait. */
  admissionTimeoutMs?: number
  /** Whether pressure pauses this task at its checkpoints (default true). */
  pausable?: boolean
  signal?: AbortSignal
}

/** A task's event. */
export interface TaskEventDetail {
  name: string
  id: number
}

/** Events of {@link ResourceScheduler}. */
export interface ResourceSchedulerEvents {
  'task:queued': CustomEvent<TaskEventDetail>
  /** A queued task cannot start yet; `reason` says why (emitted when the reason changes). */
  'task:waiting': CustomEvent<TaskEventDetail & { reason: string }>
  'task:started': CustomEvent<TaskEventDetail & { waitedMs: number }>
  /** The task reached a checkpoint under pressure and stopped there. */
  'task:paused': CustomEvent<TaskEventDetail & { reasons: PressureReason[] }>
  'task:resumed': CustomEvent<TaskEventDetail & { pausedMs: number }>
  'task:finished': CustomEvent<TaskEventDetail & { ok: boolean; error?: Error }>
  /** The scheduler went under pressure (or its reasons changed). */
  pressure: CustomEvent<{ reasons: PressureReason[]; sample: ResourceSample }>
  /** The pressure cleared. */
  relief: CustomEvent<{ sample: ResourceSample; pressureMs: number }>
}

/** Options of {@link resourceScheduler}. */
export interface ResourceSchedulerInit {
  /** Limits (validated; see {@link parseResourceLimits}). */
  limits?: unknown
  /** Tasks running at once (default 1). */
  concurrency?: number
  /** Calm samples in a row before paused tasks resume (default 2). */
  resumeAfter?: number
}

const InitSchema = z.strictObject({
  limits: z.unknown().optional(),
  concurrency: z.number().int().min(1).max(1024).default(1),
  resumeAfter: z.number().int().min(1).max(1000).default(2),
})

interface Queued {
  id: number
  name: string
  priority: number
  cpu: number
  memoryBytes: number
  enqueuedAt: number
  pausable: boolean
  admit: () => void
  reject: (err: Error) => void
  lastReason: string | undefined
}

interface Running {
  id: number
  name: string
  cpu: number
  memoryBytes: number
  pausable: boolean
  controller: AbortController
  waiters: Array<() => void>
  paused: boolean
}

/** A scheduler snapshot (for status pages and metrics). */
export interface SchedulerStatus {
  pressure: PressureReason[]
  pressureSince: number | undefined
  queued: Array<{ name: string; priority: number; waitingMs: number; reason: string | undefined }>
  running: Array<{ name: string; paused: boolean; cpu: number }>
}

/** The scheduler. Create it with {@link resourceScheduler}. */
export class ResourceScheduler extends TypedEventEmitter<ResourceSchedulerEvents> {
  #limits: ResourceLimits
  readonly concurrency: number
  private readonly resumeAfter: number
  private readonly queue: Queued[] = []
  private readonly running = new Map<number, Running>()
  private nextId = 1
  private pressure = new Set<PressureReason>()
  private pressureSince: number | undefined
  private calm = 0
  private stopped = false
  private started = false
  private readonly onSample = (e: CustomEvent<ResourceSample>) => this.evaluate(e.detail)

  constructor(
    private readonly source: SampleSource,
    init: ResourceSchedulerInit = {},
  ) {
    super()
    const parsed = InitSchema.safeParse(init)
    if (!parsed.success) {
      const problems = problemsOf(parsed.error)
      throw new InvalidResourceConfigError(`invalid scheduler options:\n${problems.join('\n')}`, problems)
    }
    this.#limits = parseResourceLimits(parsed.data.limits)
    this.concurrency = parsed.data.concurrency
    this.resumeAfter = parsed.data.resumeAfter
  }

  /** The limits in force. */
  get limits(): ResourceLimits {
    return this.#limits
  }

  /**
   * Replace the limits at run time (e.g. the owner lowers `maxCpu` through the node's API). The
   * new limits apply at once: with the latest sample, running tasks pause or resume and queued
   * ones are admitted by the new budget. Nothing changes when they are invalid.
   *
   * @returns the limits in force after
   * @throws {@link InvalidResourceConfigError} for invalid limits
   * @example
   * ```ts
   * scheduler.setLimits({ ...scheduler.limits, maxCpu: 0.25 })
   * ```
   */
  setLimits(limits: unknown): ResourceLimits {
    this.#limits = parseResourceLimits(limits)
    const latest = this.source.latest()
    if (this.started && latest !== undefined) this.evaluate(latest)
    return this.#limits
  }

  /** Follows the source's samples. */
  start(): void {
    if (this.started) return
    this.started = true
    this.stopped = false
    this.source.addEventListener('sample', this.onSample)
    const latest = this.source.latest()
    if (latest !== undefined) this.evaluate(latest)
  }

  /** Stops following samples; queued tasks fail with {@link SchedulerStoppedError}, running ones are aborted. */
  stop(): void {
    this.stopped = true
    this.started = false
    this.source.removeEventListener('sample', this.onSample)
    for (const q of this.queue.splice(0)) q.reject(new SchedulerStoppedError())
    for (const r of this.running.values()) r.controller.abort(new SchedulerStoppedError())
  }

  /** Current pressure reasons (empty when the host can take work). */
  pressureReasons(): PressureReason[] {
    return [...this.pressure]
  }

  status(): SchedulerStatus {
    const now = Date.now()
    return {
      pressure: [...this.pressure],
      pressureSince: this.pressureSince,
      queued: this.queue.map((q) => ({
        name: q.name,
        priority: q.priority,
        waitingMs: now - q.enqueuedAt,
        reason: q.lastReason,
      })),
      running: [...this.running.values()].map((r) => ({ name: r.name, paused: r.paused, cpu: r.cpu })),
    }
  }

  /**
   * Runs `task` once admitted; resolves with its result.
   *
   * @throws {@link AdmissionTimeoutError} when not admitted within `admissionTimeoutMs`;
   * {@link SchedulerStoppedError} when the scheduler stops; the signal's reason when aborted;
   * whatever the task throws.
   */
  async run<T>(name: string, task: (ctx: TaskContext) => Promise<T>, options: TaskOptions = {}): Promise<T> {
    if (this.stopped) throw new SchedulerStoppedError()
    const { signal } = options
    if (signal?.aborted) throw abortReason(signal)
    const cores = this.source.latest()?.cpu.cores ?? 1
    const budget = Math.max(this.limits.maxCpu * cores, Number.MIN_VALUE)
    const id = this.nextId++
    const enqueuedAt = performance.now()
    const q: Queued = {
      id,
      name,
      priority: options.priority ?? 0,
      // a task claiming more than the whole budget could never start: it claims the budget
      cpu: Math.min(Math.max(options.cpu ?? 1, 0), budget),
      memoryBytes: Math.max(options.memoryBytes ?? 0, 0),
      pausable: options.pausable ?? true,
      enqueuedAt: Date.now(),
      admit: () => {},
      reject: () => {},
      lastReason: undefined,
    }
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const cleanup = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        const i = this.queue.indexOf(q)
        if (i >= 0) this.queue.splice(i, 1)
      }
      const onAbort = () => {
        cleanup()
        reject(abortReason(signal as AbortSignal))
      }
      q.admit = () => {
        cleanup()
        resolve()
      }
      q.reject = (err) => {
        cleanup()
        reject(err)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (options.admissionTimeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup()
          reject(
            new AdmissionTimeoutError(name, performance.now() - enqueuedAt, q.lastReason ?? 'the host stayed busy'),
          )
          this.pump()
        }, options.admissionTimeoutMs)
      }
      const at = this.queue.findIndex((o) => o.priority < q.priority)
      if (at < 0) this.queue.push(q)
      else this.queue.splice(at, 0, q)
      this.emit('task:queued', { name, id })
      this.pump()
    })
    // admitted: pump() has put it in `running` already (so the next admission counts it)
    const r = this.running.get(id) as Running
    const onAbort = () => r.controller.abort(abortReason(signal as AbortSignal))
    signal?.addEventListener('abort', onAbort, { once: true })
    this.emit('task:started', { name, id, waitedMs: performance.now() - enqueuedAt })
    try {
      const result = await task(this.context(r))
      this.emit('task:finished', { name, id, ok: true })
      return result
    } catch (err) {
      this.emit('task:finished', { name, id, ok: false, error: err as Error })
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.running.delete(id)
      for (const w of r.waiters.splice(0)) w()
      this.pump()
    }
  }

  private context(r: Running): TaskContext {
    const self = this
    return {
      name: r.name,
      signal: r.controller.signal,
      get pauseRequested() {
        return r.pausable && self.pressure.size > 0
      },
      checkpoint: async () => {
        // yield to the event loop: timers (the sampler) run between a CPU-bound task's steps
        await new Promise<void>((resolve) => setImmediate(resolve))
        const signal = r.controller.signal
        if (signal.aborted) throw abortReason(signal)
        if (!r.pausable || this.pressure.size === 0) return
        const pausedAt = performance.now()
        r.paused = true
        this.emit('task:paused', { name: r.name, id: r.id, reasons: [...this.pressure] })
        try {
          while (this.pressure.size > 0) {
            await new Promise<void>((resolve, reject) => {
              const onAbort = () => reject(abortReason(signal))
              if (signal.aborted) return onAbort()
              signal.addEventListener('abort', onAbort, { once: true })
              r.waiters.push(() => {
                signal.removeEventListener('abort', onAbort)
                resolve()
              })
            })
          }
        } finally {
          r.paused = false
        }
        this.emit('task:resumed', { name: r.name, id: r.id, pausedMs: performance.now() - pausedAt })
      },
    }
  }

  /**
   * Updates the pressure from a sample and admits what fits (the monitor's `sample` event calls
   * it; call it directly to drive the scheduler from samples of your own).
   */
  evaluate(sample: ResourceSample): void {
    if (this.stopped) return
    const l = this.limits
    const reasons = new Set<PressureReason>()
    const had = (r: PressureReason) => this.pressure.has(r)
    const others = sample.cpu.others
    if (others !== undefined && others > (had('cpu') ? l.resumeCpu : l.busyCpu)) reasons.add('cpu')
    const { availableBytes, totalBytes } = sample.memory
    if (availableBytes !== undefined && totalBytes > 0) {
      const free = availableBytes / totalBytes
      if (free < (had('memory') ? Math.min(0.95, l.minFreeMemory * 1.5) : l.minFreeMemory)) reasons.add('memory')
    }
    if (l.maxMemory !== undefined) {
      const rss = sample.memory.process.rssBytes
      if (rss > (had('process-memory') ? 0.9 * l.maxMemory : l.maxMemory)) reasons.add('process-memory')
    }
    if (sample.power?.onBattery === true) {
      if (l.onBattery === 'pause') reasons.add('battery')
      // the low-power profile trains on battery only while the host is idle
      else if (l.onBattery === 'low-power' && (others === undefined || others >= l.idleCpu)) reasons.add('battery')
    }
    this.setPressure(reasons, sample)
    this.pump(sample)
  }

  private setPressure(reasons: Set<PressureReason>, sample: ResourceSample): void {
    if (reasons.size > 0) {
      this.calm = 0
      const changed = reasons.size !== this.pressure.size || [...reasons].some((r) => !this.pressure.has(r))
      // a reason that is back within bounds leaves only after `resumeAfter` calm samples
      for (const r of reasons) this.pressure.add(r)
      if (this.pressureSince === undefined) this.pressureSince = sample.time
      if (changed) this.emit('pressure', { reasons: [...this.pressure], sample })
      return
    }
    if (this.pressure.size === 0) return
    if (++this.calm < this.resumeAfter) return
    const pressureMs = sample.time - (this.pressureSince ?? sample.time)
    this.pressure.clear()
    this.pressureSince = undefined
    this.calm = 0
    this.emit('relief', { sample, pressureMs })
    for (const r of this.running.values()) for (const w of r.waiters.splice(0)) w()
  }

  /** Admits queued tasks that fit; records why the others wait. */
  private pump(sample = this.source.latest()): void {
    if (this.stopped) return
    let cpuClaimed = 0
    let memClaimed = 0
    for (const r of this.running.values()) {
      cpuClaimed += r.cpu
      memClaimed += r.memoryBytes
    }
    const cores = sample?.cpu.cores ?? 1
    const budget = this.limits.maxCpu * cores
    const freeMem =
      sample?.memory.availableBytes === undefined
        ? Number.POSITIVE_INFINITY
        : sample.memory.availableBytes - this.limits.minFreeMemory * sample.memory.totalBytes - memClaimed
    for (const q of [...this.queue]) {
      let reason: string | undefined
      if (this.pressure.size > 0) reason = `host under pressure (${[...this.pressure].join(', ')})`
      else if (this.running.size >= this.concurrency)
        reason = `${this.running.size} task(s) running (concurrency ${this.concurrency})`
      else if (cpuClaimed + q.cpu > budget + 1e-9)
        reason = `CPU budget in use (${cpuClaimed.toFixed(2)} of ${budget.toFixed(2)} cores)`
      else if (q.memoryBytes > freeMem) reason = `not enough free memory (${Math.round(freeMem / 2 ** 20)} MiB left)`
      if (reason === undefined) {
        cpuClaimed += q.cpu
        memClaimed += q.memoryBytes
        this.running.set(q.id, {
          id: q.id,
          name: q.name,
          cpu: q.cpu,
          memoryBytes: q.memoryBytes,
          pausable: q.pausable,
          controller: new AbortController(),
          waiters: [],
          paused: false,
        })
        q.admit()
        continue
      }
      if (reason !== q.lastReason) {
        q.lastReason = reason
        this.emit('task:waiting', { name: q.name, id: q.id, reason })
      }
      // strict priority: nothing behind a waiting task jumps it
      break
    }
  }

  private emit<K extends keyof ResourceSchedulerEvents>(type: K, detail: ResourceSchedulerEvents[K]['detail']): void {
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }))
    } catch {
      // a throwing listener must not break scheduling
    }
  }
}

/**
 * Creates a {@link ResourceScheduler} over a sample source (a {@link ResourceMonitor}).
 *
 * @throws {@link InvalidResourceConfigError} for invalid limits or options.
 * @example
 * ```ts
 * const scheduler = resourceScheduler(monitor, { limits: { maxCpu: 0.5 }, concurrency: 1 })
 * scheduler.start()
 * const result = await scheduler.run('train', async (ctx) => {
 *   for (let step = 0; step < 100; step++) {
 *     await ctx.checkpoint() // pauses here while the host is busy
 *     trainOneStep()
 *   }
 * }, { priority: 1, signal })
 * ```
 */
export function resourceScheduler(source: SampleSource, init: ResourceSchedulerInit = {}): ResourceScheduler {
  return new ResourceScheduler(source, init)
}
