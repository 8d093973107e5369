/** FedBuff: buffered asynchronous aggregation with staleness weighting. @module */
import { checkInt, checkNumber } from '../aggregators/validate.js'
import { InvalidUpdateError } from '../errors.js'
import { applyStep, checkUpdate, loadState, StateBuffer, saveState } from './combine.js'
import { StrategyStateError } from './errors.js'
import { polynomialStaleness } from './staleness.js'
import type { StalenessFunction, Strategy } from './types.js'

/** Options of {@link fedBuff}. */
export interface FedBuffInit {
  /** Updates K buffered before each server step (default 10). */
  bufferSize?: number
  /** Server learning rate η (default 1). */
  serverLr?: number
  /** Staleness weighting s(τ) (default `1/√(1 + τ)`). */
  staleness?: StalenessFunction
}

/**
 * FedBuff (Nguyen et al. 2022, "Federated Learning with Buffered Asynchronous Aggregation"):
 * clients train on whatever model version they have and send deltas whenever they finish; the
 * server adds `s(τ)·Δ_i` to a running sum and, each time K deltas are pending, steps
 * `global ← global + η·(Σ s(τ_i)·Δ_i)/K` and empties the buffer. `aggregate` accepts any number
 * of updates (in arrival order) and returns the global model after the steps they triggered
 * (a copy of `global` when none). Only deltas are accepted: parameters of a client that started
 * from an older version cannot be turned into a delta against the current one. The buffer is a
 * float64 running sum (no copies of the updates are kept) and part of `getState()`.
 *
 * @example
 * ```ts
 * import { fedBuff } from '@vain/fl'
 * const strategy = fedBuff({ bufferSize: 3 })
 * global = strategy.aggregate(global, [{ delta, numSamples: 50, staleness: currentVersion - clientVersion }])
 * ```
 */
export function fedBuff(init: FedBuffInit = {}): Strategy & { readonly pending: number } {
  const K = checkInt('fedBuff bufferSize', init.bufferSize ?? 10, 1)
  const lr = checkNumber('fedBuff serverLr', init.serverLr ?? 1, 0, Number.MAX_VALUE, true)
  const s = init.staleness ?? polynomialStaleness(0.5)
  const sum = new StateBuffer('sum')
  let pending = 0
  let round = 0
  return {
    name: 'fedbuff',
    proximalMu: 0,
    get pending() {
      return pending
    },
    aggregate(global, updates) {
      if (!(global instanceof Float32Array)) throw new InvalidUpdateError('global parameters must be a Float32Array')
      // validate everything before touching the buffer
      const weights = updates.map((u, i) => {
        checkUpdate(global, u, i)
        if (u.delta === undefined) throw new InvalidUpdateError(`update ${i}: fedBuff needs deltas, not params`)
        const w = s(u.staleness ?? 0)
        if (!(Number.isFinite(w) && w >= 0)) throw new InvalidUpdateError(`staleness weighting returned ${w}`)
        for (let j = 0; j < u.delta.length; j++) {
          const x = u.delta[j]!
          if (x - x !== 0) throw new InvalidUpdateError(`update ${i} has a non-finite value at index ${j}`)
        }
        return w
      })
      let current: Float32Array = global.slice()
      const d = global.length
      for (let i = 0; i < updates.length; i++) {
        const acc = sum.get(d)
        const w = weights[i]!
        const x = updates[i]!.delta!
        for (let j = 0; j < d; j++) acc[j] = acc[j]! + w * x[j]!
        pending++
        if (pending === K) {
          current = applyStep(current, acc, lr / K)
          acc.fill(0)
          pending = 0
          round++
        }
      }
      return current
    },
    getState: () => saveState('fedbuff', round, [sum], { pending }),
    setState(state) {
      const p = state?.scalars?.['pending'] ?? 0
      if (!(Number.isInteger(p) && p >= 0 && p < K)) throw new StrategyStateError(`invalid pending count ${p}`)
      round = loadState('fedbuff', state, [sum])
      pending = p
    },
    reset() {
      round = 0
      pending = 0
      sum.value = undefined
    },
  }
}
