/**
 * The alert engine: rules evaluated against samples (each {@link AlertEngine.evaluate}) and
 * anomaly events (from an injected source), with firing/resolved transitions, `forMs` delays and
 * hysteresis (a crossing rule resolves only once its `clear` level is passed back).
 */
import { TypedEventEmitter } from 'main-event'
import type { MetricSample } from '../registry/index.js'
import { type AlertRule, parseRules } from './rules.js'

/** An anomaly reported by a detector (e.g. `@vain/resources`). */
export interface AnomalyEvent {
  kind: string
  message: string
  value?: number
  /** The detector says the anomaly is over. */
  resolved?: boolean
  at?: number
}

/** A source of anomaly events: returns its unsubscribe. */
export type AnomalySource = (listener: (a: AnomalyEvent) => void) => () => void

/** A firing or resolved alert. */
export interface AlertNotice {
  rule: string
  kind: AlertRule['kind']
  severity: AlertRule['severity']
  state: 'firing' | 'resolved'
  at: number
  /** The value that crossed (threshold/rate), the silence in ms (absence), or the anomaly's value. */
  value?: number
  message: string
}

/** Where notices go (see `./notifiers`). */
export type Notifier = (notice: AlertNotice) => void | Promise<void>

export interface AlertEvents {
  firing: CustomEvent<AlertNotice>
  resolved: CustomEvent<AlertNotice>
  /** A notifier failed (the notice still went to the others). */
  'notifier:error': CustomEvent<{ notice: AlertNotice; error: Error }>
}

/** Options of {@link createAlerts}. */
export interface AlertsInit {
  /** Validated with {@link parseRules}: throws `InvalidRuleError`. */
  rules: unknown
  notifiers?: Notifier[]
  anomalies?: AnomalySource
  now?: () => number
}

interface RuleState {
  firing: boolean
  pendingSince: number | undefined
  lastSeen: number | undefined
  history: Array<{ t: number; v: number }>
  anomalyAt: number | undefined
}

const crosses = (op: string, v: number, level: number) =>
  op === '>' ? v > level : op === '>=' ? v >= level : op === '<' ? v < level : v <= level

/** Alert rules over samples and anomalies. */
export class AlertEngine extends TypedEventEmitter<AlertEvents> {
  readonly rules: readonly AlertRule[]
  private readonly states = new Map<string, RuleState>()
  private readonly notifiers: Notifier[]
  private readonly now: () => number
  private unsubscribe: (() => void) | undefined
  private readonly anomalies: AnomalySource | undefined
  /** Notifications in flight (webhooks), awaited by {@link settled}. */
  private inflight = new Set<Promise<void>>()

  constructor(init: AlertsInit) {
    super()
    this.rules = parseRules(init.rules)
    this.notifiers = init.notifiers ?? []
    this.now = init.now ?? Date.now
    this.anomalies = init.anomalies
    for (const r of this.rules) {
      this.states.set(r.name, {
        firing: false,
        pendingSince: undefined,
        lastSeen: undefined,
        history: [],
        anomalyAt: undefined,
      })
    }
  }

  start(): void {
    if (this.anomalies === undefined || this.unsubscribe !== undefined) return
    this.unsubscribe = this.anomalies((a) => this.anomaly(a))
  }

  async stop(): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    await this.settled()
  }

  /** Alerts firing now. */
  firing(): string[] {
    return [...this.states].filter(([, s]) => s.firing).map(([n]) => n)
  }

  /** Resolves once every notification sent so far is delivered (or failed). */
  async settled(): Promise<void> {
    await Promise.all([...this.inflight])
  }

  /** Evaluate the threshold, rate and absence rules against one round of samples. */
  evaluate(samples: MetricSample[], at = this.now()): void {
    for (const rule of this.rules) {
      if (rule.kind === 'anomaly') {
        const s = this.states.get(rule.name) as RuleState
        if (s.firing && s.anomalyAt !== undefined && at - s.anomalyAt >= rule.resolveAfterMs) {
          this.transition(
            rule,
            s,
            false,
            at,
            undefined,
            `no ${rule.anomalies?.join('/') ?? 'anomaly'} for ${rule.resolveAfterMs} ms`,
          )
        }
        continue
      }
      const s = this.states.get(rule.name) as RuleState
      const match = samples.find(
        (x) => x.name === rule.metric && Object.entries(rule.labels ?? {}).every(([k, v]) => x.labels[k] === v),
      )
      if (rule.kind === 'absence') {
        if (match !== undefined) s.lastSeen = at
        s.lastSeen ??= at // silence is counted from the first evaluation
        const silent = at - s.lastSeen
        if (!s.firing && silent >= rule.afterMs)
          this.hold(rule, s, true, at, silent, `${rule.metric}: no sample for ${silent} ms`)
        else if (s.firing && silent < rule.afterMs)
          this.transition(rule, s, false, at, silent, `${rule.metric} is reported again`)
        else if (!s.firing) s.pendingSince = undefined
        continue
      }
      if (match === undefined) continue
      let value = match.value
      if (rule.kind === 'rate') {
        s.history.push({ t: at, v: match.value })
        while (s.history.length > 1 && (s.history[0] as { t: number }).t < at - rule.windowMs) s.history.shift()
        const first = s.history[0] as { t: number; v: number }
        if (at - first.t <= 0) continue
        value = ((match.value - first.v) / (at - first.t)) * 1000
      }
      const fires = crosses(rule.op, value, rule.value)
      const calm = rule.clear === undefined ? !fires : !crosses(rule.op, value, rule.clear)
      const what = rule.kind === 'rate' ? `${rule.metric} changes ${value.toFixed(3)}/s` : `${rule.metric} = ${value}`
      if (!s.firing) {
        if (fires) this.hold(rule, s, true, at, value, `${what} (${rule.op} ${rule.value})`)
        else s.pendingSince = undefined
      } else if (calm)
        this.transition(
          rule,
          s,
          false,
          at,
          value,
          `${what}: back${rule.clear !== undefined ? ` past ${rule.clear}` : ''}`,
        )
    }
  }

  /** Fire once the condition has held `forMs`. */
  private hold(rule: AlertRule, s: RuleState, _fire: true, at: number, value: number, message: string): void {
    s.pendingSince ??= at
    if (at - s.pendingSince >= rule.forMs) this.transition(rule, s, true, at, value, message)
  }

  private anomaly(a: AnomalyEvent): void {
    const at = a.at ?? this.now()
    for (const rule of this.rules) {
      if (rule.kind !== 'anomaly') continue
      if (rule.anomalies !== undefined && !rule.anomalies.includes(a.kind)) continue
      const s = this.states.get(rule.name) as RuleState
      if (a.resolved === true) {
        if (s.firing) this.transition(rule, s, false, at, a.value, `${a.kind}: ${a.message}`)
        continue
      }
      s.anomalyAt = at
      if (!s.firing) this.transition(rule, s, true, at, a.value, `${a.kind}: ${a.message}`)
    }
  }

  private transition(
    rule: AlertRule,
    s: RuleState,
    firing: boolean,
    at: number,
    value: number | undefined,
    message: string,
  ): void {
    s.firing = firing
    s.pendingSince = undefined
    const notice: AlertNotice = {
      rule: rule.name,
      kind: rule.kind,
      severity: rule.severity,
      state: firing ? 'firing' : 'resolved',
      at,
      ...(value !== undefined ? { value } : {}),
      message: rule.summary !== undefined ? `${rule.summary}: ${message}` : message,
    }
    this.safeDispatchEvent(firing ? 'firing' : 'resolved', { detail: notice })
    for (const n of this.notifiers) {
      const p = (async () => {
        try {
          await n(notice)
        } catch (error) {
          this.safeDispatchEvent('notifier:error', { detail: { notice, error: error as Error } })
        }
      })()
      this.inflight.add(p)
      void p.finally(() => this.inflight.delete(p))
    }
  }
}

/**
 * Create an alert engine.
 *
 * @throws {InvalidRuleError} for invalid rules, listing every problem
 */
export function createAlerts(init: AlertsInit): AlertEngine {
  return new AlertEngine(init)
}
