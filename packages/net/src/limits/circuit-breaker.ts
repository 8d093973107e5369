/**
 * Per-peer circuit breakers for outbound calls.
 *
 * - **closed**: calls run. After `failureThreshold` consecutive failures, or a failure ratio of at
 *   least `failureRateThreshold` over the last `windowMs` (once `minimumCalls` have been seen),
 *   the circuit opens.
 * - **open**: calls fail fast with {@link CircuitOpenError} (its `retryAfterMs` says when the
 *   circuit half-opens) and `fn` is not called. The open period (backoff) is
 *   `baseBackoffMs × backoffMultiplier^reopens`, capped at `maxBackoffMs`, shortened by up to
 *   `jitter` (a fraction; `0` makes it deterministic).
 * - **half-open**: up to `halfOpenMaxCalls` trial calls run at once (others fail fast). A trial
 *   success closes the circuit and resets the backoff; a trial failure re-opens it with the next,
 *   longer backoff.
 *
 * Time comes from an injectable clock; there are no timers, so nothing to start or stop.
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import { CircuitOpenError, ConfigError } from '../errors.js'

/** State of one peer's circuit. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** Detail of a `state-change` event. */
export interface CircuitStateChange {
  peerKey: string
  from: CircuitState
  to: CircuitState
  /** Why, e.g. `"5 consecutive failures"` or `"trial call succeeded"`. */
  reason: string
  /** When `to` is `open`: how long it stays open, in ms. */
  backoffMs?: number
}

/** Events of {@link CircuitBreakers}. */
export interface CircuitBreakerEvents {
  'state-change': CustomEvent<CircuitStateChange>
}

/** Options for {@link CircuitBreakers}. */
export interface CircuitBreakerInit {
  /** Consecutive failures that open a closed circuit. Default 5. */
  failureThreshold?: number
  /** Failure ratio in (0, 1] over `windowMs` that opens a closed circuit. Default 0.5. */
  failureRateThreshold?: number
  /** Length of the sliding window for the failure ratio. Default 60 000 ms. */
  windowMs?: number
  /** Calls needed in the window before the ratio is considered. Default 10. */
  minimumCalls?: number
  /** First open period. Default 1 000 ms. */
  baseBackoffMs?: number
  /** Growth of the open period at each re-open from half-open. Default 2. */
  backoffMultiplier?: number
  /** Longest open period. Default 60 000 ms. */
  maxBackoffMs?: number
  /**
   * Fraction in [0, 1] by which each open period is randomly shortened (spreads retries of many
   * peers). `0` makes backoffs deterministic. Default 0.1.
   */
  jitter?: number
  /** Random source in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number
  /** Trial calls allowed at once in half-open. Default 1. */
  halfOpenMaxCalls?: number
  /**
   * Which errors count as failures. Errors for which it returns false are rethrown but count as
   * successes (the peer answered, e.g. with a validation error). Default: every error counts.
   */
  isFailure?: (err: unknown) => boolean
  /** Peers tracked at most; the least recently used is forgotten beyond. Default 10 000. */
  maxPeers?: number
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number
  /** Called on every state change (as well as the `state-change` event). */
  onStateChange?: (change: CircuitStateChange) => void
}

/** A snapshot of one peer's circuit, from {@link CircuitBreakers.info}. */
export interface CircuitInfo {
  state: CircuitState
  consecutiveFailures: number
  /** Calls and failures recorded in the current window. */
  windowCalls: number
  windowFailures: number
  /** Times the circuit re-opened from half-open since it last closed (the backoff exponent). */
  reopens: number
  /** When open: ms until it half-opens; otherwise 0. */
  retryAfterMs: number
}

interface WindowBucket {
  /** Index of the time slot: `floor(now / slotMs)`. */
  slot: number
  calls: number
  failures: number
}

interface Circuit {
  state: 'closed' | 'open' | 'half-open'
  consecutiveFailures: number
  window: WindowBucket[]
  reopens: number
  openUntil: number
  /** Why it last opened, for the fail-fast error's message. */
  openReason: string
  trialsInFlight: number
  /** Bumped on every transition; outcomes of calls started under an older epoch are ignored. */
  epoch: number
}

const WINDOW_SLOTS = 10

interface Resolved {
  failureThreshold: number
  failureRateThreshold: number
  windowMs: number
  minimumCalls: number
  baseBackoffMs: number
  backoffMultiplier: number
  maxBackoffMs: number
  jitter: number
  halfOpenMaxCalls: number
  maxPeers: number
}

/**
 * Circuit breakers for outbound calls, one per peer key.
 *
 * @example
 * ```ts
 * const breakers = new CircuitBreakers({ failureThreshold: 3, baseBackoffMs: 2_000 })
 * breakers.addEventListener('state-change', (evt) => log(evt.detail))
 * try {
 *   const reply = await breakers.exec(peerId.toString(), () => node.request(peerId, echo, msg))
 * } catch (err) {
 *   if (err instanceof CircuitOpenError) pickAnotherPeer(err.retryAfterMs)
 * }
 * ```
 */
export class CircuitBreakers extends TypedEventEmitter<CircuitBreakerEvents> {
  private readonly opts: Resolved
  private readonly random: () => number
  private readonly isFailure: (err: unknown) => boolean
  private readonly now: () => number
  private readonly onStateChange: ((change: CircuitStateChange) => void) | undefined
  private readonly circuits = new Map<string, Circuit>()

  /** @throws {ConfigError} when an option is out of range */
  constructor(init: CircuitBreakerInit = {}) {
    super()
    this.opts = {
      failureThreshold: init.failureThreshold ?? 5,
      failureRateThreshold: init.failureRateThreshold ?? 0.5,
      windowMs: init.windowMs ?? 60_000,
      minimumCalls: init.minimumCalls ?? 10,
      baseBackoffMs: init.baseBackoffMs ?? 1_000,
      backoffMultiplier: init.backoffMultiplier ?? 2,
      maxBackoffMs: init.maxBackoffMs ?? 60_000,
      jitter: init.jitter ?? 0.1,
      halfOpenMaxCalls: init.halfOpenMaxCalls ?? 1,
      maxPeers: init.maxPeers ?? 10_000,
    }
    this.random = init.random ?? Math.random
    this.isFailure = init.isFailure ?? (() => true)
    this.now = init.now ?? Date.now
    this.onStateChange = init.onStateChange
    const o = this.opts
    const issues: string[] = []
    const positiveInt = (name: keyof Resolved): void => {
      if (!(Number.isInteger(o[name]) && o[name] >= 1)) issues.push(`${name} must be an integer ≥ 1 (got ${o[name]})`)
    }
    positiveInt('failureThreshold')
    positiveInt('minimumCalls')
    positiveInt('halfOpenMaxCalls')
    positiveInt('maxPeers')
    if (!(o.failureRateThreshold > 0 && o.failureRateThreshold <= 1)) {
      issues.push(`failureRateThreshold must be in (0, 1] (got ${o.failureRateThreshold})`)
    }
    if (!(Number.isFinite(o.windowMs) && o.windowMs > 0)) issues.push(`windowMs must be > 0 (got ${o.windowMs})`)
    if (!(Number.isFinite(o.baseBackoffMs) && o.baseBackoffMs >= 0)) {
      issues.push(`baseBackoffMs must be ≥ 0 (got ${o.baseBackoffMs})`)
    }
    if (!(Number.isFinite(o.backoffMultiplier) && o.backoffMultiplier >= 1)) {
      issues.push(`backoffMultiplier must be ≥ 1 (got ${o.backoffMultiplier})`)
    }
    if (!(o.maxBackoffMs >= o.baseBackoffMs)) issues.push('maxBackoffMs must be ≥ baseBackoffMs')
    if (!(o.jitter >= 0 && o.jitter <= 1)) issues.push(`jitter must be in [0, 1] (got ${o.jitter})`)
    if (issues.length > 0) throw new ConfigError('invalid circuit breaker options', issues)
  }

  /**
   * Run `fn` through `peerKey`'s circuit. Its result or error passes through unchanged.
   *
   * @throws {CircuitOpenError} (as a rejection, without calling `fn`) while the circuit is open,
   *   or half-open with `halfOpenMaxCalls` trials already in flight
   * @example
   * ```ts
   * const pong = await breakers.exec(peerKey, () => ping(peer))
   * ```
   */
  async exec<T>(peerKey: string, fn: () => T | Promise<T>): Promise<T> {
    const circuit = this.touch(peerKey)
    const now = this.now()
    this.advance(peerKey, circuit, now)
    if (circuit.state === 'open') {
      const retryAfterMs = Math.max(1, Math.ceil(circuit.openUntil - now))
      throw new CircuitOpenError(
        `circuit for ${peerKey} is open (${circuit.openReason}); retry in ${retryAfterMs} ms`,
        retryAfterMs,
      )
    }
    const trial = circuit.state === 'half-open'
    if (trial) {
      if (circuit.trialsInFlight >= this.opts.halfOpenMaxCalls) {
        const retryAfterMs = Math.max(1, this.opts.baseBackoffMs)
        throw new CircuitOpenError(
          `circuit for ${peerKey} is half-open and ${circuit.trialsInFlight} trial call(s) are in flight; retry in ${retryAfterMs} ms`,
          retryAfterMs,
        )
      }
      circuit.trialsInFlight++
    }
    const epoch = circuit.epoch
    let value: T
    try {
      value = await fn()
    } catch (err) {
      if (trial && circuit.epoch === epoch) circuit.trialsInFlight--
      if (this.isFailure(err)) this.onFailure(peerKey, circuit, epoch, trial)
      else this.onSuccess(peerKey, circuit, epoch, trial)
      throw err
    }
    if (trial && circuit.epoch === epoch) circuit.trialsInFlight--
    this.onSuccess(peerKey, circuit, epoch, trial)
    return value
  }

  /**
   * Current state of `peerKey`'s circuit (`closed` for an unknown peer). An open circuit whose
   * backoff has elapsed reports (and becomes) `half-open`.
   *
   * @example
   * ```ts
   * if (breakers.state(peerKey) === 'open') skip(peerKey)
   * ```
   */
  state(peerKey: string): CircuitState {
    const circuit = this.circuits.get(peerKey)
    if (circuit === undefined) return 'closed'
    this.advance(peerKey, circuit, this.now())
    return circuit.state
  }

  /**
   * A snapshot of `peerKey`'s circuit.
   *
   * @example
   * ```ts
   * const { state, retryAfterMs, reopens } = breakers.info(peerKey)
   * ```
   */
  info(peerKey: string): CircuitInfo {
    const circuit = this.circuits.get(peerKey)
    if (circuit === undefined) {
      return { state: 'closed', consecutiveFailures: 0, windowCalls: 0, windowFailures: 0, reopens: 0, retryAfterMs: 0 }
    }
    const now = this.now()
    this.advance(peerKey, circuit, now)
    const { calls, failures } = this.windowTotals(circuit, now)
    return {
      state: circuit.state,
      consecutiveFailures: circuit.consecutiveFailures,
      windowCalls: calls,
      windowFailures: failures,
      reopens: circuit.reopens,
      retryAfterMs: circuit.state === 'open' ? Math.max(0, Math.ceil(circuit.openUntil - now)) : 0,
    }
  }

  /**
   * Close `peerKey`'s circuit and forget its history (e.g. after the peer reconnected).
   *
   * @example
   * ```ts
   * node.addEventListener('peer:connect', (evt) => breakers.reset(evt.detail.toString()))
   * ```
   */
  reset(peerKey: string): void {
    const circuit = this.circuits.get(peerKey)
    if (circuit === undefined) return
    const from = circuit.state
    this.circuits.delete(peerKey)
    if (from !== 'closed') this.emit({ peerKey, from, to: 'closed', reason: 'reset' })
  }

  /** Number of peers tracked. */
  get size(): number {
    return this.circuits.size
  }

  private touch(peerKey: string): Circuit {
    let circuit = this.circuits.get(peerKey)
    if (circuit === undefined) {
      circuit = {
        state: 'closed',
        consecutiveFailures: 0,
        window: [],
        reopens: 0,
        openUntil: 0,
        openReason: '',
        trialsInFlight: 0,
        epoch: 0,
      }
    } else {
      this.circuits.delete(peerKey)
    }
    this.circuits.set(peerKey, circuit)
    while (this.circuits.size > this.opts.maxPeers) {
      const oldest = this.circuits.keys().next().value as string
      this.circuits.delete(oldest)
    }
    return circuit
  }

  /** Open → half-open once the backoff has elapsed. */
  private advance(peerKey: string, circuit: Circuit, now: number): void {
    if (circuit.state === 'open' && now >= circuit.openUntil) {
      this.transition(peerKey, circuit, 'half-open', 'backoff elapsed')
    }
  }

  private transition(peerKey: string, circuit: Circuit, to: CircuitState, reason: string, backoffMs?: number): void {
    const from = circuit.state
    circuit.state = to
    circuit.epoch++
    circuit.trialsInFlight = 0
    const change: CircuitStateChange = { peerKey, from, to, reason }
    if (backoffMs !== undefined) change.backoffMs = backoffMs
    this.emit(change)
  }

  private emit(change: CircuitStateChange): void {
    this.onStateChange?.(change)
    this.safeDispatchEvent('state-change', { detail: change })
  }

  private backoffMs(reopens: number): number {
    const { baseBackoffMs, backoffMultiplier, maxBackoffMs, jitter } = this.opts
    const full = Math.min(maxBackoffMs, baseBackoffMs * backoffMultiplier ** reopens)
    if (jitter === 0) return full
    return Math.round(full * (1 - jitter * this.random()))
  }

  private open(peerKey: string, circuit: Circuit, reason: string): void {
    const backoffMs = this.backoffMs(circuit.reopens)
    circuit.openUntil = this.now() + backoffMs
    circuit.openReason = reason
    this.transition(peerKey, circuit, 'open', reason, backoffMs)
  }

  private record(circuit: Circuit, failed: boolean, now: number): void {
    const slotMs = this.opts.windowMs / WINDOW_SLOTS
    const slot = Math.floor(now / slotMs)
    let last = circuit.window.at(-1)
    if (last === undefined || last.slot !== slot) {
      last = { slot, calls: 0, failures: 0 }
      circuit.window.push(last)
    }
    last.calls++
    if (failed) last.failures++
    this.expire(circuit, now)
  }

  private expire(circuit: Circuit, now: number): void {
    const slot = Math.floor(now / (this.opts.windowMs / WINDOW_SLOTS))
    while (circuit.window.length > 0 && (circuit.window[0] as WindowBucket).slot <= slot - WINDOW_SLOTS) {
      circuit.window.shift()
    }
  }

  private windowTotals(circuit: Circuit, now: number): { calls: number; failures: number } {
    this.expire(circuit, now)
    let calls = 0
    let failures = 0
    for (const b of circuit.window) {
      calls += b.calls
      failures += b.failures
    }
    return { calls, failures }
  }

  private onSuccess(peerKey: string, circuit: Circuit, epoch: number, trial: boolean): void {
    if (circuit.epoch !== epoch) return // the circuit moved on while this call ran
    if (trial) {
      circuit.reopens = 0
      circuit.consecutiveFailures = 0
      circuit.window = []
      this.transition(peerKey, circuit, 'closed', 'trial call succeeded')
      return
    }
    circuit.consecutiveFailures = 0
    this.record(circuit, false, this.now())
  }

  private onFailure(peerKey: string, circuit: Circuit, epoch: number, trial: boolean): void {
    if (circuit.epoch !== epoch) return
    circuit.consecutiveFailures++
    if (trial) {
      circuit.reopens++
      this.open(peerKey, circuit, 'trial call failed')
      return
    }
    const now = this.now()
    this.record(circuit, true, now)
    if (circuit.consecutiveFailures >= this.opts.failureThreshold) {
      this.open(peerKey, circuit, `${circuit.consecutiveFailures} consecutive failures`)
      return
    }
    const { calls, failures } = this.windowTotals(circuit, now)
    if (calls >= this.opts.minimumCalls && failures / calls >= this.opts.failureRateThreshold) {
      this.open(
        peerKey,
        circuit,
        `failure ratio ${(failures / calls).toFixed(2)} ≥ ${this.opts.failureRateThreshold} over ${calls} calls`,
      )
    }
  }
}

/**
 * Factory for {@link CircuitBreakers}.
 *
 * @example
 * ```ts
 * const breakers = createCircuitBreakers({ jitter: 0, onStateChange: (c) => log(c) })
 * ```
 */
export function createCircuitBreakers(init: CircuitBreakerInit = {}): CircuitBreakers {
  return new CircuitBreakers(init)
}
