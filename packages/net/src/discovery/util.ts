/**
 * Small helpers shared by the discovery services: exponential backoff with jitter (cockatiel's
 * `ExponentialBackoff` with our generator), a set of
 * timers that `stop()` clears in one call, a bounded task runner, and zod-based init validation
 * that throws {@link ConfigError}.
 * @module
 */
import { ExponentialBackoff, type GeneratorFn, type IExponentialBackoffOptions } from 'cockatiel'
import { z } from 'zod'
import { ConfigError } from '../errors.js'

/** Exponential backoff settings. */
export interface BackoffInit {
  /** Delay before the first retry, in ms. */
  initialMs: number
  /** Upper bound of any delay, in ms. */
  maxMs: number
  /** Multiplier applied per failed attempt (>= 1). */
  factor: number
  /** Random spread applied to each delay as a fraction of it (0..1). Default 0.2. */
  jitter?: number
}

/** zod schema of {@link BackoffInit} (all fields optional, checked for sane values). */
export const BackoffSchema = z
  .object({
    initialMs: z.number().int().positive().optional(),
    maxMs: z.number().int().positive().optional(),
    factor: z.number().min(1).max(100).optional(),
    jitter: z.number().min(0).max(1).optional(),
  })
  .strict()
  .refine((b) => b.initialMs === undefined || b.maxMs === undefined || b.maxMs >= b.initialMs, {
    message: 'maxMs must be >= initialMs',
  })

/**
 * cockatiel delay generator of a {@link BackoffInit}: `min(maxDelay, initialDelay · exponent^n)`
 * for the n-th delay (n from 0), spread by ±`jitter` and clamped to `[0, maxDelay]`. cockatiel's
 * own generators fix the exponent at 2 and jitter downwards only; ours keeps `factor` and a
 * symmetric spread.
 */
export function jitteredExponentialGenerator(jitter: number, random: () => number = Math.random): GeneratorFn<number> {
  return (attempt = 0, options) => {
    const base = Math.min(options.maxDelay, options.initialDelay * options.exponent ** attempt)
    const spread = base * jitter * (2 * random() - 1)
    return [Math.round(Math.min(options.maxDelay, Math.max(0, base + spread))), attempt + 1]
  }
}

function backoffOptions(backoff: BackoffInit, random: () => number): IExponentialBackoffOptions<number> {
  return {
    initialDelay: backoff.initialMs,
    maxDelay: backoff.maxMs,
    exponent: backoff.factor,
    generator: jitteredExponentialGenerator(backoff.jitter ?? 0.2, random),
  }
}

/**
 * The cockatiel backoff of a {@link BackoffInit}, for `retry(…, { backoff })` or, where the
 * retries are timers rather than one awaited loop (redials that must not hold a dial slot while
 * they wait, and that `stop()` cancels), stepped by hand: `b = (b ?? factory).next(undefined)`
 * after each failure, then wait `b.duration`; forget `b` after a success.
 *
 * @example
 * ```ts
 * const factory = exponentialBackoff({ initialMs: 1_000, maxMs: 60_000, factor: 2 })
 * let b = factory.next(undefined) // b.duration ≈ 1 000 ms ± 20 %
 * b = b.next(undefined) // ≈ 2 000 ms ± 20 %
 * ```
 */
export function exponentialBackoff(
  backoff: BackoffInit,
  random: () => number = Math.random,
): ExponentialBackoff<number> {
  return new ExponentialBackoff(backoffOptions(backoff, random))
}

/**
 * Delay before retry number `attempt` (0 = first retry) of {@link exponentialBackoff}:
 * `min(maxMs, initialMs * factor^attempt)` spread by ±`jitter`, clamped to `[0, maxMs]`.
 *
 * @example
 * ```ts
 * backoffDelay(3, { initialMs: 100, maxMs: 5_000, factor: 2 }) // ~800 ms ± 20 %
 * ```
 */
export function backoffDelay(attempt: number, backoff: BackoffInit, random: () => number = Math.random): number {
  const options = backoffOptions(backoff, random)
  return options.generator(Math.max(0, Math.floor(attempt)), options)[0]
}

/** `ms` spread by ±`fraction` (never negative). */
export function withJitter(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.max(0, Math.round(ms * (1 + fraction * (2 * random() - 1))))
}

/** Timeouts owned by one service; `clearAll()` in `stop()` releases every one of them. */
export class Timers {
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()

  /** Run `fn` after `ms`; returns a handle for {@link Timers.clear}. */
  set(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      fn()
    }, ms)
    // background work must never keep the process alive on its own
    timer.unref?.()
    this.#timers.add(timer)
    return timer
  }

  clear(timer: ReturnType<typeof setTimeout> | undefined): void {
    if (timer === undefined) return
    clearTimeout(timer)
    this.#timers.delete(timer)
  }

  clearAll(): void {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }

  get size(): number {
    return this.#timers.size
  }
}

/** Runs queued async tasks, at most `concurrency` at a time. `clear()` drops queued ones. */
export class BoundedRunner {
  readonly #queue: Array<() => Promise<void>> = []
  #running = 0
  readonly #concurrency: number

  constructor(concurrency: number) {
    this.#concurrency = Math.max(1, concurrency)
  }

  push(task: () => Promise<void>): void {
    this.#queue.push(task)
    this.#pump()
  }

  clear(): void {
    this.#queue.length = 0
  }

  /** Tasks running plus tasks queued. */
  get pending(): number {
    return this.#running + this.#queue.length
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const task = this.#queue.shift() as () => Promise<void>
      this.#running++
      void task()
        .catch(() => {})
        .finally(() => {
          this.#running--
          this.#pump()
        })
    }
  }
}

/**
 * Validate a service's init object with zod; on failure throw a {@link ConfigError} listing
 * every issue.
 */
export function parseInit<S extends z.ZodType>(schema: S, init: unknown, what: string): z.output<S> {
  const result = schema.safeParse(init)
  if (!result.success) {
    throw new ConfigError(
      `invalid ${what} options`,
      result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`),
    )
  }
  return result.data
}

/** Fisher–Yates shuffle of a copy of `items`. */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

/** An `AbortSignal` that fires after `ms` or when any of `signals` fires. */
export function timeoutSignal(ms: number, ...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any([AbortSignal.timeout(ms), ...signals.filter((s) => s !== undefined)])
}
