import { z } from 'zod'
import { ConfigError } from '../errors.js'

/** Largest number of parameters a model may have (guards allocations made from untrusted headers). */
export const MAX_PARAMETERS = 64 * 1024 * 1024

const size = (max: number) => z.number().int().min(1).max(max)

/** zod schema of a softmax regression (a single dense layer followed by softmax). */
export const SoftmaxRegressionSchema = z.strictObject({
  kind: z.literal('softmax-regression'),
  inputSize: size(1 << 24),
  numClasses: size(1 << 16).min(2),
})

/** zod schema of a multi-layer perceptron with ReLU hidden layers and a softmax output. */
export const MlpSchema = z.strictObject({
  kind: z.literal('mlp'),
  inputSize: size(1 << 24),
  hiddenSizes: z
    .array(size(1 << 20))
    .min(1)
    .max(32),
  numClasses: size(1 << 16).min(2),
})

/**
 * zod schema of a small convolutional network: `convs.length` stages of
 * `Conv(k×k, stride 1, no padding) → ReLU → MaxPool(2×2, stride 2)`, then `Flatten`, then dense
 * layers (`hiddenSizes` with ReLU, then the logits). Inputs are flat rows of
 * `channels × height × width` values (NCHW order, e.g. 1×28×28 for MNIST).
 */
export const CnnSchema = z
  .strictObject({
    kind: z.literal('cnn'),
    inputShape: z.tuple([size(64), size(1024), size(1024)]),
    convs: z
      .array(z.strictObject({ filters: size(1024), kernel: size(15) }))
      .min(1)
      .max(8),
    hiddenSizes: z.array(size(1 << 20)).max(32),
    numClasses: size(1 << 16).min(2),
  })
  .superRefine((arch, ctx) => {
    let [, h, w] = arch.inputShape
    arch.convs.forEach((conv, l) => {
      h = Math.floor((h - conv.kernel + 1) / 2)
      w = Math.floor((w - conv.kernel + 1) / 2)
      if (h < 1 || w < 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['convs', l],
          message: `conv stage ${l} leaves no pixels (${h}×${w}): use smaller kernels or fewer stages`,
        })
      }
    })
  })

/**
 * zod schema of every architecture `@vain/fl` trains (use it to validate config files).
 *
 * @example
 * ```ts
 * const Job = z.object({ model: ArchitectureSchema, rounds: z.number().int() })
 * ```
 */
export const ArchitectureSchema = z.discriminatedUnion('kind', [SoftmaxRegressionSchema, MlpSchema, CnnSchema])

/** A softmax regression: `logits = x · W + b`. */
export type SoftmaxRegression = z.infer<typeof SoftmaxRegressionSchema>
/** An MLP: `Gemm → ReLU → … → Gemm`, softmax on the logits. */
export type Mlp = z.infer<typeof MlpSchema>
/** A CNN: `(Conv → ReLU → MaxPool)+ → Flatten → (Gemm → ReLU)* → Gemm`. */
export type Cnn = z.infer<typeof CnnSchema>
/** A named model architecture (discriminated by `kind`). */
export type Architecture = z.infer<typeof ArchitectureSchema>

/** One `Conv → ReLU → MaxPool(2×2)` stage of a CNN, with the shapes it sees. */
export interface ConvStage {
  readonly inChannels: number
  readonly filters: number
  readonly kernel: number
  /** Input height and width. */
  readonly inHeight: number
  readonly inWidth: number
  /** Convolution output (before pooling): `in − kernel + 1`. */
  readonly convHeight: number
  readonly convWidth: number
  /** Pooled output: `floor(conv / 2)`. */
  readonly outHeight: number
  readonly outWidth: number
}

/** One dense (fully connected) layer of an architecture. */
export interface DenseLayer {
  readonly inputSize: number
  readonly outputSize: number
  /** `relu` on hidden layers, `none` on the output (logits) layer. */
  readonly activation: 'relu' | 'none'
}

/**
 * Validates an unknown value as an {@link Architecture}; throws {@link ConfigError} listing every
 * problem, including a parameter count above {@link MAX_PARAMETERS}.
 *
 * @example
 * ```ts
 * const arch = parseArchitecture({ kind: 'mlp', inputSize: 784, hiddenSizes: [128], numClasses: 10 })
 * ```
 */
export function parseArchitecture(value: unknown): Architecture {
  const parsed = ArchitectureSchema.safeParse(value)
  if (!parsed.success) {
    throw new ConfigError(
      'invalid architecture',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  }
  const count = countParameters(parsed.data)
  if (count > MAX_PARAMETERS) {
    throw new ConfigError(`architecture has ${count} parameters, more than the limit of ${MAX_PARAMETERS}`)
  }
  return parsed.data
}

/**
 * A softmax-regression architecture.
 *
 * @example
 * ```ts
 * const arch = softmaxRegression(784, 10) // 7,850 parameters
 * ```
 */
export function softmaxRegression(inputSize: number, numClasses: number): SoftmaxRegression {
  return parseArchitecture({ kind: 'softmax-regression', inputSize, numClasses }) as SoftmaxRegression
}

/**
 * An MLP architecture with ReLU hidden layers of the given sizes.
 *
 * @example
 * ```ts
 * const arch = mlp(784, [128, 64], 10)
 * ```
 */
export function mlp(inputSize: number, hiddenSizes: readonly number[], numClasses: number): Mlp {
  return parseArchitecture({ kind: 'mlp', inputSize, hiddenSizes: [...hiddenSizes], numClasses }) as Mlp
}

/**
 * A CNN architecture: conv stages (`filters`, `kernel`), then dense hidden layers.
 *
 * @example
 * ```ts
 * const lenet = cnn([1, 28, 28], [{ filters: 8, kernel: 5 }, { filters: 16, kernel: 5 }], [64], 10)
 * ```
 */
export function cnn(
  inputShape: readonly [number, number, number],
  convs: readonly { filters: number; kernel: number }[],
  hiddenSizes: readonly number[],
  numClasses: number,
): Cnn {
  return parseArchitecture({
    kind: 'cnn',
    inputShape: [...inputShape],
    convs: convs.map((c) => ({ filters: c.filters, kernel: c.kernel })),
    hiddenSizes: [...hiddenSizes],
    numClasses,
  }) as Cnn
}

/**
 * Number of input features of an architecture (`channels × height × width` for a CNN).
 *
 * @example
 * ```ts
 * inputSizeOf(mlp(784, [128], 10)) // 784
 * ```
 */
export function inputSizeOf(arch: Architecture): number {
  return arch.kind === 'cnn' ? arch.inputShape[0] * arch.inputShape[1] * arch.inputShape[2] : arch.inputSize
}

/**
 * The conv stages of a CNN (empty for other architectures), input to output.
 *
 * @example
 * ```ts
 * convStages(cnn([1, 28, 28], [{ filters: 8, kernel: 5 }], [], 10))[0] // { …, convHeight: 24, outHeight: 12 }
 * ```
 */
export function convStages(arch: Architecture): ConvStage[] {
  if (arch.kind !== 'cnn') return []
  let [c, h, w] = arch.inputShape
  return arch.convs.map((conv) => {
    const convHeight = h - conv.kernel + 1
    const convWidth = w - conv.kernel + 1
    const stage: ConvStage = {
      inChannels: c,
      filters: conv.filters,
      kernel: conv.kernel,
      inHeight: h,
      inWidth: w,
      convHeight,
      convWidth,
      outHeight: Math.floor(convHeight / 2),
      outWidth: Math.floor(convWidth / 2),
    }
    c = conv.filters
    h = stage.outHeight
    w = stage.outWidth
    return stage
  })
}

/**
 * The dense layers of an architecture, input to output (for a CNN, those after `Flatten`).
 *
 * @example
 * ```ts
 * denseLayers(mlp(4, [8], 3)) // [{ inputSize: 4, outputSize: 8, activation: 'relu' }, { 8 → 3, 'none' }]
 * ```
 */
export function denseLayers(arch: Architecture): DenseLayer[] {
  let sizes: number[]
  if (arch.kind === 'mlp') sizes = [arch.inputSize, ...arch.hiddenSizes, arch.numClasses]
  else if (arch.kind === 'softmax-regression') sizes = [arch.inputSize, arch.numClasses]
  else {
    const last = convStages(arch).at(-1)!
    sizes = [last.filters * last.outHeight * last.outWidth, ...arch.hiddenSizes, arch.numClasses]
  }
  const layers: DenseLayer[] = []
  for (let l = 0; l + 1 < sizes.length; l++) {
    layers.push({ inputSize: sizes[l]!, outputSize: sizes[l + 1]!, activation: l + 2 < sizes.length ? 'relu' : 'none' })
  }
  return layers
}

/**
 * Number of float32 parameters of an architecture (weights and biases of every layer).
 *
 * @example
 * ```ts
 * countParameters(mlp(784, [128], 10)) // 101,770
 * ```
 */
export function countParameters(arch: Architecture): number {
  let n = 0
  for (const c of convStages(arch)) n += c.filters * c.inChannels * c.kernel * c.kernel + c.filters
  for (const layer of denseLayers(arch)) n += layer.inputSize * layer.outputSize + layer.outputSize
  return n
}

/**
 * A canonical JSON text of an architecture: keys in a fixed order, no whitespace. Equal
 * architectures give equal strings, so it can go into hashed bytes.
 *
 * @example
 * ```ts
 * architectureKey(softmaxRegression(4, 3)) // '{"kind":"softmax-regression","inputSize":4,"numClasses":3}'
 * ```
 */
export function architectureKey(arch: Architecture): string {
  switch (arch.kind) {
    case 'mlp':
      return JSON.stringify({
        kind: arch.kind,
        inputSize: arch.inputSize,
        hiddenSizes: arch.hiddenSizes,
        numClasses: arch.numClasses,
      })
    case 'softmax-regression':
      return JSON.stringify({ kind: arch.kind, inputSize: arch.inputSize, numClasses: arch.numClasses })
    case 'cnn':
      return JSON.stringify({
        kind: arch.kind,
        inputShape: arch.inputShape,
        convs: arch.convs.map((c) => ({ filters: c.filters, kernel: c.kernel })),
        hiddenSizes: arch.hiddenSizes,
        numClasses: arch.numClasses,
      })
  }
}
