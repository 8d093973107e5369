import { afterAll, describe, expect, it } from 'vitest'
import { cnn, createModel, inputSizeOf, mlp, softmaxRegression } from '../src/models/index.js'
import { createTrainStep, type OrtTrainStep } from '../src/train/ort-step.js'
import { referenceLossAndGradient, referenceObjective, referenceTrainStep } from '../src/train/reference.js'
import { maxAbsDiff, randomBatch } from './fixtures/batches.js'

const steps: OrtTrainStep[] = []
afterAll(async () => {
  await Promise.all(steps.map((s) => s.release()))
})

describe('ORT train step vs the float64 reference', () => {
  const cases = [
    { name: 'softmax regression 20→5', arch: softmaxRegression(20, 5) },
    { name: 'MLP 20→16→5', arch: mlp(20, [16], 5) },
    { name: 'MLP 30→24→12→4', arch: mlp(30, [24, 12], 4) },
    {
      name: 'CNN 2×11×10 → conv3(3) → conv2(4) → 5 → 3',
      arch: cnn(
        [2, 11, 10],
        [
          { filters: 3, kernel: 3 },
          { filters: 4, kernel: 2 },
        ],
        [5],
        3,
      ),
    },
    { name: 'CNN 1×8×8 → conv3(4) → 3 (no hidden layer)', arch: cnn([1, 8, 8], [{ filters: 4, kernel: 3 }], [], 3) },
  ]
  for (const { name, arch } of cases) {
    it(`${name}: one step with momentum and weight decay, then a FedProx step`, async () => {
      const model = createModel(arch, { seed: 3 })
      const P = model.params.length
      const { x, y, labels } = randomBatch(17, inputSizeOf(arch), arch.numClasses, 11)
      const velocity = new Float32Array(P).map((_, i) => Math.sin(i) * 0.01)
      const hyper = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 }

      const step = await createTrainStep(arch)
      steps.push(step)
      const ort = await step.run({ params: model.params, velocity }, { x, y }, hyper)
      const ref = referenceTrainStep(
        arch,
        { params: Float64Array.from(model.params), velocity: Float64Array.from(velocity) },
        { x, labels },
        hyper,
      )
      expect(maxAbsDiff(ort.params, ref.params)).toBeLessThan(1e-5)
      expect(maxAbsDiff(ort.velocity!, ref.velocity)).toBeLessThan(1e-5)
      expect(Math.abs(ort.loss - ref.loss)).toBeLessThan(1e-5)

      // FedProx: pull towards a different global model
      const globalParams = model.params.map((w, i) => w + 0.05 * Math.cos(i))
      const proxHyper = { ...hyper, proxMu: 0.5, globalParams }
      const prox = await createTrainStep(arch, { prox: true })
      steps.push(prox)
      const ort2 = await prox.run(ort, { x, y }, proxHyper)
      const ref2 = referenceTrainStep(
        arch,
        { params: Float64Array.from(ort.params), velocity: Float64Array.from(ort.velocity!) },
        { x, labels },
        proxHyper,
      )
      expect(maxAbsDiff(ort2.params, ref2.params)).toBeLessThan(1e-5)
      expect(maxAbsDiff(ort2.velocity!, ref2.velocity)).toBeLessThan(1e-5)
    })
  }

  it('MLP 784→128→10 (the MNIST model): ORT agrees with float64 to < 1e-4 after 5 steps', async () => {
    const arch = mlp(784, [128], 10)
    const model = createModel(arch, { seed: 1 })
    const step = await createTrainStep(arch)
    steps.push(step)
    const hyper = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }
    let ortState: { params: Float32Array; velocity: Float32Array | undefined } = {
      params: model.params,
      velocity: new Float32Array(model.params.length),
    }
    let refState: { params: Float64Array; velocity: Float64Array } = {
      params: Float64Array.from(model.params),
      velocity: new Float64Array(model.params.length),
    }
    for (let s = 0; s < 5; s++) {
      const { x, y, labels } = randomBatch(32, 784, 10, 100 + s)
      for (let i = 0; i < x.length; i++) x[i] = Math.max(0, x[i]!) / 3 // pixel-like, sparse
      const o = await step.run(ortState, { x, y }, hyper)
      const r = referenceTrainStep(arch, refState, { x, labels }, hyper)
      expect(Math.abs(o.loss - r.loss)).toBeLessThan(1e-4)
      ortState = o
      refState = { params: r.params as Float64Array, velocity: r.velocity as Float64Array }
    }
    expect(maxAbsDiff(ortState.params, refState.params)).toBeLessThan(1e-4)
  })

  it('plain SGD variant (no momentum buffer), with and without FedProx and weight decay, matches the reference', async () => {
    for (const arch of [mlp(12, [10], 4), cnn([3, 6, 6], [{ filters: 2, kernel: 3 }], [4], 4)]) {
      const model = createModel(arch, { seed: 6 })
      const { x, y, labels } = randomBatch(13, 12 * (arch.kind === 'cnn' ? 9 : 1), 4, 6)
      const zeros = new Float64Array(model.params.length)
      for (const [prox, weightDecay] of [
        [false, false],
        [true, true],
        [false, true],
      ] as const) {
        const step = await createTrainStep(arch, { momentum: false, prox, weightDecay })
        steps.push(step)
        const globalParams = model.params.map((w) => w * 0.8)
        const wd = weightDecay ? 1e-3 : 0
        const hyper = prox ? { lr: 0.2, weightDecay: wd, proxMu: 0.4, globalParams } : { lr: 0.2, weightDecay: wd }
        const o = await step.run({ params: model.params }, { x, y }, hyper)
        expect(o.velocity).toBeUndefined()
        const r = referenceTrainStep(
          arch,
          { params: Float64Array.from(model.params), velocity: zeros },
          { x, labels },
          { ...hyper, momentum: 0 },
        )
        expect(maxAbsDiff(o.params, r.params)).toBeLessThan(1e-6)
      }
    }
  })

  it('trains any batch size with one session (symbolic batch dimension)', async () => {
    const arch = mlp(6, [5], 3)
    const model = createModel(arch, { seed: 2 })
    const step = await createTrainStep(arch)
    steps.push(step)
    for (const n of [1, 2, 9]) {
      const { x, y, labels } = randomBatch(n, 6, 3, n)
      const o = await step.run(
        { params: model.params, velocity: new Float32Array(model.params.length) },
        { x, y },
        { lr: 0.1, momentum: 0, weightDecay: 0 },
      )
      const r = referenceTrainStep(
        arch,
        { params: Float64Array.from(model.params), velocity: new Float64Array(model.params.length) },
        { x, labels },
        { lr: 0.1, momentum: 0, weightDecay: 0 },
      )
      expect(maxAbsDiff(o.params, r.params)).toBeLessThan(1e-6)
    }
  })

  it('rejects mis-shaped inputs with ShapeMismatchError', async () => {
    const arch = softmaxRegression(4, 3)
    const step = await createTrainStep(arch)
    steps.push(step)
    const params = new Float32Array(15)
    await expect(
      step.run(
        { params, velocity: new Float32Array(14) },
        { x: new Float32Array(4), y: new Float32Array(3) },
        { lr: 1, momentum: 0, weightDecay: 0 },
      ),
    ).rejects.toMatchObject({ name: 'ShapeMismatchError' })
    await expect(
      step.run(
        { params, velocity: new Float32Array(15) },
        { x: new Float32Array(5), y: new Float32Array(3) },
        { lr: 1, momentum: 0, weightDecay: 0 },
      ),
    ).rejects.toMatchObject({ name: 'ShapeMismatchError' })
  })
})

describe('float64 reference: finite-difference gradient checks', () => {
  const archs = [
    softmaxRegression(5, 4),
    mlp(5, [6], 3),
    mlp(4, [5, 4], 3),
    cnn(
      [2, 9, 8],
      [
        { filters: 3, kernel: 3 },
        { filters: 2, kernel: 2 },
      ],
      [4],
      3,
    ),
  ]
  for (const arch of archs) {
    it(`${arch.kind} ${JSON.stringify(arch)}: analytic gradient of the full objective matches central differences`, () => {
      const params = Float64Array.from(createModel(arch, { seed: 9 }).params)
      for (let i = 0; i < params.length; i++) params[i] += 0.1 * Math.sin(3 * i) // non-zero biases too
      const { x, labels } = randomBatch(7, inputSizeOf(arch), arch.numClasses, 5)
      const globalParams = params.map((w, i) => w - 0.2 * Math.cos(i))
      const hyper = { lr: 1, momentum: 0, weightDecay: 0.01, proxMu: 0.3, globalParams }
      // with lr 1, momentum 0 and zero velocity, params − next.params is exactly the step's gradient
      const next = referenceTrainStep(
        arch,
        { params, velocity: new Float64Array(params.length) },
        { x: Float64Array.from(x), labels },
        hyper,
      )
      const eps = 1e-6
      let worst = 0
      for (let i = 0; i < params.length; i++) {
        const plus = params.slice()
        const minus = params.slice()
        plus[i] += eps
        minus[i] -= eps
        const numeric =
          (referenceObjective(arch, plus, { x, labels }, hyper) -
            referenceObjective(arch, minus, { x, labels }, hyper)) /
          (2 * eps)
        const analytic = params[i]! - next.params[i]!
        worst = Math.max(worst, Math.abs(numeric - analytic) / Math.max(1, Math.abs(numeric)))
      }
      expect(worst).toBeLessThan(1e-7)
    })
  }

  it('the data-loss gradient alone matches central differences (no regularisers)', () => {
    const arch = mlp(3, [4], 2)
    const params = Float64Array.from(createModel(arch, { seed: 4 }).params)
    const { x, labels } = randomBatch(5, 3, 2, 8)
    const { grad } = referenceLossAndGradient(arch, params, { x, labels })
    const zero = { lr: 1, momentum: 0, weightDecay: 0 }
    for (let i = 0; i < params.length; i++) {
      const plus = params.slice()
      const minus = params.slice()
      plus[i] += 1e-6
      minus[i] -= 1e-6
      const numeric =
        (referenceObjective(arch, plus, { x, labels }, zero) - referenceObjective(arch, minus, { x, labels }, zero)) /
        2e-6
      expect(Math.abs(numeric - grad[i]!)).toBeLessThan(1e-7)
    }
  })
})
