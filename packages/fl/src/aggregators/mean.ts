/** Mean and weighted mean. @module */
import type { Aggregator } from './types.js'
import { checkShapes, normalizedWeights, toFloat32Checked } from './validate.js'

/**
 * Float64 weighted sum Σ w_i·u_i over the updates, in index order (internal; no checks).
 */
export function weightedSum(updates: readonly Float32Array[], w: ArrayLike<number>, length: number): Float64Array {
  const acc = new Float64Array(length)
  for (let i = 0; i < updates.length; i++) {
    const wi = w[i]!
    if (wi === 0) continue
    const u = updates[i]!
    for (let j = 0; j < length; j++) acc[j] = acc[j]! + wi * u[j]!
  }
  return acc
}

/**
 * The (weighted) mean: Σ w_i·u_i / Σ w_i, or the plain mean without weights. Not robust — one
 * Byzantine update can move it arbitrarily far — but the reference every other aggregator is
 * compared with, and what FedAvg uses. Accumulates in float64 in index order.
 *
 * @example
 * ```ts
 * import { mean } from '@vain/fl'
 * const avg = mean().aggregate([new Float32Array([1, 2]), new Float32Array([3, 4])])        // [2, 3]
 * const wavg = mean().aggregate([new Float32Array([0]), new Float32Array([4])], { weights: [3, 1] }) // [1]
 * ```
 */
export function mean(): Aggregator {
  return {
    name: 'mean',
    aggregate(updates, options = {}) {
      const d = checkShapes(updates)
      const w = normalizedWeights(updates.length, options.weights)
      return toFloat32Checked(weightedSum(updates, w, d), updates)
    },
    reset() {},
  }
}
