import {
  type AttributeProto,
  type ModelProtoInit,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js'

/** The ONNX operator set every graph of `@vain/fl` is built against. */
export const OPSET_VERSION = 13
/** ONNX IR version written into exported models (IR 8 = ONNX 1.10+, loads in every current runtime). */
export const IR_VERSION = 8

const { DataType } = onnx.TensorProto
const { AttributeType } = onnx.AttributeProto

/** An attribute value: integer, float, list of integers, or string. */
export type Attr = { i: number } | { f: number } | { ints: readonly number[] } | { s: string }

/** Integer attribute. */
export const int = (i: number): Attr => ({ i })
/** Float attribute. */
export const float = (f: number): Attr => ({ f })
/** Integer-list attribute. */
export const ints = (values: readonly number[]): Attr => ({ ints: values })

/** A dimension: a fixed size or a symbolic name such as `'batch'`. */
export type Dim = number | string

/**
 * A minimal builder of ONNX graphs (one default-domain opset). Values are referred to by name;
 * `op()` invents output names. Used for the train-step, evaluation and export graphs.
 */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = []
  private readonly initializers: TensorProto[] = []
  private readonly inputs: ValueInfoProto[] = []
  private readonly outputs: ValueInfoProto[] = []
  private counter = 0
  constructor(readonly name: string) {}

  /** Declares a float32 (or other type) graph input. */
  input(name: string, dims: readonly Dim[], elemType: number = DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, dims, elemType))
    return name
  }

  /** Declares a graph output (the value must be produced under this name, see {@link op}'s `as`). */
  output(name: string, dims: readonly Dim[], elemType: number = DataType.FLOAT): string {
    this.outputs.push(valueInfo(name, dims, elemType))
    return name
  }

  /** A float32 initializer (weights or constants), stored as raw little-endian bytes. */
  floatTensor(name: string, dims: readonly number[], values: Float32Array | readonly number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values)
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    })
    return name
  }

  /** A scalar float32 constant. */
  scalar(value: number, name = this.fresh('c')): string {
    return this.floatTensor(name, [], [value])
  }

  /** An int64 constant of the given dims (a 1-D list by default). */
  int64(values: readonly number[], dims: readonly number[] = [values.length], name = this.fresh('i')): string {
    this.initializers.push({ name, dims: [...dims], dataType: DataType.INT64, int64Data: [...values] })
    return name
  }

  /** Adds a node; returns its single output's name (`as` names it, e.g. for a graph output). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, as?: string): string {
    const out = as ?? this.fresh(opType.toLowerCase())
    this.nodes.push({
      opType,
      name: `${opType}_${this.counter++}`,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([name, a]) => attribute(name, a)),
    })
    return out
  }

  /** Adds a node with several outputs (named `as`, or invented); returns their names. */
  opMulti(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr>,
    outputs: number | readonly string[],
  ): string[] {
    const names =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : [...outputs]
    this.nodes.push({
      opType,
      name: `${opType}_${this.counter++}`,
      input: [...inputs],
      output: names,
      attribute: Object.entries(attrs).map(([name, a]) => attribute(name, a)),
    })
    return names
  }

  /** The graph as an ONNX `ModelProto`, encoded. */
  toBytes(meta: { producerVersion?: string; docString?: string } = {}): Uint8Array {
    const model: ModelProtoInit = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: '@vain/fl',
      producerVersion: meta.producerVersion ?? '0.1.0',
      docString: meta.docString ?? '',
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    }
    return onnx.ModelProto.encode(model).finish()
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`
  }
}

function valueInfo(name: string, dims: readonly Dim[], elemType: number): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

function attribute(name: string, a: Attr): AttributeProto {
  if ('i' in a) return { name, type: AttributeType.INT, i: a.i }
  if ('f' in a) return { name, type: AttributeType.FLOAT, f: a.f }
  if ('ints' in a) return { name, type: AttributeType.INTS, ints: [...a.ints] }
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.s) }
}
