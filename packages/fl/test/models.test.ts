import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  cnn,
  countParameters,
  createModel,
  decodeModel,
  encodeModel,
  MODEL_MAGIC,
  mlp,
  modelHash,
  modelLayout,
  parseArchitecture,
  softmaxRegression,
  tensorView,
  toModel,
} from '../src/models/index.js'

const TYPED = ['InvalidModelError', 'ShapeMismatchError', 'HashMismatchError']

describe('architectures and layout', () => {
  it('lays out weights [in, out] then biases, layer by layer', () => {
    const layout = modelLayout(mlp(4, [3], 2))
    expect(layout.tensors.map((t) => [t.name, t.shape, t.offset])).toEqual([
      ['dense0.weight', [4, 3], 0],
      ['dense0.bias', [3], 12],
      ['dense1.weight', [3, 2], 15],
      ['dense1.bias', [2], 21],
    ])
    expect(layout.size).toBe(23)
    expect(countParameters(mlp(784, [128], 10))).toBe(101_770)
    expect(countParameters(softmaxRegression(784, 10))).toBe(7_850)
  })

  it('lays out a CNN: conv weights [filters, channels, k, k] first, then the dense layers', () => {
    const arch = cnn(
      [1, 28, 28],
      [
        { filters: 8, kernel: 5 },
        { filters: 16, kernel: 5 },
      ],
      [64],
      10,
    )
    const layout = modelLayout(arch)
    expect(layout.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['conv0.weight', [8, 1, 5, 5]],
      ['conv0.bias', [8]],
      ['conv1.weight', [16, 8, 5, 5]],
      ['conv1.bias', [16]],
      ['dense0.weight', [256, 64]], // 16 × 4 × 4 after two conv + pool stages
      ['dense0.bias', [64]],
      ['dense1.weight', [64, 10]],
      ['dense1.bias', [10]],
    ])
    expect(layout.size).toBe(countParameters(arch))
    expect(() =>
      cnn(
        [1, 8, 8],
        [
          { filters: 4, kernel: 5 },
          { filters: 4, kernel: 3 },
        ],
        [],
        10,
      ),
    ).toThrow(
      expect.objectContaining({ name: 'ConfigError' }), // the second stage would get a 2×2 input for a 3×3 kernel
    )
  })

  it('rejects invalid architectures with ConfigError listing the problems', () => {
    expect(() => parseArchitecture({ kind: 'mlp', inputSize: 0, hiddenSizes: [], numClasses: 1 })).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        issues: expect.arrayContaining([expect.stringContaining('inputSize')]),
      }),
    )
    expect(() => parseArchitecture({ kind: 'cnn' })).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => mlp(1 << 20, [1 << 10], 10)).toThrow(expect.objectContaining({ name: 'ConfigError' })) // too many parameters
  })

  it('initialises deterministically by seed: He for hidden layers, Xavier for the output, zero biases', () => {
    const arch = mlp(400, [200], 10)
    const a = createModel(arch, { seed: 5 })
    const same = (x: Float32Array, y: Float32Array) =>
      Buffer.compare(new Uint8Array(x.buffer), new Uint8Array(y.buffer)) === 0
    expect(same(createModel(arch, { seed: 5 }).params, a.params)).toBe(true)
    expect(same(createModel(arch, { seed: 6 }).params, a.params)).toBe(false)
    const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length)
    expect(std(tensorView(a, 'dense0.weight'))).toBeCloseTo(Math.sqrt(2 / 400), 2)
    expect(std(tensorView(a, 'dense1.weight'))).toBeCloseTo(Math.sqrt(2 / 210), 2)
    expect(tensorView(a, 'dense0.bias').every((b) => b === 0)).toBe(true)
    expect(createModel(arch, { hidden: 'zeros', output: 'zeros' }).params.every((w) => w === 0)).toBe(true)
  })

  it('toModel checks length and finiteness', () => {
    expect(() => toModel(softmaxRegression(2, 2), new Float32Array(5))).toThrow(
      expect.objectContaining({ name: 'ShapeMismatchError' }),
    )
    expect(() => toModel(softmaxRegression(2, 2), new Float32Array(6).fill(Number.NaN))).toThrow(
      expect.objectContaining({ name: 'InvalidModelError' }),
    )
  })
})

describe('serialization and content hash', () => {
  it('round-trips and is canonical: same model → same bytes → same sha2-256', () => {
    const model = createModel(mlp(8, [5, 4], 3), { seed: 1 })
    const bytes = encodeModel(model)
    expect([...bytes.subarray(0, 4)]).toEqual([...MODEL_MAGIC])
    const back = decodeModel(bytes)
    expect(back.architecture).toEqual(model.architecture)
    expect(back.params).toEqual(model.params)
    expect(modelHash(back)).toBe(modelHash(model))
    expect(modelHash(model)).toMatch(/^[0-9a-f]{64}$/)
    // key order of the architecture object does not change the hash
    const reordered = {
      architecture: { numClasses: 3, hiddenSizes: [5, 4], inputSize: 8, kind: 'mlp' as const },
      params: model.params,
    }
    expect(modelHash(reordered)).toBe(modelHash(model))
  })

  it('one changed parameter bit changes the hash', () => {
    const model = createModel(softmaxRegression(6, 3), { seed: 2 })
    const other = { ...model, params: model.params.slice() }
    new Uint32Array(other.params.buffer)[4]! ^= 1
    expect(modelHash(other)).not.toBe(modelHash(model))
  })

  it('checks an expected hash and a size limit', () => {
    const model = createModel(softmaxRegression(6, 3), { seed: 2 })
    const bytes = encodeModel(model)
    expect(decodeModel(bytes, { expectedHash: modelHash(model) }).params).toEqual(model.params)
    expect(() => decodeModel(bytes, { expectedHash: '00'.repeat(32) })).toThrow(
      expect.objectContaining({ name: 'HashMismatchError' }),
    )
    expect(() => decodeModel(bytes, { maxBytes: 10 })).toThrow(expect.objectContaining({ name: 'InvalidModelError' }))
  })

  it('rejects truncation, trailing bytes, a wrong version and shapes that disagree with the architecture', () => {
    const bytes = encodeModel(createModel(mlp(3, [2], 2), { seed: 1 }))
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 1))).toThrow(
      expect.objectContaining({ name: 'InvalidModelError' }),
    )
    expect(() => decodeModel(Uint8Array.from([...bytes, 0]))).toThrow(
      expect.objectContaining({ name: 'InvalidModelError' }),
    )
    const v2 = bytes.slice()
    v2[4] = 2
    expect(() => decodeModel(v2)).toThrow(
      expect.objectContaining({ name: 'InvalidModelError', message: expect.stringContaining('version') }),
    )
    const shape = bytes.slice()
    const archLen = new DataView(shape.buffer).getUint32(8, true)
    new DataView(shape.buffer).setUint32(12 + archLen + 4 + 1, 4, true) // first dim of dense0.weight: 3 → 4
    expect(() => decodeModel(shape)).toThrow(expect.objectContaining({ name: 'ShapeMismatchError' }))
    const nan = bytes.slice()
    new DataView(nan.buffer).setFloat32(nan.length - 4, Number.NaN, true)
    expect(() => decodeModel(nan)).toThrow(expect.objectContaining({ name: 'InvalidModelError' }))
  })

  it('property: round-trips arbitrary models', () => {
    const archArb = fc.oneof(
      fc
        .record({ inputSize: fc.integer({ min: 1, max: 12 }), numClasses: fc.integer({ min: 2, max: 6 }) })
        .map((a) => softmaxRegression(a.inputSize, a.numClasses)),
      fc
        .record({
          inputSize: fc.integer({ min: 1, max: 12 }),
          hidden: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 3 }),
          numClasses: fc.integer({ min: 2, max: 6 }),
        })
        .map((a) => mlp(a.inputSize, a.hidden, a.numClasses)),
      fc
        .record({
          channels: fc.integer({ min: 1, max: 3 }),
          side: fc.integer({ min: 4, max: 9 }),
          filters: fc.integer({ min: 1, max: 4 }),
          kernel: fc.integer({ min: 1, max: 3 }),
          hidden: fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 2 }),
        })
        .map((a) => cnn([a.channels, a.side, a.side + 1], [{ filters: a.filters, kernel: a.kernel }], a.hidden, 3)),
    )
    fc.assert(
      fc.property(archArb, fc.integer({ min: 0, max: 1000 }), (arch, seed) => {
        const model = createModel(arch, { seed })
        const back = decodeModel(encodeModel(model))
        expect(back.architecture).toEqual(arch)
        expect(back.params).toEqual(model.params)
      }),
      { numRuns: 200 },
    )
  })

  it('property: any bytes give a model or a typed error, never another throw', () => {
    const check = (bytes: Uint8Array) => {
      try {
        const m = decodeModel(bytes)
        expect(m.params.length).toBe(countParameters(m.architecture))
      } catch (err) {
        expect(TYPED).toContain((err as Error).name)
      }
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 2000 })
    // random bytes rarely get past the magic: also mutate valid encodings
    const valid = encodeModel(createModel(mlp(3, [2], 2), { seed: 1 }))
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(valid.length - 1), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(valid.length),
        (edits, cut) => {
          const bytes = valid.slice(0, Math.max(cut, valid.length - 8))
          for (const e of edits) if (e.at < bytes.length) bytes[e.at] = e.value
          check(bytes)
        },
      ),
      { numRuns: 3000 },
    )
  })
})
