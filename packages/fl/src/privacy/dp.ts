/** DP-FedAvg: client-level clipping and Gaussian noise. @module */
import { randomFillSync } from 'node:crypto'
import type { Aggregator } from '../aggregators/types.js'
import { assertFinite, checkNumber, checkShapes } from '../aggregators/validate.js'
import { ConfigError } from '../errors.js'
import { createRng } from '../random.js'

/** A source of standard normal draws. */
export interface NormalSource {
  normal(): number
}

/**
 * Standard normals from the operating system's CSPRNG (Box–Muller over 53-bit uniforms), for
 * noise nobody can predict or replay. (A seeded generator is for reproducible experiments only:
 * whoever knows the seed can subtract the noise.)
 *
 * @example
 * ```ts
 * import { cryptoNormalSource } from '@vain/fl'
 * const z = cryptoNormalSource().normal()
 * ```
 */
export function cryptoNormalSource(): NormalSource {
  const buf = new Uint32Array(1024)
  let pos = buf.length
  let spare: number | undefined
  const uniform = (): number => {
    if (pos + 2 > buf.length) {
      randomFillSync(buf)
      pos = 0
    }
    const hi = buf[pos++]! >>> 5
    const lo = buf[pos++]! >>> 6
    return (hi * 67108864 + lo) / 9007199254740992 // [0, 1) with 53 bits
  }
  return {
    normal() {
      if (spare !== undefined) {
        const s = spare
        spare = undefined
        return s
      }
      let u = uniform()
      while (u === 0) u = uniform()
      const v = uniform()
      const r = Math.sqrt(-2 * Math.log(u))
      spare = r * Math.sin(2 * Math.PI * v)
      return r * Math.cos(2 * Math.PI * v)
    },
  }
}

/** Result of {@link clipByL2Norm}. */
export interface ClipResult {
  /** The update scaled to L2 norm <= maxNorm (a new array). */
  clipped: Float32Array
  /** L2 norm of the original update. */
  norm: number
  /** The scale applied, `min(1, maxNorm / norm)`. */
  factor: number
}

/**
 * Scales `update` so its L2 norm is at most `maxNorm` (client-level clipping of DP-FedAvg; with
 * secure aggregation each client clips its own update before masking).
 *
 * @example
 * ```ts
 * import { clipByL2Norm } from '@vain/fl'
 * const { clipped, norm } = clipByL2Norm(delta, 1.0)
 * ```
 */
export function clipByL2Norm(update: Float32Array, maxNorm: number): ClipResult {
  checkNumber('maxNorm', maxNorm, 0, Number.MAX_VALUE, true)
  assertFinite([update])
  let s = 0
  for (let j = 0; j < update.length; j++) s += update[j]! * update[j]!
  const norm = Math.sqrt(s)
  const factor = norm > maxNorm ? maxNorm / norm : 1
  const clipped = new Float32Array(update.length)
  for (let j = 0; j < update.length; j++) clipped[j] = update[j]! * factor
  return { clipped, norm, factor }
}

/**
 * Adds independent N(0, stddev²) noise to every value (a new array).
 *
 * @example
 * ```ts
 * import { addGaussianNoise, createRng } from '@vain/fl'
 * const noisy = addGaussianNoise(sum, 1.1 * clipNorm, createRng(7))
 * ```
 */
export function addGaussianNoise(
  values: Float32Array,
  stddev: number,
  source: NormalSource = cryptoNormalSource(),
): Float32Array {
  checkNumber('stddev', stddev, 0, Number.MAX_VALUE)
  const out = new Float32Array(values.length)
  for (let j = 0; j < values.length; j++) out[j] = values[j]! + stddev * source.normal()
  return out
}

/** Options of {@link dpFedAvg}. */
export interface DpFedAvgInit {
  /** L2 clip norm C of each client update. */
  clipNorm: number
  /** z = σ / C: the noise added to the sum has standard deviation z·C per coordinate. */
  noiseMultiplier: number
  /**
   * Denominator of the average: the expected number of clients per round (q·N, the fixed-
   * denominator estimator of McMahan et al. 2018, whose sensitivity does not depend on who
   * took part). Default: the number of updates received.
   */
  expectedClients?: number
  /** Seed for reproducible noise in experiments. Without one, noise comes from the OS CSPRNG. */
  seed?: number
  /** Or any source of standard normals (overrides `seed`). */
  noise?: NormalSource
}

/** A DP-FedAvg aggregator also tells its noise scale. */
export interface DpAggregator extends Aggregator {
  /** Standard deviation of the noise added to the **sum** (z·C). */
  readonly noiseStddev: number
}

/**
 * DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018, "Learning Differentially Private Recurrent
 * Language Models"): clip each client's update to L2 norm `clipNorm`, sum, add Gaussian noise
 * N(0, (z·C)²) to every coordinate, divide by `expectedClients` (or the count). Every client
 * counts once (weights are ignored: a weight would raise one client's sensitivity). Account for
 * the privacy spent with {@link computeEpsilon}: sampling rate = clients per round / all
 * clients, steps = rounds. (Floating-point Gaussian sampling is not hardened against
 * Mironov-style precision attacks; acceptable for research use.)
 *
 * @example
 * ```ts
 * import { computeEpsilon, dpFedAvg, fedAvg } from '@vain/fl'
 * const strategy = fedAvg({ aggregator: dpFedAvg({ clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 10 }) })
 * computeEpsilon({ samplingRate: 10 / 100, noiseMultiplier: 1.1, steps: 30 }, 1e-5).epsilon
 * ```
 */
export function dpFedAvg(init: DpFedAvgInit): DpAggregator {
  const clip = checkNumber('dpFedAvg clipNorm', init.clipNorm, 0, Number.MAX_VALUE, true)
  const z = checkNumber('dpFedAvg noiseMultiplier', init.noiseMultiplier, 0, Number.MAX_VALUE)
  const expected = init.expectedClients
  if (expected !== undefined && !(Number.isFinite(expected) && expected > 0)) {
    throw new ConfigError(`dpFedAvg expectedClients must be > 0, got ${expected}`)
  }
  const source = init.noise ?? (init.seed !== undefined ? createRng(init.seed) : cryptoNormalSource())
  const stddev = z * clip
  return {
    name: 'dp-fedavg',
    noiseStddev: stddev,
    aggregate(updates) {
      const d = checkShapes(updates)
      assertFinite(updates)
      const acc = new Float64Array(d)
      for (const u of updates) {
        let s = 0
        for (let j = 0; j < d; j++) s += u[j]! * u[j]!
        const norm = Math.sqrt(s)
        const factor = norm > clip ? clip / norm : 1
        for (let j = 0; j < d; j++) acc[j] = acc[j]! + factor * u[j]!
      }
      if (stddev > 0) for (let j = 0; j < d; j++) acc[j] = acc[j]! + stddev * source.normal()
      const denom = expected ?? updates.length
      const out = new Float32Array(d)
      for (let j = 0; j < d; j++) out[j] = acc[j]! / denom
      return out
    },
    reset() {},
  }
}
