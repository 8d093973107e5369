import { afterAll, describe, expect, it, vi } from 'vitest'
import { labelCounts } from '../src/data/dataset.js'
import { loadMnist } from '../src/data/mnist.js'
import { cnn, createModel, mlp } from '../src/models/index.js'
import { createLocalTrainer } from '../src/train/trainer.js'

const trainer = createLocalTrainer()
afterAll(() => trainer.close())

describe('MNIST (the mnist package, fixed 8,000 / 2,000 split)', () => {
  it('loads 10,000 digits split 8,000 / 2,000, each class ≈ 80/20, deterministically', async () => {
    const { train, test } = await loadMnist()
    expect([train.size, test.size]).toEqual([8000, 2000])
    expect([train.features, train.numClasses]).toEqual([784, 10])
    const tr = labelCounts(train)
    const te = labelCounts(test)
    for (let c = 0; c < 10; c++) expect(Math.abs(te[c]! - (tr[c]! + te[c]!) / 5)).toBeLessThanOrEqual(1)
    expect(train.x.every((v) => v >= 0 && v <= 1)).toBe(true)
    // classes are interleaved, not grouped
    expect(new Set(train.labels.subarray(0, 50)).size).toBeGreaterThan(5)
    // no digit is in both splits (compare row fingerprints)
    const key = (x: Float32Array, r: number) => Buffer.from(x.buffer, r * 784 * 4, 784 * 4).toString('base64')
    const trainRows = new Set(Array.from({ length: train.size }, (_, r) => key(train.x, r)))
    let shared = 0
    for (let r = 0; r < test.size; r++) if (trainRows.has(key(test.x, r))) shared++
    expect(shared).toBe(0)
  })

  it('{ cache: false } reads the same split without keeping it (a node keeps only its shard)', async () => {
    vi.resetModules()
    const fresh = (await import('../src/data/mnist.js')) as typeof import('../src/data/mnist.js')
    const a = await fresh.loadMnist({ cache: false })
    const b = await fresh.loadMnist({ cache: false })
    expect(a).not.toBe(b) // not kept: read again
    expect(Buffer.from(b.train.x.buffer).equals(Buffer.from(a.train.x.buffer))).toBe(true)
    const kept = await fresh.loadMnist()
    expect(kept).not.toBe(a)
    expect(await fresh.loadMnist()).toBe(kept)
    // once the process keeps it, an uncached call is served from it
    expect(await fresh.loadMnist({ cache: false })).toBe(kept)
  }, 180_000)

  it('an MLP trained centrally for 3 epochs gets > 85 % on the 2,000 test digits', async () => {
    const { train, test } = await loadMnist()
    const model = createModel(mlp(784, [128], 10), { seed: 1 })
    const result = await trainer.train(model, train, { epochs: 3, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1 })
    const { accuracy, loss } = await trainer.evaluate(result.model, test)
    console.log(
      `MNIST MLP 784-128-10, 3 epochs: test accuracy ${(100 * accuracy).toFixed(1)} %, loss ${loss.toFixed(3)}`,
    )
    expect(accuracy).toBeGreaterThan(0.85)
  })

  it('a small CNN (conv5×8 → conv5×16 → 64 → 10) trained for 1 epoch gets > 85 %', async () => {
    const { train, test } = await loadMnist()
    const arch = cnn(
      [1, 28, 28],
      [
        { filters: 8, kernel: 5 },
        { filters: 16, kernel: 5 },
      ],
      [64],
      10,
    )
    const result = await trainer.train(createModel(arch, { seed: 1 }), train, {
      epochs: 1,
      batchSize: 32,
      lr: 0.05,
      momentum: 0.9,
      seed: 1,
    })
    const { accuracy } = await trainer.evaluate(result.model, test)
    console.log(`MNIST CNN, 1 epoch: test accuracy ${(100 * accuracy).toFixed(1)} %`)
    expect(accuracy).toBeGreaterThan(0.85)
  })
})
