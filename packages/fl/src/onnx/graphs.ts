import { type Architecture, convStages, denseLayers, inputSizeOf } from '../models/architecture.js'
import { layerSlots, type Model, modelLayout, type TensorSlot } from '../models/model.js'
import { GraphBuilder, int, ints } from './builder.js'
import { onnx } from './proto.js'

const { DataType } = onnx.TensorProto

/**
 * Names of the train-step graph's inputs and outputs (see {@link buildTrainStepGraph}). Model
 * tensors are passed one per layout slot: `param(slot)` is e.g. `dense0.weight`.
 *
 * @example
 * ```ts
 * TRAIN_STEP_IO.velocity('dense0.weight') // 'velocity/dense0.weight'
 * ```
 */
export const TRAIN_STEP_IO = {
  x: 'x',
  y: 'y',
  lr: 'lr',
  momentum: 'momentum',
  weightDecay: 'weight_decay',
  proxMu: 'prox_mu',
  loss: 'loss',
  param: (slot: string) => slot,
  velocity: (slot: string) => `velocity/${slot}`,
  global: (slot: string) => `global/${slot}`,
  paramOut: (slot: string) => `${slot}/out`,
  velocityOut: (slot: string) => `velocity/${slot}/out`,
} as const

/** Names of the evaluation graph's inputs and outputs (see {@link buildEvalGraph}). */
export const EVAL_IO = { params: 'params', x: 'x', logits: 'logits', logProbs: 'log_probs' } as const

/** Input and output names of an exported inference model (see {@link buildInferenceModel}). */
export const INFERENCE_IO = { input: 'input', logits: 'logits', probabilities: 'probabilities' } as const

interface ConvForward {
  /** Input of the stage, `[N, C, H, W]`. */
  input: string
  weight: string
  /** Convolution output before ReLU. */
  z: string
  /** ReLU output (what the pool reads). */
  relu: string
  /** Flat indices of the pooled maxima (training graphs only). */
  indices: string | undefined
  /** Pooled output. */
  out: string
}

interface Forward {
  /** The conv stages (CNNs only). */
  convs: ConvForward[]
  /** Pre-activations of each dense layer (the last one is the logits). */
  z: string[]
  /** Input of each dense layer (`a[0]` is x or the flattened conv output, `a[l]` = Relu(z[l-1])). */
  a: string[]
  /** Weight tensor name of each dense layer. */
  w: string[]
}

function forward(
  g: GraphBuilder,
  arch: Architecture,
  x: string,
  tensor: (slot: TensorSlot) => string,
  options: { poolIndices?: boolean } = {},
): Forward {
  const slots = layerSlots(arch)
  const out: Forward = { convs: [], z: [], a: [], w: [] }
  let a = x
  if (arch.kind === 'cnn') {
    a = g.op('Reshape', [x, g.int64([-1, ...arch.inputShape])])
    convStages(arch).forEach((_, l) => {
      const weight = tensor(slots.conv[l]!.weight)
      const z = g.op('Conv', [a, weight, tensor(slots.conv[l]!.bias)])
      const relu = g.op('Relu', [z])
      const pool = { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }
      const [pooled, indices] =
        options.poolIndices === true ? g.opMulti('MaxPool', [relu], pool, 2) : [g.op('MaxPool', [relu], pool)]
      out.convs.push({ input: a, weight, z, relu, indices, out: pooled! })
      a = pooled!
    })
    a = g.op('Flatten', [a], { axis: int(1) })
  }
  out.a.push(a)
  denseLayers(arch).forEach((layer, l) => {
    const w = tensor(slots.dense[l]!.weight)
    const b = tensor(slots.dense[l]!.bias)
    const z = g.op('Gemm', [out.a[l]!, w, b])
    out.w.push(w)
    out.z.push(z)
    if (layer.activation === 'relu') out.a.push(g.op('Relu', [z]))
  })
  return out
}

function sliceOf(g: GraphBuilder, flat: string, slot: TensorSlot): string {
  const s = g.op('Slice', [flat, g.int64([slot.offset]), g.int64([slot.offset + slot.size]), g.int64([0])])
  return slot.shape.length === 1 ? s : g.op('Reshape', [s, g.int64(slot.shape)])
}

/** Options of {@link buildTrainStepGraph}: which optional terms the compiled step has. */
export interface TrainStepGraphOptions {
  /**
   * Keep a momentum buffer (inputs `velocity/<slot>` and scalar `momentum`, outputs
   * `velocity/<slot>/out`). Default true; false gives plain SGD `w' = w − lr · g`.
   */
  momentum?: boolean
  /** Add `weight_decay · w` to the gradient (scalar input `weight_decay`). Default true. */
  weightDecay?: boolean
  /** Add the FedProx term `prox_mu · (w − global)` (inputs `global/<slot>`, scalar `prox_mu`). Default false. */
  prox?: boolean
}

/**
 * Builds one SGD step of an architecture as an ONNX graph (opset 13): forward pass, softmax
 * cross-entropy, a hand-written backward pass (Gemm with transA/transB for the weight and input
 * gradients, Greater + Where for the ReLU gradient, ReduceSum for the bias gradients; for CNN
 * stages, MaxPool's indices + ScatterElements to unpool, a Conv of the transposed input with the
 * transposed output gradient for the filter gradient, ConvTranspose for the input gradient), then
 *
 * ```
 * g  = ∇ mean-cross-entropy [+ weight_decay · w] [+ prox_mu · (w − global)]
 * v' = momentum · v + g           (without momentum: v' = g)
 * w' = w − lr · v'
 * ```
 *
 * Inputs: one tensor per layout slot (`dense0.weight [in, out]`, `dense0.bias [out]`, …),
 * `x [N, inputSize]`, `y [N, numClasses]` (one-hot), scalar `lr`; with the options, `velocity/<slot>`
 * and scalar `momentum`, scalar `weight_decay`, `global/<slot>` and scalar `prox_mu`.
 * Outputs: `<slot>/out` (and `velocity/<slot>/out`), and `loss` (mean cross-entropy of the batch
 * at `w`). The extra gradient terms are folded into the weight-gradient Gemm (its `C` input), so
 * the optimizer costs few passes over the parameters. The batch dimension is symbolic: one
 * session trains any batch size.
 *
 * @example
 * ```ts
 * const session = await ort.InferenceSession.create(buildTrainStepGraph(mlp(784, [128], 10)))
 * ```
 */
export function buildTrainStepGraph(arch: Architecture, options: TrainStepGraphOptions = {}): Uint8Array {
  const io = TRAIN_STEP_IO
  const withMomentum = options.momentum !== false
  const withDecay = options.weightDecay !== false
  const withProx = options.prox === true
  const layers = denseLayers(arch)
  const layout = modelLayout(arch)
  const C = layers[layers.length - 1]!.outputSize
  const g = new GraphBuilder(`${arch.kind}-train-step`)
  for (const slot of layout.tensors) g.input(io.param(slot.name), slot.shape)
  if (withMomentum) for (const slot of layout.tensors) g.input(io.velocity(slot.name), slot.shape)
  if (withProx) for (const slot of layout.tensors) g.input(io.global(slot.name), slot.shape)
  const x = g.input(io.x, ['batch', inputSizeOf(arch)])
  const y = g.input(io.y, ['batch', C])
  const lr = g.input(io.lr, [])
  const momentum = withMomentum ? g.input(io.momentum, []) : undefined
  const weightDecay = withDecay ? g.input(io.weightDecay, []) : undefined
  const proxMu = withProx ? g.input(io.proxMu, []) : undefined

  const f = forward(g, arch, x, (slot) => io.param(slot.name), { poolIndices: true })
  const logits = f.z[f.z.length - 1]!
  const logProbs = g.op('LogSoftmax', [logits], { axis: int(1) })
  const perSample = g.op('ReduceSum', [g.op('Mul', [y, logProbs]), g.int64([1])], { keepdims: int(0) })
  g.op('Neg', [g.op('ReduceMean', [perSample], { axes: ints([0]), keepdims: int(0) })], {}, io.loss)

  // The terms added to a tensor's data gradient: momentum · v + wd · w + mu · (w − global).
  const extraTerms = (slot: TensorSlot): string | undefined => {
    const terms: string[] = []
    if (momentum !== undefined) terms.push(g.op('Mul', [momentum, io.velocity(slot.name)]))
    if (weightDecay !== undefined) terms.push(g.op('Mul', [weightDecay, io.param(slot.name)]))
    if (proxMu !== undefined) {
      terms.push(g.op('Mul', [proxMu, g.op('Sub', [io.param(slot.name), io.global(slot.name)])]))
    }
    return terms.reduce<string | undefined>((acc, t) => (acc === undefined ? t : g.op('Add', [acc, t])), undefined)
  }
  // the step direction of a tensor is its new velocity, when there is one
  const stepName = (slot: TensorSlot) => (withMomentum ? io.velocityOut(slot.name) : undefined)
  const update = (slot: TensorSlot, step: string) => {
    g.op('Sub', [io.param(slot.name), g.op('Mul', [lr, step])], {}, io.paramOut(slot.name))
  }

  // d(mean CE)/d logits = (softmax − y) / N
  const n = g.op('Cast', [g.op('Gather', [g.op('Shape', [x]), g.int64([0], [])], { axis: int(0) })], {
    to: int(DataType.FLOAT),
  })
  let dz = g.op('Div', [g.op('Sub', [g.op('Exp', [logProbs]), y]), n])
  const zero = g.scalar(0)
  const slots = layerSlots(arch)
  for (let l = layers.length - 1; l >= 0; l--) {
    const wSlot = slots.dense[l]!.weight
    const bSlot = slots.dense[l]!.bias
    // weight: aᵀ · dz (+ extra terms as Gemm's C, accumulated in the same kernel)
    const wExtra = extraTerms(wSlot)
    update(
      wSlot,
      g.op('Gemm', wExtra === undefined ? [f.a[l]!, dz] : [f.a[l]!, dz, wExtra], { transA: int(1) }, stepName(wSlot)),
    )
    // bias: column sums of dz
    const bExtra = extraTerms(bSlot)
    const gb = g.op(
      'ReduceSum',
      [dz, g.int64([0])],
      { keepdims: int(0) },
      bExtra === undefined ? stepName(bSlot) : undefined,
    )
    update(bSlot, bExtra === undefined ? gb : g.op('Add', [gb, bExtra], {}, stepName(bSlot)))
    if (l > 0) {
      const da = g.op('Gemm', [dz, f.w[l]!], { transB: int(1) })
      dz = g.op('Where', [g.op('Greater', [f.z[l - 1]!, zero]), da, zero])
    } else if (f.convs.length > 0) {
      // into the flattened pool output: no activation in between
      dz = g.op('Gemm', [dz, f.w[0]!], { transB: int(1) })
    }
  }
  const nchw = ints([1, 0, 2, 3])
  for (let l = f.convs.length - 1; l >= 0; l--) {
    const c = f.convs[l]!
    const wSlot = slots.conv[l]!.weight
    const bSlot = slots.conv[l]!.bias
    // unpool: scatter the pooled gradient to the positions of the maxima (MaxPool's flat indices)
    const reluFlat = g.op('Reshape', [c.relu, g.int64([-1])])
    const zeros = g.op('Mul', [reluFlat, zero])
    const scattered = g.op(
      'ScatterElements',
      [zeros, g.op('Reshape', [c.indices!, g.int64([-1])]), g.op('Reshape', [dz, g.int64([-1])])],
      { axis: int(0) },
    )
    const dRelu = g.op('Reshape', [scattered, g.op('Shape', [c.relu])])
    const dzc = g.op('Where', [g.op('Greater', [c.z, zero]), dRelu, zero])
    // weight gradient: correlate the input with dz, batch as the channel axis
    //   dW[f, c] = Σ_n x[n, c] ⋆ dz[n, f]  =  Transpose(Conv(xᵀ [C, N, H, W], dzᵀ [F, N, Hc, Wc]))
    const gwT = g.op('Conv', [g.op('Transpose', [c.input], { perm: nchw }), g.op('Transpose', [dzc], { perm: nchw })])
    const wExtra = extraTerms(wSlot)
    const gw = g.op('Transpose', [gwT], { perm: nchw }, wExtra === undefined ? stepName(wSlot) : undefined)
    update(wSlot, wExtra === undefined ? gw : g.op('Add', [gw, wExtra], {}, stepName(wSlot)))
    const bExtra = extraTerms(bSlot)
    const gb = g.op(
      'ReduceSum',
      [dzc, g.int64([0, 2, 3])],
      { keepdims: int(0) },
      bExtra === undefined ? stepName(bSlot) : undefined,
    )
    update(bSlot, bExtra === undefined ? gb : g.op('Add', [gb, bExtra], {}, stepName(bSlot)))
    // input gradient (the previous stage's pooled output): a transposed convolution with W
    if (l > 0) dz = g.op('ConvTranspose', [dzc, c.weight])
  }

  for (const slot of layout.tensors) g.output(io.paramOut(slot.name), slot.shape)
  if (withMomentum) for (const slot of layout.tensors) g.output(io.velocityOut(slot.name), slot.shape)
  g.output(io.loss, [])
  return g.toBytes({ docString: 'vAIn train step: SGD with momentum, weight decay and optional FedProx term' })
}

/**
 * Builds the evaluation graph: inputs `params [P]` and `x [N, inputSize]`, outputs `logits` and
 * `log_probs` (`[N, numClasses]`). Parameters are an input, so one session evaluates any model
 * of the architecture.
 *
 * @example
 * ```ts
 * const session = await ort.InferenceSession.create(buildEvalGraph(arch))
 * ```
 */
export function buildEvalGraph(arch: Architecture): Uint8Array {
  const layers = denseLayers(arch)
  const C = layers[layers.length - 1]!.outputSize
  const g = new GraphBuilder(`${arch.kind}-eval`)
  const params = g.input(EVAL_IO.params, [modelLayout(arch).size])
  const x = g.input(EVAL_IO.x, ['batch', inputSizeOf(arch)])
  const f = forward(g, arch, x, (slot) => sliceOf(g, params, slot))
  const logits = g.op('Identity', [f.z[f.z.length - 1]!], {}, EVAL_IO.logits)
  g.op('LogSoftmax', [logits], { axis: int(1) }, EVAL_IO.logProbs)
  g.output(EVAL_IO.logits, ['batch', C])
  g.output(EVAL_IO.logProbs, ['batch', C])
  return g.toBytes()
}

/**
 * Builds a standard, self-contained ONNX inference model of a trained model: the weights are
 * initializers named after the layout (`dense0.weight` `[in, out]`, `dense0.bias`, `conv0.weight`
 * …), the graph is `Gemm → Relu → … → Gemm` (a CNN starts with `Reshape → (Conv → Relu →
 * MaxPool)+ → Flatten`) with input `input [batch, inputSize]` (flat rows) and outputs `logits`
 * and `probabilities` (Softmax). Any ONNX runtime loads it.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs'
 * writeFileSync('model.onnx', buildInferenceModel(model))
 * ```
 */
export function buildInferenceModel(model: Model, meta: { docString?: string } = {}): Uint8Array {
  const arch = model.architecture
  const layers = denseLayers(arch)
  const C = layers[layers.length - 1]!.outputSize
  const g = new GraphBuilder(arch.kind)
  const x = g.input(INFERENCE_IO.input, ['batch', inputSizeOf(arch)])
  const f = forward(g, arch, x, (slot) =>
    g.floatTensor(slot.name, slot.shape, model.params.subarray(slot.offset, slot.offset + slot.size)),
  )
  const logits = g.op('Identity', [f.z[f.z.length - 1]!], {}, INFERENCE_IO.logits)
  g.op('Softmax', [logits], { axis: int(1) }, INFERENCE_IO.probabilities)
  g.output(INFERENCE_IO.logits, ['batch', C])
  g.output(INFERENCE_IO.probabilities, ['batch', C])
  return g.toBytes({ docString: meta.docString ?? `vAIn ${arch.kind} exported by @vain/fl` })
}
