import { InvalidDatasetError, ShapeMismatchError } from '../errors.js'

/**
 * A labelled classification dataset held in memory: `x` is `size × features` row-major
 * float32, `labels[i]` is the class (0 … numClasses−1) of row `i`.
 */
export interface Dataset {
  readonly x: Float32Array
  readonly labels: Int32Array
  readonly size: number
  readonly features: number
  readonly numClasses: number
}

/** What {@link createDataset} takes. */
export interface DatasetInit {
  x: Float32Array | ArrayLike<number>
  labels: Int32Array | ArrayLike<number>
  features: number
  numClasses: number
}

/**
 * Creates a dataset after checking it: `x.length = size × features`, every label an integer in
 * range, every feature finite. Throws {@link ShapeMismatchError} or {@link InvalidDatasetError}.
 *
 * @example
 * ```ts
 * const ds = createDataset({ x: [0, 1, 1, 0], labels: [1, 0], features: 2, numClasses: 2 })
 * ```
 */
export function createDataset(init: DatasetInit): Dataset {
  const { features, numClasses } = init
  if (!Number.isInteger(features) || features < 1)
    throw new InvalidDatasetError(`features must be >= 1, got ${features}`)
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > 65536) {
    throw new InvalidDatasetError(`numClasses must be in 2..65536, got ${numClasses}`)
  }
  const x = init.x instanceof Float32Array ? init.x : Float32Array.from(init.x)
  const labels = init.labels instanceof Int32Array ? init.labels : Int32Array.from(init.labels)
  const size = labels.length
  if (x.length !== size * features) {
    throw new ShapeMismatchError('dataset features', [size, features], [x.length / features, features])
  }
  for (let i = 0; i < size; i++) {
    const y = labels[i]!
    if (!(y >= 0 && y < numClasses) || !Number.isInteger(y)) {
      throw new InvalidDatasetError(`label ${i} is ${y}, not a class in 0..${numClasses - 1}`)
    }
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]))
      throw new InvalidDatasetError(`feature ${i % features} of row ${Math.floor(i / features)} is not finite`)
  }
  return { x, labels, size, features, numClasses }
}

/**
 * The rows `indices` of a dataset, copied, in that order (e.g. one client's partition).
 *
 * @example
 * ```ts
 * const clientData = subset(train, partition[3]!)
 * ```
 */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const F = dataset.features
  const x = new Float32Array(indices.length * F)
  const labels = new Int32Array(indices.length)
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!
    if (!(Number.isInteger(i) && i >= 0 && i < dataset.size)) {
      throw new InvalidDatasetError(`index ${i} is outside the dataset (size ${dataset.size})`)
    }
    x.set(dataset.x.subarray(i * F, (i + 1) * F), k * F)
    labels[k] = dataset.labels[i]!
  }
  return { x, labels, size: indices.length, features: F, numClasses: dataset.numClasses }
}

/**
 * How many rows of each class a dataset (or a subset of its rows) holds.
 *
 * @example
 * ```ts
 * labelCounts(train) // Int32Array(10) [ 791, 908, … ]
 * ```
 */
export function labelCounts(dataset: Pick<Dataset, 'labels' | 'numClasses'>, indices?: ArrayLike<number>): Int32Array {
  const counts = new Int32Array(dataset.numClasses)
  if (indices === undefined) for (const y of dataset.labels) counts[y]!++
  else for (let k = 0; k < indices.length; k++) counts[dataset.labels[indices[k]!]!]!++
  return counts
}
