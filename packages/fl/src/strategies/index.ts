/**
 * Server-side strategies behind one interface: a {@link Strategy} takes the current global
 * parameters and the clients' updates (deltas or full parameters, with sample counts and
 * optional staleness) and returns the new global parameters, keeping its own state (momentum,
 * second moments, FedBuff's buffer) between rounds. FedAvg, FedProx, FedAvgM, FedAdam, FedYogi,
 * FedAdagrad, FedBuff and Reptile; any synchronous one can combine deltas with a robust
 * aggregator instead of the weighted mean.
 *
 * @example
 * ```ts
 * import { fedAvgM, trimmedMean } from '@vain/fl'
 * const strategy = fedAvgM({ momentum: 0.9, aggregator: trimmedMean({ beta: 0.1 }) })
 * let global = model.params
 * for (const round of rounds) global = strategy.aggregate(global, round.updates)
 * ```
 * @module
 */
export { type AdaptiveInit, fedAdagrad, fedAdam, fedYogi } from './adaptive.js'
export type { CombineOptions, Weighting } from './combine.js'
export { StrategyStateError } from './errors.js'
export {
  type FedAvgInit,
  type FedAvgMInit,
  type FedProxInit,
  fedAvg,
  fedAvgM,
  fedProx,
  type ReptileInit,
  reptile,
} from './fedavg.js'
export { type FedBuffInit, fedBuff } from './fedbuff.js'
export {
  type CreateStrategyOptions,
  createStrategy,
  STRATEGY_NAMES,
  type StrategyName,
  type StrategySpec,
} from './spec.js'
export { polynomialStaleness } from './staleness.js'
export type {
  ClientUpdate,
  ClientUpdateBase,
  DeltaUpdate,
  ParamsUpdate,
  StalenessFunction,
  Strategy,
  StrategyState,
} from './types.js'
