import type * as ort from 'onnxruntime-node'
import { ClosedError, ConfigError, ShapeMismatchError } from '../errors.js'
import {
  type Architecture,
  countParameters,
  denseLayers,
  inputSizeOf,
  parseArchitecture,
} from '../models/architecture.js'
import { modelLayout, type TensorSlot } from '../models/model.js'
import { buildTrainStepGraph, TRAIN_STEP_IO } from '../onnx/graphs.js'
import { createSession, f32, f32Data, runSession, type SessionInit } from './session.js'

/** One batch for the ORT train step: `x` is `n × inputSize`, `y` is `n × numClasses` one-hot. */
export interface OneHotBatch {
  readonly x: Float32Array
  readonly y: Float32Array
}

/** Optimizer state: the parameters and, for a momentum step, the momentum buffer. */
export interface OrtStepState {
  readonly params: Float32Array
  /** Required by a step compiled with momentum (the default), ignored otherwise. */
  readonly velocity?: Float32Array | undefined
}

/** Hyper-parameters of one step as the graph takes them. */
export interface OrtStepHyperParams {
  readonly lr: number
  /** Used by a step compiled with momentum (default 0). */
  readonly momentum?: number
  /** Used by a step compiled with weight decay (the default). */
  readonly weightDecay: number
  /** Only with a step created with `prox: true`. */
  readonly proxMu?: number
  /** Only with a step created with `prox: true`. */
  readonly globalParams?: Float32Array
}

/** What one step returns: new state, and the loss of the batch before the step. */
export interface OrtStepResult {
  readonly params: Float32Array
  /** The new momentum buffer (undefined for a step without momentum). */
  readonly velocity: Float32Array | undefined
  readonly loss: number
}

/** A compiled train step of one architecture (an ORT session over {@link buildTrainStepGraph}). */
export interface OrtTrainStep {
  readonly architecture: Architecture
  readonly prox: boolean
  readonly momentum: boolean
  readonly weightDecay: boolean
  /**
   * Runs one SGD step; does not modify its inputs. The new parameters (and momentum buffer) are
   * written into `into` when given (it must not alias the inputs), else into new arrays.
   */
  run(
    state: OrtStepState,
    batch: OneHotBatch,
    hyper: OrtStepHyperParams,
    into?: { params: Float32Array; velocity?: Float32Array | undefined },
  ): Promise<OrtStepResult>
  /** Releases the ORT session. */
  release(): Promise<void>
}

/** Options of {@link createTrainStep}: which optional terms the compiled graph has. */
export interface TrainStepInit extends SessionInit {
  /** Compile with a momentum buffer. Default true; false gives plain SGD. */
  momentum?: boolean
  /** Compile the weight-decay term (input `weightDecay`). Default true. */
  weightDecay?: boolean
  /** Compile the FedProx term (inputs `globalParams` and `proxMu`). Default false. */
  prox?: boolean
}

/**
 * Compiles the train-step graph of an architecture into an onnxruntime session. Most users want
 * {@link createLocalTrainer}; this is the low-level step it runs (and that tests compare with the
 * float64 reference). Parameters travel as one flat `Float32Array` (the {@link modelLayout}); the
 * graph sees one tensor per layer slot, fed as zero-copy views.
 *
 * @example
 * ```ts
 * const step = await createTrainStep(mlp(784, [128], 10))
 * const out = await step.run({ params, velocity }, { x, y }, { lr: 0.1, momentum: 0.9, weightDecay: 0 })
 * await step.release()
 * ```
 */
export async function createTrainStep(architecture: Architecture, init: TrainStepInit = {}): Promise<OrtTrainStep> {
  const arch = parseArchitecture(architecture)
  const prox = init.prox === true
  const momentum = init.momentum !== false
  const weightDecay = init.weightDecay !== false
  const P = countParameters(arch)
  const D = inputSizeOf(arch)
  const C = denseLayers(arch).at(-1)!.outputSize
  const slots = modelLayout(arch).tensors
  const session: ort.InferenceSession = await createSession(
    buildTrainStepGraph(arch, { prox, momentum, weightDecay }),
    init,
  )
  let released = false
  const scalar = (v: number) => f32(Float32Array.of(v), [])
  const io = TRAIN_STEP_IO
  const view = (flat: Float32Array, slot: TensorSlot) =>
    f32(flat.subarray(slot.offset, slot.offset + slot.size), slot.shape)
  const checkLength = (what: string, a: Float32Array | undefined) => {
    if (a === undefined) throw new ConfigError(`this train step needs ${what}`)
    if (!(a instanceof Float32Array) || a.length !== P) throw new ShapeMismatchError(`${what} length`, [P], [a.length])
    return a
  }
  return {
    architecture: arch,
    prox,
    momentum,
    weightDecay,
    async run(state, batch, hyper, into) {
      if (released) throw new ClosedError('train step was released')
      const params = checkLength('params', state.params)
      const n = batch.x.length / D
      if (!Number.isInteger(n) || n < 1) throw new ShapeMismatchError('batch x', [n, D], [batch.x.length])
      if (batch.y.length !== n * C) throw new ShapeMismatchError('batch y', [n, C], [batch.y.length / C, C])
      const feeds: Record<string, ort.Tensor> = {
        [io.x]: f32(batch.x, [n, D]),
        [io.y]: f32(batch.y, [n, C]),
        [io.lr]: scalar(hyper.lr),
      }
      const paramsOut = into === undefined ? new Float32Array(P) : checkLength('output params', into.params)
      const fetches: Record<string, ort.Tensor | null> = { [io.loss]: null }
      for (const slot of slots) {
        feeds[io.param(slot.name)] = view(params, slot)
        fetches[io.paramOut(slot.name)] = view(paramsOut, slot)
      }
      let velocityOut: Float32Array | undefined
      if (momentum) {
        const velocity = checkLength('a velocity buffer', state.velocity)
        velocityOut = into === undefined ? new Float32Array(P) : checkLength('an output velocity buffer', into.velocity)
        for (const slot of slots) {
          feeds[io.velocity(slot.name)] = view(velocity, slot)
          fetches[io.velocityOut(slot.name)] = view(velocityOut, slot)
        }
        feeds[io.momentum] = scalar(hyper.momentum ?? 0)
      }
      if (weightDecay) feeds[io.weightDecay] = scalar(hyper.weightDecay)
      if (prox) {
        const globalParams = checkLength('globalParams', hyper.globalParams)
        for (const slot of slots) feeds[io.global(slot.name)] = view(globalParams, slot)
        feeds[io.proxMu] = scalar(hyper.proxMu ?? 0)
      }
      const out = await runSession(session, feeds, fetches)
      return { params: paramsOut, velocity: velocityOut, loss: f32Data(out[io.loss], io.loss)[0]! }
    },
    async release() {
      if (released) return
      released = true
      await session.release()
    },
  }
}
