import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDataset, type Dataset } from '../src/data/dataset.js'
import { gaussianBlobs, splitDataset } from '../src/data/synthetic.js'
import { createModel, mlp, softmaxRegression } from '../src/models/index.js'
import { referenceLogits, referenceTrainStep } from '../src/train/reference.js'
import { createLocalTrainer, type LocalTrainer } from '../src/train/trainer.js'
import { maxAbsDiff } from './fixtures/batches.js'

let trainer: LocalTrainer
let train: Dataset
let test: Dataset
beforeAll(() => {
  trainer = createLocalTrainer()
  ;({ train, test } = splitDataset(
    gaussianBlobs({ samples: 1200, features: 16, numClasses: 4, separation: 1, seed: 1 }),
    1000,
  ))
})
afterAll(() => trainer.close())

describe('LocalTrainer on synthetic blobs', () => {
  it('learns: an MLP goes from chance to high accuracy, and the loss falls', async () => {
    const model = createModel(mlp(16, [32], 4), { seed: 1 })
    const before = await trainer.evaluate(model, test)
    const result = await trainer.train(model, train, { epochs: 4, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1 })
    const after = await trainer.evaluate(result.model, test)
    expect(before.accuracy).toBeLessThan(0.6)
    expect(after.accuracy).toBeGreaterThan(0.9)
    expect(after.loss).toBeLessThan(before.loss)
    expect(result.epochLosses).toHaveLength(4)
    expect(result.epochLosses[3]!).toBeLessThan(result.epochLosses[0]!)
    expect(result.steps).toBe(4 * Math.ceil(1000 / 32))
    expect(result.stepLosses).toHaveLength(result.steps)
    expect(result.samples).toBe(1000)
    expect(model.params).not.toBe(result.model.params) // the input model is untouched
  })

  it('is reproducible: same seed → bit-identical parameters; another seed → different ones', async () => {
    const model = createModel(softmaxRegression(16, 4), { seed: 2 })
    const opts = { epochs: 1, batchSize: 50, lr: 0.1, momentum: 0.5, weightDecay: 1e-4, seed: 7 }
    const a = await trainer.train(model, train, opts)
    const b = await trainer.train(model, train, opts)
    const c = await trainer.train(model, train, { ...opts, seed: 8 })
    expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(b.model.params.buffer))).toBe(true)
    expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(c.model.params.buffer))).toBe(false)
  })

  const variants = [
    { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, proxMu: 0.1 },
    { lr: 0.1, momentum: 0, weightDecay: 0, proxMu: 0 },
    { lr: 0.1, momentum: 0.5, weightDecay: 0, proxMu: 0 },
    { lr: 0.1, momentum: 0, weightDecay: 1e-3, proxMu: 0.2 },
  ]
  for (const v of variants) {
    it(`full-batch training equals the float64 reference step by step (${JSON.stringify(v)})`, async () => {
      const arch = mlp(16, [8], 4)
      const model = createModel(arch, { seed: 3 })
      const small = splitDataset(train, 64).train
      const globalParams = model.params.map((w) => w * 0.9)
      const hyper = { ...v, globalParams }
      const result = await trainer.train(model, small, { epochs: 3, batchSize: 64, seed: 1, ...hyper })
      let state: { params: Float64Array; velocity: Float64Array } = {
        params: Float64Array.from(model.params),
        velocity: new Float64Array(model.params.length),
      }
      for (let e = 0; e < 3; e++) {
        const r = referenceTrainStep(arch, state, { x: small.x, labels: small.labels }, hyper)
        state = { params: r.params as Float64Array, velocity: r.velocity as Float64Array }
      }
      expect(maxAbsDiff(result.model.params, state.params)).toBeLessThan(1e-5)
      if (v.momentum > 0) expect(maxAbsDiff(result.velocity!, state.velocity)).toBeLessThan(1e-5)
      else expect(result.velocity).toBeUndefined()
    })
  }

  it('FedProx keeps the model closer to the global one', async () => {
    const model = createModel(mlp(16, [16], 4), { seed: 4 })
    const opts = { epochs: 2, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1 }
    const free = await trainer.train(model, train, opts)
    const prox = await trainer.train(model, train, { ...opts, proxMu: 1 })
    const dist = (p: Float32Array) => Math.hypot(...p.map((w, i) => w - model.params[i]!))
    expect(dist(prox.model.params)).toBeLessThan(dist(free.model.params))
  })

  it('predict gives the same logits as the reference forward pass', async () => {
    const model = createModel(mlp(16, [12, 8], 4), { seed: 5 })
    const logits = await trainer.predict(model, test.x, { batchSize: 64 })
    expect(maxAbsDiff(logits, referenceLogits(model.architecture, model.params, test.x))).toBeLessThan(1e-5)
  })

  it('stops at the next step when the signal aborts', async () => {
    const model = createModel(mlp(16, [16], 4), { seed: 1 })
    const controller = new AbortController()
    const promise = trainer.train(model, train, {
      epochs: 1000,
      batchSize: 8,
      lr: 0.01,
      signal: controller.signal,
      onEpoch: () => controller.abort(),
    })
    await expect(promise).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('rejects bad options and mismatched data with typed errors', async () => {
    const model = createModel(mlp(16, [8], 4), { seed: 1 })
    await expect(trainer.train(model, train, { epochs: 0, batchSize: 32, lr: 0.1 })).rejects.toMatchObject({
      name: 'ConfigError',
    })
    await expect(trainer.train(model, train, { epochs: 1, batchSize: 32, lr: -1 })).rejects.toMatchObject({
      name: 'ConfigError',
    })
    const other = createDataset({ x: new Float32Array(10), labels: [0, 1], features: 5, numClasses: 4 })
    await expect(trainer.train(model, other, { epochs: 1, batchSize: 2, lr: 0.1 })).rejects.toMatchObject({
      name: 'ShapeMismatchError',
    })
    const badLabels = { ...train, labels: train.labels.map((y) => (y === 3 ? 9 : y)) }
    await expect(trainer.evaluate(model, badLabels)).rejects.toMatchObject({ name: 'InvalidDatasetError' })
    await expect(
      trainer.train({ ...model, params: model.params.subarray(1) }, train, { epochs: 1, batchSize: 2, lr: 0.1 }),
    ).rejects.toMatchObject({ name: 'ShapeMismatchError' })
  })

  it('throws ClosedError after close()', async () => {
    const t = createLocalTrainer()
    const model = createModel(softmaxRegression(16, 4))
    await t.evaluate(model, test)
    await t.close()
    await expect(t.evaluate(model, test)).rejects.toMatchObject({ name: 'ClosedError' })
  })
})
