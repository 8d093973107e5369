/** FedAvg, FedProx, FedAvgM and Reptile. @module */
import { checkNumber } from '../aggregators/validate.js'
import { ConfigError } from '../errors.js'
import { applyStep, type CombineOptions, combineUpdates, loadState, StateBuffer, saveState } from './combine.js'
import type { Strategy } from './types.js'

/** Options of {@link fedAvg}. */
export interface FedAvgInit extends CombineOptions {
  /** Server learning rate η: `global ← global + η·Δ` (default 1, plain FedAvg). */
  serverLr?: number
}

function stateless(name: string, proximalMu: number, init: FedAvgInit, lr: (round: number) => number): Strategy {
  let round = 0
  return {
    name,
    proximalMu,
    aggregate(global, updates) {
      const delta = combineUpdates(global, updates, init)
      const out = applyStep(global, delta, lr(round))
      round++
      return out
    },
    getState: () => saveState(name, round, []),
    setState(state) {
      round = loadState(name, state, [])
    },
    reset() {
      round = 0
    },
  }
}

/**
 * FedAvg (McMahan et al. 2017): the new global model is the sample-weighted mean of the client
 * models, i.e. `global + η·Σ (n_i/n)·Δ_i` with η = 1. Give an `aggregator` to replace the
 * weighted mean by a robust one (the deltas are then passed with their weights).
 *
 * @example
 * ```ts
 * import { fedAvg, trimmedMean } from '@vain/fl'
 * const plain = fedAvg()
 * const robust = fedAvg({ aggregator: trimmedMean({ beta: 0.1 }) })
 * const next = plain.aggregate(global, [{ params: a, numSamples: 100 }, { params: b, numSamples: 300 }])
 * ```
 */
export function fedAvg(init: FedAvgInit = {}): Strategy {
  const lr = checkNumber('fedAvg serverLr', init.serverLr ?? 1, 0, Number.MAX_VALUE, true)
  return stateless('fedavg', 0, init, () => lr)
}

/** Options of {@link fedProx}. */
export interface FedProxInit extends FedAvgInit {
  /** Proximal coefficient μ (Li et al. 2020, typically 0.001–1). */
  mu: number
}

/**
 * FedProx (Li et al. 2020). **On the server it is FedAvg**; what differs happens on the
 * clients: each minimizes `F_k(w) + (μ/2)·‖w − w_global‖²`. The strategy carries `μ` as
 * `proximalMu` so the round protocol passes it to local training (`proxMu` of the trainer,
 * which builds the proximal term into its ONNX train step).
 *
 * @example
 * ```ts
 * import { fedProx } from '@vain/fl'
 * const strategy = fedProx({ mu: 0.01 })
 * await trainer.train(model, data, { ...opts, proxMu: strategy.proximalMu, globalParams: model.params })
 * ```
 */
export function fedProx(init: FedProxInit): Strategy {
  const mu = checkNumber('fedProx mu', init.mu, 0, Number.MAX_VALUE)
  const lr = checkNumber('fedProx serverLr', init.serverLr ?? 1, 0, Number.MAX_VALUE, true)
  return stateless('fedprox', mu, init, () => lr)
}

/** Options of {@link fedAvgM}. */
export interface FedAvgMInit extends CombineOptions {
  /** Server learning rate η (default 1). */
  serverLr?: number
  /** Server momentum β in [0, 1) (default 0.9). */
  momentum?: number
}

/**
 * FedAvgM (Hsu et al. 2019): FedAvg with server momentum, `v ← β·v + Δ`, `global ← global + η·v`.
 * Helps under non-IID data. State: the float64 velocity `v`.
 *
 * @example
 * ```ts
 * import { fedAvgM } from '@vain/fl'
 * const strategy = fedAvgM({ serverLr: 1, momentum: 0.9 })
 * ```
 */
export function fedAvgM(init: FedAvgMInit = {}): Strategy {
  const lr = checkNumber('fedAvgM serverLr', init.serverLr ?? 1, 0, Number.MAX_VALUE, true)
  const beta = checkNumber('fedAvgM momentum', init.momentum ?? 0.9, 0, 1)
  if (beta >= 1) throw new ConfigError(`fedAvgM momentum must be < 1, got ${beta}`)
  const velocity = new StateBuffer('velocity')
  let round = 0
  return {
    name: 'fedavgm',
    proximalMu: 0,
    aggregate(global, updates) {
      const delta = combineUpdates(global, updates, init)
      const v = velocity.get(global.length)
      for (let j = 0; j < v.length; j++) v[j] = beta * v[j]! + delta[j]!
      round++
      return applyStep(global, v, lr)
    },
    getState: () => saveState('fedavgm', round, [velocity]),
    setState(state) {
      round = loadState('fedavgm', state, [velocity])
    },
    reset() {
      round = 0
      velocity.value = undefined
    },
  }
}

/** Options of {@link reptile}. */
export interface ReptileInit extends CombineOptions {
  /**
   * Outer step size ε, or a schedule of the round (0-based), e.g. linear annealing
   * `(r) => 1 - r / rounds`. Default 0.5.
   */
  epsilon?: number | ((round: number) => number)
}

/**
 * Reptile (Nichol, Achiam & Schulman 2018) as a federated meta-learning strategy: each client
 * fine-tunes the global model on its own task for a few steps; the server moves towards the
 * fine-tuned models, `global ← global + ε·mean(client − global)`. Unweighted by default
 * (`weighting: 'uniform'`: every client is one task). The result is an initialization that
 * adapts fast to each client — personalize it afterwards with a few local steps.
 *
 * @example
 * ```ts
 * import { reptile } from '@vain/fl'
 * const rounds = 50
 * const strategy = reptile({ epsilon: (r) => 1 - r / rounds })
 * ```
 */
export function reptile(init: ReptileInit = {}): Strategy {
  const eps = init.epsilon ?? 0.5
  if (typeof eps === 'number') checkNumber('reptile epsilon', eps, 0, Number.MAX_VALUE, true)
  const options: CombineOptions = { ...init, weighting: init.weighting ?? 'uniform' }
  return stateless('reptile', 0, options, (round) => {
    const e = typeof eps === 'number' ? eps : eps(round)
    if (!(Number.isFinite(e) && e >= 0))
      throw new ConfigError(`reptile epsilon(${round}) must be a finite number >= 0, got ${e}`)
    return e
  })
}
