/**
 * The work a training pool does — one client's local training, or one evaluation — as plain,
 * structured-clonable messages, and the function that runs them with a {@link LocalTrainer}
 * (inside a worker thread or in-process, bit-identically). Internal.
 * @module
 */
import type { Dataset } from '../data/dataset.js'
import type { Architecture } from '../models/architecture.js'
import type { LocalTrainer } from '../train/trainer.js'

/** A dataset as typed arrays (the `x`/`labels` buffers may be `SharedArrayBuffer`-backed). */
export interface DatasetMessage {
  readonly x: Float32Array
  readonly labels: Int32Array
  readonly size: number
  readonly features: number
  readonly numClasses: number
}

/** Hyperparameters of one client's local training. */
export interface LocalTrainingOptions {
  epochs: number
  batchSize: number
  lr: number
  momentum: number
  weightDecay: number
  /** FedProx μ (0: off); the proximal centre is the model the client starts from. */
  proxMu: number
  seed: number
}

/** One client's local training. */
export interface TrainTask {
  readonly kind: 'train'
  readonly architecture: Architecture
  /** The global parameters the client starts from. */
  readonly params: Float32Array
  /** Rows of the pool's training set this client holds. */
  readonly indices: Int32Array
  /** Labels to train on instead of the true ones (data poisoning), one per row of `indices`. */
  readonly labels?: Int32Array | undefined
  readonly options: LocalTrainingOptions
}

/** Accuracy and loss of parameters on the pool's test set. */
export interface EvaluateTask {
  readonly kind: 'evaluate'
  readonly architecture: Architecture
  readonly params: Float32Array
}

/** Any task. */
export type Task = TrainTask | EvaluateTask

/** Result of a {@link TrainTask}. */
export interface TrainOutcome {
  readonly kind: 'train'
  /** `trained − start` (float32). */
  readonly delta: Float32Array
  /** Rows trained on (the FedAvg weight). */
  readonly samples: number
  /** Mean training loss of the last local epoch. */
  readonly loss: number
  /** SGD steps taken. */
  readonly steps: number
}

/** Result of an {@link EvaluateTask}. */
export interface EvaluateOutcome {
  readonly kind: 'evaluate'
  readonly accuracy: number
  readonly loss: number
  readonly samples: number
}

/** Result of any task. */
export type Outcome = TrainOutcome | EvaluateOutcome

/** The data a pool's tasks refer to. */
export interface PoolData {
  readonly train: Dataset
  readonly test?: Dataset | undefined
}

/** The rows `indices` of `data` (copied), optionally relabelled. */
export function clientDataset(data: Dataset, indices: Int32Array, labels?: Int32Array): Dataset {
  const F = data.features
  const x = new Float32Array(indices.length * F)
  const y = new Int32Array(indices.length)
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!
    if (!(i >= 0 && i < data.size)) throw new RangeError(`row ${i} is outside the training set (${data.size} rows)`)
    x.set(data.x.subarray(i * F, (i + 1) * F), k * F)
    y[k] = labels === undefined ? data.labels[i]! : labels[k]!
  }
  return { x, labels: y, size: indices.length, features: F, numClasses: data.numClasses }
}

/** Runs one task. Same task and data → bit-identical outcome, wherever it runs. */
export async function runTask(
  trainer: LocalTrainer,
  data: PoolData,
  task: Task,
  signal?: AbortSignal,
): Promise<Outcome> {
  const model = { architecture: task.architecture, params: task.params }
  const abort = signal === undefined ? {} : { signal }
  if (task.kind === 'evaluate') {
    if (data.test === undefined) throw new RangeError('this pool has no test set to evaluate on')
    const r = await trainer.evaluate(model, data.test, abort)
    return { kind: 'evaluate', accuracy: r.accuracy, loss: r.loss, samples: r.samples }
  }
  const local = clientDataset(data.train, task.indices, task.labels)
  const o = task.options
  const result = await trainer.train(model, local, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    ...(o.proxMu > 0 ? { proxMu: o.proxMu, globalParams: task.params } : {}),
    seed: o.seed,
    ...abort,
  })
  const trained = result.model.params
  const delta = new Float32Array(trained.length)
  for (let j = 0; j < delta.length; j++) delta[j] = trained[j]! - task.params[j]!
  return {
    kind: 'train',
    delta,
    samples: result.samples,
    loss: result.epochLosses.at(-1) ?? Number.NaN,
    steps: result.steps,
  }
}

/** Copies a dataset into `SharedArrayBuffer`s so every worker reads the same memory. */
export function shareDataset(data: Dataset): DatasetMessage {
  const x = new Float32Array(new SharedArrayBuffer(data.x.byteLength))
  x.set(data.x)
  const labels = new Int32Array(new SharedArrayBuffer(data.labels.byteLength))
  labels.set(data.labels)
  return { x, labels, size: data.size, features: data.features, numClasses: data.numClasses }
}
