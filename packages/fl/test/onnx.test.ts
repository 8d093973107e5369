import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it } from 'vitest'
import { cnn, createModel, mlp, modelHash, softmaxRegression } from '../src/models/index.js'
import { float, GraphBuilder, int, ints } from '../src/onnx/builder.js'
import { exportOnnx, importOnnx } from '../src/onnx/interchange.js'
import { referenceLogits } from '../src/train/reference.js'
import { createLocalTrainer } from '../src/train/trainer.js'
import { maxAbsDiff, randomBatch } from './fixtures/batches.js'

const trainer = createLocalTrainer()
afterAll(() => trainer.close())

async function runPlain(bytes: Uint8Array | string, input: string, x: Float32Array, dims: number[]) {
  const session =
    typeof bytes === 'string' ? await ort.InferenceSession.create(bytes) : await ort.InferenceSession.create(bytes)
  try {
    const out = await session.run({ [input]: new ort.Tensor('float32', x, dims) })
    return { out, inputNames: session.inputNames, outputNames: session.outputNames }
  } finally {
    await session.release()
  }
}

describe('export to a standard ONNX inference model', () => {
  it('loads in a fresh plain onnxruntime session (from a file) and gives the same outputs', async () => {
    const model = createModel(mlp(12, [10, 6], 5), { seed: 1 })
    const { x } = randomBatch(9, 12, 5, 2)
    const dir = await mkdtemp(join(tmpdir(), 'vain-fl-'))
    try {
      const file = join(dir, 'model.onnx')
      await writeFile(file, exportOnnx(model))
      const { out, inputNames, outputNames } = await runPlain(file, 'input', x, [9, 12])
      expect(inputNames).toEqual(['input'])
      expect(outputNames).toEqual(['logits', 'probabilities'])
      const logits = out['logits']!.data as Float32Array
      expect(maxAbsDiff(logits, referenceLogits(model.architecture, model.params, x))).toBeLessThan(1e-5)
      expect(maxAbsDiff(logits, await trainer.predict(model, x))).toBeLessThan(1e-6)
      const probs = out['probabilities']!.data as Float32Array
      for (let r = 0; r < 9; r++) expect(probs.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a CNN exports to plain ONNX (Reshape, Conv, Relu, MaxPool, Flatten, Gemm) with the same outputs', async () => {
    const model = createModel(
      cnn(
        [2, 9, 10],
        [
          { filters: 3, kernel: 3 },
          { filters: 4, kernel: 2 },
        ],
        [6],
        5,
      ),
      { seed: 2 },
    )
    const { x } = randomBatch(6, 180, 5, 3)
    const { out } = await runPlain(exportOnnx(model), 'input', x, [6, 180])
    const logits = out['logits']!.data as Float32Array
    expect(maxAbsDiff(logits, referenceLogits(model.architecture, model.params, x))).toBeLessThan(1e-5)
    expect(maxAbsDiff(logits, await trainer.predict(model, x))).toBeLessThan(1e-6)
  })

  it('export → import gives back the same model (same content hash)', () => {
    for (const arch of [
      softmaxRegression(7, 3),
      mlp(7, [5], 3),
      mlp(9, [8, 7, 6], 4),
      cnn(
        [2, 9, 9],
        [
          { filters: 3, kernel: 3 },
          { filters: 2, kernel: 2 },
        ],
        [5],
        4,
      ),
      cnn([1, 6, 7], [{ filters: 2, kernel: 3 }], [], 3),
    ]) {
      const model = createModel(arch, { seed: 4 })
      const back = importOnnx(exportOnnx(model))
      expect(back.architecture).toEqual(arch)
      expect(modelHash(back)).toBe(modelHash(model))
    }
  })
})

/** A PyTorch-style export: Flatten, Gemm with W [out, in] and transB = 1, Dropout, then MatMul + Add, Softmax. */
function foreignMlp() {
  const g = new GraphBuilder('torch-like')
  g.input('images', ['N', 2, 3])
  const w1 = Float32Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i) * 0.5) // [out 4, in 6]
  const b1 = Float32Array.from({ length: 4 }, (_, i) => i * 0.1)
  const w2 = Float32Array.from({ length: 4 * 3 }, (_, i) => Math.cos(i) * 0.5) // [in 4, out 3]
  const b2 = Float32Array.of(0.3, -0.2, 0.1)
  const flat = g.op('Flatten', ['images'], { axis: int(1) })
  const h = g.op('Gemm', [flat, g.floatTensor('fc1.weight', [4, 6], w1), g.floatTensor('fc1.bias', [4], b1)], {
    transB: int(1),
    alpha: float(0.5),
    beta: float(2),
  })
  const r = g.op('Relu', [h])
  const d = g.op('Dropout', [r])
  const z = g.op(
    'Add',
    [g.op('MatMul', [d, g.floatTensor('fc2.weight', [4, 3], w2)]), g.floatTensor('fc2.bias', [1, 3], b2)],
    {},
    'logits',
  )
  g.op('Softmax', [z], { axis: int(1) }, 'probs')
  g.output('logits', ['N', 3])
  g.output('probs', ['N', 3])
  return g.toBytes()
}

describe('import of ONNX models of supported architectures', () => {
  it('imports a PyTorch-style MLP (Flatten, Gemm transB/alpha/beta, Dropout, MatMul+Add) with identical outputs', async () => {
    const bytes = foreignMlp()
    const model = importOnnx(bytes)
    expect(model.architecture).toEqual({ kind: 'mlp', inputSize: 6, hiddenSizes: [4], numClasses: 3 })
    const { x } = randomBatch(5, 6, 3, 1)
    const { out } = await runPlain(bytes, 'images', x, [5, 2, 3])
    expect(maxAbsDiff(out['logits']!.data as Float32Array, await trainer.predict(model, x))).toBeLessThan(1e-6)
  })

  it('imports a PyTorch-style CNN (4-D input, Conv, Relu, MaxPool, Flatten, Gemm transB) with identical outputs', async () => {
    const g = new GraphBuilder('torch-cnn')
    g.input('images', ['N', 1, 6, 6])
    const conv = g.op(
      'Conv',
      [
        'images',
        g.floatTensor(
          'c.weight',
          [2, 1, 3, 3],
          Array.from({ length: 18 }, (_, i) => Math.sin(i)),
        ),
        g.floatTensor('c.bias', [2], [0.1, -0.1]),
      ],
      {
        kernel_shape: ints([3, 3]),
        strides: ints([1, 1]),
        pads: ints([0, 0, 0, 0]),
      },
    )
    const pooled = g.op('MaxPool', [g.op('Relu', [conv])], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) })
    const flat = g.op('Flatten', [pooled], { axis: int(1) })
    g.op(
      'Gemm',
      [
        flat,
        g.floatTensor(
          'fc.weight',
          [3, 8],
          Array.from({ length: 24 }, (_, i) => Math.cos(i)),
        ),
        g.floatTensor('fc.bias', [3], [0, 0.5, 1]),
      ],
      { transB: int(1) },
      'logits',
    )
    g.output('logits', ['N', 3])
    const bytes = g.toBytes()
    const model = importOnnx(bytes)
    expect(model.architecture).toEqual({
      kind: 'cnn',
      inputShape: [1, 6, 6],
      convs: [{ filters: 2, kernel: 3 }],
      hiddenSizes: [],
      numClasses: 3,
    })
    const { x } = randomBatch(4, 36, 3, 2)
    const { out } = await runPlain(bytes, 'images', x, [4, 1, 6, 6])
    expect(maxAbsDiff(out['logits']!.data as Float32Array, await trainer.predict(model, x))).toBeLessThan(1e-5)

    const padded = new GraphBuilder('padded') // a padded Conv is another architecture
    padded.input('images', ['N', 1, 6, 6])
    padded.op(
      'Conv',
      ['images', padded.floatTensor('w', [1, 1, 3, 3], new Array(9).fill(1))],
      { pads: ints([1, 1, 1, 1]) },
      'y',
    )
    padded.output('y', ['N', 1, 6, 6])
    expect(() => importOnnx(padded.toBytes())).toThrow(expect.objectContaining({ name: 'UnsupportedModelError' }))
  })

  it('an imported model trains further', async () => {
    const model = importOnnx(foreignMlp())
    const { x, labels } = randomBatch(40, 6, 3, 3)
    const data = { x, labels, size: 40, features: 6, numClasses: 3 }
    const before = await trainer.evaluate(model, data)
    const result = await trainer.train(model, data, { epochs: 20, batchSize: 8, lr: 0.1, momentum: 0.9 })
    expect((await trainer.evaluate(result.model, data)).loss).toBeLessThan(before.loss)
  })

  it('rejects unsupported graphs with UnsupportedModelError', () => {
    const sigmoid = new GraphBuilder('s')
    sigmoid.input('x', ['N', 2])
    const z = sigmoid.op('Gemm', [
      'x',
      sigmoid.floatTensor('w', [2, 2], [1, 0, 0, 1]),
      sigmoid.floatTensor('b', [2], [0, 0]),
    ])
    sigmoid.op('Sigmoid', [z], {}, 'y')
    sigmoid.output('y', ['N', 2])
    expect(() => importOnnx(sigmoid.toBytes())).toThrow(expect.objectContaining({ name: 'UnsupportedModelError' }))

    const twoInputs = new GraphBuilder('t')
    twoInputs.input('a', ['N', 2])
    twoInputs.input('b', ['N', 2])
    twoInputs.op('Add', ['a', 'b'], {}, 'y')
    twoInputs.output('y', ['N', 2])
    expect(() => importOnnx(twoInputs.toBytes())).toThrow(expect.objectContaining({ name: 'UnsupportedModelError' }))

    const reluOnOutput = new GraphBuilder('r')
    reluOnOutput.input('x', ['N', 2])
    const z2 = reluOnOutput.op('Gemm', ['x', reluOnOutput.floatTensor('w', [2, 2], [1, 0, 0, 1])])
    reluOnOutput.op('Relu', [z2], {}, 'y')
    reluOnOutput.output('y', ['N', 2])
    expect(() => importOnnx(reluOnOutput.toBytes())).toThrow(expect.objectContaining({ name: 'UnsupportedModelError' }))

    const cycle = new GraphBuilder('c') // an invalid graph whose Identity feeds itself must not hang the importer
    cycle.input('x', ['N', 2])
    cycle.op('Identity', ['x'], {}, 'x')
    cycle.output('x', ['N', 2])
    expect(() => importOnnx(cycle.toBytes())).toThrow(expect.objectContaining({ name: 'UnsupportedModelError' }))
  })

  it('property: any bytes (and mutated exports) give a model or a typed error', () => {
    const check = (bytes: Uint8Array) => {
      try {
        importOnnx(bytes)
      } catch (err) {
        expect(['InvalidModelError', 'UnsupportedModelError', 'ShapeMismatchError']).toContain((err as Error).name)
      }
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 1000 })
    for (const arch of [mlp(3, [2], 2), cnn([1, 4, 4], [{ filters: 1, kernel: 2 }], [], 2)]) {
      const valid = exportOnnx(createModel(arch, { seed: 1 }))
      fc.assert(
        fc.property(
          fc.array(fc.record({ at: fc.nat(valid.length - 1), value: fc.integer({ min: 0, max: 255 }) }), {
            minLength: 1,
            maxLength: 3,
          }),
          (edits) => {
            const bytes = valid.slice()
            for (const e of edits) bytes[e.at] = e.value
            check(bytes)
          },
        ),
        { numRuns: 1000 },
      )
    }
  })
})
