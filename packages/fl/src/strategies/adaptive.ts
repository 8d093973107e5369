/** Adaptive server optimizers: FedAdagrad, FedAdam, FedYogi (Reddi et al. 2021). @module */
import { checkNumber } from '../aggregators/validate.js'
import { ConfigError } from '../errors.js'
import { applyStep, type CombineOptions, combineUpdates, loadState, StateBuffer, saveState } from './combine.js'
import type { Strategy } from './types.js'

/** Options of {@link fedAdam}, {@link fedYogi} and {@link fedAdagrad}. */
export interface AdaptiveInit extends CombineOptions {
  /** Server learning rate η (default 0.01). */
  eta?: number
  /** First-moment decay β₁ in [0, 1) (default 0.9). */
  beta1?: number
  /** Second-moment decay β₂ in [0, 1) (default 0.99; unused by FedAdagrad). */
  beta2?: number
  /** Adaptivity τ > 0: the denominator is `√v + τ`, and `v` starts at τ² (default 1e-3). */
  tau?: number
}

type Variant = 'fedadam' | 'fedyogi' | 'fedadagrad'

function adaptive(variant: Variant, init: AdaptiveInit): Strategy {
  const eta = checkNumber(`${variant} eta`, init.eta ?? 0.01, 0, Number.MAX_VALUE, true)
  const beta1 = checkNumber(`${variant} beta1`, init.beta1 ?? 0.9, 0, 1)
  const beta2 = checkNumber(`${variant} beta2`, init.beta2 ?? 0.99, 0, 1)
  const tau = checkNumber(`${variant} tau`, init.tau ?? 1e-3, 0, Number.MAX_VALUE, true)
  if (beta1 >= 1 || beta2 >= 1) throw new ConfigError(`${variant} beta1 and beta2 must be < 1`)
  const m = new StateBuffer('m')
  const v = new StateBuffer('v', tau * tau)
  let round = 0
  return {
    name: variant,
    proximalMu: 0,
    aggregate(global, updates) {
      const delta = combineUpdates(global, updates, init)
      const d = global.length
      const mt = m.get(d)
      const vt = v.get(d)
      const step = new Float64Array(d)
      for (let j = 0; j < d; j++) {
        const g = delta[j]!
        const g2 = g * g
        const mj = beta1 * mt[j]! + (1 - beta1) * g
        let vj = vt[j]!
        if (variant === 'fedadam') vj = beta2 * vj + (1 - beta2) * g2
        else if (variant === 'fedyogi') vj = vj - (1 - beta2) * g2 * Math.sign(vj - g2)
        else vj = vj + g2
        mt[j] = mj
        vt[j] = vj
        step[j] = mj / (Math.sqrt(vj) + tau)
      }
      round++
      return applyStep(global, step, eta)
    },
    getState: () => saveState(variant, round, [m, v]),
    setState(state) {
      round = loadState(variant, state, [m, v])
    },
    reset() {
      round = 0
      m.value = undefined
      v.value = undefined
    },
  }
}

/**
 * FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2): the combined
 * client delta Δ is a pseudo-gradient for a server-side Adam without bias correction:
 * `m ← β₁m + (1−β₁)Δ`, `v ← β₂v + (1−β₂)Δ²`, `global ← global + η·m/(√v + τ)`.
 *
 * @example
 * ```ts
 * import { fedAdam } from '@vain/fl'
 * const strategy = fedAdam({ eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 })
 * ```
 */
export function fedAdam(init: AdaptiveInit = {}): Strategy {
  return adaptive('fedadam', init)
}

/**
 * FedYogi (Reddi et al. 2021): like {@link fedAdam} but with Yogi's additive second-moment
 * update `v ← v − (1−β₂)·Δ²·sign(v − Δ²)`, which grows `v` more slowly.
 *
 * @example
 * ```ts
 * import { fedYogi } from '@vain/fl'
 * const strategy = fedYogi({ eta: 0.01, tau: 1e-3 })
 * ```
 */
export function fedYogi(init: AdaptiveInit = {}): Strategy {
  return adaptive('fedyogi', init)
}

/**
 * FedAdagrad (Reddi et al. 2021): `v ← v + Δ²` (β₂ unused), with the same first moment and
 * update as {@link fedAdam}.
 *
 * @example
 * ```ts
 * import { fedAdagrad } from '@vain/fl'
 * const strategy = fedAdagrad({ eta: 0.1, tau: 1e-2 })
 * ```
 */
export function fedAdagrad(init: AdaptiveInit = {}): Strategy {
  return adaptive('fedadagrad', init)
}
