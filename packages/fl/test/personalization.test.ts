import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gaussianBlobs, partitionDataset, splitDataset } from '../src/data/index.js'
import { cnn, createModel, layerSlots, type Model, mlp, softmaxRegression } from '../src/models/index.js'
import { evaluatePersonalization, lastLayerSplit, personalize, splitLocalData } from '../src/personalization/index.js'
import { runSimulation } from '../src/simulation/index.js'
import { createLocalTrainer, type LocalTrainer } from '../src/train/index.js'

// 8 heavily overlapping classes: a global model is mediocre, but each client's 2-class shard is easy
const dataset = splitDataset(
  gaussianBlobs({ samples: 2400, features: 16, numClasses: 8, separation: 0.6, seed: 2 }),
  2000,
)
const partition = partitionDataset(dataset.train, { kind: 'shards', clients: 20, classesPerClient: 2, seed: 3 })
const clients = [0, 1, 2, 3, 4].map((c) => splitLocalData(dataset.train, partition[c]!, { testFraction: 0.3, seed: c }))
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
const fineTune = { epochs: 5, batchSize: 16, lr: 0.05, momentum: 0.9 }

let trainer: LocalTrainer
let fedAvgModel: Model
beforeAll(async () => {
  trainer = createLocalTrainer()
  const r = await runSimulation({
    dataset,
    model: mlp(16, [32], 8),
    clients: 20,
    rounds: 10,
    fraction: 0.25,
    partition,
    local: { epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9 },
    seed: 1,
    workers: 0,
  })
  fedAvgModel = r.model
})
afterAll(() => trainer.close())

describe('personalization', () => {
  it('fine-tuning on a skewed (2-class) shard raises that client’s held-out accuracy', async () => {
    const report = await evaluatePersonalization(fedAvgModel, clients, fineTune, { trainer })
    expect(report.mode).toBe('full')
    expect(report.meanBefore).toBeLessThan(0.8)
    expect(report.meanAfter).toBeGreaterThan(report.meanBefore + 0.15)
    expect(report.meanAfter).toBeGreaterThan(0.85)
  })

  it('last-layer mode trains only the output layer (the rest stays bit-identical) and also helps', async () => {
    const { model, mode, steps } = await personalize(
      fedAvgModel,
      clients[0]!.train,
      { ...fineTune, mode: 'last-layer' },
      { trainer },
    )
    expect(mode).toBe('last-layer')
    expect(steps).toBe(5 * Math.ceil(clients[0]!.train.size / 16))
    const [hidden, out] = layerSlots(model.architecture).dense
    const frozen = out!.weight.offset
    expect(bytes(model.params.subarray(0, frozen)).equals(bytes(fedAvgModel.params.subarray(0, frozen)))).toBe(true)
    expect(hidden!.bias.offset + hidden!.bias.size).toBe(frozen)
    expect(bytes(model.params.subarray(frozen)).equals(bytes(fedAvgModel.params.subarray(frozen)))).toBe(false)
    const report = await evaluatePersonalization(fedAvgModel, clients, { ...fineTune, mode: 'last-layer' }, { trainer })
    expect(report.mode).toBe('last-layer')
    expect(report.meanAfter).toBeGreaterThan(report.meanBefore + 0.15)
  })

  it('Reptile meta-learning: the reptile strategy + local steps give an initialization that personalizes', async () => {
    const meta = await runSimulation({
      dataset,
      model: mlp(16, [32], 8),
      clients: 20,
      rounds: 10,
      fraction: 0.25,
      partition,
      strategy: { name: 'reptile', params: { epsilon: 0.5 } },
      local: { epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9 },
      seed: 1,
      workers: 0,
    })
    const report = await evaluatePersonalization(meta.model, clients, fineTune, { trainer })
    expect(report.meanAfter).toBeGreaterThan(report.meanBefore + 0.15)
    expect(report.meanAfter).toBeGreaterThan(0.85)
  })

  it('full fine-tuning with a proximal term stays closer to the global model', async () => {
    const free = await personalize(fedAvgModel, clients[1]!.train, fineTune, { trainer })
    const prox = await personalize(fedAvgModel, clients[1]!.train, { ...fineTune, proxMu: 1 }, { trainer })
    const dist = (a: Float32Array) => Math.hypot(...a.map((w, j) => w - fedAvgModel.params[j]!))
    expect(dist(prox.model.params)).toBeLessThan(dist(free.model.params))
  })

  it('lastLayerSplit cuts MLPs and CNNs before the output layer; softmax regression has nothing to freeze', async () => {
    expect(lastLayerSplit(mlp(784, [128], 10))).toEqual({
      features: softmaxRegression(784, 128),
      head: softmaxRegression(128, 10),
      headOffset: 784 * 128 + 128,
    })
    expect(lastLayerSplit(mlp(8, [6, 5], 3))?.features).toEqual(mlp(8, [6], 5))
    const c = cnn([1, 8, 8], [{ filters: 2, kernel: 3 }], [4], 3)
    expect(lastLayerSplit(c)?.features).toEqual(cnn([1, 8, 8], [{ filters: 2, kernel: 3 }], [], 4))
    expect(lastLayerSplit(cnn([1, 8, 8], [{ filters: 2, kernel: 3 }], [], 3))).toBeUndefined()
    expect(lastLayerSplit(softmaxRegression(8, 3))).toBeUndefined()
    const sr = createModel(softmaxRegression(16, 8), { seed: 1 })
    const r = await personalize(sr, clients[0]!.train, { ...fineTune, epochs: 1, mode: 'last-layer' }, { trainer })
    expect(r.mode).toBe('full')
  })

  it('splitLocalData holds out a seeded fraction of a client’s rows', () => {
    const rows = partition[0]!
    const a = splitLocalData(dataset.train, rows, { testFraction: 0.25, seed: 9 })
    const b = splitLocalData(dataset.train, rows, { testFraction: 0.25, seed: 9 })
    expect(a.train.size + a.test.size).toBe(rows.length)
    expect(a.test.size).toBe(Math.round(0.25 * rows.length))
    expect(a.test.labels).toEqual(b.test.labels)
    expect(new Set(a.train.labels).size).toBe(2)
    expect(() => splitLocalData(dataset.train, rows, { testFraction: 1 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })
})
