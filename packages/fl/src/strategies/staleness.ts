/** Staleness weightings for asynchronous aggregation. @module */
import { ConfigError } from '../errors.js'
import type { StalenessFunction } from './types.js'

/**
 * Polynomial staleness weighting `s(τ) = (1 + τ)^(−a)`; `a = 0.5` gives FedBuff's
 * `1/√(1 + τ)` (Nguyen et al. 2022), `a = 0` ignores staleness.
 *
 * @example
 * ```ts
 * import { polynomialStaleness } from '@vain/fl'
 * const s = polynomialStaleness(0.5)
 * s(0) // 1
 * s(3) // 0.5
 * ```
 */
export function polynomialStaleness(a = 0.5): StalenessFunction {
  if (!(Number.isFinite(a) && a >= 0)) throw new ConfigError(`staleness exponent must be >= 0, got ${a}`)
  return (tau) => (1 + tau) ** -a
}
