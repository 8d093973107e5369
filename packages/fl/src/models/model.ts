import { z } from 'zod'
import { ConfigError, InvalidModelError, ShapeMismatchError } from '../errors.js'
import { createRng } from '../random.js'
import { type Architecture, convStages, countParameters, denseLayers, parseArchitecture } from './architecture.js'

/** Where one named tensor lives inside a model's flat parameter vector. */
export interface TensorSlot {
  /** `dense0.weight`, `dense0.bias`, `dense1.weight`... */
  readonly name: string
  /**
   * Row-major shape: dense weights are `[inputSize, outputSize]` (so `z = x · W + b`), conv weights
   * `[filters, inChannels, kernel, kernel]` (ONNX `Conv` layout), biases `[outputSize]` / `[filters]`.
   */
  readonly shape: readonly number[]
  /** Index of the first element in the flat vector. */
  readonly offset: number
  /** Number of elements (product of `shape`). */
  readonly size: number
}

/** The layer layout of a flat parameter vector. */
export interface ParamLayout {
  readonly tensors: readonly TensorSlot[]
  /** Total number of parameters. */
  readonly size: number
}

/**
 * A model: a named architecture plus its parameters as one flat `Float32Array`
 * (see {@link modelLayout} for where each layer's weights and biases are).
 */
export interface Model {
  readonly architecture: Architecture
  readonly params: Float32Array
}

/**
 * The layout of an architecture's flat parameter vector: for each conv stage `l` of a CNN,
 * `conv{l}.weight` (`[filters, inChannels, k, k]`) and `conv{l}.bias`; then for each dense layer
 * `l`, the weight `dense{l}.weight` (`[in, out]`, row-major) followed by the bias `dense{l}.bias`.
 *
 * @example
 * ```ts
 * modelLayout(softmaxRegression(4, 3)).tensors
 * // [{ name: 'dense0.weight', shape: [4, 3], offset: 0, size: 12 }, { name: 'dense0.bias', shape: [3], offset: 12, size: 3 }]
 * ```
 */
export function modelLayout(arch: Architecture): ParamLayout {
  const tensors: TensorSlot[] = []
  let offset = 0
  const push = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1)
    tensors.push({ name, shape, offset, size })
    offset += size
  }
  convStages(arch).forEach((c, l) => {
    push(`conv${l}.weight`, [c.filters, c.inChannels, c.kernel, c.kernel])
    push(`conv${l}.bias`, [c.filters])
  })
  denseLayers(arch).forEach((layer, l) => {
    push(`dense${l}.weight`, [layer.inputSize, layer.outputSize])
    push(`dense${l}.bias`, [layer.outputSize])
  })
  return { tensors, size: offset }
}

/** The weight and bias slots of one layer. */
export interface LayerSlots {
  readonly weight: TensorSlot
  readonly bias: TensorSlot
}

/**
 * The layout grouped by layer: conv stages (CNNs only) then dense layers.
 *
 * @example
 * ```ts
 * layerSlots(mlp(4, [3], 2)).dense[1]!.weight // { name: 'dense1.weight', shape: [3, 2], offset: 15, size: 6 }
 * ```
 */
export function layerSlots(arch: Architecture): { conv: LayerSlots[]; dense: LayerSlots[] } {
  const t = modelLayout(arch).tensors
  const nConv = convStages(arch).length
  const pairs = (from: number, count: number) =>
    Array.from({ length: count }, (_, l) => ({ weight: t[from + 2 * l]!, bias: t[from + 2 * l + 1]! }))
  return { conv: pairs(0, nConv), dense: pairs(2 * nConv, denseLayers(arch).length) }
}

/** Weight initialisation schemes. */
export type InitScheme = 'he' | 'xavier' | 'zeros'

const InitOptionsSchema = z.strictObject({
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  hidden: z.enum(['he', 'xavier', 'zeros']).optional(),
  output: z.enum(['he', 'xavier', 'zeros']).optional(),
})

/** Options of {@link createModel}. */
export interface InitOptions {
  /** Seed of the initialiser (default 0): the same seed gives bit-identical parameters. */
  seed?: number
  /** Scheme of the hidden (ReLU) layers' weights; default `'he'` (normal, std `sqrt(2 / fanIn)`). */
  hidden?: InitScheme
  /** Scheme of the output layer's weights; default `'xavier'` (normal, std `sqrt(2 / (fanIn + fanOut))`). */
  output?: InitScheme
}

/**
 * Creates a model with seeded random weights (He for ReLU layers, Xavier/Glorot for the output
 * layer, unless told otherwise) and zero biases.
 *
 * @example
 * ```ts
 * import { createModel, mlp } from '@vain/fl'
 * const model = createModel(mlp(784, [128], 10), { seed: 1 })
 * model.params.length // 101,770
 * ```
 */
export function createModel(architecture: Architecture, options: InitOptions = {}): Model {
  const arch = parseArchitecture(architecture)
  const parsed = InitOptionsSchema.safeParse(options)
  if (!parsed.success)
    throw new ConfigError(
      'invalid init options',
      parsed.error.issues.map((i) => i.message),
    )
  const { seed = 0, hidden = 'he', output = 'xavier' } = parsed.data
  const rng = createRng(seed)
  const slots = layerSlots(arch)
  const params = new Float32Array(countParameters(arch))
  const fill = (slot: TensorSlot, scheme: InitScheme, fanIn: number, fanOut: number) => {
    const std = scheme === 'he' ? Math.sqrt(2 / fanIn) : scheme === 'xavier' ? Math.sqrt(2 / (fanIn + fanOut)) : 0
    if (std === 0) return
    for (let i = 0; i < slot.size; i++) params[slot.offset + i] = rng.normal() * std
  }
  convStages(arch).forEach((c, l) => {
    const receptive = c.kernel * c.kernel
    fill(slots.conv[l]!.weight, hidden, c.inChannels * receptive, c.filters * receptive)
  })
  denseLayers(arch).forEach((layer, l) => {
    fill(slots.dense[l]!.weight, layer.activation === 'relu' ? hidden : output, layer.inputSize, layer.outputSize)
  })
  return { architecture: arch, params }
}

/**
 * Checks that `params` fits the architecture (length and finiteness) and returns the model;
 * throws {@link ShapeMismatchError} or {@link InvalidModelError}.
 *
 * @example
 * ```ts
 * const model = toModel(mlp(4, [8], 3), new Float32Array(67))
 * ```
 */
export function toModel(architecture: Architecture, params: Float32Array): Model {
  const arch = parseArchitecture(architecture)
  assertParams(arch, params)
  return { architecture: arch, params }
}

/**
 * Throws unless `params` has exactly the architecture's parameter count and only finite values.
 *
 * @example
 * ```ts
 * assertParams(model.architecture, model.params)
 * ```
 */
export function assertParams(arch: Architecture, params: Float32Array, what = 'parameters'): void {
  if (!(params instanceof Float32Array)) throw new InvalidModelError(`${what} must be a Float32Array`)
  const expected = countParameters(arch)
  if (params.length !== expected) throw new ShapeMismatchError(`${what} length`, [expected], [params.length])
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i])) throw new InvalidModelError(`${what}[${i}] is not finite (${params[i]})`)
  }
}

/**
 * A view (no copy) of one named tensor of a model, e.g. `dense0.weight`.
 *
 * @example
 * ```ts
 * const w = tensorView(model, 'dense0.weight') // Float32Array of inputSize × outputSize
 * ```
 */
export function tensorView(model: Model, name: string): Float32Array {
  const slot = modelLayout(model.architecture).tensors.find((t) => t.name === name)
  if (slot === undefined) throw new ConfigError(`no tensor named ${name} in this architecture`)
  return model.params.subarray(slot.offset, slot.offset + slot.size)
}

/**
 * A deep copy of a model (the parameters are copied, the architecture is shared: it is immutable).
 *
 * @example
 * ```ts
 * const copy = cloneModel(model)
 * ```
 */
export function cloneModel(model: Model): Model {
  return { architecture: model.architecture, params: model.params.slice() }
}
