import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { createRng } from '../random.js'
import type { Dataset } from './dataset.js'

const BlobsSchema = z.strictObject({
  samples: z.number().int().min(1).max(10_000_000),
  features: z.number().int().min(1).max(100_000),
  numClasses: z.number().int().min(2).max(1000),
  separation: z.number().positive().finite().optional(),
  noise: z.number().nonnegative().finite().optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
})

/** Options of {@link gaussianBlobs}. */
export interface GaussianBlobsOptions {
  samples: number
  features: number
  numClasses: number
  /** Standard deviation of the class centres (default 3). */
  separation?: number
  /** Standard deviation of the points around their centre (default 1). */
  noise?: number
  /** Default 0. */
  seed?: number
}

/**
 * Synthetic classification data for fast tests: class centres drawn from `N(0, separation²)`,
 * points from `N(centre, noise²)`, labels balanced (row `i` has class `i mod numClasses`, rows
 * then shuffled). Fully determined by the options.
 *
 * @example
 * ```ts
 * const { train, test } = splitDataset(gaussianBlobs({ samples: 1200, features: 16, numClasses: 4, seed: 1 }), 1000)
 * ```
 */
export function gaussianBlobs(options: GaussianBlobsOptions): Dataset {
  const parsed = BlobsSchema.safeParse(options)
  if (!parsed.success)
    throw new ConfigError(
      'invalid gaussianBlobs options',
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    )
  const { samples, features, numClasses, separation = 3, noise = 1, seed = 0 } = parsed.data
  const rng = createRng(seed)
  const centres = new Float64Array(numClasses * features)
  for (let i = 0; i < centres.length; i++) centres[i] = rng.normal() * separation
  const order = rng.permutation(samples)
  const x = new Float32Array(samples * features)
  const labels = new Int32Array(samples)
  for (let k = 0; k < samples; k++) {
    const row = order[k]!
    const c = k % numClasses
    labels[row] = c
    for (let f = 0; f < features; f++) x[row * features + f] = centres[c * features + f]! + rng.normal() * noise
  }
  return { x, labels, size: samples, features, numClasses }
}

/**
 * Splits a dataset into its first `trainSize` rows and the rest (no shuffling: shuffle first
 * if the order matters).
 *
 * @example
 * ```ts
 * const { train, test } = splitDataset(blobs, 800)
 * ```
 */
export function splitDataset(dataset: Dataset, trainSize: number): { train: Dataset; test: Dataset } {
  if (!Number.isInteger(trainSize) || trainSize < 0 || trainSize > dataset.size) {
    throw new ConfigError(`trainSize must be an integer in 0..${dataset.size}, got ${trainSize}`)
  }
  const F = dataset.features
  const part = (from: number, to: number): Dataset => ({
    x: dataset.x.slice(from * F, to * F),
    labels: dataset.labels.slice(from, to),
    size: to - from,
    features: F,
    numClasses: dataset.numClasses,
  })
  return { train: part(0, trainSize), test: part(trainSize, dataset.size) }
}
