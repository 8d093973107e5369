/**
 * The one interface every aggregator implements.
 * @module
 */

/** Options of one {@link Aggregator.aggregate} call. */
export interface AggregateOptions {
  /**
   * One non-negative weight per update (e.g. sample counts), not all zero. Used by `mean`,
   * `normBounding` and `centeredClipping`; order-statistic aggregators (`median`,
   * `trimmedMean`, `krum`, `multiKrum`, `bulyan`) give every update one vote and ignore it,
   * since a sample count is whatever a (possibly Byzantine) client claims.
   */
  weights?: readonly number[]
}

/**
 * Combines `n` updates of equal length into one.
 *
 * Contract: never modifies its inputs; returns a new array; rejects non-finite values with
 * `InvalidUpdateError` and length mismatches with `ShapeMismatchError`; **deterministic** — the
 * same updates in the same order give a bit-identical result on every platform (float64
 * accumulation, fixed iteration order, deterministic tie-breaking), so several aggregators
 * can cross-check a round by comparing {@link hashUpdate} of their outputs.
 *
 * @example
 * ```ts
 * import { trimmedMean, hashUpdate } from '@vain/fl'
 * const agg = trimmedMean({ beta: 0.1 })
 * const combined = agg.aggregate(deltas)
 * console.log(agg.name, hashUpdate(combined))
 * ```
 */
export interface Aggregator {
  /** Kebab-case name, as used by {@link createAggregator}: `'trimmed-mean'`, `'krum'`... */
  readonly name: string
  /** Aggregates `updates` (all the same length, at least one). */
  aggregate(updates: readonly Float32Array[], options?: AggregateOptions): Float32Array
  /** Clears state carried from one call to the next (centered clipping's center); a no-op for the others. */
  reset(): void
}
