/**
 * Errors thrown by the robust aggregators. Malformed inputs (non-finite values) throw the
 * package-wide `InvalidUpdateError`, length mismatches `ShapeMismatchError`, bad options
 * `ConfigError` (all from `../errors.ts`); what is specific to robust aggregation lives here.
 *
 * @example
 * ```ts
 * import { AggregatorPreconditionError, krum } from '@vain/fl'
 * try { krum({ f: 2 }).aggregate(sixUpdates) } catch (err) {
 *   if (err instanceof AggregatorPreconditionError) console.warn(err.name, err.required) // KrumPreconditionError 7
 * }
 * ```
 * @module
 */
import { VainFlError, type VainFlErrorOptions } from '../errors.js'

/**
 * A Byzantine-robust aggregator was asked to tolerate `f` faulty updates out of `n`, but its
 * guarantee needs at least `required` updates (Krum: `2f + 3`, Bulyan: `4f + 3`).
 *
 * @example
 * ```ts
 * try { bulyan({ f: 3 }).aggregate(updates) } catch (err) {
 *   if (err instanceof AggregatorPreconditionError) console.warn(err.n, '<', err.required)
 * }
 * ```
 */
export class AggregatorPreconditionError extends VainFlError {
  static override name = 'AggregatorPreconditionError'
  override name = 'AggregatorPreconditionError'
  /** Number of updates given. */
  readonly n: number
  /** Number of Byzantine updates to tolerate. */
  readonly f: number
  /** Smallest `n` the aggregator accepts for this `f`. */
  readonly required: number
  constructor(aggregator: string, n: number, f: number, required: number, options: VainFlErrorOptions = {}) {
    super(`${aggregator} with f = ${f} needs at least ${required} updates, got ${n}`, options)
    this.n = n
    this.f = f
    this.required = required
  }
}

/** Krum / Multi-Krum needs `n >= 2f + 3` updates. */
export class KrumPreconditionError extends AggregatorPreconditionError {
  static override name = 'KrumPreconditionError'
  override name = 'KrumPreconditionError'
}

/** Bulyan needs `n >= 4f + 3` updates (El Mhamdi et al. 2018). */
export class BulyanPreconditionError extends AggregatorPreconditionError {
  static override name = 'BulyanPreconditionError'
  override name = 'BulyanPreconditionError'
}

/** `aggregate` was called with no updates at all. */
export class NoUpdatesError extends VainFlError {
  static override name = 'NoUpdatesError'
  override name = 'NoUpdatesError'
}
