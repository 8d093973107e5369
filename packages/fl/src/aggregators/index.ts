/**
 * Robust aggregation behind one interface: {@link Aggregator} turns a list of updates (plus
 * optional weights) into one. Mean, coordinate-wise median, trimmed mean, Krum, Multi-Krum,
 * Bulyan, centered clipping and norm bounding. All are deterministic — same updates in the same
 * order → bit-identical output — so committee members cross-check each other with
 * {@link hashUpdate}.
 *
 * @example
 * ```ts
 * import { createAggregator, hashUpdate, trimmedMean } from '@vain/fl'
 * const a = trimmedMean({ beta: 0.2 }).aggregate(deltas)
 * const b = createAggregator({ name: 'trimmed-mean', params: { beta: 0.2 } }).aggregate(deltas)
 * hashUpdate(a) === hashUpdate(b) // true
 * ```
 * @module
 */
export {
  type CenteredClippingInit,
  centeredClipping,
  type NormBoundingInit,
  normBounding,
  type WorkerMomentum,
  type WorkerMomentumInit,
  workerMomentum,
} from './clipping.js'
export {
  AggregatorPreconditionError,
  BulyanPreconditionError,
  KrumPreconditionError,
  NoUpdatesError,
} from './errors.js'
export { hashUpdate } from './hash.js'
export { type BulyanInit, bulyan, type KrumInit, krum, type MultiKrumInit, multiKrum } from './krum.js'
export { mean } from './mean.js'
export { median, type TrimmedMeanInit, trimmedMean } from './median.js'
export { AGGREGATOR_NAMES, type AggregatorName, type AggregatorSpec, createAggregator } from './spec.js'
export type { AggregateOptions, Aggregator } from './types.js'
