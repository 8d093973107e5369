/** Norm bounding and centered clipping. @module */
import { ConfigError, ShapeMismatchError } from '../errors.js'
import type { Aggregator } from './types.js'
import { assertFinite, checkInt, checkNumber, checkShapes, normalizedWeights, toFloat32Checked } from './validate.js'

/** Float64 L2 norm of `u - center` (or of `u` when no center), summed in index order. */
export function l2Distance(u: Float32Array, center?: Float64Array): number {
  let s = 0
  if (center === undefined) {
    for (let j = 0; j < u.length; j++) s += u[j]! * u[j]!
  } else {
    for (let j = 0; j < u.length; j++) {
      const t = u[j]! - center[j]!
      s += t * t
    }
  }
  return Math.sqrt(s)
}

/** Options of {@link normBounding}. */
export interface NormBoundingInit {
  /** Largest L2 norm an update may have; longer ones are scaled down to it. */
  maxNorm: number
}

/**
 * Norm bounding (Sun et al. 2019, "Can you really backdoor federated learning?"): scales every
 * update whose L2 norm exceeds `maxNorm` down to `maxNorm`, then takes the (weighted) mean. Limits
 * how far any single client can move the model.
 *
 * @example
 * ```ts
 * import { normBounding } from '@vain/fl'
 * const out = normBounding({ maxNorm: 1 }).aggregate(deltas, { weights: sampleCounts })
 * ```
 */
export function normBounding(init: NormBoundingInit): Aggregator {
  const maxNorm = checkNumber('normBounding maxNorm', init.maxNorm, 0, Number.MAX_VALUE, true)
  return {
    name: 'norm-bounding',
    aggregate(updates, options = {}) {
      const d = checkShapes(updates)
      assertFinite(updates)
      const w = normalizedWeights(updates.length, options.weights)
      const acc = new Float64Array(d)
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i]!
        const norm = l2Distance(u)
        const c = w[i]! * (norm > maxNorm ? maxNorm / norm : 1)
        if (c === 0) continue
        for (let j = 0; j < d; j++) acc[j] = acc[j]! + c * u[j]!
      }
      return toFloat32Checked(acc, updates)
    },
    reset() {},
  }
}

/** Options of {@link centeredClipping}. */
export interface CenteredClippingInit {
  /** Clipping radius τ around the current center. */
  tau: number
  /** Clipping iterations `l` per call (default 1, as in the paper's experiments). */
  iterations?: number
  /** Center of the first call (default: zeros); later calls start from the previous output. */
  initialCenter?: Float32Array
}

/**
 * Centered clipping (Karimireddy, He & Jaggi 2021, "Learning from History for Byzantine Robust
 * Optimization"): starting from the previous round's aggregate `v` (the history), repeat
 * `iterations` times `v ← v + Σ w_i · (x_i − v) · min(1, τ / ‖x_i − v‖)`, then remember `v` for
 * the next call. Robust when clients send **momentum** vectors (worker momentum, their
 * Algorithm 2) so honest inputs vary little between rounds — see {@link workerMomentum}.
 * Stateful: call `reset()` to forget the history (e.g. when a new job starts).
 *
 * @example
 * ```ts
 * import { centeredClipping, workerMomentum } from '@vain/fl'
 * const agg = centeredClipping({ tau: 10, iterations: 1 })
 * const momentum = workerMomentum({ beta: 0.9 }) // on each client
 * const v = agg.aggregate(clientMomenta)
 * ```
 */
export function centeredClipping(init: CenteredClippingInit): Aggregator {
  const tau = checkNumber('centeredClipping tau', init.tau, 0, Number.MAX_VALUE, true)
  const iterations = checkInt('centeredClipping iterations', init.iterations ?? 1, 1, 1000)
  const initial = init.initialCenter
  let center: Float64Array | undefined
  return {
    name: 'centered-clipping',
    aggregate(updates, options = {}) {
      const d = checkShapes(updates)
      assertFinite(updates)
      const w = normalizedWeights(updates.length, options.weights)
      if (center === undefined) {
        if (initial !== undefined && initial.length !== d)
          throw new ShapeMismatchError('initialCenter', [d], [initial.length])
        center = initial === undefined ? new Float64Array(d) : Float64Array.from(initial)
      } else if (center.length !== d) {
        throw new ShapeMismatchError('update (centered clipping keeps the previous length)', [center.length], [d])
      }
      const v = center
      const step = new Float64Array(d)
      for (let it = 0; it < iterations; it++) {
        step.fill(0)
        for (let i = 0; i < updates.length; i++) {
          const u = updates[i]!
          const dist = l2Distance(u, v)
          const c = w[i]! * (dist > tau ? tau / dist : 1)
          if (c === 0) continue
          for (let j = 0; j < d; j++) step[j] = step[j]! + c * (u[j]! - v[j]!)
        }
        for (let j = 0; j < d; j++) v[j] = v[j]! + step[j]!
      }
      return Float32Array.from(v)
    },
    reset() {
      center = undefined
    },
  }
}

/** Options of {@link workerMomentum}. */
export interface WorkerMomentumInit {
  /** Momentum β in [0, 1): m ← (1 − β)·g + β·m. */
  beta: number
}

/** A client-side momentum buffer (see {@link workerMomentum}). */
export interface WorkerMomentum {
  /** Folds `update` into the momentum and returns the new momentum (a copy). */
  push(update: Float32Array): Float32Array
  reset(): void
}

/**
 * Client-side (worker) momentum `m ← (1 − β)·g + β·m`, which Karimireddy et al. show is what
 * makes centered clipping robust: clients send `m` instead of their raw update `g`.
 *
 * @example
 * ```ts
 * import { workerMomentum } from '@vain/fl'
 * const m = workerMomentum({ beta: 0.9 })
 * const toSend = m.push(delta)
 * ```
 */
export function workerMomentum(init: WorkerMomentumInit): WorkerMomentum {
  const beta = checkNumber('workerMomentum beta', init.beta, 0, 1)
  if (beta >= 1) throw new ConfigError(`workerMomentum beta must be < 1, got ${beta}`)
  let m: Float32Array | undefined
  return {
    push(update) {
      if (m === undefined) m = new Float32Array(update.length)
      else if (m.length !== update.length) throw new ShapeMismatchError('update', [m.length], [update.length])
      for (let j = 0; j < m.length; j++) m[j] = (1 - beta) * update[j]! + beta * m[j]!
      return m.slice()
    },
    reset() {
      m = undefined
    },
  }
}
