import { InvalidModelError, UnsupportedModelError } from '../errors.js'
import { type Architecture, convStages, denseLayers, parseArchitecture } from '../models/architecture.js'
import { assertParams, layerSlots, type Model, modelLayout } from '../models/model.js'
import { buildInferenceModel } from './graphs.js'
import { type ModelProto, type NodeProto, onnx, type TensorProto } from './proto.js'

/** Default upper bound on the size of an ONNX file {@link importOnnx} accepts (256 MiB). */
export const DEFAULT_MAX_ONNX_BYTES = 256 * 1024 * 1024

/**
 * Exports a model as a standard ONNX inference model (opset 13): input `input [batch, inputSize]`,
 * outputs `logits` and `probabilities`, weights as initializers. Loads in plain onnxruntime (any
 * language) and in any runtime that implements Gemm, Relu and Softmax.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises'
 * import * as ort from 'onnxruntime-node'
 *
 * await writeFile('mnist-mlp.onnx', exportOnnx(result.model))
 * const session = await ort.InferenceSession.create('mnist-mlp.onnx')
 * ```
 */
export function exportOnnx(model: Model): Uint8Array {
  const arch = parseArchitecture(model.architecture)
  assertParams(arch, model.params)
  return buildInferenceModel({ architecture: arch, params: model.params })
}

/** Options of {@link importOnnx}. */
export interface ImportOnnxOptions {
  /** Reject files larger than this (default {@link DEFAULT_MAX_ONNX_BYTES}). */
  maxBytes?: number
}

interface Dense {
  weight: Float32Array // [in, out], row-major
  bias: Float32Array
  inputSize: number
  outputSize: number
  relu: boolean
}

/** Ops that may end the chain (their outputs feed nothing we import). */
const TERMINAL = new Set(['Softmax', 'LogSoftmax', 'ArgMax'])
/** Ops that change nothing at inference time. */
const PASS_THROUGH = new Set(['Identity', 'Dropout'])

/**
 * Imports an ONNX inference model of a supported architecture back into a {@link Model}, to
 * continue training it. Supported graphs: one data input, then a chain of dense layers — `Gemm`
 * (any `transB`, `alpha`, `beta`, with or without bias) or `MatMul` + `Add` — with `Relu` between
 * them; optional `Flatten` at the start, `Identity`/`Dropout` anywhere, and
 * `Softmax`/`LogSoftmax`/`ArgMax` at the end. A CNN may precede the dense layers: an input
 * `[N, C, H, W]` (or flat rows and a constant `Reshape`), then stages of `Conv` (square kernel,
 * stride 1, no padding, one group) → `Relu` → `MaxPool` (2×2, stride 2), then `Flatten`. That
 * covers models exported by {@link exportOnnx} and by PyTorch (`nn.Sequential` of
 * `Conv2d`/`ReLU`/`MaxPool2d`/`Flatten`/`Linear`). One dense layer and no conv gives a softmax
 * regression, more an MLP, conv stages a CNN.
 *
 * Throws {@link InvalidModelError} for bytes that are not a valid ONNX model or whose weights are
 * malformed, and {@link UnsupportedModelError} for a valid model of another architecture.
 *
 * @example
 * ```ts
 * const model = importOnnx(await readFile('mlp.onnx'))
 * const more = await trainer.train(model, data, { epochs: 1, batchSize: 32, lr: 0.01 })
 * ```
 */
export function importOnnx(bytes: Uint8Array, options: ImportOnnxOptions = {}): Model {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ONNX_BYTES
  if (!(bytes instanceof Uint8Array)) throw new InvalidModelError('an ONNX model must be a Uint8Array')
  if (bytes.length > maxBytes) throw new InvalidModelError(`ONNX model of ${bytes.length} bytes exceeds ${maxBytes}`)
  let proto: ModelProto
  try {
    proto = onnx.ModelProto.decode(bytes)
  } catch (err) {
    throw new InvalidModelError('not an ONNX model (protobuf decoding failed)', { cause: err })
  }
  const graph = proto.graph
  if (graph === null || graph === undefined) throw new InvalidModelError('ONNX model has no graph')
  for (const opset of proto.opsetImport ?? []) {
    if ((opset.domain ?? '') !== '' && opset.domain !== 'ai.onnx') {
      throw new UnsupportedModelError(`ONNX model uses the custom operator domain ${opset.domain}`)
    }
  }

  // constants: initializers and Constant nodes
  const constants = new Constants()
  for (const t of graph.initializer ?? []) constants.set(t.name ?? '', t)
  const nodes = graph.node ?? []
  for (const node of nodes) {
    if (node.opType !== 'Constant' || (node.domain ?? '') !== '') continue
    const value = (node.attribute ?? []).find((a) => a.name === 'value')?.t
    if (value === undefined || value === null || node.output?.length !== 1) {
      throw new UnsupportedModelError('Constant nodes must carry a tensor `value`')
    }
    constants.set(node.output[0]!, value)
  }

  const dataInputs = (graph.input ?? []).map((i) => i.name ?? '').filter((name) => !constants.has(name))
  if (dataInputs.length !== 1) {
    throw new UnsupportedModelError(`expected one data input, found ${dataInputs.length} (${dataInputs.join(', ')})`)
  }
  const consumers = new Map<string, NodeProto[]>()
  for (const node of nodes) {
    if (node.opType === 'Constant') continue
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') {
      throw new UnsupportedModelError(`node ${node.name ?? ''} uses the custom domain ${node.domain}`)
    }
    for (const input of node.input ?? []) {
      if (input === '' || constants.has(input)) continue
      const list = consumers.get(input) ?? []
      list.push(node)
      consumers.set(input, list)
    }
  }

  const layers: Dense[] = []
  const convs: ConvImport[] = []
  let inputShape: number[] | undefined
  let flattened = false
  const visited = new Set<NodeProto>()
  let current = dataInputs[0]!
  let pendingMatMul: { weight: Float32Array; inputSize: number; outputSize: number } | undefined
  for (;;) {
    const next = (consumers.get(current) ?? []).filter((n) => !TERMINAL.has(n.opType ?? ''))
    for (const n of consumers.get(current) ?? []) if (TERMINAL.has(n.opType ?? '')) visited.add(n)
    if (next.length === 0) break
    if (next.length > 1) throw new UnsupportedModelError(`value ${current} feeds ${next.length} operators: not a chain`)
    const node = next[0]!
    if (visited.has(node))
      throw new UnsupportedModelError(`the graph has a cycle through ${node.opType} ${node.name ?? ''}`)
    visited.add(node)
    const op = node.opType ?? ''
    let inputs = node.input ?? []
    if (op === 'Add' && inputs.length === 2 && inputs[1] === current) inputs = [inputs[1], inputs[0]!] // commutative
    if (inputs[0] !== current)
      throw new UnsupportedModelError(`${op} node ${node.name ?? ''}: the chain must be its first input`)
    if (pendingMatMul !== undefined && op !== 'Add') {
      layers.push({ ...pendingMatMul, bias: new Float32Array(pendingMatMul.outputSize), relu: false })
      pendingMatMul = undefined
    }
    if (op === 'Gemm') {
      layers.push(gemmLayer(node, constants))
    } else if (op === 'MatMul') {
      const w = constants.get(inputs[1] ?? '')
      if (w === undefined || w.dims.length !== 2) throw new UnsupportedModelError('MatMul needs a constant 2-D weight')
      pendingMatMul = { weight: w.data, inputSize: w.dims[0]!, outputSize: w.dims[1]! }
    } else if (op === 'Add') {
      const b = constants.get(inputs[1] ?? '')
      if (pendingMatMul === undefined || b === undefined) {
        throw new UnsupportedModelError('Add is supported only as the bias of a MatMul, with a constant bias')
      }
      layers.push({ ...pendingMatMul, bias: biasOf(b, pendingMatMul.outputSize), relu: false })
      pendingMatMul = undefined
    } else if (op === 'Relu' && convs.length > 0 && !flattened) {
      const last = convs.at(-1)!
      if (last.relu) throw new UnsupportedModelError('Relu must follow a Conv')
      last.relu = true
    } else if (op === 'Relu') {
      const last = layers.at(-1)
      if (last === undefined || last.relu) throw new UnsupportedModelError('Relu must follow a dense layer')
      last.relu = true
    } else if (op === 'Conv') {
      if (layers.length > 0 || flattened) throw new UnsupportedModelError('Conv after a dense layer is not supported')
      const prev = convs.at(-1)
      if (prev !== undefined && !prev.pooled)
        throw new UnsupportedModelError('each Conv must be followed by Relu and MaxPool')
      convs.push(convLayer(node, constants))
    } else if (op === 'MaxPool') {
      const last = convs.at(-1)
      if (last === undefined || !last.relu || last.pooled || flattened) {
        throw new UnsupportedModelError('MaxPool is supported only after Conv → Relu')
      }
      checkPool(node)
      last.pooled = true
    } else if (op === 'Flatten' || (op === 'Reshape' && (convs.length > 0 || layers.length > 0))) {
      if (layers.length > 0 || flattened)
        throw new UnsupportedModelError(`${op} is supported only before the first dense layer`)
      if (op === 'Flatten') {
        const axis = toNumber((node.attribute ?? []).find((a) => a.name === 'axis')?.i ?? 1)
        if (axis !== 1) throw new UnsupportedModelError(`Flatten with axis ${axis} is not supported`)
      } else {
        const shape = constants.getInts(inputs[1] ?? '')
        if (shape === undefined || shape.length !== 2 || !(shape[0] === 0 || shape[0] === -1)) {
          throw new UnsupportedModelError('Reshape before the dense layers must be a constant [N, features] flatten')
        }
      }
      if (convs.length > 0) {
        if (!convs.at(-1)!.pooled) throw new UnsupportedModelError('the last Conv must be followed by Relu and MaxPool')
        flattened = true
      }
    } else if (op === 'Reshape') {
      // the input reshape of a CNN taking flat rows: [N | -1 | 0, C, H, W]
      const shape = constants.getInts(inputs[1] ?? '')
      if (shape === undefined || shape.length !== 4 || shape.slice(1).some((d) => d < 1)) {
        throw new UnsupportedModelError('an input Reshape must have a constant [N, C, H, W] shape')
      }
      inputShape = shape.slice(1)
    } else if (!PASS_THROUGH.has(op)) {
      throw new UnsupportedModelError(`operator ${op} is not supported (softmax-regression, MLP and CNN chains only)`)
    }
    if (node.output?.length !== 1 && op !== 'Dropout') {
      throw new UnsupportedModelError(`${op} node ${node.name ?? ''} must have one output`)
    }
    current = node.output?.[0] ?? ''
  }
  if (pendingMatMul !== undefined) {
    layers.push({ ...pendingMatMul, bias: new Float32Array(pendingMatMul.outputSize), relu: false })
  }
  if (convs.length > 0) {
    if (!flattened) throw new UnsupportedModelError('the conv stages must end in Flatten before the dense layers')
    if (inputShape === undefined) {
      // no input Reshape: the data input itself must be [N, C, H, W]
      const info = (graph.input ?? []).find((i) => i.name === dataInputs[0])
      const dims = (info?.type?.tensorType?.shape?.dim ?? []).map((d) => toNumber(d.dimValue ?? 0))
      if (dims.length !== 4 || dims.slice(1).some((d) => !(d >= 1))) {
        throw new UnsupportedModelError('a CNN input must be declared [N, C, H, W] or reshaped from flat rows')
      }
      inputShape = dims.slice(1)
    }
  }
  const stray = nodes.filter((n) => n.opType !== 'Constant' && !visited.has(n))
  if (stray.length > 0) {
    throw new UnsupportedModelError(`operators outside the layer chain: ${stray.map((n) => n.opType).join(', ')}`)
  }
  if (layers.length === 0) throw new UnsupportedModelError('no dense layer found')
  layers.forEach((layer, l) => {
    const isLast = l === layers.length - 1
    if (layer.relu === isLast) {
      throw new UnsupportedModelError(
        isLast ? 'the output layer must not have a ReLU (logits)' : `hidden layer ${l} has no ReLU after it`,
      )
    }
    if (l > 0 && layers[l - 1]!.outputSize !== layer.inputSize) {
      throw new UnsupportedModelError(
        `layer ${l} takes ${layer.inputSize} inputs but layer ${l - 1} gives ${layers[l - 1]!.outputSize}`,
      )
    }
  })

  let arch: Architecture
  try {
    if (convs.length > 0) {
      arch = parseArchitecture({
        kind: 'cnn',
        inputShape,
        convs: convs.map((c) => ({ filters: c.filters, kernel: c.kernel })),
        hiddenSizes: layers.slice(0, -1).map((l) => l.outputSize),
        numClasses: layers.at(-1)!.outputSize,
      })
    } else if (layers.length === 1) {
      arch = parseArchitecture({
        kind: 'softmax-regression',
        inputSize: layers[0]!.inputSize,
        numClasses: layers[0]!.outputSize,
      })
    } else {
      arch = parseArchitecture({
        kind: 'mlp',
        inputSize: layers[0]!.inputSize,
        hiddenSizes: layers.slice(0, -1).map((l) => l.outputSize),
        numClasses: layers.at(-1)!.outputSize,
      })
    }
  } catch (err) {
    throw new UnsupportedModelError(
      `the imported layers do not form a supported architecture: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  const stages = convStages(arch)
  stages.forEach((st, l) => {
    if (convs[l]!.inChannels !== st.inChannels) {
      throw new UnsupportedModelError(
        `Conv ${l} takes ${convs[l]!.inChannels} channels, its input has ${st.inChannels}`,
      )
    }
  })
  const denseIn = denseLayers(arch)[0]!.inputSize
  if (denseIn !== layers[0]!.inputSize) {
    throw new UnsupportedModelError(
      `the first dense layer takes ${layers[0]!.inputSize} inputs, the layers before give ${denseIn}`,
    )
  }
  const slots = layerSlots(arch)
  const params = new Float32Array(modelLayout(arch).size)
  convs.forEach((c, l) => {
    params.set(c.weight, slots.conv[l]!.weight.offset)
    params.set(c.bias, slots.conv[l]!.bias.offset)
  })
  layers.forEach((layer, l) => {
    params.set(layer.weight, slots.dense[l]!.weight.offset)
    params.set(layer.bias, slots.dense[l]!.bias.offset)
  })
  assertParams(arch, params, 'imported weights')
  return { architecture: arch, params }
}

interface ConvImport {
  weight: Float32Array // [F, C, k, k]
  bias: Float32Array
  filters: number
  inChannels: number
  kernel: number
  relu: boolean
  pooled: boolean
}

function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name)
  return a === undefined ? undefined : (a.ints ?? []).map((v) => toNumber(v as number | { toNumber(): number }))
}

function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name)
  return a?.i === undefined || a.i === null ? fallback : toNumber(a.i)
}

function attrString(node: NodeProto, name: string): string {
  const a = (node.attribute ?? []).find((x) => x.name === name)
  return a?.s === undefined || a.s === null ? '' : new TextDecoder().decode(a.s)
}

function convLayer(node: NodeProto, constants: Constants): ConvImport {
  const inputs = node.input ?? []
  const w = constants.get(inputs[1] ?? '')
  if (w === undefined || w.dims.length !== 4) throw new UnsupportedModelError('Conv needs a constant 4-D weight')
  const [filters, inChannels, kh, kw] = w.dims as [number, number, number, number]
  if (kh !== kw) throw new UnsupportedModelError(`Conv kernels must be square (got ${kh}×${kw})`)
  const ones = (v: number[] | undefined) => v === undefined || v.every((x) => x === 1)
  const zeros = (v: number[] | undefined) => v === undefined || v.every((x) => x === 0)
  const autoPad = attrString(node, 'auto_pad')
  if (
    !ones(attrInts(node, 'strides')) ||
    !ones(attrInts(node, 'dilations')) ||
    !zeros(attrInts(node, 'pads')) ||
    attrInt(node, 'group', 1) !== 1 ||
    !(autoPad === '' || autoPad === 'NOTSET' || autoPad === 'VALID')
  ) {
    throw new UnsupportedModelError('only Conv with stride 1, no padding, no dilation and one group is supported')
  }
  let bias: Float32Array = new Float32Array(filters)
  if ((inputs[2] ?? '') !== '') {
    const b = constants.get(inputs[2]!)
    if (b === undefined) throw new UnsupportedModelError('Conv bias must be a constant')
    bias = biasOf(b, filters)
  }
  return { weight: w.data, bias, filters, inChannels, kernel: kh, relu: false, pooled: false }
}

function checkPool(node: NodeProto): void {
  const same = (v: number[] | undefined, want: number[]) =>
    v !== undefined && v.length === want.length && v.every((x, i) => x === want[i])
  const pads = attrInts(node, 'pads')
  const autoPad = attrString(node, 'auto_pad')
  if (
    !same(attrInts(node, 'kernel_shape'), [2, 2]) ||
    !same(attrInts(node, 'strides'), [2, 2]) ||
    !(pads === undefined || pads.every((p) => p === 0)) ||
    attrInt(node, 'ceil_mode', 0) !== 0 ||
    !(autoPad === '' || autoPad === 'NOTSET' || autoPad === 'VALID') ||
    (node.output ?? []).length !== 1
  ) {
    throw new UnsupportedModelError('only MaxPool 2×2 with stride 2, no padding, floor mode is supported')
  }
}

/** Named constant tensors, read (and checked) only when a layer uses them. */
class Constants {
  private readonly protos = new Map<string, TensorProto>()
  set(name: string, t: TensorProto): void {
    this.protos.set(name, t)
  }
  has(name: string): boolean {
    return this.protos.has(name)
  }
  get(name: string): { dims: number[]; data: Float32Array } | undefined {
    const t = this.protos.get(name)
    return t === undefined ? undefined : readTensor(t)
  }
  /** An int64 constant as numbers (e.g. a Reshape's shape). */
  getInts(name: string): number[] | undefined {
    const t = this.protos.get(name)
    if (t === undefined || t.dataType !== onnx.TensorProto.DataType.INT64) return undefined
    if (t.rawData !== null && t.rawData !== undefined && t.rawData.length > 0) {
      if (t.rawData.length % 8 !== 0 || t.rawData.length > 64) return undefined
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength)
      return Array.from({ length: t.rawData.length / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)))
    }
    return (t.int64Data ?? []).map((v) => toNumber(v as number | { toNumber(): number }))
  }
}

function gemmLayer(node: NodeProto, constants: Constants): Dense {
  const attr = (name: string) => (node.attribute ?? []).find((a) => a.name === name)
  const alpha = attr('alpha')?.f ?? 1
  const beta = attr('beta')?.f ?? 1
  const transA = toNumber(attr('transA')?.i ?? 0)
  const transB = toNumber(attr('transB')?.i ?? 0)
  if (transA !== 0) throw new UnsupportedModelError('Gemm with transA = 1 on the data path is not supported')
  const inputs = node.input ?? []
  const w = constants.get(inputs[1] ?? '')
  if (w === undefined || w.dims.length !== 2) throw new UnsupportedModelError('Gemm needs a constant 2-D weight')
  const [rows, cols] = w.dims as [number, number]
  const inputSize = transB === 0 ? rows : cols
  const outputSize = transB === 0 ? cols : rows
  const weight = new Float32Array(inputSize * outputSize)
  for (let i = 0; i < inputSize; i++) {
    for (let j = 0; j < outputSize; j++) {
      weight[i * outputSize + j] = alpha * (transB === 0 ? w.data[i * cols + j]! : w.data[j * cols + i]!)
    }
  }
  let bias = new Float32Array(outputSize)
  if ((inputs[2] ?? '') !== '') {
    const b = constants.get(inputs[2]!)
    if (b === undefined) throw new UnsupportedModelError('Gemm bias must be a constant')
    bias = biasOf(b, outputSize).map((v) => v * beta)
  }
  return { weight, bias, inputSize, outputSize, relu: false }
}

function biasOf(b: { dims: number[]; data: Float32Array }, outputSize: number): Float32Array {
  if (b.data.length === outputSize) return b.data.slice()
  if (b.data.length === 1) return new Float32Array(outputSize).fill(b.data[0]!)
  throw new UnsupportedModelError(`bias of shape [${b.dims.join(', ')}] does not broadcast to [${outputSize}]`)
}

function toNumber(v: number | { toNumber(): number }): number {
  return typeof v === 'number' ? v : v.toNumber()
}

function readTensor(t: TensorProto): { dims: number[]; data: Float32Array } {
  const dims = (t.dims ?? []).map((d) => toNumber(d as number | { toNumber(): number }))
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new InvalidModelError(`tensor ${t.name}: bad dims`)
  const count = dims.reduce((a, b) => a * b, 1)
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new UnsupportedModelError(`tensor ${t.name}: only float32 weights are supported (data type ${t.dataType})`)
  }
  if ((t.externalData ?? []).length > 0 || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new UnsupportedModelError(`tensor ${t.name}: external data is not supported`)
  }
  let data: Float32Array
  if (t.rawData !== null && t.rawData !== undefined && t.rawData.length > 0) {
    if (t.rawData.length !== 4 * count) {
      throw new InvalidModelError(`tensor ${t.name}: ${t.rawData.length} raw bytes for ${count} floats`)
    }
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength)
    data = new Float32Array(count)
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true)
  } else {
    const values = t.floatData ?? []
    if (values.length !== count) throw new InvalidModelError(`tensor ${t.name}: ${values.length} floats for ${count}`)
    data = Float32Array.from(values)
  }
  return { dims, data }
}
