import type * as ort from 'onnxruntime-node'
import { z } from 'zod'
import type { Dataset } from '../data/dataset.js'
import { ClosedError, ConfigError, InvalidDatasetError, ShapeMismatchError } from '../errors.js'
import {
  type Architecture,
  architectureKey,
  countParameters,
  denseLayers,
  inputSizeOf,
} from '../models/architecture.js'
import { assertParams, type Model } from '../models/model.js'
import { buildEvalGraph, EVAL_IO } from '../onnx/graphs.js'
import { createRng } from '../random.js'
import { createTrainStep, type OrtTrainStep } from './ort-step.js'
import { createSession, f32, f32Data, runSession, type SessionInit } from './session.js'

/** Options every long operation takes. */
export interface AbortOptions {
  signal?: AbortSignal
}

const TrainOptionsSchema = z.strictObject({
  epochs: z.number().int().min(1).max(1_000_000),
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(1 << 20),
  lr: z.number().positive().finite(),
  momentum: z.number().min(0).max(1).optional(),
  weightDecay: z.number().min(0).finite().optional(),
  proxMu: z.number().min(0).finite().optional(),
  globalParams: z.instanceof(Float32Array).optional(),
  velocity: z.instanceof(Float32Array).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  dropLast: z.boolean().optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onEpoch: z.function().optional(),
})

/** Options of {@link LocalTrainer.train}. */
export interface TrainOptions extends AbortOptions {
  /** Passes over the local data. */
  epochs: number
  /** Rows per SGD step (the last step of an epoch may be smaller unless `dropLast`). */
  batchSize: number
  /** Learning rate. */
  lr: number
  /** Momentum of SGD (default 0). */
  momentum?: number
  /** L2 weight decay, added to the gradient as `weightDecay · w`, biases included (default 0). */
  weightDecay?: number
  /**
   * FedProx `mu` (Li et al. 2020): adds `mu · (w − globalParams)` to the gradient. Default 0 (off).
   */
  proxMu?: number
  /** The global model of the round for the proximal term (default: the parameters training starts from). */
  globalParams?: Float32Array
  /** Momentum buffer to start from (default zeros), e.g. the `velocity` of a previous call. */
  velocity?: Float32Array
  /** Seed of the per-epoch shuffles (default 0): same seed, data and options → identical result. */
  seed?: number
  /** Skip each epoch's last, smaller batch (default false). */
  dropLast?: boolean
  /** Called after each epoch with its mean loss. */
  onEpoch?: (progress: { epoch: number; loss: number }) => void
}

/** What {@link LocalTrainer.train} returns. */
export interface TrainResult {
  /** The trained model (same architecture, new parameters). */
  readonly model: Model
  /** Final momentum buffer (pass it as `velocity` to continue training); undefined when `momentum` is 0. */
  readonly velocity: Float32Array | undefined
  /** Mean training loss of each epoch (batch losses weighted by batch size, measured before each step). */
  readonly epochLosses: number[]
  /** Loss of every step, in order. */
  readonly stepLosses: Float32Array
  /** Rows in the local dataset (the weight FedAvg gives this client). */
  readonly samples: number
  /** SGD steps taken. */
  readonly steps: number
}

/** What {@link LocalTrainer.evaluate} returns. */
export interface EvaluateResult {
  /** Fraction of rows whose arg-max logit is the label. */
  readonly accuracy: number
  /** Mean softmax cross-entropy. */
  readonly loss: number
  /** Rows evaluated. */
  readonly samples: number
}

/** Options of {@link LocalTrainer.evaluate} and {@link LocalTrainer.predict}. */
export interface EvaluateOptions extends AbortOptions {
  /** Rows per ORT run (default 1000). */
  batchSize?: number
}

/**
 * Trains and evaluates models with onnxruntime. Sessions are compiled once per architecture (and
 * FedProx variant) and reused, so many clients of one simulation can share a trainer.
 */
export interface LocalTrainer {
  /** Trains a copy of `model` on `dataset` with SGD (momentum, weight decay, FedProx) run by ORT. */
  train(model: Model, dataset: Dataset, options: TrainOptions): Promise<TrainResult>
  /** Accuracy and mean cross-entropy of `model` on `dataset`, through an ORT inference graph. */
  evaluate(model: Model, dataset: Dataset, options?: EvaluateOptions): Promise<EvaluateResult>
  /** Logits (`rows × numClasses`, row-major) of `x` (`rows × inputSize`). */
  predict(model: Model, x: Float32Array, options?: EvaluateOptions): Promise<Float32Array>
  /** Releases every ORT session. Further calls throw {@link ClosedError}. */
  close(): Promise<void>
}

/** Options of {@link createLocalTrainer}. */
export interface LocalTrainerInit extends SessionInit {}

/**
 * Creates a {@link LocalTrainer}: local training whose whole SGD step (forward, backward,
 * optimizer) is one ONNX graph run by onnxruntime-node.
 *
 * @example
 * ```ts
 * import { createLocalTrainer, createModel, gaussianBlobs, mlp, splitDataset } from '@vain/fl'
 *
 * const { train, test } = splitDataset(gaussianBlobs({ samples: 1200, features: 16, numClasses: 4, seed: 1 }), 1000)
 * const trainer = createLocalTrainer()
 * const model = createModel(mlp(16, [32], 4), { seed: 1 })
 * const result = await trainer.train(model, train, { epochs: 3, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1 })
 * console.log(await trainer.evaluate(result.model, test)) // { accuracy: 0.99…, loss: 0.0…, samples: 200 }
 * await trainer.close()
 * ```
 */
export function createLocalTrainer(init: LocalTrainerInit = {}): LocalTrainer {
  const steps = new Map<string, Promise<OrtTrainStep>>()
  const evals = new Map<string, Promise<ort.InferenceSession>>()
  let closed = false

  const checkOpen = () => {
    if (closed) throw new ClosedError('the trainer was closed')
  }
  const cached = <T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> => {
    let p = map.get(key)
    if (p === undefined) {
      p = make()
      map.set(key, p)
      p.catch(() => map.delete(key))
    }
    return p
  }
  const stepFor = (arch: Architecture, variant: { momentum: boolean; weightDecay: boolean; prox: boolean }) =>
    cached(steps, `${JSON.stringify(variant)}:${architectureKey(arch)}`, () =>
      createTrainStep(arch, { ...init, ...variant }),
    )
  const evalFor = (arch: Architecture) =>
    cached(evals, architectureKey(arch), () => createSession(buildEvalGraph(arch), init))

  const logits = async (model: Model, x: Float32Array, options: EvaluateOptions): Promise<Float32Array> => {
    const arch = model.architecture
    const D = inputSizeOf(arch)
    const C = denseLayers(arch).at(-1)!.outputSize
    const rows = x.length / D
    if (!Number.isInteger(rows)) throw new ShapeMismatchError('x', [Math.floor(rows), D], [x.length])
    const batchSize = options.batchSize ?? 1000
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`batchSize must be >= 1, got ${batchSize}`)
    const session = await evalFor(arch)
    const out = new Float32Array(rows * C)
    const params = f32(model.params, [model.params.length])
    for (let start = 0; start < rows; start += batchSize) {
      options.signal?.throwIfAborted()
      checkOpen()
      const end = Math.min(rows, start + batchSize)
      const res = await runSession(session, {
        [EVAL_IO.params]: params,
        [EVAL_IO.x]: f32(x.subarray(start * D, end * D), [end - start, D]),
      })
      out.set(f32Data(res[EVAL_IO.logits], EVAL_IO.logits), start * C)
    }
    return out
  }

  return {
    async train(model, dataset, options) {
      checkOpen()
      const parsed = TrainOptionsSchema.safeParse(options)
      if (!parsed.success) {
        throw new ConfigError(
          'invalid train options',
          parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
        )
      }
      const arch = model.architecture
      assertParams(arch, model.params)
      checkDataset(arch, dataset)
      if (dataset.size === 0) throw new InvalidDatasetError('cannot train on an empty dataset')
      const { epochs, batchSize, lr, momentum = 0, weightDecay = 0, proxMu = 0, seed = 0, dropLast = false } = options
      const P = countParameters(arch)
      const prox = proxMu > 0
      const globalParams = options.globalParams ?? model.params
      if (globalParams.length !== P) throw new ShapeMismatchError('globalParams length', [P], [globalParams.length])
      const withMomentum = momentum > 0
      let velocity = withMomentum ? (options.velocity ?? new Float32Array(P)) : undefined
      if (velocity !== undefined && velocity.length !== P) {
        throw new ShapeMismatchError('velocity length', [P], [velocity.length])
      }
      options.signal?.throwIfAborted()
      const step = await stepFor(arch, { momentum: withMomentum, weightDecay: weightDecay > 0, prox })

      const D = inputSizeOf(arch)
      const C = dataset.numClasses
      const n = dataset.size
      const fullBatches = Math.floor(n / batchSize)
      const stepsPerEpoch = dropLast ? Math.max(fullBatches, 0) : Math.ceil(n / batchSize)
      if (stepsPerEpoch === 0) throw new ConfigError(`dropLast with batchSize ${batchSize} > ${n} rows leaves no step`)
      const xBuf = new Float32Array(Math.min(batchSize, n) * D)
      const yBuf = new Float32Array(Math.min(batchSize, n) * C)
      const rng = createRng(seed)
      const order = new Uint32Array(n)
      const stepLosses = new Float32Array(epochs * stepsPerEpoch)
      const epochLosses: number[] = []
      // two pairs of buffers, written alternately: no allocation per step, model.params untouched
      const buffers = [
        { params: new Float32Array(P), velocity: withMomentum ? new Float32Array(P) : undefined },
        { params: new Float32Array(P), velocity: withMomentum ? new Float32Array(P) : undefined },
      ]
      let params = model.params
      let s = 0
      const hyper = prox ? { lr, momentum, weightDecay, proxMu, globalParams } : { lr, momentum, weightDecay }
      for (let epoch = 0; epoch < epochs; epoch++) {
        for (let i = 0; i < n; i++) order[i] = i
        rng.shuffle(order)
        let lossSum = 0
        let rows = 0
        for (let b = 0; b < stepsPerEpoch; b++) {
          options.signal?.throwIfAborted()
          checkOpen()
          const start = b * batchSize
          const m = Math.min(batchSize, n - start)
          yBuf.fill(0, 0, m * C)
          for (let r = 0; r < m; r++) {
            const i = order[start + r]!
            xBuf.set(dataset.x.subarray(i * D, (i + 1) * D), r * D)
            yBuf[r * C + dataset.labels[i]!] = 1
          }
          const out = await step.run(
            { params, velocity },
            { x: m === xBuf.length / D ? xBuf : xBuf.subarray(0, m * D), y: yBuf.subarray(0, m * C) },
            hyper,
            buffers[s % 2],
          )
          params = out.params
          velocity = out.velocity
          stepLosses[s++] = out.loss
          lossSum += out.loss * m
          rows += m
        }
        const loss = lossSum / rows
        epochLosses.push(loss)
        options.onEpoch?.({ epoch, loss })
      }
      return {
        model: { architecture: arch, params },
        velocity: velocity === options.velocity ? velocity?.slice() : velocity,
        epochLosses,
        stepLosses,
        samples: n,
        steps: s,
      }
    },

    async evaluate(model, dataset, options = {}) {
      checkOpen()
      assertParams(model.architecture, model.params)
      checkDataset(model.architecture, dataset)
      if (dataset.size === 0) throw new InvalidDatasetError('cannot evaluate on an empty dataset')
      const out = await logits(model, dataset.x, options)
      const C = dataset.numClasses
      let correct = 0
      let loss = 0
      for (let r = 0; r < dataset.size; r++) {
        const o = r * C
        let best = 0
        let max = out[o]!
        for (let j = 1; j < C; j++) {
          if (out[o + j]! > max) {
            max = out[o + j]!
            best = j
          }
        }
        let sum = 0
        for (let j = 0; j < C; j++) sum += Math.exp(out[o + j]! - max)
        const label = dataset.labels[r]!
        loss += max + Math.log(sum) - out[o + label]!
        if (best === label) correct++
      }
      return { accuracy: correct / dataset.size, loss: loss / dataset.size, samples: dataset.size }
    },

    async predict(model, x, options = {}) {
      checkOpen()
      assertParams(model.architecture, model.params)
      return logits(model, x, options)
    },

    async close() {
      if (closed) return
      closed = true
      const all = [...steps.values(), ...evals.values()]
      steps.clear()
      evals.clear()
      await Promise.all(
        all.map(async (p) => {
          const s = await p.catch(() => undefined)
          await s?.release()
        }),
      )
    },
  }
}

function checkDataset(arch: Architecture, dataset: Dataset): void {
  const C = denseLayers(arch).at(-1)!.outputSize
  if (dataset.features !== inputSizeOf(arch)) {
    throw new ShapeMismatchError('dataset features vs model inputs', [inputSizeOf(arch)], [dataset.features])
  }
  if (dataset.numClasses !== C)
    throw new ShapeMismatchError('dataset classes vs model outputs', [C], [dataset.numClasses])
  if (dataset.x.length !== dataset.size * dataset.features || dataset.labels.length !== dataset.size) {
    throw new ShapeMismatchError(
      'dataset arrays',
      [dataset.size, dataset.features],
      [dataset.x.length / dataset.features, dataset.labels.length],
    )
  }
  for (let i = 0; i < dataset.size; i++) {
    const y = dataset.labels[i]!
    if (!(y >= 0 && y < C)) throw new InvalidDatasetError(`label ${i} is ${y}, not a class in 0..${C - 1}`)
  }
}
