/**
 * Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019,
 * "Rényi Differential Privacy of the Sampled Gaussian Mechanism"), the computation used by
 * TensorFlow Privacy / `dp_accounting` and Opacus: integer orders by the binomial expansion of
 * A_α, fractional orders by the two-sided erfc series, both in log space; conversion to
 * (ε, δ) with the improved bound of Balle et al. 2020 / Canonne et al. 2020
 * (`ε = rdp + log1p(−1/α) − log(δ·α)/(α − 1)`), as `dp_accounting` does.
 * @module
 */
import { ConfigError } from '../errors.js'
import { logAdd, logErfc, logSub } from './special.js'

/**
 * The RDP orders TF Privacy's `compute_dp_sgd_privacy` uses:
 * 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, 5 … 63, 128, 256, 512.
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  1.25,
  1.5,
  1.75,
  2,
  2.25,
  2.5,
  3,
  3.5,
  4,
  4.5,
  ...Array.from({ length: 59 }, (_, i) => i + 5),
  128,
  256,
  512,
])

function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = Number.NEGATIVE_INFINITY
  let logBinom = 0 // log C(alpha, i), built incrementally
  const lq = Math.log(q)
  const l1q = Math.log1p(-q)
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i)
    const s = logBinom + i * lq + (alpha - i) * l1q + (i * i - i) / (2 * sigma * sigma)
    logA = logAdd(logA, s)
  }
  return logA
}

function safeLogSub(a: number, b: number): number {
  // rounding can make a term exceed the partial sum by an ulp; the true difference is ~0 then
  return a < b ? Number.NEGATIVE_INFINITY : logSub(a, b)
}

function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = Number.NEGATIVE_INFINITY
  let logA1 = Number.NEGATIVE_INFINITY
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5
  const lq = Math.log(q)
  const l1q = Math.log1p(-q)
  let logAbsCoef = 0 // log |binom(alpha, i)|
  let coefSign = 1
  for (let i = 0; i < 100_000; i++) {
    if (i > 0) {
      const f = alpha - i + 1
      logAbsCoef += Math.log(Math.abs(f)) - Math.log(i)
      if (f < 0) coefSign = -coefSign
    }
    const j = alpha - i
    const logT0 = logAbsCoef + i * lq + j * l1q
    const logT1 = logAbsCoef + j * lq + i * l1q
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma))
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma))
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1
    if (coefSign > 0) {
      logA0 = logAdd(logA0, logS0)
      logA1 = logAdd(logA1, logS1)
    } else {
      logA0 = safeLogSub(logA0, logS0)
      logA1 = safeLogSub(logA1, logS1)
    }
    if (Math.max(logS0, logS1) < -30) break
  }
  return logAdd(logA0, logA1)
}

/** RDP of one step of the sampled Gaussian mechanism at order `alpha`. */
function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (sigma === 0 || alpha === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY
  if (q === 0) return 0
  if (q === 1) return alpha / (2 * sigma * sigma)
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha)
  return logA / (alpha - 1)
}

/** Parameters of a sampled Gaussian mechanism run for some steps. */
export interface SampledGaussianParams {
  /** Probability q that a client (or example) takes part in a step (Poisson sampling), in [0, 1]. */
  samplingRate: number
  /** Noise standard deviation divided by the L2 sensitivity (clip norm), >= 0. */
  noiseMultiplier: number
  /** Number of steps (rounds), >= 0. */
  steps: number
}

function checkParams(p: SampledGaussianParams): void {
  const { samplingRate: q, noiseMultiplier: z, steps } = p
  if (!(q >= 0 && q <= 1)) throw new ConfigError(`samplingRate must be in [0, 1], got ${q}`)
  if (!(z >= 0 && Number.isFinite(z))) throw new ConfigError(`noiseMultiplier must be a finite number >= 0, got ${z}`)
  if (!(steps >= 0 && Number.isFinite(steps))) throw new ConfigError(`steps must be a finite number >= 0, got ${steps}`)
}

function checkOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new ConfigError('at least one RDP order is needed')
  for (const a of orders) if (!(a > 1)) throw new ConfigError(`RDP orders must be > 1, got ${a}`)
}

/**
 * RDP ε(α) at each order of `steps` compositions of the sampled Gaussian mechanism (TF
 * Privacy's `compute_rdp`).
 *
 * @example
 * ```ts
 * import { computeRdp } from '@vain/fl'
 * computeRdp({ samplingRate: 0.1, noiseMultiplier: 2, steps: 10 }, [5])[0] // ≈ 0.07737
 * ```
 */
export function computeRdp(
  params: SampledGaussianParams,
  orders: readonly number[] = DEFAULT_RDP_ORDERS,
): Float64Array {
  checkParams(params)
  checkOrders(orders)
  const out = new Float64Array(orders.length)
  for (let k = 0; k < orders.length; k++) {
    const r = rdpOneStep(params.samplingRate, params.noiseMultiplier, orders[k]!)
    out[k] = params.steps === 0 ? 0 : r * params.steps
  }
  return out
}

/** An (ε, δ) guarantee and the RDP order that gave it. */
export interface PrivacySpent {
  epsilon: number
  delta: number
  /** The order α at which the bound was tightest. */
  order: number
}

/**
 * Converts RDP values to ε for a given δ: the minimum over orders of
 * `rdp + log1p(−1/α) − log(δ·α)/(α − 1)` (Balle et al. 2020, Prop. 12; as `dp_accounting`), or 0
 * where the KL bound already gives δ. Orders ≤ 1.01 are skipped (numerically unstable).
 *
 * @example
 * ```ts
 * import { computeRdp, DEFAULT_RDP_ORDERS, rdpToEpsilon } from '@vain/fl'
 * const rdp = computeRdp({ samplingRate: 0.01, noiseMultiplier: 1.1, steps: 10_000 })
 * rdpToEpsilon(DEFAULT_RDP_ORDERS, rdp, 1e-5).epsilon
 * ```
 */
export function rdpToEpsilon(orders: readonly number[], rdp: ArrayLike<number>, delta: number): PrivacySpent {
  if (orders.length !== rdp.length) throw new ConfigError('orders and rdp must have the same length')
  if (!(delta > 0 && delta < 1)) throw new ConfigError(`delta must be in (0, 1), got ${delta}`)
  let best = Number.POSITIVE_INFINITY
  let bestOrder = orders[0]!
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!
    const r = rdp[k]!
    if (!(r >= 0)) throw new ConfigError(`RDP values must be >= 0, got ${r}`)
    let eps: number
    if (delta * delta + Math.expm1(-r) > 0) eps = 0
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1)
    else eps = Number.POSITIVE_INFINITY
    if (eps < best) {
      best = eps
      bestOrder = a
    }
  }
  return { epsilon: Math.max(0, best), delta, order: bestOrder }
}

/**
 * Converts RDP values to δ for a given ε (improved bound of Balle et al. 2020, as `dp_accounting`).
 *
 * @example
 * ```ts
 * import { computeRdp, DEFAULT_RDP_ORDERS, rdpToDelta } from '@vain/fl'
 * rdpToDelta(DEFAULT_RDP_ORDERS, computeRdp({ samplingRate: 0.01, noiseMultiplier: 1, steps: 1000 }), 2).delta
 * ```
 */
export function rdpToDelta(orders: readonly number[], rdp: ArrayLike<number>, epsilon: number): PrivacySpent {
  if (orders.length !== rdp.length) throw new ConfigError('orders and rdp must have the same length')
  if (!(epsilon >= 0)) throw new ConfigError(`epsilon must be >= 0, got ${epsilon}`)
  let best = Number.POSITIVE_INFINITY
  let bestOrder = orders[0]!
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!
    const r = rdp[k]!
    let logDelta = r === 0 ? Number.NEGATIVE_INFINITY : 0.5 * Math.log1p(-Math.exp(-r))
    if (a > 1.01) logDelta = Math.min(logDelta, (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a))
    if (logDelta < best) {
      best = logDelta
      bestOrder = a
    }
  }
  return { epsilon, delta: Math.min(Math.exp(best), 1), order: bestOrder }
}

/**
 * ε at `delta` after `steps` rounds of the sampled Gaussian mechanism — for DP-FedAvg, `q` is
 * the fraction of clients sampled per round, the noise multiplier is σ/C, steps the rounds.
 *
 * @example
 * ```ts
 * import { computeEpsilon } from '@vain/fl'
 * // TF Privacy's MNIST example: 60,000 examples, batch 150, σ = 1.3, 15 epochs
 * computeEpsilon({ samplingRate: 150 / 60000, noiseMultiplier: 1.3, steps: 6000 }, 1e-5).epsilon // ≈ 0.724
 * ```
 */
export function computeEpsilon(
  params: SampledGaussianParams,
  delta: number,
  orders: readonly number[] = DEFAULT_RDP_ORDERS,
): PrivacySpent {
  return rdpToEpsilon(orders, computeRdp(params, orders), delta)
}

/** A running RDP ledger (see {@link createRdpAccountant}). */
export interface RdpAccountant {
  /** The orders it tracks. */
  readonly orders: readonly number[]
  /** Total RDP at each order so far (a copy). */
  readonly rdp: Float64Array
  /** Adds `steps` steps of a sampled Gaussian mechanism (parameters may change between calls). */
  compose(params: SampledGaussianParams): void
  /** ε spent so far at `delta`. */
  getEpsilon(delta: number): PrivacySpent
  /** δ spent so far at `epsilon`. */
  getDelta(epsilon: number): PrivacySpent
}

/**
 * A running RDP accountant: compose rounds as they happen (heterogeneous noise or sampling
 * rates add up order by order) and ask for ε at any time.
 *
 * @example
 * ```ts
 * import { createRdpAccountant } from '@vain/fl'
 * const accountant = createRdpAccountant()
 * for (let round = 0; round < 100; round++) accountant.compose({ samplingRate: 0.1, noiseMultiplier: 1.0, steps: 1 })
 * console.log(accountant.getEpsilon(1e-5).epsilon)
 * ```
 */
export function createRdpAccountant(orders: readonly number[] = DEFAULT_RDP_ORDERS): RdpAccountant {
  checkOrders(orders)
  const own = Object.freeze([...orders])
  const total = new Float64Array(own.length)
  return {
    orders: own,
    get rdp() {
      return total.slice()
    },
    compose(params) {
      const r = computeRdp(params, own)
      for (let k = 0; k < total.length; k++) total[k] = total[k]! + r[k]!
    },
    getEpsilon: (delta) => rdpToEpsilon(own, total, delta),
    getDelta: (epsilon) => rdpToDelta(own, total, epsilon),
  }
}
