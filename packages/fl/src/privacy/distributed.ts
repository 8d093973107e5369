/**
 * Distributed differential privacy: each trainer clips and noises its own update before it leaves
 * the node, so no committee ever sees a noise-free update.
 * @module
 */
import { addGaussianNoise, clipByL2Norm, cryptoNormalSource } from './dp.js'

/** A job's privacy settings: clip to L2 norm `clip`, noise multiplier σ. */
export interface DistributedDpOptions {
  clip: number
  noiseMultiplier: number
  /** Trainers whose noised updates are summed (1 when the job does not list them). */
  parties: number
}

/**
 * Clip `delta` to L2 norm `clip`, then add Gaussian noise N(0, (σ·clip)²/n) for n = `parties`.
 * Summed over n honest trainers the noise is N(0, (σ·clip)²): the Gaussian mechanism of central
 * DP on the sum, without trusting the committee with noise-free updates (with secure
 * aggregation, members only ever see the noised sum).
 *
 * @example
 * ```ts
 * const noised = privatizeUpdate(delta, { clip: 1, noiseMultiplier: 1.1, parties: 10 })
 * ```
 */
export function privatizeUpdate(delta: Float32Array, options: DistributedDpOptions): Float32Array {
  const { clipped } = clipByL2Norm(delta, options.clip)
  if (options.noiseMultiplier === 0) return clipped
  const n = Math.max(1, options.parties)
  return addGaussianNoise(clipped, (options.noiseMultiplier * options.clip) / Math.sqrt(n), cryptoNormalSource())
}
