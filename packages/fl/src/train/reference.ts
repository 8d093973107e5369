import { type Architecture, convStages, denseLayers, inputSizeOf } from '../models/architecture.js'
import { layerSlots, modelLayout } from '../models/model.js'

/** A float array type the reference runs in: `Float64Array` (the oracle) or `Float32Array`. */
export type FloatArray = Float32Array | Float64Array
/** The constructor of a {@link FloatArray}. */
export type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor

/** A batch for the reference: `x` is `n × inputSize` row-major, `labels` are class indices. */
export interface ReferenceBatch {
  readonly x: ArrayLike<number>
  readonly labels: ArrayLike<number>
}

/** Optimizer hyper-parameters of one SGD step (PyTorch `SGD` semantics, no dampening). */
export interface StepHyperParams {
  readonly lr: number
  readonly momentum: number
  readonly weightDecay: number
  /** FedProx `mu`; 0 or absent disables the proximal term. */
  readonly proxMu?: number
  /** The global model the proximal term pulls towards (required when `proxMu > 0`). */
  readonly globalParams?: ArrayLike<number>
}

/** Parameters and momentum buffer of the optimizer. */
export interface StepState<A extends FloatArray = FloatArray> {
  readonly params: A
  readonly velocity: A
}

/**
 * Plain-TypeScript forward pass: the logits (`n × numClasses`) of a batch.
 *
 * @example
 * ```ts
 * const logits = referenceLogits(model.architecture, model.params, x)
 * ```
 */
export function referenceLogits(
  arch: Architecture,
  params: ArrayLike<number>,
  x: ArrayLike<number>,
  Float: FloatArrayConstructor = Float64Array,
): FloatArray {
  return runForward(arch, params, x, Float).z.at(-1)!
}

/**
 * Mean softmax cross-entropy of a batch and its gradient with respect to the flat parameters,
 * written as plain loops. With `Float64Array` (the default) this is the float64 oracle the ONNX
 * train step is tested against; with `Float32Array` it is the plain-TypeScript baseline of the
 * benchmark.
 *
 * @example
 * ```ts
 * const { loss, grad } = referenceLossAndGradient(arch, params, { x, labels })
 * ```
 */
export function referenceLossAndGradient(
  arch: Architecture,
  params: ArrayLike<number>,
  batch: ReferenceBatch,
  Float: FloatArrayConstructor = Float64Array,
): { loss: number; grad: FloatArray } {
  const layers = denseLayers(arch)
  const slots = layerSlots(arch)
  const n = batch.labels.length
  const { z, a, convs } = runForward(arch, params, batch.x, Float)
  const C = layers.at(-1)!.outputSize
  const logits = z.at(-1)!
  // softmax cross-entropy and dL/dlogits = (softmax − onehot) / n
  let dz: FloatArray = new Float(n * C)
  let loss = 0
  for (let r = 0; r < n; r++) {
    const o = r * C
    let max = Number.NEGATIVE_INFINITY
    for (let j = 0; j < C; j++) if (logits[o + j]! > max) max = logits[o + j]!
    let sum = 0
    for (let j = 0; j < C; j++) sum += Math.exp(logits[o + j]! - max)
    const lse = max + Math.log(sum)
    const label = batch.labels[r]!
    loss += lse - logits[o + label]!
    for (let j = 0; j < C; j++) dz[o + j] = (Math.exp(logits[o + j]! - lse) - (j === label ? 1 : 0)) / n
  }
  loss /= n
  const grad = new Float(modelLayout(arch).size)
  for (let l = layers.length - 1; l >= 0; l--) {
    const { inputSize: I, outputSize: O } = layers[l]!
    const wOff = slots.dense[l]!.weight.offset
    const bOff = slots.dense[l]!.bias.offset
    const input = a[l]!
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < I; i++) {
        const ai = input[r * I + i]!
        const row = wOff + i * O
        for (let j = 0; j < O; j++) grad[row + j] += ai * dz[r * O + j]!
      }
      for (let j = 0; j < O; j++) grad[bOff + j] += dz[r * O + j]!
    }
    if (l > 0 || convs.length > 0) {
      // gradient w.r.t. this layer's input; ReLU-masked between dense layers, unmasked into the pool
      const zPrev = l > 0 ? z[l - 1]! : undefined
      const da = new Float(n * I)
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < I; i++) {
          if (zPrev !== undefined && !(zPrev[r * I + i]! > 0)) continue // ReLU gradient
          let s = 0
          const row = wOff + i * O
          for (let j = 0; j < O; j++) s += dz[r * O + j]! * params[row + j]!
          da[r * I + i] = s
        }
      }
      dz = da
    }
  }
  // conv stages, last to first: dz holds the gradient w.r.t. the stage's pooled output
  const stages = convStages(arch)
  for (let l = stages.length - 1; l >= 0; l--) {
    const st = stages[l]!
    const { input, z: zc, argmax } = convs[l]!
    const { inChannels: Ci, filters: F, kernel: K, inHeight: H, inWidth: W, convHeight: Hc, convWidth: Wc } = st
    const dzc = new Float(n * F * Hc * Wc)
    for (let p = 0; p < argmax.length; p++) {
      const at = argmax[p]!
      if (zc[at]! > 0) dzc[at] += dz[p]! // unpool, then the ReLU gradient
    }
    const wOff = slots.conv[l]!.weight.offset
    const bOff = slots.conv[l]!.bias.offset
    const dIn = l > 0 ? new Float(n * Ci * H * W) : undefined
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < F; f++) {
        for (let i = 0; i < Hc; i++) {
          for (let j = 0; j < Wc; j++) {
            const g = dzc[((r * F + f) * Hc + i) * Wc + j]!
            if (g === 0) continue
            grad[bOff + f] += g
            for (let c = 0; c < Ci; c++) {
              for (let p = 0; p < K; p++) {
                const inRow = ((r * Ci + c) * H + i + p) * W + j
                const wRow = wOff + ((f * Ci + c) * K + p) * K
                for (let q = 0; q < K; q++) {
                  grad[wRow + q] += g * input[inRow + q]!
                  if (dIn !== undefined) dIn[inRow + q] += g * params[wRow + q]!
                }
              }
            }
          }
        }
      }
    }
    if (dIn !== undefined) dz = dIn
  }
  return { loss, grad }
}

/**
 * The full objective one step descends: mean cross-entropy + `weightDecay/2 · ||w||²`
 * + `proxMu/2 · ||w − w_global||²`. Its gradient is what {@link referenceTrainStep} applies,
 * which makes finite-difference checks of the whole step possible.
 *
 * @example
 * ```ts
 * const f = referenceObjective(arch, params, batch, { lr: 0.1, momentum: 0, weightDecay: 1e-4 })
 * ```
 */
export function referenceObjective(
  arch: Architecture,
  params: ArrayLike<number>,
  batch: ReferenceBatch,
  hyper: StepHyperParams,
): number {
  const { z } = runForward(arch, params, batch.x, Float64Array)
  const logits = z.at(-1)!
  const C = denseLayers(arch).at(-1)!.outputSize
  const n = batch.labels.length
  let loss = 0
  for (let r = 0; r < n; r++) {
    let max = Number.NEGATIVE_INFINITY
    for (let j = 0; j < C; j++) max = Math.max(max, logits[r * C + j]!)
    let sum = 0
    for (let j = 0; j < C; j++) sum += Math.exp(logits[r * C + j]! - max)
    loss += max + Math.log(sum) - logits[r * C + batch.labels[r]!]!
  }
  loss /= n
  let reg = 0
  const mu = hyper.proxMu ?? 0
  for (let i = 0; i < params.length; i++) {
    const w = params[i]!
    reg += 0.5 * hyper.weightDecay * w * w
    if (mu > 0) {
      const d = w - hyper.globalParams![i]!
      reg += 0.5 * mu * d * d
    }
  }
  return loss + reg
}

/**
 * One SGD step in plain TypeScript, the same update as the ONNX graph:
 * `g = ∇CE + wd·w [+ mu·(w − w_global)]`, `v' = momentum·v + g`, `w' = w − lr·v'`.
 * Returns new arrays (inputs are not modified) and the batch loss at `w`.
 *
 * @example
 * ```ts
 * const next = referenceTrainStep(arch, { params, velocity }, { x, labels }, { lr: 0.1, momentum: 0.9, weightDecay: 0 })
 * ```
 */
export function referenceTrainStep<A extends FloatArray>(
  arch: Architecture,
  state: StepState<A>,
  batch: ReferenceBatch,
  hyper: StepHyperParams,
  Float: FloatArrayConstructor = Float64Array,
): { params: FloatArray; velocity: FloatArray; loss: number } {
  const { loss, grad } = referenceLossAndGradient(arch, state.params, batch, Float)
  const P = state.params.length
  const params = new Float(P)
  const velocity = new Float(P)
  const mu = hyper.proxMu ?? 0
  for (let i = 0; i < P; i++) {
    const w = state.params[i]!
    let g = grad[i]! + hyper.weightDecay * w
    if (mu > 0) g += mu * (w - hyper.globalParams![i]!)
    const v = hyper.momentum * state.velocity[i]! + g
    velocity[i] = v
    params[i] = w - hyper.lr * v
  }
  return { params, velocity, loss }
}

interface ConvTrace {
  /** Input of the stage (NCHW, flat). */
  input: ArrayLike<number>
  /** Convolution output before ReLU. */
  z: FloatArray
  /** For each pooled output, the flat index into `z` of the maximum it took. */
  argmax: Int32Array
}

function runForward(
  arch: Architecture,
  params: ArrayLike<number>,
  x: ArrayLike<number>,
  Float: FloatArrayConstructor,
): { z: FloatArray[]; a: ArrayLike<number>[]; convs: ConvTrace[] } {
  const slots = layerSlots(arch)
  const n = x.length / inputSizeOf(arch)
  const convs: ConvTrace[] = []
  let input: ArrayLike<number> = x
  convStages(arch).forEach((st, l) => {
    const { inChannels: Ci, filters: F, kernel: K, inHeight: H, inWidth: W, convHeight: Hc, convWidth: Wc } = st
    const { outHeight: Ho, outWidth: Wo } = st
    const wOff = slots.conv[l]!.weight.offset
    const bOff = slots.conv[l]!.bias.offset
    const zc = new Float(n * F * Hc * Wc)
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < F; f++) {
        for (let i = 0; i < Hc; i++) {
          for (let j = 0; j < Wc; j++) {
            let s = params[bOff + f]!
            for (let c = 0; c < Ci; c++) {
              for (let p = 0; p < K; p++) {
                const inRow = ((r * Ci + c) * H + i + p) * W + j
                const wRow = wOff + ((f * Ci + c) * K + p) * K
                for (let q = 0; q < K; q++) s += input[inRow + q]! * params[wRow + q]!
              }
            }
            zc[((r * F + f) * Hc + i) * Wc + j] = s
          }
        }
      }
    }
    // ReLU then 2×2 max-pool (stride 2, first maximum in row-major order wins, as in ONNX)
    const pooled = new Float(n * F * Ho * Wo)
    const argmax = new Int32Array(pooled.length)
    for (let rf = 0; rf < n * F; rf++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let best = -1
          let max = Number.NEGATIVE_INFINITY
          for (let p = 0; p < 2; p++) {
            for (let q = 0; q < 2; q++) {
              const at = (rf * Hc + 2 * i + p) * Wc + 2 * j + q
              const v = Math.max(zc[at]!, 0)
              if (v > max) {
                max = v
                best = at
              }
            }
          }
          pooled[(rf * Ho + i) * Wo + j] = max
          argmax[(rf * Ho + i) * Wo + j] = best
        }
      }
    }
    convs.push({ input, z: zc, argmax })
    input = pooled
  })
  const z: FloatArray[] = []
  const a: ArrayLike<number>[] = [input]
  denseLayers(arch).forEach((layer, l) => {
    const { inputSize: I, outputSize: O } = layer
    const wOff = slots.dense[l]!.weight.offset
    const bOff = slots.dense[l]!.bias.offset
    const layerInput = a[l]!
    const out = new Float(n * O)
    for (let r = 0; r < n; r++) {
      const o = r * O
      for (let j = 0; j < O; j++) out[o + j] = params[bOff + j]!
      for (let i = 0; i < I; i++) {
        const ai = layerInput[r * I + i]!
        const row = wOff + i * O
        for (let j = 0; j < O; j++) out[o + j] += ai * params[row + j]!
      }
    }
    z.push(out)
    if (layer.activation === 'relu') {
      const act = new Float(n * O)
      for (let k = 0; k < act.length; k++) act[k] = Math.max(out[k]!, 0)
      a.push(act)
    }
  })
  return { z, a, convs }
}
