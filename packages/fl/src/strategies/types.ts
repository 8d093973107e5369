/** The one interface every server strategy implements. @module */

/** Fields every client update carries. */
export interface ClientUpdateBase {
  /** Local examples the client trained on (its FedAvg weight); >= 0. */
  numSamples: number
  /**
   * Rounds (or server versions) between the model the client started from and the current one;
   * 0 or absent for a fresh update. Used by FedBuff and by any strategy given a `staleness`
   * weighting.
   */
  staleness?: number
}

/** An update given as the change `client − global` (what codecs transmit). */
export interface DeltaUpdate extends ClientUpdateBase {
  delta: Float32Array
  params?: undefined
}

/** An update given as the client's full parameters; the strategy subtracts the global model. */
export interface ParamsUpdate extends ClientUpdateBase {
  params: Float32Array
  delta?: undefined
}

/** One client's contribution to a round: a delta or full parameters, with its sample count. */
export type ClientUpdate = DeltaUpdate | ParamsUpdate

/** A staleness weighting `s(τ)`, e.g. {@link polynomialStaleness}. */
export type StalenessFunction = (staleness: number) => number

/**
 * Server-side state of a strategy (momentum and second-moment buffers, FedBuff's pending sum),
 * as plain data so a restarted node can resume a job. Buffers are float64.
 */
export interface StrategyState {
  /** The `name` of the strategy that saved it. */
  readonly strategy: string
  /** Server steps taken so far. */
  readonly round: number
  /** Named float64 buffers (copies). */
  readonly buffers: Readonly<Record<string, Float64Array>>
  /** Named numbers (e.g. FedBuff's pending count). */
  readonly scalars: Readonly<Record<string, number>>
}

/**
 * A server-side federated optimization strategy: takes the current global parameters and a
 * list of client updates and returns the new global parameters (a new array), keeping whatever
 * state it needs between rounds. Deterministic for the same inputs in the same order.
 *
 * @example
 * ```ts
 * import { fedAdam } from '@vain/fl'
 * const strategy = fedAdam({ eta: 0.01 })
 * let global = model.params
 * global = strategy.aggregate(global, [
 *   { delta: deltaA, numSamples: 120 },
 *   { params: paramsB, numSamples: 80 },
 * ])
 * const saved = strategy.getState() // persist; later strategy.setState(saved)
 * ```
 */
export interface Strategy {
  /** Kebab-case name, as used by {@link createStrategy}: `'fedavg'`, `'fedadam'`... */
  readonly name: string
  /** Proximal coefficient μ clients should add to their local objective (FedProx); 0 otherwise. */
  readonly proximalMu: number
  /** One server step (FedBuff: buffers updates and steps each time `bufferSize` are pending). */
  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array
  /** A copy of the server state. */
  getState(): StrategyState
  /** Restores state saved by `getState()` of a strategy with the same name. */
  setState(state: StrategyState): void
  /** Forgets all state (round 0, empty buffers). */
  reset(): void
}
