/**
 * `anomalyDetector(init)`: robust per-metric baselines and typed anomaly events with hysteresis.
 *
 * Per metric: the baseline is an EWMA of the values seen while the metric was normal, the spread
 * is 1.4826 × the median absolute deviation (MAD) of the last `window` normal values (a robust
 * standard deviation: one spike does not widen it), floored at the metric's `minSpread`. A value's
 * score is `(value − baseline) / spread`. An anomaly starts after `enterAfter` consecutive samples
 * at |score| ≥ `enterScore` (in the metric's direction) and clears after `exitAfter` consecutive
 * samples at |score| < `exitScore` — two thresholds and two counts, so a value hovering near the
 * line raises one anomaly, not a storm. While a metric is anomalous its baseline is frozen (the
 * load being reported does not become the new normal); a value between the two lines moves the
 * baseline 10× slower than a normal one (a ramp is not absorbed before it becomes an anomaly,
 * while a lasting small shift still becomes the new normal).
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import { z } from 'zod'
import { InvalidResourceConfigError } from '../errors.js'
import type { ResourceSample } from '../sampling/sample.js'
import { problemsOf } from '../validate.js'

/** Which deviations count. */
export type AnomalyDirection = 'high' | 'low' | 'both'

/** One watched metric. */
export interface MetricSpec {
  /** Reads the value from a sample; undefined (absent) values are skipped. */
  read: (sample: ResourceSample) => number | undefined
  /** Smallest spread (same unit as the value), so a flat metric does not alarm on noise. */
  minSpread: number
  /** Default `'high'`. */
  direction?: AnomalyDirection
}

/** The metrics watched by default. */
export const DEFAULT_METRICS: Readonly<Record<string, MetricSpec>> = Object.freeze({
  'cpu.host': { read: (s) => s.cpu.host, minSpread: 0.05 },
  'cpu.others': { read: (s) => s.cpu.others, minSpread: 0.05 },
  'memory.used': { read: (s) => s.memory.usedShare, minSpread: 0.01 },
  'process.rss': { read: (s) => s.memory.process.rssBytes, minSpread: 64 * 1024 * 1024 },
  'disk.write': { read: (s) => s.disk.writeBytesPerSec, minSpread: 16 * 1024 * 1024 },
  'network.rx': { read: (s) => s.network.rxBytesPerSec, minSpread: 4 * 1024 * 1024 },
  'network.tx': { read: (s) => s.network.txBytesPerSec, minSpread: 4 * 1024 * 1024 },
})

/** An anomaly that started. */
export interface Anomaly {
  metric: string
  /** The value that confirmed it. */
  value: number
  /** The normal value (EWMA of normal samples). */
  baseline: number
  /** The robust spread (1.4826 × MAD, floored). */
  spread: number
  /** How far from normal: (value − baseline) / spread. */
  score: number
  /** `Date.now()` of the first of the samples that confirmed it. */
  since: number
}

/** An anomaly that cleared. */
export interface AnomalyCleared {
  metric: string
  since: number
  /** `Date.now()` of the sample that cleared it. */
  until: number
  /** Largest |score| seen while it lasted. */
  peakScore: number
  value: number
  baseline: number
}

/** Events of {@link AnomalyDetector}. */
export interface AnomalyDetectorEvents {
  anomaly: CustomEvent<Anomaly>
  'anomaly:cleared': CustomEvent<AnomalyCleared>
}

/** Options of {@link anomalyDetector}. */
export interface AnomalyDetectorInit {
  /** Metrics by name (default {@link DEFAULT_METRICS}). */
  metrics?: Record<string, MetricSpec>
  /** EWMA weight of a new normal value (default 0.1). */
  alpha?: number
  /** Normal values the MAD is taken over (default 60). */
  window?: number
  /** Samples before a metric may alarm (default 10). */
  warmup?: number
  /** Default 4. */
  enterScore?: number
  /** Default 2 (must be below `enterScore`). */
  exitScore?: number
  /** Default 3. */
  enterAfter?: number
  /** Default 3. */
  exitAfter?: number
}

const InitSchema = z
  .strictObject({
    metrics: z
      .record(
        z.string().min(1),
        z.custom<MetricSpec>(
          (v) =>
            typeof v === 'object' &&
            v !== null &&
            typeof (v as MetricSpec).read === 'function' &&
            Number.isFinite((v as MetricSpec).minSpread) &&
            (v as MetricSpec).minSpread > 0,
          'must be { read(sample), minSpread > 0 }',
        ),
      )
      .optional(),
    alpha: z.number().gt(0).max(1).default(0.1),
    window: z.number().int().min(3).max(10_000).default(60),
    warmup: z.number().int().min(1).max(10_000).default(10),
    enterScore: z.number().positive().max(1000).default(4),
    exitScore: z.number().min(0).max(1000).default(2),
    enterAfter: z.number().int().min(1).max(1000).default(3),
    exitAfter: z.number().int().min(1).max(1000).default(3),
  })
  .refine((o) => o.exitScore < o.enterScore, { message: 'exitScore must be below enterScore (hysteresis)' })

interface MetricState {
  spec: MetricSpec
  ewma: number | undefined
  normal: number[]
  seen: number
  streak: number
  streakSince: number
  active: Anomaly | undefined
  peak: number
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** Per-metric baselines and anomaly events. Create it with {@link anomalyDetector}. */
export class AnomalyDetector extends TypedEventEmitter<AnomalyDetectorEvents> {
  private readonly o: z.output<typeof InitSchema>
  private readonly states = new Map<string, MetricState>()

  constructor(init: AnomalyDetectorInit = {}) {
    super()
    const parsed = InitSchema.safeParse(init)
    if (!parsed.success) {
      const problems = problemsOf(parsed.error)
      throw new InvalidResourceConfigError(`invalid anomaly detector options:\n${problems.join('\n')}`, problems)
    }
    this.o = parsed.data
    for (const [name, spec] of Object.entries(parsed.data.metrics ?? DEFAULT_METRICS)) {
      this.states.set(name, {
        spec,
        ewma: undefined,
        normal: [],
        seen: 0,
        streak: 0,
        streakSince: 0,
        active: undefined,
        peak: 0,
      })
    }
  }

  /** Anomalies in progress. */
  active(): Anomaly[] {
    return [...this.states.values()].flatMap((s) => (s.active === undefined ? [] : [s.active]))
  }

  /** The baseline of each metric: normal value and spread (undefined before any value). */
  baselines(): Record<string, { baseline: number | undefined; spread: number | undefined; anomalous: boolean }> {
    return Object.fromEntries(
      [...this.states].map(([name, s]) => [
        name,
        { baseline: s.ewma, spread: this.spread(s), anomalous: s.active !== undefined },
      ]),
    )
  }

  /** Feeds one sample (wire it to a monitor's `sample` event); returns the events it raised. */
  observe(sample: ResourceSample): Array<Anomaly | AnomalyCleared> {
    const raised: Array<Anomaly | AnomalyCleared> = []
    for (const [metric, s] of this.states) {
      let value: number | undefined
      try {
        value = s.spec.read(sample)
      } catch {
        value = undefined
      }
      if (value === undefined || !Number.isFinite(value)) continue
      const event = this.step(metric, s, value, sample.time)
      if (event !== undefined) raised.push(event)
    }
    return raised
  }

  private spread(s: MetricState): number | undefined {
    if (s.normal.length === 0) return undefined
    const m = median(s.normal)
    return Math.max(s.spec.minSpread, 1.4826 * median(s.normal.map((v) => Math.abs(v - m))))
  }

  /** `suspect`: a value between the exit and enter lines moves the baseline 10× slower and stays out of the MAD window. */
  private learn(s: MetricState, value: number, suspect = false): void {
    const alpha = suspect ? this.o.alpha / 10 : this.o.alpha
    s.ewma = s.ewma === undefined ? value : s.ewma + alpha * (value - s.ewma)
    if (suspect) return
    s.normal.push(value)
    if (s.normal.length > this.o.window) s.normal.shift()
  }

  private step(metric: string, s: MetricState, value: number, time: number): Anomaly | AnomalyCleared | undefined {
    s.seen++
    if (s.ewma === undefined || s.seen <= this.o.warmup) {
      this.learn(s, value)
      return undefined
    }
    const spread = this.spread(s) as number
    const score = (value - s.ewma) / spread
    const direction = s.spec.direction ?? 'high'
    const signed = direction === 'high' ? score : direction === 'low' ? -score : Math.abs(score)
    if (s.active === undefined) {
      if (signed >= this.o.enterScore) {
        if (s.streak === 0) s.streakSince = time
        s.streak++
        if (s.streak >= this.o.enterAfter) {
          s.active = { metric, value, baseline: s.ewma, spread, score, since: s.streakSince }
          s.peak = Math.abs(score)
          s.streak = 0
          this.dispatchEvent(new CustomEvent('anomaly', { detail: s.active }))
          return s.active
        }
      } else {
        s.streak = 0
        this.learn(s, value, signed >= this.o.exitScore)
      }
      return undefined
    }
    s.peak = Math.max(s.peak, Math.abs(score))
    if (signed < this.o.exitScore) {
      s.streak++
      if (s.streak >= this.o.exitAfter) {
        const cleared: AnomalyCleared = {
          metric,
          since: s.active.since,
          until: time,
          peakScore: s.peak,
          value,
          baseline: s.ewma,
        }
        s.active = undefined
        s.streak = 0
        this.learn(s, value)
        this.dispatchEvent(new CustomEvent('anomaly:cleared', { detail: cleared }))
        return cleared
      }
    } else s.streak = 0
    return undefined
  }
}

/**
 * Creates an {@link AnomalyDetector}.
 *
 * @throws {@link InvalidResourceConfigError} on invalid options (e.g. `exitScore ≥ enterScore`).
 * @example
 * ```ts
 * const detector = anomalyDetector()
 * monitor.addEventListener('sample', (e) => detector.observe(e.detail))
 * detector.addEventListener('anomaly', (e) => log.warn('anomaly', e.detail))
 * ```
 */
export function anomalyDetector(init: AnomalyDetectorInit = {}): AnomalyDetector {
  return new AnomalyDetector(init)
}
